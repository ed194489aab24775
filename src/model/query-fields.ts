// What a `where` filter and an `orderBy` can name in one CRD version, derived from its typed field
// tree. The GraphQL input types, the REST facade's parser and its OpenAPI description are all
// built from this one description, so the three can never disagree about a field or an operator.
//
// Filterable: scalar leaves (string, enum, integer, number, boolean, date-time, int-or-string),
// objects (nested), arrays of scalars or objects, maps (string maps like labels, typed maps) and
// the presence of untyped (JSON) values. Sortable: scalar leaves reached through objects only
// (an array or a map has no single value to sort by).
import type { EnumModel, MapNode, ObjectNode, SchemaNode, VersionModel } from './resource-model.ts';
import { mapRepresentation } from './value-conversion.ts';
import { firstFree } from './graphql-names.ts';
import { thisTurn } from './this-turn.ts';

/** The value kinds a filter compares; `int` is a 32-bit integer, `int64` any other integer. */
export type FilterScalar = 'string' | 'int' | 'int64' | 'float' | 'boolean' | 'dateTime' | 'intOrString' | 'json';

export interface ScalarFilter {
  readonly kind: 'scalar';
  readonly scalar: FilterScalar;
  /** A string enum that GraphQL names (its filter takes the enum type). */
  readonly enum?: EnumModel;
}

export interface ObjectFilter {
  readonly kind: 'object';
  /** 'meta': Kubernetes ObjectMeta; 'ownerReference': one of its ownerReferences; else the CRD's own object. */
  readonly shape: 'object' | 'meta' | 'ownerReference';
  readonly fields: readonly FilterField[];
  /** Whether and/or/not are offered at this level: not when a property already has one of those names. */
  readonly logic: boolean;
}

export interface ListFilter {
  readonly kind: 'list';
  readonly items: ScalarFilter | ObjectFilter;
}

/**
 * A map, filtered entry by entry. String maps (labels, annotations) take the string operators
 * beside the key (`{key, eq}`); typed maps take a filter of the value (`{key, value}`).
 */
export interface MapFilter {
  readonly kind: 'map';
  readonly values: FilterNode;
  readonly flat: boolean;
}

export type FilterNode = ScalarFilter | ObjectFilter | ListFilter | MapFilter;

export interface FilterField {
  /** The Kubernetes property name. */
  readonly name: string;
  readonly graphqlName: string;
  readonly filter: FilterNode;
}

export const LOGIC_OPERATORS = ['and', 'or', 'not'] as const;

// Filters hold no per-node data except an enum's values: the other scalar filters are constants.
const str: ScalarFilter = { kind: 'scalar', scalar: 'string' };
const int: ScalarFilter = { kind: 'scalar', scalar: 'int' };
const int64: ScalarFilter = { kind: 'scalar', scalar: 'int64' };
const float: ScalarFilter = { kind: 'scalar', scalar: 'float' };
const bool: ScalarFilter = { kind: 'scalar', scalar: 'boolean' };
const dateTime: ScalarFilter = { kind: 'scalar', scalar: 'dateTime' };
const intOrString: ScalarFilter = { kind: 'scalar', scalar: 'intOrString' };
const json: ScalarFilter = { kind: 'scalar', scalar: 'json' };
const field = (name: string, filter: FilterNode): FilterField => ({ name, graphqlName: name, filter });

export const OWNER_REFERENCE_FILTER: ObjectFilter = {
  kind: 'object',
  shape: 'ownerReference',
  logic: true,
  fields: [
    field('apiVersion', str), field('kind', str), field('name', str), field('uid', str),
    field('controller', bool), field('blockOwnerDeletion', bool),
  ],
};

export const OBJECT_META_FILTER: ObjectFilter = {
  kind: 'object',
  shape: 'meta',
  logic: true,
  fields: [
    field('name', str), field('generateName', str), field('namespace', str), field('uid', str),
    field('generation', int64), field('creationTimestamp', dateTime), field('deletionTimestamp', dateTime),
    field('labels', { kind: 'map', values: str, flat: true }), field('annotations', { kind: 'map', values: str, flat: true }),
    field('ownerReferences', { kind: 'list', items: OWNER_REFERENCE_FILTER }),
    field('finalizers', { kind: 'list', items: str }),
  ],
};

const filters = new WeakMap<ObjectNode, ObjectFilter | null>();

/** The filter of a version's whole object. */
export function versionFilter(version: VersionModel): ObjectFilter {
  return objectFilter(version.schema) ?? { kind: 'object', shape: 'object', fields: [], logic: true };
}

/** The filter of an object node; undefined when nothing in it can be filtered. */
export function objectFilter(node: ObjectNode): ObjectFilter | undefined {
  let f = filters.get(node);
  if (f === undefined) {
    const fields: FilterField[] = [];
    for (const p of node.properties) {
      const child = filterOf(p.node);
      if (child) fields.push({ name: p.name, graphqlName: p.graphqlName, filter: child });
    }
    const taken = new Set(fields.map((x) => x.graphqlName));
    f = fields.length === 0 ? null : { kind: 'object', shape: 'object', fields, logic: !LOGIC_OPERATORS.some((op) => taken.has(op)) };
    filters.set(node, f);
  }
  return f ?? undefined;
}

export function filterOf(node: SchemaNode): FilterNode | undefined {
  switch (node.kind) {
    case 'string':
      if (node.format === 'date-time' && !node.enum?.graphqlValues) return dateTime;
      return node.enum?.graphqlValues ? { kind: 'scalar', scalar: 'string', enum: node.enum } : str;
    case 'integer':
      return node.int32 ? int : int64;
    case 'number':
      return float;
    case 'boolean':
      return bool;
    case 'intOrString':
      return intOrString;
    case 'json':
      return json;
    case 'objectMeta':
      return OBJECT_META_FILTER;
    case 'object':
      return objectFilter(node);
    case 'array': {
      const items = node.items.kind === 'array' || node.items.kind === 'map' ? undefined : filterOf(node.items);
      // Lists of untyped values or of int-or-string have no element filter worth offering.
      if (!items || items.kind === 'list' || items.kind === 'map' || (items.kind === 'scalar' && (items.scalar === 'json' || items.scalar === 'intOrString'))) {
        return undefined;
      }
      return { kind: 'list', items };
    }
    case 'map':
      return mapFilter(node);
  }
}

function mapFilter(node: MapNode): FilterNode | undefined {
  const representation = mapRepresentation(node);
  if (representation === 'json') return json;
  if (representation === 'stringMap') return { kind: 'map', values: str, flat: true };
  const values = filterOf(node.values);
  return values ? { kind: 'map', values, flat: false } : undefined;
}

/**
 * The shapeKeys of the current synchronous run (a build of many CRDs runs in one), dropped when
 * it ends. Equal sub-schemas share one node and so one filter: one key function for the whole
 * run computes each filter's key once, not once per version that reaches it. Keys are compared
 * only within one version, so sharing the interning between versions changes no type.
 */
export const shapeKeysThisTurn: () => (f: FilterNode) => string = thisTurn(() => shapeKeys());

/**
 * Keys that are equal exactly when two filters have the same shape: the same fields (Kubernetes
 * and GraphQL names), kinds and enum values, all the way down. Builders give filters of one shape
 * one type. A key function interns what it has seen, so keys stay short; use one per build.
 */
export function shapeKeys(): (f: FilterNode) => string {
  const ids = new Map<string, number>();
  const memo = new WeakMap<ObjectFilter, string>();
  // Enum models are shared by the filters of one node (and by equal sub-schemas' nodes).
  const enums = new WeakMap<EnumModel, string>();
  const intern = (s: string) => {
    let id = ids.get(s);
    if (id === undefined) ids.set(s, (id = ids.size));
    return id;
  };
  const key = (f: FilterNode): string => {
    switch (f.kind) {
      case 'scalar': {
        if (!f.enum) return f.scalar;
        let k = enums.get(f.enum);
        if (k === undefined) enums.set(f.enum, (k = `e${intern(JSON.stringify(f.enum.values))}`));
        return k;
      }
      case 'list':
        return `l(${key(f.items)})`;
      case 'map':
        return f.flat ? 's' : `m(${key(f.values)})`;
      case 'object': {
        if (f.shape !== 'object') return f.shape;
        let k = memo.get(f);
        if (k === undefined) {
          let text = f.logic ? '' : '!';
          const fields = f.fields;
          for (let i = 0; i < fields.length; i++) {
            const x = fields[i]!;
            text += `${i === 0 ? '' : ','}${x.name}=${x.graphqlName}:${key(x.filter)}`;
          }
          k = `o${intern(text)}`;
          memo.set(f, k);
        }
        return k;
      }
    }
  };
  return key;
}

/** The scalar an orderBy compares for a leaf: filterOf's scalar, except JSON and int-or-string; undefined for other nodes. */
function sortScalarOf(node: SchemaNode): SortField['scalar'] | undefined {
  switch (node.kind) {
    case 'string':
      return node.format === 'date-time' && !node.enum?.graphqlValues ? 'dateTime' : 'string';
    case 'integer':
      return node.int32 ? 'int' : 'int64';
    case 'number':
      return 'float';
    case 'boolean':
      return 'boolean';
    default:
      // int-or-string and JSON are not sortable; arrays and maps filter as lists and maps.
      return undefined;
  }
}

/** A scalar leaf an orderBy can name. */
export interface SortField {
  /** Kubernetes property names from the root. */
  readonly path: readonly string[];
  readonly scalar: Exclude<FilterScalar, 'intOrString' | 'json'>;
  /** The GraphQL enum value naming it: the GraphQL path joined with `_` (numbered when two paths meet). */
  readonly enumName: string;
  /** The Kubernetes path joined with `.`, as the REST facade writes it. */
  readonly dotted: string;
}

const META_SORT: readonly [string, SortField['scalar']][] = [
  ['name', 'string'], ['namespace', 'string'], ['uid', 'string'], ['generation', 'int64'],
  ['creationTimestamp', 'dateTime'], ['deletionTimestamp', 'dateTime'],
];

const sortFieldCache = new WeakMap<VersionModel, readonly SortField[]>();

/** Every sortable leaf of a version, in schema order. */
export function sortFields(version: VersionModel): readonly SortField[] {
  let found = sortFieldCache.get(version);
  if (found) return found;
  const out: SortField[] = [];
  const names = new Set<string>();
  // One path (Kubernetes and GraphQL names) grows and shrinks along the walk; a field copies it.
  const path: string[] = [];
  const graphqlPath: string[] = [];
  const add = (scalar: SortField['scalar']) => {
    let enumName = graphqlPath.join('_');
    // true/false/null cannot be enum values.
    if (enumName === 'true' || enumName === 'false' || enumName === 'null') enumName = `${enumName}_`;
    enumName = firstFree(enumName, names);
    names.add(enumName);
    out.push({ path: path.slice(), scalar, enumName, dotted: path.join('.') });
  };
  const walk = (node: ObjectNode, depth: number): void => {
    for (const p of node.properties) {
      path.push(p.name);
      graphqlPath.push(p.graphqlName);
      const n = p.node;
      if (n.kind === 'objectMeta') {
        for (const [name, scalar] of META_SORT) {
          path.push(name);
          graphqlPath.push(name);
          add(scalar);
          path.pop();
          graphqlPath.pop();
        }
      } else if (n.kind === 'object') {
        // Recursive-looking schemas are finite, but a bound keeps a pathological one cheap.
        if (depth < 32) walk(n, depth + 1);
      } else {
        const scalar = sortScalarOf(n);
        if (scalar !== undefined) add(scalar);
      }
      path.pop();
      graphqlPath.pop();
    }
  };
  walk(version.schema, 0);
  found = out;
  sortFieldCache.set(version, found);
  return found;
}
