// Query limits hold over WebSocket too, where Apollo's request pipeline does not run; and a list
// without limit/first gets the default page the cost model assumes.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createGateway, type Gateway } from '../../src/gateway.ts';
import { KubeClient } from '../../src/kube/kube-client.ts';
import { loadFile } from '../../src/kube/kube-config.ts';
import { queryLimits } from '../../src/plugins/query-limits.ts';
import { testCluster, uniqueName } from '../helpers/test-cluster.ts';
import { firstAnswer } from '../helpers/subscription-client.ts';

const ns = uniqueName('wslimits');
const admin = () => new KubeClient(loadFile(testCluster().kubeconfig));
let gateway: Gateway;
let http: string;

before(async () => {
  const client = admin();
  await client.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } } });
  for (let i = 0; i < 7; i++) {
    await client.request('POST', `/apis/stable.example.com/v1/namespaces/${ns}/crontabs`, {
      body: { apiVersion: 'stable.example.com/v1', kind: 'CronTab', metadata: { name: `c${i}` }, spec: { cronSpec: '* * * * *' } },
    });
  }
  gateway = await createGateway({
    client,
    plugins: [queryLimits({ mode: 'production', limits: { maxDepth: 4, maxCost: 60, defaultPageSize: 5, subscriptionCostFactor: 10 } })],
  });
  const server = await gateway.listen(0);
  http = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

after(async () => {
  await gateway?.stop();
  await admin().request('DELETE', `/api/v1/namespaces/${ns}`).catch(() => {});
});

const answer = (query: string) => firstAnswer(`${http.replace(/^http/, 'ws')}/graphql`, query);

test('a subscription deeper than the limit is refused over WebSocket', async () => {
  const r = await answer(`subscription { watchCronTab_stable_example_com(namespace: "${ns}") { object { metadata { ownerReferences { name } } } } }`);
  assert.ok(r.errors?.length, JSON.stringify(r));
  assert.match(r.errors![0]!.message, /depth/i);
});

test('introspection is refused over WebSocket in production mode', async () => {
  const r = await answer('{ __schema { queryType { name } } }');
  assert.ok(r.errors?.length, JSON.stringify(r));
  assert.match(r.errors![0]!.message, /introspection/i);
});

test('a subscription costing more than the limit is refused with BAD_REQUEST naming the limit', async () => {
  const r = await answer(`subscription { watchCronTab_stable_example_com(namespace: "${ns}") { type resourceVersion object { metadata { name namespace } spec { cronSpec image replicas } } } }`);
  assert.ok(r.errors?.length, JSON.stringify(r));
  assert.equal(r.errors![0]!.extensions?.code, 'BAD_REQUEST');
  assert.match(r.errors![0]!.message, /costs \d+, more than the limit of 60/);
});

test('a cheap subscription within the limits runs', async () => {
  const r = await answer(`subscription { watchCronTab_stable_example_com(namespace: "${ns}", sendInitialEvents: true) { type } }`);
  assert.equal(r.errors, undefined, JSON.stringify(r));
  assert.deepEqual(r.data, { watchCronTab_stable_example_com: { type: 'ADDED' } });
});

test('a list without limit/first gets the default page (5 of 7) and a cursor to the rest', async () => {
  const res = await fetch(`${http}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: `{ cronTabList_stable_example_com(namespace: "${ns}") { edges { node { kind } } pageInfo { hasNextPage endCursor } } }` }),
  });
  const body = (await res.json()) as { errors?: unknown; data: { cronTabList_stable_example_com: { edges: unknown[]; pageInfo: { hasNextPage: boolean; endCursor: string } } } };
  assert.ok(body.data, JSON.stringify(body));
  const list = body.data.cronTabList_stable_example_com;
  assert.equal(list.edges.length, 5);
  assert.equal(list.pageInfo.hasNextPage, true);
});
