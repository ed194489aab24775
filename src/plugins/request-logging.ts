// One JSON log line per HTTP request: method, path, GraphQL operation type and name, tenant, HTTP
// status, the error code (the catalog's, or `ok`), duration and the request id. The request id is
// the one the transport gave the request (the client's X-Request-Id when well-formed); it is sent
// to the apiserver on every Kubernetes call of the request as Audit-ID, which the apiserver adopts
// as the audit ID of its own audit events (so the two logs join on it).
//
// The request tracker below is shared with the metrics plugin: Express sees every request and its
// status, Apollo sees the operation and its errors; a key in an internal request header (which
// Apollo copies into its own request) joins the two. Hand-written rather than pino-http: the same
// record feeds the metrics with logging off, and a log line is a flat record of chosen fields
// (pino-http binds a child logger with the whole request to every request).
import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import type { RequestHandler } from 'express';
import { codeOfHttpStatus } from '../api-errors.ts';
import type { Caller } from '../auth/authenticate.ts';
import { errorCodeOf } from './request-outcome.ts';
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
export function requestTracker(onDone: (r: RequestRecord) => void, onStart?: (r: RequestRecord) => void): { middleware: RequestHandler; apollo: ApolloServerPlugin<BaseContext> } {
  // Each tracker has its own key header: a client cannot inject one, the middleware overwrites it.
  const header = `x-crdgate-track-${++trackers}`;
  const pending = new Map<string, RequestRecord>();
  let next = 0;
  const middleware: RequestHandler = (req, res, nextHandler) => {
    const started = performance.now();
    const key = (next++).toString(36);
    req.headers[header] = key;
    // The transport gave the request its id before any middleware ran (see create-app.ts).
    const requestId = req.get('x-request-id') ?? '';
    const path = req.path;
    const rec: RequestRecord = {
      method: req.method, path, type: apiTypeOf(path), operationName: undefined, code: '',
      status: 0, durationMs: 0, tenant: undefined, requestId, aborted: false,
    };
    pending.set(key, rec);
    onStart?.(rec);
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      pending.delete(key);
      rec.aborted = !res.writableFinished;
      rec.status = res.statusCode;
      rec.durationMs = performance.now() - started;
      rec.tenant = (res.locals.caller as Caller | undefined)?.tenant;
      // Apollo's code of a GraphQL answer, else the code the transport noted for its error answer.
      if (!rec.code && res.statusCode >= 400) rec.code = errorCodeOf(res) ?? '';
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

function apiTypeOf(path: string): OperationType | undefined {
  if (path === '/graphql' || path.startsWith('/graphql/')) return 'unknown';
  if (path.startsWith('/rest/')) return 'rest';
  return undefined;
}

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
  }, log.isLevelEnabled('trace')
    // Its headers are in: the request is in flight (what a shutdown must let finish).
    ? (r) => log.trace({ requestId: r.requestId, method: r.method, path: r.path }, 'request received')
    : undefined);
  return {
    name: 'request-logging',
    middleware: [tracker.middleware],
    apollo: { plugins: [tracker.apollo] },
  };
}
