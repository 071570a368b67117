// Jobs run in separate processes (on a simulated machine, or unrestricted) and their result line.
//
// A job process reads a JSON job file, prints any logs it likes, and ends with one stdout line
// `{"wfreq":"result", "ok":true, "seconds":…, "summary":{total,unique,checksum}}` (or ok:false
// with the error). Only the summary crosses back; the driver checks it against the reference.
import { readFileSync, writeFileSync } from 'node:fs';
import type { CountSummary } from './reference';
import type { ClusterView, Variant } from './variants';

export interface TrickleJob {
  kind: 'trickle';
  variant: Variant;
  vms: number;
  chunksize: number;
  /** JSON file holding the array of file paths. */
  filesList: string;
  cluster: ClusterView;
}

export interface PlainJob {
  kind: 'plain';
  filesList: string;
}

export type Job = TrickleJob | PlainJob;

export interface JobResult {
  wfreq: 'result';
  ok: boolean;
  seconds?: number;
  summary?: CountSummary;
  error?: string;
  errorName?: string;
  stack?: string;
}

export function writeJson(path: string, value: unknown): void {
  writeFileSync(path, JSON.stringify(value));
}

export function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

export function printResult(result: Omit<JobResult, 'wfreq'>): void {
  process.stdout.write(`\n${JSON.stringify({ wfreq: 'result', ...result })}\n`);
}

/** The result line of a job's stdout, or undefined. */
export function parseResult(stdout: string): JobResult | undefined {
  const lines = stdout.split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i]!.trim();
    if (!line.startsWith('{"wfreq":"result"')) continue;
    try {
      return JSON.parse(line) as JobResult;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** Runs `body` as a job process's main: prints the result line and exits (bounded). */
export function jobMain(body: () => Promise<Omit<JobResult, 'wfreq' | 'ok'>>): void {
  body().then(
    (r) => {
      printResult({ ok: true, ...r });
      process.exit(0);
    },
    (err: unknown) => {
      const e = err instanceof Error ? err : new Error(String(err));
      printResult({ ok: false, error: e.message, errorName: e.name, stack: e.stack });
      process.exit(1);
    },
  );
}
