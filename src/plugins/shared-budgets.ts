// Per-tenant budgets shared by every replica of the gateway, kept in Redis (--redis-url), so N
// replicas allow a tenant its budget once, not N times.
//
// - Requests per second: rate-limiter-flexible's RateLimiterRedis (an atomic counter per tenant
//   and fixed window). Its windows are whole seconds, so the token bucket of one process becomes a
//   window of ⌈burst ÷ rate⌉ seconds (at least 1) holding rate × window requests: the same
//   sustained rate, and a burst rounded up to whole seconds of it.
// - Kubernetes calls in flight, open watches and WebSocket connections: counting semaphores whose slots are leases
//   (lease-semaphore.ts), renewed while the call or watch lasts; the leases of a replica that dies
//   without giving them back expire after `leaseMs`, so its slots are not lost for good.
//
// Redis unreachable: every budget fails closed (UNAVAILABLE, 503), never unlimited. A watch or
// WebSocket connection whose lease cannot be renewed (Redis gone for longer than the lease, or
// emptied) ends (the watch with UNAVAILABLE, the connection with 1013), since its slot may
// already be someone else's.
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { LeaseSemaphores, type Lease, type LeaseTiming } from './lease-semaphore.ts';
import { sharedStateUnavailable, type RedisConnection } from './redis-connection.ts';
import { refusals, type BudgetOverrides, type Budgets, type RateLimits, type WatchRelease } from './rate-limits.ts';

/** The fixed window standing for a token bucket of `rate` per second and `burst`. */
export function rateWindow(limits: Pick<RateLimits, 'requestsPerSecond' | 'burst'>): { points: number; seconds: number } {
  const seconds = Math.max(1, Math.ceil(limits.burst / limits.requestsPerSecond));
  return { points: limits.requestsPerSecond * seconds, seconds };
}

export const sharedKeyPrefix = 'crdgate';

export class SharedTenantBudgets implements Budgets {
  private readonly conn: RedisConnection;
  private readonly defaults: RateLimits;
  private overrides: BudgetOverrides = new Map();
  private readonly limiters = new Map<string, RateLimiterRedis>();
  readonly leases: LeaseSemaphores;

  constructor(conn: RedisConnection, limits: RateLimits, timing: Partial<LeaseTiming> = {}) {
    this.conn = conn;
    this.defaults = limits;
    this.leases = new LeaseSemaphores(conn.client, timing);
  }

  setOverrides(overrides: BudgetOverrides): void {
    this.overrides = overrides;
  }

  limitsOf(tenant: string): RateLimits {
    const own = this.overrides.get(tenant);
    return own ? { ...this.defaults, ...own } : this.defaults;
  }

  async admitRequest(tenant: string): Promise<void> {
    const limits = this.limitsOf(tenant);
    if (!limits.requestsPerSecond) return;
    // Not sent to a Redis known not to answer: each request would wait the command timeout.
    if (!this.conn.up) throw sharedStateUnavailable();
    try {
      await this.limiter(rateWindow(limits)).consume(tenant);
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) throw sharedStateUnavailable(rejection);
      throw refusals.rate(tenant, limits, Math.max(1, Math.ceil(rejection.msBeforeNext / 1000)));
    }
  }

  async withCallSlot<T, A = undefined>(tenant: string, signal: AbortSignal | undefined, fn: (arg: A) => Promise<T>, arg?: A): Promise<T> {
    const limits = this.limitsOf(tenant);
    if (!limits.maxConcurrentCalls) return fn(arg as A);
    // A call outlives its lease only if Redis is gone for longer than the lease; it ends soon
    // anyway, so the loss is not acted on.
    const lease = await this.acquire('calls', tenant, limits.maxConcurrentCalls, { waitMs: limits.maxQueueWaitMs, signal });
    if (!lease) throw refusals.calls(tenant, limits.maxConcurrentCalls);
    try {
      return await fn(arg as A);
    } finally {
      void lease.release();
    }
  }

  openWatch(tenant: string): Promise<WatchRelease> {
    return this.holdSlot('watches', tenant, this.limitsOf(tenant).maxWatches, refusals.watches);
  }

  openConnection(tenant: string): Promise<WatchRelease> {
    return this.holdSlot('connections', tenant, this.limitsOf(tenant).maxConnections, refusals.connections);
  }

  /** A slot held as long as what it counts lasts; `lost` aborts when its lease could not be kept. */
  private async holdSlot(kind: 'watches' | 'connections', tenant: string, max: number, refusal: (tenant: string, max: number) => Error): Promise<WatchRelease> {
    if (!max) return () => {};
    const lost = new AbortController();
    const lease = await this.acquire(kind, tenant, max, { onLost: () => lost.abort() });
    if (!lease) throw refusal(tenant, max);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      void lease.release();
    };
    return Object.assign(release, { lost: lost.signal });
  }

  stop(): Promise<void> {
    return this.leases.releaseAll();
  }

  private limiter(window: { points: number; seconds: number }): RateLimiterRedis {
    const id = `${window.points}/${window.seconds}`;
    let limiter = this.limiters.get(id);
    if (!limiter) {
      limiter = new RateLimiterRedis({
        storeClient: this.conn.client,
        keyPrefix: `${sharedKeyPrefix}:rate`,
        points: window.points,
        duration: window.seconds,
        // Fail at once while disconnected; the rejection becomes UNAVAILABLE above.
        rejectIfRedisNotReady: true,
      });
      this.limiters.set(id, limiter);
    }
    return limiter;
  }

  private async acquire(kind: 'calls' | 'watches' | 'connections', tenant: string, max: number, opts: Parameters<LeaseSemaphores['acquire']>[2]): Promise<Lease | undefined> {
    if (!this.conn.up) throw sharedStateUnavailable();
    try {
      return await this.leases.acquire(`${sharedKeyPrefix}:${kind}:${tenant}`, max, opts);
    } catch (err) {
      throw sharedStateUnavailable(err);
    }
  }
}
