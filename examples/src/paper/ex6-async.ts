// Example 6 of the paper: asynchronous invocation with fork and join. It needs two VMs (with
// none found, connect starts at least `min` local VMs); the last fork runs on every VM there is.
import { connect, inject, fork, join } from '@trickle/core';

function foo(x: number) {
  return x + 10;
}

function bar(x: number) {
  return x + 20;
}

async function main() {
  await using vms = await inject(await connect({ min: 2 }), foo, bar);

  const h0 = fork(vms[0], foo, 1); const h1 = fork(vms[1], bar, 2);
  const r0 = await join(h0); const r1 = await join(h1);
  console.log(r0, r1);

  const hlist = fork(vms.slice(0, 2), [foo, bar], [1, 2]);
  const rlist = await join(hlist);
  console.log(rlist);

  // One argument per VM: a list exactly as long as `vms` (the paper's [0, 1, 2, 3] on 4 VMs).
  // A literal of another length is an ArgumentListError, never a silent change of meaning.
  const hlist2 = fork(vms, foo, vms.map((_, i) => i));
  console.log(await join(hlist2));
}

main();
