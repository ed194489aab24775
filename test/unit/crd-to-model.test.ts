import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { CrdModelError } from '../../src/model/crd-model-error.ts';
import { crdToModel, tryCrdToModel } from '../../src/model/crd-to-model.ts';
import type { ObjectNode } from '../../src/model/resource-model.ts';
import { makeCrd, nodeAt as prop, TRICKY_SPEC } from './crd-fixtures.ts';

const example = (name: string) => parse(readFileSync(new URL(`../../deploy/examples/${name}`, import.meta.url), 'utf8'));


describe('crdToModel: resource facts', () => {
  it('reads names, scope, versions and subresources of the CronTab example', () => {
    const model = crdToModel(example('crontab-crd.yaml'));
    assert.equal(model.crdName, 'crontabs.stable.example.com');
    assert.equal(model.group, 'stable.example.com');
    assert.equal(model.kind, 'CronTab');
    assert.equal(model.listKind, 'CronTabList');
    assert.equal(model.plural, 'crontabs');
    assert.equal(model.singular, 'crontab');
    assert.deepEqual(model.shortNames, ['ct']);
    assert.equal(model.scope, 'Namespaced');
    assert.equal(model.storageVersion, 'v1');
    assert.deepEqual(model.versions.map((v) => [v.name, v.served, v.storage]), [['v1', true, true], ['v2', true, false]]);
    const v1 = model.versions[0]!;
    assert.deepEqual(v1.subresources, {
      status: true,
      scale: { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas', labelSelectorPath: '.status.labelSelector' },
    });
    assert.deepEqual(v1.selectableFields, [{ jsonPath: '.spec.cronSpec' }]);
    assert.deepEqual(v1.additionalPrinterColumns.map((c) => c.name), ['Spec', 'Replicas', 'Age']);
    assert.match(model.contentHash, /^[0-9a-f]{64}$/);
  });

  it('reads categories, deprecation and the content hash ignores metadata churn', () => {
    const crd = makeCrd({ versions: [{ name: 'v1' }, { name: 'v1beta1', deprecated: true, deprecationWarning: 'use v1' }] });
    (crd['spec'] as Record<string, any>)['names']['categories'] = ['all'];
    const model = crdToModel(crd);
    assert.deepEqual(model.categories, ['all']);
    assert.equal(model.versions[1]!.deprecated, true);
    assert.equal(model.versions[1]!.deprecationWarning, 'use v1');
    const churned = structuredClone(crd);
    (churned['metadata'] as Record<string, unknown>)['resourceVersion'] = '42';
    assert.equal(crdToModel(churned).contentHash, model.contentHash);
    const changed = structuredClone(crd);
    (changed['spec'] as Record<string, any>)['names']['shortNames'] = ['w'];
    assert.notEqual(crdToModel(changed).contentHash, model.contentHash);
  });
});

describe('crdToModel: field tree', () => {
  const model = crdToModel(makeCrd({ spec: TRICKY_SPEC }));
  const root = model.versions[0]!.schema;
  const spec = prop(root, 'spec') as ObjectNode;

  it('always gives the root apiVersion, kind and a typed ObjectMeta', () => {
    assert.deepEqual(root.properties.slice(0, 3).map((p) => [p.name, p.node.kind]), [
      ['apiVersion', 'string'],
      ['kind', 'string'],
      ['metadata', 'objectMeta'],
    ]);
  });

  it('maps property names per object and marks required ones', () => {
    const byName = new Map(spec.properties.map((p) => [p.name, p]));
    assert.equal(byName.get('a-b')!.graphqlName, 'a_b_2');
    assert.equal(byName.get('a-b')!.required, true);
    assert.equal(byName.get('a_b')!.graphqlName, 'a_b');
    assert.equal(byName.get('proxyURL')!.graphqlName, 'proxyURL');
    assert.equal(byName.get('proxyUrl')!.graphqlName, 'proxyUrl');
    assert.equal(byName.get('')!.graphqlName, '_');
    assert.equal(byName.get('*')!.graphqlName, '_2');
  });

  it('types scalars, formats and enums', () => {
    assert.deepEqual(prop(spec, 'port').kind, 'intOrString');
    const big = prop(spec, 'big');
    assert.ok(big.kind === 'integer' && !big.int32);
    assert.equal(prop(spec, 'ratio').kind, 'number');
    assert.equal(prop(spec, 'when').format, 'date-time');
    assert.equal(prop(spec, 'blob').format, 'byte');
    const mode = prop(spec, 'mode');
    assert.ok(mode.kind === 'string' && mode.enum?.graphqlValues);
    assert.deepEqual(mode.enum.graphqlValues.map((v) => v.name), ['digital_signature', 's_mime', 'HTTP_01', 'true_', 'Plain']);
    const star = prop(spec, 'starEnum');
    assert.ok(star.kind === 'string' && star.enum && !star.enum.graphqlValues, '* keeps the enum a scalar');
    const code = prop(spec, 'statusCode');
    assert.ok(code.kind === 'integer' && code.enum && !code.enum.graphqlValues);
    const nullableEnum = prop(spec, 'nullableEnum');
    assert.ok(nullableEnum.kind === 'string' && nullableEnum.nullable);
    assert.deepEqual(nullableEnum.enum?.values, ['A', 'B']);
    const defaulted = prop(spec, 'defaulted');
    assert.ok(defaulted.hasDefault && defaulted.default === 'fallback' && defaulted.nullable);
  });

  it('types maps, arrays and open parts', () => {
    const labels = prop(spec, 'labels');
    assert.ok(labels.kind === 'map' && labels.values.kind === 'string');
    const backends = prop(spec, 'backends');
    assert.ok(backends.kind === 'map' && backends.values.kind === 'object');
    const nested = prop(spec, 'nestedMaps');
    assert.ok(nested.kind === 'map' && nested.values.kind === 'map' && nested.values.values.kind === 'boolean');
    assert.equal(prop(spec, 'anything').kind, 'json');
    const matrix = prop(spec, 'matrix');
    assert.ok(matrix.kind === 'array' && matrix.items.kind === 'array');
    const rules = prop(spec, 'rules');
    assert.ok(rules.kind === 'array' && rules.listType === 'map');
    assert.deepEqual(rules.listMapKeys, ['name']);
    const config = prop(spec, 'config');
    assert.ok(config.kind === 'json' && config.reason === 'preserve-unknown-fields');
  });

  it('keeps typed properties and the unknown rest when preserve-unknown-fields sits beside properties', () => {
    const mixed = prop(spec, 'mixed');
    assert.ok(mixed.kind === 'object');
    assert.deepEqual(mixed.properties.map((p) => p.graphqlName), ['known', 'known_too']);
    assert.equal(mixed.unknownFieldsName, '_unknownFields');
  });

  it('gives embedded resources apiVersion, kind and ObjectMeta', () => {
    const template = prop(spec, 'template');
    assert.ok(template.kind === 'object' && template.embeddedResource);
    assert.deepEqual(template.properties.map((p) => [p.name, p.node.kind]), [
      ['apiVersion', 'string'],
      ['kind', 'string'],
      ['metadata', 'objectMeta'],
    ]);
    assert.equal(template.unknownFieldsName, '_unknownFields');
  });

  it('merges properties declared only inside oneOf/allOf branches, and documents the rules', () => {
    const source = prop(spec, 'source');
    assert.ok(source.kind === 'object');
    assert.deepEqual(source.properties.map((p) => p.name).sort(), ['common', 'git', 'oci']);
    assert.equal(prop(source, 'git', 'url').kind, 'string');
    assert.match(source.constraints.combinators ?? '', /oneOf: required\(git\)|oneOf: .*git/);
    assert.deepEqual(source.validations, [{ rule: 'has(self.git) != has(self.oci)', message: 'exactly one source' }]);
  });

  it('leaves anyOf branches of different types untyped, and keeps int-or-string', () => {
    const crd = makeCrd({
      spec: {
        type: 'object',
        properties: {
          loose: { anyOf: [{ type: 'integer' }, { type: 'string' }] },
          agreed: { anyOf: [{ type: 'string', pattern: 'a' }, { type: 'string', pattern: 'b' }] },
        },
      },
    });
    const s = prop(crdToModel(crd).versions[0]!.schema, 'spec');
    assert.equal(prop(s, 'loose').kind, 'json');
    assert.equal(prop(s, 'agreed').kind, 'string');
  });

  it('accepts a root that only preserves unknown fields', () => {
    const crd = makeCrd({ versions: [{ name: 'v1', schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } }] });
    const root = crdToModel(crd).versions[0]!.schema;
    assert.deepEqual(root.properties.map((p) => p.name), ['apiVersion', 'kind', 'metadata']);
    assert.equal(root.unknownFieldsName, '_unknownFields');
  });
});

describe('crdToModel: malformed CRDs get a clear error', () => {
  const cases: [string, (crd: Record<string, any>) => unknown, RegExp][] = [
    ['not an object', () => 'text', /must be an object/],
    ['wrong kind', (c) => ({ ...c, kind: 'Deployment' }), /kind: must be CustomResourceDefinition/],
    ['v1beta1', (c) => ({ ...c, apiVersion: 'apiextensions.k8s.io/v1beta1' }), /apiVersion: must be apiextensions.k8s.io\/v1/],
    ['no spec', (c) => ({ ...c, spec: undefined }), /spec: is missing/],
    ['no group', (c) => (delete c.spec.group, c), /spec.group: is missing/],
    ['bad group', (c) => ((c.spec.group = 'Not_A_Domain'), c), /not a valid DNS subdomain/],
    ['no kind', (c) => (delete c.spec.names.kind, c), /spec.names.kind: is missing/],
    ['bad scope', (c) => ((c.spec.scope = 'Global'), c), /spec.scope: must be Namespaced or Cluster/],
    ['no versions', (c) => ((c.spec.versions = []), c), /spec.versions: must be a non-empty list/],
    ['two storage versions', (c) => (c.spec.versions.push({ ...c.spec.versions[0], name: 'v2' }), c), /exactly one version must have storage/],
    ['duplicate version', (c) => (c.spec.versions.push({ ...c.spec.versions[0], storage: false }), c), /listed twice/],
    ['served not boolean', (c) => ((c.spec.versions[0].served = 'yes'), c), /spec.versions\[0\].served: must be true or false/],
    ['no schema', (c) => (delete c.spec.versions[0].schema, c), /openAPIV3Schema: is missing/],
    [
      'unknown type',
      (c) => ((c.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.size.type = 'strin'), c),
      /properties\["spec"\]\.properties\["size"\]\.type: unknown type "strin"/,
    ],
    [
      'properties not a map',
      (c) => ((c.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties = ['a']), c),
      /properties\["spec"\]\.properties: must be an object/,
    ],
    ['name mismatch', (c) => ((c.metadata.name = 'other.example.com'), c), /metadata.name: must be spec.names.plural/],
    ['bad scale', (c) => ((c.spec.versions[0].subresources = { scale: { specReplicasPath: '.spec.replicas' } }), c), /statusReplicasPath: is missing/],
  ];
  for (const [title, mutate, expected] of cases) {
    it(title, () => {
      const crd = mutate(makeCrd() as Record<string, any>);
      const result = tryCrdToModel(crd);
      assert.equal(result.ok, false);
      assert.ok(!result.ok && result.error instanceof CrdModelError);
      assert.match(result.error.message, expected);
      assert.ok(!result.error.message.includes('\n    at '), 'no stack trace in the message');
      assert.throws(() => crdToModel(crd), CrdModelError);
    });
  }

  it('names the CRD in the error', () => {
    const crd = makeCrd() as Record<string, any>;
    crd.spec.scope = 'Global';
    const result = tryCrdToModel(crd);
    assert.ok(!result.ok);
    assert.match(result.error.message, /^CRD widgets\.stable\.example\.com spec\.scope: /);
  });
});
