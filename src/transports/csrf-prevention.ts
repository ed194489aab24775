// Apollo Server's CSRF prevention (csrfPrevention: true, its preventCsrf), run by apolloHandler
// with Apollo's own check turned off (newApollo). A GraphQL request is refused when a browser could
// have sent it cross-site without a CORS preflight: it has no Content-Type, or one of the three
// "simple" ones, and none of the headers only a script can set (Apollo's two, and, beyond Apollo,
// a bearer token: the gateway's callers send one with every request). Apollo parses the Content-Type of
// every request for that with whatwg-mimetype (about 3% of a get's CPU and 1.3 KiB); here the
// outcome is kept per distinct header value (a client sends one or two), from the same parser,
// so the decision for every value is the one Apollo makes.
import { HeaderMap } from '@apollo/server';
import { GraphQLError } from 'graphql';
import { LRUCache } from 'lru-cache';
import MIMEType from 'whatwg-mimetype';
import type { IncomingHttpHeaders } from 'node:http';
import { bearerToken } from '../auth/authenticate.ts';

/** The media types a browser sends cross-site without a preflight (Apollo's list, in its order). */
const simpleTypes = ['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain'];

/** Headers a page can only set with a preflight: a non-empty one makes a request safe (Apollo's defaults). */
const preflightHeaders = ['x-apollo-operation-name', 'apollo-require-preflight'];

/**
 * Whether the Authorization header carries a bearer token, as authentication reads one ("Bearer
 * <token>", or a bare JWT). It is one more sign of a preflight, beyond Apollo's: a page can only
 * attach an Authorization header cross-site after a preflight, and browsers send none by
 * themselves but Basic, Digest or Negotiate after a log-in. GraphQL clients that send queries as
 * GET (urql by default, Apollo Client's useGETForQueries, graphql-request's GET) send no
 * Content-Type and no Apollo header, only the caller's token.
 */
function carriesBearerToken(authorization: string | undefined): boolean {
  if (authorization === undefined) return false;
  try {
    bearerToken(authorization);
    return true;
  } catch {
    return false;
  }
}

/** Apollo Server's message for the refusal, word for word. */
const refusalMessage = 'This operation has been blocked as a potential Cross-Site Request Forgery (CSRF). '
  + `Please either specify a 'content-type' header (with a type that is not one of ${simpleTypes.join(', ')}) `
  + `or provide a non-empty value for one of the following headers: ${preflightHeaders.join(', ')}\n`;

/**
 * Content-Type header values → whether a browser needs a preflight to send one. Bounded, as clients
 * choose the values, and the least recently sent go first: values sent once (by a scanner, say)
 * do not keep the ones clients send all the time out.
 */
const preflighted = new LRUCache<string, boolean>({ max: 64 });

/** A Content-Type that is not a simple one, or does not parse (Apollo lets those through: its body parsing refuses them). */
function needsPreflight(contentType: string): boolean {
  let needs = preflighted.get(contentType);
  if (needs === undefined) {
    const parsed = MIMEType.parse(contentType);
    needs = parsed === null || !simpleTypes.includes(parsed.essence);
    preflighted.set(contentType, needs);
  }
  return needs;
}

/**
 * The error Apollo Server answers a request with when it might be a cross-site request forgery
 * (BAD_REQUEST, HTTP 400), or undefined when the request is safe to run.
 */
export function csrfRefusal(headers: IncomingHttpHeaders): GraphQLError | undefined {
  const contentType = headers['content-type'];
  if (contentType !== undefined && needsPreflight(contentType)) return undefined;
  for (const name of preflightHeaders) {
    const value = headers[name];
    if (value !== undefined && value.length > 0) return undefined;
  }
  if (carriesBearerToken(headers.authorization)) return undefined;
  return new GraphQLError(refusalMessage, { extensions: { http: { status: 400, headers: new HeaderMap() }, code: 'BAD_REQUEST' } });
}
