#!/usr/bin/env node
/**
 * The `trickle` command:
 *   trickle vm [options]                 a River VM with the Trickle extension loaded
 *   trickle run script.(js|ts) [args]    run an initiator program with Trickle's globals
 *   trickle ls [options]                 list the VMs discovery finds
 *   trickle keygen [--out FILE] [--force] write a cluster key file
 */
import { existsSync } from 'node:fs';
import { register } from 'node:module';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { inspect, parseArgs } from 'node:util';
import { defaultKeyFilePath, failureReason, KeyFileExistsError, runPingCli, runVmCli, startInitiator, writeKeyFile, type DiscoveryFailure } from '@river/engine';
import * as trickle from './index';
import { trickleExtensions } from './river/extension';
import { trickleMetrics } from './river/metrics';
import { nodeFormat, usesTopLevelAwait } from './run/entry-format';
import { typecheck } from './run/typecheck';
import { setDefaultProgress, terminalProgressBar } from './scheduling/progress';

const USAGE = `usage: trickle <command> [options]

Commands:
  vm              start a Trickle VM (a River VM with the Trickle extension)
  run SCRIPT ...  run a JavaScript or TypeScript initiator program
  ls              list the VMs that discovery finds
  ping HOST:PORT  exit 0 when the VM there authenticates and answers (for health checks)
  keygen          write a cluster key file

Run 'trickle <command> --help' for a command's options.

Environment: TRICKLE_PEERS=host:port,...|name:port|name  TRICKLE_DNS_SERVER=ip[:port]
             TRICKLE_KEY / TRICKLE_KEY_FILE  TRICKLE_LOCAL=n
             TRICKLE_MDNS=off  TRICKLE_MDNS_INTERFACE=name|address
             TRICKLE_STOP_GRACE_MS=ms (trickle vm)   (the RIVER_ names work too)
`;

const RUN_USAGE = `usage: trickle run [--typecheck] SCRIPT [args...]

Runs SCRIPT as a Trickle initiator, as Node runs it (ES modules and CommonJS, by extension and
package.json "type"), plus TypeScript (.ts .mts .cts, compiled on the fly by tsx), top-level
await (a .ts/.js file in a CommonJS package that awaits at its top level runs as an ES module)
and \`await using\` (lowered where Node cannot parse it). An uncaught error prints its stack
(file:line) and exits with status 1.

  --typecheck   type-check first with the program's own TypeScript (tsc --noEmit on the nearest
                tsconfig.json's project, or on SCRIPT); do not run when it finds errors

These are globals in SCRIPT:
  connect, inject, fork, forkAll, forkEach, join, joinAny, forkWork, forkGen, disconnect, release
connect() prints '[trickle: discovered N VMs]' on stderr; forkWork shows a progress bar on a
terminal. process.argv is [node, SCRIPT, ...args].
`;

const LS_USAGE = `usage: trickle ls [--timeout MS] [--peers host:port,...] [--key-file FILE] [--interface IF] [--no-mdns] [--json]

Lists every VM that discovery finds (mDNS, static peers, membership) with its state: usable
(reached and authenticated), wrong-key (it holds another cluster key, or one side has none), or
unreachable (refused, no answer in time, closed, not a River VM). --json prints the same as a
list of objects with a 'state' field.
`;

const KEYGEN_USAGE = `usage: trickle keygen [--out FILE] [--force]

Writes a new random cluster key (mode 0600) to FILE (default: ${defaultKeyFilePath()}).
Start VMs with 'trickle vm --key-file FILE' and initiators with TRICKLE_KEY_FILE=FILE.
`;

/** TRICKLE_X falls back to RIVER_X: River reads the RIVER_ names. */
function mapEnvironment(): void {
  for (const name of ['KEY', 'KEY_FILE', 'PEERS', 'DNS_SERVER', 'MDNS', 'MDNS_INTERFACE', 'STOP_GRACE_MS']) {
    const value = process.env[`TRICKLE_${name}`];
    if (value !== undefined && value !== '') process.env[`RIVER_${name}`] = value;
  }
}

const GLOBALS = ['connect', 'inject', 'fork', 'forkAll', 'forkEach', 'join', 'joinAny', 'forkWork', 'forkGen', 'disconnect', 'release'] as const;

async function run(argv: string[]): Promise<number> {
  let check = false;
  while (argv[0] === '--typecheck') {
    check = true;
    argv = argv.slice(1);
  }
  const [script, ...args] = argv;
  if (script === undefined || script === '--help' || script === '-h') {
    process.stdout.write(RUN_USAGE);
    return script === undefined ? 2 : 0;
  }
  const path = resolve(script);
  if (!existsSync(path)) {
    process.stderr.write(`trickle run: no such file: ${script}\n`);
    return 2;
  }
  if (check) {
    const code = typecheck(path, (text) => process.stderr.write(text));
    if (code !== 0) return code;
  }
  const entry = pathToFileURL(path).href;
  // tsx compiles TypeScript on the fly, for ES modules and CommonJS alike (the hooks `node
  // --import tsx` installs); injected functions may then carry esbuild's __name helper, which the
  // VMs provide. Ours run first: top-level await in a CommonJS package, `await using` in .js.
  await import(pathToFileURL(require.resolve('tsx')).href);
  register(pathToFileURL(join(__dirname, 'run', 'loader-hooks.mjs')).href, {
    data: { entry, entryAsModule: nodeFormat(path) === 'commonjs' && !/\.c[jt]s$/.test(path) && usesTopLevelAwait(path), esbuild: pathToFileURL(require.resolve('esbuild')).href },
  });
  process.setSourceMapsEnabled(true);
  process.env.TRICKLE_ANNOUNCE = '1';
  if (process.stderr.isTTY) setDefaultProgress(() => terminalProgressBar(process.stderr));
  for (const name of GLOBALS) (globalThis as Record<string, unknown>)[name] = trickle[name];
  process.argv = [process.argv[0]!, path, ...args];
  try {
    await import(entry);
  } catch (error) {
    if (reportUncaught(error)) process.exit(1);
  }
  return -1; // the script's own event loop decides when the process ends
}

/**
 * Prints an error the script's evaluation threw, place first, as Node would for an uncaught one;
 * returns false when it left the printing to Node: a JavaScript syntax error in an ES module is
 * rethrown, since only Node has the `file:line` and source excerpt of a parse failure.
 */
function reportUncaught(error: unknown): boolean {
  const stack = error instanceof Error ? String(error.stack) : '';
  if (error instanceof SyntaxError && !/^(?:file:\/\/)?\//.test(stack)) {
    setImmediate(() => {
      throw error;
    });
    return false;
  }
  // esbuild could not compile a TypeScript file: "Transform failed with 1 error:\n/app/x.ts:2:10: ERROR: …"
  const transform = /^Transform failed with \d+ errors?:\n([\s\S]*)$/.exec(error instanceof Error ? error.message : '');
  if (transform) {
    process.stderr.write(`${transform[1]!.replace(/: ERROR: /g, ': SyntaxError: ')}\n`);
    return true;
  }
  // A syntax error CommonJS reported is already decorated with its file:line.
  const place = error instanceof SyntaxError ? undefined : firstUserFrame(error);
  // The stack (a RemoteError's holds the call site here and the remote stack), not a dump of
  // every nested cause: each cause in one line.
  let text = error instanceof Error ? stack : inspect(error);
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && !text.includes(code)) text += `\n  code: '${code}'`;
  for (let cause = (error as { cause?: unknown } | null)?.cause, depth = 0; cause instanceof Error && depth < 3; cause = cause.cause, depth++) {
    if (!text.includes(cause.message)) text += `\n  caused by ${cause.name}: ${cause.message}`;
  }
  process.stderr.write(`${place ? `${place}\n` : ''}${text}\n`);
  return true;
}

/** Where Trickle's and River's own code lives: not the user's place. */
const OWN_CODE = [__dirname, resolve(require.resolve('@river/engine/package.json'), '..', 'dist')];

/** `/app/main.ts:12` from the first stack line (of the error, else of its causes) in the user's code. */
function firstUserFrame(error: unknown): string | undefined {
  for (let e = error, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    for (const line of String(e.stack).split('\n')) {
      const m = /(?:\(|\s)((?:file:\/\/)?\/[^():]+):(\d+):\d+\)?\s*$/.exec(line);
      if (!m) continue;
      const file = m[1]!.replace(/^file:\/\//, '');
      if (file.includes('/node_modules/') || OWN_CODE.some((dir) => file.startsWith(`${dir}/`))) continue;
      return `${file}:${m[2]}`;
    }
  }
  return undefined;
}

async function ls(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      timeout: { type: 'string' },
      peers: { type: 'string' },
      'key-file': { type: 'string' },
      interface: { type: 'string' },
      'no-mdns': { type: 'boolean' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(LS_USAGE);
    return 0;
  }
  const initiator = await startInitiator({ keyFile: values['key-file'] });
  try {
    const { vms, failures } = await initiator.discoverReport({
      timeoutMs: values.timeout ? Number(values.timeout) : 1500,
      peers: values.peers ?? process.env.RIVER_PEERS,
      interface: values.interface,
      mdns: values['no-mdns'] ? false : undefined,
    });
    const rows = [...vms.map((vm) => ({ ...vm, state: 'usable' as const })), ...failures.map(failureRow)];
    if (values.json) process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    else if (rows.length === 0) {
      // Without a key mDNS is off (everything stays on loopback): say where else to look.
      const keyed = values['key-file'] !== undefined || Boolean(process.env.RIVER_KEY || process.env.RIVER_KEY_FILE);
      process.stdout.write(keyed ? 'no VMs found\n' : 'no VMs found (no cluster key, so no mDNS: pass --peers host:port, or a key with --key-file / TRICKLE_KEY_FILE)\n');
    }
    else {
      for (const vm of vms) process.stdout.write(`${vm.host}:${vm.port}\t${vm.name}\tusable\tslots=${vm.slots}\tid=${vm.id}\tv${vm.version}\n`);
      for (const f of failures) process.stdout.write(`${f.address}\t${f.name ?? '-'}\t${failureRow(f).state}\t${failureReason(f)}\n`);
    }
    return 0;
  } finally {
    await initiator.stop();
  }
}

/** A VM or address `trickle ls` found but cannot use: `wrong-key`, or `unreachable` with why. */
function failureRow(f: DiscoveryFailure) {
  return { id: f.id, name: f.name, address: f.address, source: f.source, state: f.reason === 'wrong-key' ? ('wrong-key' as const) : ('unreachable' as const), reason: f.reason, message: f.message };
}

async function keygen(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { out: { type: 'string', short: 'o' }, force: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    process.stdout.write(KEYGEN_USAGE);
    return 0;
  }
  const path = resolve(values.out ?? defaultKeyFilePath());
  try {
    await writeKeyFile(path, undefined, { force: values.force });
  } catch (error) {
    if (KeyFileExistsError.isInstance(error)) throw new KeyFileExistsError({ path, cause: error, fix: 'pass --force' });
    throw error;
  }
  process.stdout.write(`wrote a new cluster key to ${path}\n`);
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  mapEnvironment();
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'vm':
        await runVmCli(rest, { extensions: trickleExtensions(), metrics: trickleMetrics(), programName: 'trickle', envPrefix: 'TRICKLE' });
        return -1; // runs until SIGINT/SIGTERM
      case 'run':
        return await run(rest);
      case 'ls':
        return await ls(rest);
      case 'ping':
        return await runPingCli(rest, { programName: 'trickle' });
      case 'keygen':
        return await keygen(rest);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(USAGE);
        return command === undefined ? 2 : 0;
      default:
        process.stderr.write(`trickle: unknown command '${command}'\n\n${USAGE}`);
        return 2;
    }
  } catch (error) {
    process.stderr.write(`trickle ${command}: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => {
    if (code >= 0) process.exitCode = code;
  });
}
