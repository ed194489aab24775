// The preparation for the next change (the type map's collection and the counts of the types each
// CRD reaches) runs in slices of a few milliseconds, one per turn of the event loop, so that the
// requests arriving right after a full build are served in between (lazy-schema.ts runInSlices,
// schema-builder.ts prepareIncrementalSlice).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { createSchemaBuilder } from '../../../src/graphql/schema-builder.ts';
import { isCollected, runInSlices, type SliceScheduler } from '../../../src/graphql/lazy-schema.ts';
import { crdToModel } from '../../../src/model/crd-to-model.ts';

const crd = (file: string) => parse(readFileSync(fileURLToPath(new URL(`../../../deploy/examples/${file}`, import.meta.url)), 'utf8'));
const base = [crd('crontab-crd.yaml'), crd('clustercrontab-crd.yaml')];
// Enough CRDs for many slices: copies of the examples under other groups.
const models = Array.from({ length: 30 }, (_, i) =>
  base.map((c) => {
    const copy = structuredClone(c);
    const group = `g${i}.example.com`;
    copy.spec.group = group;
    copy.metadata.name = `${copy.spec.names.plural}.${group}`;
    return crdToModel(copy);
  }),
).flat();

/** A scheduler whose callbacks run when the test says, and a clock that advances by one for every unit of work. */
function fakeScheduler(): SliceScheduler & { queue: (() => void)[]; time: number } {
  const fake = {
    queue: [] as (() => void)[],
    time: 0,
    now: () => fake.time,
    schedule: (callback: () => void) => void fake.queue.push(callback),
  };
  return fake;
}

test('no slice exceeds its budget by more than one unit of work, and the result is the one-go preparation', () => {
  const reference = createSchemaBuilder({ assumeValid: true });
  const expected = Object.keys(reference.build(models).schema.getTypeMap());

  for (const budget of [1, 10, 37]) {
    const builder = createSchemaBuilder({ assumeValid: true });
    const { schema } = builder.build(models);
    const scheduler = fakeScheduler();
    const slices: number[] = [];
    let units = 0;
    let done = false;
    runInSlices(
      (shouldYield) =>
        builder.prepareIncrementalSlice(() => {
          // One unit of work done: it took one unit of time.
          scheduler.time++;
          units++;
          return shouldYield();
        }),
      { budgetMs: budget, scheduler, onDone: () => (done = true), onError: (error) => assert.fail(String(error)) },
    );
    assert.equal(scheduler.queue.length, 1, 'nothing runs before the first turn of the event loop');
    while (scheduler.queue.length > 0) {
      const before = units;
      scheduler.queue.shift()!();
      slices.push(units - before);
      assert.ok(scheduler.queue.length <= 1);
    }
    assert.ok(done, 'the preparation completes');
    assert.ok(isCollected(schema));
    assert.ok(Math.max(...slices) <= budget + 1, `budget ${budget}: the longest slice did ${Math.max(...slices)} units`);
    // Every slice but the last uses its budget: the work is not spread thinner than it needs.
    for (const s of slices.slice(0, -1)) assert.ok(s >= budget, `budget ${budget}: a slice of ${s} units`);
    assert.deepEqual(Object.keys(schema.getTypeMap()), expected, `budget ${budget}: the type map of a collection in one go`);
    // A change after the sliced preparation is patched.
    builder.build(models.slice(1));
    assert.equal(builder.lastBuild, 'patched');
  }
});

test('with the real clock, slices stay near their budget (diagnostic: the longest unit of work)', (t) => {
  const builder = createSchemaBuilder({ assumeValid: true });
  builder.build(models);
  const durations: number[] = [];
  let longestUnit = 0;
  let last = performance.now();
  for (;;) {
    const start = performance.now();
    last = start;
    const deadline = start + 2;
    const done = builder.prepareIncrementalSlice(() => {
      const now = performance.now();
      longestUnit = Math.max(longestUnit, now - last);
      last = now;
      return now >= deadline;
    });
    durations.push(performance.now() - start);
    if (done) break;
  }
  t.diagnostic(`${durations.length} slices of 2 ms budget, longest ${Math.max(...durations).toFixed(2)} ms, longest unit ${longestUnit.toFixed(2)} ms`);
  assert.ok(durations.length > 1);
});

test('a slice that throws ends the slices and reports the error', () => {
  const scheduler = fakeScheduler();
  const errors: unknown[] = [];
  let runs = 0;
  runInSlices(
    () => {
      runs++;
      throw new Error('boom');
    },
    { scheduler, onError: (error) => errors.push(error), onDone: () => assert.fail('not done') },
  );
  while (scheduler.queue.length > 0) scheduler.queue.shift()!();
  assert.equal(runs, 1);
  assert.deepEqual(errors.map(String), ['Error: boom']);
});
