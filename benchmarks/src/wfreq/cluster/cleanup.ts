// Teardown on every way out: normal completion (try/finally in the callers), SIGINT/SIGTERM
// (async teardown, bounded, then exit), and a synchronous last resort on process 'exit'.

interface Entry {
  name: string;
  teardown: () => Promise<void>;
  teardownSync: () => void;
}

const entries = new Set<Entry>();
let exitHook = false;
let signalHandlers = false;
let shuttingDown = false;

const TEARDOWN_LIMIT_MS = 20_000;

/**
 * Registers something that must be torn down. Returns the function to call once it has been torn
 * down normally. `teardownSync` runs from the 'exit' hook if nothing else did.
 */
export function registerCleanup(name: string, teardown: () => Promise<void>, teardownSync: () => void): () => void {
  const entry: Entry = { name, teardown, teardownSync };
  entries.add(entry);
  if (!exitHook) {
    exitHook = true;
    process.on('exit', () => {
      for (const e of [...entries].reverse()) {
        try {
          e.teardownSync();
        } catch {
          // keep going: best effort
        }
      }
      entries.clear();
    });
  }
  return () => entries.delete(entry);
}

/** Tears everything registered down (newest first), bounded in time. */
export async function teardownAll(): Promise<void> {
  const list = [...entries].reverse();
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    (async () => {
      for (const e of list) {
        try {
          await e.teardown();
        } catch (err) {
          process.stderr.write(`teardown of ${e.name} failed: ${err instanceof Error ? err.message : String(err)}\n`);
        }
        entries.delete(e);
      }
    })(),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, TEARDOWN_LIMIT_MS);
    }),
  ]);
  clearTimeout(timer);
}

/** True once a signal started the teardown (CLIs then stay quiet about the errors it causes). */
export function isShuttingDown(): boolean {
  return shuttingDown;
}

/**
 * For CLIs (not tests): on SIGINT/SIGTERM/SIGHUP tear everything down, then exit with 128+signal.
 * A second signal while tearing down exits at once (the 'exit' hook still runs the sync teardown).
 */
export function installSignalHandlers(onSignal?: (signal: NodeJS.Signals) => void): void {
  if (signalHandlers) return;
  signalHandlers = true;
  const codes: Record<string, number> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      if (shuttingDown) process.exit(codes[signal]);
      shuttingDown = true;
      onSignal?.(signal);
      process.stderr.write(`\n${signal}: tearing down …\n`);
      void teardownAll().finally(() => process.exit(codes[signal]));
    });
  }
}
