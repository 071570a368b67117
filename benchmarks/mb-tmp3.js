const { connect, inject, forkGen } = require('@trickle/core');
const { readdirSync } = require('fs');
const dir = require('path').resolve('data/wfreq-subset8k');
const files = readdirSync(dir).map(f => dir + '/' + f);
function add(files) { const fs = require('node:fs'); const m = globalThis.tot; let n = 0; for (const f of files) for (const t of fs.readFileSync(f, 'utf8').split(/\s+/)) if (t) { m.set(t, (m.get(t) ?? 0) + 1); n++; } return n; }
function addLocal(files) { const fs = require('node:fs'); const m = new Map(); let n = 0; for (const f of files) for (const t of fs.readFileSync(f, 'utf8').split(/\s+/)) if (t) { m.set(t, (m.get(t) ?? 0) + 1); n++; } const T = globalThis.tot; for (const [w, c] of m) T.set(w, (T.get(w) ?? 0) + c); return n; }
function count(files) { const fs = require('node:fs'); const m = new Map(); for (const f of files) for (const t of fs.readFileSync(f, 'utf8').split(/\s+/)) if (t) m.set(t, (m.get(t) ?? 0) + 1); return m.size; }
function reset() { globalThis.tot = new Map(); return 0; }
function mem() { return process.memoryUsage(); }
(async () => {
  const vms = await connect({ local: 1, mdns: false, peers: [] });
  await inject(vms, { add, addLocal, count, reset, mem });
  for (const [name, fn] of [['add', add], ['addLocal', addLocal], ['count', count], ['add', add], ['addLocal', addLocal]]) {
    await vms[0].reset();
    const s = performance.now();
    for await (const _ of forkGen(vms, fn, files, { chunksize: 50 })) {}
    console.log(name, (performance.now() - s).toFixed(0), 'ms');
  }
  // local main thread
  const fs = require('fs'); let s = performance.now(); globalThis.tot = new Map(); for (let i = 0; i < files.length; i += 50) add(files.slice(i, i + 50)); console.log('main add', (performance.now() - s).toFixed(0));
  process.exit(0);
})();
