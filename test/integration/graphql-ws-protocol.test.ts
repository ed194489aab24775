// The graphql-transport-ws protocol as clients see it, now that `next` frames of hub-backed
// subscriptions are written by the gateway itself: with the official graphql-ws client and with
// raw frames (ids of any shape echoed exactly, one JSON message per frame, close codes for
// protocol violations, ping/pong, client complete), against the real apiserver.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import WebSocket from 'ws';
import { createGateway, type Gateway } from '../../src/gateway.ts';
import { KubeClient } from '../../src/kube/kube-client.ts';
import { loadFile } from '../../src/kube/kube-config.ts';
import { testCluster, uniqueName } from '../helpers/test-cluster.ts';
import { openClient, RawGraphQLSocket, Subscription, waitUntil, wsUrl } from '../helpers/subscription-client.ts';

const kube = new KubeClient(loadFile(testCluster().kubeconfig));
let gateway: Gateway;
let url: string;
let ns: string;

const WATCH = `subscription($ns: String) { watchCronTab_stable_example_com(namespace: $ns) { type resourceVersion object { metadata { name } } } }`;

before(async () => {
  gateway = await createGateway({ client: kube, watchGraceMs: 200, explorer: false });
  const server: Server = await gateway.listen(0);
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  ns = uniqueName('gws');
  await kube.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } } });
});

after(async () => {
  await gateway?.stop();
  await kube.request('DELETE', `/api/v1/namespaces/${ns}`).catch(() => {});
});

const stats = () => gateway.operations.hub.stats();

function create(name: string): Promise<unknown> {
  return kube.request('POST', `/apis/stable.example.com/v1/namespaces/${ns}/crontabs`, {
    body: { apiVersion: 'stable.example.com/v1', kind: 'CronTab', metadata: { name }, spec: { cronSpec: '@hourly' } },
  });
}

/** A WebSocket speaking the subprotocol, nothing sent yet; every frame kept as text. */
async function rawSocket(): Promise<{ ws: WebSocket; frames: string[]; closed: Promise<{ code: number; reason: string }> }> {
  const ws = new WebSocket(wsUrl(url), 'graphql-transport-ws');
  const frames: string[] = [];
  ws.on('message', (data) => frames.push(String(data)));
  ws.on('error', () => {});
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })));
  await new Promise<void>((resolve, reject) => ws.once('open', () => resolve()).once('error', reject));
  return { ws, frames, closed };
}

async function acknowledged(): Promise<Awaited<ReturnType<typeof rawSocket>>> {
  const s = await rawSocket();
  s.ws.send(JSON.stringify({ type: 'connection_init', payload: {} }));
  await waitUntil(() => s.frames.some((f) => JSON.parse(f).type === 'connection_ack'), 5_000, 'connection_ack');
  return s;
}

const subscribe = (ws: WebSocket, id: string) => ws.send(JSON.stringify({ id, type: 'subscribe', payload: { query: WATCH, variables: { ns } } }));

test('the official client: events in order, then its complete frees the hub subscriber at once', async () => {
  const base = stats().subscribers;
  const client = openClient(url);
  const sub = new Subscription(client, WATCH, { ns });
  await waitUntil(() => stats().subscribers === base + 1, 10_000, 'the subscriber');
  await create('official-a');
  await create('official-b');
  await sub.waitForEvents(2);
  assert.deepEqual(sub.summary(), ['ADDED official-a', 'ADDED official-b']);
  sub.unsubscribe();
  await waitUntil(() => stats().subscribers === base, 5_000, 'the hub to let go');
  assert.equal(sub.error, undefined);
  await client.dispose();
});

test('next frames carry exactly the client\'s id, whatever it looks like, in one JSON message each', async () => {
  const { ws, frames } = await acknowledged();
  const ids = ['1', 'with "quotes" and \\ backslash', 'ünïcødé ✓ \u2028', '"\\u0000crdgate-result:1"', '\u0000crdgate-result:1', 'x'.repeat(256)];
  const base = stats().subscribers;
  for (const id of ids) subscribe(ws, id);
  await waitUntil(() => stats().subscribers === base + ids.length, 10_000, 'the subscribers');
  await create('ids-a');
  await waitUntil(() => frames.filter((f) => JSON.parse(f).type === 'next').length === ids.length, 10_000, 'one next frame per subscription');
  const nexts = frames.map((f) => JSON.parse(f) as { id?: string; type: string; payload?: { data: Record<string, { object: { metadata: { name: string } } }> } })
    .filter((m) => m.type === 'next');
  assert.deepEqual(nexts.map((m) => m.id).sort(), [...ids].sort());
  for (const m of nexts) {
    assert.deepEqual(Object.keys(m).sort(), ['id', 'payload', 'type']);
    assert.equal(m.payload!.data['watchCronTab_stable_example_com']!.object.metadata.name, 'ids-a');
  }
  assert.equal(ws.readyState, WebSocket.OPEN, 'ids that look like anything close nothing');
  ws.close();
  await waitUntil(() => stats().subscribers === base, 5_000, 'the hub to let go');
});

test('a duplicate subscription id closes the socket with 4409', async () => {
  const { ws, closed } = await acknowledged();
  subscribe(ws, 'same');
  subscribe(ws, 'same');
  const { code, reason } = await closed;
  assert.equal(code, 4409);
  assert.match(reason, /Subscriber for same already exists/);
});

test('subscribe before connection_ack closes the socket with 4401', async () => {
  const { ws, closed } = await rawSocket();
  subscribe(ws, '1');
  assert.equal((await closed).code, 4401);
});

test('complete from the client: no next frame for that id afterwards, the others go on', async () => {
  const { ws, frames } = await acknowledged();
  const base = stats().subscribers;
  subscribe(ws, 'stays');
  subscribe(ws, 'leaves');
  await waitUntil(() => stats().subscribers === base + 2, 10_000, 'two subscribers');
  ws.send(JSON.stringify({ id: 'leaves', type: 'complete' }));
  await waitUntil(() => stats().subscribers === base + 1, 5_000, 'the completed one to leave the hub');
  await create('after-complete');
  await waitUntil(() => frames.some((f) => JSON.parse(f).id === 'stays' && JSON.parse(f).type === 'next'), 10_000, 'the next frame of the other');
  assert.equal(frames.filter((f) => JSON.parse(f).id === 'leaves').length, 0, 'nothing for the completed subscription, not even complete');
  ws.close();
  await waitUntil(() => stats().subscribers === base, 5_000, 'the hub to let go');
});

test('ping is answered with pong and its payload', async () => {
  const { ws, frames } = await acknowledged();
  ws.send(JSON.stringify({ type: 'ping', payload: { n: 1 } }));
  await waitUntil(() => frames.some((f) => JSON.parse(f).type === 'pong'), 5_000, 'pong');
  assert.deepEqual(JSON.parse(frames.find((f) => JSON.parse(f).type === 'pong')!), { type: 'pong', payload: { n: 1 } });
  ws.close();
});

test('an id longer than 256 characters closes with 4400; an id of 3 MiB is refused by the message size bound', async () => {
  const long = await acknowledged();
  subscribe(long.ws, 'y'.repeat(257));
  assert.deepEqual(await long.closed, { code: 4400, reason: 'Subscription id too long' });
  const huge = await acknowledged();
  subscribe(huge.ws, 'z'.repeat(3 << 20));
  assert.equal((await huge.closed).code, 1009, 'message too big');
  assert.equal(huge.frames.filter((f) => JSON.parse(f).type !== 'connection_ack').length, 0);
});

test('an unknown message type and a frame that is not JSON close with 4400', async () => {
  const unknown = await acknowledged();
  unknown.ws.send(JSON.stringify({ type: 'subscribe-all', id: '1' }));
  assert.equal((await unknown.closed).code, 4400);
  const garbage = await acknowledged();
  garbage.ws.send('{"type": "subscribe", ');
  assert.equal((await garbage.closed).code, 4400);
  // The gateway still serves.
  const raw = await RawGraphQLSocket.connect(url);
  raw.close();
});
