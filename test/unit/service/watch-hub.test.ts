import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from '../../../src/api-errors.ts';
import { KubeApiError, type WatchEvent } from '../../../src/kube/kube-client.ts';
import type { Clock, ListWatchSource } from '../../../src/kube/reflector.ts';
import { WatchHub, type HubEvent, type KubeObject, type WatchKey } from '../../../src/service/watch-hub.ts';

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

/** Reads events into an array in the background. */
function reader(it: AsyncIterable<HubEvent>) {
  const events: string[] = [];
  let error: unknown;
  let done = false;
  const running = (async () => {
    try {
      for await (const e of it) {
        const m = e.object.metadata as { name?: string; annotations?: Record<string, string> };
        events.push(`${e.type} ${m.name ?? (m.annotations ? 'initial-end' : '')}@${e.resourceVersion}`);
      }
    } catch (err) {
      error = err;
    } finally {
      done = true;
    }
  })();
  return { events, get error() { return error; }, get done() { return done; }, running };
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
  const { hub } = hubWith(c, { bufferSize: 2 });
  reader(hub.subscribe(key));
  await until(() => c.watching, 'watch');
  c.add(ct('a', 11));
  c.add(ct('b', 12));
  c.add(ct('c', 13)); // evicts rv 11: the window is now (11, 13]
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
    bufferSize: 1,
    fallback: (_k, o) => {
      fallbackCalls.push(o.resourceVersion!);
      return (async function* () {
        yield { type: 'ADDED', object: ct('x', 9), resourceVersion: '9' } as HubEvent;
      })();
    },
  });
  const viaFallback = reader(hub2.subscribe(key, { resourceVersion: '5' }));
  await until(() => viaFallback.done, 'fallback');
  assert.deepEqual(fallbackCalls, ['5']);
  assert.deepEqual(viaFallback.events, ['ADDED x@9']);
  await hub2.stop();
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
  assert.deepEqual(r.events, ['DELETED remove@10', 'MODIFIED change@10', 'ADDED new@10', 'BOOKMARK @10']);
  assert.equal(c.lists, 2);
  await until(() => c.watching, 'the new watch');
  c.add(ct('later', 11));
  await until(() => r.events.length === 5, 'live again');
  assert.equal(r.events[4], 'ADDED later@11');
  await hub.stop();
});

test('a slow subscriber is disconnected with SLOW_CONSUMER; a fast one receives everything', async () => {
  const c = new FakeCollection();
  const { hub } = hubWith(c, { queueSize: 10 });
  const slow = hub.subscribe(key)[Symbol.asyncIterator]();
  const fast = reader(hub.subscribe(key));
  await until(() => c.watching, 'watch');
  // Events arrive over time, as from the network; the fast reader keeps up, the slow one never reads.
  for (let i = 0; i < 50; i++) {
    c.add(ct(`o${i}`, 100 + i));
    await new Promise((r) => setImmediate(r));
  }
  await until(() => fast.events.length === 50, 'the fast subscriber');
  await assert.rejects(slow.next(), (e: unknown) => e instanceof ApiError && e.code === 'SLOW_CONSUMER' && /resubscribe/.test(e.message));
  assert.equal(hub.stats().slowConsumers, 1);
  assert.equal(hub.stats().subscribers, 1, 'the slow subscriber is gone, the fast one stays');
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
