// The tracing plugin without a cluster: spans of GraphQL requests (through a real Apollo Server),
// REST requests and refusals (through Express), their GraphQL operations and the Kubernetes calls
// made for them (through a fake client that records the headers it was given), the traceparent
// going out and coming in, subscriptions over WebSocket, calls that belong to no request, and the
// path templates that keep names out of span names and attributes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import request from 'supertest';
import { GraphQLError } from 'graphql';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import { InMemorySpanExporter, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace';
import { ApiError, fromKubeError } from '../../../src/api-errors.ts';
import { KubeApiError, type KubeClient } from '../../../src/kube/kube-client.ts';
import { apiRouteOf, kubePathTemplate, otlpExporter, otlpTracesUrl, tracing, type TracingPlugin } from '../../../src/plugins/tracing.ts';
import type { GatewayOperations } from '../../../src/service/hub-operations.ts';
import type { CallerContext } from '../../../src/contract/caller-context.ts';
import { pollUntil } from '../../helpers/poll-until.ts';
import { pluginApp, schemaOf } from '../../helpers/plugin-app.ts';
import { sendProblem } from '../../../src/transports/rest-router.ts';

interface SentCall {
  method: string;
  path: string;
  headers: Record<string, string> | undefined;
}

/** A Kubernetes client double: records what it was asked, answers 403 for paths with "forbidden". */
function fakeClient(): { client: KubeClient; sent: SentCall[] } {
  const sent: SentCall[] = [];
  const client = {
    server: 'https://kube.example:6443',
    async request(method: string, path: string, opts: { headers?: Record<string, string> } = {}) {
      sent.push({ method, path, headers: opts.headers });
      await new Promise((r) => setImmediate(r));
      if (path.includes('forbidden')) throw new KubeApiError(403, { kind: 'Status', code: 403, reason: 'Forbidden', message: 'no' });
      return { items: [] };
    },
    async watch(path: string, opts: { headers?: Record<string, string>; onOpen?: () => void }) {
      sent.push({ method: 'WATCH', path, headers: opts.headers });
      await new Promise((r) => setImmediate(r));
      if (path.includes('forbidden')) throw new KubeApiError(403, { kind: 'Status', code: 403, reason: 'Forbidden', message: 'no' });
      opts.onOpen?.();
    },
    async close() {},
  } as unknown as KubeClient;
  return { client, sent };
}

async function appWith(plugin: TracingPlugin) {
  const { client: raw, sent } = fakeClient();
  const kube = plugin.wrapClient!(raw);
  const schema = schemaOf('type Query { things(namespace: String!): Int, forbidden: Int }', {
    Query: {
      things: async (_: unknown, args: { namespace: string }) => {
        const list = await kube.request<{ items: unknown[] }>('GET', `/apis/g.example/v1/namespaces/${args.namespace}/things`);
        return list.items.length;
      },
      forbidden: async () => {
        try {
          return await kube.request('GET', '/apis/g.example/v1/namespaces/n/things/forbidden');
        } catch (err) {
          const e = fromKubeError(err);
          throw new GraphQLError(e.message, { extensions: { code: e.code } });
        }
      },
    },
  });
  // As the gateway's app does: the transport gives the request its id, then the plugins run.
  const { app, stop } = await pluginApp([plugin], schema, {
    context: (req) => ({ tenant: req.get('x-tenant'), requestId: req.get('x-request-id') }),
  });
  const apollo = { stop };
  app.get('/rest/:group/:version/namespaces/:namespace/:plural/:name', async (req, res) => {
    try {
      res.json(await kube.request('GET', `/apis/${req.params.group}/${req.params.version}/namespaces/${req.params.namespace}/${req.params.plural}/${req.params.name}`));
    } catch (err) {
      sendProblem(req, res, fromKubeError(err));
    }
  });
  return { app, apollo, kube, sent };
}

function setup(sampleRatio?: number) {
  const exporter = new InMemorySpanExporter();
  const plugin = tracing({ exporter, ...(sampleRatio === undefined ? {} : { sampleRatio }) });
  /** The finished spans, once `count` of them are there. */
  const spans = (count: number) => pollUntil(`${count} finished span(s)`, async () => {
    await plugin.forceFlush();
    const all = exporter.getFinishedSpans();
    return all.length >= count ? all : undefined;
  }, { timeoutMs: 5_000 });
  return { exporter, plugin, spans };
}

const byName = (spans: ReadableSpan[], name: string): ReadableSpan => {
  const found = spans.filter((s) => s.name === name);
  assert.equal(found.length, 1, `one span named ${name} in ${spans.map((s) => s.name).join(', ')}`);
  return found[0]!;
};
const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;
const traceparentOf = (s: ReadableSpan) => `00-${s.spanContext().traceId}-${s.spanContext().spanId}-01`;

test('a GraphQL query: request span → operation span → Kubernetes client span, traceparent sent', async () => {
  const { plugin, spans, exporter } = setup();
  const { app, apollo, sent } = await appWith(plugin);
  try {
    const res = await request(app).post('/graphql').set({ 'x-tenant': 'tenant-a', authorization: 'Bearer sekrit-token' })
      .send({ query: 'query ListThings($ns: String!) { things(namespace: $ns) }', variables: { ns: 'ns-hidden' } });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { data: { things: 0 } });
    const all = await spans(3);
    assert.equal(all.length, 3);
    const server = byName(all, 'POST /graphql');
    const op = byName(all, 'GraphQL query ListThings');
    const call = byName(all, 'GET /apis/g.example/v1/namespaces/{namespace}/things');
    assert.equal(server.kind, SpanKind.SERVER);
    assert.equal(op.kind, SpanKind.INTERNAL);
    assert.equal(call.kind, SpanKind.CLIENT);
    assert.equal(parentOf(server), undefined, 'no incoming traceparent: a root span');
    assert.equal(parentOf(op), server.spanContext().spanId);
    assert.equal(parentOf(call), op.spanContext().spanId);
    assert.equal(new Set(all.map((s) => s.spanContext().traceId)).size, 1, 'one trace');

    const requestId = res.get('x-request-id');
    assert.ok(requestId);
    assert.equal(server.attributes['crdgate.request_id'], requestId);
    assert.equal(server.attributes['http.request.method'], 'POST');
    assert.equal(server.attributes['http.route'], '/graphql');
    assert.equal(server.attributes['http.response.status_code'], 200);
    assert.equal(server.attributes['graphql.operation.type'], 'query');
    assert.equal(server.status.code, SpanStatusCode.UNSET);
    assert.equal(op.attributes['graphql.operation.type'], 'query');
    assert.equal(op.attributes['graphql.operation.name'], 'ListThings');
    assert.equal(op.attributes['crdgate.tenant'], 'tenant-a');
    assert.equal(op.attributes['crdgate.request_id'], requestId);
    assert.equal(call.attributes['http.request.method'], 'GET');
    assert.equal(call.attributes['url.template'], '/apis/g.example/v1/namespaces/{namespace}/things');
    assert.equal(call.attributes['server.address'], 'kube.example');
    assert.equal(call.attributes['server.port'], 6443);
    assert.equal(call.status.code, SpanStatusCode.UNSET);
    // Every attribute, in the order the exporter sends them, and nothing dropped or added.
    assert.deepEqual(Object.entries(server.attributes), [
      ['http.request.method', 'POST'], ['http.route', '/graphql'], ['crdgate.request_id', requestId],
      ['http.response.status_code', 200], ['graphql.operation.type', 'query'],
    ]);
    assert.deepEqual(Object.entries(op.attributes), [
      ['crdgate.tenant', 'tenant-a'], ['crdgate.request_id', requestId],
      ['graphql.operation.type', 'query'], ['graphql.operation.name', 'ListThings'],
    ]);
    assert.deepEqual(Object.entries(call.attributes), [
      ['http.request.method', 'GET'], ['url.template', '/apis/g.example/v1/namespaces/{namespace}/things'],
      ['server.address', 'kube.example'], ['server.port', 6443],
    ]);
    for (const s of all) {
      assert.equal(s.droppedAttributesCount, 0, s.name);
      assert.deepEqual([s.events, s.links], [[], []], s.name);
    }

    assert.equal(sent.length, 1);
    assert.equal(sent[0]!.headers?.traceparent, traceparentOf(call), 'the apiserver gets the client span as parent');
    for (const s of all) {
      const text = JSON.stringify([s.name, s.attributes, s.events]);
      assert.doesNotMatch(text, /sekrit|ns-hidden|Bearer/, `${s.name} carries no credential and no names`);
    }
    assert.equal(exporter.getFinishedSpans()[0]!.resource.attributes['service.name'], 'crdgate');
  } finally {
    await apollo.stop();
    await plugin.stop!();
  }
});

test('an incoming traceparent becomes the parent of the request span; tracestate goes along', async () => {
  const { plugin, spans } = setup();
  const { app, apollo, sent } = await appWith(plugin);
  try {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const parentId = '00f067aa0ba902b7';
    const res = await request(app).post('/graphql')
      .set({ traceparent: `00-${traceId}-${parentId}-01`, tracestate: 'vendor=abc' })
      .send({ query: '{ things(namespace: "n") }' });
    assert.equal(res.status, 200);
    const all = await spans(3);
    const server = byName(all, 'POST /graphql');
    assert.equal(server.spanContext().traceId, traceId);
    assert.equal(parentOf(server), parentId);
    assert.ok(server.parentSpanContext?.isRemote);
    const call = byName(all, 'GET /apis/g.example/v1/namespaces/{namespace}/things');
    assert.equal(call.spanContext().traceId, traceId);
    assert.equal(sent[0]!.headers?.traceparent, traceparentOf(call));
    assert.equal(sent[0]!.headers?.tracestate, 'vendor=abc');
    // An operation without a name is named for its type only.
    assert.ok(all.some((s) => s.name === 'GraphQL query'));
  } finally {
    await apollo.stop();
    await plugin.stop!();
  }
});

test('a malformed traceparent starts a new trace', async () => {
  const { plugin, spans } = setup();
  const { app, apollo } = await appWith(plugin);
  try {
    await request(app).post('/graphql').set({ traceparent: '00-zzzz-nope-01' }).send({ query: '{ things(namespace: "n") }' });
    const server = byName(await spans(3), 'POST /graphql');
    assert.equal(parentOf(server), undefined);
    assert.match(server.spanContext().traceId, /^[0-9a-f]{32}$/);
  } finally {
    await apollo.stop();
    await plugin.stop!();
  }
});

test('sampling: a ratio of 0 traces no request of its own, but follows a caller that sampled', async () => {
  const { plugin, exporter } = setup(0);
  const { app, apollo, sent } = await appWith(plugin);
  try {
    for (let i = 0; i < 20; i++) {
      assert.equal((await request(app).post('/graphql').send({ query: '{ things(namespace: "n") }' })).status, 200);
    }
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    // A caller that did not sample: not traced either, and the apiserver is told so.
    await request(app).post('/graphql').set({ traceparent: `00-${traceId}-00f067aa0ba902b7-00` }).send({ query: '{ things(namespace: "n") }' });
    await plugin.forceFlush();
    assert.equal(exporter.getFinishedSpans().length, 0, 'nothing recorded');
    assert.equal(sent.at(-1)!.headers?.traceparent?.slice(0, 36), `00-${traceId}-`, 'the trace goes on downstream');
    assert.match(sent.at(-1)!.headers!.traceparent!, /-00$/, 'as not sampled');

    await request(app).post('/graphql').set({ traceparent: `00-${traceId}-00f067aa0ba902b7-01` }).send({ query: '{ things(namespace: "n") }' });
    await plugin.forceFlush();
    const spans = exporter.getFinishedSpans();
    assert.equal(spans.length, 3, spans.map((s) => s.name).join(', '));
    assert.ok(spans.every((s) => s.spanContext().traceId === traceId));
    assert.match(sent.at(-1)!.headers!.traceparent!, /-01$/);
  } finally {
    await apollo.stop();
    await plugin.stop!();
  }
});

test('sampling: a ratio between 0 and 1 traces about that share of requests, whole traces only', async () => {
  const { plugin, exporter } = setup(0.25);
  const { app, apollo } = await appWith(plugin);
  try {
    const n = 400;
    for (let i = 0; i < n; i++) await request(app).post('/graphql').send({ query: '{ things(namespace: "n") }' });
    await plugin.forceFlush();
    const spans = exporter.getFinishedSpans();
    const traces = new Map<string, number>();
    for (const s of spans) traces.set(s.spanContext().traceId, (traces.get(s.spanContext().traceId) ?? 0) + 1);
    // Binomial(400, 0.25): mean 100, standard deviation ~8.7; ±5 deviations cannot fail by chance in practice.
    assert.ok(traces.size > 56 && traces.size < 144, `${traces.size} of ${n} requests traced`);
    assert.ok([...traces.values()].every((c) => c === 3), 'each traced request has its three spans');
  } finally {
    await apollo.stop();
    await plugin.stop!();
  }
  assert.throws(() => tracing({ exporter: new InMemorySpanExporter(), sampleRatio: 1.5 }), /sampleRatio 1.5 is not from 0 to 1/);
});

test('errors carry the catalog code: a GraphQL error, a REST 403, a refused request', async () => {
  const { plugin, spans } = setup();
  const { app, apollo } = await appWith(plugin);
  try {
    const gql = await request(app).post('/graphql').send({ query: 'query F { forbidden }' });
    assert.equal(gql.body.errors[0].extensions.code, 'FORBIDDEN');
    let all = await spans(3);
    for (const name of ['POST /graphql', 'GraphQL query F', 'GET /apis/g.example/v1/namespaces/{namespace}/things/{name}']) {
      const s = byName(all, name);
      assert.equal(s.status.code, SpanStatusCode.ERROR, name);
      assert.equal(s.status.message, 'FORBIDDEN', name);
      assert.equal(s.attributes['error.type'], 'FORBIDDEN', name);
      assert.equal(s.attributes['crdgate.error.code'], 'FORBIDDEN', name);
    }
    assert.equal(byName(all, 'GET /apis/g.example/v1/namespaces/{namespace}/things/{name}').attributes['http.response.status_code'], 403);

    const rest = await request(app).get('/rest/g.example/v1/namespaces/ns-hidden/things/forbidden?token=sekrit');
    assert.equal(rest.status, 403);
    all = await spans(5);
    const server = byName(all, 'GET /rest/{group}/{version}/namespaces/{namespace}/{plural}/{name}');
    assert.equal(server.attributes['http.response.status_code'], 403);
    assert.equal(server.attributes['crdgate.error.code'], 'FORBIDDEN');
    assert.equal(server.status.code, SpanStatusCode.ERROR);
    const restCall = all.filter((s) => s.kind === SpanKind.CLIENT && parentOf(s) === server.spanContext().spanId);
    assert.equal(restCall.length, 1, 'a REST call\'s Kubernetes span is a child of its request span');
    assert.equal(restCall[0]!.attributes['crdgate.error.code'], 'FORBIDDEN');
    assert.doesNotMatch(JSON.stringify(all.map((s) => [s.name, s.attributes])), /sekrit|ns-hidden/);

    // A parse error never reaches an operation: the request span has the code.
    assert.equal((await request(app).post('/graphql').send({ query: '{ things(' })).status, 400);
    all = await spans(7);
    const parse = all.filter((s) => s.name === 'POST /graphql').at(-1)!;
    assert.equal(parse.attributes['crdgate.error.code'], 'GRAPHQL_PARSE_FAILED');
    assert.equal(parse.attributes['http.response.status_code'], 400);
    // No operation was selected: the attribute (query, mutation or subscription only) is left out.
    assert.ok(!('graphql.operation.type' in parse.attributes), JSON.stringify(parse.attributes));
  } finally {
    await apollo.stop();
    await plugin.stop!();
  }
});

test('probes and documents get no span; Kubernetes calls outside a request are neither traced nor stamped', async () => {
  const { plugin, exporter } = setup();
  const { app, apollo, kube, sent } = await appWith(plugin);
  try {
    assert.equal((await request(app).get('/healthz')).status, 200);
    await kube.request('GET', '/apis/g.example/v1/things');
    await kube.watch('/apis/g.example/v1/things', { onEvent: () => {} });
    await plugin.forceFlush();
    assert.deepEqual(exporter.getFinishedSpans().map((s) => s.name), []);
    assert.equal(sent.length, 2);
    assert.equal(sent[0]!.headers?.traceparent, undefined);
    assert.equal(sent[1]!.headers?.traceparent, undefined);
  } finally {
    await apollo.stop();
    await plugin.stop!();
  }
});

test('an operation over WebSocket gets a server span until its outcome, parent of the calls made to run it (a subscription: to start it)', async () => {
  const { plugin, spans } = setup();
  const { client: raw, sent } = fakeClient();
  const kube = plugin.wrapClient!(raw);
  let later: (() => Promise<void>) | undefined;
  const ops = {
    async watch() {
      await kube.request('GET', '/apis/g.example/v1/things');
      await kube.watch('/apis/g.example/v1/things', { onEvent: () => {} });
      // What the hub does after the start (a reconnect) belongs to no live operation.
      later = () => kube.request('GET', '/apis/g.example/v1/things?again');
      return (async function* () {})();
    },
  } as unknown as GatewayOperations;
  const traced = plugin.wrapOperations!(ops);
  const context = { transport: 'ws', tenant: 'tenant-b', requestId: 'conn-1' } as const;
  try {
    const subscription = plugin.socketOperation!({ type: 'subscription', name: undefined, context })!;
    await subscription.run(() => traced.watch({ resource: { plural: 'things', group: 'g.example' }, context, args: {} } as never));
    subscription.done('ok');
    const all = await spans(3);
    const sub = byName(all, 'GraphQL subscription');
    assert.equal(sub.kind, SpanKind.SERVER);
    assert.equal(parentOf(sub), undefined);
    assert.deepEqual(Object.entries(sub.attributes), [
      ['graphql.operation.type', 'subscription'], ['crdgate.tenant', 'tenant-b'], ['crdgate.request_id', 'conn-1'], ['crdgate.resource', 'things.g.example'],
    ]);
    assert.equal(sub.status.code, SpanStatusCode.UNSET);
    const list = byName(all, 'GET /apis/g.example/v1/things');
    const watch = byName(all, 'WATCH /apis/g.example/v1/things');
    assert.equal(parentOf(list), sub.spanContext().spanId);
    assert.equal(parentOf(watch), sub.spanContext().spanId);
    assert.equal(watch.attributes['http.request.method'], 'GET');
    assert.equal(sent[1]!.headers?.traceparent, traceparentOf(watch));

    await later!();
    assert.equal(sent.at(-1)!.headers?.traceparent, undefined, 'no trace after the start has ended');

    const query = plugin.socketOperation!({ type: 'query', name: 'Things', context })!;
    await query.run(async () => {
      await Promise.resolve();
      return kube.request('GET', '/apis/g.example/v1/namespaces/a/things/one');
    });
    query.done('NOT_FOUND');
    const q = byName(await spans(5), 'GraphQL query Things');
    assert.deepEqual(Object.entries(q.attributes).slice(0, 2), [['graphql.operation.type', 'query'], ['graphql.operation.name', 'Things']]);
    assert.equal(q.attributes['crdgate.error.code'], 'NOT_FOUND');
    assert.equal(q.status.code, SpanStatusCode.ERROR);
    assert.equal(parentOf(byName(await spans(5), 'GET /apis/g.example/v1/namespaces/{namespace}/things/{name}')), q.spanContext().spanId);

    // A REST watch is an HTTP request with its own span: no attribute set on anything else.
    await traced.watch({ resource: { plural: 'things', group: 'g.example' }, context: { transport: 'http' }, args: {} } as never);
    await plugin.forceFlush();
    assert.equal((await spans(5)).length, 5);
  } finally {
    await plugin.stop!();
  }
});

test('a watch refused by the apiserver ends its span with the code', async () => {
  const { plugin, spans } = setup();
  const { client: raw } = fakeClient();
  const kube = plugin.wrapClient!(raw);
  const ops = {
    async watch() {
      await kube.watch('/apis/g.example/v1/namespaces/n/forbidden', { onEvent: () => {} });
      return (async function* () {})();
    },
  } as unknown as GatewayOperations;
  try {
    const context = { transport: 'ws' } as const;
    const subscription = plugin.socketOperation!({ type: 'subscription', name: undefined, context })!;
    await assert.rejects(async () => subscription.run(() => plugin.wrapOperations!(ops).watch({ resource: { plural: 'x', group: 'g' }, context, args: {} } as never)));
    subscription.done('FORBIDDEN');
    const all = await spans(2);
    assert.equal(byName(all, 'GraphQL subscription').attributes['crdgate.error.code'], 'FORBIDDEN');
    const watch = byName(all, 'WATCH /apis/g.example/v1/namespaces/{namespace}/forbidden');
    assert.equal(watch.attributes['http.response.status_code'], 403);
    assert.equal(watch.attributes['crdgate.error.code'], 'FORBIDDEN');
  } finally {
    await plugin.stop!();
  }
});

test('failed exports are reported, at most once a minute, with the number of failures', async () => {
  const failing: SpanExporter = {
    export: (_spans, done) => done({ code: ExportResultCode.FAILED, error: new Error('collector down') }),
    shutdown: async () => {},
  };
  const reports: [string, number][] = [];
  const plugin = tracing({ exporter: failing, batch: false, onExportError: (err, n) => reports.push([err.message, n]) });
  const { app, apollo } = await appWith(plugin);
  try {
    await request(app).post('/graphql').send({ query: '{ things(namespace: "n") }' });
    await request(app).post('/graphql').send({ query: '{ things(namespace: "n") }' });
    await pollUntil('a report', () => reports.length > 0, { timeoutMs: 5_000 });
    await plugin.forceFlush();
    assert.deepEqual(reports, [['collector down', 1]]);
  } finally {
    await apollo.stop();
    await plugin.stop!();
  }
});

test('path templates keep group, version, resource and subresource, never names', () => {
  assert.equal(kubePathTemplate('/apis/stable.example.com/v1/namespaces/team-a/crontabs/nightly'), '/apis/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}');
  assert.equal(kubePathTemplate('/apis/stable.example.com/v1/namespaces/team-a/crontabs'), '/apis/stable.example.com/v1/namespaces/{namespace}/crontabs');
  assert.equal(kubePathTemplate('/apis/stable.example.com/v1/crontabs?labelSelector=a%3Db'), '/apis/stable.example.com/v1/crontabs');
  assert.equal(kubePathTemplate('/apis/stable.example.com/v1/namespaces/team-a/crontabs/nightly/status'), '/apis/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}/status');
  assert.equal(kubePathTemplate('/apis/g/v1/clusterthings/one/scale'), '/apis/g/v1/clusterthings/{name}/scale');
  assert.equal(kubePathTemplate('/api/v1/namespaces/team-a'), '/api/v1/namespaces/{name}');
  assert.equal(kubePathTemplate('/api/v1/namespaces/team-a/pods/p/proxy/x/y'), '/api/v1/namespaces/{namespace}/pods/{name}/proxy/{path}');
  assert.equal(kubePathTemplate('/apis/authorization.k8s.io/v1/selfsubjectrulesreviews'), '/apis/authorization.k8s.io/v1/selfsubjectrulesreviews');
  assert.equal(kubePathTemplate('/version'), '/version');
  assert.equal(kubePathTemplate('/apis/stable.example.com/v1'), '/apis/stable.example.com/v1');

  // Against the plain statement of the rule, over generated paths (doubled and trailing slashes, query strings, short and long).
  const reference = (path: string) => {
    const segs = path.split('?')[0]!.split('/').filter(Boolean);
    const prefixLength = segs[0] === 'api' ? 2 : segs[0] === 'apis' ? 3 : 0;
    if (!prefixLength || segs.length <= prefixLength) return `/${segs.join('/')}`;
    const out = segs.slice(0, prefixLength);
    let rest = segs.slice(prefixLength);
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      out.push('namespaces', '{namespace}');
      rest = rest.slice(2);
    }
    out.push(rest[0]!);
    if (rest.length >= 2) out.push('{name}');
    if (rest.length >= 3) out.push(rest[2]!);
    if (rest.length >= 4) out.push('{path}');
    return `/${out.join('/')}`;
  };
  const words = ['api', 'apis', 'v1', 'g.io', 'namespaces', 'ns', 'things', 'one', 'status', 'x', ''];
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
  for (let i = 0; i < 3000; i++) {
    const segs = Array.from({ length: next() % 9 }, () => words[next() % words.length]);
    if (next() % 2) segs.unshift(next() % 2 ? 'api' : 'apis');
    const path = `/${segs.join('/')}${next() % 4 ? '' : '/'}${next() % 5 ? '' : '?watch=true&x=/a/b'}`;
    assert.equal(kubePathTemplate(path), reference(path), path);
  }

  assert.equal(apiRouteOf('/graphql'), '/graphql');
  assert.equal(apiRouteOf('/rest/g/v1/things'), '/rest/{group}/{version}/{plural}');
  assert.equal(apiRouteOf('/rest/g/v1/things/one/status'), '/rest/{group}/{version}/{plural}/{name}/{subresource}');
  assert.equal(apiRouteOf('/rest/g/v1/namespaces/a/things'), '/rest/{group}/{version}/namespaces/{namespace}/{plural}');
  assert.equal(apiRouteOf('/rest/g/v1/namespaces/a/things/one/scale'), '/rest/{group}/{version}/namespaces/{namespace}/{plural}/{name}/{subresource}');
  assert.equal(apiRouteOf('/rest/g'), '/rest/*');
  assert.equal(apiRouteOf('/rest/g/v1/a/b/c/d/e/f/g'), '/rest/*');
  assert.equal(apiRouteOf('/healthz'), undefined);
  assert.equal(apiRouteOf('/openapi.json'), undefined);
});

test('the OTLP traces URL from a base URL, as OTEL_EXPORTER_OTLP_ENDPOINT is read', () => {
  assert.equal(otlpTracesUrl('http://collector:4318'), 'http://collector:4318/v1/traces');
  assert.equal(otlpTracesUrl('http://collector:4318/'), 'http://collector:4318/v1/traces');
  assert.equal(otlpTracesUrl('https://otel.example/prefix/'), 'https://otel.example/prefix/v1/traces');
  assert.equal(otlpTracesUrl('http://collector:4318/v1/traces'), 'http://collector:4318/v1/traces');
});

test('the OTLP exporter posts the spans to the collector\'s /v1/traces', async () => {
  const posts: { path: string | undefined; type: string | undefined; body: string }[] = [];
  const collector = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      posts.push({ path: req.url, type: req.headers['content-type'], body });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  collector.listen(0, '127.0.0.1');
  await once(collector, 'listening');
  const plugin = tracing({ exporter: otlpExporter(`http://127.0.0.1:${(collector.address() as AddressInfo).port}`) });
  const { app, apollo } = await appWith(plugin);
  try {
    assert.equal((await request(app).post('/graphql').send({ query: '{ things(namespace: "n") }' })).status, 200);
    await pollUntil('an export', async () => {
      await plugin.forceFlush();
      return posts.length > 0;
    }, { timeoutMs: 5_000 });
    assert.equal(posts[0]!.path, '/v1/traces');
    // OTLP/HTTP with JSON bodies (the protobuf flavour is another package).
    assert.equal(posts[0]!.type, 'application/json');
    const sentSpans = posts.map((p) => JSON.parse(p.body)) as
      { resourceSpans: { resource: { attributes: { key: string; value: { stringValue?: string } }[] }; scopeSpans: { spans: { name: string }[] }[] }[] }[];
    const resource = sentSpans[0]!.resourceSpans[0]!.resource.attributes.find((a) => a.key === 'service.name');
    assert.equal(resource?.value.stringValue, 'crdgate');
    const names = sentSpans.flatMap((b) => b.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((sc) => sc.spans.map((sp) => sp.name))));
    assert.ok(names.includes('POST /graphql'), names.join(', '));
  } finally {
    await apollo.stop();
    await plugin.stop!();
    collector.close();
  }
});
