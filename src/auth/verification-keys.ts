// The keys tokens are verified with: key material made into a key once, and the token issuer's key
// set (JWKS), fetched by jwks-rsa: cached jwksCacheSeconds, fetched again on an unknown kid at most
// jwksRequestsPerMinute times a minute, over TLS that trusts jwksCaFile (an issuer behind a private
// CA) instead of Node.js' public roots when the tenants file names one.
//
// While the issuer cannot be reached, jwks-rsa has no key for a kid whose cached key aged out, and
// every new token is refused with 503. With jwksFallbackSeconds, the key set last fetched keeps
// answering for up to that long past jwksCacheSeconds. It is kept as a whole and replaced by every
// answer of the issuer (the answer of the fetch that started last, timed from its start), so a key the issuer removed is gone from it once the issuer has answered
// without it: a later outage cannot bring the key back. (jwks-rsa's own cacheMaxAgeFallback keeps
// each key it ever served for its window, removed or not.)
import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import { get as httpGet } from 'node:http';
import { Agent, get as httpsGet } from 'node:https';
import { createRequire } from 'node:module';
import type { GetPublicKeyOrSecret } from 'jsonwebtoken';
import type { JwksClient, Options } from 'jwks-rsa';
import { ApiError } from '../api-errors.ts';
import type { KeySource } from './tenant-config.ts';

// jwks-rsa is loaded by the tenants files that use a JWKS (see authenticate.ts).
const require = createRequire(import.meta.url);

export type JwksSource = Extract<KeySource, { kind: 'jwks' }>;

/**
 * Key material made into a key as jsonwebtoken makes it on every verification it is given as text
 * or bytes (a public key if it parses as one, else a secret), but once: parsing a PEM (or failing
 * to) and making a secret key cost ~25 µs per request. Material that is neither is passed on as it
 * is, so each verification refuses it as before.
 */
export function verificationKey(material: string | Buffer): KeyObject | string | Buffer {
  try {
    return createPublicKey(material);
  } catch {
    // Not a public key: a secret, as jsonwebtoken would take it.
  }
  try {
    return createSecretKey(typeof material === 'string' ? Buffer.from(material) : material);
  } catch {
    return material;
  }
}

/** verificationKey per PEM of a key set, the most recent 64 (a key set rotates a few keys). */
function jwksKeys(): (pem: string) => KeyObject | string | Buffer {
  const keys = new Map<string, KeyObject | string | Buffer>();
  return (pem) => {
    let key = keys.get(pem);
    if (key !== undefined) return key;
    key = verificationKey(pem);
    if (keys.size >= 64) keys.delete(keys.keys().next().value!);
    keys.set(pem, key);
    return key;
  };
}

export interface KeySetOptions {
  /** Fetches the key set instead of jwks-rsa's HTTP request (tests). */
  fetcher?: (uri: string) => Promise<{ keys: unknown }>;
  /** ms since the epoch: the clock of the fallback window. */
  now: () => number;
  /** ms after a failed fetch during which the issuer is not asked again (5 s, the fetch timeout). */
  retryMs?: number;
  /** Told why the key set could not be fetched: a KeySetUnavailable, or a StaleKeySet while the last one is used. */
  report: (err: Error) => void;
}

/** jwks-rsa's error for a fetch held back by the rate limit (the resolver tells it by its name). */
let RateLimited: typeof import('jwks-rsa').JwksRateLimitError;

/** n calls a minute, as jwks-rsa's limiter counts them: a bucket of n, refilled continuously. */
function perMinute(n: number, now: () => number): () => boolean {
  let tokens = n;
  let at = now();
  return () => {
    const t = now();
    tokens = Math.min(n, tokens + ((t - at) * n) / 60_000);
    at = t;
    if (tokens < 1) return false;
    tokens -= 1;
    return true;
  };
}

/** An HTTP answer other than 2xx, or a 2xx whose body is no JSON: the issuer answered. */
class KeySetAnswer extends Error {
  readonly status: number;
  constructor(message: string, status: number) {
    super(message);
    this.name = 'KeySetAnswer';
    this.status = status;
  }
}

/**
 * Whether a failed fetch is an outage, which the kept key set may bridge: no answer (a network
 * error, a timeout), a 5xx, or an issuer too busy to answer (429 Too Many Requests, 408 Request
 * Timeout). Any other 4xx is the issuer's answer (a JWKS address retired, say), and a 2xx with a
 * body that is no key set is no outage either.
 */
function isOutage(err: unknown): boolean {
  if (!(err as { isEndpointUnavailable?: boolean }).isEndpointUnavailable) return false;
  return !(err instanceof KeySetAnswer) || err.status >= 500 || err.status === 429 || err.status === 408;
}

/**
 * GET the key set, as jwks-rsa's own request does (which drops the HTTP status the fallback needs),
 * trusting the private CA alone when there is one (Node.js' https takes its `ca` as the only roots).
 */
function fetchKeySet(agent: Agent | undefined, timeoutMs: number): (uri: string) => Promise<{ keys: unknown }> {
  return (uri) => new Promise((resolve, reject) => {
    const url = new URL(uri);
    const get = url.protocol === 'https:' ? httpsGet : httpGet;
    const req = get(url, { ...(agent ? { agent } : {}), timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        if (status < 200 || status >= 300) return reject(new KeySetAnswer(`HTTP ${status}${res.statusMessage ? ` ${res.statusMessage}` : ''}`, status));
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        } catch (err) {
          reject(new KeySetAnswer(`the answer is no JSON: ${(err as Error).message}`, status));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/** A JWKS client that knows whether its last fetch failed, and may answer with the last key set it fetched. */
type KeySetClient = JwksClient & { readonly unreachable: Error | undefined };

/**
 * jwks-rsa's client, with getKeys (its one fetch of the key set, under its cache; the rate limit is
 * counted here) falling back to the key set fetched last while the issuer cannot be reached:
 * within jwksCacheSeconds + jwksFallbackSeconds of that fetch, and only for an outage (no answer or
 * a 5xx, a 429 or 408, see isOutage). An answer, even one with fewer keys or none, replaces the kept set.
 */
function keySetClient(base: typeof JwksClient, options: Options, source: JwksSource, opts: KeySetOptions): KeySetClient {
  const retryMs = opts.retryMs ?? 5_000;
  const budget = perMinute(source.requestsPerMinute, opts.now);
  class LastKnownKeySet extends base {
    unreachable: Error | undefined = undefined;
    private last: { keys: unknown; at: number } | undefined = undefined;
    /** The fetch time of the kept set whose window's end was reported (once per kept set). */
    private expiredReported: number | undefined = undefined;
    /** When the last fetch failed: the issuer is not asked again for retryMs. */
    private failedAt = -Infinity;
    /** Fetches numbered as they start: an answer settles the state only if no later fetch has settled it. */
    private started = 0;
    private settled = 0;

    override async getKeys(): Promise<unknown> {
      // While the issuer is known to be down, a fetch would only wait for its timeout; and a token
      // with a made-up kid must not spend the refetch budget that the next fetch needs.
      if (this.unreachable && opts.now() < this.failedAt + retryMs) return this.kept(this.unreachable);
      if (!budget()) {
        if (this.unreachable) return this.kept(this.unreachable);
        throw new RateLimited('Too many requests to the JWKS endpoint');
      }
      return this.fetch();
    }

    private async fetch(): Promise<unknown> {
      const seq = ++this.started;
      // The window of a key set runs from the fetch's start: the issuer's set may change while it is in flight.
      const startedAt = opts.now();
      try {
        const keys = await super.getKeys();
        if (seq > this.settled) {
          this.settled = seq;
          this.unreachable = undefined;
          this.last = { keys, at: startedAt };
        }
        return keys;
      } catch (err) {
        const error = err instanceof Error ? err : new Error(String(err));
        if (seq > this.settled) {
          this.settled = seq;
          this.unreachable = error;
          this.failedAt = opts.now();
        }
        return this.kept(error);
      }
    }

    /** The key set fetched last, while its window is open and the error is the issuer's being unreachable; else the error. */
    private kept(err: Error): unknown {
      const last = this.last;
      const fallbackMs = source.fallbackMs ?? 0;
      if (!last || fallbackMs <= 0 || !isOutage(err)) throw err;
      const until = last.at + source.cacheMaxAgeMs + fallbackMs;
      if (opts.now() >= until) {
        if (this.expiredReported !== last.at) opts.report(new FallbackExpired(err, source.uri, last.at, until));
        this.expiredReported = last.at;
        throw err;
      }
      opts.report(new StaleKeySet(err, source.uri, last.at, until));
      return last.keys;
    }
  }
  return new LastKnownKeySet(options);
}

/** The key of a token's kid in the issuer's key set. */
export function jwksKeyResolver(source: JwksSource, opts: KeySetOptions): GetPublicKeyOrSecret {
  const jwksRsa = require('jwks-rsa') as typeof import('jwks-rsa');
  RateLimited ??= jwksRsa.JwksRateLimitError;
  const client = keySetClient(jwksRsa.JwksClient, {
    jwksUri: source.uri,
    cache: true,
    cacheMaxAge: source.cacheMaxAgeMs,
    // An unknown kid triggers a refetch (key rotation), at most jwksRequestsPerMinute times a minute:
    // counted in getKeys (keySetClient), which answers without fetching while the issuer is down.
    rateLimit: false,
    timeout: 5_000,
    // Node.js' https takes `ca` as the only roots it trusts: the private CA, not the public ones.
    fetcher: (opts.fetcher ?? fetchKeySet(source.ca ? new Agent({ ca: source.ca.pem }) : undefined, 5_000)) as (uri: string) => Promise<{ keys: any }>,
  }, source, opts);
  const keyOf = jwksKeys();
  return (header, cb) => {
    const kid = header.kid;
    if (!kid) return cb(new Error('the token header has no kid, which a JWKS needs to pick the key'));
    client.getSigningKey(kid).then((k) => cb(null, keyOf(k.getPublicKey())), (err: Error) => {
      const name = err?.name;
      // While the issuer cannot be reached, a kid missing from the last key set, or a fetch held
      // back by the rate limit, says nothing about the token: the issuer may have a new key.
      const unreachable = client.unreachable;
      if (!unreachable && name === 'SigningKeyNotFoundError') cb(new Error(`unknown key id "${header.kid}"`));
      else if (!unreachable && name === 'JwksRateLimitError') cb(new Error(`unknown key id "${header.kid}" (key set refetch rate-limited)`));
      else {
        // A kid missing from a set that was looked in: the kept one, which still answers for the others.
        const unavailable = name === 'SigningKeyNotFoundError'
          ? new UnknownKidDuringOutage(unreachable, source.uri, kid)
          : new KeySetUnavailable(unreachable ?? err, source.uri);
        opts.report(unavailable);
        cb(unavailable);
      }
    });
  };
}

/** A URL without user info or query (either could carry a credential). */
function uriForLog(uri: string): string {
  try {
    const u = new URL(uri);
    return u.origin + u.pathname;
  } catch {
    return 'the configured jwksUri';
  }
}

const causeText = (cause: unknown) => (cause as Error | undefined)?.message ?? String(cause);

/** The JWKS could not be fetched or held no usable key: the issuer's (or the network's) fault, not the caller's. */
export class KeySetUnavailable extends Error {
  constructor(cause: unknown, uri: string) {
    super(`cannot fetch the token issuer's key set (JWKS) at ${uriForLog(uri)}: ${causeText(cause)}`, { cause });
    this.name = 'KeySetUnavailable';
  }

  /** What the caller gets: 503, retry; the JWKS address and the network error stay in the gateway. */
  refusal(): ApiError {
    return new ApiError('UNAVAILABLE', 'the gateway cannot fetch its token issuer\'s keys (JWKS) to verify the token; retry shortly',
      { reason: 'ServiceUnavailable', retryAfterSeconds: 5 }, { cause: this });
  }
}

/** The issuer cannot be reached and the kept key set (jwksFallbackSeconds) lacks the token's kid: 503 for that token only. */
export class UnknownKidDuringOutage extends KeySetUnavailable {
  constructor(cause: unknown, uri: string, kid: string) {
    super(cause, uri);
    this.message = `key id "${kid}" is not in the key set kept from the last fetch, and the token issuer's key set (JWKS) at ${uriForLog(uri)} cannot be fetched: ${causeText(cause)}; tokens with other key ids are still verified`;
    this.name = 'UnknownKidDuringOutage';
  }
}

/** The window of the kept key set (jwksFallbackSeconds) has ended while the issuer is still unreachable. */
export class FallbackExpired extends Error {
  constructor(cause: unknown, uri: string, fetchedAt: number, until: number) {
    super(`cannot fetch the token issuer's key set (JWKS) at ${uriForLog(uri)}: ${causeText(cause)}; the key set fetched at ${new Date(fetchedAt).toISOString()} stood in for it until ${new Date(until).toISOString()} (jwksFallbackSeconds) and no longer does`, { cause });
    this.name = 'FallbackExpired';
  }
}

/** The JWKS could not be fetched, and the one fetched last is used meanwhile (jwksFallbackSeconds). */
export class StaleKeySet extends Error {
  constructor(cause: unknown, uri: string, fetchedAt: number, until: number) {
    super(`cannot fetch the token issuer's key set (JWKS) at ${uriForLog(uri)}: ${causeText(cause)}; the key set fetched at ${new Date(fetchedAt).toISOString()} stands in for it until ${new Date(until).toISOString()} (jwksFallbackSeconds)`, { cause });
    this.name = 'StaleKeySet';
  }
}
