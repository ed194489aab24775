import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { types } from 'node:util';
import { parse } from 'yaml';
import { crdToModel } from '../../src/model/crd-to-model.ts';
import { buildOpenApiDocument, createOpenApiBuilder } from '../../src/rest/openapi-builder.ts';
import { makeCrd, TRICKY_SPEC } from './crd-fixtures.ts';
import { checkOpenApiStructure } from './openapi-structure.ts';

const example = (name: string) => crdToModel(parse(readFileSync(new URL(`../../deploy/examples/${name}`, import.meta.url), 'utf8')));
const cronTab = example('crontab-crd.yaml');
const clusterCronTab = example('clustercrontab-crd.yaml');
const tricky = crdToModel(makeCrd({ group: 'tricky.example.org', kind: 'Tricky', spec: TRICKY_SPEC }));
const doc = buildOpenApiDocument([cronTab, clusterCronTab, tricky]);
const paths = doc.paths as Record<string, Record<string, any>>;
const schemas = doc.components.schemas as Record<string, any>;

describe('OpenAPI builder', () => {
  it('produces a structurally valid OpenAPI 3.1 document', () => {
    assert.equal(doc.openapi, '3.1.0');
    assert.deepEqual(checkOpenApiStructure(doc), []);
  });

  it('has Kubernetes-shaped paths for namespaced resources, with status and scale', () => {
    const base = '/rest/stable.example.com/v1';
    assert.deepEqual(Object.keys(paths[`${base}/namespaces/{namespace}/crontabs`]!).sort(), ['delete', 'get', 'parameters', 'post']);
    assert.deepEqual(Object.keys(paths[`${base}/namespaces/{namespace}/crontabs/{name}`]!).sort(), ['delete', 'get', 'parameters', 'patch', 'put']);
    assert.ok(paths[`${base}/namespaces/{namespace}/crontabs/{name}/status`]);
    assert.ok(paths[`${base}/namespaces/{namespace}/crontabs/{name}/scale`]);
    assert.deepEqual(Object.keys(paths[`${base}/crontabs`]!), ['get'], 'the all-namespaces list');
    assert.ok(paths['/rest/stable.example.com/v2/namespaces/{namespace}/crontabs/{name}'], 'every served version');
  });

  it('has the cluster-scoped form without namespaces, and no scale path without the subresource', () => {
    const base = '/rest/stable.example.com/v1';
    assert.deepEqual(Object.keys(paths[`${base}/clustercrontabs`]!).sort(), ['delete', 'get', 'post']);
    assert.ok(paths[`${base}/clustercrontabs/{name}`]);
    assert.ok(paths[`${base}/clustercrontabs/{name}/status`]);
    assert.equal(paths[`${base}/clustercrontabs/{name}/scale`], undefined);
    assert.equal(Object.keys(paths).some((p) => p.includes('namespaces/{namespace}/clustercrontabs')), false);
  });

  it('names query parameters as Kubernetes does', () => {
    const list = paths['/rest/stable.example.com/v1/namespaces/{namespace}/crontabs']!['get'];
    const names = list.parameters.map((p: { $ref?: string; name?: string }) => p.name ?? p.$ref!.split('/').pop());
    for (const name of ['labelSelector', 'fieldSelector', 'limit', 'continue', 'resourceVersion', 'watch', 'where', 'orderBy', 'consistency']) assert.ok(names.includes(name), name);
    const patch = paths['/rest/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}']!['patch'];
    assert.deepEqual(Object.keys(patch.requestBody.content), [
      'application/merge-patch+json',
      'application/json-patch+json',
      'application/apply-patch+yaml',
    ]);
    const patchParams = patch.parameters.map((p: { $ref: string }) => p.$ref.split('/').pop());
    for (const name of ['dryRun', 'fieldManager', 'force']) assert.ok(patchParams.includes(name), name);
    const del = paths['/rest/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}']!['delete'];
    const delParams = del.parameters.map((p: { $ref: string }) => p.$ref.split('/').pop());
    for (const name of ['dryRun', 'propagationPolicy', 'gracePeriodSeconds']) assert.ok(delParams.includes(name), name);
    assert.ok(list.responses['200'].content['text/event-stream'], 'watch=true streams events');
  });

  it('describes errors as problem+json with code, reason and causes, and uses bearer auth', () => {
    const problem = (doc.components as any).responses.Problem;
    assert.deepEqual(Object.keys(problem.content), ['application/problem+json']);
    assert.deepEqual(Object.keys(schemas['Problem'].properties).filter((k) => ['code', 'reason', 'causes'].includes(k)), ['code', 'reason', 'causes']);
    assert.deepEqual((doc as any).security, [{ bearerAuth: [] }]);
    assert.equal((doc.components as any).securitySchemes.bearerAuth.scheme, 'bearer');
  });

  it('keeps Kubernetes property names and converts 3.0 idioms to 3.1', () => {
    const trickySchema = schemas['org.example.tricky.v1.Tricky'];
    const spec = trickySchema.properties.spec;
    for (const name of ['a-b', 'app.kubernetes.io/name', '$ref', '', '*']) assert.ok(name in spec.properties, name);
    assert.deepEqual(trickySchema.properties.metadata, { $ref: '#/components/schemas/ObjectMeta' });
    assert.deepEqual(spec.properties.defaulted.type, ['string', 'null']);
    assert.deepEqual(spec.properties.nullableEnum.enum, ['A', 'B', null]);
    assert.equal(spec.properties.port['x-kubernetes-int-or-string'], true);
    assert.deepEqual(spec.properties.template.properties.metadata, { $ref: '#/components/schemas/ObjectMeta' });
    assert.ok(schemas['com.example.stable.v1.CronTabList'].properties.items);
  });

  it('marks deprecated versions and keeps operation ids unique', () => {
    const model = crdToModel(makeCrd({ versions: [{ name: 'v1' }, { name: 'v1beta1', deprecated: true, deprecationWarning: 'use v1' }] }));
    const d = buildOpenApiDocument([model, cronTab]);
    const op = (d.paths as any)['/rest/stable.example.com/v1beta1/namespaces/{namespace}/widgets/{name}'].get;
    assert.equal(op.deprecated, true);
    assert.equal(op.description, 'Deprecated: use v1');
    assert.deepEqual(checkOpenApiStructure(d), []);
  });

  it('reuses the parts of unchanged CRDs across builds', () => {
    const builder = createOpenApiBuilder();
    const first = builder.build([cronTab, clusterCronTab]);
    const second = builder.build([cronTab]);
    assert.equal(
      (second.paths as any)['/rest/stable.example.com/v1/namespaces/{namespace}/crontabs'],
      (first.paths as any)['/rest/stable.example.com/v1/namespaces/{namespace}/crontabs'],
    );
    assert.equal((second.paths as any)['/rest/stable.example.com/v1/clustercrontabs'], undefined);
  });
});

describe('OpenAPI builder, one CRD at a time', () => {
  const widget = (group: string, fields: string[] = [], extra: Parameters<typeof makeCrd>[0] = {}) =>
    crdToModel(makeCrd({ group, kind: 'Widget', spec: { type: 'object', properties: Object.fromEntries([['size', { type: 'integer' }], ...fields.map((f) => [f, { type: 'string' }])]) }, ...extra }));
  // Serialized, so that the order of every map counts.
  const cold = (models: ReturnType<typeof crdToModel>[]) => JSON.stringify(buildOpenApiDocument(models));

  it('gives the document a fresh build gives, order included, after each add, change and remove', () => {
    const builder = createOpenApiBuilder();
    let models = [cronTab, widget('b.example.org'), widget('d.example.org'), clusterCronTab, tricky];
    assert.equal(JSON.stringify(builder.build(models)), cold(models));
    const steps: [string, (m: typeof models) => typeof models][] = [
      ['add one that sorts in the middle', (m) => [...m, widget('c.example.org')]],
      ['add one that sorts last', (m) => [...m, widget('z.example.org')]],
      ['change one, same paths', (m) => m.map((x) => (x.group === 'c.example.org' ? widget('c.example.org', ['color']) : x))],
      ['change one, other paths and schemas', (m) => m.map((x) => (x.group === 'b.example.org' ? widget('b.example.org', [], { versions: [{ name: 'v1', subresources: { status: {} } }, { name: 'v2', storage: false }] }) : x))],
      ['change one, a filter type only it used', (m) => m.map((x) => (x.group === 'd.example.org' ? widget('d.example.org', [], { spec: { type: 'object', properties: { on: { type: 'boolean' }, at: { type: 'string', format: 'date-time' } } } }) : x))],
      ['remove one in the middle', (m) => m.filter((x) => x.group !== 'c.example.org')],
      ['remove the first', (m) => m.filter((x) => x !== cronTab)],
      ['nothing changes', (m) => m],
    ];
    for (const [what, step] of steps) {
      models = step(models);
      const incremental = builder.build(models);
      assert.ok(types.isProxy(incremental.paths) && types.isProxy(incremental.components.schemas), `${what}: the previous maps were patched`);
      assert.equal(JSON.stringify(incremental), cold(models), what);
      assert.deepEqual(Object.keys(incremental.paths), Object.keys(JSON.parse(cold(models)).paths), `${what}: path order`);
      assert.deepEqual(checkOpenApiStructure(incremental), [], `${what}: valid`);
    }
  });

  it('keeps each document it returned as it was', () => {
    const builder = createOpenApiBuilder();
    const first = builder.build([cronTab, tricky]);
    const before = JSON.stringify(first);
    builder.build([cronTab, clusterCronTab, tricky]);
    builder.build([tricky]);
    assert.equal(JSON.stringify(first), before);
  });
});
