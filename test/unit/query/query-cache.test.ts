// The query cache's life: started on first use, shared, stopped when idle, bounded in memory,
// dropped and paused when its feed fails; a resourceVersion to wait for. Feed and time are fakes.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from '../../../src/api-errors.ts';
import type { FeedFactory, FeedHandlers } from '../../../src/service/query-cache-feed.ts';
import { jsonBytes, QueryCaches, type Timers } from '../../../src/service/query-cache.ts';
import type { WatchKey } from '../../../src/service/watch-hub.ts';

class FakeTime implements Timers {
  t = 0;
  private timers: { at: number; fn: () => void; live: boolean }[] = [];
  now = () => this.t;
  setTimer = (fn: () => void, ms: number) => {
    const timer = { at: this.t + ms, fn, live: true };
    this.timers.push(timer);
    return { cancel: () => { timer.live = false; } };
  };
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const next = this.timers.filter((x) => x.live && x.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!next) break;
      this.t = next.at;
      next.live = false;
      next.fn();
    }
    this.t = end;
  }
}

class FakeFeeds {
  readonly open = new Map<string, FeedHandlers>();
  started = 0;
  stopped: string[] = [];
  readonly factory: FeedFactory = (key, handlers) => {
    const id = idOf(key);
    this.started++;
    this.open.set(id, handlers);
    return { stop: () => {
      this.stopped.push(id);
      this.open.delete(id);
    } };
  };
  feed(key: WatchKey): FeedHandlers {
    const h = this.open.get(idOf(key));
    if (!h) throw new Error(`no feed for ${idOf(key)}`);
    return h;
  }
}

const idOf = (k: WatchKey) => `${k.plural}@${k.namespace ?? '*'}`;
const key = (namespace?: string): WatchKey => ({ group: 'g', version: 'v1', plural: 'gadgets', ...(namespace ? { namespace } : {}) });
const object = (ns: string, name: string, padding = 0) => ({ metadata: { namespace: ns, name, resourceVersion: '1' }, spec: { pad: 'x'.repeat(padding) } });
const tick = () => new Promise((resolve) => setImmediate(resolve));

function setup(opts: { maxBytes?: number; idleMs?: number } = {}) {
  const time = new FakeTime();
  const feeds = new FakeFeeds();
  const caches = new QueryCaches({ feed: feeds.factory, maxBytes: opts.maxBytes ?? 1 << 20, idleMs: opts.idleMs ?? 60_000, timers: time, syncTimeoutMs: 5_000, retryAfterFailureMs: 10_000 });
  return { time, feeds, caches };
}

/** Starts a store and syncs it with the given objects at resourceVersion rv. */
async function synced(s: ReturnType<typeof setup>, k: WatchKey, objects: Record<string, unknown>[], rv = '100') {
  const pending = s.caches.acquire(k);
  const feed = s.feeds.feed(k);
  for (const o of objects) feed.apply('ADDED', o, '1');
  feed.progress(rv, true);
  const store = await pending;
  assert.ok(store);
  return store;
}

describe('query cache', () => {
  it('starts one feed per key on first use, waits for the initial state, and shares the store', async () => {
    const s = setup();
    const store = await synced(s, key(), [object('a', 'x'), object('b', 'y')]);
    assert.equal(s.feeds.started, 1);
    assert.equal(store.size, 2);
    assert.equal(store.resourceVersion, '100');
    assert.equal(await s.caches.acquire(key()), store);
    assert.equal(s.feeds.started, 1, 'the second query shares the store');
    assert.equal(s.caches.peek(key()), store);
    assert.equal(s.caches.peek(key('a')), undefined, 'peek never starts a store');
    assert.deepEqual(s.caches.stats(), [{ resource: 'gadgets.g/v1', namespace: '', objects: 2, bytes: store.bytes, synced: true }]);
  });

  it('applies changes and advances its resourceVersion; reached() waits for one, or times out', async () => {
    const s = setup();
    const store = await synced(s, key(), [object('a', 'x')]);
    const feed = s.feeds.feed(key());
    const waiting = store.reached(105n, 3_000);
    const late = store.reached(200n, 3_000);
    feed.apply('MODIFIED', { ...object('a', 'x'), status: { n: 1 } }, '103');
    feed.apply('ADDED', object('a', 'y'), '105');
    assert.equal(await waiting, true);
    feed.apply('DELETED', object('a', 'x'), '106');
    assert.deepEqual([...store.values()].map((o) => (o['metadata'] as { name: string }).name), ['y']);
    assert.equal(store.resourceVersion, '106');
    s.time.advance(3_000);
    assert.equal(await late, false);
    assert.equal(await store.reached(50n, 1), true);
  });

  it('a query that waits too long for the initial state is answered elsewhere; the store keeps warming', async () => {
    const s = setup();
    const pending = s.caches.acquire(key());
    s.time.advance(5_000);
    assert.equal(await pending, undefined);
    s.feeds.feed(key()).progress('7', true);
    assert.ok(await s.caches.acquire(key()));
    assert.equal(s.feeds.started, 1);
  });

  it('stops a store unused for idleMs, keeps one in use, and starts it again on the next query', async () => {
    const s = setup({ idleMs: 60_000 });
    await synced(s, key('a'), [object('a', 'x')]);
    await synced(s, key('b'), [object('b', 'x')]);
    s.time.advance(40_000);
    assert.ok(await s.caches.acquire(key('b')));
    s.time.advance(40_000);
    assert.deepEqual(s.feeds.stopped, ['gadgets@a'], 'a is idle for 80 s, b for 40 s');
    assert.equal(s.caches.counters.stoppedIdle, 1);
    s.time.advance(60_000);
    assert.deepEqual(s.feeds.stopped, ['gadgets@a', 'gadgets@b']);
    assert.deepEqual(s.caches.stats(), []);
    assert.equal(s.caches.totalBytes, 0);
    await synced(s, key('a'), [object('a', 'x')]);
    assert.equal(s.feeds.started, 3);
  });

  it('bounds memory: evicts the least recently used other stores, and refuses a store too large alone', async () => {
    const one = jsonBytes(object('a', 'x0', 1000));
    const s = setup({ maxBytes: one * 5 });
    await synced(s, key('a'), [object('a', 'x0', 1000), object('a', 'x1', 1000)]);
    s.time.advance(1);
    await synced(s, key('b'), [object('b', 'x0', 1000)]);
    s.time.advance(1);
    await synced(s, key('c'), [object('c', 'x0', 1000), object('c', 'x1', 1000)]);
    assert.equal(s.caches.totalBytes, one * 5);
    // c grows by one object: a, the least recently used, goes.
    s.feeds.feed(key('c')).apply('ADDED', object('c', 'x2', 1000), '101');
    assert.deepEqual(s.feeds.stopped, ['gadgets@a']);
    assert.equal(s.caches.counters.evicted, 1);
    assert.equal(s.caches.totalBytes, one * 4);
    // A store that alone needs more than the bound is refused, and its key paused.
    const pending = s.caches.acquire(key('d'));
    const feed = s.feeds.feed(key('d'));
    for (let i = 0; i < 6; i++) feed.apply('ADDED', object('d', `x${i}`, 1000), '1');
    assert.equal(await pending, undefined);
    assert.equal(s.caches.counters.refusedTooLarge, 1);
    assert.equal(await s.caches.acquire(key('d')), undefined, 'paused: not started again at once');
    assert.ok(s.caches.totalBytes <= one * 5, `${s.caches.totalBytes} bytes held`);
    s.time.advance(60_000);
    const again = s.caches.acquire(key('d'));
    assert.ok(s.feeds.open.has('gadgets@d'), 'after the pause a query tries again');
    s.feeds.feed(key('d')).progress('1', true);
    assert.ok(await again);
  });

  it('runs at most maxStores stores (each an upstream watch): a new one stops the least recently used', async () => {
    const time = new FakeTime();
    const feeds = new FakeFeeds();
    const caches = new QueryCaches({ feed: feeds.factory, maxBytes: 1 << 20, idleMs: 60_000, maxStores: 3, timers: time, syncTimeoutMs: 5_000 });
    const s = { time, feeds, caches };
    for (const ns of ['a', 'b', 'c']) {
      await synced(s, key(ns), []);
      time.advance(10);
    }
    await caches.acquire(key('a'));
    time.advance(10);
    await synced(s, key('d'), []);
    assert.deepEqual(feeds.stopped, ['gadgets@b'], 'b was used least recently');
    assert.deepEqual([...feeds.open.keys()].sort(), ['gadgets@a', 'gadgets@c', 'gadgets@d']);
    assert.equal(caches.counters.evictedForRoom, 1);
    assert.equal(caches.namespaceStores(key()), 3);
  });

  it('a failed feed drops its store, ends its waiters, and pauses its key', async () => {
    const s = setup();
    const store = await synced(s, key(), [object('a', 'x')]);
    const waiting = store.reached(500n, 60_000);
    s.feeds.feed(key()).failed(new ApiError('FORBIDDEN', 'no'));
    assert.equal(await waiting, false);
    assert.equal(store.closed, true);
    assert.equal(s.caches.counters.failed, 1);
    assert.equal(await s.caches.acquire(key()), undefined);
    s.time.advance(10_000);
    const again = s.caches.acquire(key());
    await tick();
    s.feeds.feed(key()).progress('9', true);
    assert.ok(await again);
  });

  it('maxBytes 0 turns the cache off', async () => {
    const s = setup({ maxBytes: 0 });
    assert.equal(await s.caches.acquire(key()), undefined);
    assert.equal(s.feeds.started, 0);
  });

  it('estimates the JSON size of objects, bigint included', () => {
    const o = { a: [1, 'xy', null, true], b: { c: 12345678901234567890n } };
    assert.equal(jsonBytes(o), '{"a":[1,"xy",null,true],"b":{"c":12345678901234567890}}'.length);
  });
});
