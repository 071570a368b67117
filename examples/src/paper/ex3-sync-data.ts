// Example 3 of the paper: synchronous data access.
import { connect, inject } from '@trickle/core';

async function main() {
  const names = ['Alex', 'Sami', 'Greg', 'Peter'];
  await using vms = await inject(await connect(), { names });
  for (const [i, vm] of vms.entries()) {
    vm.names[i] = '*NONE*'; // ordered before the next request on this VM
    console.log(await vm.names);
  }
}

main();
