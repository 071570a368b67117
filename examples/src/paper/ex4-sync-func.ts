// Example 4 of the paper: synchronous function invocation, of an injected function and of a
// builtin of the VM (JavaScript has no range(): Array.from with a function that runs on the VM).
import { connect, inject } from '@trickle/core';

function factorial(x: number): number {
  if (x === 0) return 1;
  return x * factorial(x - 1);
}

async function main() {
  await using vms = await inject(await connect(), factorial);
  for (const [i, vm] of vms.entries()) {
    console.log(await vm.Array.from({ length: i + 1 }, (_: unknown, k: number) => k), await vm.factorial(i));
  }
}

main();
