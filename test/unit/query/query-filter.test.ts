// The where and orderBy grammar: one condition tree from GraphQL names or Kubernetes names, every
// operator checked against its field's type, and typed errors that say where the problem is.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  MAX_ORDER_TERMS, parseOrderBy, parseOrderByText, parseWhere, QueryInputError, WHERE_LIMITS, type Condition,
} from '../../../src/model/query-filter.ts';
import { sortFields, versionFilter } from '../../../src/model/query-fields.ts';
import { gadget } from './gadget-crd.ts';

const { version } = gadget();
const where = (value: unknown, naming: 'graphql' | 'kubernetes' = 'kubernetes') => parseWhere(value, version, naming);
const spec = (test: Condition): Condition => ({ op: 'field', key: 'spec', test });
const field = (key: string, test: Condition): Condition => ({ op: 'field', key, test });

function refused(value: unknown, path: string, message: RegExp, naming: 'graphql' | 'kubernetes' = 'kubernetes') {
  assert.throws(() => where(value, naming), (err: unknown) => {
    assert.ok(err instanceof QueryInputError, String(err));
    assert.equal(err.path, path);
    assert.match(err.message, message);
    return true;
  });
}

describe('where', () => {
  it('reads GraphQL names and Kubernetes names into the same condition over Kubernetes names', () => {
    const kube = where({ spec: { 'max-size': { gt: 3 } } });
    const gql = where({ spec: { max_size: { gt: 3 } } }, 'graphql');
    assert.deepEqual(kube, spec(field('max-size', { op: 'gt', type: 'number', value: 3 })));
    assert.deepEqual(gql, kube);
    refused({ spec: { max_size: { gt: 3 } } }, 'where.spec.max_size', /no filterable field "max_size"/);
  });

  it('types every operand: integers exact (bigint beyond 2^53, decimal strings), 32-bit bounds, date-times, enums', () => {
    assert.deepEqual(where({ spec: { size: { eq: '9007199254740993' } } }), spec(field('size', { op: 'eq', type: 'number', value: 9007199254740993n })));
    assert.deepEqual(where({ spec: { size: { eq: 9007199254740993n } } }), spec(field('size', { op: 'eq', type: 'number', value: 9007199254740993n })));
    assert.deepEqual(where({ spec: { size: { in: ['12', 13] } } }), spec(field('size', { op: 'in', type: 'number', values: [12, 13] })));
    refused({ spec: { size: { eq: 2 ** 60 } } }, 'where.spec.size.eq', /beyond 2\^53 and has lost digits; send it as a decimal string/);
    refused({ spec: { size: { eq: '9223372036854775808' } } }, 'where.spec.size.eq', /out of the 64-bit range/);
    refused({ spec: { size: { eq: 1.5 } } }, 'where.spec.size.eq', /expected an integer/);
    refused({ spec: { size: { gt: 'ten' } } }, 'where.spec.size.gt', /expected an integer/);
    // A value of the wrong shape is named as such, not as JavaScript prints it ([object Object]).
    refused({ spec: { size: { gt: { n: 1 } } } }, 'where.spec.size.gt', /got an object$/);
    refused({ spec: { count: { lt: 2 ** 31 } } }, 'where.spec.count.lt', /not a 32-bit integer/);
    // A number field keeps a whole number beyond 2^53 exactly, as Kubernetes does.
    assert.deepEqual(where({ spec: { ratio: { gte: 10n ** 20n } } }), spec(field('ratio', { op: 'gte', type: 'number', value: 10n ** 20n })));
    assert.deepEqual(where({ spec: { ratio: { eq: 9007199254740993n } } }), spec(field('ratio', { op: 'eq', type: 'number', value: 9007199254740993n })));
    refused({ spec: { expires: { lt: 'tomorrow' } } }, 'where.spec.expires.lt', /RFC 3339/);
    // The shape of a date-time without a real instant: refused, not rolled over to another day.
    for (const impossible of ['2024-02-30T00:00:00Z', '2026-11-31T00:00:00Z', '2024-13-45T99:99:99Z', '2024-01-01T24:00:00Z', '2024-01-01T10:00:60Z']) {
      refused({ spec: { expires: { lt: impossible } } }, 'where.spec.expires.lt', /RFC 3339 date-time of a real instant/);
    }
    assert.deepEqual(where({ spec: { expires: { lt: '2030-01-01T00:00:00+02:00' } } }), spec(field('expires', { op: 'lt', type: 'dateTime', value: '2030-01-01T00:00:00+02:00' })));
    refused({ spec: { phase: { eq: 'Done' } } }, 'where.spec.phase.eq', /one of "Pending", "Running", "Failed"/);
    refused({ spec: { enabled: { eq: 'yes' } } }, 'where.spec.enabled.eq', /true or false/);
    assert.deepEqual(where({ spec: { port: { in: [8080, 'http'] } } }), spec(field('port', { op: 'in', type: 'intOrString', values: [8080, 'http'] })));
  });

  it('offers each type its operators only; regular expressions are refused with a reason', () => {
    refused({ spec: { size: { prefix: '1' } } }, 'where.spec.size.prefix', /not an operator of integer fields \(operators: eq, ne, in, notIn, lt, lte, gt, gte, exists, isNull\)/);
    refused({ spec: { phase: { lt: 'Running' } } }, 'where.spec.phase.lt', /not an operator of enum fields/);
    refused({ spec: { enabled: { gt: true } } }, 'where.spec.enabled.gt', /boolean fields/);
    refused({ spec: { extra: { eq: 'x' } } }, 'where.spec.extra.eq', /untyped \(JSON\) fields \(operators: exists, isNull\)/);
    refused({ spec: { title: { regex: '^a.*' } } }, 'where.spec.title.regex', /regular expressions are not offered .* use prefix or contains/);
    refused({ spec: { title: { like: 'a%' } } }, 'where.spec.title.like', /regular expressions/);
    refused({ spec: { matrix: { some: {} } } }, 'where.spec.matrix', /no filterable field "matrix"/);
  });

  it('refuses null anywhere, rather than reading it as "no condition"', () => {
    refused({ spec: { title: { eq: null } } }, 'where.spec.title.eq', /null is not a filter value; .*isNull: true/);
    refused({ spec: null }, 'where.spec', /null is not a filter value/);
    refused(null, 'where', /null is not a filter/);
  });

  it('lists: some, every, none of element filters; isEmpty, exists, isNull', () => {
    assert.deepEqual(where({ spec: { owners: { some: { weight: { gt: 2 } }, isEmpty: false } } }), spec(field('owners', {
      op: 'and', items: [{ op: 'some', test: field('weight', { op: 'gt', type: 'number', value: 2 }) }, { op: 'isEmpty', value: false }],
    })));
    assert.deepEqual(where({ spec: { tags: { every: { prefix: 'x-' } } } }), spec(field('tags', { op: 'every', test: { op: 'prefix', value: 'x-' } })));
    refused({ spec: { tags: { contains: 'x' } } }, 'where.spec.tags.contains', /not an operator of list fields/);
  });

  it('maps: entries by key, string operators beside the key for string maps, a value filter for typed maps', () => {
    assert.deepEqual(where({ metadata: { labels: [{ key: 'app', eq: 'web' }, { key: 'tier', exists: false }] } }), field('metadata', field('labels', {
      op: 'and', items: [field('app', { op: 'eq', type: 'string', value: 'web' }), field('tier', { op: 'exists', value: false })],
    })));
    assert.deepEqual(where({ spec: { limits: [{ key: 'cpu', value: { gte: 2 } }] } }), spec(field('limits', field('cpu', { op: 'gte', type: 'number', value: 2 }))));
    refused({ spec: { settings: [{ eq: 'x' }] } }, 'where.spec.settings[0].key', /needs a key/);
    refused({ spec: { settings: [{ key: 'x' }] } }, 'where.spec.settings[0]', /no operator \(exists: true asks for the key\)/);
    refused({ spec: { limits: [{ key: 'cpu', gt: 1 }] } }, 'where.spec.limits[0].gt', /key, value, exists and isNull/);
    refused({ spec: { settings: { key: 'x', eq: 'y' } } }, 'where.spec.settings', /expected a list/);
  });

  it('and, or, not at every level, unless a property takes the name there', () => {
    assert.deepEqual(where({ or: [{ spec: { size: { lt: 1 } } }, { not: { spec: { size: { lt: 9 } } } }] }), {
      op: 'or', items: [spec(field('size', { op: 'lt', type: 'number', value: 1 })), { op: 'not', item: spec(field('size', { op: 'lt', type: 'number', value: 9 })) }],
    });
    // spec.nested has a property named "not": there it is that property, and and/or are not offered.
    assert.deepEqual(where({ spec: { nested: { not: { eq: 'x' } } } }), spec(field('nested', field('not', { op: 'eq', type: 'string', value: 'x' }))));
    refused({ spec: { nested: { or: [] } } }, 'where.spec.nested.or', /no filterable field "or"/);
    const nested = versionFilter(version).fields.find((f) => f.name === 'spec')!.filter;
    assert.equal(nested.kind === 'object' && nested.fields.find((f) => f.name === 'nested')!.filter.kind === 'object'
      && (nested.fields.find((f) => f.name === 'nested')!.filter as { logic: boolean }).logic, false);
  });

  it('bounds nesting and the number of conditions, whatever transport the filter came by', () => {
    let deep: Record<string, unknown> = { spec: { size: { eq: 1 } } };
    for (let i = 0; i < WHERE_LIMITS.maxDepth; i++) deep = { not: deep };
    assert.throws(() => where(deep), (err: unknown) => err instanceof QueryInputError && /nested deeper than 32 levels/.test(err.message));
    const values = (n: number) => Array.from({ length: n }, (_, i) => i);
    assert.throws(() => where({ spec: { size: { in: values(WHERE_LIMITS.maxConditions + 1) } } }),
      (err: unknown) => err instanceof QueryInputError && /more than 500 conditions \(each operator counts once, in and notIn once per value\)/.test(err.message));
    assert.doesNotThrow(() => where({ spec: { size: { in: values(WHERE_LIMITS.maxConditions) } } }));
    assert.throws(() => where({ spec: { size: { in: values(WHERE_LIMITS.maxConditions) }, count: { eq: 1 } } }), /more than 500 conditions/);
  });

  it('bounds the parts of a filter that hold no condition (an or of empty objects), which it walks per object all the same', () => {
    for (const w of [
      { or: Array.from({ length: 80_000 }, () => ({ or: [] })) },
      { or: Array.from({ length: 5_000 }, () => ({})) },
      { and: Array.from({ length: 3_000 }, () => ({ not: {} })) },
      { or: [{ spec: {} }, ...Array.from({ length: 2_000 }, () => ({ and: [] }))] },
    ]) {
      assert.throws(() => where(w), (err: unknown) => err instanceof QueryInputError && /more than 5000 parts \(each object and list counts once, and each list item once more\)/.test(err.message));
    }
    // At the bound: where (1), the or's list (1), and 2,499 items of an empty object (2 each).
    assert.doesNotThrow(() => where({ or: Array.from({ length: 2_499 }, () => ({})) }));
    assert.throws(() => where({ or: Array.from({ length: 2_500 }, () => ({})) }), /more than 5000 parts/);
    // 500 conditions in an or of fields three levels down stay within the bound.
    assert.doesNotThrow(() => where({ or: Array.from({ length: 500 }, (_, i) => ({ spec: { size: { eq: i } } })) }));
  });
});

describe('orderBy', () => {
  const fields = sortFields(version);
  const byDotted = (d: string) => fields.find((f) => f.dotted === d)!;

  it('offers scalar leaves reached through objects, metadata included, under GraphQL enum names', () => {
    const names = fields.map((f) => f.enumName);
    for (const n of ['metadata_name', 'metadata_namespace', 'metadata_creationTimestamp', 'metadata_generation', 'spec_size', 'spec_expires', 'spec_phase', 'spec_nested_level', 'spec_max_size', 'status_observed']) {
      assert.ok(names.includes(n), n);
    }
    for (const n of ['spec_tags', 'spec_owners_weight', 'spec_limits', 'spec_extra', 'spec_port']) assert.ok(!names.includes(n), n);
    // "a.b" (a property) and a.b (a path) meet as GraphQL names: the later one is numbered.
    assert.deepEqual(fields.filter((f) => f.dotted === 'spec.a.b').map((f) => f.enumName), ['spec_a_b', 'spec_a_b_2']);
  });

  it('reads SortField values (GraphQL), dotted paths with "-" (REST), and JSON terms', () => {
    assert.deepEqual(parseOrderBy([{ field: byDotted('spec.size'), direction: 'DESC' }], version), [{ field: byDotted('spec.size'), direction: 'DESC' }]);
    assert.deepEqual(parseOrderByText('-spec.expires, metadata.name', version), [
      { field: byDotted('spec.expires'), direction: 'DESC' }, { field: byDotted('metadata.name'), direction: 'ASC' },
    ]);
    assert.deepEqual(parseOrderBy([{ field: ['spec', 'max-size'] }], version), [{ field: byDotted('spec.max-size'), direction: 'ASC' }]);
    assert.deepEqual(parseOrderBy([{ field: ['spec', 'a.b'] }], version)[0]!.field.path, ['spec', 'a.b']);
  });

  it('refuses unknown, unsortable, ambiguous and repeated fields, and too many terms', () => {
    const refusedOrder = (fn: () => unknown, message: RegExp) => assert.throws(fn, (err: unknown) => err instanceof QueryInputError && message.test(err.message));
    refusedOrder(() => parseOrderByText('spec.nope', version), /"spec.nope" is not a sortable field/);
    refusedOrder(() => parseOrderByText('spec.tags', version), /not a sortable field/);
    refusedOrder(() => parseOrderByText('spec.a.b', version), /names 2 fields .* as a list of property names/);
    refusedOrder(() => parseOrderByText('spec.size,-spec.size', version), /already ordered by/);
    refusedOrder(() => parseOrderByText(Array.from({ length: MAX_ORDER_TERMS + 1 }, () => 'spec.size').join(','), version), /at most 8 terms/);
    refusedOrder(() => parseOrderBy([{ field: 'spec.size', direction: 'UP' }], version), /expected ASC or DESC/);
    refusedOrder(() => parseOrderBy([{ field: 'spec.size', sort: 'x' }], version), /field and direction/);
  });
});
