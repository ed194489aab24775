// A record assembled from per-CRD parts (Object.assign({}, head, ...segments, tail)), rebuilt
// after a few parts changed without copying the rest.
//
// At 1,000 CRDs the OpenAPI document's paths and component schemas, and the GraphQL root types'
// field maps, hold 5,000–30,000 keys; inserting them into a fresh object costs 20–30 ms per map,
// and so does copying one (V8 copies a dictionary-mode object key by key). A patched record is a
// read-only view: the changed parts' keys over the previous record, its keys listed (on first
// request) in exactly the order a fresh assembly of the same parts gives. It reads like the plain
// object: lookups, `in`, Object.keys/values/entries, for-in, JSON.stringify.

export interface RecordParts<V> {
  /** Keys first in the record (a small part, rebuilt each time). */
  readonly head: Readonly<Record<string, V>>;
  /** The per-CRD parts, in the record's order; no key is in two of them. */
  readonly segments: readonly Readonly<Record<string, V>>[];
  /** Keys last in the record (a small part, rebuilt each time). */
  readonly tail: Readonly<Record<string, V>>;
}

interface Meta<V> {
  /** The value of a key from the segments only (not head or tail). */
  readonly segmentValue: (key: string) => V | undefined;
  readonly depth: number;
}

const metas = new WeakMap<object, Meta<unknown>>();
// A lookup through 16 views costs well under a microsecond; flattening rebuilds the whole record.
const maxDepth = 16;

/** Object.assign({}, head, ...segments, tail): a plain object that later patches can start from. */
export function assembleRecord<V>(parts: RecordParts<V>): Record<string, V> {
  const out: Record<string, V> = Object.assign({}, parts.head);
  for (const segment of parts.segments) Object.assign(out, segment);
  Object.assign(out, parts.tail);
  const { head, tail } = parts;
  // Disjoint parts only: a key in two parts would sit where it was first assigned.
  let size = Object.keys(head).length + Object.keys(tail).length;
  for (const segment of parts.segments) size += Object.keys(segment).length;
  if (size !== Object.keys(out).length) return out;
  metas.set(out, {
    segmentValue: (key) => (Object.hasOwn(out, key) && !Object.hasOwn(head, key) && !Object.hasOwn(tail, key) ? out[key] : undefined),
    depth: 0,
  });
  return out;
}

/**
 * The record assembleRecord(parts) would give, as a view over `previous` (a record made by
 * assembleRecord or patchRecord): `removed` are the previous segments no longer in `parts`, `added`
 * those new in it. Undefined when `previous` cannot be patched (its parts shared a key) or a key
 * would be in two parts; assemble from scratch then.
 */
export function patchRecord<V>(
  previous: Readonly<Record<string, V>>,
  parts: RecordParts<V>,
  removed: readonly Readonly<Record<string, V>>[],
  added: readonly Readonly<Record<string, V>>[],
): Record<string, V> | undefined {
  const before = metas.get(previous) as Meta<V> | undefined;
  if (!before) return undefined;
  if (before.depth + 1 >= maxDepth) return assembleRecord(parts);
  const changes = new Map<string, V | undefined>();
  for (const segment of removed) for (const key in segment) changes.set(key, undefined);
  for (const segment of added) {
    for (const key in segment) {
      if (changes.get(key) !== undefined || (!changes.has(key) && before.segmentValue(key) !== undefined)) return undefined;
      changes.set(key, segment[key]);
    }
  }
  const base = before.segmentValue;
  const segmentValue = (key: string): V | undefined => (changes.has(key) ? changes.get(key) : base(key));
  const { head, tail } = parts;
  for (const key in head) if (segmentValue(key) !== undefined || Object.hasOwn(tail, key)) return undefined;
  for (const key in tail) if (segmentValue(key) !== undefined) return undefined;
  const view = recordView(parts, segmentValue);
  metas.set(view, { segmentValue, depth: before.depth + 1 });
  return view;
}

function recordView<V>(parts: RecordParts<V>, segmentValue: (key: string) => V | undefined): Record<string, V> {
  const { head, tail } = parts;
  const lookup = (key: string): V | undefined =>
    Object.hasOwn(head, key) ? head[key] : Object.hasOwn(tail, key) ? tail[key] : segmentValue(key);
  let keys: string[] | undefined;
  const ownKeys = (): string[] => {
    if (!keys) {
      keys = Object.keys(head);
      for (const segment of parts.segments) for (const key of Object.keys(segment)) keys.push(key);
      for (const key of Object.keys(tail)) keys.push(key);
    }
    return keys;
  };
  // The target is a plain empty object, so the view has the prototype a plain record has.
  return new Proxy({} as Record<string, V>, {
    get: (target, key, receiver) => {
      if (typeof key === 'string') {
        const value = lookup(key);
        if (value !== undefined) return value;
      }
      return Reflect.get(target, key, receiver);
    },
    has: (target, key) => (typeof key === 'string' && lookup(key) !== undefined) || key in target,
    ownKeys: () => [...ownKeys()],
    getOwnPropertyDescriptor: (_target, key) => {
      const value = typeof key === 'string' ? lookup(key) : undefined;
      return value === undefined ? undefined : { value, writable: false, enumerable: true, configurable: true };
    },
    set: () => false,
    defineProperty: () => false,
    deleteProperty: () => false,
  });
}
