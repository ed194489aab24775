// CORS for browser apps served from another origin (--cors-origins): the GraphQL endpoint, the REST
// facade (its SSE watches included) and the OpenAPI documents. The `cors` package (expressjs/cors)
// writes the headers; this file decides which origins, paths, methods and headers it allows.
//
// Only exact origins are allowed, never `*`, and no Access-Control-Allow-Credentials: callers
// authenticate with a bearer token the page sets itself, so no cookie or other ambient credential
// needs to cross origins. An origin not on the list gets no CORS header at all (the browser
// blocks the answer), and its request runs as it would without CORS.
// WebSockets are not subject to CORS: graphql-ws authenticates in connection_init.
import cors from 'cors';
import type { RequestHandler } from 'express';

/** The request headers clients send: the bearer token, JSON and patch types, Apollo's CSRF and operation headers, request ids, traces, SSE resumes. */
export const corsAllowedHeaders: readonly string[] = [
  'Authorization', 'Content-Type', 'Accept', 'apollo-require-preflight', 'x-apollo-operation-name',
  'apollographql-client-name', 'apollographql-client-version', 'X-Request-Id', 'traceparent', 'tracestate', 'Last-Event-ID',
];

/** Response headers a page may read beyond the CORS-safelisted ones. */
export const corsExposedHeaders: readonly string[] = ['X-Request-Id', 'WWW-Authenticate', 'Retry-After', 'Warning'];

export const corsMethods: readonly string[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'];

/** How long a browser may keep a preflight's answer, in seconds (Chromium keeps it 2 h at most). */
export const corsMaxAgeSeconds = 600;

/** The paths served cross-origin: the APIs and their descriptions, not the pages or the probes. */
export function isCrossOriginPath(path: string): boolean {
  return path === '/graphql' || path === '/rest' || path.startsWith('/rest/') || path === '/openapi.json' || path === '/openapi.yaml';
}

/**
 * The CORS middleware for the allowed origins (exact `scheme://host[:port]` strings). A preflight
 * (OPTIONS) from an allowed origin is answered here with 204; everything else goes on.
 */
export function crossOrigin(origins: readonly string[]): RequestHandler {
  const allowed = new Set(origins);
  const handler = cors({
    origin: (origin, done) => done(null, origin !== undefined && allowed.has(origin) ? origin : false),
    methods: [...corsMethods],
    allowedHeaders: [...corsAllowedHeaders],
    exposedHeaders: [...corsExposedHeaders],
    maxAge: corsMaxAgeSeconds,
  });
  return (req, res, next) => {
    if (!isCrossOriginPath(req.path)) return next();
    // The answer depends on Origin whether or not this one is allowed: a shared cache must not
    // give an answer without CORS headers to an allowed origin, or the other way round.
    res.vary('Origin');
    handler(req, res, next);
  };
}
