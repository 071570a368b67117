// Example 2 of the paper: injecting data, a function and a class.
import { connect, inject } from '@trickle/core';

const table = new Map([[1, 'a'], [2, 'b']]);

function find(name: string, namelist: string[]) {
  for (const [i, n] of namelist.entries()) {
    if (n === name) return i;
  }
  return undefined;
}

class Foo {
  x = 0;
  y = 0;
  update(x: number, y: number) {
    this.x = x;
    this.y = y;
  }
}

async function main() {
  await using vms = await inject(await connect(), { table, find, Foo });
  // The injected objects are copies living on every VM; read them back through any handle.
  console.log(await vms[0].table);
  console.log(await vms[0].find('Greg', ['Alex', 'Sami', 'Greg']));
}

main();
