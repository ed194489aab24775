// One record per HTTP request, for every plugin that wants one (request logs, metrics): method,
// path, the GraphQL operation, the error catalog's code, status, duration, tenant and request id.
// One middleware and one pair of listeners per request, however many plugins read the record: the
// transports note the operation and the error code on the response as they answer (see
// request-outcome.ts), and the record is put together from those notes when the response is done.
import type { Request, RequestHandler, Response } from 'express';
import { codeOfHttpStatus } from '../api-errors.ts';
import type { Caller } from '../auth/authenticate.ts';
import { errorCodeOf, operationNameOf, operationTypeOf, type NotedOperationType } from './request-outcome.ts';

/**
 * The API a request used: a GraphQL operation's type ('invalid': its document did not parse or
 * selects no operation), 'rest', or 'unknown' for a GraphQL request refused before its document was
 * read (authentication, budgets, a body that is no GraphQL request, a persisted query not found).
 * A bounded set: metrics use it as a label.
 */
export type OperationType = NotedOperationType | 'rest' | 'unknown';

/**
 * What is known about one HTTP request once its response is finished (or the client left); or
 * about one GraphQL operation sent over WebSocket once its outcome is known (method 'WS', the
 * socket's path, the HTTP status the same outcome has over HTTP; see socket-operations.ts).
 */
export interface RequestRecord {
  readonly method: string;
  /** The path without the query string (a query string may carry secrets). */
  readonly path: string;
  /** The API the request used; undefined for everything else (probes, the explorer, documents). */
  readonly type: OperationType | undefined;
  readonly operationName: string | undefined;
  /** The error catalog's code of the first error, or 'ok'. */
  readonly code: string;
  readonly status: number;
  readonly durationMs: number;
  readonly tenant: string | undefined;
  readonly requestId: string;
  /** The client went away before the response was complete. */
  readonly aborted: boolean;
}

/**
 * A GraphQL subscription over WebSocket that has ended (its start was a RequestRecord). A REST
 * watch is an HTTP request: its record comes when its response ends.
 */
export interface SubscriptionEndRecord {
  readonly requestId: string;
  readonly tenant: string | undefined;
  readonly operationName: string | undefined;
  /**
   * 'ok': its stream ended; 'CANCELLED': its client completed it or left; else the error catalog's
   * code it ended with (SLOW_CONSUMER, SCHEMA_CHANGED, UNAVAILABLE, …).
   */
  readonly code: string;
  /** From its subscribe message to its end. */
  readonly durationMs: number;
}

/** What is known about an HTTP request once its headers are in. */
export type RequestStart = Pick<RequestRecord, 'method' | 'path' | 'requestId'>;

/** A request's outcome as the transports noted it on its response. */
export function outcomeOf(res: Response, path: string): Pick<RequestRecord, 'type' | 'operationName' | 'code' | 'tenant' | 'aborted'> {
  const aborted = !res.writableFinished;
  return { type: operationTypeOf(res) ?? apiTypeOf(path), operationName: operationNameOf(res), code: codeOf(res, aborted), tenant: tenantOf(res), aborted };
}

/** The error catalog's code of a finished (or abandoned) response. */
function codeOf(res: Response, aborted: boolean): string {
  const status = res.statusCode;
  return errorCodeOf(res) ?? (aborted && status < 400 ? 'CANCELLED' : status >= 400 ? codeOfHttpStatus(status) : 'ok');
}

function tenantOf(res: Response): string | undefined {
  return (res.locals.caller as Caller | undefined)?.tenant;
}

/** Where a response keeps the record of its request until it closes. */
const trackedKey = Symbol('crdgate request record');
type TrackedResponse = Response & { [trackedKey]?: TrackedRequest };

/**
 * The record of a request in flight: made as it comes in, completed when its response closes, and
 * handed to the readers then. One object per request, of one shape (every field set in the
 * constructor), which is also the RequestStart: no closure, no second object.
 */
class TrackedRequest implements RequestRecord {
  readonly method: string;
  readonly path: string;
  readonly requestId: string;
  /** performance.now() when the request came in. */
  readonly started: number;
  type: OperationType | undefined = undefined;
  operationName: string | undefined = undefined;
  code = '';
  status = 0;
  durationMs = 0;
  tenant: string | undefined = undefined;
  aborted = false;

  constructor(method: string, path: string, requestId: string, started: number) {
    this.method = method;
    this.path = path;
    this.requestId = requestId;
    this.started = started;
  }

  /** What the transports noted on the response, read once it has closed. */
  complete(res: Response): void {
    const aborted = !res.writableFinished;
    this.type = operationTypeOf(res) ?? apiTypeOf(this.path);
    this.operationName = operationNameOf(res);
    this.code = codeOf(res, aborted);
    // Closed before its headers were sent (its client left, or the gateway's shutdown cut it at
    // its deadline): no status was answered, whatever the response object holds by default.
    this.status = aborted && !res.headersSent ? 0 : res.statusCode;
    this.durationMs = performance.now() - this.started;
    this.tenant = tenantOf(res);
    this.aborted = aborted;
  }
}

/**
 * Express middleware (it must run before the routes) that calls onDone once per HTTP request with
 * its record, and onStart (when given) as the request comes in. One listener, made once, for
 * every request: a response emits 'close' once, after 'finish' when it completed, or when the
 * client went away; the listener finds the record on the response.
 */
export function requestTracker(onDone: (r: RequestRecord) => void, onStart?: (r: RequestStart) => void): RequestHandler {
  function onClose(this: TrackedResponse): void {
    const record = this[trackedKey];
    if (!record) return;
    this[trackedKey] = undefined;
    record.complete(this);
    onDone(record);
  }
  return (req, res, next) => {
    // The transport gave the request its id before any middleware ran (see create-app.ts).
    const record = new TrackedRequest(req.method, requestPath(req), req.headers['x-request-id'] as string | undefined ?? '', performance.now());
    (res as TrackedResponse)[trackedKey] = record;
    onStart?.(record);
    res.on('close', onClose);
    next();
  };
}

/**
 * Express' req.path (parseurl's pathname) without the URL object parseurl makes for it: nothing
 * else reads the path of a GraphQL POST, so that object was made for the record alone. A URL that
 * parseurl reads itself (a path with no tab, line break, form feed, space, '#', U+00A0 or U+FEFF
 * anywhere) ends its path at the first '?'; any other goes to req.path (url.parse then).
 */
export function requestPath(req: Request): string {
  const url = req.url;
  if (url.charCodeAt(0) !== 0x2f /* / */) return req.path;
  let end = -1;
  for (let i = 1; i < url.length; i++) {
    switch (url.charCodeAt(i)) {
      case 0x3f: /* ? */
        if (end < 0) end = i;
        break;
      case 0x09: case 0x0a: case 0x0c: case 0x0d: case 0x20: case 0x23: case 0xa0: case 0xfeff:
        return req.path;
    }
  }
  return end < 0 ? url : url.slice(0, end);
}

/** The API of a path: 'unknown' for GraphQL until its document is read (a refusal before it is). */
export function apiTypeOf(path: string): OperationType | undefined {
  if (path === '/graphql' || path.startsWith('/graphql/')) return 'unknown';
  if (path.startsWith('/rest/')) return 'rest';
  return undefined;
}
