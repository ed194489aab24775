// The incremental path of the schema builder (patching the previous schema's type map for a few
// changed CRDs) must give exactly the schema a build from scratch gives.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { lexicographicSortSchema, printSchema, validateSchema, GraphQLSchema, type GraphQLSchema as Schema } from 'graphql';
import { parseAllDocuments } from 'yaml';
import { createSchemaBuilder } from '../../../src/graphql/schema-builder.ts';
import { isCollected } from '../../../src/graphql/lazy-schema.ts';
import { crdToModel } from '../../../src/model/crd-to-model.ts';
import type { ResourceModel } from '../../../src/model/resource-model.ts';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const corpusDir = process.env.CRDGATE_CRD_CORPUS ?? join(repo, '..', 'shared', 'crds');

function loadCrds(): Record<string, any>[] {
  const files = [join(repo, 'deploy/examples/crontab-crd.yaml'), join(repo, 'deploy/examples/clustercrontab-crd.yaml')];
  if (existsSync(corpusDir)) {
    const walk = (d: string): string[] => readdirSync(d).flatMap((f) => {
      const p = join(d, f);
      return statSync(p).isDirectory() ? walk(p) : p.endsWith('.yaml') ? [p] : [];
    });
    files.push(...walk(corpusDir).sort().slice(0, 40));
  }
  const crds = files.flatMap((f) => parseAllDocuments(readFileSync(f, 'utf8')).map((d) => d.toJS())).filter((c) => c?.kind === 'CustomResourceDefinition');
  const seen = new Set<string>();
  return crds.filter((c) => !seen.has(c.metadata.name) && seen.add(c.metadata.name));
}

const print = (s: Schema) => printSchema(lexicographicSortSchema(s));
const fresh = (models: ResourceModel[]) => createSchemaBuilder({ assumeValid: true }).build(models).schema;

function withField(crd: Record<string, any>, field: string): ResourceModel {
  const c = structuredClone(crd);
  c.spec.versions[0].schema.openAPIV3Schema.properties ??= {};
  c.spec.versions[0].schema.openAPIV3Schema.properties[field] = { type: 'string', description: `added ${field}` };
  return crdToModel(c);
}

test('changing, adding and removing CRDs one at a time gives the schema a fresh build gives', () => {
  const crds = loadCrds();
  let models = crds.map((c) => crdToModel(c));
  const builder = createSchemaBuilder({ assumeValid: true });
  let previous = builder.build(models).schema;
  const steps: [string, (m: ResourceModel[]) => ResourceModel[]][] = [
    ['change the first', (m) => [withField(crds[0]!, 'extraA'), ...m.slice(1)]],
    ['remove the last', (m) => m.slice(0, -1)],
    ['add it back', (m) => [...m, crdToModel(crds.at(-1)!)]],
    ['change two', (m) => [m[0]!, withField(crds[1]!, 'extraB'), ...m.slice(2, -1), withField(crds.at(-1)!, 'extraC')]],
    ['remove the first', (m) => m.slice(1)],
    ['nothing changes', (m) => m],
  ];
  for (const [what, step] of steps) {
    models = step(models);
    const incremental = builder.build(models).schema;
    assert.notEqual(incremental, previous, `${what}: a new schema object`);
    assert.equal(builder.lastBuild, 'patched', `${what}: the incremental path was taken`);
    assert.equal(print(incremental), print(fresh(models)), `${what}: same SDL as a fresh build`);
    assert.deepEqual(Object.keys(incremental.getTypeMap()).sort(), Object.keys(fresh(models).getTypeMap()).sort(), `${what}: same types`);
    // The patched schema must also pass graphql-js's own validation when asked for it.
    const check = new GraphQLSchema({ ...incremental.toConfig(), assumeValid: false });
    assert.deepEqual(validateSchema(check).map(String), [], `${what}: valid`);
    previous = incremental;
  }
});

test('a long run of single changes (past the overlay flattening) still equals a fresh build', () => {
  const crds = loadCrds();
  let models = crds.map((c) => crdToModel(c));
  const builder = createSchemaBuilder({ assumeValid: true });
  let keys = Object.keys(builder.build(models).schema.getTypeMap());
  for (let i = 0; i < 40; i++) {
    const k = i % models.length;
    models = models.map((m, j) => (j === k ? withField(crds[k]!, `round${i}`) : m));
    const next = Object.keys(builder.build(models).schema.getTypeMap());
    assert.equal(builder.lastBuild, 'patched');
    // Every generation, flattened or not: the types that stay keep their order, new ones follow.
    const kept = new Set(next);
    const before = new Set(keys);
    assert.deepEqual(next, [...keys.filter((key) => kept.has(key)), ...next.filter((key) => !before.has(key))], `round ${i}: order of the type map`);
    keys = next;
  }
  const incremental = builder.build(models).schema;
  assert.equal(print(incremental), print(fresh(models)));
  assert.equal(incremental.getType('Query'), incremental.getQueryType());
});

test('the root types of a patched schema list their fields in the order a fresh build does', async () => {
  const { makeCrd } = await import('../crd-fixtures.ts');
  const { types } = await import('node:util');
  const { declaredFieldsOf } = await import('../../../src/graphql/lazy-schema.ts');
  const widget = (group: string, extra: Record<string, unknown> = {}, scale = false) =>
    crdToModel(makeCrd({ group, kind: 'Widget', spec: { type: 'object', properties: { size: { type: 'integer' }, ...extra } }, ...(scale ? { versions: [{ name: 'v1', subresources: { status: {}, scale: { specReplicasPath: '.spec.size', statusReplicasPath: '.status.size' } } }, { name: 'v2', storage: false }] } : {}) }));
  const fields = (s: Schema) => [s.getQueryType(), s.getMutationType(), s.getSubscriptionType()].map((t) => (t ? Object.keys(t.getFields()) : []));
  const crds = loadCrds().slice(0, 6);
  let models = [...crds.map((c) => crdToModel(c)), widget('b.example.org'), widget('m.example.org')];
  const builder = createSchemaBuilder({ assumeValid: true });
  builder.build(models);
  const steps: [string, (m: ResourceModel[]) => ResourceModel[]][] = [
    ['add one that sorts in the middle', (m) => [...m, widget('c.example.org')]],
    ['add one that sorts last', (m) => [...m, widget('zz.example.org')]],
    ['change one, same root fields', (m) => m.map((x) => (x.group === 'c.example.org' ? widget('c.example.org', { color: { type: 'string' } }) : x))],
    ['change one, other root fields', (m) => m.map((x) => (x.group === 'b.example.org' ? widget('b.example.org', {}, true) : x))],
    ['remove one in the middle', (m) => m.filter((x) => x.group !== 'c.example.org')],
    ['remove the first', (m) => m.slice(1)],
  ];
  for (const [what, step] of steps) {
    models = step(models);
    const incremental = builder.build(models).schema;
    assert.equal(builder.lastBuild, 'patched', `${what}: the incremental path was taken`);
    assert.ok(types.isProxy(declaredFieldsOf(incremental.getQueryType()!)), `${what}: the root field map was patched`);
    const expected = fresh(models);
    assert.deepEqual(fields(incremental), fields(expected), `${what}: root fields in order`);
    assert.deepEqual(Object.keys(declaredFieldsOf(incremental.getMutationType()!)!), Object.keys(declaredFieldsOf(expected.getMutationType()!)!), `${what}: declared mutation fields in order`);
    assert.equal(print(incremental), print(expected), `${what}: same SDL as a fresh build`);
  }
});

test('a change arriving while the preparation runs in slices is patched, and gives the schema a fresh build gives', () => {
  const crds = loadCrds();
  const models = crds.map((c) => crdToModel(c));
  // The units of work of a whole preparation: the type map's walk and filling, then one per fragment counted.
  const whole = createSchemaBuilder({ assumeValid: true });
  const typeCount = Object.keys(fresh(models).getTypeMap()).length;
  whole.build(models);
  let units = 0;
  assert.equal(whole.prepareIncrementalSlice(() => (units++, false)), true);
  assert.ok(units > 2 * typeCount, `${units} units for ${typeCount} types`);
  const changed = [withField(crds[0]!, 'midway'), ...models.slice(1)];
  const expected = print(fresh(changed));
  // Stopped early in the walk, in the middle of it, while filling the type map, and while counting.
  for (const stopAfter of [1, Math.floor(typeCount / 2), typeCount + 5, units - 2]) {
    const builder = createSchemaBuilder({ assumeValid: true });
    const { schema } = builder.build(models);
    let calls = 0;
    assert.equal(builder.prepareIncrementalSlice(() => ++calls >= stopAfter), false, `stopped after ${stopAfter}`);
    assert.equal(calls, stopAfter, 'stops as soon as told');
    assert.equal(isCollected(schema), stopAfter >= 2 * typeCount, `collected after ${stopAfter} of ${units}`);
    const patched = builder.build(changed).schema;
    assert.equal(builder.lastBuild, 'patched', `stopped after ${stopAfter}: the incremental path was taken`);
    assert.equal(print(patched), expected, `stopped after ${stopAfter}: same SDL as a fresh build`);
    assert.deepEqual(Object.keys(patched.getTypeMap()).sort(), Object.keys(fresh(changed).getTypeMap()).sort());
    // The patched schema needs no preparation; nor does a slice of an unfinished one go wrong after it.
    assert.equal(builder.prepareIncrementalSlice(() => true), true);
  }
});
