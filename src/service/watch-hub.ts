// The watch hub: ONE upstream list+watch per (group, version, plural, namespace scope), shared by
// every subscriber and reference-counted. The upstream is a Reflector (client-go semantics:
// bookmarks, 410 → relist with a synthesized diff, backoff with jitter). Each subscriber gets its
// own bounded queue and its own label/field filter applied to the shared stream, so one slow or
// narrow subscriber costs the others nothing.
//
// Resume: the hub keeps the last `bufferSize` events. A subscriber that gives a resourceVersion
// inside that window gets exactly the events after it; an older one is handed to `fallback` (a
// direct watch on the apiserver, which answers with the events or with 410 Gone) or gets GONE.
import { ApiError, fromKubeError } from '../api-errors.ts';
import { Reflector, systemClock, type Clock, type ListWatchSource, type ReflectorEvent } from '../kube/reflector.ts';
import { parseFieldSelector, parseLabelSelector, type Matcher } from './watch-selectors.ts';
import type { Impersonation } from '../kube/kube-client.ts';

export type KubeObject = Record<string, unknown>;

export interface HubEvent {
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK';
  readonly object: KubeObject;
  /** Where in the stream this event stands: resume from here to get what follows. */
  readonly resourceVersion: string;
}

export interface WatchKey {
  group: string;
  version: string;
  plural: string;
  /** Absent: all namespaces (or a cluster-scoped resource). */
  namespace?: string;
}

export interface SubscribeOptions {
  labelSelector?: string;
  fieldSelector?: string;
  /** The CRD's selectableFields (JSON paths), which field selectors may use. */
  selectableFields?: readonly string[];
  /** Resume: deliver exactly the events after this resourceVersion. */
  resourceVersion?: string;
  /** First deliver the current objects as ADDED, then a BOOKMARK marking the end of the initial state. */
  sendInitialEvents?: boolean;
  /** Ends the subscription. */
  signal?: AbortSignal;
  /** Overrides the hub's per-subscriber queue size. */
  queueSize?: number;
  /** A further filter (e.g. the namespaces the subscriber may see); read on every event. */
  filter?: (obj: KubeObject) => boolean;
  /** The subscriber's identity, for the fallback's direct watch (the hub itself watches as the gateway). */
  identity?: Impersonation;
}

export interface WatchHubOptions {
  /** The list/watch of one key, as the gateway's own identity. */
  sourceFor(key: WatchKey): ListWatchSource<KubeObject>;
  /** Serves a resume from a resourceVersion older than the hub remembers. */
  fallback?(key: WatchKey, opts: SubscribeOptions): AsyncIterable<HubEvent>;
  clock?: Clock;
  /** How long an upstream watch outlives its last subscriber. */
  graceMs?: number;
  /** Events remembered per upstream for resuming subscribers. */
  bufferSize?: number;
  /** Events queued per subscriber before it is disconnected as a slow consumer. */
  queueSize?: number;
  setTimer?(fn: () => void, ms: number): { cancel(): void };
  onUpstreamError?(key: WatchKey, err: unknown, retryInMs: number): void;
}

export const initialEventsEndAnnotation = 'k8s.io/initial-events-end';

const defaultSetTimer = (fn: () => void, ms: number) => {
  const t = setTimeout(fn, ms);
  t.unref();
  return { cancel: () => clearTimeout(t) };
};

export function watchKeyString(k: WatchKey): string {
  return `${k.group}/${k.version}/${k.plural}@${k.namespace ?? '*'}`;
}

export class WatchHub {
  private readonly opts: WatchHubOptions;
  private readonly upstreams = new Map<string, Upstream>();
  readonly counters = { upstreamsStarted: 0, slowConsumers: 0, eventsDelivered: 0, eventsDropped: 0, fallbackSubscribers: 0 };

  constructor(opts: WatchHubOptions) {
    this.opts = opts;
  }

  /** Live numbers for metrics and tests. */
  stats(): { upstreams: number; subscribers: number; upstreamsStarted: number; slowConsumers: number; eventsDelivered: number; eventsDropped: number; fallbackSubscribers: number } {
    // Subscribers served by a direct watch (an old resume point) count too: they hold an upstream.
    let subscribers = this.counters.fallbackSubscribers;
    for (const u of this.upstreams.values()) subscribers += u.subscribers.size;
    return { upstreams: this.upstreams.size, subscribers, ...this.counters };
  }

  /**
   * Subscribes to a key. Selectors are checked at once (BAD_REQUEST), the resume point once the
   * upstream has synced (GONE when too old and there is no fallback).
   */
  subscribe(key: WatchKey, opts: SubscribeOptions = {}): AsyncIterable<HubEvent> {
    const labels = parseLabelSelector(opts.labelSelector);
    const fields = parseFieldSelector(opts.fieldSelector, opts.selectableFields);
    if (opts.resourceVersion !== undefined && opts.resourceVersion !== '' && opts.resourceVersion !== '0' && parseRv(opts.resourceVersion) === undefined) {
      throw new ApiError('BAD_REQUEST', `invalid resourceVersion "${opts.resourceVersion}"`);
    }
    const extra = opts.filter;
    const match: Matcher = extra ? (o) => labels(o) && fields(o) && extra(o) : (o) => labels(o) && fields(o);
    const sub = new Subscriber(opts.queueSize ?? this.opts.queueSize ?? 1000, this.counters);
    const id = watchKeyString(key);
    let upstream = this.upstreams.get(id);
    if (!upstream) {
      upstream = new Upstream(key, this.opts, () => this.upstreams.delete(id));
      this.upstreams.set(id, upstream);
      this.counters.upstreamsStarted++;
    }
    const u = upstream;
    u.hold();
    const detach = () => {
      u.subscribers.delete(sub);
      u.release();
    };
    sub.onClose = detach;
    if (opts.signal) {
      if (opts.signal.aborted) sub.end();
      else opts.signal.addEventListener('abort', () => sub.end(), { once: true });
    }
    void u.synced.then(() => {
      if (sub.closed) return;
      const rv = opts.resourceVersion && opts.resourceVersion !== '0' ? parseRv(opts.resourceVersion)! : undefined;
      if (rv !== undefined && rv < u.floor) {
        if (!this.opts.fallback) {
          sub.fail(new ApiError('GONE', `too old resource version: ${opts.resourceVersion} (${u.floor})`, {
            reason: 'Expired', hint: 'list again, then subscribe from the new list\'s resourceVersion' }));
          return;
        }
        this.counters.fallbackSubscribers++;
        sub.onClose = () => {
          this.counters.fallbackSubscribers--;
          detach();
        };
        sub.pipeFrom(this.opts.fallback(key, opts));
        return;
      }
      u.attach(sub, match, rv, opts.sendInitialEvents === true);
    }, (err: unknown) => sub.fail(fromKubeError(err)));
    return sub;
  }

  /** Ends every subscription whose key matches, with the given error (a CRD was removed...). */
  closeWhere(predicate: (key: WatchKey) => boolean, error: ApiError): number {
    let n = 0;
    for (const u of [...this.upstreams.values()]) {
      if (!predicate(u.key)) continue;
      for (const s of [...u.subscribers.keys()]) {
        s.fail(error);
        n++;
      }
      u.stopNow();
    }
    return n;
  }

  async stop(): Promise<void> {
    const all = [...this.upstreams.values()];
    for (const u of all) {
      for (const s of [...u.subscribers.keys()]) s.fail(new ApiError('UNAVAILABLE', 'the gateway is shutting down'));
    }
    await Promise.all(all.map((u) => u.stopNow()));
  }
}

interface BufferedEvent {
  rv: bigint;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: KubeObject;
  previous?: KubeObject;
}

class Upstream {
  readonly key: WatchKey;
  readonly subscribers = new Map<Subscriber, Matcher>();
  readonly synced: Promise<void>;
  /** Events with a resourceVersion above this are all in the buffer. */
  floor = 0n;
  private current = 0n;
  private readonly buffer: BufferedEvent[] = [];
  private readonly bufferSize: number;
  private readonly reflector: Reflector<KubeObject>;
  private readonly opts: WatchHubOptions;
  private readonly onStopped: () => void;
  private refs = 0;
  private grace: { cancel(): void } | undefined;
  private stopping: Promise<void> | undefined;
  private isSynced = false;

  constructor(key: WatchKey, opts: WatchHubOptions, onStopped: () => void) {
    this.key = key;
    this.opts = opts;
    this.onStopped = onStopped;
    this.bufferSize = opts.bufferSize ?? 10_000;
    let resolveSynced!: () => void;
    let rejectSynced!: (err: unknown) => void;
    this.synced = new Promise((res, rej) => {
      resolveSynced = res;
      rejectSynced = rej;
    });
    this.synced.catch(() => {});
    this.reflector = new Reflector<KubeObject>({
      source: opts.sourceFor(key),
      clock: opts.clock ?? systemClock,
      keyOf: objectKey,
      resourceVersionOf: (o) => (o.metadata as { resourceVersion?: string } | undefined)?.resourceVersion,
      onEvent: (e) => this.onEvent(e),
      onSynced: () => {
        const rv = parseRv(this.reflector.resourceVersion) ?? 0n;
        if (!this.isSynced) {
          this.isSynced = true;
          this.floor = rv;
          this.current = rv;
          resolveSynced();
          return;
        }
        // After a relist: the synthetic diff has been broadcast; mark where it stands.
        this.current = rv;
        this.broadcastBookmark(rv);
      },
      onError: (err, retryInMs) => {
        opts.onUpstreamError?.(key, err, retryInMs);
        const api = fromKubeError(err);
        // Errors that retrying cannot fix end the subscriptions instead of leaving them waiting.
        if (api.code === 'FORBIDDEN' || api.code === 'UNAUTHENTICATED' || (api.code === 'NOT_FOUND' && api.details.reason === 'NotFound')) {
          if (!this.isSynced) rejectSynced(err);
          for (const s of [...this.subscribers.keys()]) s.fail(api);
          void this.stopNow();
        }
      },
    });
    this.reflector.start();
  }

  hold(): void {
    this.refs++;
    this.grace?.cancel();
    this.grace = undefined;
  }

  release(): void {
    this.refs--;
    if (this.refs > 0 || this.stopping) return;
    const setTimer = this.opts.setTimer ?? defaultSetTimer;
    this.grace = setTimer(() => {
      if (this.refs === 0) void this.stopNow();
    }, this.opts.graceMs ?? 30_000);
  }

  stopNow(): Promise<void> {
    this.stopping ??= (async () => {
      this.grace?.cancel();
      this.onStopped();
      await this.reflector.stop();
    })();
    return this.stopping;
  }

  /** Registers a subscriber; everything here runs in one tick, so no event falls between. */
  attach(sub: Subscriber, match: Matcher, resumeFrom: bigint | undefined, sendInitial: boolean): void {
    if (resumeFrom !== undefined) {
      for (const e of this.buffer) {
        if (e.rv > resumeFrom) sub.offer(e.type, e.object, e.previous, e.rv, match);
      }
      // A resume point ahead of what the hub has seen: nothing up to it may be delivered later.
      if (resumeFrom > this.current) sub.after = resumeFrom;
    } else if (sendInitial) {
      for (const obj of this.reflector.store.values()) {
        if (match(obj)) sub.push({ type: 'ADDED', object: obj, resourceVersion: rvOf(obj) });
      }
      sub.push(bookmark(this.current, true));
    }
    if (!sub.closed) this.subscribers.set(sub, match);
  }

  private onEvent(e: ReflectorEvent<KubeObject>): void {
    if (!this.isSynced) return; // the initial list: subscribers attach after it, from the store
    const rv = e.synthetic ? (parseRv(this.reflector.resourceVersion) ?? this.current) : (parseRv(rvOf(e.object)) ?? this.current);
    if (rv > this.current) this.current = rv;
    const previous = e.type === 'DELETED' ? undefined : e.previous;
    const entry: BufferedEvent = previous ? { rv, type: e.type, object: e.object, previous } : { rv, type: e.type, object: e.object };
    this.buffer.push(entry);
    if (this.buffer.length > this.bufferSize) this.floor = this.buffer.shift()!.rv;
    for (const [sub, match] of this.subscribers) sub.offer(entry.type, entry.object, entry.previous, rv, match);
  }

  private broadcastBookmark(rv: bigint): void {
    const b = bookmark(rv, false);
    for (const sub of this.subscribers.keys()) sub.push(b);
  }
}

/**
 * One subscriber's bounded queue, consumed as an async iterator. A full queue means the consumer
 * is not keeping up: it is failed with SLOW_CONSUMER rather than allowed to grow memory.
 */
class Subscriber implements AsyncIterableIterator<HubEvent> {
  private readonly queue: HubEvent[] = [];
  private readonly max: number;
  private readonly counters: WatchHub['counters'];
  private waiter: ((r: IteratorResult<HubEvent>) => void) | undefined;
  private failWaiter: ((err: unknown) => void) | undefined;
  private error: unknown;
  closed = false;
  /** Events at or before this resourceVersion are not delivered (a resume from ahead of the hub). */
  after: bigint | undefined;
  onClose: () => void = () => {};

  constructor(max: number, counters: WatchHub['counters']) {
    this.max = max;
    this.counters = counters;
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<HubEvent> {
    return this;
  }

  /** Applies the subscriber's filter with Kubernetes' rule for objects moving in or out of it. */
  offer(type: BufferedEvent['type'], object: KubeObject, previous: KubeObject | undefined, rv: bigint, match: Matcher): void {
    if (this.after !== undefined && rv <= this.after) return;
    const now = match(object);
    const rvs = rv.toString();
    if (type === 'DELETED') {
      if (now) this.push({ type, object, resourceVersion: rvs });
      return;
    }
    const before = previous !== undefined && match(previous);
    if (now && before) this.push({ type: 'MODIFIED', object, resourceVersion: rvs });
    else if (now) this.push({ type: 'ADDED', object, resourceVersion: rvs });
    else if (before) this.push({ type: 'DELETED', object, resourceVersion: rvs });
  }

  push(e: HubEvent): void {
    if (this.closed) return;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      this.failWaiter = undefined;
      this.counters.eventsDelivered++;
      w({ value: e, done: false });
      return;
    }
    if (this.queue.length >= this.max) {
      this.counters.slowConsumers++;
      this.counters.eventsDropped += this.queue.length + 1;
      this.fail(new ApiError('SLOW_CONSUMER', `the subscriber fell ${this.max} events behind and was disconnected; resubscribe from the last resourceVersion it received`));
      return;
    }
    this.queue.push(e);
  }

  pipeFrom(source: AsyncIterable<HubEvent>): void {
    void (async () => {
      try {
        for await (const e of source) {
          if (this.closed) break;
          this.push(e);
        }
        this.end();
      } catch (err) {
        this.fail(fromKubeError(err));
      }
    })();
  }

  fail(err: unknown): void {
    if (this.closed) return;
    this.error = err;
    this.queue.length = 0;
    this.close();
  }

  end(): void {
    this.close();
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose();
    if (this.waiter) {
      const w = this.waiter;
      const f = this.failWaiter;
      this.waiter = undefined;
      this.failWaiter = undefined;
      if (this.error !== undefined) f!(this.error);
      else w({ value: undefined, done: true });
    }
  }

  next(): Promise<IteratorResult<HubEvent>> {
    const e = this.queue.shift();
    if (e) {
      this.counters.eventsDelivered++;
      return Promise.resolve({ value: e, done: false });
    }
    if (this.closed) {
      if (this.error !== undefined) {
        const err = this.error;
        this.error = undefined;
        return Promise.reject(err);
      }
      return Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve, reject) => {
      this.waiter = resolve;
      this.failWaiter = reject;
    });
  }

  return(): Promise<IteratorResult<HubEvent>> {
    this.queue.length = 0;
    this.error = undefined;
    this.close();
    return Promise.resolve({ value: undefined, done: true });
  }
}

function objectKey(o: KubeObject): string {
  const m = (o.metadata ?? {}) as { namespace?: string; name?: string };
  return `${m.namespace ?? ''}/${m.name ?? ''}`;
}

function rvOf(o: KubeObject): string {
  return (o.metadata as { resourceVersion?: string } | undefined)?.resourceVersion ?? '';
}

function parseRv(rv: string | undefined): bigint | undefined {
  if (!rv || !/^\d+$/.test(rv)) return undefined;
  return BigInt(rv);
}

function bookmark(rv: bigint, initialEnd: boolean): HubEvent {
  const metadata: Record<string, unknown> = { resourceVersion: rv.toString() };
  if (initialEnd) metadata.annotations = { [initialEventsEndAnnotation]: 'true' };
  return { type: 'BOOKMARK', object: { metadata }, resourceVersion: rv.toString() };
}
