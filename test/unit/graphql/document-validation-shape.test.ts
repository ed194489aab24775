// A document of a shape already found valid (the same text but for its string, number and enum
// literals) is validated by the rules that read values only. Its errors must be exactly those of
// graphql-js' validate() with all the rules: same messages, locations, order, error limit and
// abort. Checked on the real-CRD corpus's schema with many documents of each shape (valid values,
// values of the wrong type, out-of-range numbers, unknown enum values, malformed custom scalars,
// null for non-null, nested input objects, lists, same-named fields whose arguments may differ),
// with and without the query limits and suggestions; and documents that differ in anything but
// those literals must not share a shape.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import {
  buildSchema, getNamedType, GraphQLError, isEnumType, isInputObjectType, isLeafType, isListType, isNonNullType, isObjectType, parse, specifiedRules, validate,
  type GraphQLField, type GraphQLInputType, type GraphQLSchema, type ValidationRule,
} from 'graphql';
import { markShapeOnly, shapeOf, ValidatedDocuments } from '../../../src/graphql/document-validation.ts';
import { buildGraphQLSchema } from '../../../src/graphql/schema-builder.ts';
import { parseCrdText } from '../../../src/cli/crd-documents.ts';
import { limitRules } from '../../../src/plugins/query-limits.ts';
import { corpusAvailable, corpusDir, crdFiles } from '../../helpers/crd-corpus.ts';

/** A small deterministic generator (mulberry32). */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pickOf = <T>(rnd: () => number, items: readonly T[]): T => items[Math.floor(rnd() * items.length)]!;

const strings = ['"text"', '""', '"a\\nb \\u00e9"', '"""block\n  text"""', '"2024-01-01T00:00:00Z"', '"yesterday"', '"5%"', '"1Gi"', '"NAME"', '"x"'];
const badLiterals = ['"text"', '3', '1.5', 'null', 'true', 'NOT_A_VALUE', '[1, 2]', '{ a: 1 }', '2147483648', '-2147483649', '1e400'];

/** A literal of this leaf type: usually one the type accepts (or one of the same kind it may refuse), sometimes any other. */
function leaf(type: GraphQLInputType, rnd: () => number, bad: number): string {
  if (rnd() < bad) return pickOf(rnd, badLiterals);
  const named = getNamedType(type);
  if (isEnumType(named)) {
    // Unknown values, one of them close to a known one (a suggestion, unless hidden).
    const known = pickOf(rnd, named.getValues()).name;
    return pickOf(rnd, [known, known, known, known, known, known, 'NOT_A_VALUE', `${known}x`]);
  }
  switch (named.name) {
    case 'Int': return pickOf(rnd, [String(Math.floor(rnd() * 2000) - 1000), '0', '2147483647', '-2147483648', '2147483648', '99999999999']);
    case 'Int64': return pickOf(rnd, ['5', '-7', '9007199254740991', '9007199254740993', '99999999999999999999']);
    case 'Float': return pickOf(rnd, ['1.5', '-0.25e3', '3.0', '1e400']);
    case 'Boolean': return 'true';
    case 'IntOrString': return pickOf(rnd, ['5', '"5%"', '"http"', '99999999999']);
    case 'StringMap': return pickOf(rnd, ['{ a: "b" }', '{ a: "b", c: "d" }', '{ a: 1 }']);
    default: return pickOf(rnd, strings);
  }
}

/**
 * A value of the type. Its structure (which optional fields, list lengths) comes from `shape`,
 * replayed identically for every document of a template; its leaves from `values`.
 */
function literal(type: GraphQLInputType, shape: () => number, values: () => number, bad: number, depth: number): string {
  if (isNonNullType(type)) return literal(type.ofType, shape, values, bad, depth);
  if (isListType(type)) {
    const n = Math.floor(shape() * 3);
    return `[${Array.from({ length: n }, () => literal(type.ofType, shape, values, bad, depth + 1)).join(', ')}]`;
  }
  if (isInputObjectType(type)) {
    if (depth > 3) return '{}';
    const fields = Object.values(type.getFields()).filter((f) => (isNonNullType(f.type) && f.defaultValue === undefined) || shape() < 0.3);
    return `{ ${fields.slice(0, 6).map((f) => `${f.name}: ${literal(f.type, shape, values, bad, depth + 1)}`).join(', ')} }`;
  }
  return leaf(type, values, bad);
}

type RootField = readonly ['query' | 'mutation', GraphQLField<unknown, unknown>];

function selectionOf(field: GraphQLField<unknown, unknown>): string {
  const named = getNamedType(field.type);
  if (isLeafType(named)) return '';
  if (!isObjectType(named)) return '{ __typename }';
  const leaves = Object.values(named.getFields()).filter((f) => isLeafType(getNamedType(f.type)) && !f.args.some((a) => isNonNullType(a.type)));
  return `{ __typename ${leaves.slice(0, 2).map((f) => f.name).join(' ')} }`;
}

/**
 * A template: one root field, asked once, or twice under one response name (the overlap rule then
 * compares their arguments), or twice under two aliases; `render(values, bad)` writes one document.
 */
function template(fields: readonly RootField[], seed: number): (values: () => number, bad: number) => string {
  const rnd = random(seed);
  const [kind, field] = pickOf(rnd, fields);
  const times = pickOf(rnd, ['once', 'once', 'same', 'aliased'] as const);
  const structure = Math.floor(rnd() * 2 ** 30);
  const selection = selectionOf(field);
  return (values, bad) => {
    // The two fields of a pair get the same values (they merge) unless the document asks otherwise.
    const seed = Math.floor(values() * 2 ** 30);
    const differ = bad > 0 && values() < 0.3;
    const call = (leaves: () => number) => {
      const shape = random(structure);
      const args = field.args.filter((a) => isNonNullType(a.type) || shape() < 0.4)
        .map((a) => `${a.name}: ${literal(a.type, shape, leaves, bad, 0)}`);
      return `${field.name}${args.length ? `(${args.join(', ')})` : ''} ${selection}`;
    };
    const first = call(random(seed));
    if (times === 'once') return `${kind} { ${first} }`;
    const second = call(random(differ ? seed + 1 : seed));
    return times === 'same' ? `${kind} { ${first}\n ${second} }` : `${kind} { a: ${first}\n b: ${second} }`;
  };
}

function corpusSchema(): GraphQLSchema {
  const models = crdFiles(corpusDir).flatMap((path) => parseCrdText(relative(corpusDir, path), readFileSync(path, 'utf8')).flatMap((f) => ('model' in f ? [f.model] : [])));
  return buildGraphQLSchema(models).schema;
}

describe('validation of documents by their shape, on the CRD corpus', () => {
  it('reports for every document what graphql-js\' validate() reports with all the rules', (t) => {
    if (!corpusAvailable(t)) return;
    const schema = corpusSchema();
    const roots = [schema.getQueryType()!, schema.getMutationType()!];
    const fields: RootField[] = roots.flatMap((root) => Object.values(root.getFields()).filter((f) => f.args.length)
      .map((f) => [root === roots[0] ? 'query' : 'mutation', f] as const));
    const limits = limitRules({ maxDepth: 4, maxAliases: 1, maxDirectives: 1 }) as ValidationRule[];
    const setups = [
      { rules: [] as ValidationRule[], hideSuggestions: false },
      { rules: [] as ValidationRule[], hideSuggestions: true },
      { rules: limits, hideSuggestions: true },
    ];
    let documents = 0;
    let hits = 0;
    let hitErrors = 0;
    let literalHits = 0;
    for (const [s, setup] of setups.entries()) {
      const validated = new ValidatedDocuments(setup);
      for (let n = 0; n < 50; n++) {
        const render = template(fields, 1000 * s + n);
        const values = random(7 + 1000 * s + n);
        for (let i = 0; i < 12; i++) {
          // The first document of a template has the values its types accept (it warms the
          // shape, if valid); the others mix in values of the same kind the types refuse, and
          // literals of other kinds (another shape).
          const text = render(values, i === 0 ? 0 : i % 4 === 0 ? 0.3 : 0.05);
          const document = parse(text);
          const before = validated.shapeHits;
          const literalBefore = validated.literalShapeHits;
          const actual = validated.errors(schema, document).map((e) => e.toJSON());
          const expected = validate(schema, document, [...specifiedRules, ...setup.rules], { hideSuggestions: setup.hideSuggestions }).map((e) => e.toJSON());
          assert.deepEqual(actual, expected, text);
          documents++;
          if (validated.literalShapeHits > literalBefore) literalHits++;
          if (validated.shapeHits > before) {
            hits++;
            if (expected.length) hitErrors++;
          }
        }
      }
    }
    // Most documents were validated from their shape, and many of those had errors of their values;
    // most of them literal by literal, the others (same-named fields) by the value rules' walk.
    if (process.env['SHAPE_TEST_COUNTS']) console.log({ documents, hits, literalHits, hitErrors });
    assert.ok(hits > documents / 3, `${hits} of ${documents} documents validated from their shape`);
    assert.ok(literalHits > hits / 2 && literalHits < hits, `${literalHits} of ${hits} checked literal by literal`);
    assert.ok(hitErrors > 50, `${hitErrors} documents validated from their shape had errors`);
  });
});

describe('validation of documents by their shape', () => {
  const schema = buildSchema(`
    enum E { A B }
    input In { x: Int, s: String, e: E, list: [Int!], nested: In }
    type Query { a(x: Int, s: String, e: E, in: In): String, b: Query, c(x: Int!): Query }
  `);
  const same = (validated: ValidatedDocuments, text: string, rules: readonly ValidationRule[] = []) => {
    const expected = validate(schema, parse(text), [...specifiedRules, ...rules]).map((e) => e.toJSON());
    assert.deepEqual(validated.errors(schema, parse(text)).map((e) => e.toJSON()), expected, text);
    return expected;
  };

  it('validates a known shape by its values only, with the same errors, limit and abort', () => {
    const validated = new ValidatedDocuments();
    const many = (value: (i: number) => string) => `{ ${Array.from({ length: 150 }, (_, i) => `f${i}: a(x: ${value(i)})`).join(' ')} }`;
    assert.equal(same(validated, many((i) => String(i))).length, 0);
    assert.equal(validated.shapeHits, 0);
    const errors = same(validated, many((i) => (i % 3 ? String(i) : '2147483648')));
    assert.equal(validated.shapeHits, 1);
    assert.equal(validated.literalShapeHits, 1);
    assert.equal(errors.length, 50);
    const limit = same(validated, many(() => '2147483648'));
    assert.equal(limit.length, 101);
    assert.match(limit[100]!.message, /error limit reached/);
    // Same-named fields: equal arguments merge, different ones conflict (up to the error limit).
    const pairs = (n: number, value: (i: number) => string) => `{ ${Array.from({ length: n }, (_, i) => `a(x: ${value(i)})`).join(' ')} }`;
    assert.equal(same(validated, pairs(500, () => '1')).length, 0);
    const hits = validated.shapeHits;
    assert.match(same(validated, pairs(500, (i) => String(i % 2))).at(-1)!.message, /error limit reached/);
    assert.equal(validated.shapeHits, hits + 1);
    // A document whose comparisons run out of the overlap rule's budget is never a known valid shape.
    assert.equal(same(validated, pairs(1100, () => '1')).at(-1)!.message, 'Validation aborted.');
    assert.equal(same(validated, pairs(1100, (i) => String(i % 2))).at(-1)!.message, 'Validation aborted.');
    assert.equal(validated.shapeHits, hits + 1);
    assert.ok(same(validated, '{ a(x: 1) b { a } a(x: 1) }').length === 0);
    assert.ok(same(validated, '{ a(x: 2) b { a } a(x: 3) }').length > 0);
  });

  it('checks a list at the place of a scalar as one value, as graphql-js does', () => {
    // JSON takes a list; ValuesOfCorrectTypeRule parses the whole list and reports its first bad
    // value only. Checked literal by literal, [1e400, 1e401] once gave two errors.
    const json = buildGraphQLSchema([]).schema.getType('JSON');
    const withJson = buildSchema('scalar JSON type Query { f(v: JSON, i: [Int]): String }');
    Object.assign(withJson.getType('JSON')!, { parseLiteral: (json as import('graphql').GraphQLScalarType).parseLiteral });
    const validated = new ValidatedDocuments();
    for (const text of ['{ f(v: [1.5, 2.5]) }', '{ f(v: [1e400, 1e401]) }', '{ f(v: [1.5, 1e401]) }', '{ f(i: [1, 2]) }', '{ f(i: [2147483648, 2147483649]) }']) {
      const expected = validate(withJson, parse(text)).map((e) => e.toJSON());
      assert.deepEqual(validated.errors(withJson, parse(text)).map((e) => e.toJSON()), expected, text);
    }
    assert.equal(validated.shapeHits, 3);
    assert.equal(validated.literalShapeHits, 1, 'only the list of Int is checked literal by literal');
  });

  it('checks the limit rules of the shape, and the extra rules not marked as reading no value, on every document', () => {
    const limits = limitRules({ maxAliases: 1 }) as ValidationRule[];
    const withLimits = new ValidatedDocuments({ rules: limits });
    assert.equal(same(withLimits, '{ a(s: "x") }', limits).length, 0);
    assert.equal(same(withLimits, '{ a(s: "a longer value") }', limits).length, 0);
    assert.equal(withLimits.shapeHits, 1);
    assert.equal(same(withLimits, '{ one: a(s: "x") two: a(s: "y") }', limits).length, 1);
    // An extra rule that reads values runs again for each document of a shape.
    const secretRule: ValidationRule = (context) => ({
      StringValue(node) { if (node.value === 'secret') context.reportError(new GraphQLError('a secret', { nodes: node })); },
    });
    const custom = new ValidatedDocuments({ rules: [secretRule] });
    assert.equal(same(custom, '{ a(s: "public") }', [secretRule]).length, 0);
    assert.equal(same(custom, '{ a(s: "secret") }', [secretRule]).length, 1);
    assert.equal(custom.shapeHits, 1);
    // Marked as reading no value, it is trusted to give the shape's verdict (the mark is a promise).
    const marked = new ValidatedDocuments({ rules: [markShapeOnly((context) => secretRule(context))] });
    marked.errors(schema, parse('{ a(s: "public") }'));
    assert.equal(marked.errors(schema, parse('{ a(s: "secret") }')).length, 0);
  });

  it('remembers shapes up to its bound in characters, the least recently used first out', () => {
    const validated = new ValidatedDocuments({ maxShapeChars: 100 });
    const shapes = Array.from({ length: 10 }, (_, i) => (x: number) => `{ f${i}: a(x: ${x}) }`);
    for (const shape of shapes) validated.errors(schema, parse(shape(1)));
    validated.errors(schema, parse(shapes[9]!(2)));
    assert.equal(validated.shapeHits, 1);
    validated.errors(schema, parse(shapes[0]!(2)));
    assert.equal(validated.shapeHits, 1, 'the first shape was let go');
  });

  it('keeps the shapes of each schema apart', () => {
    const other = buildSchema('type Query { a(x: Boolean): String }');
    const validated = new ValidatedDocuments();
    assert.equal(validated.errors(schema, parse('{ a(x: 1) }')).length, 0);
    assert.deepEqual(validated.errors(other, parse('{ a(x: 2) }')).map(String), validate(other, parse('{ a(x: 2) }')).map(String));
    assert.equal(validated.shapeHits, 0);
  });

  it('gives one key to documents that differ only in string, number and enum literals', () => {
    const key = (text: string) => shapeOf(parse(text))?.key;
    const sameKey = [
      ['{ a(x: 1, s: "x", e: A) }', '{ a(x: -20000000000, s: "a \\" longer", e: NOT_A_VALUE) }'],
      ['{ a(in: { x: 1, list: [1, 2], nested: { s: "x" } }) }', '{ a(in: { x: 9, list: [3, 4], nested: { s: """y""" } }) }'],
      ['query Q($v: Int = 3) { a(x: $v) }', 'query Q($v: Int = 4) { a(x: $v) }'],
      ['{ a(s: "") @skip(if: true) }', '{ a(s: "z") @skip(if: true) }'],
    ];
    for (const [x, y] of sameKey) assert.equal(key(x!), key(y!), `${x} / ${y}`);
    const otherKey = [
      ['{ a(x: 1) }', '{ a(x: 1.5) }'], ['{ a(x: 1) }', '{ a(x: "1") }'], ['{ a(e: A) }', '{ a(e: "A") }'],
      ['{ a(x: 1) }', '{ a(x: null) }'], ['{ a(x: 1) }', '{ a(x: [1]) }'], ['{ a(in: { x: 1 }) }', '{ a(in: { s: 1 }) }'],
      ['{ a(in: { list: [1] }) }', '{ a(in: { list: [1, 2] }) }'], ['{ a(x: 1) }', '{ b: a(x: 1) }'], ['{ a(x: 1) }', '{ a(s: 1) }'],
      ['{ a(x: 1) }', '{ c(x: 1) }'], ['{ a(x: true) }', '{ a(x: false) }'], ['query ($v: Int) { a(x: $v) }', 'query ($w: Int) { a(x: $w) }'],
      ['query ($v: Int = 1) { a(x: $v) }', 'query ($v: Int = null) { a(x: $v) }'], ['{ a(x: 1) }', '{ a(x: 1) @skip(if: true) }'],
      ['{ ...F } fragment F on Query { a(x: 1) }', '{ ...G } fragment G on Query { a(x: 1) }'], ['{ a(x: 1) }', '{ a(x: 1) }\n'],
    ];
    for (const [x, y] of otherKey) assert.notEqual(key(x!), key(y!), `${x} / ${y}`);
    // Subscriptions are not keyed (their validation evaluates @skip/@include).
    assert.equal(shapeOf(parse('subscription { a }')), undefined);
    assert.equal(shapeOf(parse('{ a(x: 1) }', { noLocation: true })), undefined);
  });

  it('knows when no two fields can be compared for merging', () => {
    assert.equal(shapeOf(parse('{ a(x: 1) b { a c: a } }'))!.overlaps, false);
    assert.equal(shapeOf(parse('{ a(x: 1) b { a a } }'))!.overlaps, true);
    assert.equal(shapeOf(parse('{ a(x: 1) b { c: a c: b { a } } }'))!.overlaps, true);
    assert.equal(shapeOf(parse('{ a ... on Query { a } }'))!.overlaps, true);
    assert.equal(shapeOf(parse('{ ...F } fragment F on Query { a }'))!.overlaps, true);
  });
});
