// Traces on the real control plane: GraphQL (over HTTP and WebSocket) and REST requests through a gateway with the tracing
// plugin (spans kept in memory), with the traceparent of every call the gateway really sent to
// the apiserver captured where Node's HTTP client or undici starts the request (diagnostics_channel),
// after KubeClient has built its headers. A client's traceparent is honoured; a 404 and a 403 (a gateway
// acting as carol, who may read CRDs but not crontabs) are traced with their error codes.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClientRequest } from 'node:http';
import { randomBytes } from 'node:crypto';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { KubeClient } from '../../src/kube/kube-client.ts';
import { tracing, type TracingPlugin } from '../../src/plugins/tracing.ts';
import { eventually, gql, startGateway, type RunningGateway } from '../helpers/graphql-client.ts';
import { pollUntil } from '../helpers/poll-until.ts';
import { firstAnswerOver, openClient } from '../helpers/subscription-client.ts';
import { kubeConfigFor, testCluster, uniqueName } from '../helpers/test-cluster.ts';
import { testNamespaces } from '../helpers/test-namespaces.ts';

const admin = new KubeClient(kubeConfigFor('admin'));
const namespaces = testNamespaces();
const crdReader = uniqueName('crdgate-test-trace-crd-reader');
const apiserver = new URL(testCluster().server);
let ns: string;

/** Every request Node's HTTP client started towards the apiserver, with the headers it carried. */
const sent: { method: string; path: string; traceparent: string | undefined; auditId: string | undefined }[] = [];
const onRequest = (message: unknown) => {
  const req = (message as { request: ClientRequest }).request;
  if (req.host !== apiserver.hostname) return;
  const header = (name: string) => req.getHeader(name) as string | undefined;
  sent.push({ method: req.method, path: req.path, traceparent: header('traceparent'), auditId: header('audit-id') });
};

/** The same for the calls KubeClient sends over undici's pool (every call but watches). */
const onPooledRequest = (message: unknown) => {
  const req = (message as { request: { origin: string | URL; method: string; path: string; headers: unknown[] } }).request;
  if (new URL(String(req.origin)).hostname !== apiserver.hostname) return;
  const header = (name: string) => {
    for (let i = 0; i < req.headers.length; i += 2) if (String(req.headers[i]).toLowerCase() === name) return String(req.headers[i + 1]);
    return undefined;
  };
  sent.push({ method: req.method, path: req.path, traceparent: header('traceparent'), auditId: header('audit-id') });
};

interface Traced {
  gw: RunningGateway;
  exporter: InMemorySpanExporter;
  plugin: TracingPlugin;
}
let adminGw: Traced;

async function tracedGateway(user: string): Promise<Traced> {
  const exporter = new InMemorySpanExporter();
  const plugin = tracing({ exporter });
  const gw = await startGateway(kubeConfigFor(user), {}, 5_000, { explorer: false, plugins: [plugin] });
  return { gw, exporter, plugin };
}

/** The spans of the trace whose request span has this request id, once `count` are finished. */
function traceOf(t: Traced, requestId: string, count: number): Promise<ReadableSpan[]> {
  return pollUntil(`${count} span(s) for request ${requestId}`, async () => {
    await t.plugin.forceFlush();
    const all = t.exporter.getFinishedSpans();
    const server = all.find((s) => s.kind === SpanKind.SERVER && s.attributes['crdgate.request_id'] === requestId);
    if (!server) return undefined;
    const spans = all.filter((s) => s.spanContext().traceId === server.spanContext().traceId);
    return spans.length >= count ? spans : undefined;
  }, { timeoutMs: 10_000 });
}

const one = (spans: ReadableSpan[], pred: (s: ReadableSpan) => boolean, what: string): ReadableSpan => {
  const found = spans.filter(pred);
  assert.equal(found.length, 1, `one ${what} in ${spans.map((s) => s.name).join(', ')}`);
  return found[0]!;
};
const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;
const traceparentOf = (s: ReadableSpan) => `00-${s.spanContext().traceId}-${s.spanContext().spanId}-01`;
const origin = (gw: RunningGateway) => gw.url.replace(/\/graphql$/, '');
const listQuery = 'query ListCronTabs($ns: String) { cronTabList_stable_example_com(namespace: $ns) { edges { node { metadata { name } } } } }';

before(async () => {
  subscribe('http.client.request.start', onRequest);
  subscribe('undici:request:create', onPooledRequest);
  ns = await namespaces.create('hard-trace');
  await admin.request('POST', `/apis/stable.example.com/v1/namespaces/${ns}/crontabs`, {
    body: { apiVersion: 'stable.example.com/v1', kind: 'CronTab', metadata: { name: 'c0' }, spec: { cronSpec: '@hourly' } },
  });
  adminGw = await tracedGateway('admin');
});

after(async () => {
  unsubscribe('http.client.request.start', onRequest);
  unsubscribe('undici:request:create', onPooledRequest);
  await adminGw?.gw.stop();
  await admin.request('DELETE', `/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/${crdReader}`).catch(() => {});
  await admin.request('DELETE', `/apis/rbac.authorization.k8s.io/v1/clusterroles/${crdReader}`).catch(() => {});
  await namespaces.deleteAll();
});

test('a GraphQL list: request span → operation span → Kubernetes span, whose traceparent the apiserver got', async () => {
  const requestId = uniqueName('trace-list');
  const r = await gql(adminGw.gw.url, listQuery, { ns }, { headers: { 'x-request-id': requestId } });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.data.cronTabList_stable_example_com.edges.map((e: { node: { metadata: { name: string } } }) => e.node.metadata.name), ['c0']);

  const spans = await traceOf(adminGw, requestId, 3);
  assert.equal(spans.length, 3, spans.map((s) => s.name).join(', '));
  const server = one(spans, (s) => s.name === 'POST /graphql', 'request span');
  const op = one(spans, (s) => s.name === 'GraphQL query ListCronTabs', 'operation span');
  const call = one(spans, (s) => s.name === 'GET /apis/stable.example.com/v1/namespaces/{namespace}/crontabs', 'Kubernetes span');
  assert.equal(server.kind, SpanKind.SERVER);
  assert.equal(parentOf(server), undefined);
  assert.equal(parentOf(op), server.spanContext().spanId);
  assert.equal(parentOf(call), op.spanContext().spanId);
  assert.equal(call.kind, SpanKind.CLIENT);
  assert.equal(op.attributes['crdgate.request_id'], requestId);
  assert.equal(op.attributes['graphql.operation.type'], 'query');
  assert.equal(server.attributes['http.response.status_code'], 200);
  assert.equal(call.attributes['server.port'], Number(apiserver.port));
  assert.equal(call.status.code, SpanStatusCode.UNSET);
  assert.doesNotMatch(JSON.stringify(spans.map((s) => [s.name, s.attributes])), new RegExp(ns), 'no namespace names');

  const out = sent.filter((c) => c.auditId === requestId);
  assert.equal(out.length, 1, JSON.stringify(out));
  assert.equal(out[0]!.method, 'GET');
  assert.equal(out[0]!.path.split('?')[0], `/apis/stable.example.com/v1/namespaces/${ns}/crontabs`);
  assert.equal(out[0]!.traceparent, traceparentOf(call));
});

test('a GraphQL list over WebSocket: its own server span → Kubernetes span, whose traceparent the apiserver got', async () => {
  const client = openClient(origin(adminGw.gw));
  try {
    const answer = await firstAnswerOver(client, { query: listQuery, variables: { ns } });
    assert.equal(answer.errors, undefined, JSON.stringify(answer.errors));
  } finally {
    await client.dispose();
  }
  const spans = await pollUntil('the operation\'s spans', async () => {
    await adminGw.plugin.forceFlush();
    const all = adminGw.exporter.getFinishedSpans();
    const op = all.find((s) => s.name === 'GraphQL query ListCronTabs' && s.kind === SpanKind.SERVER);
    const trace = op ? all.filter((s) => s.spanContext().traceId === op.spanContext().traceId) : [];
    return trace.length >= 2 ? trace : undefined;
  }, { timeoutMs: 10_000 });
  assert.equal(spans.length, 2, spans.map((s) => s.name).join(', '));
  const op = one(spans, (s) => s.name === 'GraphQL query ListCronTabs', 'operation span');
  const call = one(spans, (s) => s.name === 'GET /apis/stable.example.com/v1/namespaces/{namespace}/crontabs', 'Kubernetes span');
  assert.equal(parentOf(op), undefined);
  assert.equal(parentOf(call), op.spanContext().spanId);
  assert.equal(op.attributes['graphql.operation.type'], 'query');
  assert.equal(op.attributes['graphql.operation.name'], 'ListCronTabs');
  assert.equal(op.status.code, SpanStatusCode.UNSET, JSON.stringify(op.attributes));
  const requestId = op.attributes['crdgate.request_id'] as string;
  const out = sent.filter((c) => c.auditId === requestId);
  assert.equal(out.length, 1, JSON.stringify(out));
  assert.equal(out[0]!.traceparent, traceparentOf(call));
});

test('a client\'s traceparent is the parent of the request span and reaches the apiserver\'s call', async () => {
  const requestId = uniqueName('trace-parent');
  const traceId = randomBytes(16).toString('hex');
  const parentId = randomBytes(8).toString('hex');
  const r = await gql(adminGw.gw.url, listQuery, { ns }, { headers: { 'x-request-id': requestId, traceparent: `00-${traceId}-${parentId}-01` } });
  assert.equal(r.status, 200, r.text);
  const spans = await traceOf(adminGw, requestId, 3);
  const server = one(spans, (s) => s.name === 'POST /graphql', 'request span');
  assert.equal(server.spanContext().traceId, traceId);
  assert.equal(parentOf(server), parentId);
  const call = one(spans, (s) => s.kind === SpanKind.CLIENT, 'Kubernetes span');
  const out = sent.filter((c) => c.auditId === requestId);
  assert.equal(out.length, 1);
  assert.equal(out[0]!.traceparent, traceparentOf(call));
  assert.ok(out[0]!.traceparent!.startsWith(`00-${traceId}-`));
});

test('REST: a list is a request span with its Kubernetes span; a missing object is NOT_FOUND on both', async () => {
  const base = origin(adminGw.gw);
  const listId = uniqueName('trace-rest');
  const list = await fetch(`${base}/rest/stable.example.com/v1/namespaces/${ns}/crontabs`, { headers: { 'x-request-id': listId } });
  assert.equal(list.status, 200);
  let spans = await traceOf(adminGw, listId, 2);
  assert.equal(spans.length, 2, spans.map((s) => s.name).join(', '));
  const server = one(spans, (s) => s.kind === SpanKind.SERVER, 'request span');
  assert.equal(server.name, 'GET /rest/{group}/{version}/namespaces/{namespace}/{plural}');
  const call = one(spans, (s) => s.kind === SpanKind.CLIENT, 'Kubernetes span');
  assert.equal(parentOf(call), server.spanContext().spanId);
  assert.equal(sent.find((c) => c.auditId === listId)?.traceparent, traceparentOf(call));

  const missingId = uniqueName('trace-404');
  const missing = await fetch(`${base}/rest/stable.example.com/v1/namespaces/${ns}/crontabs/nope`, { headers: { 'x-request-id': missingId } });
  assert.equal(missing.status, 404);
  spans = await traceOf(adminGw, missingId, 2);
  const failed = one(spans, (s) => s.kind === SpanKind.SERVER, 'request span');
  assert.equal(failed.name, 'GET /rest/{group}/{version}/namespaces/{namespace}/{plural}/{name}');
  assert.equal(failed.attributes['http.response.status_code'], 404);
  assert.equal(failed.attributes['crdgate.error.code'], 'NOT_FOUND');
  assert.equal(failed.status.code, SpanStatusCode.ERROR);
  const get = one(spans, (s) => s.kind === SpanKind.CLIENT, 'Kubernetes span');
  assert.equal(get.name, 'GET /apis/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}');
  assert.equal(get.attributes['http.response.status_code'], 404);
  assert.equal(get.attributes['crdgate.error.code'], 'NOT_FOUND');
  assert.equal(sent.find((c) => c.auditId === missingId)?.traceparent, traceparentOf(get));
});

test('a 403 from the apiserver: FORBIDDEN on the Kubernetes, operation and request spans', async () => {
  await admin.request('POST', '/apis/rbac.authorization.k8s.io/v1/clusterroles', { body: {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: crdReader },
    rules: [{ apiGroups: ['apiextensions.k8s.io'], resources: ['customresourcedefinitions'], verbs: ['get', 'list', 'watch'] }],
  } });
  await admin.request('POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', { body: {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: crdReader },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: crdReader },
    subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'carol' }],
  } });
  const carol = await eventually('carol to be allowed to list CRDs', () => tracedGateway('carol'), 30_000);
  try {
    const requestId = uniqueName('trace-403');
    const r = await gql(carol.gw.url, listQuery, { ns }, { headers: { 'x-request-id': requestId } });
    assert.equal(r.errors?.[0]?.extensions?.code, 'FORBIDDEN', r.text);
    const spans = await traceOf(carol, requestId, 3);
    const call = one(spans, (s) => s.kind === SpanKind.CLIENT, 'Kubernetes span');
    assert.equal(call.attributes['http.response.status_code'], 403);
    for (const s of spans) {
      assert.equal(s.attributes['crdgate.error.code'], 'FORBIDDEN', s.name);
      assert.equal(s.attributes['error.type'], 'FORBIDDEN', s.name);
      assert.equal(s.status.code, SpanStatusCode.ERROR, s.name);
    }
    assert.equal(sent.find((c) => c.auditId === requestId)?.traceparent, traceparentOf(call));
  } finally {
    await carol.gw.stop();
  }
});
