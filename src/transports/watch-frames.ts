// The two wire formats of a REST watch, for one and the same event stream (watch-stream.ts writes
// either): Server-Sent Events (browsers' EventSource, curl) and Kubernetes' own watch format, one
// JSON watch event per line, as the apiserver writes it for `Accept: application/json` (client-go's
// JSON framer, kubectl, the client libraries).
import { ApiError, toKubeStatus, toProblem } from '../api-errors.ts';
import type { KubeWatchEvent } from '../contract/operations.ts';
import { stringifyJson } from '../kube/lossless-json.ts';
import { ownedBytes } from '../owned-bytes.ts';
import type { Target } from './rest-request.ts';

export type WatchWire = 'sse' | 'json';

/** The Content-Type of each format. The apiserver answers a JSON watch as plain application/json, without stream=watch or a charset. */
export const watchContentType: Record<WatchWire, string> = {
  sse: 'text/event-stream; charset=utf-8',
  json: 'application/json',
};

/**
 * What keeps an idle stream open through proxies that cut silent connections. SSE has comments
 * for it. The JSON format has nothing of the kind (the apiserver sends nothing between events), but
 * a space between two events is whitespace: client-go's JSON framer reads the stream with Go's
 * json.Decoder, which skips it between values, and the line-based readers (the JavaScript and
 * Python clients) find it at the start of the next event's line, where JSON.parse and json.loads
 * skip it. Not a newline: the Python client hands an empty line to its caller as an event (None).
 * Silence would let proxies close a quiet watch.
 */
export const keepAliveFrame: Record<WatchWire, string> = {
  sse: ': keep-alive\n\n',
  json: ' ',
};

export interface FrameCache {
  /** The frame of an event; undefined for a bookmark the client did not ask for. */
  of(e: KubeWatchEvent): Buffer | undefined;
}

/**
 * The frames of one stream. SSE: the objects of an initial state come in store order, each with its
 * own resourceVersion: an EventSource cut among them that resumed from the last one's would skip
 * the objects not yet sent. So they carry no `id:` (the client's Last-Event-ID stays empty and it
 * starts over with the initial state); the end of the initial state is the first resume point.
 * The JSON format has no ids: its client resumes from the resourceVersion of the objects it saw.
 */
export function streamFrames(t: Target, wire: WatchWire, bookmarks: boolean, initialState: boolean): FrameCache {
  const numbered = frameCache(t, wire, bookmarks, true);
  if (wire === 'json' || !initialState) return numbered;
  const unnumbered = frameCache(t, wire, bookmarks, false);
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
 * Frames per target, format, bookmark choice and numbering, made once per event object: every
 * stream of one resource gets the hub's same event objects, so each frame is serialized once for
 * all of them.
 */
const frameCaches = new Map<string, WeakMap<KubeWatchEvent, Buffer | null>>();

function frameCache(t: Target, wire: WatchWire, bookmarks: boolean, withId: boolean): FrameCache {
  const key = `${t.resource.group}/${t.version.name}/${t.resource.kind}/${wire}/${bookmarks}/${withId}`;
  let cache = frameCaches.get(key);
  if (!cache) frameCaches.set(key, (cache = new WeakMap()));
  const frames = cache;
  return {
    of(e) {
      let frame = frames.get(e);
      if (frame === undefined) {
        const text = wire === 'json' ? jsonLine(e, t, bookmarks) : sseFrame(e, t, bookmarks, withId);
        frame = text === undefined ? null : ownedBytes(text);
        frames.set(e, frame);
      }
      return frame ?? undefined;
    },
  };
}

/** The event as Kubernetes sends it: a bookmark's object is its kind with only metadata. */
function watchEvent(e: KubeWatchEvent, t: Target): { type: KubeWatchEvent['type']; object: unknown; rv: string } {
  const meta = (e.object?.metadata ?? {}) as { resourceVersion?: string };
  const rv = e.resourceVersion ?? meta.resourceVersion ?? '';
  const object = e.type === 'BOOKMARK'
    ? { apiVersion: `${t.resource.group}/${t.version.name}`, kind: t.resource.kind, metadata: { ...meta, resourceVersion: rv } }
    : e.object;
  return { type: e.type, object, rv };
}

/** One SSE frame (without `id:` inside an initial state); undefined for a bookmark the client did not ask for. */
export function sseFrame(e: KubeWatchEvent, t: Target, bookmarks: boolean, withId: boolean): string | undefined {
  if (e.type === 'BOOKMARK' && !bookmarks) return undefined;
  const { type, object, rv } = watchEvent(e, t);
  const event = isInitialEnd(e) ? 'INITIAL_STATE_DONE' : type;
  return `${withId ? `id: ${rv}\n` : ''}event: ${event}\ndata: ${stringifyJson({ type, object })}\n\n`;
}

/** One line of Kubernetes' JSON watch stream; undefined for a bookmark the client did not ask for. */
export function jsonLine(e: KubeWatchEvent, t: Target, bookmarks: boolean): string | undefined {
  if (e.type === 'BOOKMARK' && !bookmarks) return undefined;
  const { type, object } = watchEvent(e, t);
  return `${stringifyJson({ type, object })}\n`;
}

/**
 * The event that ends a stream with an error. SSE: an ERROR event whose object is the problem
 * document. JSON: the apiserver's ERROR event, whose object is a Status (what client-go's reflector
 * reads: a 410 Expired or Gone makes it list again), carrying the problem in its details.
 */
export function errorFrame(wire: WatchWire, e: ApiError, instance: string): string {
  const problem = toProblem(e, instance);
  if (wire === 'json') return `${stringifyJson({ type: 'ERROR', object: toKubeStatus(e, problem) })}\n`;
  return `event: ERROR\ndata: ${JSON.stringify({ type: 'ERROR', object: problem })}\n\n`;
}
