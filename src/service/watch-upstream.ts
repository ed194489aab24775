// One upstream list+watch of the hub (one key): a reflector as the gateway's identity, its store,
// the resume window over it, and everyone fed from it — subscribers (paged, flow-controlled
// feeds) and observers (synchronous in-process consumers). Every event is appended to the window
// first, then handed to the observers, then pushed to the live subscribers, all in one tick.
import { ApiError, fromKubeError } from '../api-errors.ts';
import { Reflector, systemClock, type Clock, type ReflectorEvent } from '../kube/reflector.ts';
import { stringifyJson } from '../kube/lossless-json.ts';
import { HubSubscriber, initialEvent, type HubCounters, type SubscriberHost } from './hub-subscriber.ts';
import { ResumeWindow, selectorView, type EntryType, type WindowEntry } from './resume-window.ts';
import {
  asTheGateway, objectKey, parseRv, rvOf, type HubEvent, type HubObserver, type KubeObject, type WatchHubOptions, type WatchKey,
} from './watch-types.ts';

export interface UpstreamSettings extends WatchHubOptions {
  readonly counters: HubCounters;
  readonly maxBufferedBytes: number;
  readonly pageBytes: number;
  /** Resolves once a 404 of this key may be told as it is (WatchHub.holdNotFoundWith); absent: at once. */
  readonly holdNotFound?: (key: WatchKey, signal: AbortSignal) => Promise<void>;
}

const defaultSetTimer = (fn: () => void, ms: number) => {
  const t = setTimeout(fn, ms);
  t.unref();
  return { cancel: () => clearTimeout(t) };
};

/**
 * Where a subscriber starts: after a resourceVersion (undefined: from now on), or with the current
 * objects, at least as new as a resourceVersion when one is given.
 */
export type Start = { initial: false; resumeFrom: bigint | undefined } | { initial: true; notOlderThan: bigint | undefined };

/** How long a watch that opened after failures must stay open to count as recovered without an event. */
const steadyAfterMs = 5_000;

export class Upstream implements SubscriberHost {
  readonly key: WatchKey;
  readonly window: ResumeWindow;
  readonly maxBufferedBytes: number;
  readonly pageBytes: number;
  readonly counters: HubCounters;
  /** Every subscriber, whatever its state (waiting for the first sync, catching up, live, on a direct watch). */
  readonly subscribers = new Set<HubSubscriber>();
  readonly observers = new Set<HubObserver>();
  /** Bytes of the objects in the store. */
  storeBytes = 0;
  readonly clock: Clock;
  private readonly live = new Set<HubSubscriber>();
  /** Catching-up subscribers: they fail when the window drops what they have yet to send. */
  private readonly lagging = new Set<HubSubscriber>();
  private readonly opts: UpstreamSettings;
  private readonly reflector: Reflector<KubeObject>;
  private readonly onStopped: () => void;
  private readonly sizes = new WeakMap<object, number>();
  private readonly added = new WeakMap<object, HubEvent>();
  /** The window's newest entry per key, whose object the store still holds unless it was a deletion. */
  private readonly newestOf = new Map<string, WindowEntry>();
  private readonly selectable: string[][] = [];
  /**
   * Window entries up to this resourceVersion were recorded before the last selectable field was
   * learned: their views of the previous object lack it, so a resume from before it cannot tell
   * an object leaving a field selection and is served by the apiserver (or is GONE) instead.
   */
  private viewsCompleteAfter = 0n;
  /** Subscribers' attachments that wait for the first sync. */
  private waiting: (() => void)[] = [];
  private current = 0n;
  private synced = false;
  private inRelist = false;
  /** During a relist's difference: the resourceVersion the hub stood at before it (WindowEntry.shownRv). */
  private relistFrom: bigint | undefined;
  private grace: { cancel(): void } | undefined;
  private stopping: Promise<void> | undefined;
  private failing: { since: number; timer: { cancel(): void } } | undefined;
  /** While failing: the timer after which a watch that stayed open counts as recovered (connected()). */
  private steady: { cancel(): void } | undefined;
  /** The upstream kept failing past the bound: newcomers are told at once. */
  private unavailable: ApiError | undefined;
  /** A 404 held until the CRDs are known as of it (holdNotFound); let go when the watch recovers or stops. */
  private heldNotFound: { error: ApiError; release: AbortController } | undefined;

  constructor(key: WatchKey, opts: UpstreamSettings, onStopped: () => void) {
    this.key = key;
    this.opts = opts;
    this.onStopped = onStopped;
    this.clock = opts.clock ?? systemClock;
    this.counters = opts.counters;
    this.maxBufferedBytes = opts.maxBufferedBytes;
    this.pageBytes = opts.pageBytes;
    this.window = new ResumeWindow(opts.windowBytes ?? 32 << 20, 0n);
    this.reflector = new Reflector<KubeObject>({
      source: opts.sourceFor(key),
      clock: opts.clock ?? systemClock,
      keyOf: objectKey,
      resourceVersionOf: (o) => (o.metadata as { resourceVersion?: string } | undefined)?.resourceVersion,
      onEvent: (e) => this.onEvent(e),
      onSynced: () => this.onSynced(),
      onBookmark: (rv) => this.onBookmark(rv),
      onConnected: () => this.connected(),
      onError: (err, retryInMs) => this.onError(err, retryInMs),
    });
    this.reflector.start();
  }

  get resourceVersion(): string {
    return this.synced ? this.current.toString() : '';
  }

  get storeSize(): number {
    return this.reflector.store.size;
  }

  get isStopping(): boolean {
    return this.stopping !== undefined;
  }

  /** Registers a subscriber; it attaches now if the upstream has synced, else at the first sync. */
  add(sub: HubSubscriber, selectable: readonly string[], start: Start, fallback: ((sub: HubSubscriber) => void) | undefined): void {
    this.hold();
    this.subscribers.add(sub);
    this.learnSelectable(selectable);
    if (this.unavailable) {
      this.counters.unavailable++;
      sub.fail(this.withResumePoint(sub, this.unavailable));
      return;
    }
    const attach = () => this.attach(sub, start, fallback);
    if (this.synced) attach();
    else this.waiting.push(attach);
  }

  addObserver(observer: HubObserver): void {
    this.hold();
    this.observers.add(observer);
    if (this.unavailable) {
      this.endObserver(observer, this.unavailable);
      return;
    }
    if (this.synced) this.callObserver(observer, (o) => o.initial(this.reflector.store, this.current.toString()));
  }

  removeObserver(observer: HubObserver): void {
    if (this.observers.delete(observer)) this.release();
  }

  // --- SubscriberHost ---

  addedEventOf(obj: KubeObject): HubEvent {
    let e = this.added.get(obj);
    if (!e) this.added.set(obj, (e = initialEvent(obj)));
    return e;
  }

  goLive(sub: HubSubscriber): void {
    this.lagging.delete(sub);
    this.live.add(sub);
  }

  lag(sub: HubSubscriber): void {
    this.live.delete(sub);
    this.lagging.add(sub);
  }

  leave(sub: HubSubscriber): void {
    this.live.delete(sub);
    this.lagging.delete(sub);
    if (this.subscribers.delete(sub)) this.release();
  }

  reattach(sub: HubSubscriber, after: string, direct: (sub: HubSubscriber) => void): void {
    this.attach(sub, { initial: false, resumeFrom: parseRv(after) }, direct);
  }

  notFoundMayBeTold(signal: AbortSignal): Promise<void> {
    return this.opts.holdNotFound?.(this.key, signal) ?? Promise.resolve();
  }

  // --- the subscribers' side ---

  private attach(sub: HubSubscriber, start: Start, fallback: ((sub: HubSubscriber) => void) | undefined): void {
    if (sub.state !== 'waiting') return;
    const w = this.window;
    if (start.initial) {
      if (start.notOlderThan !== undefined && start.notOlderThan > this.current) {
        // The caller has seen a newer state than this watch has: the apiserver waits for it (or
        // answers that it is too large), as it does for its own watch cache.
        if (fallback) fallback(sub);
        else sub.fail(new ApiError('TIMEOUT', `Too large resource version: ${start.notOlderThan}, current: ${this.current}`, { reason: 'Timeout' }));
        return;
      }
      sub.attach(w.nextSeq, undefined, { objects: [...this.reflector.store.values()], rv: this.current });
      return;
    }
    const resumeFrom = start.resumeFrom;
    if (resumeFrom === undefined) {
      sub.attach(w.nextSeq, undefined);
      return;
    }
    const floor = w.floor > this.viewsCompleteAfter ? w.floor : this.viewsCompleteAfter;
    if (resumeFrom < floor) {
      if (fallback) fallback(sub);
      else sub.fail(new ApiError('GONE', `too old resource version: ${resumeFrom} (${floor})`, {
        reason: 'Expired', hint: 'list again, then subscribe from the new list\'s resourceVersion' }));
      return;
    }
    // A resume point ahead of what the hub has seen: nothing up to it may be delivered later.
    sub.attach(w.seqAfter(resumeFrom), resumeFrom > this.current ? resumeFrom : undefined);
  }

  // --- the reflector's side ---

  private onEvent(e: ReflectorEvent<KubeObject>): void {
    if (this.failing) this.recovered();
    const bytes = this.sizeOf(e.object, e.bytes);
    if (e.type === 'DELETED') this.storeBytes -= e.previous ? this.sizeOf(e.previous) : bytes;
    else this.storeBytes += bytes - (e.previous ? this.sizeOf(e.previous) : 0);
    // The first list: subscribers attach after it, from the store.
    if (!this.synced) return;
    if (e.synthetic && !this.inRelist) this.beginRelist();
    const rv = e.synthetic ? (parseRv(this.reflector.resourceVersion) ?? this.current) : (parseRv(rvOf(e.object)) ?? this.current);
    if (rv > this.current) this.current = rv;
    const key = objectKey(e.object);
    const newest = this.newestOf.get(key);
    if (newest && newest.type !== 'DELETED') this.window.charge(newest, this.sizeOf(newest.object));
    const before = e.type === 'MODIFIED' && e.previous ? selectorView(e.previous, this.selectable) : undefined;
    const entry = this.window.append(rv, e.type, e.object, key, before, bytes, e.synthetic ? this.relistFrom : undefined);
    this.newestOf.set(key, entry);
    const observed = { type: e.type, object: e.object, resourceVersion: entry.rv.toString(), synthetic: e.synthetic,
      ...(e.previous ? { previous: e.previous } : {}) };
    for (const o of this.observers) this.callObserver(o, (x) => x.event(observed));
    if (!this.inRelist) for (const s of this.live) s.offer(entry);
    this.evict();
  }

  private onSynced(): void {
    if (this.failing) this.recovered();
    const rv = parseRv(this.reflector.resourceVersion) ?? 0n;
    if (!this.synced) {
      this.synced = true;
      this.window.floor = rv;
      this.current = rv;
      for (const o of this.observers) this.callObserver(o, (x) => x.initial(this.reflector.store, rv.toString()));
      const waiting = this.waiting;
      this.waiting = [];
      for (const attach of waiting) attach();
      return;
    }
    // After a relist: its difference is in the window; a bookmark marks where it stands.
    this.current = rv;
    const entry = this.append(rv, 'BOOKMARK', { metadata: { resourceVersion: rv.toString() } });
    for (const o of this.observers) this.callObserver(o, (x) => x.resynced?.(rv.toString()));
    if (this.inRelist) {
      this.inRelist = false;
      this.relistFrom = undefined;
      for (const s of [...this.lagging]) s.pump();
    } else {
      for (const s of this.live) s.offer(entry);
    }
    this.evict();
  }

  /** A relist's difference can be large: every live subscriber is paged through it like a backlog. */
  private beginRelist(): void {
    this.inRelist = true;
    this.relistFrom = this.current;
    for (const s of [...this.live]) s.demote(this.window.nextSeq);
  }

  private onBookmark(rv: string): void {
    if (this.failing) this.recovered();
    const n = parseRv(rv);
    if (n !== undefined && n > this.current && this.synced) this.current = n;
    for (const o of this.observers) this.callObserver(o, (x) => x.bookmark?.(rv));
  }

  private append(rv: bigint, type: EntryType, object: KubeObject): WindowEntry {
    return this.window.append(rv, type, object, '', undefined, 0);
  }

  private evict(): void {
    const dropped = this.window.evict();
    if (!dropped.length) return;
    for (const d of dropped) if (this.newestOf.get(d.key) === d) this.newestOf.delete(d.key);
    const first = this.window.firstSeq;
    for (const s of [...this.lagging]) if (s.cursor < first) s.fellBehind();
  }

  private onError(err: unknown, retryInMs: number): void {
    this.steady?.cancel();
    this.steady = undefined;
    this.opts.onUpstreamError?.(this.key, err, retryInMs);
    const api = fromKubeError(err);
    if (api.code === 'NOT_FOUND' && api.details.reason === 'NotFound' && this.opts.holdNotFound) {
      this.holdNotFound(api, this.opts.holdNotFound);
      return;
    }
    // Errors that retrying cannot fix end the subscriptions instead of leaving them waiting.
    if (api.code === 'FORBIDDEN' || api.code === 'UNAUTHENTICATED' || (api.code === 'NOT_FOUND' && api.details.reason === 'NotFound')) {
      this.failAll(asTheGateway(this.key, api));
      void this.stopNow();
      return;
    }
    if (api.code === 'GONE') return; // the reflector relists at once
    if (this.failing) return;
    const clock = this.opts.clock ?? systemClock;
    const bound = this.opts.unavailableAfterMs ?? 30_000;
    const setTimer = this.opts.setTimer ?? defaultSetTimer;
    this.failing = {
      since: clock.now(),
      timer: setTimer(() => {
        this.unavailable = new ApiError('UNAVAILABLE', `the watch of ${this.key.plural}.${this.key.group} has failed for ${Math.round(bound / 1000)} s (${api.message})`,
          { reason: 'ServiceUnavailable', retryAfterSeconds: 5 });
        this.failAll(this.unavailable);
      }, bound),
    };
  }

  /**
   * A collection the apiserver no longer serves answers 404 as soon as its CRD changes, before the
   * gateway's own watch of CRDs brings the change that ends its subscribers with SCHEMA_CHANGED.
   * The 404 waits until the CRDs are known as of it: by then the change, if it was one, has ended
   * them; those still here get the 404 (the reflector retries meanwhile, and a success cancels it).
   */
  private holdNotFound(api: ApiError, hold: (key: WatchKey, signal: AbortSignal) => Promise<void>): void {
    if (this.heldNotFound) return;
    const held = { error: api, release: new AbortController() };
    this.heldNotFound = held;
    void hold(this.key, held.release.signal).catch(() => {}).then(() => {
      if (this.heldNotFound !== held) return;
      this.heldNotFound = undefined;
      this.failAll(api);
      void this.stopNow();
    });
  }

  /**
   * The apiserver answered a list or a watch: the resource is served (a held 404 is not one to
   * tell). A failing upstream has recovered only once it makes progress (an event, a bookmark, a
   * list) or its watch stays open for steadyAfterMs: a watch that opens and then fails at once
   * (a conversion webhook that fails, a proxy that cuts it) is still failing.
   */
  private connected(): void {
    this.releaseHeldNotFound();
    if (!this.failing || this.steady) return;
    const setTimer = this.opts.setTimer ?? defaultSetTimer;
    this.steady = setTimer(() => {
      this.steady = undefined;
      this.recovered();
    }, steadyAfterMs);
  }

  private recovered(): void {
    this.steady?.cancel();
    this.steady = undefined;
    this.failing?.timer.cancel();
    this.failing = undefined;
    this.unavailable = undefined;
  }

  /**
   * An UNAVAILABLE (the upstream failing, the gateway shutting down) with where the subscriber
   * resumes: the last resourceVersion delivered to it, as SLOW_CONSUMER says.
   */
  private withResumePoint(sub: HubSubscriber, e: ApiError): ApiError {
    const rv = sub.lastResourceVersion;
    if (e.code !== 'UNAVAILABLE' || rv === undefined || e.details.resourceVersion !== undefined) return e;
    const when = e === this.unavailable ? ', once it is back' : '';
    return new ApiError('UNAVAILABLE', `${e.message}; resubscribe from resourceVersion ${rv}, the last one delivered${when}`, { ...e.details, resourceVersion: rv });
  }

  /** Ends every subscriber and observer with this error. */
  failAll(error: ApiError): number {
    let n = 0;
    for (const s of [...this.subscribers]) {
      s.fail(this.withResumePoint(s, error));
      if (error.code === 'UNAVAILABLE') this.counters.unavailable++;
      n++;
    }
    for (const o of [...this.observers]) {
      this.endObserver(o, error);
      n++;
    }
    return n;
  }

  // --- lifetime ---

  private hold(): void {
    this.grace?.cancel();
    this.grace = undefined;
  }

  private release(): void {
    if (this.subscribers.size || this.observers.size || this.stopping) return;
    this.armGrace();
  }

  private armGrace(): void {
    if (this.subscribers.size || this.observers.size || this.stopping) return;
    this.grace?.cancel();
    const setTimer = this.opts.setTimer ?? defaultSetTimer;
    this.grace = setTimer(() => {
      if (!this.subscribers.size && !this.observers.size) void this.stopNow();
    }, this.opts.graceMs ?? 30_000);
  }

  /** Lets the hold of a 404 go (its timer with it): nothing is told of it any more. */
  private releaseHeldNotFound(): void {
    const held = this.heldNotFound;
    this.heldNotFound = undefined;
    held?.release.abort();
  }

  stopNow(): Promise<void> {
    this.stopping ??= (async () => {
      this.releaseHeldNotFound();
      this.grace?.cancel();
      this.failing?.timer.cancel();
      this.steady?.cancel();
      this.onStopped();
      await this.reflector.stop();
    })();
    return this.stopping;
  }

  // --- helpers ---

  private learnSelectable(paths: readonly string[]): void {
    for (const p of paths) {
      const path = p.replace(/^\./, '').split('.');
      if (this.selectable.some((q) => q.join('.') === path.join('.'))) continue;
      this.selectable.push(path);
      if (this.synced) this.viewsCompleteAfter = this.current;
    }
  }

  /** The bytes of an object: the size of the watch event it came in, else of its JSON. */
  private sizeOf(obj: KubeObject, known?: number): number {
    let n = this.sizes.get(obj);
    if (n === undefined) {
      n = known ?? Buffer.byteLength(stringifyJson(obj));
      this.sizes.set(obj, n);
    }
    return n;
  }

  private callObserver(o: HubObserver, call: (o: HubObserver) => void): void {
    try {
      call(o);
    } catch (err) {
      // An observer that throws is ended alone; the upstream and everyone else go on.
      this.endObserver(o, new ApiError('INTERNAL', 'an observer of the watch failed', {}, { cause: err }));
    }
  }

  private endObserver(o: HubObserver, error: ApiError | undefined): void {
    if (!this.observers.delete(o)) return;
    try {
      o.end?.(error);
    } finally {
      this.release();
    }
  }
}
