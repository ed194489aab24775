import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KubeApiError, type WatchEvent } from '../../../src/kube/kube-client.ts';
import { Reflector, type Clock, type ListResult, type ListWatchSource, type ReflectorEvent } from '../../../src/kube/reflector.ts';

interface Obj {
  metadata: { name: string; resourceVersion: string };
  v?: number;
}

const obj = (name: string, rv: number, v = 0): Obj => ({ metadata: { name, resourceVersion: String(rv) }, v });

/** A clock whose sleeps are recorded and resolve at once, so backoff is observable without waiting. */
function fakeClock(random = 0): Clock & { sleeps: number[] } {
  let now = 0;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => now,
    random: () => random,
    sleep: async (ms) => {
      sleeps.push(ms);
      now += ms;
    },
  };
}

type WatchScript = (rv: string, emit: (e: WatchEvent<Obj>) => void) => Promise<void>;

/** A source driven by scripts: each list()/watch() call takes the next one. */
function scriptedSource(lists: (() => Promise<ListResult<Obj>>)[], watches: WatchScript[], calls: string[]): ListWatchSource<Obj> {
  return {
    async list() {
      calls.push('list');
      const next = lists.shift();
      if (!next) return new Promise(() => {});
      return next();
    },
    async watch(rv, timeout, onEvent, signal, onOpen) {
      calls.push(`watch@${rv}`);
      assert.ok(timeout >= 300 && timeout <= 600, `watch timeout ${timeout}s outside 5-10 min`);
      const next = watches.shift();
      if (!next) {
        onOpen?.();
        // No more scripts: block like a quiet watch until stopped.
        return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      }
      return next(rv, (e) => {
        onOpen?.();
        onEvent(e);
      });
    },
  };
}

const gone = () => new KubeApiError(410, { code: 410, reason: 'Expired', message: 'too old resource version: 1 (40)' });
const refused = () => new KubeApiError(0, { code: 0, reason: 'ServiceUnavailable', message: 'cannot reach the Kubernetes API: ECONNREFUSED' });

function collect() {
  const events: string[] = [];
  const onEvent = (e: ReflectorEvent<Obj>) => events.push(`${e.synthetic ? '~' : ''}${e.type} ${e.object.metadata.name}@${e.object.metadata.resourceVersion}`);
  return { events, onEvent };
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (cond()) return;
    await new Promise((r) => setImmediate(r));
  }
  assert.fail(`timed out waiting for ${what}`);
}

test('lists, then watches from the list resourceVersion, applying events in order', async () => {
  const calls: string[] = [];
  const { events, onEvent } = collect();
  const source = scriptedSource(
    [async () => ({ items: [obj('a', 5)], resourceVersion: '10' })],
    [async (_rv, emit) => {
      emit({ type: 'ADDED', object: obj('b', 11) });
      emit({ type: 'MODIFIED', object: obj('a', 12, 1) });
      emit({ type: 'DELETED', object: obj('b', 13) });
    }],
    calls,
  );
  const r = new Reflector<Obj>({ source, clock: fakeClock(), keyOf: (o) => o.metadata.name, resourceVersionOf: (o) => o.metadata.resourceVersion, onEvent });
  r.start();
  await until(() => calls.length >= 3, 'the second watch');
  await r.stop();
  assert.deepEqual(calls.slice(0, 3), ['list', 'watch@10', 'watch@13']);
  assert.deepEqual(events, ['~ADDED a@5', 'ADDED b@11', 'MODIFIED a@12', 'DELETED b@13']);
  assert.deepEqual([...r.store.keys()], ['a']);
  assert.equal(r.store.get('a')?.v, 1);
});

test('bookmarks advance the resourceVersion without emitting events', async () => {
  const calls: string[] = [];
  const { events, onEvent } = collect();
  const source = scriptedSource(
    [async () => ({ items: [], resourceVersion: '10' })],
    [async (_rv, emit) => {
      emit({ type: 'BOOKMARK', object: { metadata: { name: '', resourceVersion: '77' } } });
    }],
    calls,
  );
  const r = new Reflector<Obj>({ source, clock: fakeClock(), keyOf: (o) => o.metadata.name, resourceVersionOf: (o) => o.metadata.resourceVersion, onEvent });
  r.start();
  await until(() => calls.length >= 3, 'the re-watch');
  await r.stop();
  assert.deepEqual(calls.slice(0, 3), ['list', 'watch@10', 'watch@77']);
  assert.deepEqual(events, []);
  assert.equal(r.resourceVersion, '77');
});

test('410 Gone relists and emits the difference between the old store and the new list', async () => {
  const calls: string[] = [];
  const { events, onEvent } = collect();
  const source = scriptedSource(
    [
      async () => ({ items: [obj('keep', 1), obj('change', 2), obj('remove', 3)], resourceVersion: '10' }),
      async () => ({ items: [obj('keep', 1), obj('change', 20), obj('new', 21)], resourceVersion: '30' }),
    ],
    [async () => {
      throw gone();
    }],
    calls,
  );
  const clock = fakeClock();
  const r = new Reflector<Obj>({ source, clock, keyOf: (o) => o.metadata.name, resourceVersionOf: (o) => o.metadata.resourceVersion, onEvent });
  r.start();
  await until(() => calls.length >= 4, 'the watch after the relist');
  await r.stop();
  assert.deepEqual(calls.slice(0, 4), ['list', 'watch@10', 'list', 'watch@30']);
  assert.deepEqual(events.slice(3), ['~DELETED remove@3', '~MODIFIED change@20', '~ADDED new@21']);
  assert.deepEqual(clock.sleeps, [], 'a relist after 410 does not back off');
  assert.equal(r.stats.relistsAfterGone, 1);
  assert.deepEqual([...r.store.keys()].sort(), ['change', 'keep', 'new']);
});

test('connection errors back off exponentially with jitter up to 30 s, and recover', async () => {
  const calls: string[] = [];
  const failures = Array.from({ length: 8 }, () => async () => {
    throw refused();
  });
  const opened: WatchScript = async (_rv, emit) => emit({ type: 'BOOKMARK', object: obj('', 2) });
  const source = scriptedSource([async () => ({ items: [], resourceVersion: '1' })], [...failures, opened], calls);
  const clock = fakeClock(0.5);
  const errors: number[] = [];
  const r = new Reflector<Obj>({ source, clock, keyOf: (o) => o.metadata.name, resourceVersionOf: (o) => o.metadata.resourceVersion, onError: (_e, ms) => errors.push(ms) });
  r.start();
  await until(() => calls.length >= 11, 'recovery');
  const healthyAfter = r.healthy;
  await r.stop();
  // base 800 ms doubling, +50% jitter (random 0.5 × jitter 1.0), capped at 30 s.
  assert.deepEqual(clock.sleeps.slice(0, 8), [1200, 2400, 4800, 9600, 19200, 30000, 30000, 30000]);
  assert.deepEqual(errors, clock.sleeps.slice(0, 8));
  assert.ok(healthyAfter, 'healthy again after a watch that worked');
  assert.ok(calls.slice(1, 10).every((c) => c === 'watch@1'), 'retries re-watch from the same resourceVersion without relisting');
});

test('a failing initial list is retried with backoff and the reflector is not synced meanwhile', async () => {
  const calls: string[] = [];
  const source = scriptedSource(
    [async () => {
      throw refused();
    }, async () => ({ items: [obj('a', 1)], resourceVersion: '5' })],
    [],
    calls,
  );
  const clock = fakeClock(0);
  let syncedDuringFailure: boolean | undefined;
  const r = new Reflector<Obj>({
    source, clock, keyOf: (o) => o.metadata.name, resourceVersionOf: (o) => o.metadata.resourceVersion,
    onError: () => {
      syncedDuringFailure = r.hasSynced;
    },
  });
  r.start();
  await until(() => r.hasSynced, 'sync');
  await r.stop();
  assert.equal(syncedDuringFailure, false);
  assert.deepEqual(calls.slice(0, 3), ['list', 'list', 'watch@5']);
  assert.deepEqual(clock.sleeps, [800]);
});

test('a watch that the server closes at once without events backs off instead of spinning', async () => {
  const calls: string[] = [];
  const instant = Array.from({ length: 3 }, () => async () => {});
  const source = scriptedSource([async () => ({ items: [], resourceVersion: '1' })], instant, calls);
  const clock = fakeClock(0);
  const errors: [string, number][] = [];
  const r = new Reflector<Obj>({ source, clock, keyOf: (o) => o.metadata.name, resourceVersionOf: (o) => o.metadata.resourceVersion,
    onError: (err, ms) => errors.push([(err as Error).message, ms]) });
  r.start();
  await until(() => calls.length >= 5, 'the fourth watch');
  // Reported as failures (the log, a consumer's bound), while the apiserver still counts as answering (readiness).
  assert.equal(r.healthy, true);
  await r.stop();
  assert.deepEqual(clock.sleeps, [800, 1600, 3200]);
  assert.deepEqual(errors, [['the watch closed at once, without an event', 800], ['the watch closed at once, without an event', 1600], ['the watch closed at once, without an event', 3200]]);
});

test('stop() ends a watch in progress promptly', async () => {
  const calls: string[] = [];
  const source = scriptedSource([async () => ({ items: [], resourceVersion: '1' })], [], calls);
  const r = new Reflector<Obj>({ source, clock: fakeClock(), keyOf: (o) => o.metadata.name, resourceVersionOf: (o) => o.metadata.resourceVersion });
  r.start();
  await until(() => calls.length >= 2, 'the watch');
  await r.stop();
  assert.deepEqual(calls, ['list', 'watch@1']);
});
