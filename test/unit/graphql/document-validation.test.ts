// The document rules must report exactly what graphql-js' specifiedRules report, for any document:
// graphql-js' own test cases for the replaced rule, and a differential run over generated
// documents (known, unknown and misspelled type names in every position a type name can take,
// unknown fields, SDL definitions inside executable documents, several errors at once), with
// suggestions on and off.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { buildSchema, KnownTypeNamesRule, parse, specifiedRules, validate, type GraphQLError, type GraphQLSchema } from 'graphql';
import { parse as parseYaml } from 'yaml';
import { documentRules, KnownTypeNamesWithoutListRule, ValidatedDocuments, validateDocument } from '../../../src/graphql/document-validation.ts';
import { buildGraphQLSchema } from '../../../src/graphql/schema-builder.ts';
import { crdToModel } from '../../../src/model/crd-to-model.ts';

// The schema of graphql-js' validation test harness, in the parts its KnownTypeNamesRule cases use.
const harness = buildSchema(`
  interface Pet { name: String }
  type Dog implements Pet { name: String barks: Boolean }
  type Cat implements Pet { name: String meows: Boolean }
  union CatOrDog = Cat | Dog
  type Human { name: String pets: [Pet] }
  input ComplexInput { requiredField: Boolean! stringField: String }
  enum FurColor { BROWN BLACK }
  type Query { human(id: ID): Human dog: Dog cat: Cat catOrDog: CatOrDog pet: Pet }
  type Mutation { addPet(input: ComplexInput): Pet }
`);

const example = (file: string) => crdToModel(parseYaml(readFileSync(new URL(`../../../deploy/examples/${file}`, import.meta.url), 'utf8')));
const crdgate = buildGraphQLSchema([example('crontab-crd.yaml'), example('clustercrontab-crd.yaml')]).schema;

const plain = (errors: readonly GraphQLError[]) => errors.map((e) => e.toJSON());
const reference = (schema: GraphQLSchema, text: string, hideSuggestions = false) =>
  plain(validate(schema, parse(text), specifiedRules, { hideSuggestions }));
const ours = (schema: GraphQLSchema, text: string, hideSuggestions = false) =>
  plain(validateDocument(schema, parse(text), { hideSuggestions }));

describe('document rules', () => {
  it('are graphql-js\' specified rules, in order, with only KnownTypeNamesRule replaced', () => {
    assert.equal(documentRules.length, specifiedRules.length);
    documentRules.forEach((rule, i) => assert.equal(rule, specifiedRules[i] === KnownTypeNamesRule ? KnownTypeNamesWithoutListRule : specifiedRules[i]));
  });

  it('never list the schema\'s type names for a valid document, or with suggestions hidden (their cost grows with the schema)', () => {
    const schema = buildGraphQLSchema([example('crontab-crd.yaml'), example('clustercrontab-crd.yaml')]).schema;
    const internals = schema as unknown as { _typeMap: Record<string, unknown> };
    const valid = `query Q($n: String!, $ns: String!) { cronTab_stable_example_com(namespace: $ns, name: $n) { metadata { name labels } spec { cronSpec replicas } } }`;
    // The schema's own validation, once per schema (the gateway's are built valid and skip it).
    assert.deepEqual(ours(schema, valid), []);
    let listed = 0;
    internals._typeMap = new Proxy(internals._typeMap, { ownKeys: (target) => (listed++, Reflect.ownKeys(target)) });
    assert.deepEqual(ours(schema, valid), []);
    assert.deepEqual(ours(schema, 'query($v: NoSuchType) { __typename }', true).map((e) => e.message), ['Unknown type "NoSuchType".', 'Variable "$v" is never used.']);
    assert.equal(listed, 0);
    // The instrument sees graphql-js' own rule list the names.
    reference(schema, valid);
    assert.ok(listed > 0);
  });

  it('pass graphql-js\' own cases for known type names', () => {
    const valid = `
      query Foo($var: String, $required: [ID!]!, $introspectionType: __EnumValue) {
        human(id: 4) { pets { ... on Pet { name }, ...PetFields, ... { name } } }
      }
      fragment PetFields on Pet { name }`;
    const only = (errors: ReturnType<typeof plain>) => errors.filter((e) => e.message.startsWith('Unknown type'));
    assert.deepEqual(only(ours(harness, valid)), []);
    assert.deepEqual(ours(harness, valid), reference(harness, valid));
    const invalid = `
      query Foo($var: [JumbledUpLetters!]!) {
        human(id: 4) { name pets { ... on Badger { name }, ...PetFields } }
      }
      fragment PetFields on Peat { name }`;
    const expected = [
      { message: 'Unknown type "JumbledUpLetters".', locations: [{ line: 2, column: 24 }] },
      { message: 'Unknown type "Badger".', locations: [{ line: 3, column: 43 }] },
      { message: 'Unknown type "Peat". Did you mean "Pet" or "Cat"?', locations: [{ line: 5, column: 29 }] },
    ];
    assert.deepEqual(only(ours(harness, invalid)), expected);
    assert.deepEqual(ours(harness, invalid), reference(harness, invalid));
    const standard = buildSchema('type Query { foo: String }');
    assert.deepEqual(only(ours(standard, 'query ($id: ID, $float: Float) { __typename }')), [
      { message: 'Unknown type "ID".', locations: [{ line: 1, column: 13 }] },
      { message: 'Unknown type "Float".', locations: [{ line: 1, column: 25 }] },
    ]);
  });

  it('leave the suggestions out when they are hidden, as graphql-js does', () => {
    const text = 'query ($a: Peat) { human { name } } fragment F on Huma { name }';
    assert.deepEqual(ours(harness, text, true), reference(harness, text, true));
    assert.ok(ours(harness, text, true).every((e) => !e.message.includes('Did you mean')));
    assert.ok(ours(harness, text).some((e) => e.message.includes('Did you mean')));
  });

  it('report what graphql-js reports for SDL definitions inside an executable document', () => {
    const text = `
      query { __typename }
      type Extra { a: String b: Extra c: Unknown d: ID e: __EnumValue }
      extend type Query { f(x: Inputt): Int }
      input In { g: Boolen }`;
    for (const hide of [false, true]) assert.deepEqual(ours(harness, text, hide), reference(harness, text, hide));
  });

  it('suggest type names for the first three unknown names of a document only, each from names of a near length', () => {
    const names = Array.from({ length: 40 }, (_, i) => `Pett${i}`);
    const text = `query(${names.map((n, i) => `$v${i}: ${n}`).join(', ')}) { __typename }`;
    const got = ours(harness, text, false).filter((e) => e.message.startsWith('Unknown type'));
    assert.equal(got.length, 40);
    assert.deepEqual(got.slice(0, 3), reference(harness, text, false).filter((e) => e.message.startsWith('Unknown type')).slice(0, 3));
    assert.ok(got.slice(0, 3).every((e) => / Did you mean "Pet"\?$/.test(e.message)), JSON.stringify(got.slice(0, 3)));
    assert.ok(got.slice(3).every((e) => !/Did you mean/.test(e.message)));
    // A name met again keeps its suggestion, and does not use up the budget.
    const again = `query($a: Pett0, $b: Pett0, $c: Pett0, $d: Pett1, $e: Pett2, $f: Pett3) { __typename }`;
    const messages = ours(harness, again, false).filter((e) => e.message.startsWith('Unknown type')).map((e) => /Did you mean/.test(e.message));
    assert.deepEqual(messages, [true, true, true, true, true, false]);
  });

  it('agree with graphql-js on generated documents, with suggestions on and off (suggested type names: for the first three unknown ones)', () => {
    let suggested = 0;
    for (const schema of [harness, crdgate]) {
      fc.assert(fc.property(documentOf(schema), fc.boolean(), (text, hide) => {
        const expected = firstThreeSuggested(reference(schema, text, hide));
        assert.deepEqual(ours(schema, text, hide), expected, text);
        if (expected.some((e) => /^Unknown type .*Did you mean/.test(e.message))) suggested++;
      }), { numRuns: 400 });
    }
    // The generator reaches the replaced rule's suggestions, not only its silent paths.
    assert.ok(suggested > 20, `only ${suggested} documents had a suggested type name`);
  });
});

/** graphql-js' errors, with "Did you mean" kept for the first three distinct unknown type names only, as the gateway makes them. */
function firstThreeSuggested<T extends { message: string }>(errors: T[]): T[] {
  const suggested = new Set<string>();
  return errors.map((e) => {
    const name = /^Unknown type "([^"]*)"/.exec(e.message)?.[1];
    if (name === undefined) return e;
    if (suggested.size < 3) suggested.add(name);
    return suggested.has(name) ? e : { ...e, message: e.message.replace(/ Did you mean .*$/, '') };
  });
}

describe('a subscription whose root selection may be skipped', () => {
  const ticks = buildSchema('type Query { a: String } type Tick { a: String b: String } type Subscription { tick: Tick other: Tick }');
  const refusal = (name: string) => `${name} must not use \`@skip\` or \`@include\` directives in the top level selection.`;

  it('is refused with what the GraphQL specification says, whether the condition is a variable, a literal or in a fragment at the root', () => {
    const variable = 'subscription S($v: Boolean!) { tick @include(if: $v) { a } }';
    // graphql-js 16 throws on it; pinning the condition for its sake reported $v as never used.
    assert.throws(() => reference(ticks, variable));
    assert.deepEqual(ours(ticks, variable), [{ message: refusal('Subscription "S"'), locations: [{ line: 1, column: 37 }] }]);
    assert.deepEqual(ours(ticks, 'subscription { tick @skip(if: false) { a } }').map((e) => e.message), [refusal('Anonymous Subscription')]);
    assert.deepEqual(ours(ticks, 'subscription S { ...F } fragment F on Subscription { tick @include(if: true) { a } }').map((e) => e.message), [refusal('Subscription "S"')]);
    assert.deepEqual(ours(ticks, 'subscription S($v: Boolean!) { ... @include(if: $v) { tick { a } } }').map((e) => e.message), [refusal('Subscription "S"')]);
    assert.deepEqual(ours(ticks, 'query Q { a } subscription S($v: Boolean!) { tick @skip(if: $v) { a } }').map((e) => e.message), [refusal('Subscription "S"')]);
  });

  it('is not: conditions below the root field, and on a query\'s root fields, are validated as graphql-js does', () => {
    for (const text of [
      'subscription S($v: Boolean!) { tick { a @include(if: $v) b } }',
      'subscription S { ...F } fragment F on Subscription { tick { a @skip(if: true) } }',
      'query Q($v: Boolean!) { a @include(if: $v) }',
    ]) assert.deepEqual(ours(ticks, text), reference(ticks, text), text);
  });
});

describe('ValidatedDocuments', () => {
  it('validates a document once per schema and remembers its errors', () => {
    const cache = new ValidatedDocuments({ hideSuggestions: true });
    const document = parse('{ human { nam } }');
    const first = cache.errors(harness, document);
    assert.equal(first.length, 1);
    assert.equal(cache.errors(harness, document), first);
    const other = buildSchema('type Query { human: String }');
    assert.notEqual(cache.errors(other, document), first);
  });

  it('runs the extra rules after the specified ones', () => {
    const seen: string[] = [];
    const cache = new ValidatedDocuments({ rules: [() => ({ Field: (node) => void seen.push(node.name.value) })] });
    assert.deepEqual(cache.errors(harness, parse('{ dog { name } }')), []);
    assert.deepEqual(seen, ['dog', 'name']);
  });
});

/** Documents made of operations, fragments and SDL definitions whose type names are known, misspelled or made up. */
function documentOf(schema: GraphQLSchema): fc.Arbitrary<string> {
  const known = Object.keys(schema.getTypeMap());
  const typo = fc.constantFrom(...known).chain((name) => fc.nat(name.length).map((i) => name.slice(0, i) + name.slice(i + 1) || 'X'));
  const typeName = fc.oneof(fc.constantFrom(...known), typo, fc.constantFrom('Int', 'ID', 'Float', 'JumbledUp', '__Type', 'Strin'));
  const wrapped = fc.tuple(typeName, fc.constantFrom('%', '%!', '[%]', '[%!]!', '[[%]]')).map(([n, w]) => w.replace('%', n));
  const roots = [schema.getQueryType(), schema.getMutationType()].filter((t) => t != null);
  const field = fc.constantFrom(...roots.flatMap((t) => Object.keys(t.getFields()).slice(0, 30)), '__typename', 'missingField');
  const selection = fc.tuple(fc.constantFrom('', '__typename', 'name', 'metadata { name }', '... on %T { __typename }', '...Frag'), typeName)
    .map(([s, t]) => s.replace('%T', t));
  const operation = fc.tuple(fc.constantFrom('query', 'mutation', 'subscription'), fc.array(wrapped, { maxLength: 3 }), field, selection)
    .map(([kind, vars, f, sel]) => `${kind}${vars.length ? `(${vars.map((v, i) => `$v${i}: ${v}`).join(', ')})` : ''} { ${f}${sel ? ` { ${sel} }` : ''} }`);
  const fragment = fc.tuple(typeName, fc.constantFrom('__typename', 'name')).map(([t, f]) => `fragment Frag on ${t} { ${f} }`);
  const sdl = fc.tuple(fc.constantFrom('type', 'input', 'extend type', 'interface'), typeName, wrapped)
    .map(([kind, name, fieldType]) => `${kind} ${name} { field: ${fieldType} }`);
  return fc.tuple(operation, fc.option(fragment), fc.option(sdl), fc.option(operation))
    .map((parts) => parts.filter((p) => p !== null).join('\n'));
}
