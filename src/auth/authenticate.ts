// Bearer token → verified claims → tenant → the Kubernetes identity the gateway impersonates.
// Verification pins the configured algorithms (never "none", never a switch between key types),
// and checks iss, aud, exp and nbf with a small clock tolerance. Keys come from a JWKS URL
// (cached, refetched on an unknown kid, rate-limited; see verification-keys.ts), a PEM public key,
// or a shared secret.
// An accepted token sent again is not verified again while verification would still accept it
// (verified-tokens.ts); the tenant mapping runs on every request.
import { createRequire } from 'node:module';
import type { GetPublicKeyOrSecret, JwtHeader, JwtPayload } from 'jsonwebtoken';
import { ApiError, type AuthReason } from '../api-errors.ts';
import { isSafeIdentityValue, type Impersonation } from '../kube/kube-client.ts';
import type { JwtAuthConfig, TenantConfig, TenantRule } from './tenant-config.ts';
import type { TenantLimits } from '../contract/caller-context.ts';
import { mapReviewedUser, type TokenReviewer } from './token-review.ts';
import { VerifiedTokens, type VerifiedToken, type VerifiedTokensOptions } from './verified-tokens.ts';
import { jwksKeyResolver, KeySetUnavailable, verificationKey } from './verification-keys.ts';

// JWT verification and JWKS clients are loaded by the tenants files that use them (a gateway
// without authentication, or with TokenReview, never does): together ~25 MB of memory.
const require = createRequire(import.meta.url);
let jwtModule: typeof import('jsonwebtoken') | undefined;
const jwt = () => (jwtModule ??= require('jsonwebtoken') as typeof import('jsonwebtoken'));

export interface Caller {
  tenant: string;
  identity: Impersonation;
  subject?: string;
  /** When the token stops being valid (ms since the epoch); subscriptions end then. */
  expiresAt?: number;
  /** The tenant's overrides of the query limits. */
  limits?: TenantLimits;
  /** The manager name the tenant's writes record in managedFields when the client names none. */
  fieldManager?: string;
  /**
   * Asks again whether the token is still valid (TokenReview mode: a token can be revoked before
   * it expires); throws the refusal when it is not. Live subscriptions call it every
   * revalidateEveryMs.
   */
  revalidate?: () => Promise<void>;
  revalidateEveryMs?: number;
}

export interface AuthenticatorOptions {
  fetcher?: (uri: string) => Promise<{ keys: unknown }>;
  /** ms after a failed JWKS fetch during which the issuer is not asked again (5 s; tests shorten it). */
  keySetRetryMs?: number;
  /** TokenReview mode: asks the apiserver who a token's holder is. */
  tokenReviewer?: TokenReviewer;
  /** ms since the epoch: the clock of exp, nbf and iat. */
  now?: () => number;
  /**
   * Told when the JWKS cannot be fetched, at most once a minute per kind: a KeySetUnavailable
   * (callers get 503 meanwhile); with jwksFallbackSeconds, a StaleKeySet (the last key set fetched
   * stands in), an UnknownKidDuringOutage (a kid it lacks: 503 for that token), a FallbackExpired
   * (its window has ended).
   * The cause (the issuer's address, the network error) is for the gateway's log, not for callers.
   */
  onKeySetError?: (err: Error) => void;
  /** Bounds of the accepted tokens kept so that they are not verified again. */
  verifiedTokens?: Pick<VerifiedTokensOptions, 'maxEntries' | 'maxBytes'>;
}

export class Authenticator {
  private readonly config: TenantConfig;
  private readonly getKey: GetPublicKeyOrSecret | undefined;
  private readonly tokenReviewer: TokenReviewer | undefined;
  private readonly now: () => number;
  /** Accepted tokens: a token sent again is not verified again while verification would still accept it. */
  private readonly verifiedTokens: VerifiedTokens | undefined;

  constructor(config: TenantConfig, opts: AuthenticatorOptions = {}) {
    this.config = config;
    this.now = opts.now ?? Date.now;
    this.getKey = config.auth.mode === 'jwt' ? keyResolver(config.auth, opts, this.now, oncePerMinute(opts.onKeySetError, this.now)) : undefined;
    this.verifiedTokens = config.auth.mode === 'jwt'
      ? new VerifiedTokens({ clockToleranceSeconds: config.auth.clockToleranceSeconds, now: this.now, ...opts.verifiedTokens })
      : undefined;
    this.tokenReviewer = opts.tokenReviewer;
    if (config.auth.mode === 'tokenReview' && !this.tokenReviewer) throw new Error('a tokenReview tenants file needs a TokenReviewer');
  }

  /** Accepts the value of an Authorization header (or a bare token). */
  async authenticate(authorization: string | undefined): Promise<Caller> {
    const token = bearerToken(authorization);
    const auth = this.config.auth;
    if (auth.mode === 'tokenReview') {
      const reviewed = await this.tokenReviewer!.review(token);
      const caller = mapReviewedUser(reviewed, this.config.tenants, auth);
      caller.revalidate = async () => {
        mapReviewedUser(await this.tokenReviewer!.review(token), this.config.tenants, auth);
      };
      caller.revalidateEveryMs = Math.max(auth.cacheSeconds, 1) * 1000;
      return caller;
    }
    const remembered = await this.remembered(token);
    const verified = remembered ?? await this.verifyWithKey(token);
    const { header, payload } = verified;
    // Per request: the lifetime check reads the clock, and the tenant rules decide the identity.
    checkCriticalHeader(header);
    checkTokenType(header, auth);
    checkLifetime(payload, auth, this.now());
    const caller = mapClaims(payload, this.config.tenants, { maxGroups: auth.maxGroups });
    if (!remembered) this.verifiedTokens!.remember(token, { header, payload }, verified.key);
    return caller;
  }

  verify(token: string): Promise<{ header: JwtHeader; payload: JwtPayload }> {
    return this.verifyWithKey(token).then(({ header, payload }) => ({ header, payload }));
  }

  /**
   * The remembered verification of an accepted token if verification would accept it now: its
   * time checks pass, and the key resolver still gives the key it was verified with (see
   * verified-tokens.ts). Otherwise the entry is dropped and the token is verified again.
   */
  private async remembered(token: string): Promise<(VerifiedToken & { key?: undefined }) | undefined> {
    const hit = this.verifiedTokens!.lookup(token);
    if (!hit) return undefined;
    const key = await new Promise<unknown>((resolve) => this.getKey!(hit.verified.header, (err, k) => resolve(err ? undefined : k)));
    if (key !== undefined && key === hit.key) return hit.verified;
    this.verifiedTokens!.forget(token);
    return undefined;
  }

  /** jsonwebtoken's verification, and the key the signature was checked with. */
  private verifyWithKey(token: string): Promise<VerifiedToken & { key: unknown }> {
    const a = this.config.auth as JwtAuthConfig;
    let key: unknown;
    let keyError: unknown;
    const getKey: GetPublicKeyOrSecret = (h, cb) => this.getKey!(h, (err, k) => {
      key = k;
      keyError = err;
      cb(err, k);
    });
    return new Promise((resolve, reject) => {
      jwt().verify(token, getKey, {
        algorithms: a.algorithms,
        issuer: a.issuer,
        audience: a.audience.length === 1 ? a.audience[0]! : (a.audience as [string, ...string[]]),
        clockTolerance: a.clockToleranceSeconds,
        clockTimestamp: Math.floor(this.now() / 1000),
        complete: true,
      }, (err, decoded) => {
        // The issuer's key set could not be fetched: nothing is known about the token, and the
        // caller is not at fault (a 401 would make clients drop a good token, or give up).
        if (err && keyError instanceof KeySetUnavailable) return reject(keyError.refusal());
        if (err) return reject(unauthenticated(...explain(err)));
        const payload = decoded?.payload;
        if (!decoded || !payload || typeof payload === 'string') return reject(unauthenticated('the token has no JSON claims', 'TOKEN_MALFORMED'));
        if (payload.exp === undefined) return reject(unauthenticated('the token has no expiry (exp); tokens must expire', 'TOKEN_NO_EXPIRY'));
        resolve({ header: decoded.header, payload, key });
      });
    });
  }
}

/** The token of an Authorization header ("Bearer <token>", or a bare JWT). */
export function bearerToken(authorization: string | undefined): string {
  if (!authorization || !authorization.trim()) throw unauthenticated('a bearer token is required: send Authorization: Bearer <token>', 'TOKEN_MISSING');
  const m = /^\s*Bearer\s+(\S+)\s*$/i.exec(authorization);
  const token = m ? m[1]! : /^[\w-]+\.[\w-]+\.[\w-]*$/.test(authorization.trim()) ? authorization.trim() : undefined;
  if (!token) throw unauthenticated('the Authorization header must be "Bearer <token>"', 'TOKEN_MALFORMED');
  return token;
}

/**
 * RFC 7515 4.1.11: a recipient must refuse a token whose "crit" names a header parameter it does
 * not understand, since the issuer made the token's meaning depend on it; the gateway understands
 * no extension, so any "crit" is refused (jsonwebtoken ignores it).
 */
function checkCriticalHeader(header: JwtHeader): void {
  const crit = (header as { crit?: unknown }).crit;
  if (crit === undefined) return;
  const names = JSON.stringify(crit).slice(0, 200);
  throw unauthenticated(`the token's header marks parameters as critical (crit: ${names}) that the gateway does not understand (RFC 7515 4.1.11)`, 'TOKEN_MALFORMED');
}

/** RFC 8725 3.11: a "typ" compares case-insensitively, with or without its "application/" prefix. */
function checkTokenType(header: JwtHeader, auth: JwtAuthConfig): void {
  if (!auth.typ) return;
  const norm = (t: string) => t.toLowerCase().replace(/^application\//, '');
  const typ = typeof header.typ === 'string' ? norm(header.typ) : undefined;
  if (typ !== undefined && auth.typ.some((t) => norm(t) === typ)) return;
  throw unauthenticated(`the token type (typ) is ${typ === undefined ? 'missing' : `"${header.typ}"`}; accepted: ${auth.typ.join(', ')}`, 'TOKEN_TYPE');
}

function checkLifetime(claims: JwtPayload, auth: JwtAuthConfig, nowMs: number): void {
  const max = auth.maxTokenLifetimeSeconds;
  if (max === undefined) return;
  if (typeof claims.iat !== 'number') throw unauthenticated(`the token has no issue time (iat); tokens may live at most ${max} s`, 'TOKEN_LIFETIME');
  if (claims.iat > nowMs / 1000 + auth.clockToleranceSeconds) throw unauthenticated('the token was issued in the future (iat)', 'TOKEN_LIFETIME');
  const lifetime = (claims.exp ?? Infinity) - claims.iat;
  if (lifetime > max) throw unauthenticated(`the token lives ${lifetime} s (exp - iat); at most ${max} s are accepted`, 'TOKEN_LIFETIME');
}

/**
 * Reports made at most once a minute per kind of error (the first at once): the end of a fallback
 * to the last key set is told as soon as it comes, not a minute after the fallback was.
 */
function oncePerMinute(report: ((err: Error) => void) | undefined, now: () => number): (err: Error) => void {
  const last = new Map<string, number>();
  return (err) => {
    if (!report || now() - (last.get(err.name) ?? -Infinity) < 60_000) return;
    last.set(err.name, now());
    report(err);
  };
}

function keyResolver(auth: JwtAuthConfig, opts: Pick<AuthenticatorOptions, 'fetcher' | 'keySetRetryMs'>,
  now: () => number, report: (err: Error) => void): GetPublicKeyOrSecret {
  const key = auth.key;
  if (key.kind === 'publicKey') {
    const publicKey = verificationKey(key.pem);
    return (_h, cb) => cb(null, publicKey);
  }
  if (key.kind === 'secret') {
    const secret = verificationKey(key.secret);
    return (_h, cb) => cb(null, secret);
  }
  return jwksKeyResolver(key, { now, report, ...(opts.fetcher ? { fetcher: opts.fetcher } : {}), ...(opts.keySetRetryMs !== undefined ? { retryMs: opts.keySetRetryMs } : {}) });
}

function explain(err: unknown): [string, AuthReason] {
  const e = err as { name?: string; message?: string; expiredAt?: Date; date?: Date };
  if (e.name === 'TokenExpiredError') return [`the token expired at ${e.expiredAt?.toISOString()}`, 'TOKEN_EXPIRED'];
  if (e.name === 'NotBeforeError') return [`the token is not valid before ${e.date?.toISOString()}`, 'TOKEN_NOT_YET_VALID'];
  const msg = e.message ?? String(err);
  if (/invalid signature/.test(msg)) return ['the token signature is invalid', 'TOKEN_INVALID'];
  if (/jwt issuer invalid/.test(msg)) return [`the token issuer is not accepted (${msg.replace(/^jwt issuer invalid\.\s*/, '')})`, 'TOKEN_INVALID'];
  if (/jwt audience invalid/.test(msg)) return [`the token audience is not accepted (${msg.replace(/^jwt audience invalid\.\s*/, '')})`, 'TOKEN_INVALID'];
  if (/invalid algorithm/.test(msg)) return ['the token algorithm is not accepted', 'TOKEN_INVALID'];
  if (/jwt signature is required/.test(msg)) return ['unsigned tokens (alg none) are not accepted', 'TOKEN_INVALID'];
  if (/jwt malformed|invalid token|Unexpected token/.test(msg)) return ['the token is malformed', 'TOKEN_MALFORMED'];
  return [msg.replace(/^jwt /, 'the token '), 'TOKEN_INVALID'];
}

/** What identities a token may map to. */
export interface IdentityBounds {
  maxGroups: number;
}

/** Longest user or group name accepted (Kubernetes sets none; HTTP headers and logs do). */
export const maxIdentityNameLength = 1024;

/** The first rule whose every match entry the claims satisfy decides the identity. */
export function mapClaims(claims: JwtPayload, rules: readonly TenantRule[], bounds: IdentityBounds = { maxGroups: 256 }): Caller {
  const rule = rules.find((r) => Object.entries(r.match).every(([claim, want]) => claimMatches(claimValue(claims, claim), want)));
  if (!rule) throw new ApiError('FORBIDDEN', 'the token is valid but no tenant rule matches its claims', { reason: 'Forbidden', authReason: 'NO_TENANT' });
  const user = expandOne(rule.user, claims, rule.name, 'user');
  const groups = [...new Set(rule.groups.flatMap((g) => expandGroup(g, claims, rule, bounds)))];
  checkIdentity(rule.name, user, groups, bounds, () => false);
  const caller: Caller = { tenant: rule.name, identity: { user, groups, extra: rule.extra } };
  if (typeof claims.sub === 'string') caller.subject = claims.sub;
  if (typeof claims.exp === 'number') caller.expiresAt = claims.exp * 1000;
  if (rule.limits) caller.limits = rule.limits;
  if (rule.fieldManager) caller.fieldManager = rule.fieldManager;
  return caller;
}

/**
 * Identities from outside (claims, or what a TokenReview says) must not reach privileged
 * Kubernetes identities. HTTP strips blanks around header values, so " system:masters" would
 * arrive as system:masters, and names are compared without regard to case so that no spelling
 * slips through: values with blanks at their ends or control characters are refused outright.
 */
export function checkIdentity(tenant: string, user: string, groups: readonly string[], bounds: IdentityBounds, allowedSystem: (name: string, what: 'user' | 'group') => boolean): void {
  if (groups.length > bounds.maxGroups) throw tooManyGroups(tenant, groups.length, bounds);
  for (const [what, v] of [['user', user], ...groups.map((g) => ['group', g])] as ['user' | 'group', string][]) {
    const seen = v.trim();
    if (seen.toLowerCase().startsWith('system:') && !(seen === v && allowedSystem(v, what))) {
      throw new ApiError('FORBIDDEN', what === 'user'
        ? `tenant ${tenant}: the token maps to a system: user (${seen}), which is refused`
        : `tenant ${tenant}: the token maps to the group ${seen}, which is refused`, { reason: 'Forbidden', authReason: 'SYSTEM_IDENTITY' });
    }
    if (!isSafeIdentityValue(v) || v.length > maxIdentityNameLength) {
      throw new ApiError('FORBIDDEN', `tenant ${tenant}: the token maps to a ${what} with blanks at its ends, control characters, unpaired surrogates, more than ${maxIdentityNameLength} characters or nothing at all, which is refused`,
        { reason: 'Forbidden', authReason: 'UNSAFE_IDENTITY' });
    }
  }
}

/** The uid and extra of an identity from outside (a TokenReview): sent as header values too, so held to the same rule. */
export function checkIdentityDetails(tenant: string, uid: string | undefined, extra: Record<string, readonly string[]>): void {
  const values = [...(uid === undefined ? [] : [uid]), ...Object.keys(extra), ...Object.values(extra).flat()];
  if (values.every(isSafeIdentityValue)) return;
  throw new ApiError('FORBIDDEN', `tenant ${tenant}: the token maps to a uid or extra value with blanks at its ends, control characters, unpaired surrogates or nothing at all, which is refused`,
    { reason: 'Forbidden', authReason: 'UNSAFE_IDENTITY' });
}

function tooManyGroups(tenant: string, n: number, bounds: IdentityBounds): ApiError {
  return new ApiError('FORBIDDEN', `tenant ${tenant}: the token maps to ${n} or more groups; at most ${bounds.maxGroups} are accepted (auth.maxGroups)`,
    { reason: 'Forbidden', authReason: 'TOO_MANY_GROUPS' });
}

/**
 * The claim a path names: `org.team` is the claim team inside the claim org, and a claim whose own
 * name holds dots (`https://example.com/groups`, as identity providers namespace their custom
 * claims) is found too: at each level the longest name that is a claim of its own wins. Only a
 * claim's own keys count (never `constructor` or `__proto__` of the object they were parsed into).
 */
function claimValue(claims: unknown, path: string): unknown {
  if (!claims || typeof claims !== 'object' || Array.isArray(claims)) return undefined;
  const object = claims as Record<string, unknown>;
  if (Object.hasOwn(object, path)) return object[path];
  for (let dot = path.lastIndexOf('.'); dot > 0; dot = path.lastIndexOf('.', dot - 1)) {
    const head = path.slice(0, dot);
    if (Object.hasOwn(object, head)) {
      const v = claimValue(object[head], path.slice(dot + 1));
      if (v !== undefined) return v;
    }
  }
  return undefined;
}

function claimMatches(value: unknown, want: string): boolean {
  if (Array.isArray(value)) return value.some((x) => String(x) === want);
  return value !== undefined && value !== null && String(value) === want;
}

function expandOne(template: string, claims: JwtPayload, tenant: string, what: string): string {
  return template.replace(/\{([^}]+)\}/g, (_m, claim: string) => {
    const v = claimValue(claims, claim);
    if (typeof v === 'string' || typeof v === 'number') return String(v);
    throw unauthenticated(`the token lacks the claim ${claim} that tenant ${tenant} needs for its ${what}`, 'CLAIM_MISSING');
  });
}

/**
 * One group template ("team-a", "oidc:{groups}", "{org.team}-dev") → its groups. A list claim gives
 * one group per element (at most one list per template); an absent claim gives none. Claim values
 * outside the rule's allowGroups are dropped.
 */
function expandGroup(template: string, claims: JwtPayload, rule: TenantRule, bounds: IdentityBounds): string[] {
  const parts = template.split(/(\{[^}]+\})/);
  let out = [''];
  let lists = 0;
  for (const part of parts) {
    const m = /^\{([^}]+)\}$/.exec(part);
    if (!m) {
      out = out.map((o) => o + part);
      continue;
    }
    const v = claimValue(claims, m[1]!);
    if (v === undefined || v === null) return [];
    let values: string[];
    if (Array.isArray(v)) {
      if (++lists > 1) throw unauthenticated(`tenant ${rule.name}: the group template "${template}" combines two list claims`, 'CLAIM_INVALID');
      // Bounded before any work per element: a huge list is refused, not filtered.
      if (v.length > bounds.maxGroups) throw tooManyGroups(rule.name, v.length, bounds);
      values = v.filter((x) => typeof x === 'string' && x);
    } else if (typeof v === 'string' || typeof v === 'number') values = [String(v)];
    else throw unauthenticated(`tenant ${rule.name}: the claim ${m[1]} is neither a string nor a list of strings`, 'CLAIM_INVALID');
    const allow = rule.allowGroups;
    if (allow) values = values.filter((x) => x.length <= maxIdentityNameLength && allow.test(x));
    out = out.flatMap((o) => values.map((x) => o + x));
  }
  return out;
}

function unauthenticated(message: string, authReason: AuthReason): ApiError {
  return new ApiError('UNAUTHENTICATED', message, { reason: 'Unauthorized', authReason });
}

export { isSafeIdentityValue, verificationKey };
