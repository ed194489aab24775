// What a where means over Kubernetes JSON: presence, types that never convert, exact integers,
// date-times as instants, lists and maps.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseWhere } from '../../../src/model/query-filter.ts';
import { compileCondition, instantOf } from '../../../src/service/query-matching.ts';
import { gadget } from './gadget-crd.ts';

const { version } = gadget();
const matches = (where: unknown, spec: Record<string, unknown>, metadata: Record<string, unknown> = {}) =>
  compileCondition(parseWhere(where, version, 'kubernetes'))({ metadata: { name: 'x', namespace: 'n', ...metadata }, spec });

describe('where over objects', () => {
  it('exists: the property is there (even as null); isNull: absent or null; other operators need a value', () => {
    const cases: [Record<string, unknown>, boolean, boolean, boolean][] = [
      // spec, exists, isNull, ne "a"
      [{}, false, true, false],
      [{ title: null }, true, true, false],
      [{ title: 'b' }, true, false, true],
      [{ title: 'a' }, true, false, false],
      [{ title: 7 }, true, false, false],
    ];
    for (const [spec, exists, isNull, ne] of cases) {
      assert.equal(matches({ spec: { title: { exists: true } } }, spec), exists, `exists ${JSON.stringify(spec)}`);
      assert.equal(matches({ spec: { title: { exists: false } } }, spec), !exists);
      assert.equal(matches({ spec: { title: { isNull: true } } }, spec), isNull, `isNull ${JSON.stringify(spec)}`);
      assert.equal(matches({ spec: { title: { isNull: false } } }, spec), !isNull);
      assert.equal(matches({ spec: { title: { ne: 'a' } } }, spec), ne, `ne ${JSON.stringify(spec)}`);
      assert.equal(matches({ spec: { title: { notIn: ['a'] } } }, spec), ne, `notIn ${JSON.stringify(spec)}`);
      // not(eq) is the complement of eq, absent values included.
      assert.equal(matches({ not: { spec: { title: { eq: 'a' } } } }, spec), spec['title'] !== 'a');
    }
  });

  it('compares integers exactly, whether they are numbers or bigint', () => {
    const big = 2n ** 53n + 1n;
    assert.equal(matches({ spec: { size: { eq: big.toString() } } }, { size: big }), true);
    assert.equal(matches({ spec: { size: { eq: big.toString() } } }, { size: 2 ** 53 }), false);
    assert.equal(matches({ spec: { size: { gt: (2n ** 53n).toString() } } }, { size: big }), true);
    assert.equal(matches({ spec: { size: { lt: big.toString() } } }, { size: 2 ** 53 }), true);
    assert.equal(matches({ spec: { size: { in: [big.toString(), 3] } } }, { size: big }), true);
    assert.equal(matches({ spec: { size: { in: [3] } } }, { size: 3 }), true);
    assert.equal(matches({ spec: { size: { in: [3] } } }, { size: '3' }), false, 'a string is not a number');
    assert.equal(matches({ spec: { ratio: { gt: 1 } } }, { ratio: 1.5 }), true);
    assert.equal(matches({ spec: { ratio: { in: [1.5] } } }, { ratio: 1.5 }), true);
    assert.equal(matches({ spec: { ratio: { in: [2] } } }, { ratio: 2 }), true);
    // A whole number beyond 2^53 in a number field: every digit counts.
    assert.equal(matches({ spec: { ratio: { eq: 2n ** 53n + 1n } } }, { ratio: 2n ** 53n + 1n }), true);
    assert.equal(matches({ spec: { ratio: { eq: 2n ** 53n + 1n } } }, { ratio: 2 ** 53 }), false);
    assert.equal(matches({ spec: { ratio: { gt: 2 ** 53 } } }, { ratio: 2n ** 53n + 1n }), true);
    // An int-or-string field holds any integer Kubernetes keeps (a GraphQL IntOrString or a
    // REST ?where= reads one beyond 2^53 as bigint): every digit counts there too.
    assert.equal(matches({ spec: { port: { eq: 2n ** 53n + 1n } } }, { port: 2n ** 53n + 1n }), true);
    assert.equal(matches({ spec: { port: { eq: 2n ** 53n + 1n } } }, { port: 2 ** 53 }), false);
    assert.equal(matches({ spec: { port: { in: [2n ** 63n - 1n, 'http'] } } }, { port: 2n ** 63n - 1n }), true);
    assert.equal(matches({ spec: { port: { eq: 2n ** 53n + 1n } } }, { port: '9007199254740993' }), false, 'a string is not a number');
  });

  it('compares date-times as instants, across offsets and fractional digits', () => {
    assert.equal(matches({ spec: { expires: { eq: '2030-01-01T02:00:00+02:00' } } }, { expires: '2030-01-01T00:00:00Z' }), true);
    assert.equal(matches({ spec: { expires: { lt: '2030-01-01T00:00:00.000001Z' } } }, { expires: '2030-01-01T00:00:00Z' }), true);
    assert.equal(matches({ spec: { expires: { gt: '2030-01-01T00:00:00.5Z' } } }, { expires: '2030-01-01T00:00:00.499999999Z' }), false);
    assert.equal(matches({ spec: { expires: { in: ['2029-12-31T23:00:00-01:00'] } } }, { expires: '2030-01-01T00:00:00Z' }), true);
    assert.equal(matches({ spec: { expires: { lt: '2030-01-01T00:00:00Z' } } }, { expires: 'soon' }), false);
    assert.equal(instantOf('0099-03-01T00:00:00Z')! < instantOf('1999-03-01T00:00:00Z')!, true, 'years below 100 stay themselves');
    assert.equal(instantOf('1970-01-01T00:00:01.25Z'), 1_250_000_000n);
  });

  it('strings: code-unit order, prefix, contains; enums and booleans by value; int-or-string by kind', () => {
    assert.equal(matches({ spec: { title: { lt: 'b' } } }, { title: 'B' }), true, 'upper case sorts first');
    assert.equal(matches({ spec: { title: { prefix: 'ab' } } }, { title: 'abc' }), true);
    assert.equal(matches({ spec: { title: { contains: 'bc' } } }, { title: 'abc' }), true);
    assert.equal(matches({ spec: { title: { contains: 'bc' } } }, { title: ['abc'] }), false);
    assert.equal(matches({ spec: { phase: { in: ['Running', 'Failed'] } } }, { phase: 'Failed' }), true);
    assert.equal(matches({ spec: { enabled: { eq: false } } }, { enabled: false }), true);
    assert.equal(matches({ spec: { enabled: { eq: false } } }, {}), false);
    assert.equal(matches({ spec: { port: { eq: 80 } } }, { port: 80 }), true);
    assert.equal(matches({ spec: { port: { eq: 80 } } }, { port: '80' }), false);
    assert.equal(matches({ spec: { port: { eq: 'http' } } }, { port: 'http' }), true);
  });

  it('lists: an absent list is empty; a value that is not a list matches nothing', () => {
    const some = { spec: { owners: { some: { weight: { gt: 1 } } } } };
    const every = { spec: { owners: { every: { weight: { gt: 1 } } } } };
    const none = { spec: { owners: { none: { weight: { gt: 1 } } } } };
    const empty = { spec: { owners: { isEmpty: true } } };
    const rows: [Record<string, unknown>, boolean, boolean, boolean, boolean][] = [
      [{}, false, true, true, true],
      [{ owners: [] }, false, true, true, true],
      [{ owners: [{ weight: 2 }, { weight: 1 }] }, true, false, false, false],
      [{ owners: [{ weight: 2 }] }, true, true, false, false],
      [{ owners: 'x' }, false, false, false, false],
    ];
    for (const [spec, s, e, n, isEmpty] of rows) {
      assert.deepEqual([matches(some, spec), matches(every, spec), matches(none, spec), matches(empty, spec)], [s, e, n, isEmpty], JSON.stringify(spec));
    }
    assert.equal(matches({ spec: { tags: { some: { eq: 'b' } } } }, { tags: ['a', 'b'] }), true);
  });

  it('maps: by key, including keys that look like JavaScript internals', () => {
    const labels = { app: 'web', '__proto__': 'p', constructor: 'c' };
    assert.equal(matches({ metadata: { labels: [{ key: 'app', eq: 'web' }] } }, {}, { labels }), true);
    assert.equal(matches({ metadata: { labels: [{ key: 'app', eq: 'web' }, { key: 'tier', exists: false }] } }, {}, { labels }), true);
    assert.equal(matches({ metadata: { labels: [{ key: 'toString', exists: true }] } }, {}, { labels }), false);
    assert.equal(matches({ metadata: { labels: [{ key: 'constructor', eq: 'c' }] } }, {}, { labels }), true);
    assert.equal(matches({ metadata: { labels: [{ key: 'tier', exists: true }] } }, {}, {}), false);
    assert.equal(matches({ spec: { limits: [{ key: 'cpu', value: { gte: 2 } }] } }, { limits: { cpu: 2 } }), true);
    assert.equal(matches({ spec: { limits: [{ key: 'cpu', exists: false }] } }, { limits: { mem: 2 } }), true);
  });

  it('and is true when empty, or false when empty', () => {
    assert.equal(matches({ and: [] }, {}), true);
    assert.equal(matches({ or: [] }, {}), false);
    assert.equal(matches({}, {}), true);
  });
});
