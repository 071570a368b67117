/** Runs one of the paper's programs with `trickle run` (`pnpm exec trickle run …`), as a user would from a shell. */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';

/** The paper's programs, in TypeScript (trickle run compiles them on the fly). */
export const PAPER_DIR = join(__dirname, '..', 'src', 'paper');

/** The `trickle` command (the package's bin, which `pnpm exec trickle` runs). */
export function trickleCli(): string {
  return join(dirname(require.resolve('@trickle/core/package.json')), 'bin', 'trickle.js');
}

export interface ExampleRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `trickle run <example> [args]` on `vms` local VMs. mDNS stays off: local VMs are found
 * without it, and nothing is multicast on the host's interfaces.
 */
export function runExample(example: string, args: string[] = [], options: { vms?: number; echo?: boolean } = {}): Promise<ExampleRun> {
  const env: NodeJS.ProcessEnv = { ...process.env, TRICKLE_MDNS: 'off', TRICKLE_LOCAL: String(options.vms ?? 4) };
  delete env.TRICKLE_PEERS;
  delete env.RIVER_PEERS;
  const child = spawn(process.execPath, [trickleCli(), 'run', join(PAPER_DIR, example), ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk;
    if (options.echo) process.stdout.write(chunk);
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk;
    if (options.echo) process.stderr.write(chunk);
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
