import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { WatchEvent } from '../../../src/kube/kube-client.ts';
import type { ListWatchSource } from '../../../src/kube/reflector.ts';
import { CrdCatalog, type CrdObject, type CrdSnapshot } from '../../../src/catalog/crd-catalog.ts';

function crd(name: string, rv: number, established = true): CrdObject {
  const [plural, ...group] = name.split('.');
  return {
    metadata: { name, resourceVersion: String(rv) },
    spec: {
      group: group.join('.'),
      scope: 'Namespaced',
      names: { plural: plural!, kind: plural!.slice(0, 1).toUpperCase() + plural!.slice(1, -1) },
      versions: [{ name: 'v1', served: true, storage: true }],
    },
    status: { conditions: [{ type: 'Established', status: established ? 'True' : 'False' }] },
  };
}

/** A source whose watch the test drives by hand. */
function manualSource(initial: CrdObject[]) {
  let emit: ((e: WatchEvent<CrdObject>) => void) | undefined;
  const source: ListWatchSource<CrdObject> = {
    list: async () => ({ items: initial, resourceVersion: '1' }),
    watch: (_rv, _t, onEvent, signal, onOpen) => {
      emit = onEvent;
      onOpen?.();
      return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    },
  };
  return { source, emit: (e: WatchEvent<CrdObject>) => emit!(e), ready: () => emit !== undefined };
}

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('publishes the first snapshot at once, with only Established CRDs, sorted', async () => {
  const { source } = manualSource([crd('zebras.z.io', 3), crd('apples.a.io', 2), crd('pending.p.io', 4, false)]);
  const catalog = new CrdCatalog({ source, debounceMs: 20 });
  catalog.start();
  const snap = await catalog.waitForFirstSnapshot();
  await catalog.stop();
  assert.deepEqual(snap.crds.map((c) => c.metadata.name), ['apples.a.io', 'zebras.z.io']);
  assert.equal(snap.generation, 1);
  assert.ok(Object.isFrozen(snap) && Object.isFrozen(snap.crds), 'snapshots are immutable');
});

test('debounces a burst of changes into one snapshot and reports the previous one', async () => {
  const m = manualSource([crd('apples.a.io', 2)]);
  const catalog = new CrdCatalog({ source: m.source, debounceMs: 30 });
  const seen: [CrdSnapshot, CrdSnapshot | undefined][] = [];
  catalog.subscribe((s, p) => seen.push([s, p]));
  catalog.start();
  await catalog.waitForFirstSnapshot();
  for (let i = 0; i < 100 && !m.ready(); i++) await tick(1);
  for (let i = 0; i < 20; i++) m.emit({ type: 'ADDED', object: crd(`things${i}.b.io`, 10 + i) });
  m.emit({ type: 'DELETED', object: crd('apples.a.io', 40) });
  await tick(120);
  await catalog.stop();
  assert.equal(seen.length, 2, 'the initial snapshot and one for the burst');
  const [burst, previous] = seen[1]!;
  assert.equal(burst.generation, 2);
  assert.equal(burst.crds.length, 20);
  assert.ok(!burst.crds.some((c) => c.metadata.name === 'apples.a.io'));
  assert.equal(previous, seen[0]![0]);
});

test('a CRD becoming Established appears; a change that does not alter the Established set publishes nothing new', async () => {
  const m = manualSource([crd('apples.a.io', 2), crd('pears.p.io', 3, false)]);
  const catalog = new CrdCatalog({ source: m.source, debounceMs: 10 });
  catalog.start();
  await catalog.waitForFirstSnapshot();
  for (let i = 0; i < 100 && !m.ready(); i++) await tick(1);
  m.emit({ type: 'MODIFIED', object: crd('pears.p.io', 5, false) });
  await tick(50);
  assert.equal(catalog.current()!.generation, 1, 'a not-yet-Established CRD changing publishes nothing');
  m.emit({ type: 'MODIFIED', object: crd('pears.p.io', 6, true) });
  await tick(50);
  await catalog.stop();
  assert.equal(catalog.current()!.generation, 2);
  assert.deepEqual(catalog.current()!.crds.map((c) => c.metadata.name), ['apples.a.io', 'pears.p.io']);
});

test('a failing listener does not stop the others', async () => {
  const m = manualSource([crd('apples.a.io', 2)]);
  const catalog = new CrdCatalog({ source: m.source, debounceMs: 10 });
  let calls = 0;
  catalog.subscribe(() => {
    throw new Error('listener bug');
  });
  catalog.subscribe(() => calls++);
  catalog.start();
  await catalog.waitForFirstSnapshot();
  await catalog.stop();
  assert.equal(calls, 1);
});

test('CRDs that keep changing (kubectl apply of a directory) make a few snapshots, each change seen within maxDebounceMs; a change after a quiet spell waits debounceMs', async () => {
  const m = manualSource([crd('apples.a.io', 2)]);
  const catalog = new CrdCatalog({ source: m.source, debounceMs: 20, maxDebounceMs: 320 });
  const published: number[] = [];
  catalog.subscribe(() => published.push(performance.now()));
  catalog.start();
  await catalog.waitForFirstSnapshot();
  for (let i = 0; i < 100 && !m.ready(); i++) await tick(1);
  // One CRD every 40 ms for 2 s, each its own event, as the apiserver sends them while kubectl applies.
  let lastEvent = 0;
  for (let i = 0; i < 50; i++) {
    m.emit({ type: 'ADDED', object: crd(`things${i}.b.io`, 10 + i) });
    lastEvent = performance.now();
    await tick(40);
  }
  await tick(400);
  assert.equal(catalog.current()!.crds.length, 51, 'the last change is published');
  assert.ok(published.length <= 14, `${published.length} snapshots for 50 changes`);
  assert.ok(published.at(-1)! - lastEvent < 320 + 100, 'the last change waited at most maxDebounceMs');
  await tick(400);
  const changed = performance.now();
  m.emit({ type: 'ADDED', object: crd('late.c.io', 100) });
  await tick(300);
  await catalog.stop();
  assert.equal(catalog.current()!.crds.length, 52);
  assert.ok(published.at(-1)! - changed < 150, `a single change after a quiet spell waited ${(published.at(-1)! - changed).toFixed(0)} ms`);
});
