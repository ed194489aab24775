// Bearer token → verified claims → tenant → the Kubernetes identity the gateway impersonates.
// Verification pins the configured algorithms (never "none", never a switch between key types),
// and checks iss, aud, exp and nbf with a small clock tolerance. Keys come from a JWKS URL
// (cached, refetched on an unknown kid, rate-limited), a PEM public key, or a shared secret.
import jwt, { type JwtPayload, type GetPublicKeyOrSecret } from 'jsonwebtoken';
import jwksRsa from 'jwks-rsa';
import { ApiError } from '../api-errors.ts';
import type { Impersonation } from '../kube/kube-client.ts';
import type { AuthConfig, TenantConfig, TenantLimits, TenantRule } from './tenant-config.ts';

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
}

export class Authenticator {
  private readonly config: TenantConfig;
  private readonly getKey: GetPublicKeyOrSecret;

  constructor(config: TenantConfig, opts: { fetcher?: (uri: string) => Promise<{ keys: unknown }> } = {}) {
    this.config = config;
    this.getKey = keyResolver(config.auth, opts.fetcher);
  }

  /** Accepts the value of an Authorization header (or a bare token). */
  async authenticate(authorization: string | undefined): Promise<Caller> {
    if (!authorization || !authorization.trim()) throw unauthenticated('a bearer token is required: send Authorization: Bearer <token>');
    const m = /^\s*Bearer\s+(\S+)\s*$/i.exec(authorization);
    const token = m ? m[1]! : /^[\w-]+\.[\w-]+\.[\w-]*$/.test(authorization.trim()) ? authorization.trim() : undefined;
    if (!token) throw unauthenticated('the Authorization header must be "Bearer <token>"');
    const claims = await this.verify(token);
    return mapClaims(claims, this.config.tenants);
  }

  verify(token: string): Promise<JwtPayload> {
    const a = this.config.auth;
    return new Promise((resolve, reject) => {
      jwt.verify(token, this.getKey, {
        algorithms: a.algorithms,
        issuer: a.issuer,
        audience: a.audience.length === 1 ? a.audience[0]! : (a.audience as [string, ...string[]]),
        clockTolerance: a.clockToleranceSeconds,
        complete: false,
      }, (err, payload) => {
        if (err) return reject(unauthenticated(explain(err)));
        if (!payload || typeof payload === 'string') return reject(unauthenticated('the token has no JSON claims'));
        if (payload.exp === undefined) return reject(unauthenticated('the token has no expiry (exp); tokens must expire'));
        resolve(payload);
      });
    });
  }
}

function keyResolver(auth: AuthConfig, fetcher?: (uri: string) => Promise<{ keys: unknown }>): GetPublicKeyOrSecret {
  const key = auth.key;
  if (key.kind === 'publicKey') return (_h, cb) => cb(null, key.pem);
  if (key.kind === 'secret') return (_h, cb) => cb(null, key.secret);
  const client = new jwksRsa.JwksClient({
    jwksUri: key.uri,
    cache: true,
    cacheMaxAge: key.cacheMaxAgeMs,
    // An unknown kid triggers a refetch (key rotation), at most this often.
    rateLimit: true,
    jwksRequestsPerMinute: key.requestsPerMinute,
    timeout: 5_000,
    ...(fetcher ? { fetcher: fetcher as (uri: string) => Promise<{ keys: any }> } : {}),
  });
  return (header, cb) => {
    if (!header.kid) return cb(new Error('the token header has no kid, which a JWKS needs to pick the key'));
    client.getSigningKey(header.kid).then((k) => cb(null, k.getPublicKey()), (err: Error) => {
      const name = err?.name;
      if (name === 'SigningKeyNotFoundError') cb(new Error(`unknown key id "${header.kid}"`));
      else if (name === 'JwksRateLimitError') cb(new Error(`unknown key id "${header.kid}" (key set refetch rate-limited)`));
      else cb(new Error(`cannot fetch the key set: ${err?.message ?? String(err)}`));
    });
  };
}

function explain(err: unknown): string {
  const e = err as { name?: string; message?: string; expiredAt?: Date; date?: Date };
  if (e.name === 'TokenExpiredError') return `the token expired at ${e.expiredAt?.toISOString()}`;
  if (e.name === 'NotBeforeError') return `the token is not valid before ${e.date?.toISOString()}`;
  const msg = e.message ?? String(err);
  if (/invalid signature/.test(msg)) return 'the token signature is invalid';
  if (/jwt issuer invalid/.test(msg)) return `the token issuer is not accepted (${msg.replace(/^jwt issuer invalid\.\s*/, '')})`;
  if (/jwt audience invalid/.test(msg)) return `the token audience is not accepted (${msg.replace(/^jwt audience invalid\.\s*/, '')})`;
  if (/invalid algorithm/.test(msg)) return 'the token algorithm is not accepted';
  if (/jwt signature is required/.test(msg)) return 'unsigned tokens (alg none) are not accepted';
  if (/jwt malformed|invalid token|Unexpected token/.test(msg)) return 'the token is malformed';
  return msg.replace(/^jwt /, 'the token ');
}

/** The first rule whose every match entry the claims satisfy decides the identity. */
export function mapClaims(claims: JwtPayload, rules: readonly TenantRule[]): Caller {
  const rule = rules.find((r) => Object.entries(r.match).every(([claim, want]) => claimMatches(claimValue(claims, claim), want)));
  if (!rule) throw new ApiError('FORBIDDEN', 'the token is valid but no tenant rule matches its claims', { reason: 'Forbidden' });
  const user = expandOne(rule.user, claims, rule.name, 'user');
  const groups = rule.groups.flatMap((g) => expandMany(g, claims, rule.name));
  // Claims are data from outside: they must not smuggle in privileged Kubernetes identities.
  // HTTP strips blanks around header values, so " system:masters" would arrive as
  // system:masters: values with blanks at their ends or control characters are refused outright.
  for (const [what, v] of [['user', user], ...groups.map((g) => ['group', g])] as [string, string][]) {
    const seen = v.trim();
    if (seen.startsWith('system:')) {
      throw new ApiError('FORBIDDEN', what === 'user'
        ? `tenant ${rule.name}: the token maps to a system: user (${seen}), which is refused`
        : `tenant ${rule.name}: the token maps to the group ${seen}, which is refused`, { reason: 'Forbidden' });
    }
    if (!isSafeIdentityValue(v)) {
      throw new ApiError('FORBIDDEN', `tenant ${rule.name}: the token maps to a ${what} with blanks at its ends, control characters or nothing at all, which is refused`, { reason: 'Forbidden' });
    }
  }
  const caller: Caller = { tenant: rule.name, identity: { user, groups: [...new Set(groups)], extra: rule.extra } };
  if (typeof claims.sub === 'string') caller.subject = claims.sub;
  if (typeof claims.exp === 'number') caller.expiresAt = claims.exp * 1000;
  if (rule.limits) caller.limits = rule.limits;
  if (rule.fieldManager) caller.fieldManager = rule.fieldManager;
  return caller;
}

function claimValue(claims: JwtPayload, path: string): unknown {
  let v: unknown = claims;
  for (const part of path.split('.')) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[part] : undefined;
  return v;
}

function claimMatches(value: unknown, want: string): boolean {
  if (Array.isArray(value)) return value.some((x) => String(x) === want);
  return value !== undefined && value !== null && String(value) === want;
}

function expandOne(template: string, claims: JwtPayload, tenant: string, what: string): string {
  return template.replace(/\{([^}]+)\}/g, (_m, claim: string) => {
    const v = claimValue(claims, claim);
    if (typeof v === 'string' || typeof v === 'number') return String(v);
    throw unauthenticated(`the token lacks the claim ${claim} that tenant ${tenant} needs for its ${what}`);
  });
}

function expandMany(template: string, claims: JwtPayload, tenant: string): string[] {
  const whole = /^\{([^}]+)\}$/.exec(template);
  if (whole) {
    const v = claimValue(claims, whole[1]!);
    if (Array.isArray(v)) return v.filter((x) => typeof x === 'string' && x).map(String);
    if (v === undefined) return [];
  }
  return [expandOne(template, claims, tenant, 'groups')];
}

function unauthenticated(message: string): ApiError {
  return new ApiError('UNAUTHENTICATED', message, { reason: 'Unauthorized' });
}

/** A user or group name that reaches Kubernetes exactly as written: no blanks at the ends, no control characters. */
export function isSafeIdentityValue(v: string): boolean {
  // eslint-disable-next-line no-control-regex
  return v.length > 0 && v === v.trim() && !/[\u0000-\u001f\u007f]/.test(v);
}
