const { readdirSync } = require('fs');
const dir = require('path').resolve('data/wfreq-subset8k');
const files = readdirSync(dir).map(f => dir + '/' + f);
function add(files) { const fs = require('node:fs'); const m = globalThis.tot; let n = 0; for (const f of files) for (const t of fs.readFileSync(f, 'utf8').split(/\s+/)) if (t) { m.set(t, (m.get(t) ?? 0) + 1); n++; } return n; }
function addLocal(files) { const fs = require('node:fs'); const m = new Map(); let n = 0; for (const f of files) for (const t of fs.readFileSync(f, 'utf8').split(/\s+/)) if (t) { m.set(t, (m.get(t) ?? 0) + 1); n++; } const T = globalThis.tot; for (const [w, c] of m) T.set(w, (T.get(w) ?? 0) + c); return n; }
function count(files) { const fs = require('node:fs'); const m = new Map(); for (const f of files) for (const t of fs.readFileSync(f, 'utf8').split(/\s+/)) if (t) m.set(t, (m.get(t) ?? 0) + 1); return m.size; }
const { Worker, isMainThread } = require('worker_threads');
function run(where) {
  for (const [name, fn] of [['add', add], ['addLocal', addLocal], ['count', count], ['add', add], ['addLocal', addLocal], ['count', count]]) {
    globalThis.tot = new Map();
    const s = performance.now();
    for (let i = 0; i < files.length; i += 50) fn(files.slice(i, i + 50));
    console.log(where, name, (performance.now() - s).toFixed(0));
  }
}
if (isMainThread) { run('main'); new Worker(__filename); } else run('worker');
