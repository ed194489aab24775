// JSON log lines written in batches (logDestination 'async', the default on stdout): a burst of
// lines leaves complete, in order and in one write per 8 KiB; a single line leaves at the end of
// its turn of the event loop without a flush; and no line is lost when the process exits after a
// SIGTERM, through process.exit or on a fatal error, with stdout a pipe the parent reads. 'sync'
// writes each line before the call returns.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import type { DestinationStream } from 'pino';
import { BatchedWrites, createLogger, logDestination } from '../../src/logging.ts';

function tempFile(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'crdgate-log-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'log');
}

function linesOf(file: string): Record<string, unknown>[] {
  return readFileSync(file, 'utf8').trimEnd().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** A destination that records each write it is given (each would be one write(2) of a file). */
function recorder(): { destination: DestinationStream; writes: string[] } {
  const writes: string[] = [];
  return { destination: { write: (s: string) => void writes.push(s) }, writes };
}

/** A scheduler the test runs by hand. */
function manualSchedule(): { schedule: (fn: () => void) => void; pending: (() => void)[] } {
  const pending: (() => void)[] = [];
  return { schedule: (fn) => void pending.push(fn), pending };
}

test('a burst of lines arrives complete and in order, in one write per 8 KiB instead of one per line', () => {
  const file = recorder();
  const clock = manualSchedule();
  const log = createLogger({ destination: new BatchedWrites(file.destination, clock.schedule) });
  const n = 1000;
  for (let i = 0; i < n; i++) log.info({ i }, 'line');
  assert.equal(clock.pending.length, 1, 'one flush scheduled for the whole burst');
  clock.pending.shift()!();
  const text = file.writes.join('');
  const lines = text.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(lines.length, n);
  lines.forEach((l, i) => assert.equal(l.i, i));
  assert.ok(file.writes.length <= Math.ceil(text.length / 8192), `${file.writes.length} writes of ${text.length} characters`);
  assert.ok(file.writes.slice(0, -1).every((w) => w.length >= 8192), 'only the last write is under 8 KiB');
  assert.ok(file.writes.every((w) => w.endsWith('\n')), 'every write ends with a whole line');
});

test('a line at low traffic is written when its turn of the event loop ends, without a flush', async (t) => {
  const file = recorder();
  const clock = manualSchedule();
  const log = createLogger({ destination: new BatchedWrites(file.destination, clock.schedule) });
  for (const i of [1, 2]) {
    log.info({ i }, 'lonely');
    assert.equal(file.writes.length, i - 1, 'queued, not yet written');
    assert.equal(clock.pending.length, 1);
    clock.pending.shift()!();
    assert.equal(file.writes.length, i);
    assert.equal((JSON.parse(file.writes[i - 1]!) as { i: number }).i, i);
  }
  // The default scheduler, on a real file: written once the current turn has ended.
  const path = tempFile(t);
  const real = createLogger({ destination: logDestination(path, 'async') });
  real.info({ i: 3 }, 'lonely');
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(linesOf(path).map((l) => l.i), [3]);
});

test('sync: each line is in the file when the logging call returns', (t) => {
  const file = tempFile(t);
  const log = createLogger({ destination: logDestination(file, 'sync') });
  log.info({ i: 1 }, 'at once');
  assert.deepEqual(linesOf(file).map((l) => l.i), [1]);
});

const loggingModule = new URL('../../src/logging.ts', import.meta.url).href;

/**
 * A child process that logs `burst` lines to stdout with the gateway's default logger, lets a write
 * start (one turn of the event loop), logs another burst, then ends as `how` says; its stdout.
 */
async function childLog(how: 'sigterm' | 'exit' | 'throw' | 'reject', burst = 20_000): Promise<{ lines: Record<string, unknown>[]; code: number | null; stderr: string }> {
  const ending = {
    // As `crdgate serve` does: a line from the signal handler, then process.exit (bin/crdgate.js).
    sigterm: `process.once('SIGTERM', () => { log.info({ i: 2 * n }, 'stopped'); process.exit(0); }); process.stdout.write('');
      setInterval(() => {}, 1000); process.send('ready');`,
    // Not logger.fatal, which pino follows with a synchronous flush of its own: an error line, as
    // a failure while stopping logs before process.exit(1).
    exit: 'log.error({ i: 2 * n }, "last"); process.exit(1);',
    throw: 'log.error({ i: 2 * n }, "last"); throw new Error("boom");',
    reject: 'log.error({ i: 2 * n }, "last"); void Promise.reject(new Error("boom"));',
  }[how];
  const code = `import { createLogger } from ${JSON.stringify(loggingModule)};
    const log = createLogger(); const n = ${burst};
    for (let i = 0; i < n; i++) log.info({ i }, 'line');
    await new Promise((r) => setImmediate(r));
    for (let i = n; i < 2 * n; i++) log.info({ i }, 'line');
    ${ending}`;
  const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', '--input-type=module', '-e', code], {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  if (how === 'sigterm') {
    await once(child, 'message');
    child.kill('SIGTERM');
  }
  // 'close': the process has exited and its stdout has ended.
  const [exitCode] = await once(child, 'close') as [number | null];
  return { lines: stdout.trimEnd().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>), code: exitCode, stderr };
}

for (const how of ['sigterm', 'exit', 'throw', 'reject'] as const) {
  test(`every line, the last included, is written when the process ends (${how})`, async () => {
    const burst = 20_000;
    const { lines, code, stderr } = await childLog(how, burst);
    assert.equal(code, how === 'sigterm' ? 0 : 1, stderr);
    assert.equal(lines.length, 2 * burst + 1, stderr);
    lines.forEach((l, i) => assert.equal(l.i, i));
    assert.equal(lines.at(-1)!.msg, how === 'sigterm' ? 'stopped' : 'last');
  });
}
