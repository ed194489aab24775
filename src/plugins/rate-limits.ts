// Budgets per tenant, so one tenant cannot starve the others or the apiserver: requests per second
// (a token bucket), concurrent Kubernetes operations, and concurrent watches (GraphQL subscriptions
// and REST SSE streams). Excess is refused with the catalog's TOO_MANY_REQUESTS and a
// retryAfterSeconds (REST adds Retry-After). Without tenants, all callers share one budget. A
// tenant rule may set its tenant's own budgets (the `limits` of the tenants file).
//
// Budgets are kept in this process (TenantBudgets), or in Redis, shared by every replica of the
// gateway (SharedTenantBudgets in shared-budgets.ts, with --redis-url).
//
// The apiserver's own 429 (API Priority and Fairness, max-in-flight) is honoured too: such a call
// was rejected before it ran, so it is retried after Retry-After, a bounded number of times with a
// capped delay, instead of being hammered or failed at once.
import { ApiError } from '../api-errors.ts';
import { tenantBudgetKeys } from '../contract/caller-context.ts';
import { KubeApiError, type KubeClient } from '../kube/kube-client.ts';
import type { GatewayOperations } from '../service/hub-operations.ts';
import type { CallerContext } from '../contract/caller-context.ts';
import type { WatchFeed } from '../contract/operations.ts';
import type { GatewayPlugin, SlotRelease } from './gateway-plugin.ts';

export interface RateLimits {
  /** Sustained requests per second per tenant; 0: unlimited. */
  requestsPerSecond: number;
  /** Requests a tenant may make at once after being idle. */
  burst: number;
  /** Kubernetes operations in flight per tenant; 0: unlimited. */
  maxConcurrentCalls: number;
  /** How long an operation may wait for a free slot before it is refused. */
  maxQueueWaitMs: number;
  /** Open watches (subscriptions and SSE streams) per tenant; 0: unlimited. */
  maxWatches: number;
  /** Open WebSocket connections per tenant; 0: unlimited. */
  maxConnections: number;
  /** Retries of a call the apiserver refused with 429; 0: none. */
  kubeRetries: number;
  /** Longest wait before one retry, whatever Retry-After says. */
  kubeRetryMaxDelayMs: number;
}

export const defaultRateLimits: RateLimits = {
  requestsPerSecond: 50,
  burst: 100,
  maxConcurrentCalls: 32,
  maxQueueWaitMs: 1000,
  maxWatches: 100,
  maxConnections: 1000,
  kubeRetries: 3,
  kubeRetryMaxDelayMs: 5000,
};

export interface Clock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const realClock: Clock = {
  now: () => performance.now(),
  sleep: (ms, signal) => new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  }),
};

const tokenTaken = { ok: true } as const;

/** A token bucket: `rate` tokens a second, at most `burst` saved up. */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private readonly rate: number;
  private readonly burst: number;
  private readonly clock: Pick<Clock, 'now'>;

  constructor(rate: number, burst: number, clock: Pick<Clock, 'now'> = realClock) {
    this.rate = rate;
    this.burst = Math.max(1, burst);
    this.clock = clock;
    this.tokens = this.burst;
    this.last = clock.now();
  }

  /** Takes a token; when there is none, returns how many seconds until there is one. */
  take(): { ok: true } | { ok: false; retryAfterSeconds: number } {
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return tokenTaken;
    }
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - this.tokens) / this.rate)) };
  }
}

/** Counts slots in use; acquire waits up to a deadline for one to free up. */
export class Semaphore {
  private inUse = 0;
  private readonly waiters: { grant: () => void }[] = [];
  readonly max: number;

  constructor(max: number) {
    this.max = max;
  }

  get active(): number {
    return this.inUse;
  }

  tryAcquire(): boolean {
    if (this.inUse >= this.max) return false;
    this.inUse++;
    return true;
  }

  async acquire(waitMs: number, signal?: AbortSignal): Promise<boolean> {
    if (this.tryAcquire()) return true;
    if (waitMs <= 0) return false;
    return new Promise<boolean>((resolve) => {
      const waiter = {
        grant: () => {
          cleanup();
          this.inUse++;
          resolve(true);
        },
      };
      const give = (ok: boolean) => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        cleanup();
        resolve(ok);
      };
      const timer = setTimeout(() => give(false), waitMs);
      const onAbort = () => give(false);
      const cleanup = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  release(): void {
    this.inUse--;
    this.waiters.shift()?.grant();
  }

  // Made once: a call settles through them without an async frame or closures of its own.
  private readonly releaseWith = <T>(value: T): T => {
    this.release();
    return value;
  };

  private readonly releaseRethrowing = (err: unknown): never => {
    this.release();
    throw err;
  };

  /** Runs fn(arg) in a slot already taken, and gives the slot back when it has settled (or thrown). */
  releasingAfter<T, A>(fn: (arg: A) => Promise<T>, arg: A): Promise<T> {
    let result: Promise<T>;
    try {
      result = fn(arg);
    } catch (err) {
      this.release();
      return Promise.reject(err);
    }
    return result.then(this.releaseWith, this.releaseRethrowing);
  }
}

export const tooMany = (message: string, retryAfterSeconds: number) =>
  new ApiError('TOO_MANY_REQUESTS', message, { reason: 'TooManyRequests', retryAfterSeconds });

export const tenantLabel = (tenant: string) => (tenant ? `tenant "${tenant}"` : 'the gateway');

/** The refusals, worded alike wherever the budgets are kept. */
export const refusals = {
  rate: (tenant: string, limits: RateLimits, retryAfterSeconds: number) =>
    tooMany(`${tenantLabel(tenant)} is over its rate limit of ${limits.requestsPerSecond} requests per second (burst ${limits.burst}); retry in ${retryAfterSeconds} s`, retryAfterSeconds),
  calls: (tenant: string, max: number) =>
    tooMany(`${tenantLabel(tenant)} has ${max} Kubernetes calls in flight, its limit; retry when some have finished`, 1),
  watches: (tenant: string, open: number) =>
    tooMany(`${tenantLabel(tenant)} has ${open} open subscriptions and watches, its limit; end one before starting another`, 5),
  connections: (tenant: string, open: number) =>
    tooMany(`${tenantLabel(tenant)} has ${open} open WebSocket connections, its limit; close one before opening another`, 5),
};

/** Gives a watch slot back (once); `lost` aborts when a shared slot's lease could not be kept. */
export type WatchRelease = SlotRelease;

/** Where the per-tenant budgets are kept: in this process, or shared by the replicas. */
export interface Budgets {
  setOverrides(overrides: BudgetOverrides): void;
  limitsOf(tenant: string): RateLimits;
  /** Refuses (throws TOO_MANY_REQUESTS) a request over the tenant's rate. */
  admitRequest(tenant: string): void | Promise<void>;
  /**
   * Runs fn(arg) in one of the tenant's call slots, or refuses after waiting maxQueueWaitMs for one.
   * The argument is passed through so that a caller needs no closure per call.
   */
  withCallSlot<T, A = undefined>(tenant: string, signal: AbortSignal | undefined, fn: (arg: A) => Promise<T>, arg?: A): Promise<T>;
  /** Takes a watch slot, or refuses. */
  openWatch(tenant: string): WatchRelease | Promise<WatchRelease>;
  /** Takes a slot for a WebSocket connection, or refuses. */
  openConnection(tenant: string): SlotRelease | Promise<SlotRelease>;
  /** Gives back whatever is held (leases in a shared store); called when the gateway stops. */
  stop?(): Promise<void>;
}

// A relation operation answers a whole batch (one hop of one request) and counts once, like a list
// partitioned across namespaces.
const callOperations = ['get', 'list', 'create', 'replace', 'patch', 'updateStatus', 'getScale', 'updateScale', 'delete', 'deleteCollection',
  'owners', 'children', 'events'] as const;

/** A tenant's own budgets, by tenant name; the others use the gateway's. */
export type BudgetOverrides = ReadonlyMap<string, Partial<Pick<RateLimits, 'requestsPerSecond' | 'burst' | 'maxConcurrentCalls' | 'maxWatches' | 'maxConnections'>>>;

/** The per-tenant state of one process; entries are created on first use and live as long as the gateway. */
export class TenantBudgets implements Budgets {
  private readonly defaults: RateLimits;
  private overrides: BudgetOverrides;
  private readonly clock: Clock;
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly calls = new Map<string, Semaphore>();
  private readonly watches = new Map<string, number>();
  private readonly connections = new Map<string, number>();

  constructor(limits: RateLimits, clock: Clock = realClock, overrides: BudgetOverrides = new Map()) {
    this.defaults = limits;
    this.clock = clock;
    this.overrides = overrides;
  }

  /** Sets the tenants' own budgets; state already made for a tenant keeps the budgets it had. */
  setOverrides(overrides: BudgetOverrides): void {
    this.overrides = overrides;
  }

  /** The budgets of a tenant: its rule's, else the gateway's. */
  limitsOf(tenant: string): RateLimits {
    const own = this.overrides.get(tenant);
    return own ? { ...this.defaults, ...own } : this.defaults;
  }

  admitRequest(tenant: string): void {
    const limits = this.limitsOf(tenant);
    if (!limits.requestsPerSecond) return;
    let bucket = this.buckets.get(tenant);
    if (!bucket) this.buckets.set(tenant, (bucket = new TokenBucket(limits.requestsPerSecond, limits.burst, this.clock)));
    const r = bucket.take();
    if (!r.ok) throw refusals.rate(tenant, limits, r.retryAfterSeconds);
  }

  /** Runs fn(arg) in one of the tenant's call slots, or refuses after waiting maxQueueWaitMs for one. */
  withCallSlot<T, A = undefined>(tenant: string, signal: AbortSignal | undefined, fn: (arg: A) => Promise<T>, arg?: A): Promise<T> {
    const limits = this.limitsOf(tenant);
    if (!limits.maxConcurrentCalls) return fn(arg as A);
    let sem = this.calls.get(tenant);
    if (!sem) this.calls.set(tenant, (sem = new Semaphore(limits.maxConcurrentCalls)));
    // A free slot (the usual case) is taken at once, without waiting a turn of the event loop.
    if (sem.tryAcquire()) return sem.releasingAfter(fn, arg as A);
    return this.waitForCallSlot(tenant, sem, limits.maxQueueWaitMs, signal, fn, arg as A);
  }

  private async waitForCallSlot<T, A>(tenant: string, sem: Semaphore, waitMs: number, signal: AbortSignal | undefined, fn: (arg: A) => Promise<T>, arg: A): Promise<T> {
    if (!(await sem.acquire(waitMs, signal))) throw refusals.calls(tenant, sem.max);
    return sem.releasingAfter(fn, arg);
  }

  /** Takes a watch slot; the returned function gives it back (once). */
  openWatch(tenant: string): () => void {
    return takeSlot(this.watches, tenant, this.limitsOf(tenant).maxWatches, refusals.watches);
  }

  /** Takes a WebSocket connection's slot; the returned function gives it back (once). */
  openConnection(tenant: string): () => void {
    return takeSlot(this.connections, tenant, this.limitsOf(tenant).maxConnections, refusals.connections);
  }

  /** Open watches per tenant, for tests and metrics. */
  openWatches(tenant: string): number {
    return this.watches.get(tenant) ?? 0;
  }

  activeCalls(tenant: string): number {
    return this.calls.get(tenant)?.active ?? 0;
  }

  openConnections(tenant: string): number {
    return this.connections.get(tenant) ?? 0;
  }
}

/** Counts one more open slot of `tenant` in `counts` (max 0: unlimited), or refuses; the release counts it back once. */
function takeSlot(counts: Map<string, number>, tenant: string, max: number, refusal: (tenant: string, open: number) => ApiError): () => void {
  const open = counts.get(tenant) ?? 0;
  if (max && open >= max) throw refusal(tenant, open);
  counts.set(tenant, open + 1);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    counts.set(tenant, (counts.get(tenant) ?? 1) - 1);
  };
}

/** Operations that count against the caller's tenant budgets. */
export function budgetedOperations(ops: GatewayOperations, budgets: Budgets): GatewayOperations {
  const wrapped: Record<string, unknown> = { ...ops };
  for (const name of callOperations) {
    if (typeof ops[name] !== 'function') continue;
    const original = ops[name].bind(ops) as (req: { context: CallerContext }) => Promise<unknown>;
    // The request goes to withCallSlot as the argument of `original`: no closure per call.
    wrapped[name] = (req: { context: CallerContext }) => budgets.withCallSlot(req.context.tenant ?? '', req.context.signal, original, req);
  }
  wrapped.watch = async (req: Parameters<GatewayOperations['watch']>[0]) => {
    const release = await budgets.openWatch(req.context.tenant ?? '');
    try {
      const feed = await ops.watch(req);
      // The slot is given back when the watch ends, however it ends.
      feed.onClose(release);
      if (release.lost) endWhenLost(feed, release.lost);
      return feed;
    } catch (err) {
      release();
      throw err;
    }
  };
  return wrapped as unknown as GatewayOperations;
}

/**
 * When `lost` aborts (a shared watch slot whose lease could not be renewed), the watch ends with
 * UNAVAILABLE: the slot may already be someone else's, and a budget is never exceeded silently.
 */
function endWhenLost(feed: WatchFeed, lost: AbortSignal): void {
  const fail = () => feed.fail(new ApiError('UNAVAILABLE',
    'this subscription lost its slot in the tenant\'s shared watch budget (the shared state was unreachable for too long); subscribe again',
    { reason: 'SharedStateUnavailable', retryAfterSeconds: 1 }));
  if (lost.aborted) {
    fail();
    return;
  }
  lost.addEventListener('abort', fail, { once: true });
  feed.onClose(() => lost.removeEventListener('abort', fail));
}

/**
 * A client whose calls, when the apiserver answers 429, wait for its Retry-After (at least 1 s,
 * at most maxDelayMs) and try again, up to `retries` times; then the 429 goes to the caller.
 * Watches are not retried here: the watch hub has its own backoff.
 */
export function retryingTooManyRequests(client: KubeClient, opts: { retries: number; maxDelayMs: number; clock?: Clock; onRetry?: (delayMs: number) => void }): KubeClient {
  const clock = opts.clock ?? realClock;
  const wrapped = Object.create(client) as KubeClient;
  // Everything but request runs on the wrapped client itself, so there is one connection pool.
  if (typeof client.watch === 'function') wrapped.watch = client.watch.bind(client);
  if (typeof client.close === 'function') wrapped.close = client.close.bind(client);
  type Args = Parameters<KubeClient['request']>;
  // After the first refusal: wait and try again, up to the retries left.
  const retry = async <T>(first: unknown, args: Args): Promise<T> => {
    let err = first;
    for (let attempt = 0; ; attempt++) {
      if (!(err instanceof KubeApiError) || err.httpStatus !== 429 || attempt >= opts.retries) throw err;
      const delayMs = Math.min(opts.maxDelayMs, Math.max(1, err.retryAfterSeconds ?? 1) * 1000);
      opts.onRetry?.(delayMs);
      try {
        await clock.sleep(delayMs, args[2]?.signal);
      } catch {
        throw err;
      }
      try {
        return await client.request<T>(...args);
      } catch (next) {
        err = next;
      }
    }
  };
  // The first attempt (nearly every call) is the client's own promise with a rejection handler:
  // no async frame per call.
  wrapped.request = function request<T>(method: Args[0], path: Args[1], options?: Args[2]): Promise<T> {
    return client.request<T>(method, path, options).catch((err: unknown) => retry<T>(err, [method, path, options]));
  } as KubeClient['request'];
  return wrapped;
}

export interface RateLimitsOptions {
  limits?: Partial<RateLimits>;
  clock?: Clock;
  /** Where the budgets are kept; default: in this process. */
  budgets?: Budgets;
}

export function rateLimits(opts: RateLimitsOptions = {}): GatewayPlugin & { budgets: Budgets } {
  const limits = { ...defaultRateLimits, ...opts.limits };
  const budgets: Budgets = opts.budgets ?? new TenantBudgets(limits, opts.clock);
  return {
    name: 'rate-limits',
    budgets,
    attach({ tenants }) {
      const overrides = new Map<string, Partial<RateLimits>>();
      for (const rule of tenants?.tenants ?? []) {
        const own: Partial<RateLimits> = {};
        for (const k of tenantBudgetKeys) if (rule.limits?.[k] !== undefined) own[k] = rule.limits[k];
        if (Object.keys(own).length) overrides.set(rule.name, own);
      }
      budgets.setOverrides(overrides);
    },
    admit: (tenant) => budgets.admitRequest(tenant),
    openConnection: (tenant) => budgets.openConnection(tenant),
    wrapOperations: (ops) => budgetedOperations(ops, budgets),
    wrapClient: (client) => (limits.kubeRetries ? retryingTooManyRequests(client, { retries: limits.kubeRetries, maxDelayMs: limits.kubeRetryMaxDelayMs, clock: opts.clock }) : client),
    stop: () => budgets.stop?.(),
  };
}
