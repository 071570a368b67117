/**
 * `river ping HOST:PORT` / `trickle ping HOST:PORT`: exit 0 when the VM there authenticates and
 * answers, else 1 with a one-line reason (refused, timeout, wrong key, …); 2 for a usage error.
 * For container health checks and readiness probes.
 */
import { parseArgs } from 'node:util';

import { resolveKey } from './auth/keyfile';
import { PingError } from './errors/ping-error';
import { pingVM } from './net/ping';
import { addressKey, parseAddress } from './net/peers';

export interface PingCliOptions {
  /** Shown in output and help (`river`, `trickle`). */
  programName?: string;
  env?: NodeJS.ProcessEnv;
  out?: (line: string) => void;
  err?: (line: string) => void;
}

/** The flags `ping` accepts (deployment recipes are checked against this list). */
export const PING_FLAGS = ['key-file', 'timeout', 'quiet', 'help'] as const;

function usage(program: string): string {
  return `usage: ${program} ping HOST:PORT [--key-file PATH] [--timeout MS] [--quiet]

Dials the VM at HOST:PORT, authenticates with the cluster key (--key-file, else env RIVER_KEY,
RIVER_KEY_FILE) and asks for its member list. Exit status 0 when it answers; 1 with a one-line
reason when it does not (refused, timeout, wrong key, unreachable, protocol); 2 on a usage error.

options:
  --key-file PATH   cluster key file
  --timeout MS      give up after MS milliseconds (default 5000)
  --quiet           print nothing when the VM answers`;
}

export async function runPingCli(argv: string[], options: PingCliOptions = {}): Promise<number> {
  const program = options.programName ?? 'river';
  const out = options.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const err = options.err ?? ((line: string) => process.stderr.write(`${line}\n`));
  let values: { 'key-file'?: string; timeout?: string; quiet?: boolean; help?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      options: { 'key-file': { type: 'string' }, timeout: { type: 'string' }, quiet: { type: 'boolean', short: 'q' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    }));
  } catch (error) {
    err(`${program} ping: ${(error as Error).message}`);
    return 2;
  }
  if (values.help) {
    out(usage(program));
    return 0;
  }
  const address = positionals.length === 1 ? parseAddress(positionals[0]!) : undefined;
  if (!address) {
    err(`${program} ping: expected one HOST:PORT${positionals.length ? `, got ${positionals.join(' ')}` : ''}`);
    return 2;
  }
  const timeoutMs = values.timeout === undefined ? 5000 : Number(values.timeout);
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 600_000) {
    err(`${program} ping: --timeout must be an integer from 1 to 600000 (milliseconds), got ${values.timeout}`);
    return 2;
  }
  let key: string | undefined;
  try {
    key = await resolveKey({ keyFile: values['key-file'], env: options.env ?? process.env });
  } catch (error) {
    err(`${program} ping: ${addressKey(address)}: no usable key (${(error as Error).message})`);
    return 1;
  }
  try {
    const r = await pingVM(address, { key, timeoutMs });
    if (!values.quiet) out(`ok ${addressKey(address)}: VM ${r.info.name} (id ${r.info.id}), ${r.members} member${r.members === 1 ? '' : 's'}, ${r.ms} ms`);
    return 0;
  } catch (error) {
    err(`${program} ping: ${PingError.isInstance(error) ? error.message : `${addressKey(address)}: ${(error as Error).message}`}`);
    return 1;
  }
}
