// Persisted operations on the real apiserver, over real HTTP: automatic persisted queries (a miss
// asks for the document, the document registers it, the hash alone then runs it, by POST and GET)
// in a cache that stays within its size; and the allow-list mode from a manifest file, where only
// registered operations run (by id or exact document) and everything else gets 403 FORBIDDEN.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { persistedOperations, sha256Hex } from '../../src/plugins/persisted-operations.ts';
import { queryLimits } from '../../src/plugins/query-limits.ts';
import { gql, onlyError, parseResult, startGateway, type RunningGateway } from '../helpers/graphql-client.ts';
import { kubeConfigFor, kubectl } from '../helpers/test-cluster.ts';
import { testNamespaces } from '../helpers/test-namespaces.ts';
import { TenantsDir } from '../helpers/jwt-issuer.ts';
import { firstAnswer } from '../helpers/subscription-client.ts';

const namespaces = testNamespaces();
const dir = new TenantsDir();
let ns: string;
let apq: RunningGateway;
let allowList: RunningGateway;
const apqPlugin = persistedOperations({ cacheSize: 16 << 10 });
const registeredWatch = 'subscription R($ns: String!) { watchCronTab_stable_example_com(namespace: $ns, sendInitialEvents: true) { type resourceVersion } }';
const getOne = 'query GetOne($ns: String!) { cronTab_stable_example_com(namespace: $ns, name: "p1") { metadata { name } spec { replicas } } }';

async function post(url: string, body: Record<string, unknown>) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return parseResult<any>(res);
}

before(async () => {
  ns = await namespaces.create('persisted');
  const r = await kubectl(['apply', '-f', '-'], { input: JSON.stringify({
    apiVersion: 'stable.example.com/v1', kind: 'CronTab', metadata: { name: 'p1', namespace: ns }, spec: { cronSpec: '* * * * *', replicas: 3 },
  }) });
  assert.equal(r.code, 0, r.stderr);
  const file = dir.write('operations.json', JSON.stringify({
    format: 'apollo-persisted-query-manifest', version: 1,
    operations: [{ id: sha256Hex(getOne), name: 'GetOne', type: 'query', body: getOne }, { id: sha256Hex(registeredWatch), name: 'Watch', type: 'subscription', body: registeredWatch }],
  }));
  apq = await startGateway(kubeConfigFor('admin'), {}, undefined, { explorer: false, plugins: [queryLimits({ mode: 'production' }), apqPlugin] });
  allowList = await startGateway(kubeConfigFor('admin'), {}, undefined, {
    explorer: false, plugins: [queryLimits({ mode: 'production' }), persistedOperations({ mode: 'allow-list', file })],
  });
});

after(async () => {
  await apq?.stop();
  await allowList?.stop();
  await namespaces.deleteAll();
  dir.remove();
});

test('APQ: a hash alone is PERSISTED_QUERY_NOT_FOUND until the document registers it; then the hash runs it, by POST and by GET', async () => {
  const query = `query Apq($ns: String!) { cronTabList_stable_example_com(namespace: $ns) { edges { node { metadata { name } } } } }`;
  const persistedQuery = { version: 1, sha256Hash: sha256Hex(query) };
  const miss = await post(apq.url, { extensions: { persistedQuery }, variables: { ns } });
  assert.equal(onlyError(miss, 'PERSISTED_QUERY_NOT_FOUND').extensions?.code, 'PERSISTED_QUERY_NOT_FOUND');
  const registered = await post(apq.url, { query, extensions: { persistedQuery }, variables: { ns } });
  assert.equal(registered.status, 200, registered.text);
  assert.deepEqual(registered.data.cronTabList_stable_example_com.edges.map((e: any) => e.node.metadata.name), ['p1']);
  const hit = await post(apq.url, { extensions: { persistedQuery }, variables: { ns } });
  assert.equal(hit.status, 200, hit.text);
  assert.deepEqual(hit.data, registered.data);
  const params = new URLSearchParams({ extensions: JSON.stringify({ persistedQuery }), variables: JSON.stringify({ ns }) });
  const viaGet = await parseResult<any>(await fetch(`${apq.url}?${params}`, { headers: { 'apollo-require-preflight': 'true' } }));
  assert.equal(viaGet.status, 200, viaGet.text);
  assert.deepEqual(viaGet.data, registered.data);
  // A hash that is not its document's is refused and registers nothing.
  const lying = await post(apq.url, { query: '{ apiResources { kind } }', extensions: { persistedQuery: { version: 1, sha256Hash: sha256Hex('other') } } });
  assert.equal(lying.status, 400, lying.text);
  // Documents sent without the extension still run (APQ is an optimisation, not a gate).
  assert.equal((await gql(apq.url, getOne, { ns })).data.cronTab_stable_example_com.spec.replicas, 3);
});

test('APQ: registering many documents keeps the cache within its size', async () => {
  for (let i = 0; i < 400; i++) {
    const query = `query Many${i} { apiResources { kind plural } }`;
    const r = await post(apq.url, { query, extensions: { persistedQuery: { version: 1, sha256Hash: sha256Hex(query) } } });
    assert.equal(r.status, 200, r.text);
  }
  assert.ok(apqPlugin.cache.totalSize <= 16 << 10, `${apqPlugin.cache.totalSize} in the cache`);
  assert.ok(apqPlugin.cache.count < 400, `${apqPlugin.cache.count} entries: nothing was evicted`);
  // The most recent document is still served by its hash.
  const last = 'query Many399 { apiResources { kind plural } }';
  const hit = await post(apq.url, { extensions: { persistedQuery: { version: 1, sha256Hash: sha256Hex(last) } } });
  assert.equal(hit.status, 200, hit.text);
});

test('allow-list: a registered operation runs by id or by its exact document; anything else is 403 FORBIDDEN', async () => {
  const byId = await post(allowList.url, { extensions: { persistedQuery: { version: 1, sha256Hash: sha256Hex(getOne) } }, variables: { ns } });
  assert.equal(byId.status, 200, byId.text);
  assert.equal(byId.data.cronTab_stable_example_com.spec.replicas, 3);
  const byBody = await gql(allowList.url, getOne, { ns });
  assert.equal(byBody.status, 200, byBody.text);
  assert.equal(byBody.data.cronTab_stable_example_com.metadata.name, 'p1');

  for (const body of [
    { query: '{ apiResources { kind } }' },
    { query: `${getOne} ` },
    { query: '{ this is not even GraphQL' },
    { extensions: { persistedQuery: { version: 1, sha256Hash: sha256Hex('{ apiResources { kind } }') } } },
    { query: '{ apiResources { kind } }', extensions: { persistedQuery: { version: 1, sha256Hash: sha256Hex('{ apiResources { kind } }') } } },
  ]) {
    const r = await post(allowList.url, { ...body, variables: { ns } });
    assert.equal(r.status, 403, `${JSON.stringify(body)} → ${r.text}`);
    const e = onlyError(r, 'FORBIDDEN');
    assert.equal(e.extensions?.reason, 'OperationNotRegistered');
    assert.match(e.message, /only registered operations may run/);
  }
  // Registering by hash did not work around the list.
  const again = await post(allowList.url, { extensions: { persistedQuery: { version: 1, sha256Hash: sha256Hex('{ apiResources { kind } }') } } });
  assert.equal(again.status, 403, again.text);
});

test('allow-list over WebSocket: an unregistered subscription is refused, a registered one runs', async () => {
  const watch = 'subscription W($ns: String!) { watchCronTab_stable_example_com(namespace: $ns, sendInitialEvents: true) { type } }';
  const answer = (query: string) => firstAnswer(allowList.url.replace(/^http/, 'ws'), query, { variables: { ns } });
  const refused = await answer(watch);
  assert.equal(refused.errors?.[0]?.extensions?.code, 'FORBIDDEN', JSON.stringify(refused));
  assert.equal(refused.errors?.[0]?.extensions?.reason, 'OperationNotRegistered');
  const allowed = await answer(registeredWatch);
  assert.equal(allowed.errors, undefined, JSON.stringify(allowed));
  assert.deepEqual(JSON.parse(JSON.stringify(allowed.data)), { watchCronTab_stable_example_com: { type: 'ADDED', resourceVersion: (allowed.data as { watchCronTab_stable_example_com: { resourceVersion: string } }).watchCronTab_stable_example_com.resourceVersion } });
});
