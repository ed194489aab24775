// The metrics plugin without a cluster: request counts and latency by operation type and outcome
// (GraphQL through a real Apollo Server, REST and refusals through Express), Kubernetes call timing
// by verb and code, the gauges read from the gateway's parts at scrape time, subscriptions counted
// when they start, and the separate listener.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import request from 'supertest';
import { GraphQLError } from 'graphql';
import type { Caller } from '../../../src/auth/authenticate.ts';
import { pluginApp, schemaOf } from '../../helpers/plugin-app.ts';
import { ApiError, toProblem } from '../../../src/api-errors.ts';
import { KubeApiError, KubeClient } from '../../../src/kube/kube-client.ts';
import { metrics } from '../../../src/plugins/metrics.ts';
import { pluginClient, type GatewayParts, type GatewayPlugin } from '../../../src/plugins/gateway-plugin.ts';
import type { GatewayOperations } from '../../../src/service/hub-operations.ts';
import { sharedResultStats } from '../../../src/graphql/shared-subscription-results.ts';
import { metricKey as key, parseMetrics } from '../../helpers/prometheus-text.ts';
import type { OperationType, RequestRecord } from '../../../src/plugins/request-tracker.ts';


async function scrape(plugin: ReturnType<typeof metrics>): Promise<Map<string, number>> {
  return parseMetrics(await plugin.registry.metrics());
}

async function appWith(plugin: ReturnType<typeof metrics>) {
  const schema = schemaOf('type Query { hello: String, forbidden: String } type Mutation { touch: String }', {
    Query: { hello: () => 'hi', forbidden: () => { throw new GraphQLError('no', { extensions: { code: 'FORBIDDEN' } }); } },
    Mutation: { touch: () => 'ok' },
  });
  const { app, stop } = await pluginApp([plugin], schema, {
    authenticate: async (authorization) => {
      if (authorization === 'bad') throw new ApiError('UNAUTHENTICATED', 'bad token');
      return { tenant: 't' } as Caller;
    },
  });
  app.get('/rest/things', (_req, res) => res.json({ items: [] }));
  app.get('/rest/missing', (req, res) => {
    res.status(404).type('application/problem+json').send(JSON.stringify(toProblem(new ApiError('NOT_FOUND', 'gone'), req.originalUrl)));
  });
  return { app, apollo: { stop } };
}

test('requests are counted and timed by operation type and outcome', async () => {
  const plugin = metrics({ processMetrics: false });
  const { app, apollo } = await appWith(plugin);
  try {
    const gql = (query: string, headers: Record<string, string> = {}) => request(app).post('/graphql').set(headers).send({ query });
    assert.equal((await gql('{ hello }')).status, 200);
    assert.equal((await gql('{ hello }')).status, 200);
    assert.equal((await gql('mutation { touch }')).status, 200);
    const forbidden = await gql('{ forbidden }');
    assert.equal(forbidden.body.errors[0].extensions.code, 'FORBIDDEN');
    assert.equal((await gql('{ hello', {})).status, 400);
    assert.equal((await gql('{ hello }', { authorization: 'bad' })).status, 401);
    assert.equal((await request(app).get('/rest/things')).status, 200);
    assert.equal((await request(app).get('/rest/missing')).status, 404);
    assert.equal((await request(app).get('/healthz')).status, 200);

    const m = await scrape(plugin);
    const count = (type: string, outcome: string) => m.get(key('crdgate_requests_total', { type, outcome }));
    assert.equal(count('query', 'ok'), 2);
    assert.equal(count('mutation', 'ok'), 1);
    assert.equal(count('query', 'FORBIDDEN'), 1);
    assert.equal(count('invalid', 'GRAPHQL_PARSE_FAILED'), 1);
    assert.equal(count('unknown', 'UNAUTHENTICATED'), 1);
    assert.equal(count('rest', 'ok'), 1);
    assert.equal(count('rest', 'NOT_FOUND'), 1);
    // Probes are not API requests.
    const total = [...m].filter(([k]) => k.startsWith('crdgate_requests_total{')).reduce((a, [, v]) => a + v, 0);
    assert.equal(total, 8);
    assert.equal(m.get(key('crdgate_request_duration_seconds_count', { type: 'query', outcome: 'ok' })), 2);
    assert.ok(m.get(key('crdgate_request_duration_seconds_sum', { type: 'query', outcome: 'ok' }))! > 0);
    assert.equal(m.get(key('crdgate_request_duration_seconds_bucket', { type: 'query', outcome: 'ok', le: '+Inf' })), 2);
    // A second scrape counts only what came since; the counter and the histogram's count agree.
    assert.equal((await scrape(plugin)).get(key('crdgate_requests_total', { type: 'query', outcome: 'ok' })), 2);
    await gql('{ hello }');
    const again = await scrape(plugin);
    assert.equal(again.get(key('crdgate_requests_total', { type: 'query', outcome: 'ok' })), 3);
    assert.equal(again.get(key('crdgate_requests_total', { type: 'rest', outcome: 'ok' })), 1);
    assert.equal(again.get(key('crdgate_request_duration_seconds_count', { type: 'query', outcome: 'ok' })), 3);
  } finally {
    await apollo.stop();
  }
});

test('refused GraphQL requests are counted by the operation they tried to run, or as invalid', async () => {
  const plugin = metrics({ processMetrics: false });
  const { app, apollo } = await appWith(plugin);
  try {
    const gql = (body: Record<string, unknown>, headers: Record<string, string> = {}) => request(app).post('/graphql').set(headers).send(body);
    const code = (r: request.Response) => r.body.errors?.[0]?.extensions?.code as string | undefined;
    assert.equal(code(await gql({ query: '{ nosuch }' })), 'GRAPHQL_VALIDATION_FAILED');
    assert.equal(code(await gql({ query: 'query Q { hello(x: 1) } mutation M { touch }', operationName: 'M' })), 'GRAPHQL_VALIDATION_FAILED');
    assert.equal(code(await gql({ query: 'mutation { nosuch }' })), 'GRAPHQL_VALIDATION_FAILED');
    assert.equal(code(await gql({ query: '{ hello' })), 'GRAPHQL_PARSE_FAILED');
    const several = await gql({ query: 'query A { hello } query B { hello }' });
    const unnamed = await gql({ query: 'query A { hello }', operationName: 'B' });
    const getMutation = await request(app).get('/graphql').query({ query: 'mutation { touch }' }).set('apollo-require-preflight', '1');
    assert.equal(getMutation.status, 405);
    assert.equal(code(await gql({ query: '{ hello }' }, { authorization: 'bad' })), 'UNAUTHENTICATED');

    const m = await scrape(plugin);
    const counts = Object.fromEntries([...m].filter(([k]) => k.startsWith('crdgate_requests_total{')));
    const count = (type: string, outcome: string) => m.get(key('crdgate_requests_total', { type, outcome }));
    // Validation: the operation the document selects (operationName's), whichever type it is.
    assert.equal(count('query', 'GRAPHQL_VALIDATION_FAILED'), 1, JSON.stringify(counts));
    assert.equal(count('mutation', 'GRAPHQL_VALIDATION_FAILED'), 2, JSON.stringify(counts));
    // A document that does not parse, or selects no operation: invalid, one label for all of them.
    assert.equal(count('invalid', 'GRAPHQL_PARSE_FAILED'), 1, JSON.stringify(counts));
    assert.equal(code(several), 'OPERATION_RESOLUTION_FAILURE');
    assert.equal(code(unnamed), 'OPERATION_RESOLUTION_FAILURE');
    assert.equal(count('invalid', 'OPERATION_RESOLUTION_FAILURE'), 2, JSON.stringify(counts));
    assert.equal(count('mutation', code(getMutation)!), 1, JSON.stringify(counts));
    // Refused before the document was read: unknown.
    assert.equal(count('unknown', 'UNAUTHENTICATED'), 1, JSON.stringify(counts));
    assert.deepEqual(new Set([...m.keys()].filter((k) => k.startsWith('crdgate_requests_total{')).map((k) => /type="([^"]*)"/.exec(k)![1])),
      new Set(['query', 'mutation', 'invalid', 'unknown']));
  } finally {
    await apollo.stop();
  }
});

test('a client that sends the internal tracking header cannot confuse the accounting', async () => {
  const plugin = metrics({ processMetrics: false });
  const { app, apollo } = await appWith(plugin);
  try {
    // Headers named like internal tracking keys change nothing: the record comes from the response.
    const forged = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`x-crdgate-track-${i + 1}`, '0']));
    await request(app).post('/graphql').set(forged).send({ query: '{ hello }' });
    const slow = request(app).post('/graphql').set(forged).send({ query: 'mutation { touch }' });
    await slow;
    const m = await scrape(plugin);
    assert.equal(m.get(key('crdgate_requests_total', { type: 'query', outcome: 'ok' })), 1);
    assert.equal(m.get(key('crdgate_requests_total', { type: 'mutation', outcome: 'ok' })), 1);
  } finally {
    await apollo.stop();
  }
});

test('Kubernetes calls are timed by verb and HTTP code; a watch until it opens', async () => {
  const plugin = metrics({ processMetrics: false });
  const fake = {
    server: 'https://k8s.test',
    async request(method: string, path: string) {
      if (path === '/missing') throw new KubeApiError(404, { code: 404, reason: 'NotFound' });
      if (path === '/down') throw new KubeApiError(0, { code: 0, reason: 'ServiceUnavailable' });
      return { method };
    },
    async watch(path: string, opts: { onOpen?: () => void }) {
      if (path === '/gone') throw new KubeApiError(410, { code: 410, reason: 'Gone' });
      opts.onOpen?.();
    },
  } as unknown as KubeClient;
  // As the gateway applies it: the call timer as an observer, the watch timer as a wrapper.
  const client = pluginClient([plugin], fake);
  assert.deepEqual(await client.request('GET', '/x'), { method: 'GET' });
  await client.request('PATCH', '/x');
  await assert.rejects(client.request('GET', '/missing'), KubeApiError);
  await assert.rejects(client.request('DELETE', '/down'), KubeApiError);
  let opened = false;
  await client.watch('/ok', { onEvent: () => {}, onOpen: () => (opened = true) });
  assert.ok(opened, 'the caller\'s onOpen still runs');
  await assert.rejects(client.watch('/gone', { onEvent: () => {} }), KubeApiError);
  const m = await scrape(plugin);
  const n = (verb: string, code: string) => m.get(key('crdgate_kube_request_duration_seconds_count', { verb, code }));
  assert.equal(n('GET', '2xx'), 1);
  assert.equal(n('PATCH', '2xx'), 1);
  assert.equal(n('GET', '404'), 1);
  assert.equal(n('DELETE', '0'), 1);
  assert.equal(n('WATCH', '2xx'), 1);
  assert.equal(n('WATCH', '410'), 1);
  assert.equal(client.server, 'https://k8s.test', 'the rest of the client is unchanged');
});

test('gauges and counters read the gateway\'s parts at scrape time', async () => {
  const plugin = metrics({ processMetrics: false });
  const stats = { rebuilds: 2, lastDurationMs: 12, crds: 5, problems: 1 };
  const hub = { upstreams: 3, subscribers: 7, upstreamsStarted: 4, slowConsumers: 1, eventsDelivered: 100, eventsDropped: 2, fallbackSubscribers: 0, directWatchesStarted: 6 };
  let upstreams = [
    { key: { group: 'stable.example.com', version: 'v1', plural: 'crontabs', namespace: 'a' }, storeBytes: 1000, windowBytes: 24 },
    { key: { group: 'stable.example.com', version: 'v1', plural: 'crontabs' }, storeBytes: 5000, windowBytes: 0 },
  ];
  const bytesOf = (namespace: string) => m.get(key('crdgate_watch_upstream_bytes', { resource: 'crontabs.stable.example.com/v1', namespace }));
  const listeners: (() => void)[] = [];
  let caches = [
    { resource: 'crontabs.stable.example.com/v1', namespace: '', objects: 5000, bytes: 2_500_000, synced: true },
    { resource: 'crontabs.stable.example.com/v2', namespace: 'team-a', objects: 10, bytes: 5000, synced: true },
  ];
  const queryCounters = { fromCache: 7, fromApiserver: 2 };
  const parts = {
    catalog: {},
    live: { stats, onChange: (l: () => void) => { listeners.push(l); return () => {}; } },
    operations: {
      hub: { stats: () => ({ ...hub }), upstreamStats: () => upstreams },
      queries: {
        caches: {
          stats: () => caches,
          counters: { started: 2, stoppedIdle: 1, evicted: 0, refusedTooLarge: 0, failed: 0 },
        },
        counters: queryCounters,
      },
    },
  } as unknown as GatewayParts;
  plugin.attach!(parts);
  const before = { ...sharedResultStats };
  let m = await scrape(plugin);
  assert.equal(m.get('crdgate_crds_served'), 5);
  assert.equal(m.get('crdgate_crds_not_served'), 1);
  assert.equal(m.get('crdgate_schema_rebuilds_total'), 2);
  assert.equal(m.get('crdgate_schema_rebuild_duration_seconds_count'), 1);
  assert.equal(m.get('crdgate_subscribers'), 7);
  assert.equal(m.get('crdgate_upstream_watches'), 3);
  assert.equal(m.get('crdgate_upstream_watches_started_total'), 4);
  assert.equal(m.get('crdgate_direct_watches_started_total'), 6);
  assert.equal(m.get('crdgate_watch_events_delivered_total'), 100);
  assert.equal(m.get('crdgate_watch_events_dropped_total'), 2);
  assert.equal(m.get('crdgate_slow_consumer_disconnects_total'), 1);
  assert.equal(m.get('crdgate_subscription_executions_total'), before.executed);
  assert.equal(bytesOf('a'), 1024);
  assert.equal(bytesOf(''), 5000, 'all namespaces');
  assert.equal(m.get(key('crdgate_query_cache_objects', { resource: 'crontabs.stable.example.com/v1', namespace: '' })), 5000);
  assert.equal(m.get(key('crdgate_query_cache_bytes', { resource: 'crontabs.stable.example.com/v2', namespace: 'team-a' })), 5000);
  assert.equal(m.get(key('crdgate_filtered_lists_total', { source: 'cache' })), 7);
  assert.equal(m.get(key('crdgate_filtered_lists_total', { source: 'apiserver' })), 2);
  assert.equal(m.get(key('crdgate_query_cache_stops_total', { reason: 'idle' })), 1);
  // Later: the numbers move, and a rebuild is observed.
  stats.rebuilds = 3;
  stats.lastDurationMs = 40;
  stats.crds = 6;
  for (const l of listeners) l();
  Object.assign(hub, { subscribers: 2, eventsDelivered: 150, slowConsumers: 3 });
  upstreams = upstreams.slice(1);
  caches = [{ resource: 'crontabs.stable.example.com/v1', namespace: '', objects: 4999, bytes: 2_499_000, synced: true }];
  queryCounters.fromCache = 10;
  sharedResultStats.executed += 5;
  sharedResultStats.shared += 7;
  try {
    m = await scrape(plugin);
  } finally {
    sharedResultStats.executed -= 5;
    sharedResultStats.shared -= 7;
  }
  assert.equal(m.get('crdgate_crds_served'), 6);
  assert.equal(m.get('crdgate_schema_rebuilds_total'), 3);
  assert.equal(m.get('crdgate_schema_rebuild_duration_seconds_count'), 2);
  assert.ok(Math.abs(m.get('crdgate_schema_rebuild_duration_seconds_sum')! - 0.052) < 1e-9);
  assert.equal(m.get('crdgate_subscribers'), 2);
  assert.equal(m.get('crdgate_watch_events_delivered_total'), 150);
  assert.equal(m.get('crdgate_slow_consumer_disconnects_total'), 3);
  assert.equal(m.get('crdgate_subscription_executions_total'), before.executed + 5);
  assert.equal(m.get('crdgate_subscription_results_shared_total'), before.shared + 7);
  assert.equal(bytesOf('a'), undefined, 'a stopped upstream has no series');
  assert.equal(bytesOf(''), 5000);
  assert.equal(m.get(key('crdgate_query_cache_objects', { resource: 'crontabs.stable.example.com/v1', namespace: '' })), 4999);
  assert.equal(m.get(key('crdgate_query_cache_objects', { resource: 'crontabs.stable.example.com/v2', namespace: 'team-a' })), undefined, 'a stopped cache leaves the gauge');
  assert.equal(m.get(key('crdgate_filtered_lists_total', { source: 'cache' })), 10);
});

test('operations sent over WebSocket (records of method WS) are counted by type and outcome as HTTP requests are', async () => {
  const plugin = metrics({ processMetrics: false });
  const record = (type: OperationType, code: string, status: number): RequestRecord => ({
    method: 'WS', path: '/graphql', type, operationName: undefined, code, status, durationMs: 3, tenant: undefined, requestId: 'c-1', aborted: false,
  });
  plugin.onRequestDone!(record('subscription', 'ok', 200));
  plugin.onRequestDone!(record('subscription', 'FORBIDDEN', 403));
  plugin.onRequestDone!(record('query', 'ok', 200));
  plugin.onRequestDone!(record('unknown', 'TOO_MANY_REQUESTS', 429));
  const m = await scrape(plugin);
  assert.equal(m.get(key('crdgate_requests_total', { type: 'subscription', outcome: 'ok' })), 1);
  assert.equal(m.get(key('crdgate_requests_total', { type: 'subscription', outcome: 'FORBIDDEN' })), 1);
  assert.equal(m.get(key('crdgate_requests_total', { type: 'query', outcome: 'ok' })), 1);
  assert.equal(m.get(key('crdgate_requests_total', { type: 'unknown', outcome: 'TOO_MANY_REQUESTS' })), 1);
  assert.equal(m.get(key('crdgate_request_duration_seconds_count', { type: 'subscription', outcome: 'ok' })), 1);
  assert.equal(plugin.wrapOperations, undefined, 'the operations are not wrapped: the transport records its operations');
});

test('the ends of subscriptions over WebSocket are counted by outcome', async () => {
  const plugin = metrics({ processMetrics: false });
  for (const code of ['CANCELLED', 'SLOW_CONSUMER', 'CANCELLED']) plugin.onSubscriptionEnd!({ requestId: 'c-1', tenant: undefined, operationName: undefined, code, durationMs: 5 });
  const m = await scrape(plugin);
  assert.equal(m.get(key('crdgate_subscription_ends_total', { outcome: 'CANCELLED' })), 2);
  assert.equal(m.get(key('crdgate_subscription_ends_total', { outcome: 'SLOW_CONSUMER' })), 1);
});

test('the separate listener serves /metrics on 127.0.0.1 and nothing else; stop closes it; process metrics are there', async () => {
  const plugin = metrics();
  const server = await plugin.listen(0);
  const { address, port } = server.address() as AddressInfo;
  assert.equal(address, '127.0.0.1');
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type')!, /^text\/plain; version=0\.0\.4/);
  const m = parseMetrics(await res.text());
  assert.ok(m.has('process_cpu_user_seconds_total'), 'prom-client default metrics');
  assert.ok(m.has('nodejs_eventloop_lag_seconds'));
  assert.equal((await fetch(`http://127.0.0.1:${port}/graphql`)).status, 404);
  await plugin.stop!();
  await assert.rejects(fetch(`http://127.0.0.1:${port}/metrics`));
});

test('on the main port only when asked', async () => {
  for (const onMainPort of [false, true]) {
    const plugin = metrics({ processMetrics: false, onMainPort });
    const app = express();
    for (const m of plugin.middleware ?? []) app.use(m);
    app.use((_req, res) => res.status(404).send('none'));
    const res = await request(app).get('/metrics');
    assert.equal(res.status, onMainPort ? 200 : 404);
    if (onMainPort) assert.match(res.text, /# TYPE crdgate_requests_total counter/);
  }
});

/** A plugin whose kubeCalls throws. */
const brokenObserver: GatewayPlugin = { name: 'broken', kubeCalls: { started: () => { throw new Error('no gauge'); }, settled: () => {} } };

/** Runs `check` with each kind of client a plugin can observe: a real KubeClient (against a plain HTTP server) and a test double. */
async function withEachClient(check: (base: KubeClient) => Promise<void>): Promise<void> {
  const server = createServer((_req, res) => res.end('{"kind":"Thing"}'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const real = new KubeClient({ getCurrentCluster: () => ({ name: 'c', server: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }), applyToHTTPSOptions: async () => {} });
  const fake = { server: 'https://k8s.test', async request() { return { kind: 'Thing' }; } } as unknown as KubeClient;
  try {
    for (const base of [real, fake]) await check(base);
  } finally {
    await real.close();
    server.close();
  }
}

test('a plugin whose kubeCalls throws changes no call\'s result and is logged once, whichever client it observes', async () => {
  await withEachClient(async (base) => {
    const lines: string[] = [];
    const client = pluginClient([brokenObserver], base, { warn: (msg) => lines.push(msg) });
    assert.deepEqual(await client.request('GET', '/x'), { kind: 'Thing' });
    assert.deepEqual(await client.request('GET', '/y'), { kind: 'Thing' });
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /^plugin broken: its observer of Kubernetes calls failed .*no gauge/s);
  });
});

test('without a log, a failing kubeCalls is one process warning with its stack, whichever client it observes', async () => {
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(w.message);
  process.on('warning', onWarning);
  try {
    await withEachClient(async (base) => {
      warnings.length = 0;
      const client = pluginClient([brokenObserver], base);
      await client.request('GET', '/x');
      await client.request('GET', '/y');
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]!, /^an observer of Kubernetes calls failed; its later failures are not reported: Error: no gauge\n\s+at /);
    });
  } finally {
    process.off('warning', onWarning);
  }
});
