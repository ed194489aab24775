// A push stream with flow control in bytes. The watch hub pushes each event synchronously into
// the sink of every subscriber it matches, and the sink writes it to that subscriber's connection
// at once: no promise per event and per subscriber. The sink reports how many bytes its
// connection still holds, so the producer can page large backlogs (wait for a drain) and give up
// on a reader that stops reading.

export interface FeedSink<T> {
  /** One value, in order. Must not throw. */
  next(value: T): void;
  /** The feed is over: normally (no error) or with the error that ended it. Called once; nothing follows. */
  end(error?: unknown): void;
  /** Bytes handed to the reader's connection and not yet sent. */
  buffered(): number;
  /** Calls fn once, when the connection has sent what it buffered or has closed. */
  onDrain(fn: () => void): void;
}

export interface Feed<T> {
  /** Starts delivery into sink. At most once. */
  start(sink: FeedSink<T>): void;
  /** The reader went away: the feed stops and calls nothing on its sink any more. Idempotent. */
  cancel(): void;
  /** Ends the feed with an error: the sink's end gets it. Idempotent (the first end wins). */
  fail(error: unknown): void;
  /** fn runs once when the feed is over, however it ended; at once when it already is. */
  onClose(fn: () => void): void;
}

/**
 * A feed over before it starts: its reader gets `error` as its end once it starts it. Like a feed
 * failed before its start, it counts as closed at once (onClose runs at once).
 */
export function failedFeed<T>(error: unknown): Feed<T> {
  let started = false;
  let cancelled = false;
  return {
    start(sink) {
      if (started) throw new Error('a feed starts once');
      started = true;
      if (!cancelled) sink.end(error);
    },
    cancel: () => (cancelled = true),
    fail() {},
    onClose: (fn) => fn(),
  };
}

/** The feed with each value mapped; values mapped to undefined are dropped. A throwing map fails the feed. */
export function mapFeed<T, U>(feed: Feed<T>, map: (value: T) => U | undefined): Feed<U> {
  return {
    start(sink) {
      feed.start({
        next(value) {
          let mapped: U | undefined;
          try {
            mapped = map(value);
          } catch (err) {
            feed.fail(err);
            return;
          }
          if (mapped !== undefined) sink.next(mapped);
        },
        end: (error) => sink.end(error),
        buffered: () => sink.buffered(),
        onDrain: (fn) => sink.onDrain(fn),
      });
    },
    cancel: () => feed.cancel(),
    fail: (error) => feed.fail(error),
    onClose: (fn) => feed.onClose(fn),
  };
}

/** Where an async iterable made by feedIterable keeps its feed, for readers that can take pushes. */
export const feedOf: unique symbol = Symbol('crdgate.feed');

export type FeedIterable<T> = AsyncIterableIterator<T> & { readonly [feedOf]: Feed<T> };

export interface FeedIterableOptions<T> {
  /** Bytes a queued value counts for (default 1 KiB): the feed sees the queue as a connection's buffer. */
  sizeOf?(value: T): number;
}

/**
 * A feed as an async iterator, for readers that pull (graphql-js, tests). The feed starts on the
 * first next(); values wait in a queue that the feed sees as buffered bytes, so a reader that
 * stops pulling is treated like a connection that stops reading. return() cancels the feed at
 * once, even while a next() is pending.
 */
export function feedIterable<T>(feed: Feed<T>, opts: FeedIterableOptions<T> = {}): FeedIterable<T> {
  const sizeOf = opts.sizeOf ?? (() => 1024);
  const queue: T[] = [];
  let queuedBytes = 0;
  let started = false;
  let finished = false;
  let failure: { error: unknown } | undefined;
  let waiter: { resolve(r: IteratorResult<T>): void; reject(err: unknown): void } | undefined;
  let drained: (() => void)[] = [];
  const settle = () => {
    const w = waiter;
    if (!w) return;
    if (queue.length) {
      waiter = undefined;
      w.resolve({ value: take(), done: false });
    } else if (finished) {
      waiter = undefined;
      if (failure) {
        const { error } = failure;
        failure = undefined;
        w.reject(error);
      } else w.resolve({ value: undefined, done: true });
    }
  };
  const take = (): T => {
    const value = queue.shift()!;
    queuedBytes -= sizeOf(value);
    if (!queue.length) {
      const fns = drained;
      drained = [];
      for (const fn of fns) fn();
    }
    return value;
  };
  const sink: FeedSink<T> = {
    next(value) {
      if (finished) return;
      queue.push(value);
      queuedBytes += sizeOf(value);
      settle();
    },
    end(error) {
      if (finished) return;
      finished = true;
      if (error !== undefined) failure = { error };
      settle();
      const fns = drained;
      drained = [];
      for (const fn of fns) fn();
    },
    buffered: () => queuedBytes,
    onDrain(fn) {
      if (finished || !queue.length) queueMicrotask(fn);
      else drained.push(fn);
    },
  };
  const stop = () => {
    if (!finished) {
      finished = true;
      feed.cancel();
    }
    queue.length = 0;
    queuedBytes = 0;
    failure = undefined;
    settle();
  };
  return {
    [feedOf]: feed,
    [Symbol.asyncIterator]() {
      return this;
    },
    next() {
      if (!started) {
        started = true;
        feed.start(sink);
        // A feed closed from elsewhere (its signal) without an end ends the iteration too.
        feed.onClose(() => sink.end());
      }
      return new Promise<IteratorResult<T>>((resolve, reject) => {
        if (waiter) {
          reject(new Error('next() called while another next() is pending'));
          return;
        }
        waiter = { resolve, reject };
        settle();
      });
    },
    return() {
      stop();
      return Promise.resolve({ value: undefined, done: true });
    },
    throw(error?: unknown) {
      stop();
      return Promise.reject(error);
    },
  };
}

/** The feed behind an async iterable made by feedIterable, if there is one. */
export function feedBehind<T>(iterable: unknown): Feed<T> | undefined {
  if (typeof iterable !== 'object' || iterable === null) return undefined;
  return (iterable as { [feedOf]?: Feed<T> })[feedOf];
}

/**
 * A feed over a producer that pushes: run gets an emit function and a signal, and resolves when
 * its source ends (rejects with the error that ended it). emit returns a promise while the
 * reader's connection holds a page or more, and run waits for it: the source is slowed, not
 * buffered.
 */
export function feedFrom<T>(run: (emit: (value: T) => void | Promise<void>, signal: AbortSignal) => Promise<void>, pageBytes = 1 << 20): Feed<T> {
  const controller = new AbortController();
  let sink: FeedSink<T> | undefined;
  let over = false;
  let closeFns: (() => void)[] = [];
  const finish = (error: unknown, notify: boolean) => {
    if (over) return;
    over = true;
    controller.abort();
    if (notify) sink?.end(error);
    const fns = closeFns;
    closeFns = [];
    for (const fn of fns) fn();
  };
  return {
    start(s) {
      if (sink) throw new Error('a feed starts once');
      sink = s;
      if (over) return;
      const emit = (value: T): void | Promise<void> => {
        if (over) return;
        s.next(value);
        if (s.buffered() >= pageBytes) return new Promise<void>((resolve) => s.onDrain(resolve));
      };
      run(emit, controller.signal).then(() => finish(undefined, true), (err: unknown) => finish(err, true));
    },
    cancel: () => finish(undefined, false),
    fail: (error) => finish(error, true),
    onClose(fn) {
      if (over) fn();
      else closeFns.push(fn);
    },
  };
}
