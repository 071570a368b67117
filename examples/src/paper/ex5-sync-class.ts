// Example 5 of the paper: remote object creation and invocation.
import { connect, inject } from '@trickle/core';

class Stack {
  stack: string[] = [];
  push(x: string) {
    this.stack.push(x);
  }
  pop() {
    return this.stack.pop();
  }
  toString() {
    return require('node:util').inspect(this.stack);
  }
}

async function main() {
  await using vms = await inject(await connect(), Stack);
  const s = await new vms[0].Stack();
  await s.push('A'); await s.push('B'); await s.push('C');
  await s.pop();
  console.log(await s.toString());
}

main();
