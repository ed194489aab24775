// `?watch=true` on a REST collection: the shared watch hub's events as Server-Sent Events. Each
// event's id is its resourceVersion (Last-Event-ID resumes), the end of the initial state is an
// INITIAL_STATE_DONE event, keep-alive comments keep proxies from closing an idle stream, and a
// client that stops reading is cut off instead of holding the hub's queue.
import type { Request, Response } from 'express';
import { ApiError, fromKubeError, toProblem } from '../api-errors.ts';
import type { CallerContext } from '../contract/caller-context.ts';
import type { KubeWatchEvent, OperationRequest, WatchArgs } from '../contract/operations.ts';
import { stringifyJson } from '../kube/lossless-json.ts';
import { reportInternal } from './create-app.ts';
import { bool, int, isTrue, str, type Target } from './rest-request.ts';

export interface SseWatch {
  /** The operations' watch, as the caller. */
  watch(req: OperationRequest<WatchArgs, CallerContext>): AsyncIterable<KubeWatchEvent> | Promise<AsyncIterable<KubeWatchEvent>>;
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

/** The watch a request asks for, refused as Kubernetes refuses it when the parameters contradict. */
function watchQuery(req: Request): WatchQuery {
  // Last-Event-ID is the SSE way to resume: each event's id is its resourceVersion.
  const resume = str(req.query.resourceVersion) ?? (req.get('last-event-id') || undefined);
  const sendInitialEvents = isTrue(req.query.sendInitialEvents);
  const bookmarks = bool(req.query.allowWatchBookmarks) ?? true;
  const timeoutSeconds = int(req.query.timeoutSeconds, 'timeoutSeconds');
  if (sendInitialEvents && !bookmarks) {
    // Kubernetes' own answer: the end of the initial state is itself a bookmark.
    throw new ApiError('INVALID', 'allowWatchBookmarks: Required value: allowWatchBookmarks required when sendInitialEvents is true', {
      reason: 'Invalid', causes: [{ type: 'FieldValueRequired', field: 'allowWatchBookmarks', message: 'Required value: allowWatchBookmarks required when sendInitialEvents is true' }],
    });
  }
  const args: WatchArgs = {
    labelSelector: str(req.query.labelSelector), fieldSelector: str(req.query.fieldSelector),
    resourceVersion: resume, sendInitialEvents: sendInitialEvents || undefined,
    allowWatchBookmarks: bookmarks,
  };
  return { args, bookmarks, ...(timeoutSeconds !== undefined ? { timeoutSeconds } : {}) };
}

export async function serveSseWatch(req: Request, res: Response, t: Target, sse: SseWatch): Promise<void> {
  const q = watchQuery(req);
  // The stream ends when the client goes away or timeoutSeconds elapse; both end the hub
  // subscription through its signal, which also settles a pending next().
  const ended = new AbortController();
  const signals = [ended.signal, ...(sse.context.signal ? [sse.context.signal] : [])];
  const context: CallerContext = { ...sse.context, signal: AbortSignal.any(signals) };
  const timer = q.timeoutSeconds !== undefined ? setTimeout(() => ended.abort(), q.timeoutSeconds * 1000) : undefined;
  const request: OperationRequest<WatchArgs, CallerContext> = {
    resource: t.resource, version: t.version, args: q.args, context,
    ...(t.namespace !== undefined ? { namespace: t.namespace } : {}),
  };
  const it = (await sse.watch(request))[Symbol.asyncIterator]();
  res.status(200).set({
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-cache, no-transform',
    'X-Accel-Buffering': 'no',
  });
  res.flushHeaders();
  const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), sse.heartbeatMs);
  try {
    await pump(it, req, res, t, q.bookmarks);
  } finally {
    clearTimeout(timer);
    clearInterval(heartbeat);
    ended.abort();
    await it.return?.();
    res.end();
  }
}

/**
 * Writes events until the stream ends, the client goes away or stops reading. One event is always
 * requested ahead: while the socket is full the hub's bounded queue keeps filling, and a client
 * that never drains it is failed (SLOW_CONSUMER) there.
 */
async function pump(it: AsyncIterator<KubeWatchEvent>, req: Request, res: Response, t: Target, bookmarks: boolean): Promise<void> {
  let next = it.next();
  try {
    for (;;) {
      const r = await next;
      if (r.done) break;
      next = it.next();
      const frame = sseFrame(r.value, t, bookmarks);
      if (frame === undefined) continue;
      if (!res.write(frame) && await stoppedReading(res, next)) {
        // The client stopped reading: nothing more can reach it, so cut the connection.
        res.destroy();
        break;
      }
      if (res.destroyed) break;
    }
  } catch (err) {
    const e = err instanceof ApiError ? err : fromKubeError(err);
    reportInternal(req, e);
    if (!res.destroyed) res.write(`event: ERROR\ndata: ${JSON.stringify({ type: 'ERROR', object: toProblem(e, req.originalUrl) })}\n\n`);
  } finally {
    next.catch(() => {});
  }
}

/** One SSE frame; undefined for a bookmark the client did not ask for. */
function sseFrame(e: KubeWatchEvent, t: Target, bookmarks: boolean): string | undefined {
  const meta = (e.object?.metadata ?? {}) as { resourceVersion?: string; annotations?: Record<string, string> };
  const rv = e.resourceVersion ?? meta.resourceVersion ?? '';
  if (e.type === 'BOOKMARK' && !bookmarks) return undefined;
  const initialEnd = e.type === 'BOOKMARK' && meta.annotations?.['k8s.io/initial-events-end'] === 'true';
  const event = initialEnd ? 'INITIAL_STATE_DONE' : e.type;
  // A bookmark's object is its kind with only metadata, as Kubernetes sends it.
  const object = e.type === 'BOOKMARK'
    ? { apiVersion: `${t.resource.group}/${t.version.name}`, kind: t.resource.kind, metadata: { ...meta, resourceVersion: rv } }
    : e.object;
  return `id: ${rv}\nevent: ${event}\ndata: ${stringifyJson({ type: e.type, object })}\n\n`;
}

/** Waits for the socket to drain; true when the next event fails first (the hub gave up on the client). */
function stoppedReading(res: Response, next: Promise<unknown>): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const finish = (result: boolean) => {
      res.off('drain', drained);
      res.off('close', drained);
      resolve(result);
    };
    const drained = () => finish(false);
    res.on('drain', drained);
    res.on('close', drained);
    next.then(undefined, () => finish(true));
  });
}
