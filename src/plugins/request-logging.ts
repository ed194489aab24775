// One JSON log line per HTTP request (and per GraphQL operation sent over WebSocket): method, path,
// GraphQL operation type and name, tenant, HTTP status, the error code (the catalog's, or `ok`),
// duration and the request id; and one when a subscription over WebSocket ends, with why. The request id is
// the one the transport gave the request (the client's X-Request-Id when well-formed); it is sent
// to the apiserver on every Kubernetes call of the request as Audit-ID, which the apiserver adopts
// as the audit ID of its own audit events (so the two logs join on it).
//
// The record comes from the gateway's one request tracker (request-tracker.ts), which also feeds
// the metrics. Hand-written rather than pino-http: a log line is a flat record of chosen fields
// (pino-http binds a child logger with the whole request to every request).
import { flatLineWriter, type Logger } from '../logging.ts';
import type { GatewayPlugin } from './gateway-plugin.ts';
import type { RequestRecord, RequestStart, SubscriptionEndRecord } from './request-tracker.ts';

/** Paths polled by probes and scrapers: logged at debug level so they do not drown the rest. */
const quietPaths = new Set(['/healthz', '/readyz', '/metrics']);

/** The fields of a request line, in the order they are written. */
const lineFields = ['requestId', 'method', 'path', 'status', 'code', 'durationMs', 'type', 'operation', 'tenant', 'aborted'] as const;

/** Fields whose values come from small sets (and so are kept as text once made): not the request id or duration. */
const repeatingFields = ['method', 'path', 'status', 'code', 'type', 'operation', 'tenant'];

/** The fields of a request line. */
type RequestLine = {
  requestId: string;
  method: string;
  path: string;
  status: number;
  code: string;
  durationMs: number;
  type: string | undefined;
  operation: string | undefined;
  tenant: string | undefined;
  aborted: true | undefined;
};

/** The request-logging plugin: one line per request through `logger` (see src/logging.ts). */
export function requestLogging(opts: { logger: Logger }): GatewayPlugin {
  const log = opts.logger;
  // The gateway's own JSON logger writes the line itself (the same text pino would); others through pino.
  const write = flatLineWriter(log, lineFields, repeatingFields);
  // One object of one shape for every line, every field set each time (pino and the flat writer
  // leave out those that are undefined): both read it before the call returns, so it is filled in
  // again for the next request rather than made anew.
  const line: RequestLine = {
    requestId: '', method: '', path: '', status: 0, code: '', durationMs: 0, type: undefined, operation: undefined, tenant: undefined, aborted: undefined,
  };
  const onRequestDone = (r: RequestRecord) => {
    const quiet = quietPaths.has(r.path);
    const level = quiet ? 'debug' : r.status >= 500 ? 'error' : 'info';
    if (!log.isLevelEnabled(level)) return;
    line.requestId = r.requestId;
    line.method = r.method;
    line.path = r.path;
    line.status = r.status;
    line.code = r.code;
    line.durationMs = Math.round(r.durationMs * 10) / 10;
    line.type = r.type;
    // The operation name is the client's text: capped so a long one cannot bloat the log.
    line.operation = r.operationName ? r.operationName.slice(0, 100) : undefined;
    line.tenant = r.tenant;
    line.aborted = r.aborted ? true : undefined;
    if (!write?.(level, line, 'request')) log[level](line, 'request');
  };
  // Its headers are in: the request is in flight (what a shutdown must let finish).
  const onRequestStart = log.isLevelEnabled('trace')
    ? (r: RequestStart) => log.trace({ requestId: r.requestId, method: r.method, path: r.path }, 'request received')
    : undefined;
  return { name: 'request-logging', onRequestDone, onRequestStart, onSubscriptionEnd: (r) => logSubscriptionEnd(log, r) };
}

/**
 * One line per GraphQL subscription over WebSocket that ends, beside its start's request line:
 * how long it ran and why it ended. Ended by its stream, its client or its connection's close:
 * info; with an error of the gateway's for the client's sake (a slow consumer, a schema change):
 * warn; by a fault: error.
 */
function logSubscriptionEnd(log: Logger, r: SubscriptionEndRecord): void {
  const level = r.code === 'ok' || r.code === 'CANCELLED' ? 'info' : r.code === 'INTERNAL' ? 'error' : 'warn';
  if (!log.isLevelEnabled(level)) return;
  log[level]({
    requestId: r.requestId, type: 'subscription', operation: r.operationName?.slice(0, 100), tenant: r.tenant, code: r.code,
    durationMs: Math.round(r.durationMs * 10) / 10,
  }, 'subscription ended');
}
