/**
 * The progress reporter forkWork/forkGen use when the caller passes no `onProgress`: none,
 * unless a host (the `trickle run` CLI) installs one, e.g. a progress bar on a terminal.
 */
import type { Progress } from './fork-gen';

let reporter: (() => ((progress: Progress) => void) | undefined) | undefined;

/** Installs a factory called once per forkWork/forkGen call (undefined: no default). */
export function setDefaultProgress(factory: (() => ((progress: Progress) => void) | undefined) | undefined): void {
  reporter = factory;
}

export function defaultProgress(): ((progress: Progress) => void) | undefined {
  return reporter?.();
}

/** A one-line progress bar redrawn in place on a terminal stream; cleared when done. */
export function terminalProgressBar(stream: NodeJS.WriteStream = process.stderr): (progress: Progress) => void {
  const started = Date.now();
  let last = 0;
  return ({ done, total: known }) => {
    const total = known ?? done;
    const now = Date.now();
    if (done < total && now - last < 100) return; // redraw at most 10 times a second
    last = now;
    const width = 30;
    const fraction = total === 0 ? 1 : done / total;
    const filled = Math.round(fraction * width);
    const seconds = ((now - started) / 1000).toFixed(1);
    stream.write(`\r[trickle] [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total} ${seconds}s`);
    if (done >= total) stream.write('\r\x1b[2K');
  };
}
