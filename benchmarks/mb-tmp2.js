const { connect, inject } = require('@trickle/core');
const v8 = require('v8');
const { readdirSync } = require('fs');
const dir = require('path').resolve('data/wfreq-quick/files');
const files = readdirSync(dir).map(f => dir + '/' + f);
function mk(files) { const fs = require('node:fs'); const m = new Map(); for (const f of files) for (const t of fs.readFileSync(f, 'utf8').split(/\s+/)) if (t) m.set(t, (m.get(t) ?? 0) + 1); globalThis.big = m; return m.size; }
function get() { return globalThis.big; }
function getV8() { return new Uint8Array(require('node:v8').serialize(globalThis.big)); }
function getArrays() { return [[...globalThis.big.keys()], [...globalThis.big.values()]]; }
function getSize() { return globalThis.big.size; }
async function time(label, f) { const s = performance.now(); const c0 = process.cpuUsage(); const m = await f(); const c = process.cpuUsage(c0); console.log(label, m.size, (performance.now() - s).toFixed(1), 'ms wall', ((c.user + c.system) / 1000).toFixed(1), 'ms cpu'); }
(async () => {
  const vms = await connect({ local: 1, mdns: false, peers: [] });
  await inject(vms, { mk, get, getSize, getV8, getArrays });
  console.log('size', await vms[0].mk(files));
  for (let i = 0; i < 4; i++) {
    await time('map', () => vms[0].get());
    await time('v8', async () => v8.deserialize(await vms[0].getV8()));
    await time('arrays', async () => { const [k, v] = await vms[0].getArrays(); const m = new Map(); for (let i = 0; i < k.length; i++) m.set(k[i], v[i]); return m; });
  }
  process.exit(0);
})();
