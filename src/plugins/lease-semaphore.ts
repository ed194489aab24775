// Counting semaphores in Redis whose slots are leases: a sorted set per semaphore, one member per
// held slot, scored by the Redis server's clock at its last renewal. Acquiring first drops the
// members not renewed for `leaseMs` (slots of a process that died without giving them back),
// then takes a slot if fewer than `max` remain, in one atomic script. The holder renews all its
// leases in one pipeline every `renewMs`; a lease found gone (Redis emptied, or unreachable for
// longer than the lease while others trimmed it) is reported as lost.
//
// Not redis-semaphore: its per-lock refresh timer turns a failed renewal (Redis down) into an
// unhandled rejection, which ends the process (swarthy/redis-semaphore#199, out of its scope).
// The server's clock (TIME) scores leases, so replicas with skewed clocks agree on expiry.
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

const acquireScript = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - lease)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now, ARGV[2])
  redis.call('PEXPIRE', KEYS[1], lease)
  return 1
end
return 0`;

const renewScript = `
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
local t = redis.call('TIME')
redis.call('ZADD', KEYS[1], 'XX', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`;

type ScriptClient = Redis & {
  crdgateLeaseAcquire(key: string, max: number, id: string, leaseMs: number): Promise<number>;
  crdgateLeaseRenew(key: string, id: string, leaseMs: number): Promise<number>;
};

export interface LeaseTiming {
  /** How long a lease lives without renewal (the slots of a dead process free up after this). */
  leaseMs: number;
  /** How often held leases are renewed; well below leaseMs, so a short outage costs no lease. */
  renewMs: number;
  /** How often a caller waiting for a slot tries again. */
  pollMs: number;
}

export const defaultLeaseTiming: LeaseTiming = { leaseMs: 30_000, renewMs: 10_000, pollMs: 20 };

export interface Lease {
  readonly key: string;
  readonly id: string;
  /** Gives the slot back; without Redis, the lease expires by itself. */
  release(): Promise<void>;
}

interface Held {
  key: string;
  onLost: () => void;
}

/** The leases of one process, over one Redis connection. */
export class LeaseSemaphores {
  private readonly client: ScriptClient;
  private readonly timing: LeaseTiming;
  private readonly owner = randomUUID();
  private next = 0;
  private readonly held = new Map<string, Held>();
  private renewTimer: NodeJS.Timeout | undefined;
  private renewing = false;

  constructor(client: Redis, timing: Partial<LeaseTiming> = {}) {
    this.timing = { ...defaultLeaseTiming, ...timing };
    if (typeof (client as unknown as Partial<ScriptClient>).crdgateLeaseAcquire !== 'function') {
      client.defineCommand('crdgateLeaseAcquire', { numberOfKeys: 1, lua: acquireScript });
      client.defineCommand('crdgateLeaseRenew', { numberOfKeys: 1, lua: renewScript });
    }
    this.client = client as unknown as ScriptClient;
  }

  /** Leases held now. */
  get size(): number {
    return this.held.size;
  }

  /**
   * Takes one of `max` slots of `key`, trying every pollMs for up to waitMs (0: once). Resolves
   * undefined when none freed up or the signal aborted; rejects when Redis cannot be reached.
   */
  async acquire(key: string, max: number, opts: { waitMs?: number; signal?: AbortSignal; onLost?: () => void } = {}): Promise<Lease | undefined> {
    const id = `${this.owner}:${this.next++}`;
    const deadline = performance.now() + (opts.waitMs ?? 0);
    for (;;) {
      if (opts.signal?.aborted) return undefined;
      if (await this.tryAcquire(key, max, id) === 1) break;
      if (performance.now() + this.timing.pollMs > deadline) return undefined;
      await pause(this.timing.pollMs, opts.signal);
    }
    this.held.set(id, { key, onLost: opts.onLost ?? (() => {}) });
    this.startRenewing();
    return {
      key,
      id,
      release: async () => {
        if (!this.held.delete(id)) return;
        if (!this.held.size) this.stopRenewing();
        await this.client.zrem(key, id).catch(() => {});
      },
    };
  }

  private async tryAcquire(key: string, max: number, id: string): Promise<number> {
    try {
      return await this.client.crdgateLeaseAcquire(key, max, id, this.timing.leaseMs);
    } catch (err) {
      // A command that timed out here still runs when a frozen Redis answers again, and would hold
      // a slot nobody gives back for leaseMs; a removal sent after it on the same connection runs
      // after it.
      this.client.zrem(key, id).catch(() => {});
      throw err;
    }
  }

  /** Gives back every lease held (when the process stops). */
  async releaseAll(): Promise<void> {
    const all = [...this.held];
    this.held.clear();
    this.stopRenewing();
    await Promise.allSettled(all.map(([id, h]) => this.client.zrem(h.key, id)));
  }

  /** Renews every held lease once; the ones Redis no longer has are reported lost. */
  async renew(): Promise<void> {
    if (this.renewing || !this.held.size) return;
    this.renewing = true;
    try {
      const entries = [...this.held];
      const pipeline = this.client.pipeline() as ReturnType<Redis['pipeline']> & { crdgateLeaseRenew(key: string, id: string, leaseMs: number): unknown };
      for (const [id, h] of entries) pipeline.crdgateLeaseRenew(h.key, id, this.timing.leaseMs);
      const results = await pipeline.exec();
      entries.forEach(([id, h], i) => {
        const [err, kept] = results?.[i] ?? [null, 1];
        if (err || kept !== 0 || !this.held.delete(id)) return;
        h.onLost();
      });
    } catch {
      // Unreachable: the connection logs it; leases live on until leaseMs, renewed next time.
    } finally {
      this.renewing = false;
      if (!this.held.size) this.stopRenewing();
    }
  }

  private startRenewing(): void {
    if (this.renewTimer) return;
    this.renewTimer = setInterval(() => void this.renew(), this.timing.renewMs);
    this.renewTimer.unref();
  }

  private stopRenewing(): void {
    clearInterval(this.renewTimer);
    this.renewTimer = undefined;
  }
}

function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
