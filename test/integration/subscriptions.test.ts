// GraphQL subscriptions end to end: the real apiserver, the gateway in-process on a real port,
// and real graphql-ws clients over sockets. The watch hub's own counters (not logs) prove how many
// upstream watches exist.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { createGateway, type Gateway } from '../../src/gateway.ts';
import { encodeGroup } from '../../src/model/graphql-type-names.ts';
import { KubeClient } from '../../src/kube/kube-client.ts';
import { loadFile } from '../../src/kube/kube-config.ts';
import { kubectl, testCluster, uniqueName } from '../helpers/test-cluster.ts';
import { openClient, RawGraphQLSocket, Subscription, waitUntil, type WatchEventRecord } from '../helpers/subscription-client.ts';

const GRACE_MS = 1500;
const kube = new KubeClient(loadFile(testCluster().kubeconfig));
const namespaces: string[] = [];
const crdsToDelete: string[] = [];
let gateway: Gateway;
let url: string;
let pingProbe: RawGraphQLSocket;

const WATCH = `subscription($ns: String, $ls: String, $fs: String, $rv: String, $init: Boolean) {
  watchCronTab_stable_example_com(namespace: $ns, labelSelector: $ls, fieldSelector: $fs, resourceVersion: $rv, sendInitialEvents: $init) {
    type resourceVersion
    object { metadata { name resourceVersion labels } spec { cronSpec replicas } status { replicas } }
  }
}`;

async function listen(g: Gateway): Promise<string> {
  const server: Server = await g.listen(0);
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

async function namespace(): Promise<string> {
  const ns = uniqueName('subs');
  await kube.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } } });
  namespaces.push(ns);
  return ns;
}

const ctPath = (ns: string, name?: string) => `/apis/stable.example.com/v1/namespaces/${ns}/crontabs${name ? `/${name}` : ''}`;

type CronTab = { metadata: { name: string; resourceVersion: string; labels?: Record<string, string> }; spec?: { cronSpec?: string; replicas?: number; image?: string } };

function create(ns: string, name: string, spec: CronTab['spec'] = {}, labels?: Record<string, string>): Promise<CronTab> {
  return kube.request<CronTab>('POST', ctPath(ns), {
    body: { apiVersion: 'stable.example.com/v1', kind: 'CronTab', metadata: { name, ...(labels ? { labels } : {}) }, spec: { cronSpec: '@hourly', replicas: 1, ...spec } },
  });
}

function patch(ns: string, name: string, body: unknown): Promise<CronTab> {
  return kube.request<CronTab>('PATCH', ctPath(ns, name), { body, contentType: 'application/merge-patch+json' });
}

function remove(ns: string, name: string): Promise<CronTab> {
  return kube.request<CronTab>('DELETE', ctPath(ns, name));
}

async function gql<T = Record<string, unknown>>(base: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const res = await fetch(`${base}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
  const body = (await res.json()) as { data?: T; errors?: unknown[] };
  assert.equal(body.errors, undefined, JSON.stringify(body.errors));
  return body.data!;
}

const stats = (g: Gateway = gateway) => g.operations.hub.stats();

/** Waits until exactly n subscribers are attached to the hub (attached = after the upstream synced). */
function attached(n: number, g: Gateway = gateway): Promise<number> {
  return waitUntil(() => stats(g).subscribers === n, 10_000, `${n} attached subscriber(s)`, () => JSON.stringify(stats(g)));
}

/**
 * Ends a test's subscriptions: closes the client, then makes one change in the namespace.
 * WORKAROUND for the bug shown by "closing the socket frees its subscribers": a subscription the
 * client completes or abandons stays attached to the hub until the next event for its watch key,
 * because return() on a suspended async generator waits for its pending next(). The change is
 * that next event, so later tests start from a clean hub.
 */
async function closeAndRelease(ns: string, client: { dispose(): void | Promise<void> }, base: number, g: Gateway = gateway): Promise<void> {
  await client.dispose();
  await releaseUntil(ns, base, g);
}

/** Nudges until the hub holds `base` subscribers: a change that races the server's close handling is not enough. */
async function releaseUntil(ns: string, base: number, g: Gateway = gateway): Promise<void> {
  for (let round = 0; stats(g).subscribers !== base; round++) {
    if (round === 10) await attached(base, g); // fails with the details
    await releaseAbandoned(ns);
    await waitUntil(() => stats(g).subscribers === base, 1_000, 'release').catch(() => {});
  }
}

/** Changes that every subscription of these tests matches (their selectors differ), see above. */
async function releaseAbandoned(ns: string): Promise<void> {
  const labels = { tier: 'gold', app: 'one' };
  await create(ns, `zz-release-${Math.random().toString(36).slice(2, 7)}`, { cronSpec: '@hourly' }, labels).catch(() => {});
  await create(ns, `zz-release-${Math.random().toString(36).slice(2, 7)}`, { cronSpec: '@daily' }, labels).catch(() => {});
}

/** Resource versions are opaque, but within one watch they must increase; they are etcd revisions here. */
function assertIncreasing(events: WatchEventRecord[]): void {
  const rvs = events.filter((e) => e.type !== 'INITIAL_STATE_DONE' && e.type !== 'BOOKMARK').map((e) => BigInt(e.resourceVersion!));
  for (let i = 1; i < rvs.length; i++) assert.ok(rvs[i]! > rvs[i - 1]!, `resourceVersions increase: ${rvs.join(', ')}`);
}

before(async () => {
  gateway = await createGateway({ client: kube, watchGraceMs: GRACE_MS, subscriberBufferBytes: 8 << 20 });
  url = await listen(gateway);
  // Opened first so that graphql-ws's keep-alive (12 s by default) has fired by the last test.
  pingProbe = await RawGraphQLSocket.connect(url);
});

after(async () => {
  pingProbe?.terminate();
  await gateway?.stop();
  for (const name of crdsToDelete) await kube.request('DELETE', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`).catch(() => {});
  for (const ns of namespaces) await kube.request('DELETE', `/api/v1/namespaces/${ns}`).catch(() => {});
});

test('creates, updates, status updates (GraphQL updateStatus and kubectl) and deletes arrive in order', async () => {
  const ns = await namespace();
  const base = stats().subscribers;
  const client = openClient(url);
  const sub = new Subscription(client, WATCH, { ns });
  await attached(base + 1);

  const a = await create(ns, 'a');
  await create(ns, 'b');
  await patch(ns, 'a', { spec: { replicas: 2 } });
  const viaGraphQL = await gql<{ updateCronTabStatus_stable_example_com: { status: { replicas: number } } }>(url,
    `mutation($ns: String!) { updateCronTabStatus_stable_example_com(namespace: $ns, name: "a", input: { status: { replicas: 5 } }) { status { replicas } } }`, { ns });
  assert.equal(viaGraphQL.updateCronTabStatus_stable_example_com.status.replicas, 5);
  const k = await kubectl(['-n', ns, 'patch', 'crontabs.stable.example.com', 'b', '--subresource=status', '--type=merge', '-p', '{"status":{"replicas":3}}']);
  assert.equal(k.code, 0, k.stderr);
  await remove(ns, 'b');
  await remove(ns, 'a');

  await sub.waitForEvents(7);
  assert.deepEqual(sub.summary(), ['ADDED a', 'ADDED b', 'MODIFIED a', 'MODIFIED a', 'MODIFIED b', 'DELETED b', 'DELETED a']);
  const [addA, , specA, statusA, statusB] = sub.events;
  assert.equal(addA!.object!.metadata!.resourceVersion, a.metadata.resourceVersion);
  assert.equal(specA!.object!.spec!['replicas'], 2);
  assert.equal(statusA!.object!.status!['replicas'], 5);
  assert.equal(statusB!.object!.status!['replicas'], 3);
  for (const e of sub.events) assert.equal(e.resourceVersion, e.object!.metadata!.resourceVersion, 'the event carries its object\'s resourceVersion');
  assertIncreasing(sub.events);
  assert.equal(sub.ended, false);
  await closeAndRelease(ns, client, base);
  assert.equal(sub.events.length, 7, 'nothing after the deletes');
});

test('labelSelector and fieldSelector filter per subscriber; leaving the selector is DELETED, entering is ADDED', async () => {
  const ns = await namespace();
  const base = stats().subscribers;
  const client = openClient(url);
  const all = new Subscription(client, WATCH, { ns });
  const gold = new Subscription(client, WATCH, { ns, ls: 'tier=gold' });
  const hourly = new Subscription(client, WATCH, { ns, fs: 'spec.cronSpec=@hourly' });
  const notHourly = new Subscription(client, WATCH, { ns, fs: 'spec.cronSpec!=@hourly' });
  await attached(base + 4);

  await create(ns, 'x', { cronSpec: '@hourly' }, { tier: 'gold' });
  await create(ns, 'y', { cronSpec: '@daily' }, { tier: 'silver' });
  await patch(ns, 'x', { metadata: { labels: { tier: 'silver' } } }); // x leaves gold
  await patch(ns, 'y', { spec: { cronSpec: '@hourly' } }); // y enters hourly, leaves notHourly
  await patch(ns, 'x', { metadata: { labels: { tier: 'gold' } }, spec: { replicas: 7 } }); // x back in gold
  await patch(ns, 'x', { spec: { cronSpec: '@weekly' } }); // x leaves hourly, enters notHourly
  await remove(ns, 'x');
  await remove(ns, 'y');

  await all.waitForEvents(8);
  // Every change reaches every subscriber in the same pass, so once `all` has the last one the
  // filtered subscribers have theirs too (allow for socket delivery).
  await waitUntil(() => gold.events.length >= 5 && hourly.events.length >= 6 && notHourly.events.length >= 4, 5_000, 'the filtered events',
    () => JSON.stringify({ gold: gold.summary(), hourly: hourly.summary(), notHourly: notHourly.summary() }));
  assert.deepEqual(all.summary(), ['ADDED x', 'ADDED y', 'MODIFIED x', 'MODIFIED y', 'MODIFIED x', 'MODIFIED x', 'DELETED x', 'DELETED y']);
  assert.deepEqual(gold.summary(), ['ADDED x', 'DELETED x', 'ADDED x', 'MODIFIED x', 'DELETED x']);
  assert.deepEqual(hourly.summary(), ['ADDED x', 'MODIFIED x', 'ADDED y', 'MODIFIED x', 'DELETED x', 'DELETED y']);
  assert.deepEqual(notHourly.summary(), ['ADDED y', 'DELETED y', 'ADDED x', 'DELETED x']);
  assert.equal(gold.events[1]!.object!.metadata!.labels!['tier'], 'silver', 'the DELETED for leaving the selector carries the new state');
  assert.equal(gold.events[2]!.object!.spec!['replicas'], 7);
  assert.equal(hourly.events[4]!.object!.spec!['cronSpec'], '@weekly', 'x leaving the field selector: DELETED with its new cronSpec');
  for (const s of [all, gold, hourly, notHourly]) assertIncreasing(s.events);
  await closeAndRelease(ns, client, base);
});

test('sendInitialEvents: ADDED for existing objects, then INITIAL_STATE_DONE, then live events', async () => {
  const ns = await namespace();
  const base = stats().subscribers;
  await create(ns, 'p', {}, { app: 'one' });
  await create(ns, 'q', {}, { app: 'one' });
  await create(ns, 'other', {}, { app: 'two' });
  const client = openClient(url);
  const sub = new Subscription(client, WATCH, { ns, init: true, ls: 'app=one' });
  await sub.waitForEvents(3);
  assert.deepEqual(sub.summary().slice(0, 2).sort(), ['ADDED p', 'ADDED q']);
  assert.equal(sub.events[2]!.type, 'INITIAL_STATE_DONE');
  assert.equal(sub.events[2]!.object, null);
  assert.match(sub.events[2]!.resourceVersion ?? '', /^\d+$/, 'INITIAL_STATE_DONE carries the resourceVersion to resume from');

  await create(ns, 'r', {}, { app: 'one' });
  await patch(ns, 'p', { spec: { replicas: 4 } });
  await sub.waitForEvents(5);
  assert.deepEqual(sub.summary(2), ['INITIAL_STATE_DONE', 'ADDED r', 'MODIFIED p']);
  assert.ok(BigInt(sub.events[3]!.resourceVersion!) > BigInt(sub.events[2]!.resourceVersion!));
  await closeAndRelease(ns, client, base);
});

test('resume after a disconnect while the upstream lives (hub window): exactly the missed events', async () => {
  const ns = await namespace();
  const base = stats().subscribers;
  const keeperClient = openClient(url);
  const keeper = new Subscription(keeperClient, WATCH, { ns });
  const first = openClient(url);
  const sub = new Subscription(first, WATCH, { ns });
  await attached(base + 2);
  await create(ns, 'a');
  await create(ns, 'b');
  await sub.waitForEvents(2);
  const resumeFrom = sub.events[1]!.resourceVersion!;
  await first.dispose();
  const startedBefore = stats().upstreamsStarted;
  const directBefore = stats().directWatchesStarted;

  await patch(ns, 'a', { spec: { replicas: 9 } });
  await create(ns, 'c');
  await remove(ns, 'b');
  await keeper.waitForEvents(5); // the hub has the missed events

  const second = openClient(url);
  const resumed = new Subscription(second, WATCH, { ns, rv: resumeFrom });
  await resumed.waitForEvents(3);
  await patch(ns, 'c', { spec: { replicas: 2 } }); // a live event after the replay: the barrier
  await resumed.waitForEvents(4);
  assert.deepEqual(resumed.summary(), ['MODIFIED a', 'ADDED c', 'DELETED b', 'MODIFIED c']);
  assert.deepEqual(resumed.events.slice(0, 3).map((e) => e.resourceVersion), keeper.events.slice(2, 5).map((e) => e.resourceVersion),
    'the same events, with the same resourceVersions, as a subscriber that never left');
  assertIncreasing(resumed.events);
  assert.equal(stats().upstreamsStarted, startedBefore, 'served from the shared upstream');
  assert.equal(stats().directWatchesStarted, directBefore, 'from its window, not by a watch on the apiserver (which would send the same events)');

  await keeperClient.dispose();
  await closeAndRelease(ns, second, base);
});

test('resume after the upstream stopped (apiserver watch), and from a list\'s resourceVersion', async () => {
  const ns = await namespace();
  await waitUntil(() => stats().upstreams === 0, GRACE_MS + 5_000, 'earlier upstreams to stop', () => JSON.stringify(stats()));
  const base = stats().subscribers;
  const first = openClient(url);
  const sub = new Subscription(first, WATCH, { ns });
  await attached(base + 1);
  await create(ns, 'a');
  await sub.waitForEvents(1);
  const resumeFrom = sub.events[0]!.resourceVersion!;
  await first.dispose();
  await create(ns, 'b');
  await releaseUntil(ns, base);
  await waitUntil(() => stats().upstreams === 0, GRACE_MS + 5_000, 'the upstream to stop after the grace period');

  await patch(ns, 'a', { spec: { replicas: 3 } });
  const listed = await gql<{ cronTabList_stable_example_com: { resourceVersion: string } }>(url,
    `query($ns: String) { cronTabList_stable_example_com(namespace: $ns) { resourceVersion } }`, { ns });
  const listRv = listed.cronTabList_stable_example_com.resourceVersion;
  await remove(ns, 'b');

  const client = openClient(url);
  const fromEvent = new Subscription(client, WATCH, { ns, rv: resumeFrom });
  const fromList = new Subscription(client, WATCH, { ns, rv: listRv });
  await fromEvent.waitForEvents(3);
  await fromList.waitForEvents(1);
  await create(ns, 'z'); // the barrier
  const barrier = (s: Subscription) => s.events.some((e) => e.object?.metadata?.name === 'z') || s.ended;
  await waitUntil(() => barrier(fromEvent) && barrier(fromList), 10_000, 'the barrier event', () => `${fromEvent.summary()} / ${fromList.summary()}`);
  assert.deepEqual(fromEvent.summary().filter((e) => !e.includes('zz-release')), ['ADDED b', 'MODIFIED a', 'DELETED b', 'ADDED z']);
  assert.deepEqual(fromList.summary(), ['DELETED b', 'ADDED z']);
  assertIncreasing(fromEvent.events);
  await client.dispose();
  // Subscribers served by a direct apiserver watch hold the upstream but do not show in
  // stats().subscribers, so wait for the upstream itself to stop.
  for (let round = 0; stats().upstreams !== 0; round++) {
    if (round === 5) assert.fail(`the upstream did not stop: ${JSON.stringify(stats())}`);
    await releaseAbandoned(ns);
    await waitUntil(() => stats().upstreams === 0, GRACE_MS + 1_500, 'the upstream to stop').catch(() => {});
  }
});

test('a resourceVersion too old to resume from: GONE, telling the client to list again', async () => {
  const ns = await namespace();
  const client = openClient(url);
  const sub = new Subscription(client, WATCH, { ns, rv: '1' });
  await sub.waitForEnd();
  assert.equal(sub.events.length, 0);
  assert.equal(sub.errorCode, 'GONE', JSON.stringify(sub.error));
  assert.match(String(sub.error![0]!.extensions!['hint']), /list again/);
  await client.dispose();
});

let crowd: { ns: string; clients: ReturnType<typeof openClient>[]; subs: Subscription[]; base: number } | undefined;

test('100 subscribers on 4 sockets share ONE upstream watch and all get every event', async () => {
  const ns = await namespace();
  await waitUntil(() => stats().upstreams === 0, GRACE_MS + 5_000, 'earlier upstreams to stop', () => JSON.stringify(stats()));
  const before = stats();
  const clients = Array.from({ length: 4 }, () => openClient(url));
  const subs = Array.from({ length: 100 }, (_, i) => new Subscription(clients[i % 4]!, WATCH, { ns }));
  crowd = { ns, clients, subs, base: before.subscribers };
  await attached(before.subscribers + 100);
  assert.equal(stats().upstreams, 1);
  assert.equal(stats().upstreamsStarted - before.upstreamsStarted, 1, 'exactly one upstream list+watch was started');

  await create(ns, 'a');
  await create(ns, 'b');
  await patch(ns, 'a', { spec: { replicas: 5 } });
  await remove(ns, 'b');
  await create(ns, 'c');
  await waitUntil(() => subs.every((s) => s.events.length >= 5), 10_000, 'every subscriber to get 5 events',
    () => `${subs.filter((s) => s.events.length >= 5).length} complete`);
  const expected = ['ADDED a', 'ADDED b', 'MODIFIED a', 'DELETED b', 'ADDED c'];
  for (const s of subs) assert.deepEqual(s.summary(), expected);
  const rvs = subs[0]!.events.map((e) => e.resourceVersion);
  for (const s of subs) assert.deepEqual(s.events.map((e) => e.resourceVersion), rvs);
  assert.ok(stats().eventsDelivered - before.eventsDelivered >= 500);
  assert.equal(stats().upstreamsStarted - before.upstreamsStarted, 1);
  assert.equal(stats().upstreams, 1);
});

test('unsubscribing (graphql-ws complete) lets go of the hub subscribers at once', async () => {
  assert.ok(crowd, 'needs the 100 subscribers of the previous test');
  const { ns, clients, subs, base } = crowd;
  try {
    for (const s of subs) s.unsubscribe();
    await waitUntil(() => stats().subscribers === base, 5_000, 'the hub to let go of 100 completed subscriptions',
      () => `the hub still holds ${stats().subscribers - base} of them (they are only released by the next event on the watch)`);
  } finally {
    await releaseUntil(ns, base);
    for (const c of clients) await c.dispose();
  }
});

test('once the last subscriber is gone, the upstream stops after the grace period, not before', async () => {
  const ns = await namespace();
  await waitUntil(() => stats().upstreams === 0, GRACE_MS + 5_000, 'earlier upstreams to stop', () => JSON.stringify(stats()));
  const base = stats().subscribers;
  const client = openClient(url);
  new Subscription(client, WATCH, { ns });
  await attached(base + 1);
  assert.equal(stats().upstreams, 1);
  await closeAndRelease(ns, client, base);
  const gone = performance.now();
  assert.equal(stats().upstreams, 1, 'the upstream outlives its last subscriber for the grace period');
  await waitUntil(() => stats().upstreams === 0, GRACE_MS + 5_000, 'the upstream to stop');
  const after = performance.now() - gone;
  assert.ok(after >= GRACE_MS * 0.8, `stopped ${after.toFixed(0)} ms after the last subscriber left; the grace period is ${GRACE_MS} ms`);
});

test('a client that stops reading is disconnected with SLOW_CONSUMER; a fast subscriber gets every event', async () => {
  const small = await createGateway({ client: kube, watchGraceMs: GRACE_MS, subscriberBufferBytes: 1 << 20 });
  try {
    const smallUrl = await listen(small);
    const ns = await namespace();
    const slow = await RawGraphQLSocket.connect(smallUrl);
    const slowId = slow.subscribe(`subscription($ns: String) { watchCronTab_stable_example_com(namespace: $ns) { type object { metadata { name } spec { image } } } }`, { ns });
    const fastClient = openClient(smallUrl);
    const fast = new Subscription(fastClient, WATCH.replace('cronSpec replicas', 'cronSpec replicas image'), { ns });
    await attached(2, small);
    slow.tcp.pause();

    const count = 60;
    const image = 'x'.repeat(300_000); // large payloads fill the kernel's socket buffers quickly
    for (let i = 0; i < count; i++) await create(ns, `big-${String(i).padStart(2, '0')}`, { image });
    await fast.waitForEvents(count, 30_000);
    await waitUntil(() => small.operations.hub.stats().slowConsumers === 1, 10_000, 'the slow consumer to be detected', () => JSON.stringify(small.operations.hub.stats()));
    assert.equal(small.operations.hub.stats().subscribers, 1, 'the slow subscriber is detached from the hub; the fast one stays');
    assert.deepEqual(fast.summary(), Array.from({ length: count }, (_, i) => `ADDED big-${String(i).padStart(2, '0')}`));
    assert.ok(fast.events.every((e) => e.object?.spec?.['image'] === image));
    assert.equal(fast.ended, false);

    slow.tcp.resume();
    await waitUntil(() => slow.of(slowId, 'error').length === 1 || slow.closeCode !== undefined, 15_000, 'the slow client to learn why', () => `${slow.messages.length} messages`);
    const [error] = slow.of(slowId, 'error');
    assert.ok(error, `an error message for the subscription (close code ${slow.closeCode})`);
    const payload = error.payload as { message: string; extensions?: { code?: string } }[];
    assert.equal(payload[0]!.extensions?.code, 'SLOW_CONSUMER', JSON.stringify(payload));
    assert.ok(slow.of(slowId, 'next').length < count, 'the slow client did not get everything');
    slow.terminate();
    await fastClient.dispose();
  } finally {
    await small.stop();
  }
});

test('deleting a CRD ends its subscriptions with SCHEMA_CHANGED; a new CRD\'s watch field works within 2 s', async () => {
  const group = `${uniqueName('throwaway')}.example.com`;
  const name = `widgets.${group}`;
  const field = `watchWidget_${encodeGroup(group)}`;
  crdsToDelete.push(name);
  const ns = await namespace();
  const base = stats().subscribers;
  const created = performance.now();
  await kube.request('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', {
    body: {
      apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name },
      spec: {
        group, scope: 'Namespaced', names: { plural: 'widgets', singular: 'widget', kind: 'Widget', listKind: 'WidgetList' },
        versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', properties: { size: { type: 'integer' } } } } } } }],
      },
    },
  });
  const fieldMs = await waitUntil(async () => {
    const d = await gql<{ __schema: { subscriptionType: { fields: { name: string }[] } } }>(url, '{ __schema { subscriptionType { fields { name } } } }');
    return d.__schema.subscriptionType.fields.some((f) => f.name === field);
  }, 5_000, `${field} in the schema`);
  const client = openClient(url);
  const sub = new Subscription(client, `subscription($ns: String) { ${field}(namespace: $ns) { type object { metadata { name } spec { size } } } }`, { ns }, field);
  await waitUntil(() => stats().subscribers === base + 1 || sub.ended, 5_000, 'the subscription to attach');
  const usableMs = performance.now() - created;
  assert.equal(sub.ended, false, `the subscription failed: ${JSON.stringify(sub.error)}`);
  // How fast is a benchmark's question (this machine is shared); here it must simply happen.
  console.log(`the watch field was usable ${usableMs.toFixed(0)} ms after the CRD was created (in the schema after ${fieldMs.toFixed(0)} ms)`);
  await kube.request('POST', `/apis/${group}/v1/namespaces/${ns}/widgets`, { body: { apiVersion: `${group}/v1`, kind: 'Widget', metadata: { name: 'w' }, spec: { size: 3 } } });
  await sub.waitForEvents(1);
  assert.deepEqual(sub.summary(), ['ADDED w']);

  const deleted = performance.now();
  await kube.request('DELETE', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`);
  await sub.waitForEnd(30_000);
  const endedMs = performance.now() - deleted;
  assert.equal(sub.errorCode, 'SCHEMA_CHANGED', `${JSON.stringify(sub.error)} after ${sub.summary().join(', ')}`);
  console.log(`the subscription ended ${endedMs.toFixed(0)} ms after the delete`);
  await attached(base);
  await client.dispose();
});

test('closing the socket abruptly lets go of its hub subscribers', async () => {
  const ns = await namespace();
  const base = stats().subscribers;
  const raw = await RawGraphQLSocket.connect(url);
  for (let i = 0; i < 3; i++) raw.subscribe(WATCH, { ns });
  await attached(base + 3);
  try {
    raw.terminate();
    await waitUntil(() => stats().subscribers === base, 5_000, 'the hub to let go of the 3 subscriptions of a terminated socket',
      () => `the hub still holds ${stats().subscribers - base} of them`);
  } finally {
    await releaseUntil(ns, base);
  }
});

test('disposing a graphql-ws client lets go of its hub subscribers', async () => {
  const ns = await namespace();
  const base = stats().subscribers;
  const client = openClient(url);
  for (let i = 0; i < 2; i++) new Subscription(client, WATCH, { ns });
  await attached(base + 2);
  try {
    await client.dispose();
    await waitUntil(() => stats().subscribers === base, 5_000, 'the hub to let go of the 2 subscriptions of a closed client',
      () => `the hub still holds ${stats().subscribers - base} of them`);
  } finally {
    await releaseUntil(ns, base);
  }
});

test('graphql-ws keep-alive: the server pings an idle socket', async () => {
  await waitUntil(() => pingProbe.pings.length > 0, Math.max(0, pingProbe.opened + 15_000 - performance.now()), 'a ping frame within 15 s of connecting');
  assert.ok(pingProbe.pings[0]! - pingProbe.opened <= 15_000);
  assert.equal(pingProbe.closeCode, undefined, 'the probe (whose ws library answers pongs) stays connected');
});
