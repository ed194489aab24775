// Sorting, paging and keyset cursors: a total, stable order; pages that stay right while objects
// change; cursors that are checked.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from '../../../src/api-errors.ts';
import { parseOrderByText, type OrderTerm } from '../../../src/model/query-filter.ts';
import { runQuery } from '../../../src/service/query-engine.ts';
import { decodeCursor, encodeCursor, queryFingerprint, sortKeyOf } from '../../../src/service/query-order.ts';
import { gadget } from './gadget-crd.ts';

const { version } = gadget();
const order = (text: string) => parseOrderByText(text, version);
const obj = (namespace: string, name: string, spec: Record<string, unknown>) => ({ metadata: { namespace, name }, spec });
const names = (items: readonly Record<string, unknown>[]) => items.map((o) => `${(o['metadata'] as { namespace: string }).namespace}/${(o['metadata'] as { name: string }).name}`);
const everything = () => true;

/** Every page of a query, following the cursors. */
function pages(objects: Record<string, unknown>[], terms: OrderTerm[], limit: number): string[] {
  const out: string[] = [];
  let after;
  for (let guard = 0; guard < 1000; guard++) {
    const page = runQuery(objects, { match: everything, order: terms, limit, ...(after ? { after } : {}) });
    out.push(...names(page.items));
    if (page.remaining === 0) return out;
    after = page.keys.at(-1);
  }
  throw new Error('no end');
}

describe('order', () => {
  it('sorts Int64 beyond 2^53 exactly, and by namespace and name on ties', () => {
    const base = 2n ** 60n;
    const objects = [
      obj('b', 'x', { size: base + 2n }), obj('a', 'y', { size: base + 1n }), obj('a', 'x', { size: base + 1n }),
      obj('a', 'z', { size: 5 }), obj('c', 'w', {}), obj('a', 'v', { size: 'text' }),
    ];
    const asc = runQuery(objects, { match: everything, order: order('spec.size') });
    assert.deepEqual(names(asc.items), ['a/z', 'a/x', 'a/y', 'b/x', 'a/v', 'c/w'], 'missing and mistyped values last, by namespace/name');
    const desc = runQuery(objects, { match: everything, order: order('-spec.size') });
    assert.deepEqual(names(desc.items), ['b/x', 'a/x', 'a/y', 'a/z', 'a/v', 'c/w'], 'missing values last in either direction; ties still ascending');
    assert.equal(asc.totalCount, 6);
  });

  it('sorts date-times as instants and strings by code units; several terms', () => {
    const objects = [
      obj('n', 'a', { expires: '2030-01-01T01:00:00+02:00', title: 'b' }),
      obj('n', 'b', { expires: '2030-01-01T00:00:00Z', title: 'B' }),
      obj('n', 'c', { expires: '2029-12-31T23:30:00Z', title: 'b' }),
    ];
    assert.deepEqual(names(runQuery(objects, { match: everything, order: order('spec.expires') }).items), ['n/a', 'n/c', 'n/b']);
    assert.deepEqual(names(runQuery(objects, { match: everything, order: order('-spec.title,spec.expires') }).items), ['n/a', 'n/c', 'n/b']);
  });

  it('pages through every object exactly once, for any page size', () => {
    const objects = Array.from({ length: 97 }, (_, i) => obj(`ns${i % 3}`, `o${String(i).padStart(3, '0')}`, { size: i % 7, title: `t${i % 5}` }));
    const full = names(runQuery(objects, { match: everything, order: order('-spec.size,spec.title') }).items);
    for (const limit of [1, 10, 33, 96, 97, 500]) assert.deepEqual(pages(objects, order('-spec.size,spec.title'), limit), full, `limit ${limit}`);
  });

  it('a cursor stays right while objects change: deleted, added before and after it', () => {
    const objects = Array.from({ length: 10 }, (_, i) => obj('n', `o${i}`, { size: i }));
    const terms = order('spec.size');
    const first = runQuery(objects, { match: everything, order: terms, limit: 4 });
    assert.deepEqual(names(first.items), ['n/o0', 'n/o1', 'n/o2', 'n/o3']);
    const cursor = encodeCursor(first.keys.at(-1)!, 'fp');
    // o3 (the cursor's object) is deleted, o4 moves before the cursor, one new object sorts after
    // the cursor and one (same size, smaller name) before it.
    const changed = objects.filter((o) => o.metadata.name !== 'o3').map((o) => (o.metadata.name === 'o4' ? obj('n', 'o4', { size: 1 }) : o));
    changed.push(obj('n', 'new', { size: 4 }), obj('n', 'a-before', { size: 3 }));
    const next = runQuery(changed, { match: everything, order: terms, limit: 4, after: decodeCursor(cursor, 'fp', terms) });
    assert.deepEqual(names(next.items), ['n/new', 'n/o5', 'n/o6', 'n/o7'], 'nothing repeated, nothing after the cursor skipped');
    assert.equal(next.remaining, 2);
  });
});

describe('cursors', () => {
  const terms = order('spec.size,-spec.expires,spec.title,spec.enabled');
  const key = sortKeyOf(obj('n', 'x', { size: 2n ** 62n, expires: '2030-01-01T00:00:00Z', enabled: true }), terms);

  it('round-trip every kind of sort value, missing ones too', () => {
    const back = decodeCursor(encodeCursor(key, 'fp'), 'fp', terms);
    assert.deepEqual(back, key);
    assert.equal(back.values[2], undefined);
  });

  it('are refused with BAD_REQUEST InvalidCursor when malformed, of another query, or of the wrong shape', () => {
    const refused = (cursor: string, message: RegExp, fp = 'fp', t = terms) => assert.throws(() => decodeCursor(cursor, fp, t), (err: unknown) => {
      assert.ok(err instanceof ApiError);
      assert.equal(err.code, 'BAD_REQUEST');
      assert.equal(err.details.reason, 'InvalidCursor');
      assert.match(err.message, message);
      return true;
    });
    const good = encodeCursor(key, 'fp');
    refused('eyJhbGciOi', /does not come from a filtered or sorted listing/);
    refused('q1.%%%', /malformed/);
    refused(`q1.${Buffer.from('[1,2]').toString('base64url')}`, /another query|malformed/);
    refused(good, /belongs to another query/, 'other');
    refused(good, /malformed/, 'fp', terms.slice(1));
    const forged = (k: unknown[]) => `q1.${Buffer.from(JSON.stringify({ f: 'fp', k, ns: 'n', n: 'x' })).toString('base64url')}`;
    refused(forged(['big', null, null, true]), /value for spec.size is not a int64/);
    refused(forged([1, { n: '1' }, { n: '2' }, true]), /value for spec.title is not a string/);
    refused(forged([1, { n: '1e5' }, null, true]), /value for spec.expires is not a dateTime/);
    assert.deepEqual(decodeCursor(forged([1, null, 'a', false]), 'fp', terms).values, [1, undefined, 'a', false]);
  });

  it('fingerprints differ when anything about the query differs', () => {
    const a = queryFingerprint({ w: { op: 'eq', value: 1n }, o: ['spec.size'] });
    assert.equal(a, queryFingerprint({ w: { op: 'eq', value: 1n }, o: ['spec.size'] }));
    assert.notEqual(a, queryFingerprint({ w: { op: 'eq', value: 2n }, o: ['spec.size'] }));
    assert.notEqual(a, queryFingerprint({ w: { op: 'eq', value: 1n }, o: ['spec.title'] }));
  });
});
