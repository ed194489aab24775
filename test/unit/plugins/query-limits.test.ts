import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApolloServer } from '@apollo/server';
import { buildSchema, parse } from 'graphql';
import { defaultQueryLimits, operationCost, queryLimits } from '../../../src/plugins/query-limits.ts';
import { mergeApolloExtras } from '../../../src/plugins/gateway-plugin.ts';

const schema = buildSchema(`
  type Query { list(limit: Int, first: Int): Conn! one(name: String): Obj nested: Nested }
  type Subscription { watch: Event! }
  type Mutation { create(name: String): Obj }
  type Event { type: String object: Obj }
  type Conn { edges: [Edge!]! pageInfo: Info! }
  type Edge { node: Obj! }
  type Info { endCursor: String }
  type Obj { name: String spec: Spec }
  type Spec { a: Int b: Int }
  type Nested { child: Nested value: Int }
`);
const costs = { defaultPageSize: 100, subscriptionCostFactor: 10 };
const cost = (q: string, variables?: Record<string, unknown>, operationName?: string) => operationCost(schema, parse(q), operationName, variables, costs);

test('a list field costs in proportion to its page: limit, first, a variable, its default, or the default page', () => {
  // list 1 + (edges, node, name) per item
  assert.equal(cost('{ list(limit: 10) { edges { node { name } } } }'), 1 + 3 * 10);
  assert.equal(cost('{ list(first: 20) { edges { node { name } } } }'), 1 + 3 * 20);
  assert.equal(cost('query($n: Int) { list(limit: $n) { edges { node { name } } } }', { n: 5 }), 1 + 3 * 5);
  assert.equal(cost('query($n: Int = 7) { list(limit: $n) { edges { node { name } } } }'), 1 + 3 * 7);
  assert.equal(cost('{ list { edges { node { name } } } }'), 1 + 3 * 100);
  assert.equal(cost('{ list(limit: 1000) { pageInfo { endCursor } } }'), 1 + 2 * 1000);
});

test('plain fields cost one each; fragments count like inline selections; introspection is free', () => {
  assert.equal(cost('{ one(name: "x") { name spec { a b } } }'), 5);
  assert.equal(cost('{ one { ...F } } fragment F on Obj { name spec { ... on Spec { a } } }'), 4);
  assert.equal(cost('{ __schema { types { name } } one { name } }'), 2);
  assert.equal(cost('query A { one { name } } query B { list(limit: 2) { edges { node { name } } } }', undefined, 'B'), 1 + 3 * 2);
});

test('a subscription costs subscriptionCostFactor times the same selection as a query', () => {
  assert.equal(cost('subscription { watch { type object { name } } }'), 4 * 10);
  assert.equal(cost('mutation { create(name: "x") { name } }'), 2);
});

async function run(q: string, opts: Parameters<typeof queryLimits>[0] = {}, variables?: Record<string, unknown>) {
  const extras = mergeApolloExtras([queryLimits(opts)]);
  const server = new ApolloServer({ schema, ...extras, rootValue: { list: { edges: [], pageInfo: {} } } } as never);
  await server.start();
  try {
    const res = await server.executeOperation({ query: q, variables });
    assert.equal(res.body.kind, 'single');
    return { status: res.http.status, ...(res.body as { singleResult: { errors?: { message: string; extensions?: Record<string, unknown> }[]; data?: unknown } }).singleResult };
  } finally {
    await server.stop();
  }
}

function deepQuery(levels: number): string {
  return `{ nested ${'{ child '.repeat(levels - 2)}{ value }${' }'.repeat(levels - 2)} }`;
}

test('each limit refuses with BAD_REQUEST naming the limit and its setting; under the limit passes', async () => {
  const depth = await run(deepQuery(6), { limits: { maxDepth: 5 } });
  assert.equal(depth.errors?.[0]?.extensions?.code, 'BAD_REQUEST');
  assert.match(depth.errors![0]!.message, /depth limit of 5 exceeded, found 6 \(limit maxDepth, set with --max-depth\)/);
  assert.equal(depth.status, 400);
  assert.equal((await run(deepQuery(5), { limits: { maxDepth: 5 } })).errors, undefined);

  const aliases = await run(`{ ${Array.from({ length: 4 }, (_, i) => `a${i}: one { name }`).join(' ')} }`, { limits: { maxAliases: 3 } });
  assert.equal(aliases.errors?.[0]?.extensions?.code, 'BAD_REQUEST');
  assert.match(aliases.errors![0]!.message, /limit maxAliases, set with --max-aliases/);

  const directives = await run('{ one @include(if: true) @skip(if: false) { name @include(if: true) } }', { limits: { maxDirectives: 2 } });
  assert.equal(directives.errors?.[0]?.extensions?.code, 'BAD_REQUEST');
  assert.match(directives.errors![0]!.message, /limit maxDirectives/);

  const tokens = await run(`{ one { ${'name '.repeat(50)} } }`, { limits: { maxTokens: 40 } });
  assert.equal(tokens.errors?.[0]?.extensions?.code, 'BAD_REQUEST');
  assert.match(tokens.errors![0]!.message, /more than 40 tokens \(limit maxTokens, set with --max-tokens\)/);
  assert.equal(tokens.status, 400);

  const costly = await run('query($n: Int) { list(limit: $n) { edges { node { name } } } }', { limits: { maxCost: 100 } }, { n: 50 });
  assert.equal(costly.errors?.[0]?.extensions?.code, 'BAD_REQUEST');
  assert.equal(costly.errors?.[0]?.extensions?.cost, 151);
  assert.match(costly.errors![0]!.message, /costs 151, more than the limit of 100;.*limit maxCost, set with --max-cost/);
  assert.equal(costly.status, 400);
  const cheap = await run('query($n: Int) { list(limit: $n) { edges { node { name } } } }', { limits: { maxCost: 100 } }, { n: 10 });
  assert.equal(cheap.errors, undefined);
});

test('production mode: no introspection, no field suggestions; local mode: both', async () => {
  const prodIntro = await run('{ __schema { queryType { name } } }', { mode: 'production' });
  assert.equal(prodIntro.errors?.[0]?.extensions?.code, 'BAD_REQUEST');
  assert.equal(prodIntro.status, 400);
  assert.match(prodIntro.errors![0]!.message, /introspection is disabled in production mode/);
  const localIntro = await run('{ __schema { queryType { name } } }', { mode: 'local' });
  assert.deepEqual(JSON.parse(JSON.stringify(localIntro.data)), { __schema: { queryType: { name: 'Query' } } });

  const prodTypo = await run('{ one { nme } }', { mode: 'production' });
  assert.match(prodTypo.errors![0]!.message, /Cannot query field "nme"/);
  assert.doesNotMatch(prodTypo.errors![0]!.message, /Did you mean/);
  const localTypo = await run('{ one { nme } }', { mode: 'local' });
  assert.match(localTypo.errors![0]!.message, /Did you mean "name"\?/);
});

test('defaults are safe and nonzero', () => {
  for (const [k, v] of Object.entries(defaultQueryLimits)) assert.ok(v > 0, k);
});
