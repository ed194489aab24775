// The `where`, `orderBy` and `consistency` query parameters of the REST facade's lists, as JSON
// Schema: the operator schemas every resource shares (StringFilter, Int64Filter, ...), and per
// served version its Where schema (one named schema per object level, since and/or/not refer back
// to their own level) and the list of fields it can be ordered by. Built from the same query
// fields as the GraphQL inputs (src/model/query-fields.ts), with Kubernetes property names. Pure.
import { ENUM_OPERATORS, LIST_OPERATORS, MAX_ORDER_TERMS, scalarOperators, WHERE_LIMITS } from '../model/query-filter.ts';
import {
  OBJECT_META_FILTER, OWNER_REFERENCE_FILTER, shapeKeys, sortFields, versionFilter, type FilterNode, type FilterScalar, type ObjectFilter, type ScalarFilter,
} from '../model/query-fields.ts';
import type { VersionModel } from '../model/resource-model.ts';

type Schema = Record<string, unknown>;

const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });

const operandSchemas: Record<FilterScalar, Schema> = {
  string: { type: 'string' },
  int: { type: 'integer', format: 'int32' },
  int64: { oneOf: [{ type: 'integer', format: 'int64' }, { type: 'string', pattern: '^-?[0-9]+$', description: 'Beyond 2^53: the decimal digits.' }] },
  float: { type: 'number' },
  boolean: { type: 'boolean' },
  dateTime: { type: 'string', format: 'date-time' },
  intOrString: { oneOf: [{ type: 'integer' }, { type: 'string' }] },
  json: { type: 'string' },
};

const scalarSchemaNames: Record<FilterScalar, string> = {
  string: 'StringFilter', int: 'IntFilter', int64: 'Int64Filter', float: 'NumberFilter', boolean: 'BooleanFilter',
  dateTime: 'DateTimeFilter', intOrString: 'IntOrStringFilter', json: 'PresenceFilter',
};

function operatorProperties(operators: readonly string[], operand: Schema): Record<string, Schema> {
  const properties: Record<string, Schema> = {};
  for (const op of operators) {
    properties[op] = op === 'in' || op === 'notIn' ? { type: 'array', items: operand }
      : op === 'exists' || op === 'isNull' ? { type: 'boolean' }
        : op === 'prefix' || op === 'contains' ? { type: 'string' } : operand;
  }
  return properties;
}

function scalarSchema(f: ScalarFilter): Schema {
  if (!f.enum) return ref(scalarSchemaNames[f.scalar]);
  return { type: 'object', additionalProperties: false, properties: operatorProperties(ENUM_OPERATORS, { type: 'string', enum: [...f.enum.values] }) };
}

function listSchema(element: Schema): Schema {
  const properties: Record<string, Schema> = {};
  for (const op of LIST_OPERATORS) properties[op] = op === 'some' || op === 'every' || op === 'none' ? element : { type: 'boolean' };
  return { type: 'object', additionalProperties: false, properties };
}

const stringMapEntries: Schema = { type: 'array', items: ref('StringMapEntryFilter') };

/**
 * The shared operator schemas that these names need (the names, and what they refer to), so a
 * document carries only the ones it uses.
 */
export function filterComponentSchemas(names: Iterable<string>): Record<string, Schema> {
  const all = allFilterSchemas();
  const out: Record<string, Schema> = {};
  const todo = [...names];
  while (todo.length) {
    const name = todo.pop()!;
    if (Object.hasOwn(out, name) || !Object.hasOwn(all, name)) continue;
    out[name] = all[name]!;
    for (const m of JSON.stringify(all[name]).matchAll(/#\/components\/schemas\/([A-Za-z0-9]+)"/g)) todo.push(m[1]!);
  }
  return Object.fromEntries(Object.keys(all).filter((n) => Object.hasOwn(out, n)).map((n) => [n, out[n]!]));
}

let filterSchemas: Record<string, Schema> | undefined;

function allFilterSchemas(): Record<string, Schema> {
  if (filterSchemas) return filterSchemas;
  const schemas: Record<string, Schema> = {};
  for (const scalar of Object.keys(scalarSchemaNames) as FilterScalar[]) {
    schemas[scalarSchemaNames[scalar]] = {
      type: 'object',
      additionalProperties: false,
      description: scalar === 'json' ? 'Whether an untyped value is there.' : 'Conditions on one field; all given must hold.',
      properties: operatorProperties(scalarOperators({ scalar }), operandSchemas[scalar]),
    };
  }
  schemas['StringMapEntryFilter'] = {
    type: 'object',
    additionalProperties: false,
    required: ['key'],
    description: 'A condition on one entry of a string map (labels, annotations): its key, and string operators on its value; exists asks for the key.',
    properties: { key: { type: 'string' }, ...operatorProperties(scalarOperators({ scalar: 'string' }), operandSchemas.string) },
  };
  schemas['OwnerReferenceWhere'] = sharedWhere(OWNER_REFERENCE_FILTER, 'OwnerReferenceWhere');
  schemas['ObjectMetaWhere'] = sharedWhere(OBJECT_META_FILTER, 'ObjectMetaWhere');
  filterSchemas = schemas;
  return schemas;
}


function sharedWhere(f: ObjectFilter, name: string): Schema {
  return objectSchema(f, name, (field) => {
    if (field.kind === 'scalar') return scalarSchema(field);
    if (field.kind === 'map') return stringMapEntries;
    if (field.kind === 'list') return listSchema(field.items.kind === 'object' ? ref('OwnerReferenceWhere') : scalarSchema(field.items));
    throw new Error('no shared schema for this field');
  });
}

function objectSchema(f: ObjectFilter, name: string, fieldSchema: (field: FilterNode, kubeName: string) => Schema): Schema {
  const properties: Record<string, Schema> = {};
  for (const field of f.fields) properties[field.name] = fieldSchema(field.filter, field.name);
  if (f.logic) {
    properties['and'] = { type: 'array', items: ref(name), description: 'Every one of these holds.' };
    properties['or'] = { type: 'array', items: ref(name), description: 'At least one of these holds.' };
    properties['not'] = { ...ref(name), description: 'This does not hold.' };
  }
  return { type: 'object', additionalProperties: false, properties };
}

/**
 * The Where schemas of a version: the root one is `<component>.Where`, nested levels add their
 * path; levels of the same shape share the schema of the first. `filterRefs` collects the shared
 * operator schemas they use.
 */
export function whereSchemas(version: VersionModel, component: string, filterRefs: Set<string>): { root: string; schemas: Record<string, Schema> } {
  const schemas: Record<string, Schema> = {};
  const shapeOf = shapeKeys();
  const byShape = new Map<string, string>();
  const refs = new Map<string, Schema>();
  // One $ref object per target: a CRD refers to StringFilter hundreds of times.
  const shared = (name: string): Schema => {
    filterRefs.add(name);
    let r = refs.get(name);
    if (!r) refs.set(name, (r = ref(name)));
    return r;
  };
  const named = (path: string[]): string => {
    const base = path.length ? `${component}.Where.${path.map((p) => p.replace(/[^A-Za-z0-9_-]/g, '_')).join('.')}` : `${component}.Where`;
    let name = base;
    for (let i = 2; Object.hasOwn(schemas, name); i++) name = `${base}_${i}`;
    schemas[name] = {};
    return name;
  };
  const object = (f: ObjectFilter, path: string[]): string => {
    const key = shapeOf(f);
    const known = byShape.get(key);
    if (known !== undefined) return known;
    const name = named(path);
    byShape.set(key, name);
    schemas[name] = objectSchema(f, name, (field, kubeName) => node(field, [...path, kubeName]));
    return name;
  };
  const scalar = (f: ScalarFilter): Schema => (f.enum ? scalarSchema(f) : shared(scalarSchemaNames[f.scalar]));
  const node = (f: FilterNode, path: string[]): Schema => {
    switch (f.kind) {
      case 'scalar':
        return scalar(f);
      case 'object':
        return f.shape === 'meta' ? shared('ObjectMetaWhere') : f.shape === 'ownerReference' ? shared('OwnerReferenceWhere') : { $ref: `#/components/schemas/${object(f, path)}` };
      case 'list':
        return listSchema(f.items.kind === 'object' ? node(f.items, path) : scalar(f.items));
      case 'map':
        if (f.flat) {
          filterRefs.add('StringMapEntryFilter');
          return stringMapEntries;
        }
        return {
          type: 'array',
          items: {
            type: 'object', additionalProperties: false, required: ['key'],
            properties: { key: { type: 'string' }, exists: { type: 'boolean' }, isNull: { type: 'boolean' }, value: node(f.values, [...path, 'value']) },
          },
        };
    }
  };
  return { root: object(versionFilter(version), []), schemas };
}

export const WHERE_DESCRIPTION =
  'A filter as JSON (Kubernetes property names), e.g. {"spec":{"replicas":{"gte":2}},"metadata":{"labels":[{"key":"app","eq":"web"}]}}. ' +
  'Object levels take fields and and/or/not; scalar fields take eq, ne, in, notIn, lt, lte, gt, gte (numbers, date-times, strings), ' +
  'prefix and contains (strings), exists and isNull; lists take some, every, none, isEmpty; maps take a list of {key, ...}. ' +
  `Integers beyond 2^53 keep every digit (as JSON numbers or decimal strings). At most ${WHERE_LIMITS.maxConditions} conditions and ` +
  `${WHERE_LIMITS.maxParts} parts (objects, lists and list items), nested ${WHERE_LIMITS.maxDepth} levels deep. Filtered lists are answered from the gateway's shared cache (see consistency).`;

export const ORDER_BY_DESCRIPTION =
  `Sort order: up to ${MAX_ORDER_TERMS} comma-separated field paths (Kubernetes property names joined with "."), a leading "-" for descending, ` +
  'e.g. -metadata.creationTimestamp,metadata.name; ties are broken by namespace, then name, and missing values sort last. ' +
  'A JSON list of {"field": path or list of property names, "direction": "ASC"|"DESC"} is accepted too.';

export const CONSISTENCY_DESCRIPTION =
  'CACHED: from the gateway\'s shared watch cache, cut to what the caller may list (the default with where or orderBy); ' +
  'STRONG: from the apiserver, as the caller (the default otherwise; with where or orderBy the gateway reads every page and filters them).';

/** The orderBy parameter of a version: its sortable fields, ascending or (with "-") descending. */
export function orderByParameter(version: VersionModel): Schema {
  const fields = sortFields(version).map((f) => f.dotted);
  return {
    name: 'orderBy', in: 'query', required: false, style: 'form', explode: false, description: ORDER_BY_DESCRIPTION,
    schema: { type: 'array', maxItems: MAX_ORDER_TERMS, items: { type: 'string', enum: [...fields, ...fields.map((f) => `-${f}`)] } },
  };
}

/**
 * The empty filter as the example: without one, Swagger UI's "Try it out" fills the field with a
 * sample of the whole Where schema (every operator of every field), which no server takes in a URL.
 */
export const WHERE_EXAMPLE: Readonly<Record<string, never>> = Object.freeze({});

export function whereParameter(schema: Schema): Schema {
  return { name: 'where', in: 'query', required: false, description: WHERE_DESCRIPTION, content: { 'application/json': { schema, example: WHERE_EXAMPLE } } };
}
