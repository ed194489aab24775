import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { LiveSchema } from '../../../src/service/live-schema.ts';
import { notImplementedOperations } from '../../../src/graphql/not-implemented-operations.ts';
import type { CrdObject, CrdSnapshot } from '../../../src/catalog/crd-catalog.ts';
import { WatchHub as WatchHubClass, type KubeObject, type WatchHub, type WatchKey } from '../../../src/service/watch-hub.ts';
import type { ApiError } from '../../../src/api-errors.ts';
import { KubeApiError, type KubeClient } from '../../../src/kube/kube-client.ts';
import type { ListWatchSource } from '../../../src/kube/reflector.ts';
import type { ResourceModel } from '../../../src/model/resource-model.ts';
import { createHubOperations } from '../../../src/service/hub-operations.ts';
import { resourceTypeName } from '../../../src/model/graphql-type-names.ts';
import { KnownTypes } from '../../../src/graphql/known-types.ts';

const crontab = parse(readFileSync(new URL('../../../deploy/examples/crontab-crd.yaml', import.meta.url), 'utf8')) as CrdObject;
const snap = (generation: number, crds: CrdObject[]): CrdSnapshot => ({ generation, crds });
const withRv = (crd: CrdObject, rv: string, patch: (c: CrdObject) => void = () => {}): CrdObject => {
  const c = structuredClone(crd);
  c.metadata.resourceVersion = rv;
  patch(c);
  return c;
};

test('a CRD update that leaves the API as it is (status only) keeps the schema; a spec change rebuilds it', () => {
  const warnings: string[] = [];
  const live = new LiveSchema({ operations: notImplementedOperations, log: { info: () => {}, warn: (m) => warnings.push(m) } });
  const first = live.rebuild(snap(1, [withRv(crontab, '1')]));
  const statusOnly = live.rebuild(snap(2, [withRv(crontab, '2', (c) => (c.status = { conditions: [{ type: 'Established', status: 'True' }] }))]));
  assert.equal(statusOnly, first, 'same schema object');
  assert.equal(live.stats.rebuilds, 1);
  assert.equal(live.stats.unchanged, 1);
  const changed = live.rebuild(snap(3, [withRv(crontab, '3', (c) => {
    (c.spec.versions[0] as unknown as { schema: { openAPIV3Schema: { properties: Record<string, unknown> } } }).schema.openAPIV3Schema.properties.extra = { type: 'string' };
  })]));
  assert.notEqual(changed, first);
  assert.equal(live.stats.rebuilds, 2);
});

type Version = { name: string; served: boolean; storage: boolean; schema: { openAPIV3Schema: Schema }; [k: string]: unknown };
type Schema = { type?: string; description?: string; default?: unknown; properties?: Record<string, Schema>; [k: string]: unknown };
const versionOf = (c: CrdObject, name: string) => c.spec.versions.find((v) => v.name === name) as unknown as Version;
const specOf = (c: CrdObject, name: string) => versionOf(c, name).schema.openAPIV3Schema.properties!['spec']!;

/**
 * Applies one CRD change to a schema with subscriptions on v1 and v2 of CronTab, and says which
 * versions' subscriptions the live schema ended (the hub is a recorder of closeWhere).
 */
function endedBy(change: (c: CrdObject) => void): string[] {
  return changesOf(change).ended;
}

/** endedBy, and the types whose readers (subscriptions of other resources, see closeReading) were ended. */
function changesOf(change: (c: CrdObject) => void): { ended: string[]; read: string[] } {
  const ended: string[] = [];
  const read: string[] = [];
  const keys = ['v1', 'v2'].map((version) => ({ group: 'stable.example.com', version, plural: 'crontabs', namespace: undefined }));
  const hub = {
    closeWhere: (predicate: (k: (typeof keys)[number]) => boolean, error: { code: string }) => {
      for (const k of keys) if (predicate(k)) ended.push(`${k.version} ${error.code}`);
      return 1;
    },
    closeReading: (types: ReadonlyMap<string, { code: string }>) => {
      for (const [type, error] of types) read.push(`${type} ${error.code}`);
      return types.size;
    },
    admitWith: () => {},
  } as unknown as WatchHub;
  const live = new LiveSchema({ operations: notImplementedOperations, hub, reportBreakingChanges: false });
  live.rebuild(snap(1, [withRv(crontab, '1')]));
  live.rebuild(snap(2, [withRv(crontab, '2', change)]));
  return { ended, read };
}

test('subscriptions to a version go on when the CRD changes only what they do not depend on', () => {
  assert.deepEqual(endedBy((c) => c.spec.versions.push({ ...structuredClone(versionOf(c, 'v2')), name: 'v3' })), [], 'a version added');
  assert.deepEqual(endedBy((c) => (specOf(c, 'v2').properties!['extra'] = { type: 'string' })), ['v2 SCHEMA_CHANGED'], "v2's schema changed");
  assert.deepEqual(endedBy((c) => (versionOf(c, 'v1')['additionalPrinterColumns'] = [])), [], "v1's printer columns");
  assert.deepEqual(endedBy((c) => ((specOf(c, 'v1').description = 'The desired state.'), (versionOf(c, 'v1').schema.openAPIV3Schema.description = 'A cron tab.'))), [], "v1's descriptions");
  assert.deepEqual(endedBy((c) => Object.assign(versionOf(c, 'v2'), { deprecated: true, deprecationWarning: 'use v1' })), [], 'v2 deprecated');
  assert.deepEqual(endedBy((c) => (versionOf(c, 'v2').served = false)), ['v2 SCHEMA_CHANGED'], 'v2 no longer served');
});

test('subscriptions to a version end when what they receive, select or were validated against may change', () => {
  const both = ['v1 SCHEMA_CHANGED', 'v2 SCHEMA_CHANGED'];
  assert.deepEqual(endedBy((c) => (specOf(c, 'v1').properties!['extra'] = { type: 'string' })), ['v1 SCHEMA_CHANGED'], "v1's schema");
  assert.deepEqual(endedBy((c) => (specOf(c, 'v1').properties!['image']!.default = { description: 'a value, not a description' })), ['v1 SCHEMA_CHANGED'], 'a default holding a description key');
  assert.deepEqual(endedBy((c) => (specOf(c, 'v1').properties!['description'] = { type: 'string' })), ['v1 SCHEMA_CHANGED'], 'a property named description');
  assert.deepEqual(endedBy((c) => (versionOf(c, 'v1')['selectableFields'] = [])), ['v1 SCHEMA_CHANGED'], "v1's selectable fields");
  assert.deepEqual(endedBy((c) => (versionOf(c, 'v1')['subresources'] = {})), ['v1 SCHEMA_CHANGED'], "v1's subresources");
  // The version-less fields now stand for v2; no v2 subscription went through them before.
  assert.deepEqual(endedBy((c) => (versionOf(c, 'v1').served = false)), ['v1 SCHEMA_CHANGED'], 'v1 no longer served');
  // The version-less fields move from v1 to v2 (a subscription through them was validated against
  // v1), and v2's objects are now stored as v2.
  assert.deepEqual(endedBy((c) => ((versionOf(c, 'v1').storage = false), (versionOf(c, 'v2').storage = true))), both, 'the storage version');
  assert.deepEqual(endedBy((c) => (c.spec.scope = 'Cluster')), both, 'the scope');
  assert.deepEqual(endedBy((c) => (c.spec.names.shortNames = ['cts'])), both, 'the names');
  assert.deepEqual(endedBy((c) => (c.spec['conversion'] = { strategy: 'Webhook', webhook: { conversionReviewVersions: ['v1'], clientConfig: { url: 'https://convert.example.com' } } })), both, 'the conversion');
  assert.deepEqual(endedBy((c) => (c.spec.versions = c.spec.versions.filter((v) => v.name !== 'v2'))), ['v2 SCHEMA_CHANGED'], 'v2 removed');
});

test('subscriptions of other resources that read a version\'s type through relation fields end when that version changes', () => {
  assert.deepEqual(changesOf((c) => (specOf(c, 'v1').properties!['extra'] = { type: 'string' })).read, ['CronTab_v1_stable_example_com SCHEMA_CHANGED'], "v1's schema");
  assert.deepEqual(changesOf((c) => (c.spec.versions = c.spec.versions.filter((v) => v.name !== 'v2'))).read, ['CronTab_v2_stable_example_com SCHEMA_CHANGED'], 'v2 removed');
  assert.deepEqual(changesOf((c) => c.spec.versions.push({ ...structuredClone(versionOf(c, 'v2')), name: 'v3' })).read, [], 'a version added');
  assert.deepEqual(changesOf((c) => (versionOf(c, 'v1')['additionalPrinterColumns'] = [])).read, [], "v1's printer columns");
});

/**
 * Hub operations whose upstreams list nothing and watch until stopped, a live schema on that hub,
 * and how a watch ends as it starts: its error code, or 'running'.
 */
function idleHubWithLiveSchema() {
  const idle: ListWatchSource<KubeObject> = {
    list: async () => ({ items: [], resourceVersion: '1' }),
    watch: (_rv, _t, _onEvent, signal, onOpen) => {
      onOpen?.();
      return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    },
  };
  const ops = createHubOperations({ server: 'https://k8s.test' } as unknown as KubeClient, { hub: { sourceFor: () => idle } });
  const live = new LiveSchema({ operations: notImplementedOperations, hub: ops.hub, reportBreakingChanges: false });
  const endAs = async (req: Parameters<typeof ops.watch>[0]): Promise<string> => {
    const feed = await ops.watch(req);
    let ended = 'running';
    feed.start({ next() {}, end: (err) => (ended = (err as ApiError | undefined)?.code ?? 'ended'), buffered: () => 0, onDrain() {} });
    feed.cancel();
    return ended;
  };
  return { ops, live, endAs };
}

test('a subscription checked against a version before a rebuild changed or removed it ends with SCHEMA_CHANGED when it reaches the hub', async () => {
  const { ops, live, endAs } = idleHubWithLiveSchema();
  /** How a watch of `model`'s version ends as it starts: its error code, or 'running'. */
  const watchAs = (model: ResourceModel, version: string): Promise<string> =>
    endAs({ resource: model, version: model.versions.find((v) => v.name === version)!, namespace: 'ns', args: {}, context: {} });
  try {
    live.rebuild(snap(1, [withRv(crontab, '1')]));
    // What a subscription's operation was validated against; it reaches the hub after the rebuilds below.
    const first = live.resources[0]!;
    live.rebuild(snap(2, [withRv(crontab, '2', (c) => (specOf(c, 'v2').properties!['extra'] = { type: 'string' }))]));
    const second = live.resources[0]!;
    assert.notEqual(second, first);
    assert.equal(await watchAs(first, 'v1'), 'running', 'v1 did not change: its subscription goes on');
    assert.equal(await watchAs(first, 'v2'), 'SCHEMA_CHANGED', "v2's schema changed after the subscription was validated");
    assert.equal(await watchAs(second, 'v2'), 'running', 'validated against the current v2');
    live.rebuild(snap(3, [withRv(crontab, '3', (c) => {
      specOf(c, 'v2').properties!['extra'] = { type: 'string' };
      versionOf(c, 'v1').served = false;
    })]));
    assert.equal(await watchAs(second, 'v1'), 'SCHEMA_CHANGED', 'v1 is no longer served');
    assert.equal(await watchAs(second, 'v2'), 'running', 'v2 did not change again');
  } finally {
    await ops.hub.stop();
  }
});

/**
 * A hub whose upstream lists and watches a collection until `stopServing` makes the apiserver
 * answer 404, with a live schema that reads the apiserver's CRD from `current`.
 */
function unservedRace(opts: { notFoundHoldMs?: number; crdOf?: (name: string, timeoutMs?: number) => Promise<CrdObject | undefined>; namespaces?: string[] } = {}) {
  let served = true;
  const notFound = () => new KubeApiError(404, { kind: 'Status', code: 404, reason: 'NotFound', message: 'the server could not find the requested resource' });
  const sourceOf = (namespace: string): ListWatchSource<KubeObject> => ({
    list: async () => {
      if (!served) throw notFound();
      return { items: [], resourceVersion: '1' };
    },
    watch: (_rv, _t, _onEvent, signal, onOpen) => {
      if (!served) return Promise.reject(notFound());
      onOpen?.();
      return new Promise((resolve, reject) => {
        failWatches.push({ namespace, fail: reject });
        signal.addEventListener('abort', () => resolve(), { once: true });
      });
    },
  });
  // Retries a few ms apart: a clock that never waits would retry the 404 in a loop of microtasks.
  const clock = { now: () => Date.now(), random: () => 0, sleep: (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.min(ms, 5))) };
  const hub = new WatchHubClass({ sourceFor: (key) => sourceOf(key.namespace ?? ''), clock });
  const state = { current: established('1') };
  const { namespaces = ['ns'], ...liveOpts } = opts;
  const live = new LiveSchema({ operations: notImplementedOperations, hub, reportBreakingChanges: false, crdOf: async () => state.current, ...liveOpts });
  live.rebuild(snap(1, [state.current]));
  const ended: string[] = [];
  const failWatches: { namespace: string; fail: (err: unknown) => void }[] = [];
  for (const namespace of namespaces) {
    const feed = hub.subscribe({ group: 'stable.example.com', version: 'v1', plural: 'crontabs', namespace }, { servedAs: live.resources[0] });
    feed.start({ next() {}, end: (err) => ended.push((err as ApiError | undefined)?.code ?? 'ended'), buffered: () => 0, onDrain() {} });
  }
  return {
    hub, live, ended, state,
    /**
     * The apiserver stops serving the collection: its relists answer 404, and its watches end with
     * a 404 (those of `namespaces` only, when given: the others' come later).
     */
    stopServing(namespaces?: string[]) {
      served = false;
      for (const w of failWatches) if (!namespaces || namespaces.includes(w.namespace)) w.fail(notFound());
    },
    /** The apiserver serves it again: the next relist and watch succeed. */
    resumeServing() {
      served = true;
    },
  };
}

/** The CRD as the apiserver has it, Established (the catalog's snapshots hold no other). */
const established = (rv: string, patch: (c: CrdObject) => void = () => {}) => withRv(crontab, rv, (c) => {
  c.status = { conditions: [{ type: 'Established', status: 'True' }] };
  patch(c);
});

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('a version the apiserver stops serving ends its watches with SCHEMA_CHANGED, even when its 404 comes before the CRD change', async () => {
  const race = unservedRace();
  try {
    await tick(20);
    race.state.current = established('2', (c) => (versionOf(c, 'v1').served = false));
    race.stopServing();
    await tick(100);
    assert.deepEqual(race.ended, [], 'the 404 waits for the CRD change');
    race.live.rebuild(snap(2, [race.state.current]));
    await tick(20);
    assert.deepEqual(race.ended, ['SCHEMA_CHANGED']);
  } finally {
    await race.hub.stop();
  }
});

test('a 404 of a version the snapshots already have as the apiserver has it ends its watches with NOT_FOUND', async () => {
  const race = unservedRace();
  try {
    await tick(20);
    race.stopServing();
    await waitFor(() => race.ended.length > 0);
    assert.deepEqual(race.ended, ['NOT_FOUND']);
  } finally {
    await race.hub.stop();
  }
});

test('a 404 waits for the snapshots, no longer than notFoundHoldMs', async () => {
  const race = unservedRace({ notFoundHoldMs: 150 });
  try {
    await tick(20);
    race.state.current = established('2', (c) => (versionOf(c, 'v1').served = false));
    race.stopServing();
    const started = Date.now();
    await tick(50);
    assert.deepEqual(race.ended, [], 'the 404 is held');
    await waitFor(() => race.ended.length > 0);
    assert.deepEqual(race.ended, ['NOT_FOUND']);
    const held = Date.now() - started;
    assert.ok(held >= 140 && held < 1_000, `held ${held} ms`);
  } finally {
    await race.hub.stop();
  }
});

async function waitFor(ok: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !ok(); i++) await tick(10);
}

/** Makes the apiserver answer 404 and waits for the race's watch to end: the ms it took. */
async function msUntilEnded(race: { stopServing(): void; ended: string[] }): Promise<number> {
  race.stopServing();
  const started = Date.now();
  await waitFor(() => race.ended.length > 0);
  return Date.now() - started;
}

test('a subscription whose selection read a type of another version that a rebuild changed ends with SCHEMA_CHANGED when it reaches the hub', async () => {
  const { ops, live, endAs } = idleHubWithLiveSchema();
  const typeOf = (version: string) => live.current!.getType(resourceTypeName(live.resources[0]!, version, []))!;
  /** How a watch of v1 whose selection read `types` ends as it starts: its error code, or 'running'. */
  const watchReading = (types: object[]): Promise<string> => {
    const model = live.resources[0]!;
    const relatedTypes = types.map((t) => (t as { name: string }).name);
    return endAs({ resource: model, version: model.versions.find((v) => v.name === 'v1')!, namespace: 'ns', args: { relatedTypes, relatedTypesAs: types }, context: {} });
  };
  try {
    live.rebuild(snap(1, [withRv(crontab, '1')]));
    const [v1Before, v2Before] = [typeOf('v1'), typeOf('v2')];
    live.rebuild(snap(2, [withRv(crontab, '2', (c) => (specOf(c, 'v2').properties!['extra'] = { type: 'string' }))]));
    assert.notEqual(typeOf('v2'), v2Before);
    assert.equal(await watchReading([v2Before]), 'SCHEMA_CHANGED', "the v2 type it read changed before it reached the hub");
    assert.equal(await watchReading([typeOf('v2')]), 'running', 'it read the current v2 type');
    assert.equal(await watchReading([v1Before]), 'running', 'v1 did not change');
  } finally {
    await ops.hub.stop();
  }
});

test('a build looks no type up: the deferred schema builds no lookup map until a request needs one', () => {
  // A lookup of a CRD's type builds its kind's map (known-types.ts); at 1,000 CRDs a build that
  // looked up every served version's type cost ~75 ms more.
  const get = KnownTypes.prototype.get;
  let lookups = 0;
  KnownTypes.prototype.get = function (this: KnownTypes, name: string) {
    lookups++;
    return get.call(this, name);
  };
  try {
    const hub = new WatchHubClass({ sourceFor: () => { throw new Error("no watch in this test"); } });
    const live = new LiveSchema({ operations: notImplementedOperations, hub });
    live.rebuild(snap(1, [withRv(crontab, '1')]));
    live.rebuild(snap(2, [withRv(crontab, '2', (c) => (specOf(c, 'v1').description = 'changed'))]));
    assert.equal(lookups, 0);
  } finally {
    KnownTypes.prototype.get = get;
  }
});

test('the hold of a 404 is capped from its start: a CRD GET that does not answer is given the same deadline', async () => {
  const timeouts: (number | undefined)[] = [];
  const race = unservedRace({ notFoundHoldMs: 60, crdOf: (_name, timeoutMs) => {
    timeouts.push(timeoutMs);
    return new Promise(() => {});
  } });
  try {
    await tick(20);
    const held = await msUntilEnded(race);
    assert.deepEqual(race.ended, ['NOT_FOUND']);
    assert.ok(held < 1000, `held ${held} ms`);
    assert.deepEqual(timeouts, [60]);
  } finally {
    await race.hub.stop();
  }
});

test('the 404s of one CRD\'s watches in many namespaces share the GETs of the CRD: the first, and one after it for those that came while it was in flight', async () => {
  let gets = 0;
  const race = unservedRace({ namespaces: ['a', 'b', 'c', 'd'], crdOf: async () => {
    gets++;
    await tick(30);
    return race.state.current;
  } });
  try {
    await tick(20);
    race.stopServing(['a']);
    await tick(10);
    race.stopServing(['b', 'c', 'd']);
    await waitFor(() => race.ended.length === 4);
    assert.deepEqual(race.ended, ['NOT_FOUND', 'NOT_FOUND', 'NOT_FOUND', 'NOT_FOUND']);
    assert.equal(gets, 2);
  } finally {
    await race.hub.stop();
  }
});

test('a 404 that comes while a GET of its CRD is in flight waits for a GET started after it: a change made meanwhile ends its watch with SCHEMA_CHANGED', async () => {
  // The GET in flight may have been answered before the change that caused the later 404.
  let release = () => {};
  const firstAnswered = new Promise<void>((resolve) => (release = resolve));
  let gets = 0;
  const race = unservedRace({ namespaces: ['a', 'b'], crdOf: (): Promise<CrdObject | undefined> => {
    const now = race.state.current;
    return ++gets === 1 ? firstAnswered.then(() => now) : Promise.resolve(now);
  } });
  try {
    await tick(20);
    race.stopServing(['a']);
    await waitFor(() => gets === 1);
    race.state.current = established('2', (c) => (versionOf(c, 'v1').served = false));
    race.stopServing(['b']);
    await tick(20);
    release();
    await waitFor(() => race.ended.length > 0);
    assert.deepEqual(race.ended, ['NOT_FOUND'], 'the first 404 came before the change: its GET says so');
    assert.equal(gets, 2);
    await tick(20);
    assert.deepEqual(race.ended, ['NOT_FOUND'], 'the second waits for the change its GET read');
    race.live.rebuild(snap(2, [race.state.current]));
    await waitFor(() => race.ended.length === 2);
    assert.deepEqual(race.ended, ['NOT_FOUND', 'SCHEMA_CHANGED']);
  } finally {
    await race.hub.stop();
  }
});

/** Runs `body` with the timers of `ms` (the hold's, by its unusual length) recorded, and whether each was cleared. */
async function withHoldTimers(ms: number, body: (timers: () => { cleared: boolean }[]) => Promise<void>): Promise<void> {
  const set = globalThis.setTimeout;
  const clear = globalThis.clearTimeout;
  const timers = new Map<unknown, { cleared: boolean }>();
  globalThis.setTimeout = ((fn: () => void, delay?: number, ...args: unknown[]) => {
    const handle = set(fn, delay, ...(args as []));
    if (delay === ms) timers.set(handle, { cleared: false });
    return handle;
  }) as typeof setTimeout;
  globalThis.clearTimeout = ((handle: Parameters<typeof clearTimeout>[0]) => {
    const timer = timers.get(handle);
    if (timer) timer.cleared = true;
    clear(handle);
  }) as typeof clearTimeout;
  try {
    await body(() => [...timers.values()]);
  } finally {
    globalThis.setTimeout = set;
    globalThis.clearTimeout = clear;
  }
}

const holdMs = 987_654;

test('a watch that recovers while its 404 is held clears the hold\'s timer, and nothing ends', async () => {
  await withHoldTimers(holdMs, async (timers) => {
    const race = unservedRace({ notFoundHoldMs: holdMs });
    try {
      await tick(20);
      race.state.current = established('2', (c) => (versionOf(c, 'v1').served = false));
      race.stopServing();
      await waitFor(() => timers().length > 0);
      assert.equal(timers().length, 1, 'the 404 is held');
      race.resumeServing();
      await waitFor(() => timers().every((t) => t.cleared));
      assert.deepEqual(timers(), [{ cleared: true }]);
      await tick(50);
      assert.deepEqual(race.ended, []);
    } finally {
      await race.hub.stop();
    }
  });
});

test('LiveSchema.stop() ends a held 404\'s wait and clears its timer', async () => {
  await withHoldTimers(holdMs, async (timers) => {
    let gets = 0;
    const hub = new WatchHubClass({ sourceFor: () => { throw new Error('no watch in this test'); } });
    const holds: ((key: WatchKey, signal: AbortSignal) => Promise<void>)[] = [];
    hub.holdNotFoundWith = (hold) => void holds.push(hold);
    const live = new LiveSchema({ operations: notImplementedOperations, hub, notFoundHoldMs: holdMs, crdOf: async () => {
      gets++;
      return established('2');
    } });
    live.rebuild(snap(1, [established('1')]));
    const held = holds[0]!({ group: 'stable.example.com', version: 'v1', plural: 'crontabs', namespace: 'ns' }, new AbortController().signal);
    let over = false;
    void held.then(() => (over = true));
    await waitFor(() => gets > 0);
    await tick(10);
    assert.equal(over, false, 'it waits for the snapshots');
    live.stop();
    await tick(0);
    assert.equal(over, true);
    assert.deepEqual(timers(), [{ cleared: true }]);
  });
});

test('hub.stop() while a 404 is held ends its subscribers with UNAVAILABLE, and nothing after', async () => {
  const race = unservedRace({ notFoundHoldMs: 100 });
  await tick(20);
  race.state.current = established('2', (c) => (versionOf(c, 'v1').served = false));
  race.stopServing();
  await tick(30);
  assert.deepEqual(race.ended, [], 'the 404 is held');
  await race.hub.stop();
  assert.deepEqual(race.ended, ['UNAVAILABLE']);
  await tick(150);
  assert.deepEqual(race.ended, ['UNAVAILABLE']);
});

test('a 404 whose CRD cannot be read (403, a timeout) is told at once', async () => {
  const race = unservedRace({ notFoundHoldMs: 5_000, crdOf: () => Promise.reject(new KubeApiError(403, { kind: 'Status', code: 403, reason: 'Forbidden', message: 'no' })) });
  try {
    await tick(20);
    const held = await msUntilEnded(race);
    assert.deepEqual(race.ended, ['NOT_FOUND']);
    assert.ok(held < 1_000, `held ${held} ms`);
  } finally {
    await race.hub.stop();
  }
});

test('a second live schema on the same hub is refused: its check would refuse what the first one checked', () => {
  const hub = new WatchHubClass({ sourceFor: () => { throw new Error('no watch in this test'); } });
  const first = new LiveSchema({ operations: notImplementedOperations, hub, crdOf: async () => undefined });
  first.rebuild(snap(1, [withRv(crontab, '1')]));
  assert.throws(() => new LiveSchema({ operations: notImplementedOperations, hub }), /one live schema per hub/);
  assert.throws(() => hub.holdNotFoundWith(async () => {}), /one live schema per hub/);
});
