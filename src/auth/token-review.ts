// TokenReview mode: callers send a token Kubernetes itself accepts (a service-account token, an
// OIDC token the apiserver trusts, a static token), and the apiserver says who they are. The
// reviewed user, groups, extra and uid are impersonated as they are; a tenant rule only names the
// tenant (for limits, budgets and logs).
//
// Answers are cached by the token's SHA-256 (the token itself is never kept) for at most
// cacheSeconds (60 s at most) and never past the token's exp: a JWT-shaped token's exp is read
// without verifying it, which can only shorten the time. Opaque tokens (static tokens) carry no
// expiry, so a revoked one is accepted for up to cacheSeconds more, and live subscriptions ask
// again every cacheSeconds. Refusals are cached for a few seconds, so a flood of bad tokens costs
// the apiserver little; failures to ask are not cached. Reviews not answered yet are bounded: a
// flood of distinct made-up tokens gets 503 beyond them rather than a queue.
//
// Kubernetes adds system: groups to every authenticated user (system:authenticated, and for
// service accounts system:serviceaccounts and system:serviceaccounts:<namespace>), and a
// service account's user is system:serviceaccount:<namespace>:<name>: impersonating those adds
// nothing the token does not already have. Every other system: identity (system:masters, which
// RBAC cannot take away; nodes; control-plane components) is refused unless the tenants file lists
// it in allowSystemIdentities: a cluster-admin's token does not make the gateway an admin tool.
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { ApiError } from '../api-errors.ts';
import { reviewFailure } from './access-review.ts';
import type { KubeClient } from '../kube/kube-client.ts';
import { checkIdentity, checkIdentityDetails, type Caller } from './authenticate.ts';
import type { TenantRule, TokenReviewAuthConfig } from './tenant-config.ts';

export interface ReviewedUser {
  username: string;
  uid?: string;
  groups: string[];
  extra: Record<string, string[]>;
  /** The token's exp (ms since the epoch), when it is a JWT that has one. */
  expiresAt?: number;
}

export interface TokenReviewerOptions {
  /** Runs each review within the gateway's shared concurrency limit for reviews. */
  limited?: <T>(review: () => Promise<T>) => Promise<T>;
  now?: () => number;
  /** Tokens whose answers are kept at most. */
  maxEntries?: number;
  /** How long a refusal is kept. */
  refusalCacheMs?: number;
  /** Reviews asked and not answered yet at most; a token beyond them is refused at once (503). */
  maxUnanswered?: number;
}

export class TokenReviewer {
  private readonly client: KubeClient;
  private readonly config: TokenReviewAuthConfig;
  private readonly limited: <T>(review: () => Promise<T>) => Promise<T>;
  private readonly now: () => number;
  private readonly cache: LRUCache<string, Promise<ReviewedUser>> | undefined;
  private readonly refusalCacheMs: number;
  private readonly maxUnanswered: number;
  private unanswered = 0;
  readonly stats = { reviews: 0, hits: 0, refusedBusy: 0 };

  constructor(client: KubeClient, config: TokenReviewAuthConfig, opts: TokenReviewerOptions = {}) {
    this.client = client;
    this.config = config;
    this.limited = opts.limited ?? ((review) => review());
    this.now = opts.now ?? Date.now;
    const cacheMs = config.cacheSeconds * 1000;
    this.refusalCacheMs = Math.min(opts.refusalCacheMs ?? 5_000, cacheMs);
    this.maxUnanswered = opts.maxUnanswered ?? 256;
    this.cache = cacheMs > 0 ? new LRUCache({ max: opts.maxEntries ?? 10_000, ttl: cacheMs, perf: { now: this.now } }) : undefined;
  }

  /** Who the token's holder is, as Kubernetes says; UNAUTHENTICATED when it does not accept the token. */
  review(token: string): Promise<ReviewedUser> {
    const key = createHash('sha256').update(token).digest('base64url');
    const hit = this.cache?.get(key);
    if (hit) {
      this.stats.hits++;
      return hit;
    }
    // Tokens are reviewed before anyone is authenticated, so before any tenant's budget: made-up
    // tokens, each new, would otherwise queue without bound for the concurrency limit that the
    // access reviews of authenticated callers share.
    if (this.unanswered >= this.maxUnanswered) {
      this.stats.refusedBusy++;
      return Promise.reject(new ApiError('UNAVAILABLE', `${this.unanswered} token reviews are waiting for Kubernetes; try again shortly`, { reason: 'ServiceUnavailable', retryAfterSeconds: 1 }));
    }
    this.unanswered++;
    const answer = this.limited(() => this.ask(token));
    const settled = () => {
      this.unanswered--;
    };
    answer.then(settled, settled);
    const cache = this.cache;
    if (!cache) return answer;
    cache.set(key, answer);
    const keep = (ms: number) => {
      if (cache.peek(key) !== answer) return;
      // lru-cache reads a ttl of 0 as "forever": an answer with no time left goes at once.
      if (ms >= 1) cache.set(key, answer, { ttl: Math.min(ms, this.config.cacheSeconds * 1000) });
      else cache.delete(key);
    };
    answer.then(
      (u) => keep(u.expiresAt === undefined ? Infinity : u.expiresAt - this.now()),
      (err) => keep(err instanceof ApiError && err.code === 'UNAUTHENTICATED' ? this.refusalCacheMs : 0),
    );
    return answer;
  }

  private async ask(token: string): Promise<ReviewedUser> {
    this.stats.reviews++;
    const audiences = this.config.audiences;
    let res: TokenReviewAnswer;
    try {
      res = await this.client.request<TokenReviewAnswer>('POST', '/apis/authentication.k8s.io/v1/tokenreviews', {
        body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, ...(audiences.length ? { audiences } : {}) } },
        timeoutMs: 10_000,
      });
    } catch (err) {
      throw reviewFailure(err, 'TokenReview');
    }
    const status = res.status ?? {};
    // The apiserver's own error text may describe its authenticators: it is not passed on.
    if (!status.authenticated || !status.user?.username) throw refused('Kubernetes did not authenticate the token (TokenReview)', 'TOKEN_REVIEW');
    // Kubernetes says which of the requested audiences the token is valid for; none is a refusal.
    if (audiences.length && !(status.audiences ?? []).some((a) => audiences.includes(a))) {
      throw refused(`the token is not meant for this gateway (audiences accepted: ${audiences.join(', ')})`, 'TOKEN_AUDIENCE');
    }
    const u = status.user;
    const user: ReviewedUser = { username: u.username!, groups: u.groups ?? [], extra: u.extra ?? {} };
    if (u.uid) user.uid = u.uid;
    const exp = unverifiedExpiry(token);
    if (exp !== undefined) user.expiresAt = exp;
    return user;
  }
}

/**
 * Whether the gateway's own identity may create TokenReviews, which a TokenReview tenants file
 * needs for every caller: a SelfSubjectAccessReview (which every authenticated identity may make).
 * Deployments grant it only for this mode (the Helm chart's rbac.tokenReview, the kustomize
 * component token-review), so the answer is said once at start, not only as each caller's 503;
 * and so is a check that could not be made (the API server not reachable yet, say), with why.
 */
export async function checkTokenReviewGrant(client: Pick<KubeClient, 'request'>, log: { info(msg: string): void; warn(msg: string): void } | undefined): Promise<void> {
  let allowed: boolean;
  try {
    const res = await client.request<{ status?: { allowed?: boolean } }>('POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', {
      body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { resourceAttributes: { group: 'authentication.k8s.io', resource: 'tokenreviews', verb: 'create' } } },
      timeoutMs: 10_000,
    });
    allowed = res.status?.allowed === true;
  } catch (err) {
    log?.warn(tokenReviewGrantUnknown(err instanceof Error ? err.message : String(err)));
    return;
  }
  if (allowed) log?.info(tokenReviewGranted);
  else log?.warn(tokenReviewNotGranted);
}

/** What the log says when the gateway may create TokenReviews. */
export const tokenReviewGranted = 'the gateway\'s identity may create TokenReviews (tokenreviews.authentication.k8s.io), which the tenants file\'s auth.tokenReview needs';

/** What the log says when the start-up check could not be made. */
export const tokenReviewGrantUnknown = (reason: string) => `could not check whether the gateway's identity may create TokenReviews (tokenreviews.authentication.k8s.io): ${reason}; without that grant callers get 503 UNAVAILABLE (Helm chart: rbac.tokenReview=true; kustomize: the component deploy/kustomize/components/token-review)`;

/** What the log says when the gateway may not create TokenReviews. */
export const tokenReviewNotGranted = 'the gateway\'s identity may not create TokenReviews (tokenreviews.authentication.k8s.io), which the tenants file\'s auth.tokenReview needs for every caller: callers get 503 UNAVAILABLE until it is granted (Helm chart: rbac.tokenReview=true; kustomize: the component deploy/kustomize/components/token-review)';

interface TokenReviewAnswer {
  status?: {
    authenticated?: boolean;
    user?: { username?: string; uid?: string; groups?: string[]; extra?: Record<string, string[]> };
    audiences?: string[];
    error?: string;
  };
}

function refused(message: string, authReason: 'TOKEN_REVIEW' | 'TOKEN_AUDIENCE'): ApiError {
  return new ApiError('UNAUTHENTICATED', message, { reason: 'Unauthorized', authReason });
}

/** The exp of a JWT-shaped token, unverified: only ever used to shorten how long an answer is kept. */
export function unverifiedExpiry(token: string): number | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as { exp?: unknown };
    return typeof claims.exp === 'number' && Number.isFinite(claims.exp) ? claims.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/** system: names Kubernetes gives every authenticated user or service account. */
export function isOrdinarySystemName(name: string, what: 'user' | 'group'): boolean {
  if (what === 'user') return /^system:serviceaccount:[^:]+:[^:]+$/.test(name);
  return name === 'system:authenticated' || name === 'system:serviceaccounts' || /^system:serviceaccounts:[^:]+$/.test(name);
}

/** The first tenant rule whose every match entry the reviewed user satisfies names the tenant. */
export function mapReviewedUser(u: ReviewedUser, rules: readonly TenantRule[], config: Pick<TokenReviewAuthConfig, 'maxGroups' | 'allowSystemIdentities'>): Caller {
  const extra = asHeaderKeys(u.extra);
  const rule = rules.find((r) => Object.entries(r.match).every(([key, want]) => reviewedMatches(u, extra, key, want)));
  if (!rule) throw new ApiError('FORBIDDEN', 'the token is valid but no tenant rule matches its user', { reason: 'Forbidden', authReason: 'NO_TENANT' });
  checkIdentity(rule.name, u.username, u.groups, config, (name, what) => isOrdinarySystemName(name, what) || config.allowSystemIdentities.includes(name));
  checkIdentityDetails(rule.name, u.uid, extra);
  const caller: Caller = {
    tenant: rule.name,
    identity: { user: u.username, groups: [...new Set(u.groups)], extra, ...(u.uid ? { uid: u.uid } : {}) },
    subject: u.username,
  };
  if (u.expiresAt !== undefined) caller.expiresAt = u.expiresAt;
  if (rule.limits) caller.limits = rule.limits;
  if (rule.fieldManager) caller.fieldManager = rule.fieldManager;
  return caller;
}

/**
 * The reviewed extra as Kubernetes receives it from the gateway: each key travels in a header name,
 * which Kubernetes reads in lower case, so the access checks carry the keys that way too (values of
 * keys that differ only in case are joined, as the headers are).
 */
function asHeaderKeys(extra: Record<string, string[]>): Record<string, string[]> {
  const keys = Object.keys(extra);
  if (keys.every((k) => k === k.toLowerCase())) return extra;
  const out: Record<string, string[]> = {};
  for (const k of keys) out[k.toLowerCase()] = [...(out[k.toLowerCase()] ?? []), ...extra[k]!];
  return out;
}

function reviewedMatches(u: ReviewedUser, extra: Record<string, string[]>, key: string, want: string): boolean {
  if (key === 'user') return u.username === want;
  if (key === 'uid') return u.uid === want;
  if (key === 'groups') return u.groups.includes(want);
  return (extra[key.slice('extra.'.length)] ?? []).includes(want);
}
