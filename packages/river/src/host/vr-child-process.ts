/**
 * The engine's handle on a VR running in a child process (vr-process.ts), shaped like the
 * `Worker` of a VR in a worker thread so that VRHost treats both alike: `postMessage`, `message`,
 * `error` (then `exit`) when it dies, `terminate()`, `ref`/`unref`.
 *
 * Resource limits become V8 flags of the process; its resident memory is capped too (see
 * `rssLimitMb`). How it died is read from what it reported (an uncaught error), its exit signal
 * and the last lines of its stderr (which is passed on to the VM's stderr as it arrives).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';

import type { ResourceLimits } from '../protocol';
import { runtimeEntry } from '../runtime-entry';
import { RSS_LIMIT_MARK, type VRProcessArgs } from './vr-process-args';

/**
 * Resident memory a VR process may use beyond its heap limit: Node itself (~50 MiB), the young
 * generation, code, and memory outside the JavaScript heap (Buffers, ArrayBuffers).
 */
export const RSS_ALLOWANCE_MB = 160;

/** Largest V8 stack of a VR process's main thread (its OS stack is typically 8 MiB). */
const MAX_PROCESS_STACK_MB = 7;
/** What a worker thread's V8 stack is without a limit (Node's default `stackSizeMb`). */
const DEFAULT_STACK_MB = 4;

/** The resident-memory cap of a VR process with these limits, in MiB. */
export function rssLimitMb(limits: ResourceLimits): number | undefined {
  return limits.maxOldGenerationSizeMb === undefined ? undefined : limits.maxOldGenerationSizeMb + RSS_ALLOWANCE_MB;
}

/** Node flags that set the limits of a VR process (`codeRangeSizeMb` has no flag and is not applied). */
export function limitFlags(limits: ResourceLimits): string[] {
  const flags: string[] = [];
  if (limits.maxOldGenerationSizeMb !== undefined) flags.push(`--max-old-space-size=${Math.ceil(limits.maxOldGenerationSizeMb)}`);
  if (limits.maxYoungGenerationSizeMb !== undefined) {
    // V8's young generation is three semi-spaces (two, plus as much for large new objects).
    flags.push(`--max-semi-space-size=${Math.max(1, Math.round(limits.maxYoungGenerationSizeMb / 3))}`);
  }
  // V8 must stop short of the thread's real stack; Node gives workers the same 192 KiB margin.
  const stackMb = Math.min(limits.stackSizeMb ?? DEFAULT_STACK_MB, MAX_PROCESS_STACK_MB);
  flags.push(`--stack-size=${Math.floor(stackMb * 1024) - 192}`);
  return flags;
}

/** Flags of the VM's own process that a VR process must not inherit. */
const NOT_INHERITED = /^--(max-old-space-size|max-semi-space-size|max-heap-size|stack-size|inspect|heapsnapshot|prof|cpu-prof|heap-prof)/;

const TAIL_BYTES = 4096;

export class VRChildProcess extends EventEmitter {
  private readonly child: ChildProcess;
  private crash: Error | undefined;
  private terminating = false;
  private stderrTail = '';
  private readonly exited: Promise<number>;

  constructor(limits: ResourceLimits, preload: string[]) {
    super();
    const rssLimit = rssLimitMb(limits);
    const args: VRProcessArgs = { spare: true, preload, rssLimitBytes: rssLimit === undefined ? undefined : rssLimit * 1024 * 1024 };
    const execArgv = [...process.execArgv.filter((a) => !NOT_INHERITED.test(a)), ...limitFlags(limits)];
    this.child = spawn(process.execPath, [...execArgv, runtimeEntry('host/vr-process'), JSON.stringify(args)], {
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
      serialization: 'advanced',
    });
    this.child.on('message', (message: unknown) => {
      if (Array.isArray(message)) this.emit('message', message);
      else if (message && typeof message === 'object' && 'crash' in message) this.crash = rebuildError((message as { crash: unknown }).crash);
    });
    const stderr = this.child.stderr as Readable;
    stderr.on('data', (chunk: Buffer) => {
      this.stderrTail = (this.stderrTail + chunk.toString('latin1')).slice(-TAIL_BYTES);
      process.stderr.write(chunk);
    });
    // An error of the IPC channel (the process already gone) ends in 'exit' below.
    this.child.on('error', () => undefined);
    const stderrDone = new Promise<void>((resolve) => {
      stderr.once('close', resolve);
      stderr.once('error', () => resolve());
    });
    this.exited = new Promise<number>((resolve) => {
      this.child.once('exit', (code, signal) => {
        // Its last stderr lines say why it died: wait for them, but not for a grandchild that
        // inherited the pipe and keeps it open.
        let timer: NodeJS.Timeout | undefined;
        const grace = new Promise<void>((r) => (timer = setTimeout(r, 500)));
        void Promise.race([stderrDone, grace]).then(() => {
          clearTimeout(timer);
          const error = this.terminating ? undefined : this.death(code, signal, limits);
          if (error) this.emit('error', error);
          const exitCode = code ?? 1;
          this.emit('exit', exitCode);
          resolve(exitCode);
        });
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  postMessage(value: unknown): void {
    if (!this.child.connected) throw new Error('the VR process is gone');
    this.child.send(value as never);
  }

  /** Ends the process at once (SIGKILL); resolves with its exit code when it is gone. */
  terminate(): Promise<number> {
    this.terminating = true;
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    return this.exited;
  }

  ref(): void {
    this.child.ref();
    this.child.channel?.ref();
    (this.child.stderr as unknown as { ref?: () => void } | null)?.ref?.();
  }

  unref(): void {
    this.child.unref();
    this.child.channel?.unref();
    (this.child.stderr as unknown as { unref?: () => void } | null)?.unref?.();
  }

  /** Why the process died, as a worker thread would report it; undefined for a plain exit. */
  private death(_code: number | null, signal: NodeJS.Signals | null, limits: ResourceLimits): Error | undefined {
    const tail = this.stderrTail;
    const overRss = tail.includes(RSS_LIMIT_MARK);
    const outOfHeap = /heap out of memory|Reached heap limit|Allocation failed/.test(tail);
    // SIGKILL that we did not send: our watchdog, or the kernel's out-of-memory killer.
    if (overRss || outOfHeap || signal === 'SIGKILL') {
      const what = overRss
        ? `its resident memory passed ${rssLimitMb(limits)} MiB (its heap limit + ${RSS_ALLOWANCE_MB} MiB)`
        : outOfHeap
          ? 'it reached the heap limit of its process'
          : 'it was killed (SIGKILL), most likely by the kernel for lack of memory';
      return Object.assign(new Error(`the VR's process ran out of memory: ${what}`), { code: 'ERR_WORKER_OUT_OF_MEMORY', what });
    }
    if (this.crash) return this.crash;
    if (signal) return new Error(`the VR's process was killed by ${signal}`);
    return undefined;
  }
}

function rebuildError(data: unknown): Error {
  const d = (data ?? {}) as { name?: unknown; message?: unknown; stack?: unknown };
  const error = new Error(typeof d.message === 'string' ? d.message : 'the VR crashed');
  if (typeof d.name === 'string') error.name = d.name;
  if (typeof d.stack === 'string') error.stack = d.stack;
  return error;
}
