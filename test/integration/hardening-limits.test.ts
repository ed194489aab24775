// GraphQL query limits on the real apiserver, over real HTTP: depth, aliases, tokens and cost are
// refused with BAD_REQUEST (400) naming the limit; a list within the
// cost passes and returns objects; batches and bodies over 3 MB are refused; production mode hides
// introspection and suggestions, local mode does not.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { queryLimits } from '../../src/plugins/query-limits.ts';
import { gql, gqlData, onlyError, startGateway, type RunningGateway } from '../helpers/graphql-client.ts';
import { kubeConfigFor, kubectl } from '../helpers/test-cluster.ts';
import { testNamespaces } from '../helpers/test-namespaces.ts';

const namespaces = testNamespaces();
let ns: string;
let prod: RunningGateway;
let local: RunningGateway;
/** The production limits as they ship. */
let shipped: RunningGateway;

before(async () => {
  ns = await namespaces.create('hard-limits');
  const objects = Array.from({ length: 3 }, (_, i) => ({
    apiVersion: 'stable.example.com/v1', kind: 'CronTab', metadata: { name: `c${i}`, namespace: ns }, spec: { cronSpec: '* * * * *', replicas: 1 },
  }));
  const r = await kubectl(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }) });
  assert.equal(r.code, 0, r.stderr);
  const limits = { maxDepth: 5, maxAliases: 4, maxTokens: 400, maxCost: 1000, defaultPageSize: 100 };
  prod = await startGateway(kubeConfigFor('admin'), {}, undefined, { explorer: false, plugins: [queryLimits({ limits, mode: 'production' })] });
  local = await startGateway(kubeConfigFor('admin'), {}, undefined, { explorer: false, plugins: [queryLimits({ limits, mode: 'local' })] });
  shipped = await startGateway(kubeConfigFor('admin'), {}, undefined, { explorer: false, plugins: [queryLimits({ mode: 'production' })] });
});

after(async () => {
  await prod?.stop();
  await local?.stop();
  await shipped?.stop();
  await namespaces.deleteAll();
});

const list = (args: string, fields = 'metadata { name }') => `{ cronTabList_stable_example_com(namespace: "${ns}"${args}) { edges { node { ${fields} } } } }`;

test('a list within the cost returns the objects; the same list with a larger page is refused with its cost', async () => {
  // 1 (list) + 3 per object (edges, node, metadata) + 1 (name): 1 + 4 × 10
  const data = await gqlData(prod.url, list(', limit: 10'));
  assert.deepEqual(data.cronTabList_stable_example_com.edges.map((e: any) => e.node.metadata.name).sort(), ['c0', 'c1', 'c2']);
  const refused = await gql(prod.url, list(', first: 500'));
  assert.equal(refused.status, 400);
  const err = onlyError(refused, 'BAD_REQUEST');
  assert.equal(err.extensions?.cost, 1 + 4 * 500);
  assert.match(err.message, /costs 2001, more than the limit of 1000.*limit maxCost, set with --max-cost/);
  // Without limit/first the default page (100) counts: 401 passes; a variable page is read too.
  assert.equal((await gql(prod.url, list(''))).status, 200);
  const viaVariable = await gql(prod.url, `query($n: Int) { cronTabList_stable_example_com(namespace: "${ns}", limit: $n) { edges { node { metadata { name } } } } }`, { n: 300 });
  assert.equal(onlyError(viaVariable, 'BAD_REQUEST').extensions?.cost, 1201);
});

test('depth, aliases and tokens are refused with 400 BAD_REQUEST naming the limit', async () => {
  // list → edges → node → metadata → name is 5 deep: at the limit.
  assert.equal((await gql(prod.url, list(''))).status, 200);
  const tooDeep = await gql(prod.url, list('', 'metadata { ownerReferences { name } }'));
  assert.equal(tooDeep.status, 400);
  assert.match(onlyError(tooDeep, 'BAD_REQUEST').message, /Query depth limit of 5 exceeded, found 6 \(limit maxDepth, set with --max-depth\)/);
  // Fragments do not hide depth.
  const viaFragment = await gql(prod.url, `{ cronTabList_stable_example_com(namespace: "${ns}") { edges { node { ...M } } } }
    fragment M on CronTab_v1_stable_example_com { metadata { ownerReferences { name } } }`);
  assert.equal(onlyError(viaFragment, 'BAD_REQUEST').extensions?.code, 'BAD_REQUEST');

  const aliases = await gql(prod.url, `{ ${Array.from({ length: 5 }, (_, i) => `a${i}: cronTab_stable_example_com(namespace: "${ns}", name: "c0") { metadata { name } }`).join(' ')} }`);
  assert.equal(aliases.status, 400);
  assert.match(onlyError(aliases, 'BAD_REQUEST').message, /Aliases limit of 4 exceeded, found 5 \(limit maxAliases, set with --max-aliases\)/);
  const fourAliases = await gql(prod.url, `{ ${Array.from({ length: 4 }, (_, i) => `a${i}: cronTab_stable_example_com(namespace: "${ns}", name: "c0") { metadata { name } }`).join(' ')} }`);
  assert.equal(fourAliases.status, 200, fourAliases.text);
  assert.equal(fourAliases.data.a3.metadata.name, 'c0');

  const tokens = await gql(prod.url, `{ cronTab_stable_example_com(namespace: "${ns}", name: "c0") { ${'__typename '.repeat(400)} } }`);
  assert.equal(tokens.status, 400);
  assert.match(onlyError(tokens, 'BAD_REQUEST').message, /more than 400 tokens \(limit maxTokens/);
});

test('a fragment spread 48 times at each of 6 levels (1 KB, within depth and tokens) is refused for its cost at once', async () => {
  const type = 'CronTab_v1_stable_example_com';
  const fragments = Array.from({ length: 6 }, (_, i) => (i < 5 ? `fragment F${i} on ${type} { ${`...F${i + 1} `.repeat(48)}}` : `fragment F${i} on ${type} { metadata { name } }`));
  const started = performance.now();
  const res = await gql(shipped.url, `{ cronTab_stable_example_com(namespace: "${ns}", name: "c0") { ...F0 } } ${fragments.join(' ')}`);
  const ms = performance.now() - started;
  assert.equal(res.status, 400, res.text);
  // 1 + 2 per metadata { name }, 48^5 times
  assert.equal(onlyError(res, 'BAD_REQUEST').extensions?.cost, 1 + 2 * 48 ** 5);
  // Walked spread by spread, the cost took minutes of the gateway's only thread.
  assert.ok(ms < 5_000, `answered after ${ms.toFixed(0)} ms`);
  assert.equal((await gql(shipped.url, `{ cronTab_stable_example_com(namespace: "${ns}", name: "c0") { metadata { name } } }`)).status, 200);
});

test('batched requests are refused (batching is off) and bodies over 3 MB get 413 (an object near etcd\'s 1.5 MB fits)', async () => {
  const res = await fetch(prod.url, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify([{ query: '{ __typename }' }, { query: '{ __typename }' }]),
  });
  assert.equal(res.status, 400);
  const body = await res.json() as { errors: { message: string; extensions: { code: string } }[] };
  assert.match(body.errors[0]!.message, /batching disabled/i);
  assert.equal(body.errors[0]!.extensions.code, 'BAD_REQUEST');
  const post = (pad: number) => fetch(prod.url, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: '{ __typename }', variables: { pad: 'x'.repeat(pad) } }),
  });
  assert.equal((await post(1_600_000)).status, 200);
  assert.equal((await post(3_200_000)).status, 413);
});

test('production mode refuses introspection and hides suggestions; local mode allows both', async () => {
  const intro = await gql(prod.url, '{ __schema { queryType { name } } }');
  assert.equal(intro.status, 400);
  assert.match(onlyError(intro, 'BAD_REQUEST').message, /introspection is disabled in production mode/);
  const typo = await gql(prod.url, `{ cronTab_stable_example_com(namespace: "${ns}", name: "c0") { metadta { name } } }`);
  assert.match(typo.errors![0]!.message, /Cannot query field "metadta"/);
  assert.doesNotMatch(typo.text, /Did you mean/);

  const localIntro = await gqlData(local.url, '{ __schema { queryType { name } } }');
  assert.equal(localIntro.__schema.queryType.name, 'Query');
  const localTypo = await gql(local.url, `{ cronTab_stable_example_com(namespace: "${ns}", name: "c0") { metadta { name } } }`);
  assert.match(localTypo.errors![0]!.message, /Did you mean "metadata"\?/);
});
