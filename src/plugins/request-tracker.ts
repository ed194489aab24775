// One record per HTTP request, for every plugin that wants one (request logs, metrics): method,
// path, the GraphQL operation, the error catalog's code, status, duration, tenant and request id.
// One middleware and one pair of listeners per request, however many plugins read the record: the
// transports note the operation and the error code on the response as they answer (see
// request-outcome.ts), and the record is put together from those notes when the response is done.
import type { RequestHandler, Response } from 'express';
import { codeOfHttpStatus } from '../api-errors.ts';
import type { Caller } from '../auth/authenticate.ts';
import { errorCodeOf, operationOf } from './request-outcome.ts';

export type OperationType = 'query' | 'mutation' | 'subscription' | 'rest' | 'unknown';

/** What is known about one HTTP request once its response is finished (or the client left). */
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

/** What is known about an HTTP request once its headers are in. */
export type RequestStart = Pick<RequestRecord, 'method' | 'path' | 'requestId'>;

/** A request's outcome as the transports noted it on its response. */
export function outcomeOf(res: Response, path: string): Pick<RequestRecord, 'type' | 'operationName' | 'code' | 'tenant' | 'aborted'> {
  const aborted = !res.writableFinished;
  const operation = operationOf(res);
  const status = res.statusCode;
  const code = errorCodeOf(res) ?? (aborted && status < 400 ? 'CANCELLED' : status >= 400 ? codeOfHttpStatus(status) : 'ok');
  return { type: operation.type ?? apiTypeOf(path), operationName: operation.name, code, tenant: (res.locals.caller as Caller | undefined)?.tenant, aborted };
}

/**
 * Express middleware (it must run before the routes) that calls onDone once per HTTP request with
 * its record, and onStart (when given) as the request comes in.
 */
export function requestTracker(onDone: (r: RequestRecord) => void, onStart?: (r: RequestStart) => void): RequestHandler {
  return (req, res, next) => {
    const started = performance.now();
    // The transport gave the request its id before any middleware ran (see create-app.ts).
    const requestId = req.headers['x-request-id'] as string | undefined ?? '';
    const { method, path } = req;
    onStart?.({ method, path, requestId });
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      onDone({ method, path, status: res.statusCode, durationMs: performance.now() - started, requestId, ...outcomeOf(res, path) });
    };
    res.once('finish', finish);
    res.once('close', finish);
    next();
  };
}

/** The API of a path: 'unknown' for GraphQL until its operation is known (a refusal before it is). */
function apiTypeOf(path: string): OperationType | undefined {
  if (path === '/graphql' || path.startsWith('/graphql/')) return 'unknown';
  if (path.startsWith('/rest/')) return 'rest';
  return undefined;
}
