// A reflector in the sense of client-go's tools/cache: keep a local copy of one collection in
// sync with the apiserver by listing once, then watching from the list's resourceVersion.
//   - bookmarks advance the resourceVersion, so a re-watch after a timeout does not replay;
//   - the watch uses a randomized server-side timeout (5-10 min) so many reflectors do not
//     reconnect in lock-step;
//   - 410 Gone (the resourceVersion was compacted) relists and emits the difference between the
//     old store and the new list as synthetic ADDED/MODIFIED/DELETED events, so consumers stay
//     correct without seeing the events they missed;
//   - any other failure retries with exponential backoff and jitter (0.8 s up to 30 s), reset
//     after the connection has been healthy for a while.
// List, watch and the clock are injected, so all of this is unit-tested without sleeping.
import { KubeApiError, type WatchEvent } from './kube-client.ts';

export interface Clock {
  now(): number;
  /** Resolves after ms, or as soon as the signal aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
  random(): number;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
      function done() {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      }
    }),
  random: Math.random,
};

export interface ListResult<T> {
  items: T[];
  resourceVersion: string;
}

export interface ListWatchSource<T> {
  list(signal: AbortSignal): Promise<ListResult<T>>;
  /**
   * Resolves when the server ends the watch normally; rejects on any error (410 as KubeApiError).
   * Calls onOpen once the server has accepted the watch.
   */
  watch(resourceVersion: string, timeoutSeconds: number, onEvent: (e: WatchEvent<T>, bytes?: number) => void, signal: AbortSignal, onOpen?: () => void): Promise<void>;
}

/**
 * A change of the store. `previous` is the object the store held for the key before (absent for
 * ADDED); `bytes` the size of the event's JSON when it came off a watch.
 */
export type ReflectorEvent<T> =
  | { type: 'ADDED' | 'MODIFIED'; object: T; previous?: T; synthetic: boolean; bytes?: number }
  | { type: 'DELETED'; object: T; previous?: T; synthetic: boolean; bytes?: number };

export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
  factor: number;
  /** Each delay grows by up to this fraction of itself, at random. */
  jitter: number;
  /** A connection healthy this long resets the backoff. */
  resetAfterMs: number;
}

export const defaultBackoff: BackoffPolicy = { initialMs: 800, maxMs: 30_000, factor: 2, jitter: 1, resetAfterMs: 120_000 };

export interface ReflectorOptions<T> {
  source: ListWatchSource<T>;
  keyOf(obj: T): string;
  resourceVersionOf(obj: T): string | undefined;
  onEvent?(e: ReflectorEvent<T>): void;
  /** After every successful (re)list, once its events have been emitted. */
  onSynced?(): void;
  /** A bookmark moved the resourceVersion forward. */
  onBookmark?(resourceVersion: string): void;
  /** A list succeeded or a watch was accepted: the apiserver answers again. */
  onConnected?(): void;
  onError?(err: unknown, retryInMs: number): void;
  clock?: Clock;
  backoff?: BackoffPolicy;
  /** Server-side watch timeout, chosen uniformly in [min, max] seconds for each watch. */
  watchTimeoutSeconds?: [number, number];
}

export function isGone(err: unknown): boolean {
  return err instanceof KubeApiError && (err.status.code === 410 || err.reason === 'Expired' || err.reason === 'Gone');
}

export class Reflector<T> {
  private readonly opts: ReflectorOptions<T>;
  private readonly clock: Clock;
  private readonly backoff: BackoffPolicy;
  private readonly items = new Map<string, T>();
  private controller = new AbortController();
  private loop: Promise<void> | undefined;
  private rv = '';
  private synced = false;
  private failures = 0;
  private connected = false;
  private lastError: unknown;
  /** Counters for tests and metrics. */
  readonly stats = { lists: 0, watches: 0, relistsAfterGone: 0, errors: 0 };

  constructor(opts: ReflectorOptions<T>) {
    this.opts = opts;
    this.clock = opts.clock ?? systemClock;
    this.backoff = opts.backoff ?? defaultBackoff;
  }

  get resourceVersion(): string {
    return this.rv;
  }

  get hasSynced(): boolean {
    return this.synced;
  }

  /** Synced, and the last list or watch attempt reached the apiserver; false while retrying. */
  get healthy(): boolean {
    return this.synced && this.connected;
  }

  get error(): unknown {
    return this.lastError;
  }

  /** The current objects. The map is live: copy it to keep a snapshot. */
  get store(): ReadonlyMap<string, T> {
    return this.items;
  }

  start(): void {
    if (this.loop) return;
    this.controller = new AbortController();
    this.loop = this.run(this.controller.signal);
  }

  async stop(): Promise<void> {
    this.controller.abort();
    await this.loop;
    this.loop = undefined;
  }

  private async run(signal: AbortSignal): Promise<void> {
    let needList = true;
    let healthySince = this.clock.now();
    while (!signal.aborted) {
      try {
        if (needList) {
          this.stats.lists++;
          const list = await this.opts.source.list(signal);
          if (signal.aborted) return;
          // The new resourceVersion is set first: consumers of the synthetic events a relist
          // emits read it as the point in the stream those events stand for.
          this.rv = list.resourceVersion;
          this.replace(list.items);
          needList = false;
          this.synced = true;
          this.connected = true;
          this.lastError = undefined;
          healthySince = this.clock.now();
          this.opts.onConnected?.();
          this.opts.onSynced?.();
        }
        const [min, max] = this.opts.watchTimeoutSeconds ?? [300, 600];
        const timeout = Math.floor(min + this.clock.random() * (max - min));
        this.stats.watches++;
        const watchStarted = this.clock.now();
        let received = 0;
        await this.opts.source.watch(this.rv, timeout, (e, bytes) => {
          received++;
          this.apply(e, bytes);
        }, signal, () => {
          this.connected = true;
          this.lastError = undefined;
          this.opts.onConnected?.();
        });
        if (signal.aborted) return;
        if (received === 0 && this.clock.now() - watchStarted < 1000) {
          // A server that closes watches at once would otherwise make this loop spin; it is a
          // failure like any other (logged, and counted against the consumer's bound).
          // The apiserver answered (still connected, as readiness reads it).
          this.failures++;
          const delay = this.delay(this.failures);
          this.opts.onError?.(new KubeApiError(0, { code: 0, reason: 'InternalError', message: 'the watch closed at once, without an event' }), delay);
          await this.clock.sleep(delay, signal);
          continue;
        }
        this.failures = 0;
      } catch (err) {
        if (signal.aborted) return;
        this.stats.errors++;
        this.lastError = err;
        this.connected = false;
        if (isGone(err)) {
          // The resourceVersion we hold is compacted away: only a fresh list can resync us.
          this.stats.relistsAfterGone++;
          needList = true;
          this.opts.onError?.(err, 0);
          continue;
        }
        if (this.clock.now() - healthySince >= this.backoff.resetAfterMs) this.failures = 0;
        this.failures++;
        const delay = this.delay(this.failures);
        this.opts.onError?.(err, delay);
        await this.clock.sleep(delay, signal);
        healthySince = this.clock.now();
      }
    }
  }

  private delay(failures: number): number {
    const b = this.backoff;
    const base = Math.min(b.maxMs, b.initialMs * b.factor ** (failures - 1));
    return Math.min(b.maxMs, base + this.clock.random() * b.jitter * base);
  }

  private apply(e: WatchEvent<T>, bytes: number | undefined): void {
    const obj = e.object;
    const rv = this.opts.resourceVersionOf(obj);
    if (e.type === 'BOOKMARK') {
      if (rv) {
        this.rv = rv;
        this.opts.onBookmark?.(rv);
      }
      return;
    }
    if (e.type !== 'ADDED' && e.type !== 'MODIFIED' && e.type !== 'DELETED') return;
    const key = this.opts.keyOf(obj);
    const previous = this.items.get(key);
    if (e.type === 'DELETED') this.items.delete(key);
    else this.items.set(key, obj);
    if (rv) this.rv = rv;
    const event = { type: e.type, object: obj, synthetic: false } as ReflectorEvent<T>;
    if (previous !== undefined) event.previous = previous;
    if (bytes !== undefined) event.bytes = bytes;
    this.opts.onEvent?.(event);
  }

  /** Swaps in a fresh list, emitting what changed since the store we had. */
  private replace(list: T[]): void {
    const fresh = new Map<string, T>();
    for (const obj of list) fresh.set(this.opts.keyOf(obj), obj);
    const events: ReflectorEvent<T>[] = [];
    for (const [key, old] of this.items) {
      if (!fresh.has(key)) events.push({ type: 'DELETED', object: old, previous: old, synthetic: true });
    }
    for (const [key, obj] of fresh) {
      const old = this.items.get(key);
      if (old === undefined) events.push({ type: 'ADDED', object: obj, synthetic: true });
      else if (this.opts.resourceVersionOf(old) !== this.opts.resourceVersionOf(obj)) {
        events.push({ type: 'MODIFIED', object: obj, previous: old, synthetic: true });
      } else {
        // Unchanged: the instance consumers already hold stays, and the new copy is garbage.
        fresh.set(key, old);
      }
    }
    this.items.clear();
    for (const [key, obj] of fresh) this.items.set(key, obj);
    for (const e of events) this.opts.onEvent?.(e);
  }
}
