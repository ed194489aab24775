import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSchema, parse } from 'graphql';
import { countTokens, defaultQueryLimits, operationCost, queryLimits, rememberedOperationCost } from '../../../src/plugins/query-limits.ts';
import { pluginApollo } from '../../helpers/plugin-app.ts';

const schema = buildSchema(`
  type Query { list(limit: Int, first: Int): Conn! one(name: String): Obj nested: Nested
    query(first: Int, where: Where, orderBy: [Order!]): Conn! }
  input Where { spec: SpecWhere and: [Where!] }
  input SpecWhere { a: IntFilter b: IntFilter }
  input IntFilter { eq: Int in: [Int!] exists: Boolean }
  input Order { field: String! direction: String }
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
  // limit 0 is Kubernetes' "no limit", which the gateway answers with the default page: it costs that page.
  assert.equal(cost('{ list(limit: 0) { edges { node { name } } } }'), 1 + 3 * 100);
  assert.equal(cost('{ list(first: 0) { edges { node { name } } } }'), 1 + 3 * 100);
  assert.equal(cost('query($n: Int) { list(limit: $n) { edges { node { name } } } }', { n: 0 }), 1 + 3 * 100);
});

test('a list\'s where and orderBy add one per value, object and list they hold, literal or variable, to the list field', () => {
  // where, spec, a: three objects; eq's value.
  assert.equal(cost('{ query(first: 10, where: { spec: { a: { eq: 1 } } }) { pageInfo { endCursor } } }'), 1 + 3 + 1 + 2 * 10);
  // where, and's list, two items of spec and a or b (six objects), in's list: 9 parts; 4 values.
  assert.equal(cost('{ query(first: 10, where: { and: [{ spec: { a: { in: [1, 2, 3] } } }, { spec: { b: { exists: true } } }] }) { pageInfo { endCursor } } }'), 1 + 9 + 4 + 2 * 10);
  assert.equal(cost('query($w: Where) { query(first: 10, where: $w, orderBy: [{ field: "x", direction: "DESC" }]) { pageInfo { endCursor } } }',
    { w: { spec: { a: { in: Array.from({ length: 50 }, (_, i) => i) } } } }), 1 + (4 + 50) + (2 + 2) + 2 * 10);
  // Empty objects hold no condition but are walked per object all the same: each costs one.
  const empties = { or: Array.from({ length: 30_000 }, () => ({ or: [] })) };
  assert.equal(cost('query($w: Where) { query(first: 10, where: $w) { pageInfo { endCursor } } }', { w: empties }), 1 + 2 + 2 * 30_000 + 2 * 10);
  assert.equal(cost('{ query(first: 10) { pageInfo { endCursor } } }'), 1 + 2 * 10);
});

test('plain fields cost one each; fragments count like inline selections; introspection is free', () => {
  assert.equal(cost('{ one(name: "x") { name spec { a b } } }'), 5);
  assert.equal(cost('{ one { ...F } } fragment F on Obj { name spec { ... on Spec { a } } }'), 4);
  assert.equal(cost('{ __schema { types { name } } one { name } }'), 2);
  assert.equal(cost('query A { one { name } } query B { list(limit: 2) { edges { node { name } } } }', undefined, 'B'), 1 + 3 * 2);
});

test('fragments spread many times at every level: the cost of each counted, each fragment walked once', () => {
  // F0 spreads F1 48 times, F1 spreads F2 48 times, … F5 is one field: 48^5 names, a 1 KB document
  // whose walk spread by spread took minutes of CPU.
  const levels = 6;
  const k = 48;
  const fragments = Array.from({ length: levels }, (_, i) => (i < levels - 1 ? `fragment F${i} on Obj { ${`...F${i + 1} `.repeat(k)}}` : `fragment F${i} on Obj { name }`));
  const document = `{ one { ...F0 } } ${fragments.join(' ')}`;
  assert.ok(document.length < 3000);
  const started = process.cpuUsage();
  assert.equal(cost(document), 1 + k ** (levels - 1));
  const used = process.cpuUsage(started);
  assert.ok(used.user + used.system < 1_000_000, `${(used.user + used.system) / 1000} ms of CPU`);
  // A fragment spread in lists of different pages costs in proportion to each.
  assert.equal(cost('{ a: list(limit: 2) { edges { node { ...F } } } b: list(limit: 5) { edges { node { ...F } } } } fragment F on Obj { name spec { a } }'),
    (1 + 2 * 2 + 3 * 2) + (1 + 2 * 5 + 3 * 5));
});

test('a subscription costs subscriptionCostFactor times the same selection as a query', () => {
  assert.equal(cost('subscription { watch { type object { name } } }'), 4 * 10);
  assert.equal(cost('mutation { create(name: "x") { name } }'), 2);
});

test('a remembered cost is the cost: once per operation when its variables play no part, computed again when they do', () => {
  const remembered = rememberedOperationCost(costs);
  const fixed = parse('query A { list(limit: 10) { edges { node { name } } } } query B { one { name } }');
  for (let i = 0; i < 2; i++) {
    assert.equal(remembered(schema, fixed, 'A', { n: i }), 1 + 3 * 10);
    assert.equal(remembered(schema, fixed, 'B', undefined), 2);
    assert.equal(remembered(schema, fixed, 'C', undefined), 0);
  }
  // Another schema (a CRD changed) is not answered from the first one's costs.
  const other = buildSchema('type Query { list(limit: Int): Conn! } type Conn { edges: [Edge!]! } type Edge { node: Obj! } type Obj { name: String }');
  assert.equal(remembered(other, fixed, 'A', undefined), 1 + 3 * 10);
  assert.equal(remembered(other, fixed, 'B', undefined), 0);
  // The same parsed document with other variables: a page size, a default, a where or an orderBy from a variable.
  const paged = parse('query($n: Int = 7) { list(limit: $n) { edges { node { name } } } }');
  assert.equal(remembered(schema, paged, undefined, { n: 5 }), 1 + 3 * 5);
  assert.equal(remembered(schema, paged, undefined, { n: 50 }), 1 + 3 * 50);
  assert.equal(remembered(schema, paged, undefined, {}), 1 + 3 * 7);
  const filtered = parse('query($w: Where, $o: [Order!]) { query(first: 10, where: { and: [$w] }, orderBy: $o) { pageInfo { endCursor } } }');
  assert.equal(remembered(schema, filtered, undefined, { w: { spec: { a: { eq: 1 } } } }), 1 + (5 + 1) + 2 * 10);
  assert.equal(remembered(schema, filtered, undefined, { w: { spec: { a: { in: [1, 2, 3] } } }, o: [{ field: 'x' }] }), 1 + (6 + 3) + (2 + 1) + 2 * 10);
});

schema.getQueryType()!.getFields().list!.resolve = () => ({ edges: [], pageInfo: {} });

async function run(q: string, opts: Parameters<typeof queryLimits>[0] = {}, variables?: Record<string, unknown>) {
  const server = await pluginApollo([queryLimits(opts)], schema);
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

test('tenant rules narrow or widen the limits per caller; one document is judged per caller, every time', async () => {
  const plugin = queryLimits({ limits: { maxDepth: 5, maxAliases: 3, maxTokens: 60, maxCost: 1000 } });
  const rule = (name: string, limits: Record<string, number>) => ({ name, match: { tenant: name }, user: name, groups: [], extra: {}, limits });
  plugin.attach!({ tenants: { tenants: [rule('big', { maxDepth: 8, maxAliases: 10, maxTokens: 200 }), rule('small', { maxDepth: 3, maxCost: 5, maxDirectives: 1 })] } } as never);
  const server = await pluginApollo([plugin], schema);
  const as = async (who: 'big' | 'small' | undefined, query: string) => {
    const contextValue = who === 'big' ? { tenant: who, limits: { maxDepth: 8, maxAliases: 10, maxTokens: 200 } }
      : who === 'small' ? { tenant: who, limits: { maxDepth: 3, maxCost: 5, maxDirectives: 1 } } : {};
    const res = await server.executeOperation({ query }, { contextValue } as never);
    const body = (res.body as { singleResult: { errors?: { message: string; extensions?: Record<string, unknown> }[] } }).singleResult;
    return { status: res.http.status ?? 200, message: body.errors?.[0]?.message, code: body.errors?.[0]?.extensions?.code };
  };
  try {
    // The same document, in turn: Apollo validates it once; each caller is judged by its own limits.
    const deep = deepQuery(7);
    for (let i = 0; i < 2; i++) {
      assert.equal((await as('big', deep)).message, undefined);
      const dflt = await as(undefined, deep);
      assert.equal(dflt.code, 'BAD_REQUEST');
      assert.equal(dflt.status, 400);
      assert.match(dflt.message!, /depth limit of 5 exceeded, found 7 \(limit maxDepth, set with --max-depth\)/);
    }
    assert.match((await as('big', deepQuery(9))).message!, /depth limit of 8 exceeded.*set with --max-depth or a tenant rule's limits\.maxDepth/);
    assert.match((await as('small', deepQuery(4))).message!, /depth limit of 3 exceeded, found 4 \(limit maxDepth, set by the tenant's rule, limits\.maxDepth\)/);

    const aliases = `{ ${Array.from({ length: 5 }, (_, i) => `a${i}: one { name }`).join(' ')} }`;
    assert.equal((await as('big', aliases)).message, undefined);
    assert.match((await as(undefined, aliases)).message!, /limit maxAliases, set with --max-aliases/);

    const directives = '{ one @include(if: true) { name @skip(if: false) } }';
    assert.equal((await as(undefined, directives)).message, undefined);
    assert.match((await as('small', directives)).message!, /limit maxDirectives, set by the tenant's rule/);

    const tokens100 = `{ one { ${'name '.repeat(95)} } }`;
    assert.equal((await as('big', tokens100)).message, undefined);
    const dfltTokens = await as(undefined, tokens100);
    assert.equal(dfltTokens.code, 'BAD_REQUEST');
    assert.match(dfltTokens.message!, /the document has more than 60 tokens \(limit maxTokens, set with --max-tokens\)/);
    // Over every tenant's limit: refused by the parser itself, before any caller's limits.
    assert.match((await as('big', `{ one { ${'name '.repeat(300)} } }`)).message!, /more than 200 tokens \(limit maxTokens, set with --max-tokens or a tenant rule's limits\.maxTokens\)/);

    const listed = '{ list(limit: 5) { pageInfo { endCursor } } }';
    assert.equal((await as(undefined, listed)).message, undefined);
    assert.match((await as('small', listed)).message!, /costs 11, more than the limit of 5;.*set by the tenant's rule, limits\.maxCost/);
  } finally {
    await server.stop();
  }
});

test('tokens are counted as the parser counts them', () => {
  for (const q of ['{ a }', '# comment\n{ a(x: "s", y: [1, 2.5]) { ...F } } fragment F on T { b }', 'query Q($v: Int = 3) @d { a }']) {
    const n = countTokens(q, 1000);
    assert.doesNotThrow(() => parse(q, { maxTokens: n }));
    assert.throws(() => parse(q, { maxTokens: n - 1 }), /more tha[nt] /);
    assert.equal(countTokens(q, n - 1), n, 'counting stops past the limit');
  }
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
