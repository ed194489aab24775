// CRD objects for unit tests, built in code so each test shows the part of the schema it is about.
import assert from 'node:assert/strict';
import type { ObjectNode, SchemaNode } from '../../src/model/resource-model.ts';

/** The model node at a path of property names, each step asserted to be an object with that property. */
export function nodeAt(node: SchemaNode, ...path: string[]): SchemaNode {
  let current = node;
  for (const name of path) {
    assert.equal(current.kind, 'object', `${name}: parent is ${current.kind}`);
    const found = (current as ObjectNode).properties.find((p) => p.name === name);
    assert.ok(found, `no property ${name}`);
    current = found.node;
  }
  return current;
}

export interface VersionFixture {
  name: string;
  served?: boolean;
  storage?: boolean;
  deprecated?: boolean;
  deprecationWarning?: string;
  schema?: Record<string, unknown>;
  subresources?: Record<string, unknown>;
}

export interface CrdFixture {
  group?: string;
  kind?: string;
  plural?: string;
  scope?: 'Namespaced' | 'Cluster';
  versions?: VersionFixture[];
  spec?: Record<string, unknown>;
}

export function makeCrd(fixture: CrdFixture = {}): Record<string, unknown> {
  const group = fixture.group ?? 'stable.example.com';
  const kind = fixture.kind ?? 'Widget';
  const plural = fixture.plural ?? `${kind.toLowerCase()}s`;
  const versions = (fixture.versions ?? [{ name: 'v1' }]).map((v, i) => ({
    name: v.name,
    served: v.served ?? true,
    storage: v.storage ?? i === 0,
    ...(v.deprecated !== undefined ? { deprecated: v.deprecated } : {}),
    ...(v.deprecationWarning !== undefined ? { deprecationWarning: v.deprecationWarning } : {}),
    schema: {
      openAPIV3Schema: v.schema ?? {
        type: 'object',
        properties: { spec: fixture.spec ?? { type: 'object', properties: { size: { type: 'integer', format: 'int32' } } } },
      },
    },
    ...(v.subresources ? { subresources: v.subresources } : {}),
  }));
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.${group}` },
    spec: {
      group,
      scope: fixture.scope ?? 'Namespaced',
      names: { kind, listKind: `${kind}List`, plural, singular: kind.toLowerCase() },
      versions,
    },
  };
}

/** A spec that uses every awkward shape and name real CRDs use. */
export const TRICKY_SPEC: Record<string, unknown> = {
  type: 'object',
  required: ['a-b'],
  properties: {
    'a-b': { type: 'string', description: 'dash' },
    a_b: { type: 'string', description: 'already valid, keeps its name' },
    'app.kubernetes.io/name': { type: 'string' },
    $ref: { type: 'string' },
    '9lives': { type: 'integer' },
    __proto: { type: 'string' },
    '': { type: 'string' },
    '*': { type: 'string' },
    'with space': { type: 'string' },
    proxyURL: { type: 'string' },
    proxyUrl: { type: 'string' },
    mode: { type: 'string', enum: ['digital signature', 's/mime', 'HTTP-01', 'true', 'Plain'] },
    starEnum: { type: 'string', enum: ['*', 'GET'] },
    statusCode: { type: 'integer', enum: [301, 302, 308] },
    nullableEnum: { type: 'string', nullable: true, enum: ['A', 'B', null] },
    port: { 'x-kubernetes-int-or-string': true, anyOf: [{ type: 'integer' }, { type: 'string' }] },
    big: { type: 'integer', format: 'int64' },
    ratio: { type: 'number' },
    when: { type: 'string', format: 'date-time' },
    blob: { type: 'string', format: 'byte' },
    labels: { type: 'object', additionalProperties: { type: 'string' } },
    weights: { type: 'object', additionalProperties: { type: 'integer' } },
    backends: {
      type: 'object',
      additionalProperties: { type: 'object', properties: { 'host-name': { type: 'string' }, port: { type: 'integer', format: 'int32' } } },
    },
    nestedMaps: { type: 'object', additionalProperties: { type: 'object', additionalProperties: { type: 'boolean' } } },
    anything: { type: 'object', additionalProperties: true },
    matrix: { type: 'array', items: { type: 'array', items: { type: 'string' } } },
    rules: {
      type: 'array',
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['name'],
      items: { type: 'object', required: ['name'], properties: { name: { type: 'string' }, 'max-size': { type: 'integer' } } },
    },
    config: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
    mixed: {
      type: 'object',
      'x-kubernetes-preserve-unknown-fields': true,
      properties: { known: { type: 'string' }, 'known-too': { type: 'integer', format: 'int32' } },
    },
    template: {
      type: 'object',
      'x-kubernetes-embedded-resource': true,
      'x-kubernetes-preserve-unknown-fields': true,
    },
    source: {
      type: 'object',
      description: 'properties only inside oneOf branches',
      oneOf: [
        { required: ['git'], properties: { git: { type: 'object', properties: { url: { type: 'string' } } } } },
        { required: ['oci'], properties: { oci: { type: 'string' } } },
      ],
      allOf: [{ properties: { common: { type: 'boolean' } } }],
      'x-kubernetes-validations': [{ rule: 'has(self.git) != has(self.oci)', message: 'exactly one source' }],
    },
    defaulted: { type: 'string', default: 'fallback', nullable: true },
  },
};
