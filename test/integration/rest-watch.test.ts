// `?watch=true` on the REST facade as Server-Sent Events (and, for a client preferring JSON, in
// Kubernetes' own watch format), on the real control plane: order of
// events, sendInitialEvents, resuming with Last-Event-ID or ?resourceVersion= (from the hub's
// window and through its fallback to the apiserver), a resume point too old for the apiserver
// (its 410 becomes an ERROR event with a GONE problem), bookmarks, timeoutSeconds, a slow
// client cut off while a fast one keeps receiving, and clean teardown when the client goes away.
// Every stream is validated event by event against the live /openapi.json.
//
// Plain BOOKMARK events between changes are not provoked: the hub sends them after a relist and
// the apiserver about once a minute, neither of which a test can cause on demand.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect as connectTcp } from 'node:net';
import { KubeConfig, Watch } from '@kubernetes/client-node';
import { createGateway, type Gateway } from '../../src/gateway.ts';
import { KubeClient } from '../../src/kube/kube-client.ts';
import { OpenApiValidator } from '../helpers/openapi-validator.ts';
import { pollUntil } from '../helpers/poll-until.ts';
import { SseClient, type ParsedEvent } from '../helpers/sse-client.ts';
import { kubeConfigFor, uniqueName } from '../helpers/test-cluster.ts';
import { testNamespaces } from '../helpers/test-namespaces.ts';

const G = 'stable.example.com';
const namespaces = testNamespaces();
const clusterNames: string[] = [];
const kube = new KubeClient(kubeConfigFor('admin'));
const clients: SseClient[] = [];
let gateway: Gateway;
let base: string;
let doc: OpenApiValidator;

const nsPath = (ns: string, name?: string) => `/rest/${G}/v1/namespaces/${ns}/crontabs${name ? `/${name}` : ''}`;
const kubePath = (ns: string, name?: string) => `/apis/${G}/v1/namespaces/${ns}/crontabs${name ? `/${name}` : ''}`;

interface CronTab { metadata: { name: string; resourceVersion: string; uid: string }; spec: Record<string, unknown> }

const create = (ns: string, name: string, labels: Record<string, string> = {}) => kube.request<CronTab>('POST', kubePath(ns), {
  body: { apiVersion: `${G}/v1`, kind: 'CronTab', metadata: { name, labels }, spec: { cronSpec: '@hourly', replicas: 1 } },
});
const patch = (ns: string, name: string, spec: Record<string, unknown>) =>
  kube.request<CronTab>('PATCH', kubePath(ns, name), { body: { spec }, contentType: 'application/merge-patch+json' });
const remove = (ns: string, name: string) => kube.request<CronTab>('DELETE', kubePath(ns, name));

function open(origin: string, path: string, headers: Record<string, string> = {}): SseClient {
  const c = new SseClient(`${origin}${path}`, headers);
  clients.push(c);
  return c;
}

/** The whole stream so far must match the document: status, content type, every event's data. */
function assertStreamMatchesDocument(c: SseClient, path: string, headers: Record<string, string> = {}): void {
  const problems = doc.checkResponse(
    { method: 'GET', url: path, headers },
    { status: c.status, headers: c.headers as Record<string, string>, body: c.raw },
  );
  assert.deepEqual(problems, []);
  assert.deepEqual(doc.checkRequest({ method: 'GET', url: path, headers }), []);
}

const names = (events: ParsedEvent[]) => events.map((e) => `${e.event}:${e.json?.object?.metadata?.name ?? ''}`);

before(async () => {
  gateway = await createGateway({ client: kube, explorer: false, watchGraceMs: 200 });
  const server = await gateway.listen(0);
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  doc = await OpenApiValidator.fetch(base);
});

after(async () => {
  for (const c of clients) c.close();
  await gateway?.stop();
  for (const name of clusterNames) await kube.request('DELETE', `/apis/${G}/v1/clustercrontabs/${name}`).catch(() => {});
  await namespaces.deleteAll();
});

describe('REST watch (SSE)', () => {
  it('streams ADDED, MODIFIED and DELETED in order, with the resourceVersion as id and a Kubernetes watch event as data', async () => {
    const ns = await namespaces.create('sse-order');
    // List, then watch from the list's resourceVersion: Kubernetes' way to miss nothing.
    const list = await (await fetch(`${base}${nsPath(ns)}`)).json() as { metadata: { resourceVersion: string } };
    const path = `${nsPath(ns)}?watch=true&resourceVersion=${list.metadata.resourceVersion}`;
    const c = await open(base, path).open();
    assert.equal(c.status, 200);
    assert.match(String(c.headers['content-type']), /^text\/event-stream/);
    const a = await create(ns, 'a');
    const a2 = await patch(ns, 'a', { replicas: 2 });
    await remove(ns, 'a');
    const events = (await c.waitFor('ADDED, MODIFIED, DELETED of a', (es) => {
      const mine = es.filter((e) => e.json?.object?.metadata?.name === 'a');
      return mine.length >= 3 ? mine : undefined;
    })).slice(0, 3);
    assert.deepEqual(events.map((e) => e.event), ['ADDED', 'MODIFIED', 'DELETED']);
    assert.deepEqual(events.map((e) => e.json.type), ['ADDED', 'MODIFIED', 'DELETED'], 'data.type is the Kubernetes event type');
    assert.deepEqual(events.slice(0, 2).map((e) => e.id), [a.metadata.resourceVersion, a2.metadata.resourceVersion]);
    assert.ok(BigInt(events[2]!.id!) > BigInt(a2.metadata.resourceVersion), 'the deletion has a resourceVersion of its own');
    assert.equal(events[1]!.json.object.spec.replicas, 2);
    assert.equal(events[0]!.json.object.metadata.uid, a.metadata.uid);
    const ids = c.events.map((e) => BigInt(e.id!));
    assert.deepEqual(ids, [...ids].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)), 'ids only grow');
    assertStreamMatchesDocument(c, path);
  });

  it('a client preferring JSON gets Kubernetes\' watch stream: one event a line, the annotated bookmark, as the document says', async () => {
    const ns = await namespaces.create('json-order');
    await create(ns, 'one');
    const path = `${nsPath(ns)}?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true`;
    const headers = { accept: 'application/json;stream=watch, text/event-stream;q=0.5' };
    const c = await open(base, path, headers).open();
    assert.equal(c.headers['content-type'], 'application/json');
    const [bookmark] = await c.waitForCount(1, ['BOOKMARK']);
    assert.equal(bookmark!.json.object.metadata.annotations['k8s.io/initial-events-end'], 'true');
    const a = await create(ns, 'a');
    await remove(ns, 'a');
    await c.waitForCount(1, ['DELETED']);
    assert.deepEqual(names(c.events), ['ADDED:one', 'BOOKMARK:', 'ADDED:a', 'DELETED:a']);
    assert.equal(c.events[2]!.json.object.metadata.resourceVersion, a.metadata.resourceVersion);
    assert.ok(c.raw.endsWith('\n') && !/^(id|event|data):/m.test(c.raw), 'JSON lines, no SSE fields');
    assertStreamMatchesDocument(c, path, headers);
  });

  it('Kubernetes\' own JavaScript client watches through the facade as through the apiserver: its Watch names no type, and gets Kubernetes\' format', async () => {
    const ns = await namespaces.create('client-node');
    await create(ns, 'one');
    const kc = new KubeConfig();
    kc.loadFromClusterAndUser({ name: 'gateway', server: `${base}/rest`, skipTLSVerify: true }, { name: 'anonymous' });
    const seen: string[] = [];
    let ended: unknown = 'not yet';
    const watch = await new Watch(kc).watch(`/${G}/v1/namespaces/${ns}/crontabs`, { allowWatchBookmarks: true, sendInitialEvents: true, resourceVersionMatch: 'NotOlderThan' },
      (type, object: CronTab & { metadata: { annotations?: Record<string, string> } }) => {
        seen.push(`${type}:${type === 'BOOKMARK' ? object.metadata.annotations?.['k8s.io/initial-events-end'] : object.metadata.name}`);
      }, (err) => (ended = err));
    try {
      await pollUntil('the initial state', async () => (seen.includes('BOOKMARK:true') ? true : undefined), { timeoutMs: 15_000, intervalMs: 50 });
      await patch(ns, 'one', { replicas: 7 });
      await pollUntil('the change', async () => (seen.includes('MODIFIED:one') ? true : undefined), { timeoutMs: 15_000, intervalMs: 50 });
      assert.deepEqual(seen, ['ADDED:one', 'BOOKMARK:true', 'MODIFIED:one']);
      assert.equal(ended, 'not yet', 'the watch is still open');
    } finally {
      watch.abort();
    }
  });

  it('sendInitialEvents: the existing objects, then INITIAL_STATE_DONE (a bookmark), then changes', async () => {
    const ns = await namespaces.create('sse-init');
    await create(ns, 'one');
    const two = await create(ns, 'two');
    const path = `${nsPath(ns)}?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true`;
    const c = open(base, path);
    const initial = await c.waitForCount(3);
    assert.deepEqual(names(initial.slice(0, 2)).sort(), ['ADDED:one', 'ADDED:two']);
    const done = initial[2]!;
    assert.equal(done.event, 'INITIAL_STATE_DONE');
    assert.equal(done.json.type, 'BOOKMARK');
    assert.equal(done.json.object.kind, 'CronTab');
    assert.equal(done.json.object.metadata.annotations['k8s.io/initial-events-end'], 'true');
    assert.ok(BigInt(done.id!) >= BigInt(two.metadata.resourceVersion));
    await create(ns, 'three');
    await c.waitFor('ADDED three', (es) => es.some((e) => e.event === 'ADDED' && e.json.object.metadata.name === 'three'));
    assertStreamMatchesDocument(c, path);

    // Kubernetes' rule: sendInitialEvents needs resourceVersionMatch=NotOlderThan.
    const bad = `${nsPath(ns)}?watch=true&sendInitialEvents=true`;
    const refused = await fetch(`${base}${bad}`);
    const problem = await refused.json() as Record<string, any>;
    assert.equal(refused.status, 422);
    assert.equal(problem.code, 'INVALID');
    assert.equal(problem.causes[0].field, 'resourceVersionMatch');
    assert.deepEqual(doc.checkResponse({ method: 'GET', url: bad }, { status: 422, headers: refused.headers, body: JSON.stringify(problem) }), []);
  });

  it('resumes with Last-Event-ID or ?resourceVersion= with exactly the events after it', async () => {
    const ns = await namespaces.create('sse-resume');
    const path = `${nsPath(ns)}?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true`;
    const first = open(base, path);
    await first.waitForCount(1, ['INITIAL_STATE_DONE']);
    const e1 = await create(ns, 'e1');
    const e2 = await create(ns, 'e2');
    const e3 = await patch(ns, 'e1', { replicas: 9 });
    await first.waitFor('e3', (es) => es.some((e) => e.id === e3.metadata.resourceVersion));
    first.close();

    const watchPath = `${nsPath(ns)}?watch=true`;
    const resumed = open(base, watchPath, { 'last-event-id': e1.metadata.resourceVersion });
    const after = await resumed.waitForCount(2);
    assert.deepEqual(after.map((e) => e.id), [e2.metadata.resourceVersion, e3.metadata.resourceVersion]);
    assert.deepEqual(names(after), ['ADDED:e2', 'MODIFIED:e1']);
    await remove(ns, 'e2');
    const [e4] = await resumed.waitForCount(1, ['DELETED']);
    assert.equal(e4!.json.object.metadata.name, 'e2');
    assert.equal(resumed.events.length, 3, 'nothing before the resume point, nothing twice');
    assertStreamMatchesDocument(resumed, watchPath, { 'last-event-id': e1.metadata.resourceVersion });

    const byQuery = `${nsPath(ns)}?watch=true&resourceVersion=${e2.metadata.resourceVersion}`;
    const q = open(base, byQuery);
    const fromQuery = await q.waitForCount(2);
    assert.deepEqual(fromQuery.map((e) => e.id), [e3.metadata.resourceVersion, e4!.id]);
    assertStreamMatchesDocument(q, byQuery);
  });

  it('resumes from before the hub\'s window through the apiserver, which still has the events', async () => {
    const ns = await namespaces.create('sse-fallback');
    // No upstream for this namespace yet: the hub's window starts when its first list returns,
    // after these changes, so the resume point is older than anything it remembers.
    const x = await create(ns, 'x');
    const x2 = await patch(ns, 'x', { replicas: 3 });
    const y = await create(ns, 'y');
    const path = `${nsPath(ns)}?watch=true&resourceVersion=${x.metadata.resourceVersion}`;
    const c = open(base, path);
    const events = await c.waitForCount(2);
    assert.deepEqual(events.map((e) => e.id), [x2.metadata.resourceVersion, y.metadata.resourceVersion]);
    assert.deepEqual(names(events), ['MODIFIED:x', 'ADDED:y']);
    assertStreamMatchesDocument(c, path);
  });

  it('a resume point too old for the apiserver ends the stream with an ERROR event carrying a GONE problem', async () => {
    const ns = await namespaces.create('sse-gone');
    await create(ns, 'z');
    for (const [path, headers] of [[`${nsPath(ns)}?watch=true`, { 'last-event-id': '1' }], [`${nsPath(ns)}?watch=true&resourceVersion=1`, {}]] as const) {
      const c = open(base, path, headers);
      const [error] = await c.waitForCount(1, ['ERROR']);
      assert.equal(error!.json.type, 'ERROR');
      const problem = error!.json.object;
      assert.equal(problem.code, 'GONE');
      assert.equal(problem.status, 410);
      assert.equal(problem.reason, 'Expired');
      assert.equal(problem.kubernetesCode, 410, 'the 410 came from the apiserver');
      assert.match(problem.detail, /too old resource version: 1/);
      assert.ok(problem.hint);
      assert.equal(await c.waitForEnd(), 'end', 'the stream ends after the error');
      assert.deepEqual(c.events.map((e) => e.event), ['ERROR']);
      assertStreamMatchesDocument(c, path, headers);
    }
  });

  it('all-namespaces and cluster-scoped watches; timeoutSeconds ends the stream', async () => {
    const ns = await namespaces.create('sse-all');
    const label = uniqueName('sse');
    const allPath = `/rest/${G}/v1/crontabs?watch=true&labelSelector=${encodeURIComponent(`run=${label}`)}&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true`;
    const all = open(base, allPath);
    await all.waitForCount(1, ['INITIAL_STATE_DONE']);
    await create(ns, 'in-all', { run: label });
    await all.waitFor('ADDED in-all', (es) => es.some((e) => e.event === 'ADDED' && e.json.object.metadata.namespace === ns));
    assertStreamMatchesDocument(all, allPath);

    const cct = `${label}-cct`;
    clusterNames.push(cct);
    const clusterPath = `/rest/${G}/v1/clustercrontabs?watch=true&fieldSelector=${encodeURIComponent(`metadata.name=${cct}`)}&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=3`;
    const started = Date.now();
    const cluster = open(base, clusterPath);
    await cluster.waitForCount(1, ['INITIAL_STATE_DONE']);
    await kube.request('POST', `/apis/${G}/v1/clustercrontabs`, { body: { apiVersion: `${G}/v1`, kind: 'ClusterCronTab', metadata: { name: cct }, spec: { cronSpec: '@daily' } } });
    await cluster.waitFor('ADDED cct', (es) => es.some((e) => e.event === 'ADDED' && e.json.object.metadata.name === cct));
    assert.equal(await cluster.waitForEnd(10_000), 'end');
    const elapsed = Date.now() - started;
    // Not before the 3 s asked for (load only makes it later); waitForEnd bounds the other side.
    assert.ok(elapsed >= 2_900, `ended after ${elapsed} ms, asked for 3 s`);
    assertStreamMatchesDocument(cluster, clusterPath);
  });

  it('ends the hub subscription and the upstream watch when the client goes away', async () => {
    const ns = await namespaces.create('sse-gone-client');
    for (const c of clients) c.close();
    const idle = () => {
      const s = gateway.operations.hub.stats();
      return s.subscribers === 0 && s.upstreams === 0;
    };
    await pollUntil('the earlier streams to be torn down', idle, { timeoutMs: 5_000 });
    const c = open(base, `${nsPath(ns)}?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true`);
    await c.waitForCount(1, ['INITIAL_STATE_DONE']);
    assert.deepEqual([gateway.operations.hub.stats().subscribers, gateway.operations.hub.stats().upstreams], [1, 1]);
    c.close();
    await pollUntil('the subscriber and, after the grace period, the upstream watch to be gone', idle, { timeoutMs: 5_000 });
  });

  it('HEAD of a watch: its headers, then the end, and the next request on the connection is answered', async () => {
    const ns = await namespaces.create('sse-head');
    const { hostname, port } = new URL(base);
    const text = await new Promise<string>((resolve, reject) => {
      const socket = connectTcp(Number(port), hostname, () => socket.write(`HEAD ${nsPath(ns)}?watch=true HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
      let received = '';
      socket.setEncoding('latin1');
      socket.setTimeout(10_000, () => socket.destroy(new Error(`no end: ${received}`)));
      socket.on('data', (d: string) => (received += d));
      socket.on('error', reject);
      socket.on('close', () => resolve(received));
    });
    const answers = text.split(/(?=HTTP\/1\.1 )/);
    assert.equal(answers.length, 2, text);
    // No Accept: Kubernetes' format, as the apiserver answers.
    assert.match(answers[0]!, /^HTTP\/1\.1 200 OK\r\n[\s\S]*content-type: application\/json\r\n/i);
    assert.match(answers[1]!, /^HTTP\/1\.1 200 OK/);
    await pollUntil('no subscriber left', () => gateway.operations.hub.stats().subscribers === 0, { timeoutMs: 5_000 });
  });
});

describe('REST watch (SSE): slow consumers', () => {
  let small: Gateway;
  let origin: string;

  before(async () => {
    small = await createGateway({ client: kube, explorer: false, subscriberBufferBytes: 1 << 20, watchGraceMs: 200 });
    const server = await small.listen(0);
    origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });

  after(async () => {
    await small?.stop();
  });

  // The same flow control for both formats: a JSON watch client (Kubernetes' format) that stops
  // reading is shed as an SSE one is, with an ERROR event it reads once it reads again.
  for (const wire of ['sse', 'json'] as const) {
    it(`cuts off a client that stops reading while a fast one keeps receiving; all counts return to 0 (${wire})`, () => slowConsumer(wire));
  }

  async function slowConsumer(wire: 'sse' | 'json'): Promise<void> {
    const ns = await namespaces.create(`${wire}-slow`);
    await create(ns, 'big');
    const path = `${nsPath(ns)}?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true`;
    const headers: Record<string, string> = wire === 'json' ? { accept: 'application/json' } : {};
    const initialEnd = wire === 'json' ? 'BOOKMARK' : 'INITIAL_STATE_DONE';
    const fast = open(origin, path, headers);
    const slow = open(origin, path, headers);
    await fast.waitForCount(1, [initialEnd]);
    await slow.waitForCount(1, [initialEnd]);
    slow.pause();
    // Large objects fill the socket buffers quickly; then the slow client's hub queue overflows.
    const updates = 40;
    const filler = 'x'.repeat(256 * 1024);
    for (let i = 1; i <= updates; i++) await patch(ns, 'big', { image: `${i}-${filler}` });
    const modified = await fast.waitForCount(updates, ['MODIFIED'], 30_000);
    assert.deepEqual(modified.map((e) => Number(String(e.json.object.spec.image).split('-')[0])), Array.from({ length: updates }, (_, i) => i + 1));
    await pollUntil('the slow consumer to be detected', () => small.operations.hub.stats().slowConsumers >= 1);
    assert.equal(small.operations.hub.stats().subscribers, 1, 'only the fast client is still subscribed');
    slow.resume();
    await slow.waitForEnd(10_000);
    const slowModified = slow.events.filter((e) => e.event === 'MODIFIED').length;
    assert.ok(slowModified < updates, `the slow client was cut off (it got ${slowModified} of ${updates})`);
    const last = slow.events.at(-1)!;
    assert.equal(last.event, 'ERROR', 'the slow client is told why its stream ended');
    const problem = wire === 'json' ? last.json.object.details.problem : last.json.object;
    assert.equal(problem.code, 'SLOW_CONSUMER');
    if (wire === 'json') assert.deepEqual([last.json.object.kind, last.json.object.reason, last.json.object.code], ['Status', 'ServiceUnavailable', 503]);
    assertStreamMatchesDocument(slow, path, headers);
    assert.equal(fast.endedHow, undefined, 'the fast client is still connected');
    fast.close();
    await pollUntil('every subscription and upstream to end', () => {
      const s = small.operations.hub.stats();
      return s.subscribers === 0 && s.upstreams === 0;
    }, { timeoutMs: 5_000 });
  }
});
