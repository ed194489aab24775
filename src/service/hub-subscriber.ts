// One subscriber of an upstream watch, as a feed. Its place in the stream is a cursor into the
// upstream's resume window. A live subscriber gets each event pushed synchronously into its sink
// (the connection) as it arrives; a subscriber with a backlog (its initial state, a resume, a
// relist's difference) is caught up in pages, waiting for its connection to drain between pages,
// while the events that arrive meanwhile wait in the window, in order, bounded in bytes there.
//
// It ends as a slow consumer when its connection holds more than the byte bound unsent, or when
// the window no longer holds the events it still has to send.
import { ApiError, fromKubeError } from '../api-errors.ts';
import type { Clock } from '../kube/reflector.ts';
import type { Feed, FeedSink } from '../streams/feed.ts';
import type { Matcher } from './watch-selectors.ts';
import type { ResumeWindow, WindowEntry } from './resume-window.ts';
import { bookmarkEvent, initialEventsEndAnnotation, rvOf, type HubEvent, type KubeObject } from './watch-types.ts';

/** What a subscriber needs of its upstream. */
export interface SubscriberHost {
  readonly window: ResumeWindow;
  readonly maxBufferedBytes: number;
  /** Bytes written per page of a backlog before waiting for the connection to drain. */
  readonly pageBytes: number;
  readonly counters: HubCounters;
  /** The ADDED event of an object of the initial state, shared by every subscriber. */
  addedEventOf(obj: KubeObject): HubEvent;
  /** The subscriber caught up: push it every new event from now on. */
  goLive(sub: HubSubscriber): void;
  /** The subscriber has a backlog again, or waits for its connection to drain. */
  lag(sub: HubSubscriber): void;
  /** The subscriber is over: forget it. */
  leave(sub: HubSubscriber): void;
  /**
   * The apiserver ended the subscriber's direct watch (its request timeout): attach it again after
   * its last event, from the window when it holds that point, else through `direct` again.
   */
  reattach(sub: HubSubscriber, after: string, direct: (sub: HubSubscriber) => void): void;
  /**
   * Resolves once a 404 of this resource may be told as it is: the schema change that explains
   * it (a CRD deleted, a version no longer served) has ended its subscribers with SCHEMA_CHANGED by
   * then. At once without a live schema.
   */
  notFoundMayBeTold(signal: AbortSignal): Promise<void>;
  readonly clock: Clock;
}

/**
 * A direct watch as the subscriber, from a resourceVersion (undefined: as first asked), that the
 * apiserver ends after timeoutSeconds: it calls onEvent per event, resolves when the apiserver
 * ends the watch (or the signal aborts it), rejects with what failed it. One the apiserver sends
 * nothing on for longer than it was asked to run (the connection died without a word) is failed
 * by the Kubernetes client's idle bound (UNAVAILABLE), which does not count the time onEvent's
 * promise holds the stream (the bound: directIdleMs in watch-hub.ts).
 */
export type DirectWatch = (from: string | undefined, onEvent: (e: HubEvent) => void | Promise<void>, signal: AbortSignal, timeoutSeconds: number) => Promise<void>;

/** As client-go's reflector: between 5 and 10 minutes, spread so that direct watches do not all end together. */
const minDirectTimeoutSeconds = 300;
/** A direct watch that ran this long ended as asked (its timeoutSeconds), not at once: going on from where it started cannot spin. */
const quietRunMs = 30_000;

export interface HubCounters {
  upstreamsStarted: number;
  slowConsumers: number;
  eventsDelivered: number;
  eventsDropped: number;
  fallbackSubscribers: number;
  /** Direct watches started for subscribers (resumes older than the window, initial states newer than it), ever. */
  directWatchesStarted: number;
  unavailable: number;
}

type State = 'waiting' | 'catching-up' | 'live' | 'fallback' | 'closed';

export class HubSubscriber implements Feed<HubEvent> {
  state: State = 'waiting';
  /** The next window entry to deliver. */
  cursor = 0;
  private readonly host: SubscriberHost;
  private readonly match: Matcher;
  private sink: FeedSink<HubEvent> | undefined;
  private snapshot: { objects: KubeObject[]; next: number; end: HubEvent } | undefined;
  /** Events at or before this resourceVersion are not delivered (a resume from ahead of the hub). */
  private after: bigint | undefined;
  /** The resourceVersion of the last event delivered; undefined while the initial state is being sent. */
  private lastRv: string | undefined;
  private draining = false;
  private pendingEnd: { error?: unknown } | undefined;
  private closeFns: (() => void)[] = [];
  private fallback: ((sink: FeedSink<HubEvent>) => void) | undefined;
  private abortFallback: (() => void) | undefined;

  /** Other resources' types whose API this subscriber's selection reads (SubscribeOptions.relatedTypes). */
  readonly relatedTypes: readonly string[] | undefined;

  constructor(host: SubscriberHost, match: Matcher, resumeFrom: string | undefined, relatedTypes?: readonly string[]) {
    this.host = host;
    this.match = match;
    this.lastRv = resumeFrom;
    this.relatedTypes = relatedTypes;
  }

  // --- Feed ---

  start(sink: FeedSink<HubEvent>): void {
    if (this.sink) throw new Error('a feed starts once');
    this.sink = sink;
    if (this.pendingEnd) {
      sink.end(this.pendingEnd.error);
      return;
    }
    if (this.state === 'catching-up') this.pump();
    else if (this.state === 'fallback') this.fallback?.(sink);
  }

  cancel(): void {
    this.close(undefined, false);
  }

  fail(error: unknown): void {
    this.close(error ?? new ApiError('INTERNAL', 'the watch failed'), true);
  }

  onClose(fn: () => void): void {
    if (this.state === 'closed') fn();
    else this.closeFns.push(fn);
  }

  /** Ends the subscription normally (the sink's end gets no error). */
  end(): void {
    this.close(undefined, true);
  }

  // --- driven by the upstream ---

  /** Attaches at a window position; with a snapshot, its objects are the initial state at `rv`. */
  attach(cursor: number, after: bigint | undefined, snapshot?: { objects: KubeObject[]; rv: bigint }): void {
    if (this.state !== 'waiting') return;
    this.cursor = cursor;
    this.after = after;
    if (snapshot) {
      this.snapshot = { objects: snapshot.objects, next: 0, end: bookmarkEvent(snapshot.rv, true) };
      this.lastRv = undefined;
    }
    this.state = 'catching-up';
    this.host.lag(this);
    if (this.sink) this.pump();
  }

  /**
   * Serves this subscriber from a direct watch instead (its resume point is older than the window,
   * or its initial state newer than the hub's). `initial`: the watch starts with an initial state.
   */
  serveFrom(run: DirectWatch, initial: boolean, from?: string): void {
    if (this.state !== 'waiting') return;
    this.state = 'fallback';
    this.host.counters.fallbackSubscribers++;
    this.fallback = (sink) => this.runDirect(run, initial, from, sink);
    if (this.sink) this.fallback(this.sink);
  }

  /**
   * Runs one direct watch. One that lost the apiserver (a dropped connection, or one silent for
   * longer than it was asked to run) ends the subscription with UNAVAILABLE and the last
   * resourceVersion delivered (withResumePoint).
   */
  private runDirect(run: DirectWatch, initial: boolean, from: string | undefined, sink: FeedSink<HubEvent>): void {
    this.host.counters.directWatchesStarted++;
    const controller = new AbortController();
    this.abortFallback = () => controller.abort();
    const clock = this.host.clock;
    const started = clock.now();
    const timeoutSeconds = Math.floor(minDirectTimeoutSeconds * (1 + clock.random()));
    let initialPending = initial;
    let delivered = 0;
    const onEvent = (e: HubEvent): void | Promise<void> => {
      if (this.state !== 'fallback') return;
      if (initialPending && isInitialEnd(e)) initialPending = false;
      delivered++;
      this.emit(e);
      // Wait for the connection before taking the next event: the apiserver's stream backs up.
      if (sink.buffered() >= this.host.pageBytes) return new Promise<void>((resolve) => sink.onDrain(resolve));
    };
    run(from, onEvent, controller.signal, timeoutSeconds).then(
      () => this.directEnded(run, initialPending, delivered > 0 || clock.now() - started >= quietRunMs),
      (err: unknown) => {
        if (controller.signal.aborted) return;
        const e = this.withResumePoint(err instanceof ApiError ? err : fromKubeError(err), initialPending);
        if (e.code === 'NOT_FOUND' && e.details.reason === 'NotFound') this.failOnceTold(e);
        else this.fail(e);
      });
  }

  /**
   * A direct watch's 404 (its CRD deleted, its version no longer served) is held as an upstream's
   * is: the schema change ends the subscriber with SCHEMA_CHANGED meanwhile, and the 404 reaches it
   * only when no change explains it.
   */
  private failOnceTold(e: ApiError): void {
    const release = new AbortController();
    this.abortFallback = () => release.abort();
    void this.host.notFoundMayBeTold(release.signal).catch(() => {}).then(() => {
      if (this.state === 'fallback' && !release.signal.aborted) this.fail(e);
    });
  }

  /**
   * The apiserver ended the direct watch, as it ends every watch after its request timeout: the
   * subscription goes on after the last event, as a reflector would re-watch, instead of ending
   * as if the resource's changes were over. A watch ended inside an initial state (whose objects
   * are no resume point) or soon and without a single event (a retry could spin) ends the
   * subscription, telling the client where to resume.
   */
  private directEnded(run: DirectWatch, initialPending: boolean, progressed: boolean): void {
    if (this.state !== 'fallback') return;
    const rv = initialPending ? undefined : this.lastRv;
    if (rv === undefined || !progressed) {
      const resume = rv ? `; resubscribe from resourceVersion ${rv}` : '; resubscribe (with sendInitialEvents to get the current objects)';
      this.fail(new ApiError('UNAVAILABLE', `the apiserver ended the watch${resume}`,
        { reason: 'ServiceUnavailable', retryAfterSeconds: 1, ...(rv ? { resourceVersion: rv } : {}) }));
      return;
    }
    this.host.counters.fallbackSubscribers--;
    this.state = 'waiting';
    this.fallback = undefined;
    this.abortFallback = undefined;
    this.host.reattach(this, rv, (sub) => sub.serveFrom(run, false, rv));
  }

  /**
   * A direct watch that lost the apiserver (a restart, a dropped connection) ends the subscription
   * with UNAVAILABLE and the last resourceVersion delivered, as an upstream's failure does.
   */
  private withResumePoint(e: ApiError, initialPending: boolean): ApiError {
    const rv = this.lastRv;
    if (e.code !== 'UNAVAILABLE' || e.details.resourceVersion !== undefined || rv === undefined || initialPending) return e;
    return new ApiError('UNAVAILABLE', `${e.message}; resubscribe from resourceVersion ${rv}, the last one delivered, once it is back`,
      { ...e.details, resourceVersion: rv }, { cause: e });
  }

  /** A new event, for a live subscriber: written at once. */
  offer(entry: WindowEntry): void {
    this.deliver(entry);
    const sink = this.sink!;
    if (this.state === 'live' && sink.buffered() > this.host.maxBufferedBytes) {
      // The event that crossed the bound is written but will not be read.
      this.host.counters.eventsDropped++;
      this.slow(`its connection held more than ${this.host.maxBufferedBytes} bytes it had not sent`);
    }
  }

  /** Back to catching up from `cursor` (a relist's difference is paged like any backlog). */
  demote(cursor: number): void {
    if (this.state !== 'live') return;
    this.state = 'catching-up';
    this.cursor = cursor;
    this.host.lag(this);
  }

  /** Sends from the backlog until it is empty (then live) or the connection has a page to send. */
  pump(): void {
    const sink = this.sink;
    if (this.state !== 'catching-up' || !sink || this.draining) return;
    const w = this.host.window;
    for (;;) {
      if (sink.buffered() >= this.host.pageBytes) {
        this.draining = true;
        sink.onDrain(() => {
          this.draining = false;
          this.pump();
        });
        return;
      }
      const snap = this.snapshot;
      if (snap) {
        if (snap.next < snap.objects.length) {
          const obj = snap.objects[snap.next++]!;
          if (this.match(obj)) this.emit(this.host.addedEventOf(obj));
        } else {
          this.snapshot = undefined;
          this.emit(snap.end);
        }
      } else if (this.cursor < w.firstSeq) {
        this.fellBehind();
        return;
      } else if (this.cursor >= w.nextSeq) {
        this.state = 'live';
        this.host.goLive(this);
        return;
      } else {
        this.deliver(w.at(this.cursor++)!);
      }
      if (this.state !== 'catching-up') return;
    }
  }

  /** The window dropped entries this subscriber has yet to send. */
  fellBehind(): void {
    const missed = this.host.window.nextSeq - this.cursor;
    this.host.counters.eventsDropped += missed;
    this.slow('the events it had yet to receive no longer fit in the gateway\'s resume window');
  }

  // --- delivery ---

  /** Kubernetes' rule for objects moving in or out of a subscriber's selection. */
  private deliver(e: WindowEntry): void {
    if (this.after !== undefined && e.rv <= this.after) return;
    if (e.type === 'BOOKMARK') {
      this.emit(e.eventAs('BOOKMARK'));
      return;
    }
    const now = this.match(e.object);
    if (e.type === 'DELETED') {
      if (now) this.emit(e.eventAs('DELETED'));
      return;
    }
    const before = e.before !== undefined && this.match(e.before);
    if (now && before) this.emit(e.eventAs('MODIFIED'));
    else if (now) this.emit(e.eventAs('ADDED'));
    else if (before) this.emit(e.eventAs('DELETED'));
  }

  private emit(e: HubEvent): void {
    if (!this.snapshot) this.lastRv = e.resourceVersion;
    this.host.counters.eventsDelivered++;
    this.sink!.next(e);
  }

  private slow(why: string): void {
    this.host.counters.slowConsumers++;
    const rv = this.lastRv;
    const resume = rv ? `resubscribe from resourceVersion ${rv}, the last one it received` : 'resubscribe (with sendInitialEvents to get the current objects again)';
    this.fail(new ApiError('SLOW_CONSUMER', `the subscriber was disconnected because ${why}; ${resume}`, rv ? { resourceVersion: rv } : {}));
  }

  /** The resourceVersion of the last event delivered (for UNAVAILABLE and SLOW_CONSUMER). */
  get lastResourceVersion(): string | undefined {
    return this.lastRv;
  }

  private close(error: unknown, notify: boolean): void {
    if (this.state === 'closed') return;
    if (this.state === 'fallback') this.host.counters.fallbackSubscribers--;
    this.state = 'closed';
    this.snapshot = undefined;
    this.abortFallback?.();
    this.host.leave(this);
    if (notify) {
      if (this.sink) this.sink.end(error);
      else this.pendingEnd = { error };
    }
    const fns = this.closeFns;
    this.closeFns = [];
    for (const fn of fns) fn();
  }
}

/** The resourceVersion an object of the initial state stands at. */
export function initialEvent(obj: KubeObject): HubEvent {
  return { type: 'ADDED', object: obj, resourceVersion: rvOf(obj) };
}

function isInitialEnd(e: HubEvent): boolean {
  const meta = e.object.metadata as { annotations?: Record<string, string> } | undefined;
  return e.type === 'BOOKMARK' && meta?.annotations?.[initialEventsEndAnnotation] === 'true';
}
