// One JSON log line per HTTP request: method, path, GraphQL operation type and name, tenant, HTTP
// status, the error code (the catalog's, or `ok`), duration and the request id. The request id is
// the client's X-Request-Id when it is well-formed, else a fresh one; it is echoed in the response
// and sent to the apiserver on every Kubernetes call of the request as Audit-ID, which the
// apiserver adopts as the audit ID of its own audit events (so the two logs join on it).
//
// The request tracker below is shared with the metrics plugin: Express sees every request and its
// status, Apollo sees the operation and its errors; a key in an internal request header (which
// Apollo copies into its own request) joins the two.
import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import type { Request, RequestHandler, Response } from 'express';
import { codeOfHttpStatus } from '../api-errors.ts';
import type { Caller } from '../auth/authenticate.ts';
import { requestIdOf } from '../transports/create-app.ts';
import type { Logger } from '../logging.ts';
import type { GatewayPlugin } from './gateway-plugin.ts';

export type OperationType = 'query' | 'mutation' | 'subscription' | 'rest' | 'unknown';

/** What is known about one HTTP request once its response is finished (or the client left). */
export interface RequestRecord {
  readonly method: string;
  /** The path without the query string (a query string may carry secrets). */
  readonly path: string;
  /** The API the request used; undefined for everything else (probes, the explorer, documents). */
  type: OperationType | undefined;
  operationName: string | undefined;
  /** The error catalog's code of the first error, or 'ok'. */
  code: string;
  status: number;
  durationMs: number;
  tenant: string | undefined;
  requestId: string;
  /** The client went away before the response was complete. */
  aborted: boolean;
}

let trackers = 0;

/**
 * Calls onDone once per HTTP request with its record. Returns Express middleware (it must run
 * before the routes) and an Apollo plugin that fills in the GraphQL operation and its error code.
 */
export function requestTracker(onDone: (r: RequestRecord) => void): { middleware: RequestHandler; apollo: ApolloServerPlugin<BaseContext> } {
  // Each tracker has its own key header: a client cannot inject one, the middleware overwrites it.
  const header = `x-crdgate-track-${++trackers}`;
  const pending = new Map<string, RequestRecord>();
  let next = 0;
  const middleware: RequestHandler = (req, res, nextHandler) => {
    const started = performance.now();
    const key = (next++).toString(36);
    req.headers[header] = key;
    const requestId = ensureRequestId(req, res);
    const path = req.path;
    const rec: RequestRecord = {
      method: req.method, path, type: apiTypeOf(path), operationName: undefined, code: '',
      status: 0, durationMs: 0, tenant: undefined, requestId, aborted: false,
    };
    pending.set(key, rec);
    // Error answers that Apollo never sees (authentication, admission, bad JSON, REST problems)
    // carry the catalog code in their body; only those bodies are read.
    const send = res.send;
    res.send = function sendAndNote(this: Response, body?: unknown) {
      if (this.statusCode >= 400 && !rec.code && typeof body === 'string') rec.code = /"code":"([A-Z_]+)"/.exec(body)?.[1] ?? '';
      return send.call(this, body);
    } as Response['send'];
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      pending.delete(key);
      rec.aborted = !res.writableFinished;
      rec.status = res.statusCode;
      rec.durationMs = performance.now() - started;
      rec.tenant = (res.locals.caller as Caller | undefined)?.tenant;
      if (!rec.code) rec.code = rec.aborted && res.statusCode < 400 ? 'CANCELLED' : res.statusCode >= 400 ? codeOfHttpStatus(res.statusCode) : 'ok';
      onDone(rec);
    };
    res.once('finish', finish);
    res.once('close', finish);
    nextHandler();
  };
  const apollo: ApolloServerPlugin<BaseContext> = {
    async requestDidStart(start) {
      const key = start.request.http?.headers.get(header);
      const rec = key === undefined ? undefined : pending.get(key);
      if (!rec) return;
      rec.operationName = start.request.operationName ?? undefined;
      return {
        async didResolveOperation(rc) {
          if (rc.operation) rec.type = rc.operation.operation;
          rec.operationName = rc.operationName ?? undefined;
        },
        async willSendResponse(rc) {
          const body = rc.response.body;
          const errors = body.kind === 'single' ? body.singleResult.errors : body.initialResult.errors;
          if (errors?.length) rec.code = String(errors[0]!.extensions?.code ?? 'INTERNAL');
        },
      };
    },
  };
  return { middleware, apollo };
}

/**
 * The request id of a request: the client's X-Request-Id if well-formed, else a new one. It is
 * stored back into the request so that every later reader (the GraphQL context, the REST router,
 * another plugin) gets the same id, and echoed in the response.
 */
function ensureRequestId(req: Request, res: Response): string {
  const id = requestIdOf(req);
  req.headers['x-request-id'] = id;
  res.setHeader('X-Request-Id', id);
  return id;
}

function apiTypeOf(path: string): OperationType | undefined {
  if (path === '/graphql' || path.startsWith('/graphql/')) return 'unknown';
  if (path.startsWith('/rest/')) return 'rest';
  return undefined;
}

/** The catalog code of a status, for answers whose body did not name one (see api-errors.ts). */

/** Paths polled by probes and scrapers: logged at debug level so they do not drown the rest. */
const quietPaths = new Set(['/healthz', '/readyz', '/metrics']);

/** The request-logging plugin: one line per request through `logger` (see src/logging.ts). */
export function requestLogging(opts: { logger: Logger }): GatewayPlugin {
  const log = opts.logger;
  const tracker = requestTracker((r) => {
    const quiet = quietPaths.has(r.path);
    const level = quiet ? 'debug' : r.status >= 500 ? 'error' : 'info';
    if (!log.isLevelEnabled(level)) return;
    const line: Record<string, unknown> = {
      requestId: r.requestId, method: r.method, path: r.path, status: r.status, code: r.code,
      durationMs: Math.round(r.durationMs * 10) / 10,
    };
    if (r.type) line.type = r.type;
    // The operation name is the client's text: capped so a long one cannot bloat the log.
    if (r.operationName) line.operation = r.operationName.slice(0, 100);
    if (r.tenant !== undefined) line.tenant = r.tenant;
    if (r.aborted) line.aborted = true;
    log[level](line, 'request');
  });
  return {
    name: 'request-logging',
    middleware: [tracker.middleware],
    apollo: { plugins: [tracker.apollo] },
  };
}
