// Progress of the local control plane's build, read from what the go command prints: `go mod
// download -x` logs one "# get …zip: 200 OK" line per module it fetches from the module proxy;
// `go build -n` prints one compile command per package missing from the build cache (the total);
// `go build -v -json` reports each package as it is compiled (a build-output event whose text is
// the package's import path). `go build -json` alone reports only output and failures, not
// progress. Pure: lines in, status out, time from an injected clock.

export type BuildPhase = 'downloading' | 'compiling' | 'linking' | 'done';

export interface BuildStatus {
  phase: BuildPhase;
  elapsedMs: number;
  /** Modules fetched, of those missing from the module cache when the build began. */
  modules: { done: number; total: number };
  /** Packages compiled, of those missing from the build cache (undefined until `go build -n` has counted them). */
  packages: { done: number; total: number | undefined };
  /** The package compiled last. */
  current: string | undefined;
}

interface BuildEvent {
  ImportPath?: string;
  Action?: string;
  Output?: string;
}

const zipFetched = /^# get \S+\.zip: 200\b/;
// The compile tool's path ends in /compile (compile.exe on Windows); -o comes first.
const compileCommand = /(^|[/\\])compile(\.exe)? -o /;

export class BuildProgress {
  private readonly started: number;
  private phase: BuildPhase = 'downloading';
  private modulesDone = 0;
  private planned = 0;
  private planComplete = false;
  private packagesDone = 0;
  private current: string | undefined;
  private readonly output: string[] = [];
  private readonly now: () => number;
  private readonly modulesMissing: number;

  constructor(now: () => number, modulesMissing: number) {
    this.now = now;
    this.modulesMissing = modulesMissing;
    this.started = now();
  }

  /** A line of `go mod download -x` (stderr). */
  downloadLine(line: string): void {
    if (zipFetched.test(line)) this.modulesDone++;
  }

  startCompiling(): void {
    this.phase = 'compiling';
  }

  /** A line of `go build -n` (stderr). */
  planLine(line: string): void {
    if (compileCommand.test(line)) this.planned++;
  }

  planDone(): void {
    this.planComplete = true;
  }

  /** A line of `go build -v -json` (stdout); anything else it prints is kept for the error message. */
  buildLine(line: string): void {
    let event: BuildEvent;
    try {
      event = JSON.parse(line) as BuildEvent;
    } catch {
      if (line.trim()) this.output.push(line);
      return;
    }
    if (event.Action !== 'build-output' || typeof event.Output !== 'string') return;
    if (event.ImportPath && event.Output === `${event.ImportPath}\n`) {
      this.packagesDone++;
      this.current = event.ImportPath;
    } else {
      this.output.push(event.Output.replace(/\n$/, ''));
    }
  }

  finish(): void {
    this.phase = 'done';
  }

  /** What the compiler and the go command said besides package names: the text of a failure. */
  diagnostics(): string {
    return this.output.join('\n');
  }

  status(): BuildStatus {
    const total = this.planComplete ? Math.max(this.planned, this.packagesDone) : undefined;
    // After the last package (the main one) comes the link, which prints nothing.
    const phase = this.phase === 'compiling' && total !== undefined && this.packagesDone >= total ? 'linking' : this.phase;
    return {
      phase,
      elapsedMs: this.now() - this.started,
      // The count of missing modules comes from go.mod and the module cache; never show more done than total.
      modules: { done: this.modulesDone, total: Math.max(this.modulesMissing, this.modulesDone) },
      packages: { done: this.packagesDone, total },
      current: this.current,
    };
  }
}

export function formatDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

const percent = (done: number, total: number) => `${Math.floor((100 * done) / total)}%`;

/** One line for a log or a pipe. */
export function statusLine(s: BuildStatus): string {
  const time = formatDuration(s.elapsedMs);
  switch (s.phase) {
    case 'downloading':
      return s.modules.total > 0
        ? `downloading Go modules: ${s.modules.done}/${s.modules.total} (${percent(s.modules.done, s.modules.total)}), ${time}`
        : `checking Go modules, ${time}`;
    case 'compiling':
      return s.packages.total === undefined
        ? `compiling: ${s.packages.done} packages so far (counting the rest), ${time}`
        : `compiling: ${s.packages.done}/${s.packages.total} packages (${percent(s.packages.done, s.packages.total)}), ${time}`;
    case 'linking':
      return s.packages.total ? `linking (${s.packages.total} packages compiled), ${time}` : `linking (every package is in the build cache), ${time}`;
    case 'done':
      return `built in ${time}`;
  }
}

/** One line redrawn in place on a terminal of the given width: a bar, counts, time, and the latest package. */
export function statusBar(s: BuildStatus, columns: number): string {
  const time = formatDuration(s.elapsedMs);
  let done = 0;
  let total: number | undefined;
  let what: string;
  if (s.phase === 'downloading') {
    [done, total] = [s.modules.done, s.modules.total || undefined];
    what = total ? `${done}/${total} Go modules downloaded` : 'checking Go modules';
  } else if (s.phase === 'compiling') {
    [done, total] = [s.packages.done, s.packages.total];
    what = total === undefined ? `${done} packages compiled (counting)` : `${done}/${total} packages compiled`;
  } else {
    [done, total] = [1, 1];
    what = s.phase === 'linking' ? 'linking' : 'built';
  }
  const width = 24;
  const filled = total ? Math.min(width, Math.floor((width * done) / total)) : 0;
  const bar = total === undefined ? ' '.repeat(width) : '#'.repeat(filled) + '.'.repeat(width - filled);
  const line = `[${bar}] ${what}  ${time}${s.phase === 'compiling' && s.current ? `  ${s.current}` : ''}`;
  return line.length > columns - 1 ? line.slice(0, Math.max(0, columns - 2)) + '…' : line;
}
