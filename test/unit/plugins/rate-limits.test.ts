import { test } from 'node:test';
import assert from 'node:assert/strict';
import { feedFrom, feedIterable } from '../../../src/streams/feed.ts';
import { ApiError } from '../../../src/api-errors.ts';
import { KubeApiError, type KubeClient } from '../../../src/kube/kube-client.ts';
import type { GatewayOperations } from '../../../src/service/hub-operations.ts';
import { budgetedOperations, rateLimits, retryingTooManyRequests, Semaphore, TenantBudgets, TokenBucket, type Clock } from '../../../src/plugins/rate-limits.ts';

function fakeClock(): Clock & { t: number; slept: number[] } {
  const c = {
    t: 0,
    slept: [] as number[],
    now: () => c.t,
    sleep: async (ms: number) => {
      c.slept.push(ms);
      c.t += ms;
    },
  };
  return c;
}

const limits = { requestsPerSecond: 2, burst: 3, maxConcurrentCalls: 2, maxQueueWaitMs: 0, maxWatches: 2, maxConnections: 2, kubeRetries: 3, kubeRetryMaxDelayMs: 5000 };

function tooMany(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ApiError);
    assert.equal(err.code, 'TOO_MANY_REQUESTS');
    assert.equal(err.httpStatus, 429);
    return err;
  }
  assert.fail('expected TOO_MANY_REQUESTS');
}

test('token bucket: a burst, then the sustained rate, with the wait until the next token', () => {
  const clock = fakeClock();
  const b = new TokenBucket(2, 3, clock);
  for (let i = 0; i < 3; i++) assert.deepEqual(b.take(), { ok: true });
  assert.deepEqual(b.take(), { ok: false, retryAfterSeconds: 1 });
  clock.t += 500;
  assert.deepEqual(b.take(), { ok: true });
  assert.equal(b.take().ok, false);
  clock.t += 60_000;
  for (let i = 0; i < 3; i++) assert.equal(b.take().ok, true, 'refills to the burst, not beyond');
  assert.equal(b.take().ok, false);
  const slow = new TokenBucket(0.1, 1, clock);
  slow.take();
  assert.deepEqual(slow.take(), { ok: false, retryAfterSeconds: 10 });
});

test('requests: each tenant has its own bucket; the refusal names the tenant and the limit', () => {
  const clock = fakeClock();
  const budgets = new TenantBudgets(limits, clock);
  for (let i = 0; i < 3; i++) budgets.admitRequest('a');
  const err = tooMany(() => budgets.admitRequest('a'));
  assert.match(err.message, /tenant "a" is over its rate limit of 2 requests per second \(burst 3\)/);
  assert.equal(err.details.retryAfterSeconds, 1);
  budgets.admitRequest('b');
  clock.t += 500;
  budgets.admitRequest('a');
  const off = new TenantBudgets({ ...limits, requestsPerSecond: 0 }, clock);
  for (let i = 0; i < 100; i++) off.admitRequest('a');
});

test('semaphore: waits for a slot up to a deadline, then gives up; an abort gives up at once', async (t) => {
  const s = new Semaphore(1);
  assert.equal(await s.acquire(0), true);
  assert.equal(await s.acquire(0), false);
  const waiting = s.acquire(5_000);
  s.release();
  assert.equal(await waiting, true);
  assert.equal(s.active, 1);
  // The deadline is the semaphore's own timer: with the clock mocked, it gives up exactly at 30 ms.
  t.mock.timers.enable({ apis: ['setTimeout'] });
  let settled: boolean | undefined;
  const deadline = s.acquire(30).then((ok) => (settled = ok));
  t.mock.timers.tick(29);
  await Promise.resolve();
  assert.equal(settled, undefined, 'still waiting before the deadline');
  t.mock.timers.tick(1);
  assert.equal(await deadline, false);
  t.mock.timers.reset();
  const controller = new AbortController();
  const aborted = s.acquire(60_000, controller.signal);
  controller.abort();
  assert.equal(await aborted, false);
  s.release();
  assert.equal(s.active, 0);
  assert.equal(await s.acquire(0), true, 'the aborted waiter took no slot');
});

function fakeOperations(): GatewayOperations & { gate: PromiseWithResolvers<void> } {
  const gate = Promise.withResolvers<void>();
  const ops = {
    gate,
    hub: {} as never,
    service: {} as never,
    get: async () => {
      await gate.promise;
      return { ok: true };
    },
    watch: async () => feedFrom(async (emit) => {
      await emit({ type: 'ADDED' } as never);
      await emit({ type: 'MODIFIED' } as never);
    }),
  } as unknown as GatewayOperations & { gate: PromiseWithResolvers<void> };
  return ops;
}

test('operations: concurrent calls per tenant are bounded; excess is TOO_MANY_REQUESTS, other tenants unaffected', async () => {
  const budgets = new TenantBudgets(limits, fakeClock());
  const raw = fakeOperations();
  const ops = budgetedOperations(raw, budgets);
  assert.equal(ops.hub, raw.hub, 'keeps hub and service');
  const req = (tenant: string) => ({ context: { tenant } }) as never;
  const inFlight = [ops.get(req('a')), ops.get(req('a'))];
  assert.equal(budgets.activeCalls('a'), 2);
  await assert.rejects(ops.get(req('a')), (err: unknown) => err instanceof ApiError && err.code === 'TOO_MANY_REQUESTS' && /2 Kubernetes calls in flight/.test(err.message));
  const other = ops.get(req('b'));
  raw.gate.resolve();
  await Promise.all([...inFlight, other]);
  assert.equal(budgets.activeCalls('a'), 0);
  await ops.get(req('a'));
});

test('operations: open watches per tenant are bounded and released when the stream ends or is cancelled', async () => {
  const budgets = new TenantBudgets(limits, fakeClock());
  const ops = budgetedOperations(fakeOperations(), budgets);
  const req = { context: { tenant: 'a' } } as never;
  const w1 = await ops.watch(req);
  const w2 = feedIterable(await ops.watch(req));
  assert.equal(budgets.openWatches('a'), 2);
  await assert.rejects(Promise.resolve(ops.watch(req)), (err: unknown) => err instanceof ApiError && err.code === 'TOO_MANY_REQUESTS' && err.details.retryAfterSeconds === 5);
  w1.cancel();
  assert.equal(budgets.openWatches('a'), 1);
  w1.cancel();
  assert.equal(budgets.openWatches('a'), 1, 'released once');
  assert.equal((await w2.next()).done, false);
  assert.equal((await w2.next()).done, false);
  assert.equal((await w2.next()).done, true);
  assert.equal(budgets.openWatches('a'), 0);
});

test('connections: a tenant\'s open WebSocket connections are bounded by its own limit, each given back once', () => {
  const budgets = new TenantBudgets(limits, fakeClock(), new Map([['wide', { maxConnections: 0 }], ['one', { maxConnections: 1 }]]));
  const plugin = rateLimits({ limits, budgets });
  const a1 = plugin.openConnection!('a') as () => void;
  budgets.openConnection('a');
  assert.equal(budgets.openConnections('a'), 2);
  assert.match(tooMany(() => budgets.openConnection('a')).message, /tenant "a" has 2 open WebSocket connections, its limit; close one before opening another/);
  assert.equal(budgets.openConnections('a'), 2, 'a refusal holds nothing');
  a1();
  a1();
  assert.equal(budgets.openConnections('a'), 1, 'released once');
  budgets.openConnection('a');
  budgets.openConnection('one');
  assert.throws(() => budgets.openConnection('one'), /tenant "one" has 1 open WebSocket connections/);
  for (let i = 0; i < 10; i++) budgets.openConnection('wide');
  assert.equal(budgets.openConnections('wide'), 10);
  assert.equal(budgets.openWatches('a'), 0, 'connections are not watches');
});

test('a tenant rule\'s own budgets replace the gateway\'s for that tenant only; 0 is unlimited', async () => {
  const clock = fakeClock();
  const budgets = new TenantBudgets(limits, clock);
  const plugin = rateLimits({ limits, clock, budgets });
  const rule = (name: string, own: Record<string, number> | undefined) => ({ name, match: { tenant: name }, user: name, groups: [], extra: {}, ...(own ? { limits: own } : {}) });
  plugin.attach!({ tenants: { tenants: [
    rule('unlimited', { requestsPerSecond: 0, maxWatches: 0 }),
    rule('strict', { requestsPerSecond: 1, burst: 1, maxConcurrentCalls: 1, maxWatches: 1, maxCost: 10 }),
    rule('plain', undefined),
  ] } } as never);
  assert.equal(plugin.budgets, budgets);
  for (let i = 0; i < 50; i++) budgets.admitRequest('unlimited');
  budgets.admitRequest('strict');
  assert.match(tooMany(() => budgets.admitRequest('strict')).message, /tenant "strict" is over its rate limit of 1 requests per second \(burst 1\)/);
  for (let i = 0; i < 3; i++) budgets.admitRequest('plain');
  assert.match(tooMany(() => budgets.admitRequest('plain')).message, /rate limit of 2 requests per second \(burst 3\)/);

  const ops = budgetedOperations(fakeOperations(), budgets);
  const watch = (tenant: string) => ops.watch({ context: { tenant } } as never);
  const strict = await watch('strict');
  await assert.rejects(Promise.resolve(watch('strict')), /tenant "strict" has 1 open subscriptions and watches, its limit/);
  for (let i = 0; i < 5; i++) await watch('unlimited');
  assert.equal(budgets.openWatches('unlimited'), 5);
  strict.cancel();
  assert.equal(budgets.openWatches('strict'), 0);
  assert.equal(budgets.limitsOf('strict').maxConcurrentCalls, 1);
  assert.equal(budgets.limitsOf('plain').maxConcurrentCalls, 2);
  assert.equal(budgets.limitsOf('').maxConcurrentCalls, 2, 'no tenant: the gateway\'s budgets');
});

function fakeClient(answers: (number | 'ok')[], retryAfter?: number): KubeClient & { calls: number } {
  const c = {
    calls: 0,
    server: 'https://k',
    async request() {
      const a = answers[c.calls++];
      if (a === 'ok') return { fine: true };
      throw new KubeApiError(a!, { code: a, reason: a === 429 ? 'TooManyRequests' : 'InternalError', message: 'busy' }, retryAfter);
    },
  };
  return c as unknown as KubeClient & { calls: number };
}

test('apiserver 429: retried after Retry-After (capped), up to the retry budget, then passed on', async () => {
  const clock = fakeClock();
  const ok = fakeClient([429, 429, 'ok'], 2);
  const wrapped = retryingTooManyRequests(ok, { retries: 3, maxDelayMs: 5000, clock });
  assert.deepEqual(await wrapped.request('GET', '/x'), { fine: true });
  assert.equal(ok.calls, 3);
  assert.deepEqual(clock.slept, [2000, 2000]);
  assert.equal(wrapped.server, 'https://k', 'everything else is the wrapped client');

  clock.slept.length = 0;
  const busy = fakeClient([429, 429, 429, 429, 429], 60);
  await assert.rejects(retryingTooManyRequests(busy, { retries: 3, maxDelayMs: 5000, clock }).request('GET', '/x'),
    (err: unknown) => err instanceof KubeApiError && err.httpStatus === 429 && err.retryAfterSeconds === 60);
  assert.equal(busy.calls, 4, 'one call and three retries');
  assert.deepEqual(clock.slept, [5000, 5000, 5000], 'delay capped');

  const broken = fakeClient([500, 'ok']);
  await assert.rejects(retryingTooManyRequests(broken, { retries: 3, maxDelayMs: 5000, clock }).request('GET', '/x'));
  assert.equal(broken.calls, 1, 'other errors are not retried');
});
