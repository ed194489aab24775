// The shared cache behind filtered and sorted lists: one store per (resource version, namespace
// scope), fed by the watch hub's upstream watch (query-cache-feed.ts). A store starts on first use,
// lives while it is used and stops after idleMs without a query. Its memory is the estimated JSON
// size of the objects it holds; when all stores together pass maxBytes, the least recently used
// others are stopped, and a store that alone passes it is refused for a while (its queries go to
// the apiserver). A store whose feed fails is dropped and retried after a pause. Each store holds
// an upstream watch: at most maxStores run at once (the least recently used stop first), and a
// resource whose lists name more than a few namespaces gets one store of all namespaces instead of
// one more per namespace (namespaces that do not exist included, which cost no bytes).
import type { ApiError } from '../api-errors.ts';
import type { KubeObject } from '../contract/operations.ts';
import type { Feed, FeedFactory } from './query-cache-feed.ts';
import { watchKeyString, type WatchKey } from './watch-hub.ts';

export interface Timers {
  now(): number;
  setTimer(fn: () => void, ms: number): { cancel(): void };
}

export const systemTimers: Timers = {
  now: () => Date.now(),
  setTimer(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref();
    return { cancel: () => clearTimeout(t) };
  },
};

export interface QueryCacheOptions {
  feed: FeedFactory;
  /** Estimated JSON bytes all stores may hold together. */
  maxBytes: number;
  /** A store unused this long is stopped. */
  idleMs: number;
  /** Stores running at once (each holds an upstream watch); default 256. */
  maxStores?: number;
  /** How long a query waits for a new store's initial state before asking the apiserver instead. */
  syncTimeoutMs?: number;
  /** How long a store whose feed failed is not started again. */
  retryAfterFailureMs?: number;
  timers?: Timers;
  log?: { warn(msg: string): void };
}

export interface QueryCacheStats {
  /** `plural.group/version`. */
  readonly resource: string;
  /** '' for all namespaces (or a cluster-scoped resource). */
  readonly namespace: string;
  readonly objects: number;
  readonly bytes: number;
  readonly synced: boolean;
}

export class QueryCaches {
  private readonly opts: QueryCacheOptions;
  private readonly timers: Timers;
  private readonly stores = new Map<string, CacheStore>();
  /** Keys not to start again before a time: too large for the budget, or failed. */
  private readonly paused = new Map<string, number>();
  private sweep: { cancel(): void } | undefined;
  totalBytes = 0;
  readonly counters = { started: 0, stoppedIdle: 0, evicted: 0, evictedForRoom: 0, refusedTooLarge: 0, failed: 0 };

  constructor(opts: QueryCacheOptions) {
    this.opts = opts;
    this.timers = opts.timers ?? systemTimers;
  }

  /** The store of a key, synced; undefined when it cannot be had now (the caller asks the apiserver). */
  async acquire(key: WatchKey, signal?: AbortSignal): Promise<CacheStore | undefined> {
    if (this.opts.maxBytes <= 0) return undefined;
    const id = watchKeyString(key);
    let store = this.stores.get(id);
    if (!store) {
      const until = this.paused.get(id);
      if (until !== undefined && until > this.timers.now()) return undefined;
      this.paused.delete(id);
      store = this.start(key, id);
    }
    store.touch(this.timers.now());
    if (store.synced) return store;
    return (await store.whenSynced(this.opts.syncTimeoutMs ?? 10_000, signal)) ? store : undefined;
  }

  /** A running, synced store of a key, without starting one. */
  peek(key: WatchKey): CacheStore | undefined {
    const store = this.stores.get(watchKeyString(key));
    if (!store?.synced) return undefined;
    store.touch(this.timers.now());
    return store;
  }

  /** Stores of single namespaces of one resource version running now. */
  namespaceStores(key: Omit<WatchKey, 'namespace'>): number {
    let n = 0;
    for (const s of this.stores.values()) {
      if (s.key.namespace !== undefined && s.key.plural === key.plural && s.key.group === key.group && s.key.version === key.version) n++;
    }
    return n;
  }

  stats(): QueryCacheStats[] {
    return [...this.stores.values()].map((s) => ({
      resource: `${s.key.plural}.${s.key.group}/${s.key.version}`,
      namespace: s.key.namespace ?? '',
      objects: s.size,
      bytes: s.bytes,
      synced: s.synced,
    }));
  }

  stop(): void {
    this.sweep?.cancel();
    this.sweep = undefined;
    for (const s of [...this.stores.values()]) this.remove(s);
  }

  private start(key: WatchKey, id: string): CacheStore {
    this.makeRoom();
    const store = new CacheStore(key, this.timers, (delta) => this.grew(store, delta));
    this.stores.set(id, store);
    this.counters.started++;
    store.feed = this.opts.feed(key, {
      apply: (type, object, rv) => store.apply(type, object, rv),
      progress: (rv, done) => store.progress(rv, done),
      failed: (err) => this.failed(store, err),
    });
    // The feed may deliver (and so evict or fail the store) before it is returned.
    if (store.closed) store.feed.stop();
    this.sweep ??= this.timers.setTimer(() => this.sweepIdle(), Math.max(1, this.opts.idleMs / 4));
    return store;
  }

  private sweepIdle(): void {
    this.sweep = undefined;
    const now = this.timers.now();
    for (const s of [...this.stores.values()]) {
      if (now - s.lastUsed >= this.opts.idleMs) {
        this.counters.stoppedIdle++;
        this.remove(s);
      }
    }
    if (this.stores.size) this.sweep = this.timers.setTimer(() => this.sweepIdle(), Math.max(1, this.opts.idleMs / 4));
  }

  /** At maxStores, the least recently used store stops, so that a new one can start. */
  private makeRoom(): void {
    const max = this.opts.maxStores ?? 256;
    if (this.stores.size < max) return;
    let oldest: CacheStore | undefined;
    for (const s of this.stores.values()) if (!oldest || s.lastUsed < oldest.lastUsed) oldest = s;
    if (!oldest) return;
    this.counters.evictedForRoom++;
    this.remove(oldest);
  }

  private grew(store: CacheStore, delta: number): void {
    this.totalBytes += delta;
    if (delta <= 0 || this.totalBytes <= this.opts.maxBytes) return;
    if (store.bytes <= this.opts.maxBytes) {
      const others = [...this.stores.values()].filter((s) => s !== store).sort((a, b) => a.lastUsed - b.lastUsed);
      for (const s of others) {
        if (this.totalBytes <= this.opts.maxBytes) return;
        this.counters.evicted++;
        this.remove(s);
      }
      return;
    }
    this.counters.refusedTooLarge++;
    this.opts.log?.warn(`the query cache of ${watchKeyString(store.key)} needs more than --query-cache-max-bytes (${this.opts.maxBytes}); its filtered lists are read from the apiserver for the next ${Math.round(this.opts.idleMs / 1000)} s`);
    this.paused.set(watchKeyString(store.key), this.timers.now() + this.opts.idleMs);
    this.remove(store);
  }

  private failed(store: CacheStore, err: ApiError): void {
    if (this.stores.get(watchKeyString(store.key)) !== store) return;
    this.counters.failed++;
    this.opts.log?.warn(`the query cache of ${watchKeyString(store.key)} stopped: ${err.message}`);
    this.paused.set(watchKeyString(store.key), this.timers.now() + (this.opts.retryAfterFailureMs ?? 10_000));
    this.remove(store);
  }

  private remove(store: CacheStore): void {
    const id = watchKeyString(store.key);
    if (this.stores.get(id) === store) this.stores.delete(id);
    store.close();
    this.totalBytes -= store.bytes;
    store.bytes = 0;
    if (!this.stores.size) {
      this.sweep?.cancel();
      this.sweep = undefined;
    }
  }
}

interface Entry {
  readonly object: KubeObject;
  readonly bytes: number;
}

interface Waiter {
  readonly rv: bigint;
  resolve(reached: boolean): void;
}

/** The objects of one key, as of `resourceVersion`. */
export class CacheStore {
  readonly key: WatchKey;
  feed: Feed | undefined;
  synced = false;
  closed = false;
  lastUsed = 0;
  bytes = 0;
  /** The newest resourceVersion applied (of an event, the initial state or a bookmark). */
  resourceVersion = '';
  private rv = 0n;
  private readonly objects = new Map<string, Entry>();
  private readonly timers: Timers;
  private readonly onSize: (delta: number) => void;
  private waiters: Waiter[] = [];
  private syncWaiters: ((ok: boolean) => void)[] = [];

  constructor(key: WatchKey, timers: Timers, onSize: (delta: number) => void) {
    this.key = key;
    this.timers = timers;
    this.onSize = onSize;
  }

  get size(): number {
    return this.objects.size;
  }

  *values(): IterableIterator<KubeObject> {
    for (const e of this.objects.values()) yield e.object;
  }

  touch(now: number): void {
    this.lastUsed = now;
  }

  apply(type: 'ADDED' | 'MODIFIED' | 'DELETED', object: KubeObject, rv: string): void {
    if (this.closed) return;
    const meta = (object['metadata'] ?? {}) as { namespace?: string; name?: string };
    const id = `${meta.namespace ?? ''}/${meta.name ?? ''}`;
    const before = this.objects.get(id)?.bytes ?? 0;
    let after = 0;
    if (type === 'DELETED') this.objects.delete(id);
    else {
      after = jsonBytes(object);
      this.objects.set(id, { object, bytes: after });
    }
    this.bytes += after - before;
    // Only after the initial state: its ADDED events all stand at the list's resourceVersion.
    if (this.synced) this.advance(rv);
    if (after !== before) this.onSize(after - before);
  }

  progress(rv: string, initialStateDone: boolean): void {
    if (this.closed) return;
    this.advance(rv);
    if (initialStateDone && !this.synced) {
      this.synced = true;
      for (const w of this.syncWaiters.splice(0)) w(true);
    }
  }

  /** Whether the store reached the initial state in time (false also when it closed). */
  whenSynced(timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    if (this.synced) return Promise.resolve(true);
    if (this.closed) return Promise.resolve(false);
    return new Promise((resolve) => {
      const timer = this.timers.setTimer(() => done(false), timeoutMs);
      const done = (ok: boolean) => {
        timer.cancel();
        signal?.removeEventListener('abort', aborted);
        this.syncWaiters = this.syncWaiters.filter((w) => w !== done);
        resolve(ok);
      };
      const aborted = () => done(false);
      signal?.addEventListener('abort', aborted, { once: true });
      this.syncWaiters.push(done);
    });
  }

  /** Whether the store reaches resourceVersion `rv` within timeoutMs. */
  reached(rv: bigint, timeoutMs: number): Promise<boolean> {
    if (this.rv >= rv) return Promise.resolve(true);
    if (this.closed) return Promise.resolve(false);
    return new Promise((resolve) => {
      const timer = this.timers.setTimer(() => finish(false), timeoutMs);
      const waiter: Waiter = { rv, resolve: (ok) => finish(ok) };
      const finish = (ok: boolean) => {
        timer.cancel();
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve(ok);
      };
      this.waiters.push(waiter);
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.feed?.stop();
    for (const w of this.syncWaiters.splice(0)) w(false);
    for (const w of [...this.waiters]) w.resolve(false);
    this.objects.clear();
  }

  private advance(rv: string): void {
    if (!/^\d+$/.test(rv)) return;
    const n = BigInt(rv);
    if (n <= this.rv) return;
    this.rv = n;
    this.resourceVersion = rv;
    for (const w of [...this.waiters]) if (w.rv <= n) w.resolve(true);
  }
}

/**
 * The size of a value as compact JSON, near enough to bound memory (escapes are not counted). Walked
 * with a stack of its own: Kubernetes stores objects nested up to 10,000 levels deep.
 */
export function jsonBytes(root: unknown): number {
  let n = 0;
  const stack: unknown[] = [root];
  while (stack.length) {
    const v = stack.pop();
    switch (typeof v) {
      case 'string':
        n += v.length + 2;
        break;
      case 'number':
      case 'bigint':
        n += String(v).length;
        break;
      case 'boolean':
        n += v ? 4 : 5;
        break;
      case 'object': {
        if (v === null) {
          n += 4;
          break;
        }
        if (Array.isArray(v)) {
          n += 2 + Math.max(0, v.length - 1);
          for (const item of v) stack.push(item);
          break;
        }
        n += 2;
        let first = true;
        for (const key in v) {
          if (!Object.hasOwn(v, key)) continue;
          n += (first ? 0 : 1) + key.length + 3;
          stack.push((v as Record<string, unknown>)[key]);
          first = false;
        }
        break;
      }
      default:
        break;
    }
  }
  return n;
}
