// Budgets and APQ documents shared through a real redis-server, as two replicas of the gateway
// share them: each "replica" here has its own connection and its own budgets object, and the sum
// of what both admit never exceeds the tenant's budget. Leases of a replica that dies expire;
// a Redis that goes away fails every budget closed (503 UNAVAILABLE) with one log line, and the
// gateway recovers when it is back.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { feedFrom, feedIterable } from '../../src/streams/feed.ts';
import { ApiError } from '../../src/api-errors.ts';
import type { GatewayOperations } from '../../src/service/hub-operations.ts';
import { budgetedOperations, defaultRateLimits, type RateLimits } from '../../src/plugins/rate-limits.ts';
import { connectRedis, type RedisConnection } from '../../src/plugins/redis-connection.ts';
import { rateWindow, SharedTenantBudgets } from '../../src/plugins/shared-budgets.ts';
import { SharedDocuments } from '../../src/plugins/shared-documents.ts';
import { pollUntil } from '../helpers/poll-until.ts';
import { startRedis, type TestRedis } from '../helpers/redis-server.ts';

let redis: TestRedis;
const connections: RedisConnection[] = [];
type LogLine = { level: 'info' | 'warn'; msg: string };

/** One replica's view of the shared state: its own connection, budgets and log. */
async function replica(limits: Partial<RateLimits>, timing = {}): Promise<{ conn: RedisConnection; budgets: SharedTenantBudgets; logs: LogLine[] }> {
  const logs: LogLine[] = [];
  const conn = connectRedis(redis.url, { log: { info: (msg) => logs.push({ level: 'info', msg }), warn: (msg) => logs.push({ level: 'warn', msg }) } });
  connections.push(conn);
  assert.ok(await conn.ready(10_000), 'connected');
  return { conn, logs, budgets: new SharedTenantBudgets(conn, { ...defaultRateLimits, ...limits }, timing) };
}

let tenantSeq = 0;
const freshTenant = () => `tenant-${process.pid}-${tenantSeq++}`;

async function outcome(p: Promise<unknown> | unknown): Promise<'ok' | string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    assert.ok(err instanceof ApiError, String(err));
    return err.code;
  }
}

before(async () => {
  redis = await startRedis();
});

after(async () => {
  for (const c of connections) await c.close();
  await redis.dispose();
});

/** A watch on which nothing happens until it is cancelled. */
function quietFeed() {
  return feedFrom((_emit, signal) => new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true })));
}

test('requests per second: both replicas together admit the tenant\'s window once, not once each', async () => {
  const limits = { requestsPerSecond: 1, burst: 10 };
  const a = await replica(limits);
  const b = await replica(limits);
  const { points, seconds } = rateWindow({ ...defaultRateLimits, ...limits });
  assert.deepEqual({ points, seconds }, { points: 10, seconds: 10 });
  const tenant = freshTenant();
  const started = performance.now();
  const results: string[] = [];
  for (let i = 0; i < 3 * points; i++) results.push(await outcome((i % 2 ? a : b).budgets.admitRequest(tenant)));
  const elapsedMs = performance.now() - started;
  const admitted = results.filter((r) => r === 'ok').length;
  assert.deepEqual(new Set(results), new Set(['ok', 'TOO_MANY_REQUESTS']));
  // Windows start at the tenant's first request; each admits `points` across all replicas.
  const windows = 1 + Math.floor(elapsedMs / (seconds * 1000));
  assert.ok(admitted <= points * windows, `${admitted} admitted in ${windows} window(s) of ${points}`);
  if (windows === 1) assert.equal(admitted, points, 'the whole window was used, by both replicas together');
  const refusal = await a.budgets.admitRequest(tenant).catch((e: unknown) => e);
  if (refusal instanceof ApiError) {
    assert.match(refusal.message, /is over its rate limit of 1 requests per second \(burst 10\); retry in \d+ s/);
    assert.ok(refusal.details.retryAfterSeconds! >= 1 && refusal.details.retryAfterSeconds! <= seconds);
  }
});

test('calls in flight: a slot taken on one replica is missing on the other; a waiting call gets the one given back', async () => {
  const limits = { maxConcurrentCalls: 3, maxQueueWaitMs: 0 };
  const a = await replica(limits);
  const b = await replica(limits);
  const tenant = freshTenant();
  const gates = [Promise.withResolvers<void>(), Promise.withResolvers<void>(), Promise.withResolvers<void>()];
  const running = [
    a.budgets.withCallSlot(tenant, undefined, () => gates[0]!.promise),
    a.budgets.withCallSlot(tenant, undefined, () => gates[1]!.promise),
    b.budgets.withCallSlot(tenant, undefined, () => gates[2]!.promise),
  ];
  await pollUntil('three leases held', () => a.budgets.leases.size === 2 && b.budgets.leases.size === 1);
  for (const r of [a, b]) {
    const refused = await r.budgets.withCallSlot(tenant, undefined, async () => 'ran').catch((e: unknown) => e);
    assert.ok(refused instanceof ApiError && refused.code === 'TOO_MANY_REQUESTS', String(refused));
    assert.match(refused.message, /has 3 Kubernetes calls in flight, its limit/);
  }
  // With a queue wait, b's call waits until a's first call gives its slot back.
  const patient = new SharedTenantBudgets(b.conn, { ...defaultRateLimits, maxConcurrentCalls: 3, maxQueueWaitMs: 60_000 });
  let ran = false;
  const waiting = patient.withCallSlot(tenant, undefined, async () => {
    ran = true;
    return 'ran';
  });
  await pollUntil('b polled for a slot at least once', async () => (await b.conn.client.zcard(`crdgate:calls:${tenant}`)) === 3);
  assert.equal(ran, false);
  gates[0]!.resolve();
  assert.equal(await waiting, 'ran');
  for (const g of gates) g.resolve();
  await Promise.all(running);
  await pollUntil('every slot given back', async () => (await b.conn.client.zcard(`crdgate:calls:${tenant}`)) === 0);
});

test('watches: the tenant\'s open watches are counted across replicas, through the budgeted operations', async () => {
  const limits = { maxWatches: 3 };
  const a = await replica(limits);
  const b = await replica(limits);
  const tenant = freshTenant();
  const forever = { watch: async () => quietFeed() } as unknown as GatewayOperations;
  const opsA = budgetedOperations(forever, a.budgets);
  const opsB = budgetedOperations(forever, b.budgets);
  const watch = (ops: GatewayOperations) => ops.watch({ context: { tenant } } as never);
  const open = [await watch(opsA), await watch(opsB), await watch(opsA)];
  await assert.rejects(Promise.resolve(watch(opsB)), /has 3 open subscriptions and watches, its limit/);
  await assert.rejects(Promise.resolve(watch(opsA)), /has 3 open subscriptions and watches, its limit/);
  open[0]!.cancel();
  open[0] = await watch(opsB);
  for (const w of open) w.cancel();
  await pollUntil('every watch slot given back', async () => (await a.conn.client.zcard(`crdgate:watches:${tenant}`)) === 0);
});

test('a replica that dies without giving its slots back: they free up when its leases expire', async () => {
  const limits = { maxWatches: 2 };
  const timing = { leaseMs: 1500, renewMs: 300 };
  const dying = await replica(limits, timing);
  const survivor = await replica(limits, timing);
  const tenant = freshTenant();
  await dying.budgets.openWatch(tenant);
  await dying.budgets.openWatch(tenant);
  assert.equal(await outcome(survivor.budgets.openWatch(tenant)), 'TOO_MANY_REQUESTS');
  // Renewals keep the leases past their lifetime while the replica lives.
  const renewedAt = performance.now();
  await pollUntil('a lease lifetime has passed', () => performance.now() - renewedAt > 2 * timing.leaseMs, { timeoutMs: 10_000 });
  assert.equal(await outcome(survivor.budgets.openWatch(tenant)), 'TOO_MANY_REQUESTS', 'renewed leases do not expire');
  // The process dies: no release, no renewal.
  dying.conn.client.disconnect();
  const release = await pollUntil('a slot of the dead replica to free up', async () => {
    try {
      return await survivor.budgets.openWatch(tenant);
    } catch (err) {
      if (err instanceof ApiError && err.code === 'TOO_MANY_REQUESTS') return undefined;
      throw err;
    }
  }, { timeoutMs: 20_000, intervalMs: 100 });
  release();
});

test('a lease Redis no longer has (emptied): the subscription holding it ends with UNAVAILABLE', async () => {
  const { budgets, conn } = await replica({ maxWatches: 5 }, { leaseMs: 5000, renewMs: 200 });
  const tenant = freshTenant();
  const idle = { watch: async () => quietFeed() } as unknown as GatewayOperations;
  const feed = await budgetedOperations(idle, budgets).watch({ context: { tenant } } as never);
  const next = feedIterable(feed).next();
  await conn.client.del(`crdgate:watches:${tenant}`);
  await assert.rejects(next, (err: unknown) => {
    assert.ok(err instanceof ApiError);
    assert.equal(err.code, 'UNAVAILABLE');
    assert.equal(err.details.reason, 'SharedStateUnavailable');
    assert.match(err.message, /lost its slot in the tenant's shared watch budget/);
    return true;
  });
});

test('WebSocket connections: counted across replicas; a connection whose lease Redis no longer has is told its slot is lost', async () => {
  const limits = { maxConnections: 2 };
  const a = await replica(limits, { leaseMs: 5000, renewMs: 200 });
  const b = await replica(limits);
  const tenant = freshTenant();
  const first = await a.budgets.openConnection(tenant);
  const second = await b.budgets.openConnection(tenant);
  assert.equal(await outcome(a.budgets.openConnection(tenant)), 'TOO_MANY_REQUESTS');
  await assert.rejects(Promise.resolve(b.budgets.openConnection(tenant)), /tenant "[^"]+" has 2 open WebSocket connections, its limit/);
  second();
  second();
  const third = await a.budgets.openConnection(tenant);
  assert.equal(first.lost?.aborted, false);
  await a.conn.client.del(`crdgate:connections:${tenant}`);
  await pollUntil('the lost lease to be noticed', () => first.lost?.aborted === true, { timeoutMs: 5_000 });
  first();
  third();
  await pollUntil('every connection slot given back', async () => (await a.conn.client.zcard(`crdgate:connections:${tenant}`)) === 0);
});

test('APQ documents: registered through one replica, found through the other; bounded, least recently used out first', async () => {
  const a = await replica({});
  const b = await replica({});
  await a.conn.client.del('crdgate:apq:documents', 'crdgate:apq:used', 'crdgate:apq:bytes');
  const max = 4096;
  const docsA = new SharedDocuments(a.conn.client, max);
  const docsB = new SharedDocuments(b.conn.client, max);
  const doc = (i: number) => `query Q${i} { cronTabList_stable_example_com(namespace: "n${i}") { edges { node { metadata { name } } } } }`;
  await docsA.set('h0', doc(0));
  assert.equal(await docsB.get('h0'), doc(0));
  assert.equal(await docsB.get('unknown'), undefined);
  for (let i = 1; i < 200; i++) {
    await (i % 2 ? docsA : docsB).set(`h${i}`, doc(i));
    // h0 stays the most recently used, so it is never the one evicted.
    assert.equal(await docsB.get('h0'), doc(0), `h0 after ${i}`);
  }
  const { count, bytes } = await docsA.stats();
  assert.ok(bytes <= max, `${bytes} bytes stored`);
  assert.ok(count < 200, `${count} documents: old ones were evicted`);
  assert.equal(await docsA.get('h1'), undefined, 'the least recently used went first');
  assert.equal(await docsA.get('h199'), doc(199));
  const big = 'x'.repeat(max / 4);
  await docsA.set('big', big);
  assert.equal(await docsB.get('big'), undefined, 'one document may take at most a quarter of the bound');
  // The running total matches what is stored, whatever the interleaving of the two replicas.
  const stored = await a.conn.client.hgetall('crdgate:apq:documents');
  assert.equal(bytes, Object.entries(stored).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0));
});

test('Redis goes away: budgets fail closed with 503 UNAVAILABLE, one log line; back: budgets work again, one log line', async () => {
  const { budgets, conn, logs } = await replica({ requestsPerSecond: 1000, burst: 1000, maxConcurrentCalls: 10, maxWatches: 10 });
  const docs = new SharedDocuments(conn.client, 1 << 20);
  const tenant = freshTenant();
  await budgets.admitRequest(tenant);
  await docs.set('kept', '{ a }');
  assert.equal(logs.length, 0);
  let reconnects = 0;
  conn.client.on('reconnecting', () => reconnects++);
  await redis.stop();
  await pollUntil('the connection noticed', () => !conn.up);
  for (let i = 0; i < 20; i++) {
    const attempts: (() => Promise<unknown>)[] = [
      () => budgets.admitRequest(tenant),
      () => budgets.withCallSlot(tenant, undefined, async () => 'ran'),
      () => budgets.openWatch(tenant),
    ];
    for (const attempt of attempts) {
      const err = await attempt().then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof ApiError, `refused, not admitted: ${String(err)}`);
      assert.equal(err.code, 'UNAVAILABLE');
      assert.equal(err.httpStatus, 503);
      assert.equal(err.details.reason, 'SharedStateUnavailable');
    }
  }
  assert.equal(await docs.get('kept'), undefined, 'APQ: not found, so the client sends the document');
  await docs.set('other', '{ b }');
  // However many reconnect attempts fail: still one line.
  await pollUntil('three failed reconnect attempts', () => reconnects >= 3, { timeoutMs: 20_000 });
  assert.equal(logs.length, 1, JSON.stringify(logs));
  assert.equal(logs[0]!.level, 'warn');
  assert.match(logs[0]!.msg, new RegExp(`^Redis at redis://127\\.0\\.0\\.1:${redis.port} is unreachable \\(.+\\): requests that need a tenant budget are refused with 503 UNAVAILABLE, and APQ clients must send whole documents, until it is back$`));

  await redis.start();
  await pollUntil('budgets work again', async () => (await outcome(budgets.admitRequest(tenant))) === 'ok', { timeoutMs: 20_000 });
  assert.equal(await budgets.withCallSlot(tenant, undefined, async () => 'ran'), 'ran');
  (await budgets.openWatch(tenant))();
  await docs.set('again', '{ c }');
  assert.equal(await docs.get('again'), '{ c }');
  assert.equal(logs.length, 2, JSON.stringify(logs));
  assert.deepEqual(logs[1], { level: 'info', msg: `Redis at redis://127.0.0.1:${redis.port} is reachable again: shared budgets and APQ documents are back` });
});

test('Redis frozen with its connection open: told once, refused at once while it does not answer; no slot is left held after it', async () => {
  const { budgets, conn, logs } = await replica({ requestsPerSecond: 1000, burst: 1000, maxConcurrentCalls: 5, maxWatches: 5 });
  const tenant = freshTenant();
  await budgets.admitRequest(tenant);
  redis.pause();
  try {
    // Sent before the heartbeat notices: each waits the command timeout, and Redis runs the slot
    // reservations when it answers again.
    const early = await Promise.all(Array.from({ length: 8 }, () => outcome(budgets.withCallSlot(tenant, undefined, async () => 'ran'))));
    assert.deepEqual(new Set(early), new Set(['UNAVAILABLE']));
    await pollUntil('the heartbeat noticed', () => !conn.up, { timeoutMs: 10_000 });
    assert.deepEqual(logs.map((l) => l.level), ['warn'], JSON.stringify(logs));
    assert.match(logs[0]!.msg, /is unreachable \(two PINGs in a row got no answer within 2000 ms\)/);
    // Known not to answer: refused without waiting for it (no command is sent).
    for (const attempt of [() => budgets.admitRequest(tenant), () => budgets.withCallSlot(tenant, undefined, async () => 'ran'), () => budgets.openWatch(tenant)]) {
      assert.equal(await outcome(attempt()), 'UNAVAILABLE');
    }
  } finally {
    redis.resume();
  }
  await pollUntil('back', () => conn.up, { timeoutMs: 10_000 });
  assert.deepEqual(logs.map((l) => l.level), ['warn', 'info'], JSON.stringify(logs));
  // The reservations Redis ran late were given back: the tenant has all 5 slots.
  await pollUntil('no slot left held', async () => (await conn.client.zcard(`crdgate:calls:${tenant}`)) === 0, { timeoutMs: 5_000 });
  const gates = Array.from({ length: 5 }, () => Promise.withResolvers<void>());
  const running = gates.map((g) => budgets.withCallSlot(tenant, undefined, () => g.promise));
  await pollUntil('five slots held', () => budgets.leases.size === 5);
  for (const g of gates) g.resolve();
  await Promise.all(running);
});

test('the gateway\'s own event loop held past the command timeout: Redis is not taken for unreachable', async () => {
  const { conn, logs } = await replica({});
  const seen: boolean[] = [];
  const sample = setInterval(() => seen.push(conn.up), 50);
  try {
    await new Promise((r) => setTimeout(r, 1_100));
    // A PING is in flight now and then; its answer waits unread while the loop is busy.
    const until = performance.now() + 2_500;
    while (performance.now() < until);
    await new Promise((r) => setTimeout(r, 3_000));
  } finally {
    clearInterval(sample);
  }
  assert.ok(seen.length > 20 && seen.every(Boolean), seen.map(Number).join(''));
  assert.deepEqual(logs, []);
});

test('the Redis URL in logs has no user name or password', () => {
  const conn = connectRedis(`redis://user:s3cret@127.0.0.1:${redis.port}/2`, { log: { info: () => {}, warn: () => {} } });
  connections.push(conn);
  assert.equal(conn.where, `redis://127.0.0.1:${redis.port}/2`);
});
