// The `where` and `orderBy` of a list, read from a plain value: a GraphQL argument (GraphQL field
// names, already coerced by graphql-js) or the REST facade's JSON (Kubernetes property names).
// Both are checked against the version's query fields (query-fields.ts) and become one normalized
// condition tree over Kubernetes property names, which the service evaluates. Pure.
//
// Grammar: an object level holds fields and, unless a property takes the name, `and: [..]`,
// `or: [..]`, `not: {..}`; a scalar field holds operators; a list field holds `some`, `every`,
// `none` (a filter of one element), `isEmpty`, `exists`, `isNull`; a map field is a list of entry
// filters `{key, ...}`. Several entries of one object are all required. `exists: true` holds when
// the property is present (even as null); `isNull: true` when it is absent or null; every other
// operator needs a value of the field's type and is false without one. Numbers stay exact:
// integers beyond 2^53 are bigint (or decimal strings on input).
import { isDateTime } from './date-time.ts';
import type { ObjectFilter, FilterField, FilterNode, FilterScalar, ScalarFilter, SortField } from './query-fields.ts';
import { LOGIC_OPERATORS, OBJECT_META_FILTER, sortFields, versionFilter } from './query-fields.ts';
import type { VersionModel } from './resource-model.ts';

export type Scalar = string | number | bigint | boolean;
/** How two values of a field compare: strings by code units, numbers exactly, date-times as instants. */
export type CompareType = 'string' | 'number' | 'dateTime' | 'boolean' | 'intOrString';

export type Condition =
  | { readonly op: 'and' | 'or'; readonly items: readonly Condition[] }
  | { readonly op: 'not'; readonly item: Condition }
  /** The property (or map key) `key` of the value satisfies `test`; absent properties are undefined. */
  | { readonly op: 'field'; readonly key: string; readonly test: Condition }
  | { readonly op: 'some' | 'every' | 'none'; readonly test: Condition }
  | { readonly op: 'isEmpty' | 'exists' | 'isNull'; readonly value: boolean }
  | { readonly op: 'eq' | 'ne' | 'lt' | 'lte' | 'gt' | 'gte'; readonly type: CompareType; readonly value: Scalar }
  | { readonly op: 'in' | 'notIn'; readonly type: CompareType; readonly values: readonly Scalar[] }
  | { readonly op: 'prefix' | 'contains'; readonly value: string };

export type Naming = 'graphql' | 'kubernetes';

/** Bad input in a where or orderBy: `path` says where (`where.spec.replicas.gt`). */
export class QueryInputError extends Error {
  readonly path: string;
  constructor(path: string, problem: string) {
    super(`${path}: ${problem}`);
    this.name = 'QueryInputError';
    this.path = path;
  }
}

/** Bounds on one filter, whatever transport it came by (a GraphQL variable has no token limit). */
export const WHERE_LIMITS = { maxDepth: 32, maxConditions: 500, maxParts: 5000 } as const;
export const MAX_ORDER_TERMS = 8;

type Operator = 'eq' | 'ne' | 'in' | 'notIn' | 'lt' | 'lte' | 'gt' | 'gte' | 'prefix' | 'contains' | 'exists' | 'isNull';
const EQUALITY: readonly Operator[] = ['eq', 'ne', 'in', 'notIn'];
const RANGE: readonly Operator[] = ['lt', 'lte', 'gt', 'gte'];
const PRESENCE: readonly Operator[] = ['exists', 'isNull'];

export const ENUM_OPERATORS: readonly Operator[] = [...EQUALITY, ...PRESENCE];

/** The operators of a scalar field, in the order the schema lists them. */
export function scalarOperators(f: Pick<ScalarFilter, 'scalar' | 'enum'>): readonly Operator[] {
  if (f.enum) return ENUM_OPERATORS;
  switch (f.scalar) {
    case 'string':
      return [...EQUALITY, ...RANGE, 'prefix', 'contains', ...PRESENCE];
    case 'int':
    case 'int64':
    case 'float':
    case 'dateTime':
      return [...EQUALITY, ...RANGE, ...PRESENCE];
    case 'boolean':
      return ['eq', 'ne', ...PRESENCE];
    case 'intOrString':
      return [...EQUALITY, ...PRESENCE];
    case 'json':
      return PRESENCE;
  }
}

export const LIST_OPERATORS = ['some', 'every', 'none', 'isEmpty', 'exists', 'isNull'] as const;
const REGEX_LIKE = new Set(['regex', 'regexp', 'like', 'ilike', 'matches', 'pattern', 'match']);

const compareTypeOf: Record<FilterScalar, CompareType> = {
  string: 'string', int: 'number', int64: 'number', float: 'number', dateTime: 'dateTime', boolean: 'boolean', intOrString: 'intOrString', json: 'string',
};

/** A where value → the condition it means; throws QueryInputError. */
export function parseWhere(input: unknown, version: VersionModel, naming: Naming): Condition {
  return new WhereReader(naming).object(input, versionFilter(version), 'where', 1);
}

class WhereReader {
  private readonly naming: Naming;
  private conditions = 0;
  /** Objects, lists and list items: an `or` of empty objects has no condition, yet is walked per object. */
  private parts = 0;

  constructor(naming: Naming) {
    this.naming = naming;
  }

  object(value: unknown, f: ObjectFilter, path: string, depth: number): Condition {
    const entries = this.entries(value, path, depth);
    const items: Condition[] = [];
    for (const [key, v] of entries) {
      const at = `${path}.${key}`;
      if (f.logic && (LOGIC_OPERATORS as readonly string[]).includes(key)) {
        items.push(this.logic(key as 'and' | 'or' | 'not', v, f, at, depth));
        continue;
      }
      const fieldOf = fieldIndex(f, this.naming).get(key);
      if (!fieldOf) throw new QueryInputError(at, `${objectLabel(f)} has no filterable field ${JSON.stringify(key)}`);
      items.push({ op: 'field', key: fieldOf.name, test: this.node(v, fieldOf, at, depth + 1) });
    }
    return all(items);
  }

  private logic(op: 'and' | 'or' | 'not', v: unknown, f: ObjectFilter, at: string, depth: number): Condition {
    if (op === 'not') return { op: 'not', item: this.object(v, f, at, depth + 1) };
    const list = this.list(v, at, depth);
    const items = list.map((item, i) => this.object(item, f, `${at}[${i}]`, depth + 2));
    return { op, items };
  }

  private node(value: unknown, fieldOf: FilterField, path: string, depth: number): Condition {
    const f = fieldOf.filter;
    switch (f.kind) {
      case 'object':
        return this.object(value, f, path, depth);
      case 'scalar':
        return this.scalar(value, f, path, depth);
      case 'list':
        return this.listFilter(value, f.items, path, depth);
      case 'map':
        return this.map(value, f.values, f.flat, path, depth);
    }
  }

  scalar(value: unknown, f: ScalarFilter, path: string, depth: number): Condition {
    const allowed = scalarOperators(f);
    const items: Condition[] = [];
    for (const [key, v] of this.entries(value, path, depth)) {
      const at = `${path}.${key}`;
      if (!(allowed as readonly string[]).includes(key)) {
        if (REGEX_LIKE.has(key)) throw new QueryInputError(at, 'regular expressions are not offered (their cost cannot be bounded); use prefix or contains');
        throw new QueryInputError(at, `not an operator of ${scalarLabel(f)} fields (operators: ${allowed.join(', ')})`);
      }
      items.push(this.operator(key as Operator, v, f, at, depth + 1));
    }
    return all(items);
  }

  private operator(op: Operator, v: unknown, f: ScalarFilter, at: string, depth: number): Condition {
    this.count(at);
    if (op === 'exists' || op === 'isNull') return { op, value: expectBoolean(v, at) };
    if (op === 'prefix' || op === 'contains') return { op, value: expectString(v, at) };
    const type = compareTypeOf[f.scalar];
    if (op === 'in' || op === 'notIn') {
      const values = this.list(v, at, depth).map((item, i) => {
        if (i > 0) this.count(at);
        return scalarValue(item, f, `${at}[${i}]`);
      });
      return { op, type, values };
    }
    return { op, type, value: scalarValue(v, f, at) };
  }

  private listFilter(value: unknown, items: ScalarFilter | ObjectFilter, path: string, depth: number): Condition {
    const out: Condition[] = [];
    for (const [key, v] of this.entries(value, path, depth)) {
      const at = `${path}.${key}`;
      if (!(LIST_OPERATORS as readonly string[]).includes(key)) {
        throw new QueryInputError(at, `not an operator of list fields (operators: ${LIST_OPERATORS.join(', ')})`);
      }
      if (key === 'some' || key === 'every' || key === 'none') {
        const test = items.kind === 'object' ? this.object(v, items, at, depth + 1) : this.scalar(v, items, at, depth + 1);
        out.push({ op: key, test });
      } else {
        this.count(at);
        out.push({ op: key as 'isEmpty' | 'exists' | 'isNull', value: expectBoolean(v, at) });
      }
    }
    return all(out);
  }

  private map(value: unknown, values: FilterNode, flat: boolean, path: string, depth: number): Condition {
    const entries = this.list(value, path, depth);
    return all(entries.map((entry, i) => this.mapEntry(entry, values, flat, `${path}[${i}]`, depth + 1)));
  }

  private mapEntry(entry: unknown, values: FilterNode, flat: boolean, at: string, depth: number): Condition {
    const fields = new Map(this.entries(entry, at, depth));
    const key = fields.get('key');
    if (typeof key !== 'string') throw new QueryInputError(`${at}.key`, 'each map entry filter needs a key (a string)');
    fields.delete('key');
    if (fields.size === 0) throw new QueryInputError(at, `the entry filter of ${JSON.stringify(key)} has no operator (exists: true asks for the key)`);
    if (flat) return { op: 'field', key, test: this.scalar(Object.fromEntries(fields), values as ScalarFilter, at, depth) };
    const tests: Condition[] = [];
    for (const [name, v] of fields) {
      const where = `${at}.${name}`;
      if (name === 'exists' || name === 'isNull') {
        this.count(where);
        tests.push({ op: name, value: expectBoolean(v, where) });
      } else if (name === 'value') {
        tests.push(this.node(v, { name: 'value', graphqlName: 'value', filter: values }, where, depth + 1));
      } else {
        throw new QueryInputError(where, 'a map entry filter has key, value, exists and isNull');
      }
    }
    return { op: 'field', key, test: all(tests) };
  }

  private entries(value: unknown, path: string, depth: number): [string, unknown][] {
    this.deep(path, depth);
    this.addParts(path, 1);
    if (value === null || value === undefined) throw new QueryInputError(path, 'null is not a filter; leave it out, or use isNull: true to ask for a missing value');
    if (typeof value !== 'object' || Array.isArray(value)) throw new QueryInputError(path, `expected an object, got ${describe(value)}`);
    const out: [string, unknown][] = [];
    for (const key of Object.keys(value)) {
      const v = (value as Record<string, unknown>)[key];
      if (v === null || v === undefined) throw new QueryInputError(`${path}.${key}`, 'null is not a filter value; leave it out, or use isNull: true to ask for a missing value');
      out.push([key, v]);
    }
    return out;
  }

  private list(value: unknown, path: string, depth: number): unknown[] {
    this.deep(path, depth);
    if (!Array.isArray(value)) throw new QueryInputError(path, `expected a list, got ${describe(value)}`);
    this.addParts(path, 1 + value.length);
    return value;
  }

  private deep(path: string, depth: number): void {
    if (depth > WHERE_LIMITS.maxDepth) throw new QueryInputError(path, `the filter is nested deeper than ${WHERE_LIMITS.maxDepth} levels`);
  }

  private addParts(path: string, n: number): void {
    if ((this.parts += n) > WHERE_LIMITS.maxParts) {
      throw new QueryInputError(path, `the filter has more than ${WHERE_LIMITS.maxParts} parts (each object and list counts once, and each list item once more)`);
    }
  }

  private count(path: string): void {
    if (++this.conditions > WHERE_LIMITS.maxConditions) {
      throw new QueryInputError(path, `the filter has more than ${WHERE_LIMITS.maxConditions} conditions (each operator counts once, in and notIn once per value)`);
    }
  }
}

function all(items: Condition[]): Condition {
  return items.length === 1 ? items[0]! : { op: 'and', items };
}

const indexes = new WeakMap<ObjectFilter, Map<Naming, Map<string, FilterField>>>();

function fieldIndex(f: ObjectFilter, naming: Naming): Map<string, FilterField> {
  let byNaming = indexes.get(f);
  if (!byNaming) indexes.set(f, (byNaming = new Map()));
  let index = byNaming.get(naming);
  if (!index) {
    index = new Map(f.fields.map((x) => [naming === 'graphql' ? x.graphqlName : x.name, x]));
    byNaming.set(naming, index);
  }
  return index;
}

function objectLabel(f: ObjectFilter): string {
  return f === OBJECT_META_FILTER ? 'metadata' : f.shape === 'ownerReference' ? 'an owner reference' : 'this object';
}

function scalarLabel(f: ScalarFilter): string {
  if (f.enum) return 'enum';
  return { string: 'string', int: 'integer', int64: 'integer', float: 'number', dateTime: 'date-time', boolean: 'boolean', intOrString: 'int-or-string', json: 'untyped (JSON)' }[f.scalar];
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  return typeof value === 'string' ? `the string ${JSON.stringify(value)}` : `${typeof value} ${String(value)}`;
}

function expectBoolean(v: unknown, path: string): boolean {
  if (typeof v !== 'boolean') throw new QueryInputError(path, `expected true or false, got ${describe(v)}`);
  return v;
}

function expectString(v: unknown, path: string): string {
  if (typeof v !== 'string') throw new QueryInputError(path, `expected a string, got ${describe(v)}`);
  return v;
}


const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** One operand, checked against the field's type; integers come back as numbers when safe, else bigint. */
export function scalarValue(v: unknown, f: Pick<ScalarFilter, 'scalar' | 'enum'>, path: string): Scalar {
  if (f.enum) {
    if (typeof v !== 'string' || !f.enum.values.includes(v)) {
      throw new QueryInputError(path, `expected one of ${f.enum.values.map((x) => JSON.stringify(x)).join(', ')}, got ${describe(v)}`);
    }
    return v;
  }
  switch (f.scalar) {
    case 'string':
    case 'json':
      return expectString(v, path);
    case 'boolean':
      return expectBoolean(v, path);
    case 'dateTime':
      if (typeof v !== 'string' || !isDateTime(v)) throw new QueryInputError(path, `expected an RFC 3339 date-time of a real instant such as "2024-02-29T12:34:56Z", got ${describe(v)}`);
      return v;
    case 'int': {
      const n = integerValue(v, path);
      if (typeof n === 'bigint' || n < INT32_MIN || n > INT32_MAX) throw new QueryInputError(path, `${String(v)} is not a 32-bit integer`);
      return n;
    }
    case 'int64':
      return integerValue(v, path);
    case 'float':
      if (typeof v === 'number' && Number.isFinite(v)) return v;
      // A whole number beyond 2^53 in a `number` field is kept exactly, as Kubernetes keeps it.
      if (typeof v === 'bigint') return v;
      throw new QueryInputError(path, `expected a number, got ${describe(v)}`);
    case 'intOrString':
      if (typeof v === 'string') return v;
      if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
      // An integer beyond 2^53 arrives as bigint (IntOrString and ?where= keep every digit).
      if (typeof v === 'bigint') return v;
      throw new QueryInputError(path, `expected an integer or a string, got ${describe(v)}`);
  }
}

function integerValue(v: unknown, path: string): number | bigint {
  let big: bigint;
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new QueryInputError(path, `expected an integer, got ${v}`);
    if (Number.isSafeInteger(v)) return v;
    throw new QueryInputError(path, `${v} is beyond 2^53 and has lost digits; send it as a decimal string`);
  } else if (typeof v === 'bigint') {
    big = v;
  } else if (typeof v === 'string' && /^-?[0-9]+$/.test(v)) {
    big = BigInt(v);
  } else {
    throw new QueryInputError(path, `expected an integer (a number, or a decimal string beyond 2^53), got ${describe(v)}`);
  }
  if (big < INT64_MIN || big > INT64_MAX) throw new QueryInputError(path, `${big} is out of the 64-bit range`);
  return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
}

export interface OrderTerm {
  readonly field: SortField;
  readonly direction: 'ASC' | 'DESC';
}

/**
 * orderBy terms → checked terms. A term's field is a SortField (GraphQL enum values carry it), or,
 * from REST, a dotted Kubernetes path or a list of property names.
 */
export function parseOrderBy(input: unknown, version: VersionModel): OrderTerm[] {
  if (!Array.isArray(input)) throw new QueryInputError('orderBy', 'expected a list of {field, direction}');
  if (input.length > MAX_ORDER_TERMS) throw new QueryInputError('orderBy', `at most ${MAX_ORDER_TERMS} terms`);
  const fields = sortFields(version);
  const seen = new Set<SortField>();
  return input.map((term: unknown, i) => {
    const at = `orderBy[${i}]`;
    if (term === null || typeof term !== 'object' || Array.isArray(term)) throw new QueryInputError(at, 'expected {field, direction}');
    const { field, direction, ...rest } = term as { field?: unknown; direction?: unknown };
    const extra = Object.keys(rest)[0];
    if (extra !== undefined) throw new QueryInputError(`${at}.${extra}`, 'an orderBy term has field and direction');
    const sortField = resolveSortField(field, fields, `${at}.field`);
    if (seen.has(sortField)) throw new QueryInputError(`${at}.field`, `${sortField.dotted} is already ordered by`);
    seen.add(sortField);
    if (direction !== undefined && direction !== null && direction !== 'ASC' && direction !== 'DESC') {
      throw new QueryInputError(`${at}.direction`, `expected ASC or DESC, got ${describe(direction)}`);
    }
    return { field: sortField, direction: direction === 'DESC' ? 'DESC' : 'ASC' };
  });
}

/** The REST form: `spec.replicas,-metadata.creationTimestamp` (a leading `-` sorts descending). */
export function parseOrderByText(text: string, version: VersionModel): OrderTerm[] {
  const terms = text.split(',').map((part) => part.trim()).map((part) =>
    part.startsWith('-') ? { field: part.slice(1), direction: 'DESC' } : { field: part.startsWith('+') ? part.slice(1) : part, direction: 'ASC' });
  return parseOrderBy(terms, version);
}

function resolveSortField(field: unknown, fields: readonly SortField[], at: string): SortField {
  if (typeof field === 'object' && field !== null && !Array.isArray(field) && fields.includes(field as SortField)) return field as SortField;
  let found: SortField[] = [];
  if (typeof field === 'string') found = fields.filter((f) => f.dotted === field);
  else if (Array.isArray(field)) found = fields.filter((f) => f.path.length === field.length && f.path.every((p, i) => p === field[i]));
  else throw new QueryInputError(at, 'expected a field path');
  if (found.length === 1) return found[0]!;
  if (found.length > 1) throw new QueryInputError(at, `${JSON.stringify(field)} names ${found.length} fields (a property name contains "."): give the path as a list of property names`);
  throw new QueryInputError(at, `${JSON.stringify(field)} is not a sortable field (a string, number, boolean or date-time reached through objects only)`);
}

/** Objects whose metadata.ownerReferences include this uid (the children of an object). */
export function ownedBy(uid: string): Condition {
  return { op: 'field', key: 'metadata', test: { op: 'field', key: 'ownerReferences', test: { op: 'some', test: { op: 'field', key: 'uid', test: { op: 'eq', type: 'string', value: uid } } } } };
}
