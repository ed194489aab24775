// The order of a filtered list and its keyset cursors. Pure.
//
// Objects sort by the orderBy terms, then by namespace and name, so the order is total and stable
// (two objects never tie). A missing value, or one that is not of the field's type, sorts after
// every value in either direction. A cursor holds the sort key of the last object of a page plus
// a fingerprint of the query: the next page is every object whose key comes after it, so pages
// stay right while objects are added, changed or deleted (no offsets). A cursor is checked, not
// signed: it only says where to resume in a list the caller may read anyway, so forging one gains
// nothing; a malformed one, or one of another query, is refused.
import { createHash } from 'node:crypto';
import { ApiError } from '../api-errors.ts';
import type { OrderTerm } from '../model/query-filter.ts';
import { stringifyJson } from '../kube/lossless-json.ts';
import { instantOf } from './query-matching.ts';

type SortValue = string | number | bigint | boolean;

export interface SortKey {
  /** One per orderBy term; undefined: missing. */
  readonly values: readonly (SortValue | undefined)[];
  readonly namespace: string;
  readonly name: string;
}

export function sortKeyOf(obj: Record<string, unknown>, terms: readonly OrderTerm[]): SortKey {
  const meta = (obj['metadata'] ?? {}) as { namespace?: unknown; name?: unknown };
  return {
    values: terms.map((t) => sortValue(valueAt(obj, t.field.path), t)),
    namespace: typeof meta.namespace === 'string' ? meta.namespace : '',
    name: typeof meta.name === 'string' ? meta.name : '',
  };
}

function valueAt(obj: unknown, path: readonly string[]): unknown {
  let v = obj;
  for (const key of path) {
    if (typeof v !== 'object' || v === null || Array.isArray(v) || !Object.hasOwn(v, key)) return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

function sortValue(v: unknown, t: OrderTerm): SortValue | undefined {
  switch (t.field.scalar) {
    case 'string':
      return typeof v === 'string' ? v : undefined;
    case 'boolean':
      return typeof v === 'boolean' ? v : undefined;
    case 'dateTime':
      return typeof v === 'string' ? instantOf(v) : undefined;
    default:
      return (typeof v === 'number' && !Number.isNaN(v)) || typeof v === 'bigint' ? v : undefined;
  }
}

export function compareKeys(a: SortKey, b: SortKey, terms: readonly OrderTerm[]): number {
  for (let i = 0; i < terms.length; i++) {
    const x = a.values[i];
    const y = b.values[i];
    if (x === undefined || y === undefined) {
      if (x === y) continue;
      return x === undefined ? 1 : -1;
    }
    if (x !== y) {
      // Numbers and bigint compare exactly with each other; strings by code units.
      const c = x < y ? -1 : x > y ? 1 : 0;
      if (c !== 0) return terms[i]!.direction === 'DESC' ? -c : c;
    }
  }
  if (a.namespace !== b.namespace) return a.namespace < b.namespace ? -1 : 1;
  if (a.name !== b.name) return a.name < b.name ? -1 : 1;
  return 0;
}

const PREFIX = 'q1.';

/** What a cursor must belong to: the resource, the scope, the selectors, the filter and the order. */
export function queryFingerprint(parts: unknown): string {
  return createHash('sha256').update(stringifyJson(parts)).digest('base64url').slice(0, 16);
}

export function encodeCursor(key: SortKey, fingerprint: string): string {
  const values = key.values.map((v) => (v === undefined ? null : typeof v === 'bigint' ? { n: v.toString() } : v));
  return PREFIX + Buffer.from(JSON.stringify({ f: fingerprint, k: values, ns: key.namespace, n: key.name })).toString('base64url');
}

export function decodeCursor(cursor: string, fingerprint: string, terms: readonly OrderTerm[]): SortKey {
  if (!cursor.startsWith(PREFIX)) {
    throw invalidCursor('this cursor does not come from a filtered or sorted listing (a Kubernetes continue token?); restart the listing without it');
  }
  let raw: { f?: unknown; k?: unknown; ns?: unknown; n?: unknown };
  try {
    raw = JSON.parse(Buffer.from(cursor.slice(PREFIX.length), 'base64url').toString('utf8')) as typeof raw;
  } catch {
    throw invalidCursor('the cursor is malformed; restart the listing without it');
  }
  if (raw === null || typeof raw !== 'object') throw invalidCursor('the cursor is malformed; restart the listing without it');
  if (raw.f !== fingerprint) {
    throw invalidCursor('the cursor belongs to another query (resource, namespace, selectors, where or orderBy differ); restart the listing without it');
  }
  if (!Array.isArray(raw.k) || raw.k.length !== terms.length || typeof raw.ns !== 'string' || typeof raw.n !== 'string') {
    throw invalidCursor('the cursor is malformed; restart the listing without it');
  }
  const values = raw.k.map((v: unknown, i) => cursorValue(v, terms[i]!));
  return { values, namespace: raw.ns, name: raw.n };
}

function cursorValue(v: unknown, t: OrderTerm): SortValue | undefined {
  if (v === null) return undefined;
  const scalar = t.field.scalar;
  const bad = () => invalidCursor(`the cursor's value for ${t.field.dotted} is not a ${scalar}; restart the listing without it`);
  if (typeof v === 'object' && !Array.isArray(v) && typeof (v as { n?: unknown }).n === 'string' && /^-?\d{1,40}$/.test((v as { n: string }).n)) {
    if (scalar === 'string' || scalar === 'boolean') throw bad();
    return BigInt((v as { n: string }).n);
  }
  if (scalar === 'string' && typeof v === 'string') return v;
  if (scalar === 'boolean' && typeof v === 'boolean') return v;
  if ((scalar === 'int' || scalar === 'int64' || scalar === 'float') && typeof v === 'number' && Number.isFinite(v)) return v;
  throw bad();
}

function invalidCursor(message: string): ApiError {
  return new ApiError('BAD_REQUEST', message, { reason: 'InvalidCursor' });
}
