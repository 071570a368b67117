// Profiling the Trickle runs on the simulated cluster (development aid, not part of `pnpm bench`):
//
//   node dist/wfreq/profile.js [--data DIR | --quick] [--files N] [--vms 1,2] [--variants paper,reduce]
//        [--runs N] [--set 'NAME=VALUE;NAME=VALUE|…'] [--share 0.2] [--cluster auto|netns|processes]
//        [--entry other-initiator.js]
//
// Builds the cluster once, then for every VM count, run, variant and env set (`--set` may be
// several configurations separated by '|': each one set of environment variables for the initiator)
// runs one traced initiator (WFREQ_TRACE=1) and prints its phase timings, its checked wall time,
// and the CPU time each machine's cgroup used during the run.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkKnown, listFlag, numberFlag, parseArgs, stringFlag } from './args';
import { createCluster, installSignalHandlers } from './cluster';
import { ensureDataset, listTextFiles, QUICK_SPEC } from './data';
import { parseResult, writeJson, type TrickleJob } from './job';
import { compiledEntry } from './paths';
import { computeReference, verifySummary } from './reference';
import { vmCommand, type Variant } from './variants';

async function main(argv: string[]): Promise<void> {
  const valued = ['data', 'files', 'vms', 'variants', 'runs', 'set', 'share', 'cluster', 'chunksize', 'entry'];
  const args = parseArgs(argv, valued);
  checkKnown(args, [...valued, 'quick']);
  const dataset = args.flags.has('quick') ? await ensureDataset(QUICK_SPEC, {}) : listTextFiles(stringFlag(args, 'data') ?? 'data/wfreq-full/files');
  const limit = numberFlag(args, 'files');
  const files = limit ? dataset.files.slice(0, limit) : dataset.files;
  const vmsList = (listFlag(args, 'vms') ?? ['1', '2']).map(Number);
  const variants = (listFlag(args, 'variants') ?? ['paper', 'reduce']) as Variant[];
  const runs = numberFlag(args, 'runs') ?? 1;
  const sets = (stringFlag(args, 'set') ?? '').split('|').map((text) => Object.fromEntries(text.split(';').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])));
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const reference = computeReference(files);
  log(`${files.length} files, ${reference.total} tokens, ${reference.unique} unique; plain count ${reference.seconds.toFixed(2)} s on a free core`);
  const work = mkdtempSync(join(tmpdir(), 'wfq-prof-'));
  const filesList = join(work, 'files.json');
  writeJson(filesList, files);
  const cluster = await createCluster({ slots: Math.max(...vmsList), share: numberFlag(args, 'share') ?? 0.2, mode: (stringFlag(args, 'cluster') ?? 'auto') as 'auto', log });
  installSignalHandlers();
  try {
    for (const vms of vmsList) {
      await cluster.startVms(vms, vmCommand, { timeoutMs: 120_000 });
      const view = { kind: cluster.kind, vms: cluster.vms.map((v) => ({ name: v.name, address: v.address })), env: { ...cluster.env }, description: '' };
      for (let run = 0; run < runs; run++) {
        for (const variant of variants) {
          for (const set of sets) {
            const job: TrickleJob = { kind: 'trickle', variant, vms, chunksize: numberFlag(args, 'chunksize') ?? 100, filesList, cluster: view };
            const jobFile = join(work, 'job.json');
            writeJson(jobFile, job);
            const before = cluster.cpuStats();
            const r = await cluster.runInitiator([process.execPath, stringFlag(args, 'entry') ?? compiledEntry('initiator'), jobFile], { env: { ...view.env, ...set, WFREQ_TRACE: '1' } });
            const after = cluster.cpuStats();
            const result = parseResult(r.stdout);
            if (!result?.ok) throw new Error(`${variant} on ${vms}: ${result?.error ?? r.stderr}`);
            if (!stringFlag(args, 'entry')) verifySummary(result.summary!, reference, `${variant} on ${vms}`);
            const cpu = Object.fromEntries(
              Object.keys(after)
                .filter((k) => after[k]!.usageUs !== undefined && (k === 'init' || Number(k.slice(2)) <= vms))
                .map((k) => [k, Math.round((after[k]!.usageUs! - before[k]!.usageUs!) / 1000)]),
            );
            const trace = r.stderr.split('\n').find((l) => l.startsWith('wfreq-trace ')) ?? '';
            log(`${variant} vms=${vms} ${JSON.stringify(set)} ${result.seconds!.toFixed(2)} s  cgroup CPU ms ${JSON.stringify(cpu)}\n   ${trace.slice(12)}`);
          }
        }
      }
      await cluster.stopVms();
    }
  } finally {
    await cluster.dispose();
    rmSync(work, { recursive: true, force: true });
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  });
}
