/**
 * A SessionLink to a RAI server in a local worker thread — the real server, the real codec, a
 * real thread, without River. For development, tests and benchmarks; `connect()` on River uses a
 * River link instead.
 *
 * The worker's global scope is the session namespace, so each link is a fresh, isolated session,
 * and terminating the worker drops everything in it.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { ResourceLimitError } from './errors';
import type { LinkListener, SessionLink, VMRef } from './session-link';
import { MessageBatcher, unbatch } from './worker/batch';
import type { VM } from './types';
import { clientOf, createVM, disconnect, vmList, type VMList } from './vm';

export interface WorkerLinkOptions {
  /** The VM name used in messages (default `worker-<n>`). */
  name?: string;
  /**
   * Artificial delay, in ms, before each reply is delivered (order kept): simulates a slow
   * network or a slow VM, e.g. to watch forkWork give a slow VM fewer chunks.
   */
  replyDelayMs?: number;
  /** Passed to the Worker (memory limits…). */
  resourceLimits?: ConstructorParameters<typeof Worker>[1] extends infer O ? (O extends { resourceLimits?: infer R } ? R : never) : never;
}

let counter = 0;

/**
 * The worker entry. Under ts-jest or another TypeScript loader this module is a `.ts` file, and
 * so is the entry next to it: the bootstrap then compiles it with `typescript` on the fly.
 */
const ENTRY = join(__dirname, 'worker', `rai-worker${__filename.endsWith('.ts') ? '.ts' : '.js'}`);

const BOOTSTRAP = `
const { workerData } = require('node:worker_threads');
if (workerData.entry.endsWith('.ts')) {
  // Development only (running from sources): compile .ts on the fly, cached by content hash so
  // that only the first worker pays for loading the compiler.
  const fs = require('node:fs');
  const path = require('node:path');
  const crypto = require('node:crypto');
  const cacheDir = path.join(require('node:os').tmpdir(), 'trickle-ts-cache');
  let ts;
  require.extensions['.ts'] = (module, filename) => {
    const source = fs.readFileSync(filename, 'utf8');
    const cached = path.join(cacheDir, crypto.createHash('sha1').update(filename + '\\0' + source).digest('hex') + '.js');
    let output;
    try {
      output = fs.readFileSync(cached, 'utf8');
    } catch {
      ts ??= require(require.resolve('typescript', { paths: [workerData.entry] }));
      output = ts.transpileModule(source, {
        compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
        fileName: filename,
      }).outputText;
      try {
        fs.mkdirSync(cacheDir, { recursive: true });
        const temporary = cached + '.' + process.pid + '.' + require('node:worker_threads').threadId;
        fs.writeFileSync(temporary, output);
        fs.renameSync(temporary, cached);
      } catch {}
    }
    module._compile(output, filename);
  };
}
require(workerData.entry);
`;

export class WorkerLink implements SessionLink {
  readonly vm: VMRef;
  private readonly worker: Worker;
  private listener: LinkListener | undefined;
  private ended: { reason: Error } | undefined;
  private closing: Promise<void> | undefined;
  private readonly replyDelayMs: number;
  private readonly requests: MessageBatcher;

  constructor(options: WorkerLinkOptions = {}) {
    counter++;
    this.vm = { id: randomUUID(), name: options.name ?? `worker-${counter}` };
    this.replyDelayMs = options.replyDelayMs ?? 0;
    this.worker = new Worker(BOOTSTRAP, {
      eval: true,
      workerData: { entry: ENTRY, vm: this.vm },
      resourceLimits: options.resourceLimits,
      stdout: false,
      stderr: false,
    });
    this.requests = new MessageBatcher((message, transfer) => this.worker.postMessage(message, transfer));
    this.worker.on('message', (message: Uint8Array) => {
      if (this.replyDelayMs > 0) setTimeout(() => unbatch(message, (bytes) => this.deliver(bytes)), this.replyDelayMs);
      else unbatch(message, (bytes) => this.deliver(bytes));
    });
    this.worker.on('error', (error) =>
      this.end(
        (error as Error & { code?: unknown }).code === 'ERR_WORKER_OUT_OF_MEMORY'
          ? new ResourceLimitError(this.vm, { limitMb: options.resourceLimits?.maxOldGenerationSizeMb, cause: error })
          : new Error(`the session worker of VM '${this.vm.name}' failed: ${error.message}`, { cause: error }),
      ),
    );
    this.worker.on('exit', (code) => this.end(new Error(`the session worker of VM '${this.vm.name}' exited (code ${code})`)));
  }

  send(bytes: Uint8Array): void {
    if (this.ended) return;
    this.requests.push(bytes);
  }

  listen(listener: LinkListener): void {
    this.listener = listener;
    if (this.ended) listener.lost(this.ended.reason);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.end(new Error(`the session on VM '${this.vm.name}' was closed`));
      await this.worker.terminate();
    })();
    return this.closing;
  }

  /** Ends the session now: the worker is terminated, even in the middle of a call. */
  cancel(reason: Error): Promise<void> {
    this.closing ??= (async () => {
      this.end(reason);
      await this.worker.terminate();
    })();
    return this.closing;
  }

  /** Keeps the process alive while the worker runs (default: it does not). */
  ref(): void {
    this.worker.ref();
  }

  unref(): void {
    this.worker.unref();
  }

  private deliver(bytes: Uint8Array): void {
    if (!this.ended) this.listener?.message(bytes);
  }

  private end(reason: Error): void {
    if (this.ended) return;
    this.ended = { reason };
    this.listener?.lost(reason);
  }
}

/**
 * Starts `n` sessions in local worker threads and returns their VM handles (a list that
 * `await using` disconnects). Resolves once every session answers.
 */
export async function connectWorkers(n: number, options: WorkerLinkOptions | ((index: number) => WorkerLinkOptions) = {}): Promise<VMList<VM>> {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`connectWorkers: n must be a positive integer, got ${String(n)}`);
  const vms = Array.from({ length: n }, (_, i) => {
    const opts = typeof options === 'function' ? options(i) : options;
    return createVM(new WorkerLink(opts));
  });
  try {
    await Promise.all(vms.map((vm) => clientOf(vm).ping()));
  } catch (error) {
    await disconnect(vms);
    throw error;
  }
  return vmList(vms);
}
