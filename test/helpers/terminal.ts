// Runs a command as a person at a terminal would: under a pseudo-terminal made by `script` (util-
// linux, in Debian's essential bsdutils), so its stdout is a TTY. Its output is recorded with the
// terminal's control sequences removed; Ctrl-C is typed into the terminal, which signals the
// foreground process as a real one does.
import { spawn, type ChildProcess } from 'node:child_process';
import { stripVTControlCharacters } from 'node:util';
import { pollUntil } from './poll-until.ts';

export interface RecordedProcess {
  readonly child: ChildProcess;
  /** Everything written so far (stdout; for a terminal, stdout and stderr together), as plain text lines. */
  output(): string;
  stderr(): string;
  /** Resolves with the first match of pattern in the output. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Ctrl-C on a terminal; SIGINT otherwise. */
  interrupt(): void;
  readonly exited: Promise<number | null>;
}

const quote = (arg: string) => `'${arg.replace(/'/g, `'\\''`)}'`;

function record(child: ChildProcess, interrupt: () => void): RecordedProcess {
  let out = '';
  let stderrText = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderrText += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  // A line redrawn in place (carriage returns) counts as what it shows last.
  const output = () => stripVTControlCharacters(out.replace(/\r\n/g, '\n')).split('\n').map((l) => l.slice(l.lastIndexOf('\r') + 1)).join('\n');
  return {
    child,
    output,
    stderr: () => stderrText,
    waitFor: (pattern, timeoutMs = 60_000) => {
      const found = pollUntil(`${pattern} in the output`, () => pattern.exec(output()), { timeoutMs });
      // A process that has exited prints nothing more: fail at once rather than at the timeout.
      const gone = exited.then(async (code) => (await pollUntil('the last output', () => pattern.exec(output()), { timeoutMs: 200 })
        .catch(() => Promise.reject(new Error(`the process exited (code ${code}) before printing ${pattern}`)))));
      // Whichever loses may still settle later; that is not an unhandled failure.
      found.catch(() => {});
      gone.catch(() => {});
      return Promise.race([found, gone]).catch((err: Error) => {
        throw new Error(`${err.message}; the output ends with:\n${output().slice(-3000)}\nstderr:\n${stderrText.slice(-2000)}`);
      });
    },
    interrupt,
    exited,
  };
}

/** argv under a pseudo-terminal of the given width; the environment is passed on as given. */
export function spawnInTerminal(argv: string[], opts: { env: NodeJS.ProcessEnv; cwd?: string; columns?: number }): RecordedProcess {
  // No echo: the terminal would otherwise print the typed Ctrl-C as "^C" into the output.
  const command = `stty cols ${opts.columns ?? 120} rows 40 -echo; exec ${argv.map(quote).join(' ')}`;
  const child = spawn('script', ['-qfec', command, '/dev/null'], { env: opts.env, cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  return record(child, () => child.stdin!.write('\x03'));
}

/** argv with stdout and stderr as pipes (not a terminal). */
export function spawnPiped(argv: string[], opts: { env: NodeJS.ProcessEnv; cwd?: string }): RecordedProcess {
  const child = spawn(argv[0]!, argv.slice(1), { env: opts.env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  return record(child, () => child.kill('SIGINT'));
}
