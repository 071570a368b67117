/**
 * The progress reporter forkWork/forkGen use when the caller passes no `onProgress`: none,
 * unless a host (the `trickle run` CLI) installs one, e.g. a progress bar on a terminal.
 */
import type { Progress } from './fork-gen';

/** Called after each chunk; `end()`, when there is one, when the run ends however it ends. */
export type ProgressReporter = ((progress: Progress) => void) & { end?: () => void };

let reporter: (() => ProgressReporter | undefined) | undefined;

/** Installs a factory called once per forkWork/forkGen call (undefined: no default). */
export function setDefaultProgress(factory: (() => ProgressReporter | undefined) | undefined): void {
  reporter = factory;
}

export function defaultProgress(): ProgressReporter | undefined {
  return reporter?.();
}

/**
 * A one-line progress bar redrawn in place on a terminal stream. With an unknown total (a
 * generator as the work list) it shows the count done instead of a bar. The line is cleared
 * when the work is done and when the run ends otherwise (a `break` out of forkGen, an abort, an
 * error, the process exiting), so the next output starts on a clean line.
 */
export function terminalProgressBar(stream: NodeJS.WriteStream = process.stderr): ProgressReporter {
  const started = Date.now();
  let last = 0;
  let shown = false;
  const clear = () => {
    if (!shown) return;
    shown = false;
    process.off('exit', clear);
    stream.write('\r\x1b[2K');
  };
  const update = ({ done, total }: Progress) => {
    const finished = total !== undefined && done >= total;
    if (finished) {
      clear();
      return;
    }
    const now = Date.now();
    if (now - last < 100) return; // redraw at most 10 times a second
    last = now;
    const seconds = ((now - started) / 1000).toFixed(1);
    let line: string;
    if (total === undefined) {
      line = `[trickle] ${done} done ${seconds}s`;
    } else {
      const width = 30;
      const filled = Math.round((total === 0 ? 1 : done / total) * width);
      line = `[trickle] [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total} ${seconds}s`;
    }
    if (!shown) process.once('exit', clear);
    shown = true;
    stream.write(`\r\x1b[2K${line}`);
  };
  return Object.assign(update, { end: clear });
}
