// How JSON log lines reach their file (stdout by default): each line by its own write(2) before the
// logging call returns ('sync'), or queued and written together, at most a short delay after the
// first of them ('async', BatchedWrites). Either way the write itself is synchronous, so a line is
// never half-written when the process exits, and the queue is written when it does.
import { openSync, writeSync } from 'node:fs';
import { pino, type DestinationStream } from 'pino';

/** async: lines queued and written together, at most --log-flush-delay ms after the first; sync: one write(2) per line, before the call returns. */
export type LogWrites = 'async' | 'sync';
export const logWriteModes: readonly LogWrites[] = ['async', 'sync'];

/**
 * How long the first queued line may wait for others before the queue is written, in ms (0: until
 * the end of its turn of the event loop). With one request per turn (sequential clients, or a
 * gateway that is not busy) a flush per turn was one write(2) per request, about 5–9 µs of CPU;
 * 5 ms gathers the lines of tens of requests into one write at the cost of lines reaching the log
 * up to 5 ms later (see BENCHMARKS.md for the curve).
 */
export const defaultLogFlushDelayMs = 5;

/**
 * Where JSON lines go: a file descriptor (1: stdout) or a file. sync: sonic-boom's synchronous
 * destination, one write(2) per line, before the logging call returns. async (BatchedWrites):
 * lines are queued and written together `flushDelayMs` after the first of them (or at the end of
 * its turn of the event loop when 0, or at once when 8 KiB are queued), so a burst, or the lines of
 * many requests a few ms apart, cost one write(2); still synchronously (FileWrites), so nothing is
 * ever half-written when the process exits, where the queue is written (process.exit, the end of
 * the event loop, an uncaught error). Not sonic-boom's own asynchronous mode: its write runs on
 * libuv's thread pool, and a write under way (or waiting to retry on a full pipe: stdout becomes
 * non-blocking once process.stdout is used) when the process exits is neither finished nor
 * rewritten by its flushSync, so lines were lost or reordered.
 */
export function logDestination(dest: number | string, writes: LogWrites, flushDelayMs: number = defaultLogFlushDelayMs): DestinationStream {
  if (writes === 'sync') return pino.destination({ dest, sync: true, minLength: 0 });
  return new BatchedWrites(new FileWrites(dest), flushAfter(flushDelayMs));
}

/**
 * The scheduler of a BatchedWrites: the end of the current turn (0), or one timer of `ms`, made once
 * and re-armed for each batch (no timer object per batch); unref'd, so a queue never keeps the
 * process alive (the exit hook writes it). It always calls the same `flush`: the one it was first given.
 */
export function flushAfter(ms: number): (flush: () => void) => void {
  if (ms === 0) return setImmediate;
  let timer: NodeJS.Timeout | undefined;
  return (flush) => {
    if (timer) timer.refresh();
    else timer = setTimeout(flush, ms).unref();
  };
}

/** Queued characters written at once rather than when the flush is due. */
const batchChars = 8192;

/** Lines queued and written by one synchronous write per batch (see logDestination). */
export class BatchedWrites implements DestinationStream {
  private readonly file: DestinationStream;
  private readonly schedule: (flush: () => void) => void;
  private queued = '';
  private scheduled = false;
  private readonly flushScheduled = () => {
    this.scheduled = false;
    this.flushSync();
  };

  constructor(file: DestinationStream, schedule: (flush: () => void) => void) {
    this.file = file;
    this.schedule = schedule;
    for (const ref of pendingAtExit) if (!ref.deref()) pendingAtExit.delete(ref);
    pendingAtExit.add(new WeakRef(this));
  }

  write(line: string): boolean {
    this.queued += line;
    if (this.queued.length >= batchChars) this.flushSync();
    else if (!this.scheduled) {
      this.scheduled = true;
      this.schedule(this.flushScheduled);
    }
    return true;
  }

  /** Writes what is queued now (pino's logger.flush calls it too). */
  flush(cb?: (err?: Error) => void): void {
    this.flushSync();
    cb?.();
  }

  flushSync(): void {
    if (this.queued === '') return;
    const lines = this.queued;
    this.queued = '';
    this.file.write(lines);
  }
}

/** The batched destinations, whose queues are written when the process exits. */
const pendingAtExit = new Set<WeakRef<BatchedWrites>>();
process.on('exit', () => {
  for (const ref of pendingAtExit) ref.deref()?.flushSync();
});

/**
 * Text written to a file descriptor with synchronous writes, the whole of it before write returns.
 * What sonic-boom's synchronous mode does for one write, without its copies: the string is encoded
 * once, into a buffer kept for every write (sonic-boom turned every written string into a new
 * Buffer, and measured it twice). When the file is a non-blocking pipe that is full (a slow reader), write(2) fails with
 * EAGAIN or writes part: the rest is written once the reader has made room, waiting a millisecond
 * at a time, as a synchronous write would block. When the reader has gone (EPIPE), lines are
 * dropped from then on and the process goes on, as with pino's own destination. Any other error
 * is thrown, as sonic-boom's was.
 */
export class FileWrites implements DestinationStream {
  readonly fd: number;
  private broken = false;
  /** Where a batch is encoded: a batch is written at about 8 KiB (batchChars) and one line rarely adds much. */
  private readonly encoded = Buffer.allocUnsafe(encodedBytes);

  /** A file descriptor, or a file opened for appending (created when missing). */
  constructor(dest: number | string) {
    this.fd = typeof dest === 'number' ? dest : openSync(dest, 'a');
  }

  write(text: string): boolean {
    if (this.broken) return true;
    // A batch is encoded once, into a buffer kept for every write: written as a string, write(2)
    // encoded it and the check for a partial write measured its UTF-8 length a second time (about
    // a third of a request line's cost of writing). A text that might not fit goes as a string.
    if (text.length * maxUtf8BytesPerUnit > this.encoded.length) return this.writeText(text);
    const bytes = this.encoded.write(text, 0);
    let written = 0;
    try {
      written = writeSync(this.fd, this.encoded, 0, bytes);
    } catch (err) {
      if (!isBusy(err)) return this.failed(err);
    }
    // A part was written (which may end inside a character): the rest, from the same bytes.
    if (written < bytes) this.writeRest(this.encoded.subarray(written, bytes));
    return true;
  }

  private writeText(text: string): boolean {
    let written = 0;
    try {
      written = writeSync(this.fd, text);
    } catch (err) {
      if (!isBusy(err)) return this.failed(err);
    }
    if (written >= text.length && written === Buffer.byteLength(text)) return true;
    // A part was written (counted in bytes, which may end inside a character): the rest as bytes.
    this.writeRest(Buffer.from(text).subarray(written));
    return true;
  }

  private writeRest(rest: Buffer): void {
    while (rest.length > 0) {
      try {
        rest = rest.subarray(writeSync(this.fd, rest));
      } catch (err) {
        if (!isBusy(err)) {
          this.failed(err);
          return;
        }
        Atomics.wait(sleeper, 0, 0, busyWaitMs);
      }
    }
  }

  /** A reader that has gone stops the lines; any other failure is thrown. */
  private failed(err: unknown): true {
    if ((err as NodeJS.ErrnoException).code !== 'EPIPE') throw err;
    this.broken = true;
    return true;
  }
}

/** A full non-blocking pipe (or a busy device): the write is retried after busyWaitMs. */
function isBusy(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'EAGAIN' || code === 'EBUSY';
}

const busyWaitMs = 1;
/** UTF-8 takes at most 3 bytes per UTF-16 code unit (4 for a surrogate pair, which is two units). */
const maxUtf8BytesPerUnit = 3;
const encodedBytes = 64 * 1024;
const sleeper = new Int32Array(new SharedArrayBuffer(4));
