// Metrics on the real control plane: real GraphQL, REST and subscription traffic through a gateway
// with the metrics plugin, then a scrape of its separate listener, whose numbers must have moved by
// exactly what the traffic did (request counters) or in the right direction (shared counters).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { createGateway, type Gateway } from '../../src/gateway.ts';
import { KubeClient } from '../../src/kube/kube-client.ts';
import { metrics, type MetricsPlugin } from '../../src/plugins/metrics.ts';
import { pollUntil } from '../helpers/poll-until.ts';
import { firstAnswerOver, openClient, RawGraphQLSocket, Subscription, waitUntil } from '../helpers/subscription-client.ts';
import { kubeConfigFor, uniqueName } from '../helpers/test-cluster.ts';
import { testNamespaces } from '../helpers/test-namespaces.ts';
import { metricKey as key, parseMetrics } from '../helpers/prometheus-text.ts';

const kube = new KubeClient(kubeConfigFor('admin'));
const namespaces = testNamespaces();
const group = `${uniqueName('metrics')}.example.com`;
const crdName = `widgets.${group}`;
let ns: string;
let gateway: Gateway;
let plugin: MetricsPlugin;
let base: string;
let metricsUrl: string;


async function scrape(): Promise<Map<string, number>> {
  const res = await fetch(metricsUrl);
  assert.equal(res.status, 200);
  return parseMetrics(await res.text());
}

const ctPath = (name?: string) => `/apis/stable.example.com/v1/namespaces/${ns}/crontabs${name ? `/${name}` : ''}`;
const createCronTab = (name: string, spec: Record<string, unknown> = {}) => kube.request('POST', ctPath(), {
  body: { apiVersion: 'stable.example.com/v1', kind: 'CronTab', metadata: { name }, spec: { cronSpec: '@hourly', replicas: 1, ...spec } },
});

async function gql(query: string, variables: Record<string, unknown> = {}): Promise<{ data?: Record<string, unknown>; errors?: { extensions?: { code?: string } }[] }> {
  const res = await fetch(`${base}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
  return (await res.json()) as { data?: Record<string, unknown>; errors?: { extensions?: { code?: string } }[] };
}

before(async () => {
  ns = await namespaces.create('hard-metrics');
  await createCronTab('c0');
  plugin = metrics();
  // A small subscriber queue, so that a client that stops reading is a slow consumer quickly.
  gateway = await createGateway({ client: new KubeClient(kubeConfigFor('admin')), explorer: false, plugins: [plugin], subscriberBufferBytes: 256 << 10, watchGraceMs: 500 });
  const server = await gateway.listen(0);
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const m = await plugin.listen(0);
  metricsUrl = `http://127.0.0.1:${(m.address() as AddressInfo).port}/metrics`;
});

after(async () => {
  await gateway?.stop();
  await kube.request('DELETE', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crdName}`).catch(() => {});
  await namespaces.deleteAll();
});

test('the API port does not serve /metrics; the metrics listener does', async () => {
  assert.equal((await fetch(`${base}/metrics`)).status, 404);
  const m = await scrape();
  assert.ok(m.has('process_resident_memory_bytes'), 'process metrics');
  assert.ok(m.get('crdgate_crds_served')! >= 2, 'the example CRDs are served');
  assert.ok(m.get('crdgate_schema_rebuilds_total')! >= 1);
  assert.ok(m.get('crdgate_schema_rebuild_duration_seconds_count')! >= 1);
});

test('requests and Kubernetes calls are counted by type, outcome, verb and code', async () => {
  const before = await scrape();
  const get = `query($ns: String!, $name: String!) { cronTab_stable_example_com(namespace: $ns, name: $name) { metadata { name } } }`;
  assert.equal((await gql(get, { ns, name: 'c0' })).errors, undefined);
  assert.equal((await gql(get, { ns, name: 'c0' })).errors, undefined);
  // A missing object is null, not an error (the apiserver's 404 is still a 404 upstream).
  const missing = await gql(get, { ns, name: 'nope' });
  assert.deepEqual(missing, { data: { cronTab_stable_example_com: null } });
  const create = (name: string) => gql(`mutation($ns: String!, $name: String!) { createCronTab_v1_stable_example_com(namespace: $ns, input: { metadata: { name: $name }, spec: { cronSpec: "@daily" } }) { metadata { name } } }`, { ns, name });
  const created = await create('m1');
  assert.equal(created.errors, undefined, JSON.stringify(created.errors));
  assert.equal((await create('m1')).errors?.[0]?.extensions?.code, 'ALREADY_EXISTS');
  assert.equal((await fetch(`${base}/rest/stable.example.com/v1/namespaces/${ns}/crontabs`)).status, 200);
  assert.equal((await fetch(`${base}/rest/stable.example.com/v1/namespaces/${ns}/crontabs/nope`)).status, 404);
  assert.equal((await gql('{ cronTab_stable_example_com(namespace: "x", name: "y") { nosuchfield } }')).errors?.[0]?.extensions?.code, 'GRAPHQL_VALIDATION_FAILED');

  const after = await scrape();
  const delta = (name: string, labels: Record<string, string> = {}) => (after.get(key(name, labels)) ?? 0) - (before.get(key(name, labels)) ?? 0);
  const requests = (type: string, outcome: string) => delta('crdgate_requests_total', { type, outcome });
  assert.equal(requests('query', 'ok'), 3);
  assert.equal(requests('mutation', 'ok'), 1);
  assert.equal(requests('mutation', 'ALREADY_EXISTS'), 1);
  assert.equal(requests('rest', 'ok'), 1);
  assert.equal(requests('rest', 'NOT_FOUND'), 1);
  assert.equal(requests('query', 'GRAPHQL_VALIDATION_FAILED'), 1, 'a refused query is counted as a query');
  assert.equal(requests('unknown', 'GRAPHQL_VALIDATION_FAILED'), 0);
  assert.equal(delta('crdgate_request_duration_seconds_count', { type: 'query', outcome: 'ok' }), 3);
  // Two gets and the REST list succeed; the missing object is asked for twice (GraphQL, REST).
  // The gateway's own watches may add GETs (a relist), never 404s.
  assert.ok(delta('crdgate_kube_request_duration_seconds_count', { verb: 'GET', code: '2xx' }) >= 3);
  assert.equal(delta('crdgate_kube_request_duration_seconds_count', { verb: 'GET', code: '404' }), 2);
  assert.equal(delta('crdgate_kube_request_duration_seconds_count', { verb: 'POST', code: '2xx' }), 1);
  assert.equal(delta('crdgate_kube_request_duration_seconds_count', { verb: 'POST', code: '409' }), 1);
});

test('operations sent over WebSocket are counted as HTTP ones are: answers, refusals and subscriptions', async () => {
  const before = await scrape();
  const client = openClient(base);
  const answer = (query: string, variables: Record<string, unknown> = {}) => firstAnswerOver(client, { query, variables });
  try {
    const get = `query($ns: String!, $name: String!) { cronTab_stable_example_com(namespace: $ns, name: $name) { metadata { name } } }`;
    assert.equal((await answer(get, { ns, name: 'c0' })).errors, undefined);
    const create = `mutation($ns: String!) { createCronTab_v1_stable_example_com(namespace: $ns, input: { metadata: { name: "c0" }, spec: { cronSpec: "@daily" } }) { metadata { name } } }`;
    assert.equal((await answer(create, { ns })).errors?.[0]?.extensions?.code, 'ALREADY_EXISTS');
    assert.equal((await answer('{ nosuchfield }')).errors?.[0]?.extensions?.code, 'GRAPHQL_VALIDATION_FAILED');
    assert.equal((await answer('{ cronTab')).errors?.[0]?.extensions?.code, 'GRAPHQL_PARSE_FAILED');
  } finally {
    await client.dispose();
  }
  const after = await scrape();
  const requests = (type: string, outcome: string) => (after.get(key('crdgate_requests_total', { type, outcome })) ?? 0) - (before.get(key('crdgate_requests_total', { type, outcome })) ?? 0);
  assert.equal(requests('query', 'ok'), 1);
  assert.equal(requests('mutation', 'ALREADY_EXISTS'), 1);
  assert.equal(requests('query', 'GRAPHQL_VALIDATION_FAILED'), 1);
  assert.equal(requests('invalid', 'GRAPHQL_PARSE_FAILED'), 1);
});

test('subscriptions, upstream watches, delivered events and shared executions move with real events', async () => {
  const before = await scrape();
  const client = openClient(base);
  try {
    const watch = `subscription($ns: String) { watchCronTab_stable_example_com(namespace: $ns) { type object { metadata { name } } } }`;
    const first = new Subscription(client, watch, { ns });
    const second = new Subscription(client, watch, { ns });
    const attached = await pollUntil('two subscribers in the scrape', async () => {
      const m = await scrape();
      return m.get('crdgate_subscribers') === 2 ? m : undefined;
    });
    assert.equal(attached.get('crdgate_upstream_watches'), 1, 'one upstream watch for both');
    assert.equal((attached.get(key('crdgate_requests_total', { type: 'subscription', outcome: 'ok' })) ?? 0)
      - (before.get(key('crdgate_requests_total', { type: 'subscription', outcome: 'ok' })) ?? 0), 2);
    assert.ok((attached.get(key('crdgate_kube_request_duration_seconds_count', { verb: 'WATCH', code: '2xx' })) ?? 0)
      > (before.get(key('crdgate_kube_request_duration_seconds_count', { verb: 'WATCH', code: '2xx' })) ?? 0), 'the upstream watch opened');

    await createCronTab('s1');
    await first.waitForEvents(1);
    await second.waitForEvents(1);
    const after = await scrape();
    const delta = (name: string) => (after.get(name) ?? 0) - (before.get(name) ?? 0);
    assert.ok(delta('crdgate_watch_events_delivered_total') >= 2, `delivered moved by ${delta('crdgate_watch_events_delivered_total')}`);
    // The same operation for both subscribers: executed once, shared once (other test files in
    // this process may add their own, so at least).
    assert.ok(delta('crdgate_subscription_executions_total') >= 1);
    assert.ok(delta('crdgate_subscription_results_shared_total') >= 1);
    assert.equal(delta('crdgate_slow_consumer_disconnects_total'), 0);
  } finally {
    await client.dispose();
  }
  await pollUntil('the subscribers to leave', async () => (await scrape()).get('crdgate_subscribers') === 0);
});

test('a client that stops reading counts as a slow-consumer disconnect with dropped events', async () => {
  const before = await scrape();
  const slow = await RawGraphQLSocket.connect(base);
  try {
    slow.subscribe(`subscription($ns: String) { watchCronTab_stable_example_com(namespace: $ns) { type object { metadata { name } spec { image } } } }`, { ns });
    await waitUntil(() => gateway.operations.hub.stats().subscribers === 1, 10_000, 'the slow subscriber to attach');
    slow.tcp.pause();
    const image = 'x'.repeat(300_000); // large payloads fill the socket buffers quickly
    let i = 0;
    const m = await pollUntil('a slow-consumer disconnect in the scrape', async () => {
      await createCronTab(`big-${i++}`, { image });
      const now = await scrape();
      return now.get('crdgate_slow_consumer_disconnects_total')! > before.get('crdgate_slow_consumer_disconnects_total')! ? now : undefined;
    }, { timeoutMs: 60_000, intervalMs: 0 });
    assert.equal(m.get('crdgate_slow_consumer_disconnects_total')! - before.get('crdgate_slow_consumer_disconnects_total')!, 1);
    assert.ok(m.get('crdgate_watch_events_dropped_total')! > before.get('crdgate_watch_events_dropped_total')!, 'its queued events are dropped');
    const ends = (m: Map<string, number>) => m.get(key('crdgate_subscription_ends_total', { outcome: 'SLOW_CONSUMER' })) ?? 0;
    assert.equal(ends(m) - ends(before), 1, 'the subscription\'s end, by its outcome');
  } finally {
    slow.tcp.resume();
    slow.ws.terminate();
  }
});

test('a new CRD: a schema rebuild is counted and timed, and the served CRDs go up', async () => {
  const before = await scrape();
  await kube.request('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', {
    body: {
      apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: crdName },
      spec: {
        group, scope: 'Namespaced', names: { plural: 'widgets', singular: 'widget', kind: 'Widget', listKind: 'WidgetList' },
        versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', properties: { size: { type: 'integer' } } } } } } }],
      },
    },
  });
  const after = await pollUntil('the new CRD in the served schema', async () => {
    if (!gateway.live.resources.some((r) => r.crdName === crdName)) return undefined;
    return scrape();
  }, { timeoutMs: 20_000 });
  assert.ok(after.get('crdgate_schema_rebuilds_total')! > before.get('crdgate_schema_rebuilds_total')!);
  assert.ok(after.get('crdgate_schema_rebuild_duration_seconds_count')! > before.get('crdgate_schema_rebuild_duration_seconds_count')!);
  // Other test files create CRDs too: compare with what the gateway serves at that moment.
  assert.equal(after.get('crdgate_crds_served'), gateway.live.stats.crds);
  assert.ok(after.get('crdgate_crds_served')! >= 3);
});
