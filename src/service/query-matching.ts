// A where condition (src/model/query-filter.ts) compiled into a predicate over Kubernetes JSON.
// Pure. Comparisons never convert between types: a string field holding a number, or an absent
// field, fails every operator but exists/isNull, so a filter never matches by accident. Integers
// compare exactly whether they are numbers or bigint (JavaScript compares the two kinds exactly);
// date-times compare as instants, whatever their offset or fractional digits.
import { epochNanos } from '../model/date-time.ts';
import type { CompareType, Condition, Scalar } from '../model/query-filter.ts';

export type Predicate = (value: unknown) => boolean;

export function compileCondition(c: Condition): Predicate {
  switch (c.op) {
    case 'and': {
      const ps = c.items.map(compileCondition);
      return (v) => {
        for (const p of ps) if (!p(v)) return false;
        return true;
      };
    }
    case 'or': {
      const ps = c.items.map(compileCondition);
      return (v) => {
        for (const p of ps) if (p(v)) return true;
        return false;
      };
    }
    case 'not': {
      const p = compileCondition(c.item);
      return (v) => !p(v);
    }
    case 'field': {
      const p = compileCondition(c.test);
      const key = c.key;
      return (v) => p(propertyOf(v, key));
    }
    case 'some':
    case 'every':
    case 'none':
      return listTest(c.op, compileCondition(c.test));
    case 'isEmpty': {
      const want = c.value;
      return (v) => {
        const list = listOf(v);
        return list !== undefined && (list.length === 0) === want;
      };
    }
    case 'exists':
      return c.value ? (v) => v !== undefined : (v) => v === undefined;
    case 'isNull':
      return c.value ? (v) => v === undefined || v === null : (v) => v !== undefined && v !== null;
    case 'prefix': {
      const s = c.value;
      return (v) => typeof v === 'string' && v.startsWith(s);
    }
    case 'contains': {
      const s = c.value;
      return (v) => typeof v === 'string' && v.includes(s);
    }
    case 'in':
    case 'notIn':
      return membership(c.type, c.values, c.op === 'in');
    default:
      return comparison(c.op, c.type, c.value);
  }
}

/** An own property of a JSON object; anything else has no properties. */
function propertyOf(v: unknown, key: string): unknown {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  return Object.hasOwn(v, key) ? (v as Record<string, unknown>)[key] : undefined;
}

/** An absent or null list is an empty one (Kubernetes omits empty lists); any other value is none. */
function listOf(v: unknown): readonly unknown[] | undefined {
  if (Array.isArray(v)) return v;
  return v === undefined || v === null ? [] : undefined;
}

function listTest(op: 'some' | 'every' | 'none', p: Predicate): Predicate {
  return (v) => {
    const list = listOf(v);
    if (list === undefined) return false;
    if (op === 'some') return list.some(p);
    if (op === 'every') return list.every(p);
    return !list.some(p);
  };
}

function comparison(op: 'eq' | 'ne' | 'lt' | 'lte' | 'gt' | 'gte', type: CompareType, operand: Scalar): Predicate {
  const compare = comparator(type, operand);
  switch (op) {
    case 'eq':
      return (v) => compare(v) === 0;
    case 'ne':
      return (v) => {
        const r = compare(v);
        return r !== undefined && r !== 0;
      };
    case 'lt':
      return (v) => (compare(v) ?? 0) < 0;
    case 'lte':
      return (v) => {
        const r = compare(v);
        return r !== undefined && r <= 0;
      };
    case 'gt':
      return (v) => (compare(v) ?? 0) > 0;
    case 'gte':
      return (v) => {
        const r = compare(v);
        return r !== undefined && r >= 0;
      };
  }
}

type Compare = (v: unknown) => number | undefined;

/** v compared with the operand: negative, 0, positive, or undefined when v is not of the type. */
function comparator(type: CompareType, operand: Scalar): Compare {
  switch (type) {
    case 'string':
      return (v) => (typeof v === 'string' ? order(v, operand as string) : undefined);
    case 'number':
      return (v) => (isNumber(v) ? order(v, operand as number | bigint) : undefined);
    case 'boolean':
      return (v) => (typeof v === 'boolean' ? Number(v) - Number(operand) : undefined);
    case 'dateTime': {
      const at = instantOf(operand as string)!;
      return (v) => {
        const t = typeof v === 'string' ? instantOf(v) : undefined;
        return t === undefined ? undefined : order(t, at);
      };
    }
    case 'intOrString':
      return typeof operand === 'string'
        ? (v) => (typeof v === 'string' ? order(v, operand) : undefined)
        : (v) => (isNumber(v) ? order(v, operand as number) : undefined);
  }
}

function membership(type: CompareType, values: readonly Scalar[], wanted: boolean): Predicate {
  const keys = new Set(values.map((x) => valueKey(type, x)));
  return (v) => {
    const key = valueKey(type, v);
    return key !== undefined && keys.has(key) === wanted;
  };
}

/** Equal values of a type have equal keys (1 and 1n, instants at different offsets). */
function valueKey(type: CompareType, v: unknown): string | undefined {
  if (typeof v === 'string') {
    if (type === 'string' || type === 'intOrString') return `s${v}`;
    if (type === 'dateTime') {
      const t = instantOf(v);
      return t === undefined ? undefined : `t${t}`;
    }
    return undefined;
  }
  if (isNumber(v)) {
    if (type !== 'number' && type !== 'intOrString') return undefined;
    return typeof v === 'bigint' || Number.isInteger(v) ? `n${BigInt(v)}` : `f${v}`;
  }
  if (typeof v === 'boolean') return type === 'boolean' ? `b${v}` : undefined;
  return undefined;
}

function isNumber(v: unknown): v is number | bigint {
  return (typeof v === 'number' && !Number.isNaN(v)) || typeof v === 'bigint';
}

function order<T extends string | number | bigint>(a: T, b: T): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const instants = new Map<string, bigint | null>();
// Objects repeat their timestamps from query to query; a bounded memo spares re-parsing them.
const maxInstants = 50_000;

/** Nanoseconds since the epoch of an RFC 3339 date-time; undefined when it is not one. */
export function instantOf(s: string): bigint | undefined {
  const hit = instants.get(s);
  if (hit !== undefined) return hit ?? undefined;
  const result = epochNanos(s) ?? null;
  if (instants.size >= maxInstants) instants.clear();
  instants.set(s, result);
  return result ?? undefined;
}
