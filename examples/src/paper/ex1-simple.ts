// Example 1 of the paper: a simple Trickle program.
//   trickle run examples/src/paper/ex1-simple.ts
import { connect, inject } from '@trickle/core';

function foo(x: number) {
  return x + 10;
}

async function main() {
  await using vms = await inject(await connect(), foo);
  const results = await Promise.all(vms.map((vm) => vm.foo(10)));
  console.log(results);
}

main();
