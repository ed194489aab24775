// What an identity may do, asked of Kubernetes itself: RBAC stays the single source of truth.
// SubjectAccessReviews (created by the gateway, naming the caller's user, groups and extra) are
// cached for a short time and dropped at once when any RBAC object changes, so a removed
// RoleBinding takes effect within seconds. Every review the gateway makes (access, rules and token
// reviews) waits for a slot of one concurrency limit, so a burst of new callers or a big schema
// cannot flood the apiserver; a caller's reviews go ahead of live subscriptions' re-checks
// (review-queue.ts). Callers asking the same question share one review, which is dropped when all
// of them have gone (shared-answer.ts).
import { LRUCache } from 'lru-cache';
import { ReviewQueue, type ReviewLane } from './review-queue.ts';
import { SharedAnswer } from './shared-answer.ts';
import type { Impersonation, KubeClient } from '../kube/kube-client.ts';
import { ApiError, fromKubeError } from '../api-errors.ts';
import type { Verb } from '../contract/access.ts';

export const allVerbs: readonly Verb[] = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection'];

export interface AccessQuestion {
  verb: Verb;
  group: string;
  resource: string;
  subresource?: string;
  /** '' or absent: all namespaces (or a cluster-scoped resource). */
  namespace?: string;
  name?: string;
}

export interface AccessReviewerOptions {
  ttlMs?: number;
  /** Answers kept at most (least recently used out first). */
  maxEntries?: number;
  now?: () => number;
  /** Concurrent reviews in flight at most, so a big schema does not flood the apiserver. */
  concurrency?: number;
  /** Callers' reviews waiting for a slot at most; past it, UNAVAILABLE. */
  maxWaiting?: number;
}

/**
 * A review the gateway makes for itself (a TokenReview, a SubjectAccessReview, a rules review
 * impersonating the caller) that Kubernetes refused or does not serve: 401, 403 or 404 are about the
 * gateway's own credentials, RBAC (create reviews, impersonate) or API, not about the caller, and
 * the apiserver's words name the gateway's identity. The caller gets 503 with the status code
 * only; other failures (unreachable, 429, 5xx) keep their own answer.
 */
export function reviewFailure(err: unknown, review: string): ApiError {
  const e = fromKubeError(err);
  if (e.code !== 'FORBIDDEN' && e.code !== 'UNAUTHENTICATED' && e.code !== 'NOT_FOUND') return e;
  const status = e.details.kubernetesCode ?? e.httpStatus;
  return new ApiError('UNAVAILABLE', `the gateway cannot make its ${review} (Kubernetes answered ${status}): its credentials or RBAC need attention`,
    { reason: 'ServiceUnavailable', kubernetesCode: status }, { cause: err });
}

/**
 * One text per identity, the same whatever the order of its groups and extra values. Every part
 * stays a JSON string of its own: joined with "," or "=" the extra { scopes: ["read,write"] } and
 * { scopes: ["read", "write"] } would share cached answers.
 */
export function identityKey(who: Impersonation): string {
  const extra = Object.entries(who.extra ?? {}).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, [...v].sort()]);
  return JSON.stringify([who.user, [...(who.groups ?? [])].sort(), extra, who.uid ?? '']);
}

export class AccessReviewer {
  private readonly client: KubeClient;
  private readonly cache: LRUCache<string, SharedAnswer<boolean>>;
  private generation = 0;
  private readonly queue: ReviewQueue;
  readonly stats = { reviews: 0, hits: 0, invalidations: 0, rulesReviews: 0, tokenReviews: 0 };

  constructor(client: KubeClient, opts: AccessReviewerOptions = {}) {
    this.client = client;
    const now = opts.now ?? Date.now;
    this.cache = new LRUCache({ max: opts.maxEntries ?? 10_000, ttl: opts.ttlMs ?? 10_000, perf: { now } });
    this.queue = new ReviewQueue({ concurrency: opts.concurrency, maxWaiting: opts.maxWaiting });
  }

  /** Callers' reviews refused because too many waited, and reviews dropped because nobody waited any more. */
  get queueStats(): { refused: number; dropped: number } {
    return this.queue.stats;
  }

  /** Drops expired answers (lru-cache keeps them until their slot is needed). */
  purgeStale(): void {
    this.cache.purgeStale();
  }

  /** Any RBAC object changed: every cached answer may be stale. */
  invalidate(): void {
    this.generation++;
    this.cache.clear();
    this.stats.invalidations++;
  }

  /** A number that changes whenever cached answers were dropped. */
  get version(): number {
    return this.generation;
  }

  /** Reviews waiting for a slot, and in flight. */
  get load(): { pending: number; active: number } {
    return this.queue.load;
  }

  /**
   * Runs one review of any kind (rules, token) within the shared concurrency limit. `who`, the
   * identityKey a re-check is for, lets a request of that identity promote it.
   */
  limited<T>(review: (signal?: AbortSignal) => Promise<T>, lane: ReviewLane = 'caller', who?: string, signal?: AbortSignal): Promise<T> {
    return this.queue.run(lane, review, { tag: who, signal });
  }

  /** A request of this identity (identityKey) may wait for answers its re-check is getting: they go first. */
  promote(who: string): void {
    this.queue.promote(who);
  }

  /** `signal`: aborted when the asker has gone; the review is dropped once every asker has. */
  allowed(who: Impersonation, q: AccessQuestion, lane: ReviewLane = 'caller', signal?: AbortSignal): Promise<boolean> {
    const id = identityKey(who);
    const key = `${id}|${q.verb}|${q.group}|${q.resource}|${q.subresource ?? ''}|${q.namespace ?? ''}|${q.name ?? ''}`;
    const hit = this.cache.get(key);
    if (hit && !hit.abandoned) {
      this.stats.hits++;
      if (lane === 'caller') this.promote(id);
      return hit.join(signal);
    }
    const allowed = new SharedAnswer((shared) => this.limited((s) => this.review(who, q, s), lane, id, shared));
    this.cache.set(key, allowed);
    // A failed (or dropped) review is not an answer: do not keep it.
    allowed.promise.catch(() => {
      if (this.cache.peek(key) === allowed) this.cache.delete(key);
    });
    return allowed.join(signal);
  }

  private async review(who: Impersonation, q: AccessQuestion, signal?: AbortSignal): Promise<boolean> {
    this.stats.reviews++;
    const body = {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: {
        user: who.user,
        groups: who.groups ?? [],
        extra: who.extra ?? {},
        uid: who.uid,
        resourceAttributes: {
          verb: q.verb, group: q.group, resource: q.resource, subresource: q.subresource,
          namespace: q.namespace || undefined, name: q.name,
        },
      },
    };
    try {
      const res = await this.client.request<{ status?: { allowed?: boolean } }>('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', { body, timeoutMs: 10_000, signal });
      return res.status?.allowed === true;
    } catch (err) {
      throw reviewFailure(err, 'SubjectAccessReview');
    }
  }
}
