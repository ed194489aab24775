// Tokens that passed verification, so that a token sent again is not verified again (issue #15):
// an RS256 or ES256 signature from a key set costs 30–50 µs of every request, HS256 ~7 µs.
//
// A remembered verification is used only while verification would accept the token now:
// - time: the same test jsonwebtoken makes, on the same clock (nbf ≤ now + tolerance,
//   now < exp + tolerance, in whole seconds), so an entry ends exactly when the token expires;
// - key: the Authenticator asks its key resolver for the token's key again, as verification
//   would, and uses the entry only if it hands back the very key object the signature was checked
//   with. A kid dropped from a key set, or replaced by another key, gives no key or another
//   object, and the token is verified again (and refused, or accepted with the new key). The key
//   resolver keeps its own caching and refetch rules, so a rotation takes effect exactly when it
//   would without this cache. Static keys are made once per Authenticator, and a changed tenants
//   file makes a new Authenticator with an empty cache.
// Anything else the token is checked for (iss, aud, algorithms, signature) depends only on the
// token text and the Authenticator's configuration, so it cannot change while the entry lives.
//
// Entries are keyed by the token's SHA-256, as TokenReview answers are (the token itself, a
// credential, is never kept; a collision would need a SHA-256 collision). Only tokens that were
// accepted are remembered: a refused token is verified again each time, and refusals cannot fill
// the cache. Bounded in entries and in bytes (the claims kept are about the token's size).
import { hash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { JwtHeader, JwtPayload } from 'jsonwebtoken';

export interface VerifiedToken {
  header: JwtHeader;
  payload: JwtPayload;
}

export interface VerifiedTokensOptions {
  clockToleranceSeconds: number;
  /** ms since the epoch; the clock verification uses too. */
  now: () => number;
  maxEntries?: number;
  /** Bound of the kept claims, counted as twice each token's length. */
  maxBytes?: number;
  /** How long a token without exp is trusted (verification refuses those today). */
  noExpirySeconds?: number;
}

interface Entry {
  readonly verified: VerifiedToken;
  /** The key object the signature was checked with. */
  readonly key: unknown;
  readonly notBefore: number | undefined;
  /** Seconds since the epoch at which verification would refuse the token as expired. */
  readonly expires: number;
}

export class VerifiedTokens {
  private readonly opts: VerifiedTokensOptions;
  private readonly entries: LRUCache<string, Entry>;

  constructor(opts: VerifiedTokensOptions) {
    this.opts = opts;
    this.entries = new LRUCache({
      max: opts.maxEntries ?? 10_000,
      maxSize: opts.maxBytes ?? 16 * 2 ** 20,
    });
  }

  get size(): number {
    return this.entries.size;
  }

  /** The remembered verification of a token while its time checks still pass, and the key it was made with. */
  lookup(token: string): { verified: VerifiedToken; key: unknown } | undefined {
    const id = tokenId(token);
    const e = this.entries.get(id);
    if (!e) return undefined;
    const now = Math.floor(this.opts.now() / 1000);
    const tolerance = this.opts.clockToleranceSeconds;
    if ((e.notBefore !== undefined && e.notBefore > now + tolerance) || now >= e.expires) {
      this.entries.delete(id);
      return undefined;
    }
    return e;
  }

  /** A token verification accepted with this key (the claims are frozen: every request shares them). */
  remember(token: string, verified: VerifiedToken, key: unknown): void {
    const { payload } = verified;
    const tolerance = this.opts.clockToleranceSeconds;
    const expires = typeof payload.exp === 'number'
      ? payload.exp + tolerance
      : Math.floor(this.opts.now() / 1000) + (this.opts.noExpirySeconds ?? 60);
    const entry: Entry = { verified: deepFreeze(verified), key, notBefore: typeof payload.nbf === 'number' ? payload.nbf : undefined, expires };
    this.entries.set(tokenId(token), entry, { size: 2 * token.length });
  }

  /** Drops a token whose key no longer verifies it. */
  forget(token: string): void {
    this.entries.delete(tokenId(token));
  }
}

function tokenId(token: string): string {
  return hash('sha256', token, 'base64');
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
