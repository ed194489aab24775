// A deterministic example object (Kubernetes JSON) for one CRD version that fills every declared
// field: defaults where the schema has them, enum values (preferring ones whose GraphQL name
// differs from the raw value), formats, int64 values beyond 2^53, map keys that are not valid
// GraphQL names, and undeclared fields wherever unknown fields are preserved. Used to exercise
// the name mapping and the converters end to end, and as documentation material.

import type { ObjectNode, ResourceModel, SchemaNode, VersionModel } from './resource-model.ts';

const TRICKY_KEYS = ['app.kubernetes.io/name', 'weird key-1'] as const;
const UNDECLARED_KEY = 'x-undeclared.field';
const BEYOND_SAFE_INTEGER = 9007199254740993n;

export interface SampleOptions {
  readonly namespace?: string;
  readonly name?: string;
}

export function sampleObject(resource: ResourceModel, version: VersionModel, options: SampleOptions = {}): Record<string, unknown> {
  const state = { counter: 0 };
  const body = sampleOf(version.schema, state, 'root') as Record<string, unknown>;
  body['apiVersion'] = `${resource.group}/${version.name}`;
  body['kind'] = resource.kind;
  body['metadata'] = {
    name: options.name ?? 'sample',
    ...(resource.scope === 'Namespaced' ? { namespace: options.namespace ?? 'default' } : {}),
    labels: { 'app.kubernetes.io/name': 'sample', tier: 'test' },
    annotations: { 'example.com/note': 'a "quoted" value' },
  };
  return body;
}

interface State {
  counter: number;
}

export function sampleOf(node: SchemaNode, state: State, name: string): unknown {
  state.counter++;
  switch (node.kind) {
    case 'object':
      return sampleObjectNode(node, state);
    case 'objectMeta':
      return { name: `${name}-meta`, labels: { [TRICKY_KEYS[0]]: 'x' } };
    case 'map': {
      const out: Record<string, unknown> = {};
      for (const key of TRICKY_KEYS) out[key] = sampleOf(node.values, state, key);
      return out;
    }
    case 'array':
      return [sampleOf(node.items, state, name)];
    case 'string':
      if (node.enum) return preferredEnumValue(node.enum.values, node.enum.graphqlValues);
      if (node.hasDefault && typeof node.default === 'string') return node.default;
      switch (node.format) {
        case 'date-time':
          return '2024-02-29T12:34:56Z';
        case 'byte':
          return 'aGVsbG8gd29ybGQ=';
        default:
          return `${name}-value`;
      }
    case 'integer':
      if (node.enum) return node.enum.values[0];
      if (node.hasDefault && typeof node.default === 'number') return node.default;
      return node.int32 ? 7 : state.counter % 2 === 0 ? BEYOND_SAFE_INTEGER : 1700000000123;
    case 'number':
      if (node.enum) return node.enum.values[0];
      return node.hasDefault && typeof node.default === 'number' ? node.default : 1.5;
    case 'boolean':
      if (node.enum) return node.enum.values[0];
      return node.hasDefault && typeof node.default === 'boolean' ? node.default : true;
    case 'intOrString':
      if (node.hasDefault && (typeof node.default === 'number' || typeof node.default === 'string')) return node.default;
      return state.counter % 2 === 0 ? '25%' : 8080;
    case 'json':
      return { 'free-form': { list: [1, 'two', null, true], nested: { 'a.b': 1.5 } } };
  }
}

function sampleObjectNode(node: ObjectNode, state: State): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const property of node.properties) out[property.name] = sampleOf(property.node, state, property.name);
  if (node.unknownFieldsName !== undefined && !node.properties.some((p) => p.name === UNDECLARED_KEY)) {
    out[UNDECLARED_KEY] = { kept: ['as', 'is', 1] };
  }
  return out;
}

function preferredEnumValue(values: readonly unknown[], mapped: readonly { name: string; value: string }[] | undefined): unknown {
  const renamed = mapped?.find((entry) => entry.name !== entry.value);
  return renamed ? renamed.value : values[0];
}
