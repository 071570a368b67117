// Example 7 of the paper: wfreq, a distributed word frequency counter.
//   trickle run examples/src/paper/ex7-wfreq.ts <vmcount> <chunksize> <pattern>
// <pattern> is a path prefix: every file whose path starts with it is counted (the paper's glob
// of pattern + '*').
import { readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { connect, inject, forkWork } from '@trickle/core';

function wordcount(files: string[]) {
  const fs = require('node:fs');
  const m = new Map<string, number>();
  for (const filename of files) {
    const text: string = fs.readFileSync(filename, 'utf8');
    for (const t of text.split(/\s+/)) {
      if (t) m.set(t, (m.get(t) ?? 0) + 1);
    }
  }
  return m;
}

function mergecounts(dlist: Map<string, number>[]) {
  const m = new Map<string, number>();
  for (const d of dlist) {
    for (const [w, c] of d) m.set(w, (m.get(w) ?? 0) + c);
  }
  return m;
}

function glob(prefix: string) {
  const dir = dirname(prefix);
  const start = prefix.endsWith('/') ? '' : basename(prefix);
  const root = prefix.endsWith('/') ? prefix : dir;
  return readdirSync(root).filter((f) => f.startsWith(start)).sort().map((f) => join(root, f));
}

async function main(argv: string[]) {
  if (argv.length !== 3) {
    console.log('usage: ex7-wfreq <vmcount> <chunksize> <pattern>');
    process.exit(1);
  }
  const n = Number(argv[0]);
  const cs = Number(argv[1]);
  const files = glob(argv[2]);

  const stime = performance.now();
  await using vms = await inject(await connect(n), wordcount);
  const rlist = await forkWork(vms, wordcount, files, { chunksize: cs });
  const final = mergecounts(rlist);
  const ftime = performance.now();
  console.log(`${(ftime - stime) / 1000} seconds`);
  console.log(`${files.length} files, ${[...final.values()].reduce((a, b) => a + b, 0)} words, ${final.size} unique`);
  const top = [...final].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 5);
  console.log('most frequent:', top.map(([w, c]) => `${w} ${c}`).join(', '));
}

main(process.argv.slice(2));
