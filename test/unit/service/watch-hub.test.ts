import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stringifyJson } from '../../../src/kube/lossless-json.ts';
import { ApiError } from '../../../src/api-errors.ts';
import { KubeApiError, type WatchEvent } from '../../../src/kube/kube-client.ts';
import type { Clock, ListWatchSource } from '../../../src/kube/reflector.ts';
import { WatchHub, type HubEvent, type HubObserver, type KubeObject, type WatchKey } from '../../../src/service/watch-hub.ts';
import { feedIterable, type Feed, type FeedSink } from '../../../src/streams/feed.ts';

const key: WatchKey = { group: 'stable.example.com', version: 'v1', plural: 'crontabs', namespace: 'ns' };

function ct(name: string, rv: number, labels: Record<string, string> = {}, cronSpec = '* * * * *'): KubeObject {
  return { metadata: { name, namespace: 'ns', resourceVersion: String(rv), labels }, spec: { cronSpec } };
}

/** An apiserver stand-in for one collection: the test drives lists and watch events by hand. */
class FakeCollection {
  lists = 0;
  watches = 0;
  items: KubeObject[] = [];
  rv = 1;
  private emit: ((e: WatchEvent<KubeObject>) => void) | undefined;
  private failWatch: ((err: unknown) => void) | undefined;
  source(): ListWatchSource<KubeObject> {
    return {
      list: async () => {
        this.lists++;
        return { items: [...this.items], resourceVersion: String(this.rv) };
      },
      watch: (_rv, _t, onEvent, signal, onOpen) => {
        this.watches++;
        this.emit = onEvent;
        onOpen?.();
        return new Promise((resolve, reject) => {
          this.failWatch = reject;
          signal.addEventListener('abort', () => resolve(), { once: true });
        });
      },
    };
  }
  get watching(): boolean {
    return this.emit !== undefined;
  }
  add(o: KubeObject) {
    this.items.push(o);
    this.rv = Number((o.metadata as { resourceVersion: string }).resourceVersion);
    this.emit!({ type: 'ADDED', object: o });
  }
  modify(o: KubeObject) {
    const name = (o.metadata as { name: string }).name;
    this.items = this.items.map((x) => ((x.metadata as { name: string }).name === name ? o : x));
    this.rv = Number((o.metadata as { resourceVersion: string }).resourceVersion);
    this.emit!({ type: 'MODIFIED', object: o });
  }
  remove(o: KubeObject) {
    const name = (o.metadata as { name: string }).name;
    this.items = this.items.filter((x) => (x.metadata as { name: string }).name !== name);
    this.rv = Number((o.metadata as { resourceVersion: string }).resourceVersion);
    this.emit!({ type: 'DELETED', object: o });
  }
  /** The apiserver compacted: the current watch ends with 410, and the next list is fresh. */
  gone() {
    this.emit = undefined;
    this.failWatch!(new KubeApiError(410, { code: 410, reason: 'Expired', message: 'too old resource version' }));
  }
}

const clock: Clock = { now: () => 0, random: () => 0, sleep: async () => {} };

function hubWith(c: FakeCollection, extra: Partial<ConstructorParameters<typeof WatchHub>[0]> = {}) {
  const timers: { fn: () => void; ms: number; cancelled: boolean }[] = [];
  const hub = new WatchHub({
    sourceFor: () => c.source(),
    clock,
    setTimer: (fn, ms) => {
      const t = { fn, ms, cancelled: false };
      timers.push(t);
      return { cancel: () => (t.cancelled = true) };
    },
    ...extra,
  });
  return { hub, timers };
}

async function until(cond: () => boolean, what: string) {
  for (let i = 0; i < 2000; i++) {
    if (cond()) return;
    await new Promise((r) => setImmediate(r));
  }
  assert.fail(`timed out waiting for ${what}`);
}

function fmt(e: HubEvent): string {
  const m = e.object.metadata as { name?: string; annotations?: Record<string, string> };
  return `${e.type} ${m.name ?? (m.annotations ? 'initial-end' : '')}@${e.resourceVersion}`;
}

/** Reads events into an array in the background, through the pull adapter. */
function reader(feed: Feed<HubEvent>) {
  const events: string[] = [];
  let error: unknown;
  let done = false;
  const running = (async () => {
    try {
      for await (const e of feedIterable(feed)) events.push(fmt(e));
    } catch (err) {
      error = err;
    } finally {
      done = true;
    }
  })();
  return { events, get error() { return error; }, get done() { return done; }, running };
}

/**
 * A connection as the hub sees it: each event adds `bytesPerEvent` to what it holds unsent until
 * the test drains it, as a socket whose reader has stopped would.
 */
class TestSink implements FeedSink<HubEvent> {
  readonly events: string[] = [];
  error: unknown;
  ended = false;
  held = 0;
  drains = 0;
  private waiters: (() => void)[] = [];
  private readonly bytesPerEvent: number;
  constructor(bytesPerEvent: number) {
    this.bytesPerEvent = bytesPerEvent;
  }
  next(e: HubEvent) {
    this.events.push(fmt(e));
    this.held += this.bytesPerEvent;
  }
  end(error?: unknown) {
    this.ended = true;
    this.error = error;
  }
  buffered() {
    return this.held;
  }
  onDrain(fn: () => void) {
    this.waiters.push(fn);
  }
  get waiting(): boolean {
    return this.waiters.length > 0;
  }
  /** The reader took everything. */
  drain() {
    this.held = 0;
    this.drains++;
    const fns = this.waiters;
    this.waiters = [];
    for (const fn of fns) fn();
  }
}

test('many subscribers share one upstream list+watch', async () => {
  const c = new FakeCollection();
  const { hub } = hubWith(c);
  const controllers = Array.from({ length: 100 }, () => new AbortController());
  const readers = controllers.map((ac) => reader(hub.subscribe(key, { signal: ac.signal })));
  await until(() => c.watching, 'the upstream watch');
  c.add(ct('a', 2));
  await until(() => readers.every((r) => r.events.length === 1), 'delivery to all');
  assert.equal(c.lists, 1);
  assert.equal(c.watches, 1);
  assert.equal(hub.stats().upstreams, 1);
  assert.equal(hub.stats().subscribers, 100);
  assert.ok(readers.every((r) => r.events[0] === 'ADDED a@2'));
  controllers.forEach((ac) => ac.abort());
  await until(() => readers.every((r) => r.done), 'all ended');
  assert.equal(hub.stats().subscribers, 0);
  await hub.stop();
});

test('the upstream stops a grace period after the last subscriber leaves, unless one comes back', async () => {
  const c = new FakeCollection();
  const { hub, timers } = hubWith(c, { graceMs: 30_000 });
  const ac1 = new AbortController();
  reader(hub.subscribe(key, { signal: ac1.signal }));
  await until(() => c.watching, 'the upstream watch');
  ac1.abort();
  await until(() => timers.length === 1, 'the grace timer');
  assert.equal(timers[0]!.ms, 30_000);
  const ac2 = new AbortController();
  reader(hub.subscribe(key, { signal: ac2.signal }));
  assert.ok(timers[0]!.cancelled, 'a new subscriber cancels the grace timer');
  assert.equal(hub.stats().upstreamsStarted, 1);
  ac2.abort();
  await until(() => timers.length === 2, 'the second grace timer');
  timers[1]!.fn();
  await until(() => hub.stats().upstreams === 0, 'the upstream to stop');
  await hub.stop();
});

test('initial state: ADDED for current objects matching the selector, then the end marker, then live events', async () => {
  const c = new FakeCollection();
  c.items = [ct('a', 2, { app: 'web' }), ct('b', 3, { app: 'db' })];
  c.rv = 3;
  const { hub } = hubWith(c);
  const r = reader(hub.subscribe(key, { sendInitialEvents: true, labelSelector: 'app=web' }));
  await until(() => r.events.length === 2 && c.watching, 'initial state');
  c.add(ct('c', 4, { app: 'web' }));
  c.add(ct('d', 5, { app: 'db' }));
  await until(() => r.events.length === 3, 'the live event');
  assert.deepEqual(r.events, ['ADDED a@2', 'BOOKMARK initial-end@3', 'ADDED c@4']);
  await hub.stop();
});

test('an object moving into or out of a selector is ADDED or DELETED for that subscriber', async () => {
  const c = new FakeCollection();
  const { hub } = hubWith(c);
  const r = reader(hub.subscribe(key, { fieldSelector: 'spec.cronSpec=0 * * * *', selectableFields: ['.spec.cronSpec'] }));
  await until(() => c.watching, 'watch');
  c.add(ct('a', 2, {}, '* * * * *'));
  c.modify(ct('a', 3, {}, '0 * * * *'));
  c.modify(ct('a', 4, { x: 'y' }, '0 * * * *'));
  c.modify(ct('a', 5, {}, '* * * * *'));
  c.modify(ct('a', 6, {}, '0 * * * *'));
  c.remove(ct('a', 7, {}, '0 * * * *'));
  await until(() => r.events.length === 5, 'events');
  assert.deepEqual(r.events, ['ADDED a@3', 'MODIFIED a@4', 'DELETED a@5', 'ADDED a@6', 'DELETED a@7']);
  await hub.stop();
});

test('a resume from before the upstream learned a selectable field still sees an object leave the field selection', async () => {
  // An observer (the query cache) starts the upstream, which then knows no selectable field;
  // a subscriber that selects on one and resumes from before it joined must still get the
  // DELETED of an object that moved out of its selection, as the apiserver would send it.
  const c = new FakeCollection();
  const fallbackFrom: string[] = [];
  const { hub } = hubWith(c, {
    fallback: async (_k, o, onEvent) => {
      fallbackFrom.push(o.resourceVersion!);
      await onEvent({ type: 'DELETED', object: ct('a', 3), resourceVersion: '3' });
    },
  });
  const observation = hub.observe(key, { initial() {}, event() {} });
  await until(() => c.watching, 'watch');
  c.add(ct('a', 2, {}, '0 * * * *'));
  c.modify(ct('a', 3, {}, '* * * * *'));
  await until(() => hub.upstreamStats()[0]!.windowEvents === 2, 'the events in the window');
  const r = reader(hub.subscribe(key, { resourceVersion: '2', fieldSelector: 'spec.cronSpec=0 * * * *', selectableFields: ['.spec.cronSpec'] }));
  await until(() => r.events.length === 1, 'the DELETED');
  assert.deepEqual(r.events, ['DELETED a@3']);
  assert.deepEqual(fallbackFrom, ['2'], 'served by the apiserver, which knows the field\'s old value');
  observation.close();
  await hub.stop();
});

test('resume from a resourceVersion replays exactly the events after it', async () => {
  const c = new FakeCollection();
  const { hub } = hubWith(c);
  const first = reader(hub.subscribe(key));
  await until(() => c.watching, 'watch');
  c.add(ct('a', 2));
  c.add(ct('b', 3));
  c.modify(ct('a', 4));
  await until(() => first.events.length === 3, 'first subscriber');
  const resumed = reader(hub.subscribe(key, { resourceVersion: '2' }));
  await until(() => resumed.events.length === 2, 'replay');
  c.remove(ct('b', 5));
  await until(() => resumed.events.length === 3, 'live after replay');
  assert.deepEqual(resumed.events, ['ADDED b@3', 'MODIFIED a@4', 'DELETED b@5']);
  await hub.stop();
});

test('resume from before what the hub remembers is GONE without a fallback, and uses the fallback when there is one', async () => {
  const c = new FakeCollection();
  c.rv = 10;
  // Entries of objects the store still holds cost only their overhead (256 bytes): two fit.
  const { hub } = hubWith(c, { windowBytes: 600 });
  reader(hub.subscribe(key));
  await until(() => c.watching, 'watch');
  c.add(ct('a', 11));
  c.add(ct('b', 12));
  c.add(ct('c', 13)); // evicts rv 11: the window is now (11, 13]
  assert.equal(hub.upstreamStats()[0]!.windowEvents, 2);
  const ok = reader(hub.subscribe(key, { resourceVersion: '11' }));
  await until(() => ok.events.length === 2, 'replay inside the window');
  assert.deepEqual(ok.events, ['ADDED b@12', 'ADDED c@13']);
  const old = reader(hub.subscribe(key, { resourceVersion: '10' }));
  await until(() => old.done, 'GONE');
  assert.ok(old.error instanceof ApiError && old.error.code === 'GONE', String(old.error));
  await hub.stop();

  const c2 = new FakeCollection();
  c2.rv = 10;
  const fallbackCalls: string[] = [];
  const { hub: hub2 } = hubWith(c2, {
    windowBytes: 300,
    fallback: async (_k, o, onEvent, signal) => {
      fallbackCalls.push(o.resourceVersion!);
      await onEvent({ type: 'ADDED', object: ct('x', 9), resourceVersion: '9' });
      // Open until the subscriber goes.
      await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
    },
  });
  const viaFallback = reader(hub2.subscribe(key, { resourceVersion: '5' }));
  await until(() => viaFallback.events.length === 1, 'fallback');
  assert.deepEqual(fallbackCalls, ['5']);
  assert.deepEqual(viaFallback.events, ['ADDED x@9']);
  assert.equal(viaFallback.done, false);
  assert.equal(hub.stats().directWatchesStarted, 0, 'a resume inside the window starts none');
  assert.equal(hub2.stats().directWatchesStarted, 1);
  await hub2.stop();
});

test('a direct watch (fallback) delivers only what the subscriber\'s filter lets through, read per event; bookmarks pass', async () => {
  const c = new FakeCollection();
  c.rv = 100;
  let visibleNamespace = 'mine';
  let send: ((e: HubEvent) => void | Promise<void>) | undefined;
  const { hub } = hubWith(c, {
    fallback: (_k, _o, onEvent, signal) => {
      send = onEvent;
      return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    },
  });
  const inNs = (name: string, namespace: string, rv: number): HubEvent =>
    ({ type: 'ADDED', object: { ...ct(name, rv), metadata: { name, namespace, resourceVersion: String(rv) } }, resourceVersion: String(rv) });
  const r = reader(hub.subscribe({ ...key, namespace: undefined }, {
    resourceVersion: '50',
    filter: (o) => (o.metadata as { namespace?: string }).namespace === visibleNamespace,
  }));
  await until(() => send !== undefined, 'the direct watch');
  await send!(inNs('a', 'mine', 60));
  await send!(inNs('secret', 'not-yours', 61));
  await send!({ type: 'BOOKMARK', object: { metadata: { resourceVersion: '62' } }, resourceVersion: '62' });
  visibleNamespace = 'other';
  await send!(inNs('b', 'mine', 63));
  await send!(inNs('c', 'other', 64));
  await until(() => r.events.length >= 3, 'the visible events');
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.deepEqual(r.events, ['ADDED a@60', 'BOOKMARK @62', 'ADDED c@64']);
  await hub.stop();
});

test('a direct watch (fallback) is held while the subscriber\'s connection is full', async () => {
  const c = new FakeCollection();
  c.rv = 10;
  let sent = 0;
  const { hub } = hubWith(c, {
    windowBytes: 300,
    maxBufferedBytes: 64 << 10,
    fallback: async (_k, _o, onEvent) => {
      for (let i = 0; i < 100; i++) {
        sent++;
        await onEvent({ type: 'ADDED', object: ct(`x${i}`, 5 + i), resourceVersion: String(5 + i) });
      }
    },
  });
  const sink = new TestSink(4 << 10);
  hub.subscribe(key, { resourceVersion: '4' }).start(sink);
  // Pages are an eighth of the bound (16 KiB here, the smallest page): 4 events of 4 KiB each.
  await until(() => sink.waiting, 'the first page');
  assert.equal(sent, 4);
  assert.equal(hub.stats().fallbackSubscribers, 1);
  while (sink.events.length < 100 || hub.stats().fallbackSubscribers) {
    sink.drain();
    await new Promise((r) => setImmediate(r));
  }
  assert.equal(sink.events.length, 100);
  // The direct watch ended; the subscription goes on from the upstream, after its last event.
  assert.equal(sink.ended, false);
  assert.equal(sink.error, undefined);
  await hub.stop();
});

test('410 upstream: relist, subscribers get the synthesized difference then a bookmark, in order, nothing lost', async () => {
  const c = new FakeCollection();
  c.items = [ct('keep', 2), ct('change', 3), ct('remove', 4)];
  c.rv = 4;
  const { hub } = hubWith(c);
  const r = reader(hub.subscribe(key));
  await until(() => c.watching, 'watch');
  // While the watch is broken, the collection changes; the hub only learns by relisting.
  c.gone();
  c.items = [ct('keep', 2), ct('change', 8), ct('new', 9)];
  c.rv = 10;
  await until(() => r.events.length === 4, 'the diff');
  // The difference tells the resourceVersion from before the relist (a resume from it replays the
  // whole difference); the bookmark after it, the new list's.
  assert.deepEqual(r.events, ['DELETED remove@4', 'MODIFIED change@4', 'ADDED new@4', 'BOOKMARK @10']);
  assert.equal(c.lists, 2);
  await until(() => c.watching, 'the new watch');
  c.add(ct('later', 11));
  await until(() => r.events.length === 5, 'live again');
  assert.equal(r.events[4], 'ADDED later@11');
  await hub.stop();
});

test('a subscriber cut inside a relist\'s difference and resuming from the last resourceVersion it got receives the whole difference', async () => {
  const c = new FakeCollection();
  c.items = Array.from({ length: 100 }, (_, i) => ct(`o${i}`, 2 + i));
  c.rv = 101;
  const { hub } = hubWith(c, { maxBufferedBytes: 64 << 10 });
  const keeper = reader(hub.subscribe(key));
  const sink = new TestSink(1024);
  const sub = hub.subscribe(key);
  sub.start(sink);
  await until(() => c.watching, 'watch');
  // 410: while the watch is down, every object changes.
  c.gone();
  c.items = Array.from({ length: 100 }, (_, i) => ct(`o${i}`, 200 + i));
  c.rv = 300;
  await until(() => sink.waiting, 'the first page of the difference');
  assert.ok(sink.events.length > 0 && sink.events.length < 100, `one page: ${sink.events.length} events`);
  // The connection is lost here; the client resumes from the last event's resourceVersion.
  sub.cancel();
  const resumed = reader(hub.subscribe(key, { resourceVersion: sink.events.at(-1)!.split('@')[1]! }));
  await until(() => keeper.events.length >= 101, 'the difference');
  await until(() => c.watching, 'the new watch');
  c.add(ct('later', 301));
  await until(() => resumed.events.includes('ADDED later@301'), 'live');
  const modified = (events: string[]) => events.filter((e) => e.startsWith('MODIFIED')).map((e) => e.split(' ')[1]!.split('@')[0]);
  assert.deepEqual(modified(resumed.events), Array.from({ length: 100 }, (_, i) => `o${i}`), 'the resumed subscription replays the difference');
  assert.deepEqual(resumed.events.slice(100), ['BOOKMARK @300', 'ADDED later@301']);
  await hub.stop();
});

test('the bytes an upstream holds are counted in UTF-8, and an object nested 10,000 levels deep (Kubernetes\' bound) is held and served', async () => {
  const c = new FakeCollection();
  let deep: unknown = 12345678901234567890n;
  for (let i = 0; i < 10_000; i++) deep = { a: deep };
  const wide = { ...ct('wide', 2), spec: { text: '漢字'.repeat(1_000) } };
  c.items = [wide, { ...ct('deep', 3), spec: deep as Record<string, unknown> }];
  c.rv = 3;
  const { hub } = hubWith(c);
  const r = reader(hub.subscribe(key, { sendInitialEvents: true }));
  await until(() => r.events.length === 3, 'the initial state');
  assert.deepEqual(r.events, ['ADDED wide@2', 'ADDED deep@3', 'BOOKMARK initial-end@3']);
  const held = hub.upstreamStats()[0]!.storeBytes;
  const expected = Buffer.byteLength(JSON.stringify(wide)) + Buffer.byteLength(stringifyJson(c.items[1]));
  assert.equal(held, expected, 'UTF-8 bytes of both objects');
  await hub.stop();
});

test('a live subscriber whose connection holds more than the byte bound is ended with SLOW_CONSUMER and its last resourceVersion', async () => {
  const c = new FakeCollection();
  const { hub } = hubWith(c, { maxBufferedBytes: 100_000 });
  const slow = new TestSink(10_000);
  hub.subscribe(key).start(slow);
  const fast = reader(hub.subscribe(key));
  await until(() => c.watching, 'watch');
  for (let i = 0; i < 50; i++) c.add(ct(`o${i}`, 100 + i));
  await until(() => fast.events.length === 50, 'the fast subscriber');
  // 11 events of 10 kB: the 11th crosses 100 kB.
  assert.equal(slow.events.length, 11);
  assert.ok(slow.error instanceof ApiError && slow.error.code === 'SLOW_CONSUMER', String(slow.error));
  assert.match(slow.error.message, /resubscribe from resourceVersion 110/);
  assert.equal(slow.error.details.resourceVersion, '110');
  assert.equal(hub.stats().slowConsumers, 1);
  assert.equal(hub.stats().eventsDropped, 1);
  assert.equal(hub.stats().subscribers, 1, 'the slow subscriber is gone, the fast one stays');
  await hub.stop();
});

test('an initial state of 10,000 objects is sent in pages as the connection drains; live events wait in order behind it', async () => {
  const c = new FakeCollection();
  c.items = Array.from({ length: 10_000 }, (_, i) => ct(`o${i}`, i + 2, { half: String(i % 2) }));
  c.rv = 10_001;
  const { hub } = hubWith(c, { maxBufferedBytes: 1 << 20 });
  const sink = new TestSink(1024);
  hub.subscribe(key, { sendInitialEvents: true, labelSelector: 'half=0' }).start(sink);
  await until(() => sink.waiting && c.watching, 'the first page');
  // A page is an eighth of the bound: 128 events of 1 KiB.
  assert.equal(sink.events.length, 128);
  c.add(ct('late-0', 10_002, { half: '0' }));
  c.modify(ct('o0', 10_003, { half: '1' }));
  c.add(ct('late-1', 10_004, { half: '1' }));
  assert.equal(sink.events.length, 128, 'live events wait behind the backlog');
  while (sink.events.length < 5_003 && !sink.ended) sink.drain();
  assert.equal(sink.ended, false);
  assert.deepEqual(sink.events.slice(0, 2), ['ADDED o0@2', 'ADDED o2@4']);
  assert.deepEqual(sink.events.slice(4_999), ['ADDED o9998@10000', 'BOOKMARK initial-end@10001', 'ADDED late-0@10002', 'DELETED o0@10003']);
  assert.ok(sink.drains >= 39, `${sink.drains} pages`);
  // Caught up: events are written as they come, without waiting for a drain.
  c.add(ct('later', 10_005, { half: '0' }));
  assert.equal(sink.events.at(-1), 'ADDED later@10005');
  await hub.stop();
});

test('a subscriber whose backlog leaves the resume window is ended with SLOW_CONSUMER; resuming from its last resourceVersion is GONE', async () => {
  const c = new FakeCollection();
  c.rv = 10;
  const { hub } = hubWith(c, { maxBufferedBytes: 64 << 10, windowBytes: 256 * 10 });
  reader(hub.subscribe(key));
  await until(() => c.watching, 'watch');
  for (let i = 0; i < 10; i++) c.add(ct(`a${i}`, 11 + i));
  const sink = new TestSink(4 << 10);
  hub.subscribe(key, { resourceVersion: '10' }).start(sink);
  assert.equal(sink.events.length, 4, 'one page of the replay');
  for (let i = 0; i < 6; i++) c.add(ct(`b${i}`, 21 + i)); // the window drops rv 11..16; the subscriber sent up to 14
  assert.ok(sink.error instanceof ApiError && sink.error.code === 'SLOW_CONSUMER', String(sink.error));
  assert.equal(sink.error.details.resourceVersion, '14');
  const again = reader(hub.subscribe(key, { resourceVersion: '14' }));
  await until(() => again.done, 'GONE');
  assert.ok(again.error instanceof ApiError && again.error.code === 'GONE');
  await hub.stop();
});

test('the window is bounded in bytes: current objects are shared with the store, replaced ones count in full', async () => {
  const c = new FakeCollection();
  const big = (name: string, rv: number) => ({ ...ct(name, rv), spec: { cronSpec: '*', blob: 'x'.repeat(50_000) } });
  const { hub } = hubWith(c, { windowBytes: 500_000 });
  reader(hub.subscribe(key));
  await until(() => c.watching, 'watch');
  for (let i = 0; i < 5; i++) c.add(big(`o${i}`, 2 + i));
  let u = hub.upstreamStats()[0]!;
  assert.equal(u.windowEvents, 5);
  assert.ok(u.windowBytes < 5 * 1024, `${u.windowBytes}: the store holds these objects, the window only refers to them`);
  assert.ok(u.storeBytes > 250_000, String(u.storeBytes));
  // 20 modifications of one object: each replaced version is the window's alone.
  for (let i = 0; i < 20; i++) c.modify(big('o0', 10 + i));
  u = hub.upstreamStats()[0]!;
  assert.ok(u.windowBytes <= 500_000, String(u.windowBytes));
  assert.ok(u.windowEvents < 25, `${u.windowEvents} events: the oldest were dropped`);
  assert.ok(u.storeBytes < 300_000, String(u.storeBytes));
  assert.equal(hub.stats().bytes, u.storeBytes + u.windowBytes);
  await hub.stop();
});

test('bad selectors are refused at once with BAD_REQUEST', () => {
  const { hub } = hubWith(new FakeCollection());
  assert.throws(() => hub.subscribe(key, { labelSelector: 'app in (' }), (e: unknown) => e instanceof ApiError && e.code === 'BAD_REQUEST');
  assert.throws(() => hub.subscribe(key, { fieldSelector: 'spec.image=x' }), /field label not supported: spec\.image/);
  assert.throws(() => hub.subscribe(key, { resourceVersion: 'abc' }), /invalid resourceVersion/);
  assert.equal(hub.stats().upstreamsStarted, 0, 'nothing started for a refused subscription');
});

test('closeWhere ends the subscriptions of a removed resource with the given error', async () => {
  const c = new FakeCollection();
  const { hub } = hubWith(c);
  const r = reader(hub.subscribe(key));
  await until(() => c.watching, 'watch');
  const n = hub.closeWhere((k) => k.plural === 'crontabs', new ApiError('SCHEMA_CHANGED', 'crontabs.stable.example.com v1 is no longer served'));
  assert.equal(n, 1);
  await until(() => r.done, 'the end');
  assert.ok(r.error instanceof ApiError && r.error.code === 'SCHEMA_CHANGED');
  assert.equal(hub.stats().upstreams, 0);
});

test('stop ends each live subscriber with UNAVAILABLE and the last resourceVersion it got, to resume from on another replica', async () => {
  const c = new FakeCollection();
  const { hub } = hubWith(c);
  const r = reader(hub.subscribe(key));
  await until(() => c.watching, 'watch');
  c.add(ct('a', 7));
  await until(() => r.events.length === 1, 'the event');
  await hub.stop();
  await until(() => r.done, 'the end');
  assert.ok(r.error instanceof ApiError && r.error.code === 'UNAVAILABLE', String(r.error));
  assert.equal(r.error.details.resourceVersion, '7');
  assert.match(r.error.message, /shutting down; resubscribe from resourceVersion 7, the last one delivered$/);
});

test('subscribers waiting for the first list are counted apart and reached by closeWhere and stop; subscribing after stop is refused', async () => {
  const c = new FakeCollection();
  // A list that never answers (until the reflector stops and aborts it).
  const hang = (signal: AbortSignal) => new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true }));
  const never: ListWatchSource<KubeObject> = { list: hang, watch: (_rv, _t, _e, signal) => hang(signal) };
  const { hub } = hubWith(c, { sourceFor: () => never });
  const a = reader(hub.subscribe(key));
  const b = reader(hub.subscribe({ ...key, plural: 'others' }));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual([hub.stats().waiting, hub.stats().subscribers], [2, 0]);
  hub.closeWhere((k) => k.plural === 'crontabs', new ApiError('SCHEMA_CHANGED', 'gone'));
  await until(() => a.done, 'the first');
  assert.ok(a.error instanceof ApiError && a.error.code === 'SCHEMA_CHANGED');
  await hub.stop();
  await until(() => b.done, 'the second');
  assert.ok(b.error instanceof ApiError && b.error.code === 'UNAVAILABLE' && /shutting down/.test(b.error.message));
  assert.throws(() => hub.subscribe(key), (e: unknown) => e instanceof ApiError && e.code === 'UNAVAILABLE');
  assert.throws(() => hub.observe(key, { initial() {}, event() {} }), (e: unknown) => e instanceof ApiError && e.code === 'UNAVAILABLE');
});

test('closeReading ends exactly the subscribers that read one of the given types, with that type\'s error; the upstream goes on', async () => {
  const c = new FakeCollection();
  const { hub } = hubWith(c);
  const reads = reader(hub.subscribe(key, { relatedTypes: ['A_v1_x', 'B_v1_x'] }));
  const other = reader(hub.subscribe(key, { relatedTypes: ['C_v1_x'] }));
  const none = reader(hub.subscribe(key));
  await until(() => c.watching, 'watch');
  assert.equal(hub.closeReading(new Map()), 0);
  const n = hub.closeReading(new Map([['B_v1_x', new ApiError('SCHEMA_CHANGED', 'B changed')], ['D_v1_x', new ApiError('SCHEMA_CHANGED', 'D changed')]]));
  assert.equal(n, 1);
  await until(() => reads.done, 'the end');
  assert.ok(reads.error instanceof ApiError && reads.error.code === 'SCHEMA_CHANGED' && reads.error.message === 'B changed');
  c.add(ct('a', 2));
  await until(() => other.events.length === 1 && none.events.length === 1, 'the others go on');
  assert.equal(other.done || none.done, false);
  assert.equal(hub.stats().upstreams, 1);
  await hub.stop();
});

test('a fallback subscriber is reached by closeWhere', async () => {
  const c = new FakeCollection();
  c.rv = 10;
  let aborted = false;
  const { hub } = hubWith(c, {
    fallback: (_k, _o, _onEvent, signal) => new Promise((resolve) => signal.addEventListener('abort', () => {
      aborted = true;
      resolve();
    })),
  });
  const r = reader(hub.subscribe(key, { resourceVersion: '3' }));
  await until(() => hub.stats().fallbackSubscribers === 1, 'the direct watch');
  assert.equal(hub.stats().subscribers, 1);
  assert.equal(hub.closeWhere(() => true, new ApiError('SCHEMA_CHANGED', 'gone')), 1);
  await until(() => r.done, 'the end');
  assert.ok(r.error instanceof ApiError && r.error.code === 'SCHEMA_CHANGED');
  assert.ok(aborted, 'the direct watch is stopped');
  assert.equal(hub.stats().fallbackSubscribers, 0);
  await hub.stop();
});

test('an upstream that keeps failing ends its subscribers with UNAVAILABLE and their last resourceVersion after the bound; newcomers at once', async () => {
  const c = new FakeCollection();
  let failing = false;
  const source = c.source();
  const flaky: ListWatchSource<KubeObject> = {
    list: (signal) => (failing ? Promise.reject(new KubeApiError(503, { code: 503, reason: 'ServiceUnavailable', message: 'etcd is down' })) : source.list(signal)),
    watch: (...args) => source.watch(...args),
  };
  // Retries come one per turn of the event loop (backoff sleeps are immediate here).
  const turning: Clock = { ...clock, sleep: () => new Promise((r) => setImmediate(r)) };
  const { hub, timers } = hubWith(c, { sourceFor: () => flaky, unavailableAfterMs: 20_000, clock: turning });
  const r = reader(hub.subscribe(key));
  await until(() => c.watching, 'watch');
  c.add(ct('a', 2));
  await until(() => r.events.length === 1, 'an event');
  failing = true;
  c.gone(); // the relist now fails, again and again
  await until(() => timers.some((t) => t.ms === 20_000), 'the bound to be armed');
  assert.equal(r.done, false, 'nothing is reported before the bound');
  timers.find((t) => t.ms === 20_000)!.fn();
  await until(() => r.done, 'UNAVAILABLE');
  assert.ok(r.error instanceof ApiError && r.error.code === 'UNAVAILABLE', String(r.error));
  assert.equal(r.error.details.resourceVersion, '2');
  assert.match(r.error.message, /etcd is down/);
  const late = reader(hub.subscribe(key));
  await until(() => late.done, 'a newcomer');
  assert.ok(late.error instanceof ApiError && late.error.code === 'UNAVAILABLE');
  assert.equal(hub.stats().unavailable, 2);
  await hub.stop();
});

test('a 403 of the upstream ends its subscribers at once with FORBIDDEN, without Kubernetes\' message naming the gateway', async () => {
  const refusal = 'crontabs.stable.example.com is forbidden: User "system:serviceaccount:crdgate:crdgate" cannot list resource "crontabs" in API group "stable.example.com" in the namespace "ns"';
  const forbidden: ListWatchSource<KubeObject> = {
    list: () => Promise.reject(new KubeApiError(403, { code: 403, reason: 'Forbidden', message: refusal })),
    watch: () => Promise.reject(new Error('no watch without a list')),
  };
  const logged: string[] = [];
  const { hub } = hubWith(new FakeCollection(), { sourceFor: () => forbidden, onUpstreamError: (_k, err) => logged.push((err as Error).message) });
  const r = reader(hub.subscribe(key));
  await until(() => r.done, 'the end');
  assert.ok(r.error instanceof ApiError && r.error.code === 'FORBIDDEN', String(r.error));
  assert.equal(r.error.message, 'the gateway may not watch crontabs.stable.example.com: its own watch of them was refused (the gateway\'s log says why)');
  assert.doesNotMatch(JSON.stringify({ message: r.error.message, details: r.error.details }), /serviceaccount|cannot list/);
  assert.deepEqual(logged, [refusal], 'the whole refusal goes to the gateway\'s log');
  await hub.stop();
});

test('a 401 of the upstream (the gateway\'s own credentials) ends its subscribers at once with UNAVAILABLE, not UNAUTHENTICATED', async () => {
  const unauthorized: ListWatchSource<KubeObject> = {
    list: () => Promise.reject(new KubeApiError(401, { code: 401, reason: 'Unauthorized', message: 'Unauthorized' })),
    watch: () => Promise.reject(new Error('no watch without a list')),
  };
  const logged: string[] = [];
  const { hub } = hubWith(new FakeCollection(), { sourceFor: () => unauthorized, onUpstreamError: (_k, err) => logged.push((err as Error).message) });
  const r = reader(hub.subscribe(key));
  await until(() => r.done, 'the end');
  assert.ok(r.error instanceof ApiError && r.error.code === 'UNAVAILABLE', String(r.error));
  assert.equal(r.error.message, 'the gateway cannot watch crontabs.stable.example.com: Kubernetes refused the gateway\'s own credentials (the gateway\'s log says why)');
  assert.equal(r.error.details.retryAfterSeconds, 5);
  assert.deepEqual(logged, ['Unauthorized'], 'Kubernetes\' answer goes to the gateway\'s log');
  await hub.stop();
});

test('observers get the store, then every change with its previous object, relists and their end; on the subscribers\' upstream and objects', async () => {
  const c = new FakeCollection();
  c.items = [ct('a', 2), ct('b', 3)];
  c.rv = 3;
  const { hub } = hubWith(c);
  const seen: string[] = [];
  const objects: KubeObject[] = [];
  const observer: HubObserver = {
    initial: (store, rv) => seen.push(`initial ${[...store.keys()].join(',')}@${rv}`),
    event: (e) => {
      objects.push(e.object);
      seen.push(`${e.synthetic ? '~' : ''}${e.type} ${(e.object.metadata as { name: string }).name}@${e.resourceVersion}${e.previous ? ` was ${(e.previous.metadata as { resourceVersion: string }).resourceVersion}` : ''}`);
    },
    resynced: (rv) => seen.push(`resynced@${rv}`),
    end: (err) => seen.push(`end ${err instanceof ApiError ? err.code : 'ok'}`),
  };
  const sub = new TestSink(0);
  hub.subscribe(key).start(sub);
  const observation = hub.observe(key, observer);
  await until(() => seen.length === 1 && c.watching, 'the initial state');
  assert.equal(observation.resourceVersion, '3');
  c.modify(ct('a', 4));
  c.gone();
  c.items = [ct('a', 4), ct('c', 9)];
  c.rv = 10;
  await until(() => seen.includes('resynced@10'), 'the relist');
  assert.deepEqual(seen, ['initial ns/a,ns/b@3', 'MODIFIED a@4 was 2', '~DELETED b@10 was 3', '~ADDED c@10', 'resynced@10']);
  assert.equal(hub.stats().upstreams, 1, 'observers and subscribers share one upstream');
  assert.equal(hub.stats().observers, 1);
  await until(() => sub.events.length === 4, 'the subscriber');
  assert.ok(sub.events.includes('MODIFIED a@4'));
  observation.close();
  assert.equal(seen.at(-1), 'end ok');
  assert.equal(hub.stats().observers, 0);
  await hub.stop();
});

test('an initial state not older than a resourceVersion: from the store when the hub has reached it, else from the apiserver', async () => {
  const c = new FakeCollection();
  c.items = [ct('a', 2), ct('b', 3)];
  c.rv = 3;
  const fallbackCalls: { rv?: string; initial?: boolean }[] = [];
  const { hub } = hubWith(c, {
    windowBytes: 300,
    fallback: async (_k, o, onEvent) => {
      fallbackCalls.push({ rv: o.resourceVersion, initial: o.sendInitialEvents });
      await onEvent({ type: 'ADDED', object: ct('z', 7), resourceVersion: '7' });
    },
  });
  // An old resourceVersion, even one long gone from the window: the current objects satisfy "not older than".
  const old = reader(hub.subscribe(key, { sendInitialEvents: true, resourceVersionMatch: 'NotOlderThan', resourceVersion: '1' }));
  await until(() => old.events.length === 3 && c.watching, 'initial state');
  assert.deepEqual(old.events, ['ADDED a@2', 'ADDED b@3', 'BOOKMARK initial-end@3']);
  // Without NotOlderThan a resourceVersion resumes, as GraphQL subscriptions do: sendInitialEvents is moot.
  const resumed = reader(hub.subscribe(key, { sendInitialEvents: true, resourceVersion: '3' }));
  c.add(ct('c', 4));
  await until(() => resumed.events.length === 1 && old.events.length === 4, 'the live event');
  assert.deepEqual(resumed.events, ['ADDED c@4']);
  // Newer than the hub has seen: the apiserver serves it (it waits for that state, or says it is too large).
  const ahead = reader(hub.subscribe(key, { sendInitialEvents: true, resourceVersionMatch: 'NotOlderThan', resourceVersion: '6' }));
  await until(() => ahead.done, 'the direct watch');
  assert.deepEqual(fallbackCalls, [{ rv: '6', initial: true }]);
  assert.deepEqual(ahead.events, ['ADDED z@7']);
  await hub.stop();
});

test('a direct watch the apiserver ends goes on after its last event: through a new direct watch, then from the window once it holds that point', async () => {
  const c = new FakeCollection();
  c.rv = 10;
  const calls: (string | undefined)[] = [];
  const { hub } = hubWith(c, {
    fallback: async (_k, o, onEvent) => {
      calls.push(o.resourceVersion);
      // Each ends as the apiserver ends a watch at its request timeout.
      if (calls.length === 1) await onEvent({ type: 'ADDED', object: ct('x', 8), resourceVersion: '8' });
      else if (calls.length === 2) await onEvent({ type: 'ADDED', object: ct('y', 11), resourceVersion: '11' });
      else throw new Error('a third direct watch');
    },
  });
  reader(hub.subscribe(key));
  await until(() => c.watching, 'the upstream');
  c.add(ct('y', 11));
  const r = reader(hub.subscribe(key, { resourceVersion: '5' }));
  await until(() => r.events.length === 2, 'both direct watches');
  assert.deepEqual(calls, ['5', '8'], 'the second goes on after the first one\'s last event');
  await until(() => hub.stats().fallbackSubscribers === 0, 'the subscriber back on the upstream');
  c.add(ct('z', 12));
  await until(() => r.events.length === 3, 'the live event');
  assert.deepEqual(r.events, ['ADDED x@8', 'ADDED y@11', 'ADDED z@12']);
  assert.equal(r.done, false);
  await hub.stop();
});

test('a direct watch ended before its first event, or inside its initial state, ends the subscription with UNAVAILABLE and where to resume', async () => {
  const c = new FakeCollection();
  c.items = [ct('a', 2)];
  c.rv = 10;
  const { hub } = hubWith(c, {
    windowBytes: 300,
    fallback: async (_k, o, onEvent) => {
      if (o.sendInitialEvents) await onEvent({ type: 'ADDED', object: ct('a', 2), resourceVersion: '2' });
    },
  });
  const quiet = reader(hub.subscribe(key, { resourceVersion: '5' }));
  await until(() => quiet.done, 'the end');
  assert.ok(quiet.error instanceof ApiError && quiet.error.code === 'UNAVAILABLE', String(quiet.error));
  assert.equal(quiet.error.details.resourceVersion, '5');
  const initial = reader(hub.subscribe(key, { sendInitialEvents: true, resourceVersionMatch: 'NotOlderThan', resourceVersion: '20' }));
  await until(() => initial.done, 'the end');
  assert.deepEqual(initial.events, ['ADDED a@2']);
  assert.ok(initial.error instanceof ApiError && initial.error.code === 'UNAVAILABLE', String(initial.error));
  assert.equal(initial.error.details.resourceVersion, undefined, 'an object of an initial state is no resume point');
  await hub.stop();
});

test('a direct watch that loses the apiserver ends the subscription with UNAVAILABLE and the last resourceVersion delivered', async () => {
  const c = new FakeCollection();
  c.rv = 10;
  const { hub } = hubWith(c, {
    windowBytes: 300,
    fallback: async (_k, _o, onEvent) => {
      await onEvent({ type: 'ADDED', object: ct('x', 7), resourceVersion: '7' });
      throw new ApiError('UNAVAILABLE', 'the Kubernetes API cannot be reached', { reason: 'ServiceUnavailable' });
    },
  });
  const r = reader(hub.subscribe(key, { resourceVersion: '5' }));
  await until(() => r.done, 'the end');
  assert.deepEqual(r.events, ['ADDED x@7']);
  assert.ok(r.error instanceof ApiError && r.error.code === 'UNAVAILABLE', String(r.error));
  assert.equal(r.error.details.resourceVersion, '7');
  await hub.stop();
});

test('a direct watch\'s 404 is held as an upstream\'s is: a schema change meanwhile ends the subscriber with SCHEMA_CHANGED, else the 404 follows', async () => {
  const c = new FakeCollection();
  c.rv = 10;
  const notFound = new KubeApiError(404, { code: 404, reason: 'NotFound', message: 'the server could not find the requested resource' });
  const { hub } = hubWith(c, { windowBytes: 300, fallback: async () => Promise.reject(notFound) });
  const holds: { key: WatchKey; signal: AbortSignal; release: () => void }[] = [];
  hub.holdNotFoundWith((k, signal) => new Promise<void>((resolve) => holds.push({ key: k, signal, release: resolve })));

  const explained = reader(hub.subscribe(key, { resourceVersion: '5' }));
  await until(() => holds.length === 1, 'the 404 to be held');
  assert.deepEqual(holds[0]!.key, key);
  await new Promise((r) => setImmediate(r));
  assert.equal(explained.done, false, 'not told while held');
  hub.closeWhere(() => true, new ApiError('SCHEMA_CHANGED', 'the CRD was deleted'));
  await until(() => explained.done, 'the end');
  assert.ok(explained.error instanceof ApiError && explained.error.code === 'SCHEMA_CHANGED', String(explained.error));
  assert.ok(holds[0]!.signal.aborted, 'the hold is let go once the subscriber has ended');

  const unexplained = reader(hub.subscribe(key, { resourceVersion: '5' }));
  await until(() => holds.length === 2, 'the second 404 to be held');
  holds[1]!.release();
  await until(() => unexplained.done, 'the end');
  assert.ok(unexplained.error instanceof ApiError && unexplained.error.code === 'NOT_FOUND', String(unexplained.error));
  await hub.stop();
});

/** A clock whose time the test moves, and a direct watch that runs until aborted, as a connection that says nothing. */
function silentDirectWatches() {
  const time = { now: 0, random: 0 };
  const movable: Clock = { now: () => time.now, random: () => time.random, sleep: async () => {} };
  const calls: { rv?: string; timeoutSeconds?: number; idleTimeoutMs?: number; send: (e: HubEvent) => void | Promise<void> }[] = [];
  const fallback = (_k: WatchKey, o: { resourceVersion?: string; timeoutSeconds?: number; idleTimeoutMs?: number }, onEvent: (e: HubEvent) => void | Promise<void>, signal: AbortSignal) => {
    calls.push({ rv: o.resourceVersion, timeoutSeconds: o.timeoutSeconds, idleTimeoutMs: o.idleTimeoutMs, send: onEvent });
    return new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  };
  return { time, clock: movable, calls, fallback };
}

/** Two resumes older than the window, served by direct watches, the first at random 0, the second at 0.5. */
async function twoDirectWatches() {
  const c = new FakeCollection();
  c.rv = 10;
  const { time, clock: movable, calls, fallback } = silentDirectWatches();
  const { hub } = hubWith(c, { clock: movable, windowBytes: 300, fallback });
  reader(hub.subscribe(key, { resourceVersion: '5' }));
  await until(() => calls.length === 1, 'the direct watch');
  time.random = 0.5;
  reader(hub.subscribe(key, { resourceVersion: '6' }));
  await until(() => calls.length === 2, 'the second direct watch');
  return { c, hub, calls };
}

test('a direct watch asks the apiserver to end it after 5 to 10 minutes, as client-go\'s reflector does', async () => {
  const { hub, calls } = await twoDirectWatches();
  assert.deepEqual(calls.map((x) => x.timeoutSeconds), [300, 450]);
  await hub.stop();
});

test('a direct watch may be silent for its timeoutSeconds and 30 s before the Kubernetes client counts it as lost (or as long as the hub is told)', async () => {
  const { c, hub, calls } = await twoDirectWatches();
  assert.deepEqual(calls.map((x) => x.idleTimeoutMs), [330_000, 480_000]);
  await hub.stop();
  const told = silentDirectWatches();
  const other = hubWith(c, { clock: told.clock, windowBytes: 300, fallback: told.fallback, directWatchIdleMs: 2_000 });
  reader(other.hub.subscribe(key, { resourceVersion: '5' }));
  await until(() => told.calls.length === 1, 'the direct watch');
  assert.equal(told.calls[0]!.idleTimeoutMs, 2_000);
  await other.hub.stop();
});

test('a direct watch the apiserver ends without an event after running as asked goes on from where it started', async () => {
  const c = new FakeCollection();
  c.rv = 10;
  const { time, clock: movable } = silentDirectWatches();
  const from: (string | undefined)[] = [];
  const { hub } = hubWith(c, {
    clock: movable,
    windowBytes: 300,
    fallback: async (_k, o, _onEvent, signal) => {
      from.push(o.resourceVersion);
      if (from.length === 1) time.now += (o.timeoutSeconds ?? 0) * 1000;
      else await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
    },
  });
  const r = reader(hub.subscribe(key, { resourceVersion: '5' }));
  await until(() => from.length === 2, 'the second direct watch');
  assert.deepEqual(from, ['5', '5']);
  assert.equal(r.done, false, String(r.error));
  await hub.stop();
});

/** Simulated time for the hub: its timers and the reflector's sleeps share one queue, run in (time, creation) order. */
function simulatedTime() {
  let now = 0;
  let seq = 0;
  const queue: { at: number; seq: number; fn: () => void; cancelled: boolean }[] = [];
  const add = (ms: number, fn: () => void) => {
    const t = { at: now + ms, seq: seq++, fn, cancelled: false };
    queue.push(t);
    return t;
  };
  const clock: Clock = {
    now: () => now,
    random: () => 0.5,
    sleep: (ms, signal) => new Promise<void>((resolve) => {
      const t = add(ms, resolve);
      signal.addEventListener('abort', () => {
        t.cancelled = true;
        resolve();
      }, { once: true });
    }),
  };
  const setTimer = (fn: () => void, ms: number) => {
    const t = add(ms, fn);
    return { cancel: () => (t.cancelled = true) };
  };
  /** Runs the queue until `stop` holds or `limitMs` of simulated time have passed; returns the time. */
  const runUntil = async (stop: () => boolean, limitMs: number): Promise<number> => {
    for (;;) {
      for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
      if (stop() || now >= limitMs) break;
      queue.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const t = queue.shift();
      // Nothing left to happen.
      if (!t) break;
      now = Math.max(now, t.at);
      if (!t.cancelled) t.fn();
    }
    return now;
  };
  return { clock, setTimer, runUntil };
}

/** A hub whose upstream, once `broken` is set and its watch cut (410, then a good relist), watches as `watch` says. */
function breakingUpstream(watch: ListWatchSource<KubeObject>['watch'], unavailableAfterMs: number) {
  const c = new FakeCollection();
  c.items = [ct('a', 2)];
  c.rv = 2;
  const source = c.source();
  let broken = false;
  const time = simulatedTime();
  const hub = new WatchHub({
    sourceFor: () => ({ list: (signal) => source.list(signal), watch: (...args) => (broken ? watch(...args) : source.watch(...args)) }),
    clock: time.clock, setTimer: time.setTimer, unavailableAfterMs,
  });
  const r = reader(hub.subscribe(key, { sendInitialEvents: true }));
  return {
    hub, r, time,
    async breakNow() {
      await until(() => r.events.length === 2 && c.watching, 'the initial state');
      broken = true;
      c.gone();
    },
  };
}

for (const [kind, watch] of [
  ['opens and then fails with 500 (a failing conversion webhook)', (_rv, _t, _e, _s, onOpen) => {
    onOpen?.();
    return Promise.reject(new KubeApiError(500, { code: 500, reason: 'InternalError', message: 'conversion webhook failed' }));
  }],
  ['opens and ends at once without an event', (_rv, _t, _e, _s, onOpen) => {
    onOpen?.();
    return Promise.resolve();
  }],
] as [string, ListWatchSource<KubeObject>['watch']][]) {
  for (const bound of [30_000, 60_000]) {
    test(`an upstream whose watch ${kind}, again and again, ends its subscribers with UNAVAILABLE at the bound (${bound / 1000} s) and their last resourceVersion`, async () => {
      const u = breakingUpstream(watch, bound);
      await u.breakNow();
      const told = await u.time.runUntil(() => u.r.done, 600_000);
      assert.ok(u.r.error instanceof ApiError && u.r.error.code === 'UNAVAILABLE', String(u.r.error));
      assert.equal(u.r.error.details.resourceVersion, '2');
      assert.ok(told >= bound && told <= bound + 1_000, `told after ${told} ms`);
      await u.hub.stop();
    });
  }
}

test('an upstream whose watch opens again after failures and stays open, quiet, has recovered: its subscribers are not told', async () => {
  let attempts = 0;
  const u = breakingUpstream((_rv, _t, _e, signal, onOpen) => {
    onOpen?.();
    // Two failures, then a watch that stays open without an event.
    if (++attempts <= 2) return Promise.reject(new KubeApiError(500, { code: 500, reason: 'InternalError', message: 'etcd leader changed' }));
    return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  }, 30_000);
  await u.breakNow();
  const until10min = await u.time.runUntil(() => u.r.done, 600_000);
  assert.equal(u.r.done, false, `told after ${until10min} ms`);
  assert.equal(attempts, 3);
  await u.hub.stop();
});

test('a direct watch run as the gateway tells its subscriber only that the gateway may not watch (403) or cannot (401); the log gets Kubernetes\' words', async () => {
  const refusals = [
    new KubeApiError(403, { kind: 'Status', code: 403, reason: 'Forbidden', message: 'crontabs.stable.example.com is forbidden: User "system:serviceaccount:crdgate:crdgate" cannot watch resource "crontabs"' }),
    new KubeApiError(401, { kind: 'Status', code: 401, reason: 'Unauthorized', message: 'Unauthorized' }),
  ];
  for (const [asGateway, refusal, code] of [[true, refusals[0], 'FORBIDDEN'], [true, refusals[1], 'UNAVAILABLE'], [false, refusals[0], 'FORBIDDEN']] as const) {
    const c = new FakeCollection();
    c.rv = 100;
    const logged: unknown[] = [];
    const { hub } = hubWith(c, { fallback: () => Promise.reject(refusal), onDirectWatchRefused: (_k, err) => logged.push(err), onUpstreamError: (_k, err) => logged.push(['upstream', err]) });
    const r = reader(hub.subscribe({ ...key, namespace: undefined }, { resourceVersion: '50', filter: () => true, ...(asGateway ? { directAsGateway: true } : {}) }));
    await until(() => r.done, 'the refusal');
    assert.ok(r.error instanceof ApiError && r.error.code === code, String(r.error));
    if (asGateway) {
      assert.match(r.error.message, /the gateway (may not|cannot) watch crontabs\.stable\.example\.com/);
      assert.doesNotMatch(r.error.message, /serviceaccount/);
      assert.deepEqual(logged, [refusal]);
    } else {
      assert.match(r.error.message, /system:serviceaccount/, 'a watch as the caller tells the caller\'s own refusal');
    }
    await hub.stop();
  }
});
