// Shows a long build's status while it runs: on a terminal, one line redrawn in place a few times a
// second; elsewhere (a pipe, a CI log, JSON logs), a whole line when real work starts (modules to
// download, packages to compile) and then one every ~15 s, so a log shows the build is alive
// without flooding it. Timers are injected so tests drive time themselves.
import { statusBar, statusLine, type BuildStatus } from './build-progress.ts';

export type ProgressTarget =
  /** A terminal: the line is redrawn in place with carriage returns. */
  | { terminal: { write(text: string): unknown; columns?: number } }
  /** Whole lines: a log, a pipe. */
  | { lines: (text: string) => void };

export interface Timers {
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

export interface DisplayOptions {
  /** Between two lines on a non-terminal; default 15 s. */
  lineIntervalMs?: number;
  /** Between two redraws on a terminal; default 200 ms. */
  redrawMs?: number;
  timers?: Timers;
}

const realTimers: Timers = {
  setInterval: (fn, ms) => setInterval(fn, ms).unref(),
  clearInterval: (handle) => clearInterval(handle as NodeJS.Timeout),
};

/** A terminal when the stream is one, else lines through `log`. */
export function progressTargetFor(stream: NodeJS.WriteStream, log: (text: string) => void): ProgressTarget {
  return stream.isTTY ? { terminal: stream } : { lines: log };
}

/** Starts showing status() on the target; the returned stop() clears a terminal's line. */
export function showProgress(status: () => BuildStatus, target: ProgressTarget, opts: DisplayOptions = {}): { stop(): void } {
  const timers = opts.timers ?? realTimers;
  if ('terminal' in target) {
    const out = target.terminal;
    // A terminal that does not know its width reports 0 columns.
    const draw = () => out.write(`\r\x1b[K${statusBar(status(), out.columns || 80)}`);
    draw();
    const handle = timers.setInterval(draw, opts.redrawMs ?? 200);
    return {
      stop() {
        timers.clearInterval(handle);
        out.write('\r\x1b[K');
      },
    };
  }
  const every = opts.lineIntervalMs ?? 15_000;
  let lastKey = '';
  let lastAt = 0;
  const tick = () => {
    const s = status();
    const key = milestone(s);
    if ((key && key !== lastKey) || s.elapsedMs - lastAt >= every) {
      target.lines(statusLine(s));
      lastAt = s.elapsedMs;
    }
    if (key) lastKey = key;
  };
  // Checked every second so a milestone shows at once; a line is written only as described above.
  const handle = timers.setInterval(tick, Math.min(1000, every));
  return { stop: () => timers.clearInterval(handle) };
}

/** The moments worth a line of their own: real work begins. */
function milestone(s: BuildStatus): string {
  if (s.phase === 'downloading' && s.modules.total > 0) return 'download';
  if (s.phase === 'compiling' && s.packages.total) return 'compile';
  return '';
}
