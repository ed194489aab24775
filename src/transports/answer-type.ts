// The media type of a GraphQL answer over HTTP as Apollo Server chooses it from the request's
// Accept header (application/json, application/graphql-response+json, or the JSON callback type),
// remembered per distinct header value. Apollo negotiates it with the negotiator library for
// every answer (about 3 KiB and 2–4% of a get's CPU when the client sends Accept, as GraphQL
// clients do); given the type, it skips its own negotiation. Same library, same offers in the
// same order: the same choice for every value.
import { LRUCache } from 'lru-cache';
import Negotiator from 'negotiator';

/** Apollo Server's media types for single results, in the order it offers them (its MEDIA_TYPES). */
const offered = [
  'application/json; charset=utf-8',
  'application/graphql-response+json; charset=utf-8',
  'application/json; callbackSpec=1.0; charset=utf-8',
];

/**
 * Accept header values → the media type chosen, or '' when none is acceptable. Bounded, as clients
 * choose the values, and the least recently sent go first: values sent once do not keep the ones
 * clients send all the time out.
 */
const chosen = new LRUCache<string, string>({ max: 64 });

/**
 * The media type Apollo Server would choose for a single result, for a request with this Accept
 * header; undefined without one (Apollo's default costs nothing then) or when none of its types
 * is acceptable (Apollo then answers 406 itself).
 */
export function answerType(accept: string | undefined): string | undefined {
  if (!accept) return undefined;
  let type = chosen.get(accept);
  if (type === undefined) {
    type = new Negotiator({ headers: { accept } }).mediaType(offered) ?? '';
    chosen.set(accept, type);
  }
  return type || undefined;
}
