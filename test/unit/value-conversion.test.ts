import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { crdToModel } from '../../src/model/crd-to-model.ts';
import { stringifyJson } from '../../src/kube/lossless-json.ts';
import { sampleObject } from '../../src/model/sample-object.ts';
import { toGraphQL, toKubernetes, ValueConversionError } from '../../src/model/value-conversion.ts';
import { makeCrd, TRICKY_SPEC } from './crd-fixtures.ts';

const model = crdToModel(makeCrd({ spec: TRICKY_SPEC }));
const version = model.versions[0]!;
const root = version.schema;

describe('value conversion', () => {
  it('round-trips a sample that fills every field: Kubernetes → GraphQL → Kubernetes', () => {
    const k8s = sampleObject(model, version);
    const gql = toGraphQL(k8s, root);
    assert.deepEqual(toKubernetes(gql, root), k8s);
  });

  it('renames properties, entries and enum values in both directions', () => {
    const k8s = {
      spec: {
        'a-b': 'dash',
        a_b: 'underscore',
        mode: 's/mime',
        backends: { 'primary.example.com': { 'host-name': 'h', port: 1 } },
        nestedMaps: { outer: { inner: true } },
        rules: [{ name: 'r', 'max-size': 3 }],
      },
    };
    const gql = toGraphQL(k8s, root) as Record<string, any>;
    assert.deepEqual(gql, {
      spec: {
        a_b_2: 'dash',
        a_b: 'underscore',
        mode: 's_mime',
        backends: [{ key: 'primary.example.com', value: { host_name: 'h', port: 1 } }],
        nestedMaps: [{ key: 'outer', value: [{ key: 'inner', value: true }] }],
        rules: [{ name: 'r', max_size: 3 }],
      },
    });
    assert.deepEqual(toKubernetes(gql, root), k8s);
  });

  it('accepts enum values by GraphQL name or raw value (graphql-js hands resolvers the raw value)', () => {
    assert.deepEqual(toKubernetes({ spec: { mode: 'digital_signature' } }, root), { spec: { mode: 'digital signature' } });
    assert.deepEqual(toKubernetes({ spec: { mode: 'digital signature' } }, root), { spec: { mode: 'digital signature' } });
  });

  it('moves undeclared fields of preserve-unknown objects through the unknown-fields field, losslessly', () => {
    const k8s = { spec: { mixed: { known: 'k', 'known-too': 2, extra: { deep: [1, null] }, 'x.y': 'z' } } };
    const gql = toGraphQL(k8s, root) as Record<string, any>;
    assert.deepEqual(gql.spec.mixed, { known: 'k', known_too: 2, _unknownFields: { extra: { deep: [1, null] }, 'x.y': 'z' } });
    assert.deepEqual(toKubernetes(gql, root), k8s);
  });

  it('refuses an unknown-fields entry that names a declared field', () => {
    assert.throws(
      () => toKubernetes({ spec: { mixed: { _unknownFields: { known: 'twice' } } } }, root),
      (error: unknown) => error instanceof ValueConversionError && /"known" is a declared field/.test(error.message),
    );
  });

  it('refuses duplicate map keys and unknown fields with the path', () => {
    assert.throws(
      () => toKubernetes({ spec: { backends: [{ key: 'a', value: {} }, { key: 'a', value: {} }] } }, root),
      /spec.backends\[1\]: duplicate map key "a"/,
    );
    assert.throws(() => toKubernetes({ spec: { nope: 1 } }, root), /spec: unknown field "nope"/);
  });

  it('keeps explicit nulls, which delete fields in merge patches', () => {
    assert.deepEqual(toKubernetes({ spec: { a_b_2: null, labels: null } }, root), { spec: { 'a-b': null, labels: null } });
  });

  it('a null value in a map of strings (labels, annotations, any such map) deletes its key in a MERGE patch, and is refused in a whole object or an APPLY patch', () => {
    const patch = { metadata: { labels: { gone: null, kept: 'x' }, annotations: { a: null } }, spec: { labels: { gone: null } } };
    assert.deepEqual(toKubernetes(patch, root, '', 'merge'), patch);
    for (const mode of ['whole', 'apply'] as const) {
      assert.throws(() => toKubernetes({ metadata: { labels: { gone: null } } }, root, '', mode), /metadata\.labels: the value of "gone" is null: null deletes a key in a MERGE patch only/, mode);
      assert.throws(() => toKubernetes({ spec: { labels: { gone: null } } }, root, '', mode), /spec\.labels: the value of "gone" is null/, mode);
    }
  });

  it('carries int64 values beyond 2^53 as bigint and writes them exactly', () => {
    const k8s = toKubernetes({ spec: { big: '9223372036854775807' } }, root) as { spec: { big: unknown } };
    assert.equal(k8s.spec.big, 9223372036854775807n);
    assert.equal(stringifyJson(k8s), '{"spec":{"big":9223372036854775807}}');
    // The output keeps the bigint; the Int64 scalar writes it as a JSON number with every digit.
    assert.deepEqual(toGraphQL(k8s, root), { spec: { big: 9223372036854775807n } });
    assert.deepEqual(toKubernetes({ spec: { big: '42' } }, root), { spec: { big: 42 } });
  });

  it('stringifies like JSON.stringify when there is no bigint', () => {
    const value = { a: [1, 'two', null, { b: true }], c: undefined, d: 'é"\n' };
    assert.equal(stringifyJson(value), JSON.stringify(value));
  });
});

describe('value conversion of embedded resources', () => {
  const embedded = crdToModel(makeCrd({
    spec: { type: 'object', properties: { template: { type: 'object', 'x-kubernetes-embedded-resource': true, 'x-kubernetes-preserve-unknown-fields': true } } },
  }));
  const schema = embedded.versions[0]!.schema;

  it('a whole object drops the null metadata its read gave an embedded resource without one; a merge patch keeps it', () => {
    // Read: the embedded resource has no metadata, so GraphQL answers metadata: null.
    const read = toGraphQL({ spec: { template: { apiVersion: 'v1', kind: 'ConfigMap' } } }, schema) as { spec: { template: Record<string, unknown> } };
    const written = { spec: { template: { ...read.spec.template, metadata: null } } };
    assert.deepEqual(toKubernetes(written, schema, '', 'whole'), { spec: { template: { apiVersion: 'v1', kind: 'ConfigMap' } } });
    assert.deepEqual(toKubernetes(written, schema), { spec: { template: { apiVersion: 'v1', kind: 'ConfigMap', metadata: null } } });
    // The object's own metadata and other nulls are left as they are.
    assert.deepEqual(toKubernetes({ metadata: null, spec: { template: null } }, schema, '', 'whole'), { metadata: null, spec: { template: null } });
  });
});
