// Who calls an API route (GraphQL over HTTP, REST): with tenants, the caller of the bearer token;
// then admission by the budgets (rate limits) under the caller's tenant ('' without tenants). It
// runs after the route's body parser and before the route, and a refusal is answered in the
// route's own error format. WebSocket connections authenticate in connection_init instead, and
// each operation sent over one is admitted there (graphql-ws-server.ts).
import type { RequestHandler, Request, Response } from 'express';
import { ApiError } from '../api-errors.ts';
import type { Caller } from '../auth/authenticate.ts';

export interface ApiGateOptions {
  /** With tenants: verifies the bearer token; absent: callers act as the gateway. */
  authenticate?: (authorization: string | undefined) => Promise<Caller>;
  /** Throws (or rejects with) an ApiError (TOO_MANY_REQUESTS) when the tenant is over its budget. */
  admit?: (tenant: string) => void | Promise<void>;
}

/** The caller the gate found, for the route behind it; undefined without tenants. */
export function callerOf(res: Response): Caller | undefined {
  return res.locals.caller as Caller | undefined;
}

export function apiGate(opts: ApiGateOptions, refuse: (req: Request, res: Response, err: unknown) => void): RequestHandler {
  return async (req, res, next) => {
    try {
      if (opts.authenticate) {
        refuseTwoAuthorizations(req);
        res.locals.caller = await opts.authenticate(req.get('authorization'));
      }
      await opts.admit?.(callerOf(res)?.tenant ?? '');
    } catch (err) {
      refuse(req, res, err);
      return;
    }
    next();
  };
}

/**
 * Node keeps the first of several Authorization headers and drops the rest: a request with two
 * (one added by a proxy, one by the client) would be judged by whichever came first. Refused.
 */
function refuseTwoAuthorizations(req: Request): void {
  let seen = 0;
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.length === 13 && raw[i]!.toLowerCase() === 'authorization') seen++;
  if (seen > 1) throw new ApiError('UNAUTHENTICATED', `the request carries ${seen} Authorization headers; send one bearer token`, { reason: 'Unauthorized', authReason: 'TOKEN_MALFORMED' });
}
