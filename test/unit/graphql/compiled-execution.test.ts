// The planned execution must give exactly what graphql-js' execute gives: the same data (null
// prototypes included), the same errors in the same order with the same messages, paths and
// locations, and the same null propagation. Compared on a schema made for the edge cases with
// random data, and on every CRD of the corpus with its sample object and random damage to it.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';
import {
  GraphQLEnumType, GraphQLInt, GraphQLInterfaceType, GraphQLList, GraphQLNonNull, GraphQLObjectType, GraphQLScalarType, GraphQLSchema, GraphQLString,
  execute, parse, type ExecutionArgs, type ExecutionResult,
} from 'graphql';
import { parseCrdText } from '../../../src/cli/crd-documents.ts';
import { PlannedExecution, executePlan, planOperation, sourceOnly } from '../../../src/graphql/compiled-execution.ts';
import { buildGraphQLSchema } from '../../../src/graphql/schema-builder.ts';
import { stringifyJson } from '../../../src/kube/lossless-json.ts';
import { rootFieldNames } from '../../../src/model/graphql-type-names.ts';
import { sampleObject } from '../../../src/model/sample-object.ts';
import { corpusAvailable, corpusDir, crdFiles } from '../../helpers/crd-corpus.ts';
import { fullSelection } from '../graphql-selection.ts';
import { InMemoryOperations } from '../in-memory-operations.ts';

/** What a client can see of a result, plus the prototypes and the original errors' messages. */
function observed(result: ExecutionResult): unknown {
  return {
    data: result.data === undefined ? 'absent' : stringifyJson(result.data),
    nullPrototype: result.data ? Object.getPrototypeOf(result.data) === null : undefined,
    errors: result.errors?.map((e) => ({ message: e.message, path: e.path, locations: e.locations, original: e.originalError?.message })),
  };
}

async function same(args: ExecutionArgs, what: string): Promise<ExecutionResult> {
  const plan = planOperation(args.schema, args.document, args.operationName ?? undefined);
  assert.ok(plan, `${what}: planned`);
  const expected = await execute(args);
  const actual = await executePlan(plan, args);
  assert.deepEqual(observed(actual), observed(expected), what);
  return actual;
}

/** A small deterministic random source, so a failure names its seed. */
function random(seed: number): () => number {
  // Spread over 32 bits: from a small state, xorshift's first numbers are all near 0.
  let s = Math.imul(seed, 2654435761) >>> 0 || 1;
  const next = () => {
    s ^= s << 13; s >>>= 0; s ^= s >> 17; s ^= s << 5; s >>>= 0;
    return s / 4294967296;
  };
  for (let i = 0; i < 4; i++) next();
  return next;
}

// --- a schema made for the edge cases ---
const Odd = new GraphQLScalarType({
  name: 'Odd',
  serialize: (v) => {
    if (typeof v !== 'number') throw new TypeError(`Odd cannot represent ${typeof v}`);
    return v % 2 ? v : null; // an even number: serialize returns null, which graphql-js refuses
  },
});
const Color = new GraphQLEnumType({ name: 'Color', values: { RED: { value: 'red' }, BLUE: { value: 'blue' } } });
const Named = new GraphQLInterfaceType({ name: 'Named', fields: { name: { type: GraphQLString } } });
const Leaf: GraphQLObjectType = new GraphQLObjectType({
  name: 'Leaf',
  interfaces: [Named],
  fields: () => ({
    name: { type: GraphQLString },
    size: { type: new GraphQLNonNull(GraphQLInt) },
    odd: { type: Odd },
    color: { type: Color },
    renamed: { type: GraphQLString, resolve: sourceOnly((src: Record<string, unknown>) => src['other-name']) },
    failing: { type: GraphQLString, resolve: sourceOnly((src: Record<string, unknown>) => { if (src['fail']) throw new Error('failing field'); return 'fine'; }) },
    tags: { type: new GraphQLList(new GraphQLNonNull(GraphQLString)) },
    matrix: { type: new GraphQLList(new GraphQLList(GraphQLInt)) },
    child: { type: Leaf },
    children: { type: new GraphQLNonNull(new GraphQLList(new GraphQLNonNull(Leaf))) },
  }),
});
const ListType = new GraphQLObjectType({
  name: 'LeafList',
  fields: { items: { type: new GraphQLNonNull(new GraphQLList(Leaf)) }, continue: { type: GraphQLString } },
});
let rootData: unknown;
const rootValue = () => (rootData instanceof Error ? rootData : structuredClone(rootData));
const edgeSchema = new GraphQLSchema({
  types: [Leaf],
  query: new GraphQLObjectType({
    name: 'Query',
    fields: {
      leaf: { type: Leaf, args: { name: { type: GraphQLString } }, resolve: () => { const v = rootValue(); if (v instanceof Error) throw v; return v; } },
      leafAsync: { type: Leaf, resolve: async () => { const v = rootValue(); if (v instanceof Error) throw v; return v; } },
      mustLeaf: { type: new GraphQLNonNull(Leaf), resolve: async () => rootValue() },
      leaves: { type: ListType, args: { limit: { type: new GraphQLNonNull(GraphQLInt) } }, resolve: (_s, args) => ({ items: [rootValue(), rootValue(), null].slice(0, (args as { limit: number }).limit), continue: 'c' }) },
      other: { type: GraphQLString, resolve: () => 'x' },
    },
  }),
});

const edgeDocuments = [
  '{ leaf { name size odd color renamed failing tags matrix child { name size child { size } } children { name size } } }',
  'query($n: String) { leaf(name: $n) { __typename n: name ...F ... on Leaf { size tags } ... on Named { name } child { ...F } } } fragment F on Leaf { odd color child { size } }',
  '{ leafAsync { name size children { size children { size } } } }',
  '{ mustLeaf { name size children { size } } }',
  'query Q($limit: Int!) { leaves(limit: $limit) { continue items { name size odd } } }',
  '{ leaf { a: child { name } a: child { size } b: child { size } } }',
];

/** `bad`: how often a value is replaced by one of the wrong kind. */
function randomLeaf(next: () => number, depth: number, bad = 0.2): unknown {
  const pick = <T>(...xs: T[]) => xs[Math.floor(next() * xs.length)]!;
  const value = (good: () => unknown) => (next() >= bad ? good() : pick<unknown>(null, undefined, 'text', 3, 4, { a: 1 }, [1], true, new Error('stored error'), () => 'fn'));
  const leaf: Record<string, unknown> = {
    name: value(() => pick('a', 'b')),
    size: value(() => pick(1, 2, 3)),
    odd: value(() => pick(1, 3, 5)),
    color: value(() => pick('red', 'blue')),
    'other-name': value(() => 'renamed'),
    fail: next() < bad * 0.75,
    tags: value(() => Array.from({ length: Math.floor(next() * 3) }, () => value(() => 'tag'))),
    matrix: value(() => [[1, value(() => 2)], value(() => [3])]),
    child: depth > 0 ? value(() => randomLeaf(next, depth - 1, bad)) : null,
    children: depth > 0 ? value(() => Array.from({ length: Math.floor(next() * 3) }, () => value(() => randomLeaf(next, depth - 1, bad)))) : [],
  };
  return leaf;
}

describe('planned execution', () => {
  it('gives what graphql-js gives on random data, errors and null propagation included', async () => {
    let withErrors = 0;
    let nullData = 0;
    let rootErrors = 0;
    for (let seed = 1; seed <= 400; seed++) {
      const next = random(seed);
      // One seed in four with (nearly) no damage, for the answers without errors.
      rootData = next() < 0.05 ? new Error('root failed') : next() < 0.05 ? null : randomLeaf(next, 3, seed % 4 ? 0.2 : 0.005);
      for (const [i, source] of edgeDocuments.entries()) {
        const result = await same({ schema: edgeSchema, document: parse(source), rootValue: undefined, variableValues: { n: 'x', limit: 3 } }, `seed ${seed}, document ${i}`);
        if (result.errors) withErrors++;
        if (rootData instanceof Error) rootErrors++;
        if (result.data === null) nullData++;
      }
    }
    // The random data must reach the error paths, not only the happy one.
    assert.ok(withErrors > 600 && nullData > 10, `${withErrors} results with errors, ${nullData} with null data`);
    assert.ok(rootErrors < withErrors / 4, `${rootErrors} of the ${withErrors} results with errors failed at the root`);
    assert.ok(withErrors < 400 * edgeDocuments.length - 300, `${withErrors} results with errors: too few without`);
  });

  it('gives graphql-js\' errors for variables that do not coerce, and selects the named operation', async () => {
    rootData = randomLeaf(random(7), 2);
    const document = parse('query A($limit: Int!) { leaves(limit: $limit) { items { name } } } query B { leaf { size } }');
    await same({ schema: edgeSchema, document, operationName: 'A', variableValues: { limit: 'many' } }, 'bad variable');
    await same({ schema: edgeSchema, document, operationName: 'A', variableValues: {} }, 'missing variable');
    await same({ schema: edgeSchema, document, operationName: 'B' }, 'second operation');
  });

  it('leaves to graphql-js what it does not plan', () => {
    const unplanned = [
      '{ leaf { name } other }', // two root fields
      '{ leaf { name @include(if: true) } }', // directives depend on variables
      '{ leaf { ... on Named { name } } } ', // planned: a fragment on an interface the type implements
      'query A { leaf { name } } query B { leaf { size } }', // no operation name, two operations
      '{ __typename }',
      '{ __schema { queryType { name } } }',
    ];
    const planned = unplanned.map((source) => planOperation(edgeSchema, parse(source), undefined) !== null);
    assert.deepEqual(planned, [false, false, true, false, false, false]);
    const untagged = new GraphQLSchema({
      query: new GraphQLObjectType({
        name: 'Query',
        fields: { x: { type: new GraphQLObjectType({ name: 'X', fields: { y: { type: GraphQLString, resolve: (_s, _a, context) => String(context) } } }), resolve: () => ({}) } },
      }),
    });
    assert.equal(planOperation(untagged, parse('{ x { y } }'), undefined), null, 'a resolver that may read the context');
  });

  it('plans a document the second time it is executed, and answers the same both times', async () => {
    rootData = randomLeaf(random(3), 2);
    const planned = new PlannedExecution();
    const document = parse(edgeDocuments[0]!);
    const args = { schema: edgeSchema, document };
    const first = await planned.execute(args);
    const second = await planned.execute(args);
    assert.deepEqual(observed(second), observed(first));
    assert.deepEqual(observed(second), observed(await execute(args)));
  });
});

describe('planned execution of new documents by their shape', () => {
  it('plans a new document whose shape was executed before, with its own arguments and locations', async () => {
    const planned = new PlannedExecution();
    const next = random(11);
    let fromShape = 0;
    for (let i = 0; i < 60; i++) {
      rootData = randomLeaf(next, 2);
      // A new document each time, of one of two shapes: the limit inline (its digits move the
      // locations of the fields after it, which errors report), or another root field.
      const limit = [0, 1, 2, 3, 10, 300][Math.floor(next() * 6)]!;
      const text = next() < 0.15
        ? `{ leaf(name: "n${i}") { name size } }`
        : `{ leaves(limit: ${limit}) { continue items { name size odd failing } } }`;
      const args = { schema: edgeSchema, document: parse(text), rootValue: undefined };
      const before = planned.plannedByShape;
      const actual = await planned.execute(args);
      if (planned.plannedByShape > before) fromShape++;
      assert.deepEqual(observed(actual), observed(await execute({ ...args, document: parse(text) })), text);
    }
    assert.ok(fromShape > 30, `${fromShape} of 60 new documents planned from their shape`);
  });

  it('executes every later document of a shape from one plan, with that document\'s own nodes, fragments and locations', async () => {
    const planned = new PlannedExecution();
    const next = random(23);
    const text = (name: string) => `query Q { leaf(name: ${JSON.stringify(name)}) { __typename n: name ...F ... on Leaf { size tags } child { ...F } failing } } fragment F on Leaf { odd color child { size failing } }`;
    for (let i = 0; i < 40; i++) {
      rootData = randomLeaf(next, 2);
      // Names of different lengths move the locations of every field after them.
      const name = 'x'.repeat(Math.floor(next() * 12));
      const args = { schema: edgeSchema, document: parse(text(name)), rootValue: undefined };
      assert.deepEqual(observed(await planned.execute(args)), observed(await execute({ ...args, document: parse(text(name)) })), `document ${i}`);
    }
    assert.equal(planned.plannedByShape, 39, 'all but the first from the shape\'s plan (the second is planned by it)');
  });

  it('keeps no document in the plan of a shape', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const planned = new PlannedExecution();
    const text = (name: string) => `{ leaf(name: "${name}") { name size child { name } } }`;
    rootData = randomLeaf(random(3), 1);
    const documents: WeakRef<object>[] = [];
    // In a function of its own: the suspended test function holds no document.
    const run = async (name: string) => {
      const document = parse(text(name));
      documents.push(new WeakRef(document));
      await planned.execute({ schema: edgeSchema, document });
    };
    for (let i = 0; i < 3; i++) await run(`n${i}`);
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(documents.map((ref) => ref.deref() === undefined), [true, true, true], 'the documents planned and executed are collected');
    const before = planned.plannedByShape;
    const args = { schema: edgeSchema, document: parse(text('a later one')), rootValue: undefined };
    assert.deepEqual(observed(await planned.execute(args)), observed(await execute({ ...args, document: parse(text('a later one')) })));
    assert.equal(planned.plannedByShape, before + 1, 'a later document still runs from the shape\'s plan');
  });

  it('hands a resolver the nodes of the document executed, not those of the document planned', async () => {
    const seen: { fieldNode: unknown; operation: unknown; fragments: unknown }[] = [];
    const schema = new GraphQLSchema({
      query: new GraphQLObjectType({
        name: 'Query',
        fields: { echo: { type: GraphQLString, args: { text: { type: GraphQLString } }, resolve: (_s, args: { text?: string }, _c, info) => {
          seen.push({ fieldNode: info.fieldNodes[0], operation: info.operation, fragments: info.fragments });
          return args.text;
        } } },
      }),
    });
    const planned = parse('{ echo(text: "first") }');
    const plan = planOperation(schema, planned, undefined)!;
    const other = parse('{ echo(text: "a longer text") }');
    const result = await executePlan(plan, { schema, document: other });
    assert.deepEqual(result.data, Object.assign(Object.create(null), { echo: 'a longer text' }));
    const operation = other.definitions[0] as import('graphql').OperationDefinitionNode;
    assert.equal(seen[0]!.operation, operation);
    assert.equal(seen[0]!.fieldNode, operation.selectionSet.selections[0]);
    assert.throws(() => executePlan(plan, { schema, document: parse('{ other }') }), /plan of another shape/);
  });

  it('hides the suggestions in the errors of variables when asked, as graphql-js does', async () => {
    const planned = new PlannedExecution();
    rootData = randomLeaf(random(4), 1);
    const text = 'query Q($c: Color) { leaf(name: "x") { name } } ';
    const document = parse(text);
    for (let i = 0; i < 3; i++) await planned.execute({ schema: edgeSchema, document, variableValues: { c: 'RED' } });
    for (const hideSuggestions of [true, false]) {
      const args = { schema: edgeSchema, document, variableValues: { c: 'REDD' }, hideSuggestions };
      const expected = await execute(args);
      assert.equal(/Did you mean/.test(String(expected.errors?.[0]?.message)), !hideSuggestions);
      assert.deepEqual(observed(await planned.execute(args)), observed(expected), `hideSuggestions: ${hideSuggestions}`);
    }
  });

  it('refuses an operation name of "" as graphql-js does, after the document or its shape was planned without a name', async () => {
    // "" names no operation; it once found the plan kept for the document's only operation.
    const planned = new PlannedExecution();
    rootData = randomLeaf(random(9), 1);
    const text = (name: string) => `{ leaf(name: "${name}") { name size } }`;
    const kept = parse(text('kept'));
    for (let i = 0; i < 3; i++) await planned.execute({ schema: edgeSchema, document: i === 2 ? kept : parse(text(`n${i}`)) });
    await planned.execute({ schema: edgeSchema, document: kept });
    for (const document of [kept, parse(text('new'))]) {
      const args = { schema: edgeSchema, document, operationName: '' };
      const expected = await execute(args);
      assert.match(String(expected.errors?.[0]?.message), /Unknown operation named ""/);
      assert.deepEqual(observed(await planned.execute(args)), observed(expected));
    }
  });

  it('leaves to graphql-js a new document whose shape is not planned, and plans none of a shape seen once', async () => {
    const planned = new PlannedExecution();
    rootData = randomLeaf(random(5), 1);
    for (let i = 0; i < 3; i++) await planned.execute({ schema: edgeSchema, document: parse(`{ leaf(name: "${i}") @skip(if: false) { name } }`) });
    await planned.execute({ schema: edgeSchema, document: parse('{ leaves(limit: 1) { continue } }') });
    assert.equal(planned.plannedByShape, 0);
  });
});

describe('planned execution on the CRD corpus', () => {
  if (!existsSync(corpusDir)) {
    it('is available', (t) => {
      corpusAvailable(t);
    });
    return;
  }

  it('gives what graphql-js gives for the get and list of every served version, with the sample and with damaged copies', async (t) => {
    let compared = 0;
    let withErrors = 0;
    // New documents of one shape (the name inline), executed through the executor that plans them by shape.
    const byShape = new PlannedExecution();
    for (const path of crdFiles(corpusDir)) {
      const models = parseCrdText(path, readFileSync(path, 'utf8')).flatMap((f) => ('model' in f ? [f.model] : []));
      const ops = new InMemoryOperations();
      const { schema } = buildGraphQLSchema(models, { operations: ops });
      const query = schema.getQueryType()!.getFields();
      for (const model of models) {
        for (const version of model.versions.filter((v) => v.served)) {
          const names = rootFieldNames(model, version.name);
          const namespace = model.scope === 'Namespaced' ? 'corpus' : undefined;
          const sample = sampleObject(model, version, { namespace: namespace ?? '', name: 'sample' });
          const args = namespace ? `namespace: "corpus", ` : '';
          const get = parse(`{ ${names.get}(${args}name: "sample")${fullSelection(query[names.get]!.type)} }`);
          const list = parse(`{ ${names.list}(${args.replace(/, $/, '')})${fullSelection(query[names.list]!.type)} }`.replace('()', ''));
          for (let seed = 0; seed < 4; seed++) {
            ops.objects.clear();
            const stored = seed === 0 ? sample : damaged(sample, random(seed * 7919 + compared));
            ops.objects.set([model.crdName, version.name, namespace ?? '', 'sample'].join('/'), stored as never);
            ops.objects.set([model.crdName, version.name, namespace ?? '', 'sample-2'].join('/'), damaged(sample, random(seed + 1)) as never);
            const got = await same({ schema, document: get }, `${model.crdName} ${version.name} get, seed ${seed}`);
            for (const name of ['sample', 'sample-2']) {
              const text = `{ ${names.get}(${args}name: "${name}")${fullSelection(query[names.get]!.type)} }`;
              const expected = await execute({ schema, document: parse(text) });
              assert.deepEqual(observed(await byShape.execute({ schema, document: parse(text) })), observed(expected), `${model.crdName} ${version.name} ${name} by shape, seed ${seed}`);
            }
            await same({ schema, document: list }, `${model.crdName} ${version.name} list, seed ${seed}`);
            compared += 2;
            if (got.errors) withErrors++;
          }
        }
      }
    }
    assert.ok(withErrors > compared / 8, `damaged objects must reach the error paths (${withErrors} of ${compared})`);
    assert.ok(byShape.plannedByShape > compared / 2, `${byShape.plannedByShape} new documents planned by their shape`);
    t.diagnostic(`${compared} executions compared, ${withErrors} gets with errors`);
  });
});

/** A copy with some values replaced by null, a wrong type or nothing: what a broken object could hold. */
function damaged(value: unknown, next: () => number): unknown {
  if (Array.isArray(value)) return value.map((v) => damaged(v, next));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const r = next();
      if (r < 0.04) continue;
      if (r < 0.08) out[k] = null;
      else if (r < 0.11) out[k] = { unexpected: true };
      else if (r < 0.14) out[k] = 'text';
      else if (r < 0.16) out[k] = 12345678901234567890n;
      else if (r < 0.18) out[k] = [1, 'a'];
      else out[k] = damaged(v, next);
    }
    return out;
  }
  return value;
}

