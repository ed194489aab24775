// `?watch=true` on a REST collection: the shared watch hub's events, as Server-Sent Events or, for
// a client that prefers JSON, in Kubernetes' own watch format (watch-frames.ts); both written by
// the same flow-controlled stream (watch-stream.ts). SSE: each event's id is its resourceVersion
// (Last-Event-ID resumes) and the end of the initial state is an INITIAL_STATE_DONE event. JSON:
// the apiserver's lines, the end of the initial state its annotated BOOKMARK. Either way that end
// is a bookmark (sent with allowWatchBookmarks=true), and keep-alives keep proxies from closing an
// idle stream.
import type { Request, Response } from 'express';
import { ApiError, fromKubeError } from '../api-errors.ts';
import type { CallerContext } from '../contract/caller-context.ts';
import type { OperationRequest, WatchArgs, WatchFeed } from '../contract/operations.ts';
import { reportInternal } from './create-app.ts';
import { bool, int, str, type Target } from './rest-request.ts';
import { errorFrame, keepAliveFrame, streamFrames, watchContentType, type WatchWire } from './watch-frames.ts';
import { endStream, streamFeed } from './watch-stream.ts';

export interface RestWatch {
  /** The operations' watch, as the caller. */
  watch(req: OperationRequest<WatchArgs, CallerContext>): Promise<WatchFeed>;
  /** The request's context: identity, request id, and a signal that fires when the client goes away. */
  context: CallerContext;
  /** Interval of keep-alives. */
  heartbeatMs: number;
  /** The format the client's Accept chose. */
  wire: WatchWire;
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
 * exactly where the stream was, whatever the URL asks for first: its URL is the one it opened
 * (an SSE header: the JSON format resumes by resourceVersion only, as Kubernetes does).
 */
function watchQuery(req: Request, wire: WatchWire): WatchQuery {
  const byQuery = str(req.query.resourceVersion);
  const lastEventId = (wire === 'sse' && req.get('last-event-id')) || undefined;
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

export async function serveWatch(req: Request, res: Response, t: Target, w: RestWatch): Promise<void> {
  const q = watchQuery(req, w.wire);
  // The stream ends when the client goes away or timeoutSeconds elapse; both end the hub
  // subscription through its signal.
  const ended = new AbortController();
  const signals = [ended.signal, ...(w.context.signal ? [w.context.signal] : [])];
  const context: CallerContext = { ...w.context, signal: AbortSignal.any(signals) };
  const request: OperationRequest<WatchArgs, CallerContext> = {
    resource: t.resource, version: t.version, args: q.args, context,
    ...(t.namespace !== undefined ? { namespace: t.namespace } : {}),
  };
  const feed = await w.watch(request);
  res.status(200);
  // Not res.set: Express would add a charset the apiserver's JSON watch does not name.
  res.setHeader('Content-Type', watchContentType[w.wire]);
  res.setHeader('Cache-Control', 'no-cache, no-transform');
  res.setHeader('X-Accel-Buffering', 'no');
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
  const heartbeat = setInterval(() => res.write(keepAliveFrame[w.wire]), w.heartbeatMs);
  try {
    const error = await streamFeed(feed, res, streamFrames(t, w.wire, q.bookmarks, q.args.sendInitialEvents === true));
    if (error !== undefined && !res.destroyed) {
      const e = error instanceof ApiError ? error : fromKubeError(error);
      reportInternal(req, e);
      res.write(errorFrame(w.wire, e, req.originalUrl));
    }
  } finally {
    clearTimeout(timer);
    clearInterval(heartbeat);
    ended.abort();
    feed.cancel();
    endStream(res);
  }
}
