// JSON log lines written in batches (logDestination 'async', the default on stdout): a burst of
// lines leaves complete, in order and in one write per 8 KiB; a single line leaves the flush delay
// after it (at the end of its turn of the event loop with a delay of 0) without a flush; lines that
// keep coming still leave every flush delay; no line is lost when the process exits after a
// SIGTERM, through process.exit, on a fatal error or at the end of its event loop, with stdout a
// pipe the parent reads, nor when that pipe is full because the parent reads slowly; a reader that
// goes away stops the lines, not the process. 'sync' writes each line before the call returns.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import type { DestinationStream } from 'pino';
import { createLogger } from '../../src/logging.ts';
import { BatchedWrites, defaultLogFlushDelayMs, FileWrites, flushAfter, logDestination } from '../../src/log-writes.ts';

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
  // A delay of 0, on a real file: written once the current turn has ended.
  const path = tempFile(t);
  const real = createLogger({ destination: logDestination(path, 'async', 0) });
  real.info({ i: 3 }, 'lonely');
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(linesOf(path).map((l) => l.i), [3]);
});

test('with a flush delay, a line at low traffic is written that long after it, not at the end of its turn', async (t) => {
  const path = tempFile(t);
  const log = createLogger({ destination: logDestination(path, 'async', 20) });
  const start = performance.now();
  log.info({ i: 1 }, 'lonely');
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(linesOf(path), [], 'still queued after its turn');
  while (linesOf(path).length === 0 && performance.now() - start < 5000) await new Promise((resolve) => setTimeout(resolve, 2));
  assert.deepEqual(linesOf(path).map((l) => l.i), [1]);
  assert.ok(performance.now() - start >= 19, 'not before the delay');
});

test('lines that keep coming are written every flush delay, not once they stop', async () => {
  const file = recorder();
  const log = createLogger({ destination: new BatchedWrites(file.destination, flushAfter(15)) });
  // A line every 2 ms for 150 ms: a delay that each line pushed back would write once, at the end.
  let i = 0;
  const start = performance.now();
  while (performance.now() - start < 150) {
    log.info({ i: i++ }, 'steady');
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  const writesWhileComing = file.writes.length;
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.ok(writesWhileComing >= 3, `${writesWhileComing} writes while lines came`);
  assert.ok(file.writes.length < i, `${file.writes.length} writes for ${i} lines: batched`);
  const lines = file.writes.join('').trimEnd().split('\n').map((l) => JSON.parse(l) as { i: number });
  assert.deepEqual(lines.map((l) => l.i), [...Array(i).keys()]);
});

test('a file gets every byte of each text, whatever its characters and size, written at once or not', (t) => {
  const file = tempFile(t);
  const out = new FileWrites(file);
  // Texts around the size that is encoded into the buffer kept for writes (64 KiB at up to 3 bytes
  // a unit): one-byte, two-byte and three-byte characters, surrogate pairs, a lone surrogate.
  const texts = [
    'plain\n', 'é'.repeat(21_845) + '\n', '€'.repeat(21_845), '€'.repeat(21_846) + '\n', 'a'.repeat(70_000) + '\n',
    '😀'.repeat(10_922) + '\n', `${'x'.repeat(21_000)}\ud800\n`, '{"level":"info","msg":"last"}\n',
  ];
  for (const text of texts) out.write(text);
  const expected = texts.map((text) => Buffer.from(text)).reduce((a, b) => Buffer.concat([a, b]));
  assert.ok(readFileSync(file).equals(expected));
});

test('sync: each line is in the file when the logging call returns', (t) => {
  const file = tempFile(t);
  const log = createLogger({ destination: logDestination(file, 'sync') });
  log.info({ i: 1 }, 'at once');
  assert.deepEqual(linesOf(file).map((l) => l.i), [1]);
});

const loggingModule = new URL('../../src/logging.ts', import.meta.url).href;

type Ending = 'sigterm' | 'exit' | 'throw' | 'reject' | 'end';

/**
 * A child process that logs `burst` lines to stdout with the gateway's default logger (or with the
 * given flush delay), lets a write start (one turn of the event loop), logs another burst, then
 * ends as `how` says; its stdout.
 */
async function childLog(how: Ending, flushDelayMs?: number, burst = 20_000): Promise<{ lines: Record<string, unknown>[]; code: number | null; stderr: string }> {
  const ending = {
    // As `crdgate serve` does: a line from the signal handler, then process.exit (bin/crdgate.js).
    sigterm: `process.once('SIGTERM', () => { log.info({ i: 2 * n }, 'stopped'); process.exit(0); }); process.stdout.write('');
      setInterval(() => {}, 1000); process.send('ready');`,
    // Not logger.fatal, which pino follows with a synchronous flush of its own: an error line, as
    // a failure while stopping logs before process.exit(1).
    exit: 'log.error({ i: 2 * n }, "last"); process.exit(1);',
    throw: 'log.error({ i: 2 * n }, "last"); throw new Error("boom");',
    reject: 'log.error({ i: 2 * n }, "last"); void Promise.reject(new Error("boom"));',
    // Nothing left to do: the flush timer must neither keep the process alive nor lose the line.
    end: 'log.error({ i: 2 * n }, "last"); process.channel?.unref();',
  }[how];
  const code = `import { createLogger } from ${JSON.stringify(loggingModule)};
    const log = createLogger(${flushDelayMs === undefined ? '' : `{ flushDelayMs: ${flushDelayMs} }`}); const n = ${burst};
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

for (const flushDelayMs of [undefined, 0]) {
  for (const how of ['sigterm', 'exit', 'throw', 'reject', 'end'] as const) {
    const delay = flushDelayMs ?? `${defaultLogFlushDelayMs} (the default)`;
    test(`every line, the last included, is written when the process ends (${how}, flush delay ${delay} ms)`, async () => {
      const burst = 20_000;
      const { lines, code, stderr } = await childLog(how, flushDelayMs, burst);
      assert.equal(code, how === 'sigterm' || how === 'end' ? 0 : 1, stderr);
      assert.equal(lines.length, 2 * burst + 1, stderr);
      lines.forEach((l, i) => assert.equal(l.i, i));
      assert.equal(lines.at(-1)!.msg, how === 'sigterm' ? 'stopped' : 'last');
    });
  }
}

/** Reads its stdin a chunk every 5 ms (far slower than the writer writes) and passes it on. */
const slowReader = `process.stdin.on('data', (d) => {
  process.stdout.write(d); process.stdin.pause(); setTimeout(() => process.stdin.resume(), 5);
});`;

/**
 * A child that logs 20,000 lines of multi-byte characters in bursts to stdout, read slowly: a
 * pipe to a second process (`pipe`, as a container runtime or a log shipper reads stdout) or the
 * socket Node's spawn gives a child (`socket`). It counts the writes that found stdout full
 * (EAGAIN) or took part of a batch, to show the test went through them: fs.writeSync is wrapped
 * before the logger is loaded.
 */
async function slowlyReadChild(stdout: 'pipe' | 'socket'): Promise<{ text: string; seen: { busy: number; partial: number }; stderr: string }> {
  const code = `import fs from 'node:fs'; import { syncBuiltinESMExports } from 'node:module';
    const write = fs.writeSync; const seen = { busy: 0, partial: 0 };
    fs.writeSync = (fd, data, ...rest) => {
      try {
        const n = write(fd, data, ...rest);
        if (fd === 1 && n < Buffer.byteLength(data)) seen.partial++;
        return n;
      } catch (err) { if (err.code === 'EAGAIN') seen.busy++; throw err; }
    };
    syncBuiltinESMExports();
    const { createLogger } = await import(${JSON.stringify(loggingModule)});
    const log = createLogger(); process.stdout.write('');
    const pad = 'é'.repeat(50);
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 1000; i++) log.info({ i: round * 1000 + i, pad }, 'line');
      await new Promise((r) => setTimeout(r, 1));
    }
    log.info({ i: 20000 }, 'last');
    process.on('exit', () => process.stderr.write(JSON.stringify(seen)));`;
  const writer = [process.execPath, '--disable-warning=ExperimentalWarning', '--input-type=module', '-e', code];
  const child = stdout === 'socket' ? spawn(writer[0]!, writer.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn('sh', ['-c', '"$0" "$1" "$2" "$3" "$4" | "$0" -e "$5"', ...writer, slowReader], { stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    text += d;
    if (stdout === 'pipe') return;
    child.stdout!.pause();
    setTimeout(() => child.stdout!.resume(), 5);
  });
  await once(child, 'close');
  return { text, seen: JSON.parse(stderr) as { busy: number; partial: number }, stderr };
}

for (const stdout of ['pipe', 'socket'] as const) {
  test(`a full stdout (${stdout}, read slowly) delays lines but loses, splits and reorders none`, async () => {
    const { text, seen, stderr } = await slowlyReadChild(stdout);
    assert.ok(seen.busy > 0, `stdout was full at least once: ${stderr}`);
    // A socket takes a write whole or not at all; a pipe takes what fits.
    if (stdout === 'pipe') assert.ok(seen.partial > 0, `a write was taken in part at least once: ${stderr}`);
    const lines = text.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(lines.length, 20_001);
    lines.forEach((l, i) => assert.equal(l.i, i));
    assert.equal(lines.at(-1)!.msg, 'last');
    assert.ok(lines.slice(0, -1).every((l) => l.pad === 'é'.repeat(50)), 'multi-byte characters intact');
  });
}

test('a reader that closes stdout (EPIPE) stops the log lines, not the process', async () => {
  // As with pino's own destination: once the pipe is broken, lines are dropped and the gateway goes on.
  const code = `import { createLogger } from ${JSON.stringify(loggingModule)};
    const log = createLogger();
    // Node's own stdout stream reports the broken pipe too: not what this test is about.
    process.stdout.on('error', () => {}); process.stdout.write('');
    await new Promise((r) => process.stdin.once('data', r));
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 1000; i++) log.info({ i }, 'line');
      await new Promise((r) => setTimeout(r, 10));
    }
    process.stderr.write('still running');`;
  const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', '--input-type=module', '-e', code], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdout!.destroy();
  child.stdin!.end('go\n');
  const [exitCode] = await once(child, 'close') as [number | null];
  assert.equal(exitCode, 0, stderr);
  assert.match(stderr, /still running$/);
});
