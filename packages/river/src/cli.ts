#!/usr/bin/env node
/**
 * The `river` command: `river vm` starts a VM, `river keygen` writes a cluster key file.
 * `runVmCli` is exported so `trickle vm` is the same VM with the Trickle extension loaded.
 */
import { parseArgs } from 'node:util';

import { defaultKeyFilePath, resolveKey, writeKeyFile } from './auth/keyfile';
import { KeyFileExistsError } from './errors/key-file-exists-error';
import type { MetricDeclaration } from './metrics/vm-metrics';
import { runPingCli } from './ping-cli';
import { RiverVM, type RiverVMOptions } from './vm/river-vm';

export interface VmCliOptions {
  /** VR classes this VM can start by name (`{ 'trickle:rai': '/abs/path.js' }`). */
  extensions?: Record<string, string>;
  /** Shown in the output and help (`river`, `trickle`). */
  programName?: string;
  /** Prefix of the environment variables named in the output and help (default `RIVER`). */
  envPrefix?: string;
  /** Where output goes (default process.stdout). */
  out?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
  /** Counters the extensions count from their VRs, served with `--metrics-port`. */
  metrics?: MetricDeclaration[];
  /** Install SIGINT/SIGTERM handlers that stop the VM and exit (default true). */
  handleSignals?: boolean;
}

function vmUsage(program: string, env: string): string {
  return `usage: ${program} vm [options]

Start a ${program} VM: a process that hosts virtual resources for initiators and other VMs.

options:
  --port N             TCP port to listen on (default 0: any free port)
  --host H             address to listen on (default 127.0.0.1 without a key, 0.0.0.0 with one)
  --slots N            how many VRs it says it can run at once, advertised (VMInfo.slots) for
                       schedulers to read; not a limit (default: number of cores)
  --key-file PATH      cluster key file (default: env ${env}_KEY, ${env}_KEY_FILE); without a key
                       the VM listens on loopback only
  --no-advertise       do not advertise over mDNS (env ${env}_MDNS=off does the same)
  --interface IF       pin mDNS to one interface (env ${env}_MDNS_INTERFACE)
  --join HOST:PORT     join the cluster of the VM at HOST:PORT; a DNS NAME:PORT joins through the
                       VMs it resolves to (A/AAAA), a bare NAME through SRV _river._tcp.NAME, and
                       is resolved again every --rejoin-interval seconds (default 10)
  --dns-server IP[:PORT]  DNS server for --join names (env ${env}_DNS_SERVER; default the system's)
  --rejoin-interval S  how often a --join name is resolved again (default 10)
  --name NAME          a name for this VM (default hostname:port)
  --peer-timeout MS    declare a silent peer lost after MS milliseconds (default 5000)
  --handshake-timeout MS  close a connection that has not authenticated within MS (default 5000)
  --max-frame-mb N     largest frame (so message) accepted from an authenticated peer, in MiB
                       (default 1024)
  --max-unsent-mb N    cut off a peer that does not read once N MiB wait to be sent to it
                       (default: max-frame-mb + 256)
  --max-vr-heap-mb N   heap limit of every VR (each Trickle session), in MiB; a VR asking for
                       more gets at most this. VRs with a heap limit run in child processes,
                       resident memory capped at N + 160 MiB (default: none)
  --metrics-port P     serve Prometheus metrics at http://127.0.0.1:P/metrics (0: any free port)
  --metrics-host H     address the metrics are served on (default 127.0.0.1: loopback only)
  --stop-grace S       on SIGTERM/SIGINT, how many seconds the work in hand may take to finish
                       before the VM exits anyway (default 30; env ${env}_STOP_GRACE_MS, in ms)
  --help               show this help

The first line of output holds the address it listens on, as host:port.
Stop it with SIGTERM or Ctrl-C: it withdraws its mDNS record, takes no new sessions or calls,
lets the calls already running finish and answer (at most --stop-grace seconds), then exits.
A second SIGTERM or Ctrl-C stops it at once.`;
}

const mib = (n: number | undefined) => (n === undefined ? undefined : n * 2 ** 20);

/** `river vm`'s stop grace when neither `--stop-grace` nor env `RIVER_STOP_GRACE_MS` sets one. */
export const DEFAULT_CLI_STOP_GRACE_MS = 30_000;
/** The longest stop grace accepted (a day). */
const MAX_STOP_GRACE_MS = 86_400_000;
/** After a second signal, how long the VM may take to stop before the process exits regardless. */
const FORCED_STOP_MS = 3_000;

/** The stop grace from env `RIVER_STOP_GRACE_MS` (milliseconds); throws on a bad value. */
export function stopGraceFromEnv(env: NodeJS.ProcessEnv): number | undefined {
  const raw = env.RIVER_STOP_GRACE_MS?.trim();
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > MAX_STOP_GRACE_MS) throw new Error(`RIVER_STOP_GRACE_MS must be an integer from 0 to ${MAX_STOP_GRACE_MS} (milliseconds), got ${raw}`);
  return n;
}

function atLeast(name: string, ms: number | undefined, min: number): number | undefined {
  if (ms !== undefined && ms < min) throw new Error(`--${name} must be at least ${min / 1000} s`);
  return ms;
}

function metricsHost(host: string | undefined, port: string | undefined): string | undefined {
  if (host !== undefined && port === undefined) throw new Error('--metrics-host needs --metrics-port');
  return host;
}

/** Parses `vm` flags into RiverVM options, or `'help'`. Throws on a bad flag. */
export function parseVmArgs(argv: string[]): RiverVMOptions & { keyFile?: string } | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      slots: { type: 'string' },
      'key-file': { type: 'string' },
      'no-advertise': { type: 'boolean' },
      advertise: { type: 'boolean' },
      interface: { type: 'string' },
      join: { type: 'string' },
      'dns-server': { type: 'string' },
      'rejoin-interval': { type: 'string' },
      name: { type: 'string' },
      'peer-timeout': { type: 'string' },
      'handshake-timeout': { type: 'string' },
      'max-frame-mb': { type: 'string' },
      'max-unsent-mb': { type: 'string' },
      'max-vr-heap-mb': { type: 'string' },
      'stop-grace': { type: 'string' },
      'metrics-port': { type: 'string' },
      'metrics-host': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return 'help';
  const int = (name: string, v: string | undefined, min: number, max: number): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} must be an integer from ${min} to ${max}, got ${v}`);
    return n;
  };
  const seconds = (name: string, v: string | undefined, max: number): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < 0 || n > max) throw new Error(`--${name} must be a number of seconds from 0 to ${max}, got ${v}`);
    return Math.round(n * 1000);
  };
  return {
    port: int('port', values.port, 0, 65535),
    host: values.host,
    slots: int('slots', values.slots, 1, 4096),
    keyFile: values['key-file'],
    advertise: values['no-advertise'] ? false : values.advertise ? true : undefined,
    interface: values.interface,
    join: values.join,
    dnsServer: values['dns-server'],
    rejoinIntervalMs: atLeast('rejoin-interval', seconds('rejoin-interval', values['rejoin-interval'], 86_400), 100),
    name: values.name,
    peerTimeoutMs: int('peer-timeout', values['peer-timeout'], 100, 3_600_000),
    handshakeTimeoutMs: int('handshake-timeout', values['handshake-timeout'], 100, 3_600_000),
    maxFrameBytes: mib(int('max-frame-mb', values['max-frame-mb'], 1, 4095)),
    maxUnsentBytes: mib(int('max-unsent-mb', values['max-unsent-mb'], 1, 1_048_576)),
    maxVRHeapMb: int('max-vr-heap-mb', values['max-vr-heap-mb'], 8, 1_048_576),
    stopGraceMs: seconds('stop-grace', values['stop-grace'], MAX_STOP_GRACE_MS / 1000),
    metricsPort: int('metrics-port', values['metrics-port'], 0, 65535),
    metricsHost: metricsHost(values['metrics-host'], values['metrics-port']),
  };
}

/**
 * Runs `<program> vm` with `argv` (the flags after `vm`): starts the VM, prints where it listens
 * (first line: `host:port`), and stops it cleanly on SIGINT/SIGTERM. Resolves with the running VM
 * (undefined after `--help`).
 */
export async function runVmCli(argv: string[], options: VmCliOptions = {}): Promise<RiverVM | undefined> {
  const program = options.programName ?? 'river';
  const out = options.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  // A VM outlives whoever read its first line (an initiator that started it, a closed terminal):
  // writing to a closed stdout must not crash it (EPIPE), it just has nobody to tell.
  if (!options.out) process.stdout.on('error', () => undefined);
  const env = options.env ?? process.env;
  const parsed = parseVmArgs(argv);
  if (parsed === 'help') {
    out(vmUsage(program, options.envPrefix ?? 'RIVER'));
    return undefined;
  }
  const { keyFile, ...vmOptions } = parsed;
  // --stop-grace, else env RIVER_STOP_GRACE_MS, else 30 s: time for the work in hand to finish.
  vmOptions.stopGraceMs ??= stopGraceFromEnv(env) ?? DEFAULT_CLI_STOP_GRACE_MS;
  const key = await resolveKey({ keyFile, env });
  // A local VM (started by an initiator, RIVER_EXIT_WITH_STDIN=1) writes to its parent's
  // terminal: it leaves out what its parent did on purpose (terminating a session it cancelled),
  // and says nothing once the parent is gone (its connection then fails as a matter of course).
  // (LocalVMs sets both RIVER_EXIT_WITH_STDIN and RIVER_QUIET; test fixtures only the first.)
  const local = env.RIVER_EXIT_WITH_STDIN === '1';
  const quiet = env.RIVER_QUIET === '1';
  let parentGone = false;
  const log = (line: string) => {
    if (parentGone || (local && quiet && ROUTINE_FOR_LOCAL_VMS.test(line))) return;
    process.stderr.write(`${program} vm: ${line}\n`);
  };
  const vm = new RiverVM({ ...vmOptions, key, extensions: options.extensions, metrics: options.metrics, log });
  await vm.start();
  const { host, port } = vm.address;
  const hostPort = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  const security = key ? 'cluster key set' : 'no cluster key: listening on loopback only';
  out(`${program} vm listening on ${hostPort} (id ${vm.id}, name ${vm.info.name}, slots ${vm.info.slots}; ${security})`);
  if (env.RIVER_QUIET !== '1') {
    // (A local VM started by an initiator sets RIVER_QUIET: only the first line is read.)
    const prefix = options.envPrefix ?? 'RIVER';
    out(`  reach it: ${prefix}_PEERS=${hostPort}, or start more VMs with: ${program} vm --join ${hostPort}`);
    if (!key) out(`  to accept other machines, give every VM and initiator the same key (${program} keygen; --key-file or ${prefix}_KEY)`);
    const m = vm.metricsAddress;
    if (m) out(`  metrics: http://${m.host.includes(':') ? `[${m.host}]` : m.host}:${m.port}/metrics`);
    out(vm.advertising ? '  advertised over mDNS (_river._tcp)' : `  mDNS advertisement off${key ? '' : ' (without a cluster key there is nothing to advertise beyond this machine)'}`);
  }

  // First signal: a graceful stop (the work in hand finishes, within the stop grace), exit 0.
  // Second: stop now (running VRs terminated, peers told), exit 1; bounded, in case that hangs.
  let stopping = false;
  let forced = false;
  const shutdown = (why: string, code: number, signal = false) => {
    if (stopping) {
      // Only a second signal hurries the stop (not, say, the parent's pipe closing meanwhile).
      if (forced || !signal) return;
      forced = true;
      if (env.RIVER_QUIET !== '1') out(`${program} vm: ${why} again, stopping now`);
      setTimeout(() => process.exit(1), FORCED_STOP_MS).unref();
      vm.stopNow().then(
        () => process.exit(1),
        () => process.exit(1),
      );
      return;
    }
    stopping = true;
    if (env.RIVER_QUIET !== '1') {
      out(`${program} vm: ${why}, stopping`);
      out(`${program} vm: finishing the work in hand (at most ${formatSeconds(vmOptions.stopGraceMs!)}); signal again to stop now`);
    }
    vm.stop().then(
      () => process.exit(forced ? 1 : code),
      () => process.exit(1),
    );
  };
  if (options.handleSignals ?? true) {
    process.on('SIGINT', () => shutdown('SIGINT', 0, true));
    process.on('SIGTERM', () => shutdown('SIGTERM', 0, true));
  }
  if (local) {
    // Started by an initiator as a local VM: when its parent ends (or dies), the pipe closes.
    // Nobody else uses this VM, and the parent's sessions ended with it: stop now, quietly.
    const parentEnded = () => {
      if (parentGone) return;
      parentGone = true;
      stopping = true;
      setTimeout(() => process.exit(0), FORCED_STOP_MS).unref();
      vm.stopNow().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.stdin.on('end', parentEnded);
    process.stdin.on('error', parentEnded);
    process.stdin.resume();
  }
  return vm;
}

/** Log lines a local VM leaves out: its parent asked for them (see runVmCli). */
const ROUTINE_FOR_LOCAL_VMS = /^VR \S+ terminated by its parent\b/;

function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}

async function keygen(argv: string[], out: (line: string) => void): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { force: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
  });
  if (values.help) {
    out(`usage: river keygen [--force] [PATH]\n\nWrites a new cluster key to PATH (default ${defaultKeyFilePath()}), mode 0600.`);
    return;
  }
  const path = positionals[0] ?? defaultKeyFilePath();
  try {
    await writeKeyFile(path, undefined, { force: values.force });
  } catch (error) {
    if (KeyFileExistsError.isInstance(error)) throw new KeyFileExistsError({ path, cause: error, fix: 'pass --force' });
    throw error;
  }
  out(`wrote a new cluster key to ${path}`);
}

const USAGE = `usage: river <command> [options]

commands:
  vm       start a River VM (river vm --help)
  ping     check that a VM authenticates and answers (river ping --help)
  keygen   write a cluster key file (river keygen --help)`;

export async function main(argv: string[]): Promise<number> {
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'vm':
        await runVmCli(rest);
        return -1; // keep running
      case 'ping':
        return await runPingCli(rest);
      case 'keygen':
        await keygen(rest, out);
        return 0;
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        out(USAGE);
        return command === undefined ? 1 : 0;
      default:
        process.stderr.write(`river: unknown command ${command}\n${USAGE}\n`);
        return 1;
    }
  } catch (error) {
    process.stderr.write(`river: ${(error as Error).message}\n`);
    return 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => {
    if (code >= 0) process.exitCode = code;
  });
}
