// Soak, bounded and on loopback: rounds of many graphql-ws clients (several subscriptions each,
// with and without initial state and selectors) and SSE watchers subscribing while CronTabs change
// under them, then vanishing abruptly (the TCP socket destroyed mid-stream, no close frame). After
// the rounds: no hub subscriber is left, every upstream watch stops after the (short) grace period,
// no connection or socket is left behind, and the heap after a collection is within a bound of
// where it was after the first round.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest, type ClientRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeClient } from '../../src/kube/kube-client.ts';
import { startGateway, type RunningGateway } from '../helpers/graphql-client.ts';
import { pollUntil } from '../helpers/poll-until.ts';
import { RawGraphQLSocket, waitUntil } from '../helpers/subscription-client.ts';
import { kubeConfigFor } from '../helpers/test-cluster.ts';
import { testNamespaces } from '../helpers/test-namespaces.ts';
import { assertHeapBounded, crashTraps, settledHeap } from '../helpers/fuzz-answers.ts';

const ROUNDS = 6;
const WS_CLIENTS = 30;
const SSE_CLIENTS = 15;
const OBJECTS = 5;
const GRACE_MS = 300;

const traps = crashTraps();
const namespaces = testNamespaces();
const kube = new KubeClient(kubeConfigFor('admin'));
let ns: string;
let gw: RunningGateway;
let base: string;

const path = (name?: string) => `/apis/stable.example.com/v1/namespaces/${ns}/crontabs${name ? `/${name}` : ''}`;

before(async () => {
  ns = await namespaces.create('soak');
  for (let i = 0; i < OBJECTS; i++) {
    await kube.request('POST', path(), { body: {
      apiVersion: 'stable.example.com/v1', kind: 'CronTab', metadata: { name: `s${i}`, labels: { soak: i % 2 ? 'odd' : 'even' } }, spec: { cronSpec: '* * * * *', replicas: 0 },
    } });
  }
  gw = await startGateway(kubeConfigFor('admin'), {}, undefined, { explorer: false, watchGraceMs: GRACE_MS });
  base = `http://127.0.0.1:${(gw.server.address() as AddressInfo).port}`;
});

after(async () => {
  await gw?.stop();
  await kube.close();
  await namespaces.deleteAll();
  traps.remove();
});

/** Changes the objects round robin until stopped, so every subscriber keeps getting events. */
function writer(): { stop(): Promise<number> } {
  let running = true;
  let writes = 0;
  const loop = (async () => {
    for (let i = 0; running; i++) {
      await kube.request('PATCH', path(`s${i % OBJECTS}`), { body: { spec: { replicas: i % 50 } }, contentType: 'application/merge-patch+json' });
      writes++;
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return { stop: async () => {
    running = false;
    await loop;
    return writes;
  } };
}

const subscriptions = [
  { query: 'subscription($ns: String) { watchCronTab_stable_example_com(namespace: $ns) { type object { metadata { name resourceVersion } spec { replicas } } } }', variables: () => ({ ns }) },
  { query: 'subscription($ns: String) { watchCronTab_stable_example_com(namespace: $ns, sendInitialEvents: true) { type resourceVersion } }', variables: () => ({ ns }) },
  { query: 'subscription($ns: String) { watchCronTab_stable_example_com(namespace: $ns, labelSelector: "soak=odd") { type object { metadata { name } } } }', variables: () => ({ ns }) },
  // All namespaces: another upstream watch, which must stop too.
  { query: 'subscription { watchCronTab_stable_example_com(labelSelector: "soak") { type } }', variables: () => ({}) },
];

/** An SSE watch on node:http; destroy() cuts its socket mid-stream. */
function sse(query: string): { events: () => number; destroy(): void; req: ClientRequest } {
  let data = '';
  const req = httpRequest(`${base}/rest/stable.example.com/v1/namespaces/${ns}/crontabs?watch=true&${query}`, { headers: { accept: 'text/event-stream' } }, (res) => {
    res.setEncoding('utf8');
    res.on('data', (c: string) => (data += c));
    res.on('error', () => {});
  });
  req.on('error', () => {});
  req.end();
  return { events: () => (data.match(/^event: /gm) ?? []).length, destroy: () => req.destroy(), req };
}

async function round(n: number): Promise<{ wsEvents: number; sseEvents: number }> {
  const sockets = await Promise.all(Array.from({ length: WS_CLIENTS }, () => RawGraphQLSocket.connect(base)));
  const subs = sockets.map((s, i) => {
    const ids = Array.from({ length: 1 + (i % 3) }, (_, j) => {
      const sub = subscriptions[(i + j + n) % subscriptions.length]!;
      return s.subscribe(sub.query, sub.variables());
    });
    return { s, ids };
  });
  const watchers = Array.from({ length: SSE_CLIENTS }, (_, i) => sse(i % 2 ? 'labelSelector=soak%3Deven' : 'sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true'));
  // A few leave before anything reached them: mid-handshake for SSE, right after subscribe for WS.
  subs[0]!.s.tcp.destroy();
  watchers[0]!.destroy();
  const live = subs.slice(1);
  await waitUntil(() => live.every(({ s, ids }) => ids.every((id) => s.of(id, 'next').length > 0)), 20_000, `round ${n}: every subscription to get an event`,
    () => `${live.filter(({ s, ids }) => ids.some((id) => s.of(id, 'next').length === 0)).length} still waiting; errors ${JSON.stringify(live.flatMap(({ s }) => s.messages.filter((m) => m.type === 'error')).slice(0, 2))}`);
  await waitUntil(() => watchers.slice(1).every((w) => w.events() > 0), 20_000, `round ${n}: every SSE watch to get an event`);
  const errors = live.flatMap(({ s }) => s.messages.filter((m) => m.type === 'error'));
  assert.deepEqual(errors, [], `round ${n}: subscriptions failed`);
  const wsEvents = live.reduce((t, { s }) => t + s.messages.filter((m) => m.type === 'next').length, 0);
  const sseEvents = watchers.reduce((t, w) => t + w.events(), 0);
  // Everyone vanishes mid-stream without a goodbye, half at once, half a moment later.
  for (const [i, { s }] of live.entries()) if (i % 2) s.tcp.destroy();
  for (const [i, w] of watchers.entries()) if (i % 2) w.destroy();
  await new Promise((r) => setTimeout(r, 30));
  for (const [i, { s }] of live.entries()) if (!(i % 2)) s.tcp.destroy();
  for (const [i, w] of watchers.entries()) if (!(i % 2)) w.destroy();
  return { wsEvents, sseEvents };
}

const connections = () => new Promise<number>((resolve) => gw.server.getConnections((_e, n) => resolve(n)));
const sockets = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;

async function settled(what: string): Promise<void> {
  await pollUntil(`${what}: no hub subscriber left`, () => gw.gateway.operations.hub.stats().subscribers === 0, { timeoutMs: 10_000 });
  await pollUntil(`${what}: every upstream watch stopped after the grace period`, () => gw.gateway.operations.hub.stats().upstreams === 0, { timeoutMs: GRACE_MS + 10_000 });
  await pollUntil(`${what}: no connection left on the gateway`, async () => (await connections()) === 0, { timeoutMs: 10_000 });
}

test(`${ROUNDS} rounds of ${WS_CLIENTS} graphql-ws and ${SSE_CLIENTS} SSE clients vanishing mid-stream leave no subscriber, watch, socket or heap behind`, async () => {
  const started = performance.now();
  const socketsBefore = sockets();
  const w = writer();
  let totals = { wsEvents: 0, sseEvents: 0 };
  let heapAfterFirst = 0;
  let socketsAfterFirst = 0;
  let upstreamsPerRound = 0;
  try {
    for (let n = 0; n < ROUNDS; n++) {
      const r = await round(n);
      totals = { wsEvents: totals.wsEvents + r.wsEvents, sseEvents: totals.sseEvents + r.sseEvents };
      if (n === 0) {
        // The first round warms caches (schemas, the Kubernetes connection pool): the baseline.
        await settled('after the first round');
        heapAfterFirst = await settledHeap();
        socketsAfterFirst = sockets();
        upstreamsPerRound = gw.gateway.operations.hub.stats().upstreamsStarted;
      } else if (n % 2 === 0) {
        // Every other round starts on a hub whose upstream watches have all stopped; the rounds
        // between start while the previous round's upstreams are in their grace period.
        await settled(`after round ${n}`);
      }
    }
  } finally {
    const writes = await w.stop();
    assert.ok(writes > 20, `only ${writes} writes`);
  }
  await settled(`after ${ROUNDS} rounds`);
  traps.assertNone();
  const stats = gw.gateway.operations.hub.stats();
  // The soak did what it says: many upstream starts (each round re-opened them after the grace
  // period) and many events to many subscribers.
  assert.ok(upstreamsPerRound >= 2 && stats.upstreamsStarted >= upstreamsPerRound * (ROUNDS / 2),
    `${stats.upstreamsStarted} upstream watches started, ${upstreamsPerRound} in the first round`);
  assert.ok(totals.wsEvents > ROUNDS * WS_CLIENTS, `only ${totals.wsEvents} WebSocket events`);
  assert.ok(totals.sseEvents > ROUNDS * (SSE_CLIENTS - 1), `only ${totals.sseEvents} SSE events`);
  // Sockets: the gateway's (clients, upstream watches) are gone; what may remain is the
  // Kubernetes client's keep-alive pool, which the first round already had.
  await pollUntil('the process to hold no more sockets than after the first round', () => sockets() <= Math.max(socketsAfterFirst, socketsBefore) + 2,
    { timeoutMs: 10_000 }).catch(() => assert.fail(`sockets: ${socketsBefore} before, ${socketsAfterFirst} after the first round, ${sockets()} now`));
  assertHeapBounded(heapAfterFirst, await settledHeap(), `after ${ROUNDS} rounds`, 1.3, 24 << 20);
  console.log(`soak: ${ROUNDS} rounds, ${totals.wsEvents} WebSocket and ${totals.sseEvents} SSE events, ${stats.upstreamsStarted} upstream starts in ${Math.round(performance.now() - started)} ms`);
});
