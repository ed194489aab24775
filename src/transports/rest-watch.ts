// `?watch=true` on a REST collection: the shared watch hub's events as Server-Sent Events. Each
// event's id is its resourceVersion (Last-Event-ID resumes), the end of the initial state is an
// INITIAL_STATE_DONE event (a bookmark: sent with allowWatchBookmarks=true), and keep-alive
// comments keep proxies from closing an idle stream.
// Events are written as the hub pushes them, with the same byte-based flow control as graphql-ws:
// backlogs are paged as the socket drains, and a client whose socket holds more than the bound
// unsent gets an ERROR event (SLOW_CONSUMER) and the end of its stream.
import type { Request, Response } from 'express';
import { ApiError, fromKubeError, toProblem } from '../api-errors.ts';
import type { CallerContext } from '../contract/caller-context.ts';
import type { KubeWatchEvent, OperationRequest, WatchArgs, WatchFeed } from '../contract/operations.ts';
import { stringifyJson } from '../kube/lossless-json.ts';
import { reportInternal } from './create-app.ts';
import { bool, int, str, type Target } from './rest-request.ts';
import { ownedBytes } from '../owned-bytes.ts';

/** A client that does not take the end of its stream (it stopped reading) is cut this long after. */
const endGraceMs = 10_000;

export interface SseWatch {
  /** The operations' watch, as the caller. */
  watch(req: OperationRequest<WatchArgs, CallerContext>): Promise<WatchFeed>;
  /** The request's context: identity, request id, and a signal that fires when the client goes away. */
  context: CallerContext;
  /** Interval of keep-alive comments. */
  heartbeatMs: number;
}

interface WatchQuery {
  args: WatchArgs;
  bookmarks: boolean;
  timeoutSeconds?: number;
}

/**
 * The watch a request asks for, with the apiserver's semantics: without a resourceVersion (or with
 * "0") the current objects come first as ADDED events, as Kubernetes sends them ("Get State and
 * Start at Most Recent", "Start at Any"); with one, exactly the events after it. sendInitialEvents
 * (which needs resourceVersionMatch=NotOlderThan) says so explicitly, and with a resourceVersion
 * asks for an initial state not older than it. A reconnecting EventSource's Last-Event-ID resumes
 * exactly where the stream was, whatever the URL asks for first: its URL is the one it opened.
 */
function watchQuery(req: Request): WatchQuery {
  const byQuery = str(req.query.resourceVersion);
  const lastEventId = req.get('last-event-id') || undefined;
  const sendInitialEvents = bool(req.query.sendInitialEvents);
  const match = str(req.query.resourceVersionMatch);
  refuseContradictions(sendInitialEvents, match);
  // As the apiserver: bookmarks (the end of the initial state among them) only when asked for.
  const bookmarks = bool(req.query.allowWatchBookmarks) ?? false;
  const timeoutSeconds = int(req.query.timeoutSeconds, 'timeoutSeconds');
  const resume = lastEventId ?? byQuery;
  const fromAny = resume === undefined || resume === '0';
  const initial = lastEventId === undefined && (sendInitialEvents ?? fromAny);
  const args: WatchArgs = {
    labelSelector: str(req.query.labelSelector), fieldSelector: str(req.query.fieldSelector),
    resourceVersion: resume, allowWatchBookmarks: bookmarks,
    ...(initial ? { sendInitialEvents: true } : {}),
    ...(initial && !fromAny ? { resourceVersionMatch: 'NotOlderThan' as const } : {}),
  };
  return { args, bookmarks, ...(timeoutSeconds !== undefined ? { timeoutSeconds } : {}) };
}

/** The apiserver's own validation of a watch's sendInitialEvents and resourceVersionMatch, word for word. */
function refuseContradictions(sendInitialEvents: boolean | undefined, match: string | undefined): void {
  const causes: { type: string; field: string; message: string }[] = [];
  const forbidden = (message: string) => causes.push({ type: 'FieldValueForbidden', field: 'resourceVersionMatch', message: `Forbidden: ${message}` });
  if (sendInitialEvents !== undefined && match !== 'NotOlderThan') forbidden('sendInitialEvents requires setting resourceVersionMatch to NotOlderThan');
  if (match !== undefined) {
    if (sendInitialEvents === undefined) forbidden('resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided');
    if (match !== 'NotOlderThan') {
      causes.push({ type: 'FieldValueNotSupported', field: 'resourceVersionMatch', message: `Unsupported value: ${JSON.stringify(match)}: supported values: "NotOlderThan"` });
    }
  }
  if (!causes.length) return;
  const list = causes.map((c) => `${c.field}: ${c.message}`);
  throw new ApiError('INVALID', `ListOptions is invalid: ${list.length > 1 ? `[${list.join(', ')}]` : list[0]}`, { reason: 'Invalid', causes });
}

export async function serveSseWatch(req: Request, res: Response, t: Target, sse: SseWatch): Promise<void> {
  const q = watchQuery(req);
  // The stream ends when the client goes away or timeoutSeconds elapse; both end the hub
  // subscription through its signal.
  const ended = new AbortController();
  const signals = [ended.signal, ...(sse.context.signal ? [sse.context.signal] : [])];
  const context: CallerContext = { ...sse.context, signal: AbortSignal.any(signals) };
  const request: OperationRequest<WatchArgs, CallerContext> = {
    resource: t.resource, version: t.version, args: q.args, context,
    ...(t.namespace !== undefined ? { namespace: t.namespace } : {}),
  };
  const feed = await sse.watch(request);
  res.status(200).set({
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-cache, no-transform',
    'X-Accel-Buffering': 'no',
  });
  // HEAD: the headers the watch would have (its checks passed), and the end. A stream with no body
  // would hold the connection (and a watch) for as long as the watch runs.
  if (req.method === 'HEAD') {
    ended.abort();
    feed.cancel();
    res.end();
    return;
  }
  const timer = q.timeoutSeconds !== undefined ? setTimeout(() => ended.abort(), q.timeoutSeconds * 1000) : undefined;
  res.flushHeaders();
  const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), sse.heartbeatMs);
  try {
    const error = await stream(feed, res, streamFrames(t, q));
    if (error !== undefined && !res.destroyed) {
      const e = error instanceof ApiError ? error : fromKubeError(error);
      reportInternal(req, e);
      res.write(`event: ERROR\ndata: ${JSON.stringify({ type: 'ERROR', object: toProblem(e, req.originalUrl) })}\n\n`);
    }
  } finally {
    clearTimeout(timer);
    clearInterval(heartbeat);
    ended.abort();
    feed.cancel();
    endStream(res);
  }
}

/** Writes the feed's events until it ends; resolves with the error that ended it, if any. */
function stream(feed: WatchFeed, res: Response, frames: FrameCache): Promise<unknown> {
  return new Promise<unknown>((resolve) => {
    const drained = new DrainWaiters(res);
    let corked = false;
    // Node's response drops what it holds corked when it is ended before being uncorked (an end
    // in the same turn as the last events, as a feed that fails after a page of its backlog does).
    const uncork = () => {
      if (!corked) return;
      corked = false;
      res.uncork();
    };
    feed.start({
      next(e) {
        const frame = frames.of(e);
        if (frame === undefined || res.destroyed) return;
        // Events of one tick (a page of a backlog) leave in one write.
        if (!corked) {
          corked = true;
          res.cork();
          process.nextTick(uncork);
        }
        res.write(frame);
      },
      end: (error) => {
        uncork();
        resolve(error);
      },
      buffered: () => (res.destroyed ? 0 : res.writableLength),
      onDrain: (fn) => drained.add(fn),
    });
    // After start: a feed failed before it (a schema change while the watch was being set up) is
    // closed already, and its end, given at start, says why.
    feed.onClose(() => {
      uncork();
      resolve(undefined);
    });
  });
}

/** Ends the response; a client that stopped reading and never takes the end is cut. */
function endStream(res: Response): void {
  if (res.destroyed) return;
  const cut = setTimeout(() => res.destroy(), endGraceMs);
  cut.unref();
  res.once('close', () => clearTimeout(cut));
  res.end();
}

/** Callbacks for the response's next drain (or its close), with one listener however many wait. */
class DrainWaiters {
  private readonly res: Response;
  private fns: (() => void)[] = [];

  constructor(res: Response) {
    this.res = res;
  }

  add(fn: () => void): void {
    if (this.res.destroyed) {
      queueMicrotask(fn);
      return;
    }
    this.fns.push(fn);
    if (this.fns.length > 1) return;
    const flush = () => {
      this.res.off('drain', flush);
      this.res.off('close', flush);
      const fns = this.fns;
      this.fns = [];
      for (const f of fns) f();
    };
    this.res.on('drain', flush);
    this.res.on('close', flush);
  }
}

interface FrameCache {
  /** The SSE frame of an event; undefined for a bookmark the client did not ask for. */
  of(e: KubeWatchEvent): Buffer | undefined;
}

/**
 * The frames of one stream. The objects of an initial state come in store order, each with its own
 * resourceVersion: an EventSource cut among them that resumed from the last one's would skip the
 * objects not yet sent. So they carry no `id:` (the client's Last-Event-ID stays empty and it
 * starts over with the initial state); the end of the initial state is the first resume point.
 */
function streamFrames(t: Target, q: WatchQuery): FrameCache {
  const numbered = frameCache(t, q.bookmarks, true);
  if (!q.args.sendInitialEvents) return numbered;
  const unnumbered = frameCache(t, q.bookmarks, false);
  let initial = true;
  return {
    of(e) {
      if (!initial) return numbered.of(e);
      if (isInitialEnd(e)) initial = false;
      return initial ? unnumbered.of(e) : numbered.of(e);
    },
  };
}

function isInitialEnd(e: KubeWatchEvent): boolean {
  const meta = e.object?.metadata as { annotations?: Record<string, string> } | undefined;
  return e.type === 'BOOKMARK' && meta?.annotations?.['k8s.io/initial-events-end'] === 'true';
}

/**
 * Frames per target, bookmark choice and numbering, made once per event object: every stream of one
 * resource gets the hub's same event objects, so each frame is serialized once for all of them.
 */
const frameCaches = new Map<string, WeakMap<KubeWatchEvent, Buffer | null>>();

function frameCache(t: Target, bookmarks: boolean, withId: boolean): FrameCache {
  const key = `${t.resource.group}/${t.version.name}/${t.resource.kind}/${bookmarks}/${withId}`;
  let cache = frameCaches.get(key);
  if (!cache) frameCaches.set(key, (cache = new WeakMap()));
  const frames = cache;
  return {
    of(e) {
      let frame = frames.get(e);
      if (frame === undefined) {
        const text = sseFrame(e, t, bookmarks, withId);
        frame = text === undefined ? null : ownedBytes(text);
        frames.set(e, frame);
      }
      return frame ?? undefined;
    },
  };
}

/** One SSE frame (without `id:` inside an initial state); undefined for a bookmark the client did not ask for. */
function sseFrame(e: KubeWatchEvent, t: Target, bookmarks: boolean, withId: boolean): string | undefined {
  const meta = (e.object?.metadata ?? {}) as { resourceVersion?: string; annotations?: Record<string, string> };
  const rv = e.resourceVersion ?? meta.resourceVersion ?? '';
  if (e.type === 'BOOKMARK' && !bookmarks) return undefined;
  const event = isInitialEnd(e) ? 'INITIAL_STATE_DONE' : e.type;
  // A bookmark's object is its kind with only metadata, as Kubernetes sends it.
  const object = e.type === 'BOOKMARK'
    ? { apiVersion: `${t.resource.group}/${t.version.name}`, kind: t.resource.kind, metadata: { ...meta, resourceVersion: rv } }
    : e.object;
  return `${withId ? `id: ${rv}\n` : ''}event: ${event}\ndata: ${stringifyJson({ type: e.type, object })}\n\n`;
}
