// The watch hub: ONE upstream list+watch per (group, version, plural, namespace scope), shared by
// every subscriber and reference-counted. The upstream is a Reflector (client-go semantics:
// bookmarks, 410 → relist with a synthesized diff, backoff with jitter); see watch-upstream.ts.
//
// Two kinds of consumers:
//   - subscribers (subscribe): feeds with their own label/field filter, pushed into their
//     connection synchronously and flow-controlled in bytes (hub-subscriber.ts);
//   - observers (observe): synchronous in-process consumers of the store and its changes, on the
//     same upstream and the same object instances (an informer cache).
//
// Resume: the upstream keeps a window of recent events bounded in bytes (resume-window.ts). A
// subscriber that gives a resourceVersion inside it gets exactly the events after it; an older one
// is handed to `fallback` (a direct watch on the apiserver, which answers with the events or with
// 410 Gone) or gets GONE.
import { ApiError, fromKubeError } from '../api-errors.ts';
import { failedFeed, type Feed } from '../streams/feed.ts';
import { HubSubscriber, type HubCounters } from './hub-subscriber.ts';
import { Upstream, type Start } from './watch-upstream.ts';
import { allOf, parseFieldSelector, parseLabelSelector, type Matcher } from './watch-selectors.ts';
import {
  asTheGateway, parseRv, watchKeyString, type HubEvent, type HubObserver, type Observation, type SubscribeOptions, type WatchHubOptions, type WatchKey,
} from './watch-types.ts';

export * from './watch-types.ts';

export interface HubStats extends HubCounters {
  upstreams: number;
  /** Subscribers attached to an upstream (catching up, live, or served by a direct watch). */
  subscribers: number;
  /** Subscribers waiting for their upstream's first list. */
  waiting: number;
  observers: number;
  /** Bytes held by all upstreams: objects in the stores and the resume windows. */
  bytes: number;
}

export interface UpstreamStats {
  key: WatchKey;
  storeObjects: number;
  storeBytes: number;
  windowEvents: number;
  windowBytes: number;
  subscribers: number;
  resourceVersion: string;
}

export const defaultMaxBufferedBytes = 8 << 20;
export const defaultWindowBytes = 32 << 20;
/** How long after its timeoutSeconds a direct watch may stay silent (see directIdleMs). */
const directIdleMarginMs = 30_000;

export class WatchHub {
  private readonly opts: WatchHubOptions;
  private readonly upstreams = new Map<string, Upstream>();
  private readonly maxBufferedBytes: number;
  private stopped = false;
  private admission: ((key: WatchKey, opts: SubscribeOptions) => ApiError | undefined) | undefined;
  private notFoundHold: ((key: WatchKey, signal: AbortSignal) => Promise<void>) | undefined;
  readonly counters: HubCounters = { upstreamsStarted: 0, slowConsumers: 0, eventsDelivered: 0, eventsDropped: 0, fallbackSubscribers: 0, directWatchesStarted: 0, unavailable: 0 };

  constructor(opts: WatchHubOptions) {
    this.opts = opts;
    this.maxBufferedBytes = opts.maxBufferedBytes ?? defaultMaxBufferedBytes;
  }

  /** Live numbers for metrics and tests. */
  stats(): HubStats {
    let subscribers = 0;
    let waiting = 0;
    let observers = 0;
    let bytes = 0;
    for (const u of this.upstreams.values()) {
      for (const s of u.subscribers) {
        if (s.state === 'waiting') waiting++;
        else subscribers++;
      }
      observers += u.observers.size;
      bytes += u.storeBytes + u.window.bytes;
    }
    return { upstreams: this.upstreams.size, subscribers, waiting, observers, bytes, ...this.counters };
  }

  /** Per upstream: what it holds, in objects, events and bytes. */
  upstreamStats(): UpstreamStats[] {
    return [...this.upstreams.values()].map((u) => ({
      key: u.key, storeObjects: u.storeSize, storeBytes: u.storeBytes, windowEvents: u.window.size, windowBytes: u.window.bytes,
      subscribers: u.subscribers.size, resourceVersion: u.resourceVersion,
    }));
  }

  /**
   * Subscribes to a key. Selectors and the resume point's syntax are checked at once
   * (BAD_REQUEST), the resume point's age once the upstream has synced (GONE when too old and
   * there is no fallback). Events flow once the feed is started, from where it attached.
   */
  subscribe(key: WatchKey, opts: SubscribeOptions = {}): Feed<HubEvent> {
    this.refuseWhenStopped();
    const labels = parseLabelSelector(opts.labelSelector);
    const fields = parseFieldSelector(opts.fieldSelector, opts.selectableFields);
    const given = opts.resourceVersion && opts.resourceVersion !== '0' ? opts.resourceVersion : undefined;
    const rv = given === undefined ? undefined : parseRv(given);
    if (given !== undefined && rv === undefined) throw new ApiError('BAD_REQUEST', `invalid resourceVersion "${opts.resourceVersion}"`);
    const refused = this.admission?.(key, opts);
    if (refused) return failedFeed(refused);
    const start: Start = opts.sendInitialEvents && (rv === undefined || opts.resourceVersionMatch === 'NotOlderThan')
      ? { initial: true, notOlderThan: rv }
      : { initial: false, resumeFrom: rv };
    // Most subscribers have no selector: they share one matcher instead of a closure each.
    const match: Matcher = allOf(labels, fields, opts.filter);
    const upstream = this.upstreamOf(key);
    const sub = new HubSubscriber(upstream, match, start.initial ? undefined : given, opts.relatedTypes);
    const fallback = this.opts.fallback;
    upstream.add(sub, opts.selectableFields ?? [], start,
      fallback ? (s) => s.serveFrom((from, onEvent, signal, timeoutSeconds) => this.direct(key, opts,
        fallback(key, { ...(from === undefined ? opts : resumed(opts, from)), timeoutSeconds, idleTimeoutMs: this.directIdleMs(timeoutSeconds) }, visibleOnly(onEvent, opts.filter), signal)),
      start.initial) : undefined);
    if (opts.signal) {
      if (opts.signal.aborted) sub.cancel();
      else {
        const signal = opts.signal;
        const onAbort = () => sub.cancel();
        signal.addEventListener('abort', onAbort, { once: true });
        sub.onClose(() => signal.removeEventListener('abort', onAbort));
      }
    }
    return sub;
  }

  /**
   * A direct watch run as the gateway fails as the shared watch does: the gateway's own refusal
   * goes to its log, the subscriber learns only that the gateway may not watch the resource.
   */
  private direct(key: WatchKey, opts: SubscribeOptions, watch: Promise<void>): Promise<void> {
    if (!opts.directAsGateway) return watch;
    return watch.catch((err: unknown) => {
      const api = err instanceof ApiError ? err : fromKubeError(err);
      const told = asTheGateway(key, api);
      if (told !== api) this.opts.onDirectWatchRefused?.(key, err);
      throw told;
    });
  }

  /**
   * Observes a key in process: the current objects once the upstream has synced, then every
   * change, relist and bookmark, synchronously and in order, on the upstream a subscription of the
   * same key uses (see HubObserver).
   */
  observe(key: WatchKey, observer: HubObserver): Observation {
    this.refuseWhenStopped();
    const upstream = this.upstreamOf(key);
    upstream.addObserver(observer);
    return {
      get resourceVersion() {
        return upstream.resourceVersion;
      },
      close: () => {
        if (!upstream.observers.has(observer)) return;
        upstream.removeObserver(observer);
        observer.end?.();
      },
    };
  }

  /**
   * Refuses, from now on, a subscriber whose servedAs or relatedTypesAs `check` finds out of date: it gets the error
   * as its end, as it would have had it subscribed a moment earlier. A subscription's operation
   * is checked against the schema first and comes here after (RBAC reviews in between); a schema
   * change in that time ends the subscribers already here (closeWhere) and this one at its arrival.
   */
  admitWith(check: (key: WatchKey, opts: SubscribeOptions) => ApiError | undefined): void {
    // A second check would refuse every subscriber the first one's schema checked: one live schema per hub.
    if (this.admission) throw new Error('the watch hub already has an admission check: one live schema per hub');
    this.admission = check;
  }

  /**
   * Holds an upstream's 404 (a version no longer served, a CRD deleted) until `hold` resolves:
   * the schema change that explains it ends the subscribers with SCHEMA_CHANGED meanwhile, and the
   * 404 reaches only those it did not end.
   */
  holdNotFoundWith(hold: (key: WatchKey, signal: AbortSignal) => Promise<void>): void {
    if (this.notFoundHold) throw new Error('the watch hub already holds its 404s for a live schema: one live schema per hub');
    this.notFoundHold = hold;
  }

  /** Ends every subscription and observation whose key matches, with the given error (a CRD was removed...). */
  closeWhere(predicate: (key: WatchKey) => boolean, error: ApiError): number {
    let n = 0;
    for (const u of [...this.upstreams.values()]) {
      if (!predicate(u.key)) continue;
      n += u.failAll(error);
      void u.stopNow();
    }
    return n;
  }

  /**
   * Ends every subscription that reads one of these types of other resources (its relatedTypes),
   * with the error given for the first such type it reads.
   */
  closeReading(types: ReadonlyMap<string, ApiError>): number {
    let n = 0;
    if (!types.size) return n;
    for (const u of [...this.upstreams.values()]) {
      for (const s of [...u.subscribers]) {
        const error = s.relatedTypes?.reduce<ApiError | undefined>((e, t) => e ?? types.get(t), undefined);
        if (!error) continue;
        s.fail(error);
        n++;
      }
    }
    return n;
  }

  /** Ends everything with UNAVAILABLE and stops every upstream; subscribing afterwards is refused. */
  async stop(): Promise<void> {
    this.stopped = true;
    const all = [...this.upstreams.values()];
    for (const u of all) u.failAll(new ApiError('UNAVAILABLE', 'the gateway is shutting down', { reason: 'ServiceUnavailable' }));
    await Promise.all(all.map((u) => u.stopNow()));
  }

  /**
   * How long a direct watch asked to run timeoutSeconds may stay silent before its connection
   * counts as lost: beyond the apiserver's own end of it. A watch served from etcd (a resume older
   * than the apiserver's cache) gets no bookmarks, so a quiet resource is silent until then.
   */
  private directIdleMs(timeoutSeconds: number): number {
    return this.opts.directWatchIdleMs ?? timeoutSeconds * 1000 + directIdleMarginMs;
  }

  private refuseWhenStopped(): void {
    if (this.stopped) throw new ApiError('UNAVAILABLE', 'the gateway is shutting down', { reason: 'ServiceUnavailable' });
  }

  private upstreamOf(key: WatchKey): Upstream {
    const id = watchKeyString(key);
    let upstream = this.upstreams.get(id);
    if (!upstream || upstream.isStopping) {
      const pageBytes = Math.max(16 << 10, Math.min(1 << 20, Math.floor(this.maxBufferedBytes / 8)));
      const holdNotFound = this.notFoundHold;
      const settings = { ...this.opts, counters: this.counters, maxBufferedBytes: this.maxBufferedBytes, pageBytes };
      upstream = new Upstream(key, { ...settings, ...(holdNotFound ? { holdNotFound } : {}) }, () => {
        if (this.upstreams.get(id) === upstream) this.upstreams.delete(id);
      });
      this.upstreams.set(id, upstream);
      this.counters.upstreamsStarted++;
    }
    return upstream;
  }
}

/**
 * A direct watch's events that the subscriber's filter lets through (the namespaces it may see, read
 * per event as on the shared watch: a narrower grant applies from the next event on, and a direct
 * watch the apiserver authorized once would otherwise keep sending what the grant no longer allows).
 */
function visibleOnly(onEvent: (e: HubEvent) => void | Promise<void>, filter: SubscribeOptions['filter']): (e: HubEvent) => void | Promise<void> {
  if (!filter) return onEvent;
  return (e) => (e.type === 'BOOKMARK' || filter(e.object) ? onEvent(e) : undefined);
}

/** The options of a direct watch that goes on after `from`, the last event its subscriber got. */
function resumed(opts: SubscribeOptions, from: string): SubscribeOptions {
  const { sendInitialEvents: _initial, resourceVersionMatch: _match, ...rest } = opts;
  return { ...rest, resourceVersion: from };
}
