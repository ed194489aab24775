// The two directions every request and response goes through:
//   toKubernetes: a GraphQL input value (GraphQL field names, entry lists, enum names) →
//                 Kubernetes JSON (original property names, plain maps, raw enum values);
//   toGraphQL:    Kubernetes JSON → the value the GraphQL output types describe.
// Both are lossless: undeclared fields kept by x-kubernetes-preserve-unknown-fields travel in
// the object's unknown-fields JSON field, map keys are never renamed, explicit nulls survive
// (they delete fields in merge patches).

import { exactInteger } from '../kube/lossless-json.ts';
import type { EnumModel, MapNode, ObjectNode, SchemaNode } from './resource-model.ts';

export class ValueConversionError extends Error {
  readonly path: string;
  constructor(path: string, problem: string) {
    super(path === '' ? problem : `${path}: ${problem}`);
    this.name = 'ValueConversionError';
    this.path = path;
  }
}

/**
 * How a map (additionalProperties) appears in GraphQL: string values as one StringMap object,
 * untyped values as one JSON object, anything else as a list of {key, value} entries so the
 * values stay typed.
 */
export function mapRepresentation(node: MapNode): 'stringMap' | 'json' | 'entries' {
  if (node.values.kind === 'string') return 'stringMap';
  if (node.values.kind === 'json') return 'json';
  return 'entries';
}

/**
 * What a written value is: a whole object (create, replace), a MERGE patch (where null deletes), or
 * an APPLY patch (the fields a manager owns, in which null means nothing for a map of strings).
 */
export type WriteMode = 'whole' | 'merge' | 'apply';

/**
 * GraphQL input value → Kubernetes JSON. Accepts enum values by GraphQL name or raw value.
 * `mode`: what the value is written as; see objectToKubernetes.
 */
export function toKubernetes(value: unknown, node: SchemaNode, path = '', mode: WriteMode = 'merge'): unknown {
  if (value === null || value === undefined) return value;
  switch (node.kind) {
    case 'object':
      return objectToKubernetes(value, node, path, mode);
    case 'objectMeta':
      if (mode !== 'merge') {
        const meta = expectObject(value, path);
        for (const key of ['labels', 'annotations']) noNullValues(meta[key], path === '' ? key : `${path}.${key}`);
      }
      return value;
    case 'map': {
      const representation = mapRepresentation(node);
      if (representation === 'stringMap' && mode !== 'merge') noNullValues(value, path);
      if (representation !== 'entries') return expectObject(value, path);
      if (!Array.isArray(value)) throw new ValueConversionError(path, 'expected a list of {key, value} entries');
      const out: Record<string, unknown> = {};
      value.forEach((entry, i) => {
        const at = `${path}[${i}]`;
        const { key, value: entryValue } = expectObject(entry, at) as { key?: unknown; value?: unknown };
        if (typeof key !== 'string') throw new ValueConversionError(at, 'entry key must be a string');
        if (Object.hasOwn(out, key)) throw new ValueConversionError(at, `duplicate map key ${JSON.stringify(key)}`);
        out[key] = toKubernetes(entryValue, node.values, `${path}.${key}`, mode);
      });
      return out;
    }
    case 'array': {
      if (!Array.isArray(value)) throw new ValueConversionError(path, 'expected a list');
      return value.map((item, i) => toKubernetes(item, node.items, `${path}[${i}]`, mode));
    }
    case 'string':
      return node.enum ? enumToRaw(value, node.enum) : value;
    case 'integer':
      if (node.enum) return value;
      return node.int32 ? value : int64ToKubernetes(value, path);
    default:
      return value;
  }
}

/**
 * A map of strings in a whole object or an APPLY patch: a null value there would be stored as ""
 * (Kubernetes reads null into a string as its zero value) or refused; only a MERGE patch gives it
 * a meaning (delete the key).
 */
function noNullValues(map: unknown, path: string): void {
  if (typeof map !== 'object' || map === null) return;
  for (const [key, v] of Object.entries(map)) {
    if (v === null) throw new ValueConversionError(path, `the value of ${JSON.stringify(key)} is null: null deletes a key in a MERGE patch only; leave the key out`);
  }
}

function objectToKubernetes(value: unknown, node: ObjectNode, path: string, mode: WriteMode): Record<string, unknown> {
  const input = expectObject(value, path);
  const out: Record<string, unknown> = {};
  const byGraphQLName = propertyIndex(node).byGraphQLName;
  let unknown: Record<string, unknown> | undefined;
  for (const [key, fieldValue] of Object.entries(input)) {
    if (key === node.unknownFieldsName) {
      if (fieldValue === null || fieldValue === undefined) continue;
      unknown = expectObject(fieldValue, `${path}.${key}`);
      continue;
    }
    const property = byGraphQLName.get(key);
    if (!property) throw new ValueConversionError(path, `unknown field ${JSON.stringify(key)}`);
    // An embedded resource without metadata is read as `metadata: null`; written back whole, Kubernetes
    // would store that null as `{}` (a change, and a new generation). In a merge patch null deletes.
    if (mode === 'whole' && fieldValue === null && node.embeddedResource && property.name === 'metadata') continue;
    out[property.name] = toKubernetes(fieldValue, property.node, path === '' ? property.name : `${path}.${property.name}`, mode);
  }
  if (unknown) {
    const declared = propertyIndex(node).byName;
    for (const [key, extra] of Object.entries(unknown)) {
      if (declared.has(key)) {
        throw new ValueConversionError(
          `${path}.${node.unknownFieldsName}`,
          `${JSON.stringify(key)} is a declared field; set it through its own field, not ${node.unknownFieldsName}`,
        );
      }
      out[key] = extra;
    }
  }
  return out;
}

/** Kubernetes JSON → the GraphQL output shape (the inverse of toKubernetes). */
export function toGraphQL(value: unknown, node: SchemaNode): unknown {
  if (value === null || value === undefined) return value;
  switch (node.kind) {
    case 'object': {
      if (typeof value !== 'object' || Array.isArray(value)) return value;
      const source = value as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (const property of node.properties) {
        if (Object.hasOwn(source, property.name)) out[property.graphqlName] = toGraphQL(source[property.name], property.node);
      }
      if (node.unknownFieldsName !== undefined) {
        const rest = unknownFieldsOf(source, node);
        if (rest !== null) out[node.unknownFieldsName] = rest;
      }
      return out;
    }
    case 'map':
      return mapToGraphQL(value, node);
    case 'array':
      return Array.isArray(value) ? value.map((item) => toGraphQL(item, node.items)) : value;
    case 'string':
      return node.enum ? enumToName(value, node.enum) : value;
    default:
      return value;
  }
}

export function mapToGraphQL(value: unknown, node: MapNode): unknown {
  if (mapRepresentation(node) !== 'entries' || typeof value !== 'object' || value === null || Array.isArray(value)) {
    return value;
  }
  return Object.entries(value).map(([key, entryValue]) => ({ key, value: toGraphQL(entryValue, node.values) }));
}

/** The fields of `source` that the object's schema does not declare, or null when there are none. */
export function unknownFieldsOf(source: Record<string, unknown>, node: ObjectNode): Record<string, unknown> | null {
  const declared = propertyIndex(node).byName;
  let rest: Record<string, unknown> | null = null;
  for (const key of Object.keys(source)) {
    if (!declared.has(key)) (rest ??= {})[key] = source[key];
  }
  return rest;
}

function enumToRaw(value: unknown, model: EnumModel): unknown {
  if (!model.graphqlValues || typeof value !== 'string' || model.values.includes(value)) return value;
  return model.graphqlValues.find((entry) => entry.name === value)?.value ?? value;
}

function enumToName(value: unknown, model: EnumModel): unknown {
  if (!model.graphqlValues) return value;
  return model.graphqlValues.find((entry) => entry.value === value)?.name ?? value;
}

/** Int64 values travel as numbers when safe and as bigint otherwise (see lossless-json.ts). */
export function int64ToKubernetes(value: unknown, path: string): unknown {
  if (typeof value === 'number' || typeof value === 'bigint') return value;
  if (typeof value === 'string') {
    if (!/^-?[0-9]+$/.test(value)) throw new ValueConversionError(path, `${JSON.stringify(value)} is not an integer`);
    return exactInteger(BigInt(value));
  }
  throw new ValueConversionError(path, `expected an integer, got ${typeof value}`);
}

function expectObject(value: unknown, path: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ValueConversionError(path, `expected an object, got ${Array.isArray(value) ? 'a list' : typeof value}`);
  }
  return value as Record<string, unknown>;
}

interface PropertyIndex {
  readonly byGraphQLName: ReadonlyMap<string, ObjectNode['properties'][number]>;
  readonly byName: ReadonlySet<string>;
}

const indexes = new WeakMap<ObjectNode, PropertyIndex>();

/** Lookup tables per object node, built once: conversions run on every request. */
export function propertyIndex(node: ObjectNode): PropertyIndex {
  let index = indexes.get(node);
  if (!index) {
    index = {
      byGraphQLName: new Map(node.properties.map((p) => [p.graphqlName, p])),
      byName: new Set(node.properties.map((p) => p.name)),
    };
    indexes.set(node, index);
  }
  return index;
}
