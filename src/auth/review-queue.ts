// The slots every review the gateway makes (access, rules and token reviews) waits for, in two
// lanes. After an RBAC change, the live subscriptions' re-checks queue a series of reviews per
// subscriber all at once, and again at each follow-up; in one first-come lane, the next caller's
// own reviews waited behind all of them (seconds with tens of subscribers), although the caller
// is waiting and the re-checks are not. So a caller's review goes ahead of queued re-checks, and
// re-checks never hold every slot: a caller finds one free after at most one review ends. They
// keep a share of the slots however many callers queue, so a steady stream of requests cannot
// postpone a revocation.
//
// The queue is bounded: past maxWaiting callers' reviews, a new one is refused at once (503,
// retry shortly) rather than queued behind minutes of others. A review whose waiters have all gone
// (its signal aborted) leaves the queue without being sent.
import { ApiError } from '../api-errors.ts';
import { cancelled } from './shared-answer.ts';

/**
 * Callers' reviews that may wait at once, in the whole gateway. Far above what real callers ask
 * together (a cold schema of 200 cluster-scoped CRDs asks ~2,200): the bound is against a pile-up
 * that never drains, not a budget, so one tenant's cold start never refuses another's requests.
 */
export const defaultMaxWaiting = 100_000;

/** 'caller': a request is waiting for the answer. 'recheck': a live subscription's re-check. */
export type ReviewLane = 'caller' | 'recheck';

interface Waiting {
  start(lane: ReviewLane): void;
  /** Whose re-check this review is part of (identityKey), so that its own request can promote it. */
  tag?: string;
}

export interface ReviewQueueOptions {
  concurrency?: number;
  /** Callers' reviews waiting for a slot at most: the next one is refused with UNAVAILABLE. */
  maxWaiting?: number;
}

export interface RunOptions {
  /** identityKey of whose re-check this is, so a request of that identity can promote it. */
  tag?: string;
  /** Aborted when nobody waits for the answer any more: a waiting review is dropped, a running one aborted. */
  signal?: AbortSignal;
}

export class ReviewQueue {
  private readonly concurrency: number;
  /** Re-checks in flight at least when some wait, however many callers wait too. */
  private readonly recheckMin: number;
  /** Re-checks in flight at most: the other slots are kept for callers. */
  private readonly recheckMax: number;
  private readonly maxWaiting: number;
  private readonly waiting: Record<ReviewLane, Waiting[]> = { caller: [], recheck: [] };
  readonly stats = { refused: 0, dropped: 0 };
  private readonly active: Record<ReviewLane, number> = { caller: 0, recheck: 0 };
  /** Identities whose request waits for their re-check: kept only while re-checks run or wait. */
  private readonly promoted = new Set<string>();

  constructor(opts: ReviewQueueOptions = {}) {
    this.concurrency = Math.max(1, Math.floor(opts.concurrency ?? 16));
    this.maxWaiting = opts.maxWaiting ?? defaultMaxWaiting;
    const share = Math.max(1, Math.floor(this.concurrency / 4));
    this.recheckMin = share;
    this.recheckMax = Math.max(share, this.concurrency - share);
  }

  /** Reviews waiting for a slot, and in flight. */
  get load(): { pending: number; active: number } {
    return { pending: this.waiting.caller.length + this.waiting.recheck.length, active: this.active.caller + this.active.recheck };
  }

  run<T>(lane: ReviewLane, review: (signal?: AbortSignal) => Promise<T>, opts: RunOptions = {}): Promise<T> {
    const { tag, signal } = opts;
    if (signal?.aborted) return Promise.reject(cancelled());
    if (lane === 'caller' && this.waiting.caller.length >= this.maxWaiting) {
      this.stats.refused++;
      // The number is not told: it would hint at other tenants' load.
      return Promise.reject(new ApiError('UNAVAILABLE', 'too many RBAC reviews are waiting for Kubernetes; try again shortly',
        { reason: 'ServiceUnavailable', retryAfterSeconds: 1 }));
    }
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        // A promotion may have moved it to the other lane.
        for (const queue of Object.values(this.waiting)) {
          const at = queue.indexOf(waiting);
          if (at >= 0) queue.splice(at, 1);
        }
        this.stats.dropped++;
        reject(cancelled());
      };
      const start = (started: ReviewLane) => {
        signal?.removeEventListener('abort', onAbort);
        this.active[started]++;
        let answer: Promise<T>;
        try {
          answer = review(signal);
        } catch (err) {
          answer = Promise.reject(err);
        }
        // The slot is free before the caller hears the answer.
        const ended = () => {
          this.active[started]--;
          this.startNext();
        };
        answer.then((value) => {
          ended();
          resolve(value);
        }, (err: unknown) => {
          ended();
          reject(err);
        });
      };
      const waiting: Waiting = { start, tag };
      signal?.addEventListener('abort', onAbort, { once: true });
      const promoted = lane === 'recheck' && tag !== undefined && this.promoted.has(tag);
      this.waiting[promoted ? 'caller' : lane].push(waiting);
      this.startNext();
    });
  }

  /**
   * A request of this identity waits for answers its re-check is getting (the caches share
   * them): the re-check's reviews, queued and to come, go in the caller lane.
   */
  promote(tag: string): void {
    if (!this.active.recheck && !this.waiting.recheck.length) return;
    this.promoted.add(tag);
    const moved = this.waiting.recheck.filter((w) => w.tag === tag);
    if (!moved.length) return;
    this.waiting.recheck = this.waiting.recheck.filter((w) => w.tag !== tag);
    this.waiting.caller.push(...moved);
    this.startNext();
  }

  private startNext(): void {
    for (let next = this.next(); next; next = this.next()) next[1].start(next[0]);
    if (!this.active.recheck && !this.waiting.recheck.length) this.promoted.clear();
  }

  private next(): [ReviewLane, Waiting] | undefined {
    if (this.active.caller + this.active.recheck >= this.concurrency) return undefined;
    const rechecks = this.waiting.recheck.length > 0;
    if (rechecks && this.active.recheck < this.recheckMin) return ['recheck', this.waiting.recheck.shift()!];
    if (this.waiting.caller.length) return ['caller', this.waiting.caller.shift()!];
    if (rechecks && this.active.recheck < this.recheckMax) return ['recheck', this.waiting.recheck.shift()!];
    return undefined;
  }
}
