// Internal errors on the real control plane: an exception that escapes the error catalog reaches
// the client as INTERNAL "internal error" (GraphQL over HTTP, REST, WebSocket), never with its own
// message; its cause is logged once, with the request id the client sent or was given. A failure
// while a WebSocket subscription starts ends that subscription only: the connection and its other
// subscriptions go on.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { createGateway, type Gateway } from '../../src/gateway.ts';
import { KubeClient } from '../../src/kube/kube-client.ts';
import type { GatewayPlugin } from '../../src/plugins/gateway-plugin.ts';
import { openClient, Subscription, waitUntil } from '../helpers/subscription-client.ts';
import { kubeConfigFor } from '../helpers/test-cluster.ts';
import { testNamespaces } from '../helpers/test-namespaces.ts';

const namespaces = testNamespaces();
const secret = 'boom: secret detail of a bug';
const logged: { requestId: string | undefined; cause: unknown }[] = [];
let ns: string;
let gateway: Gateway;
let base: string;
const admin = new KubeClient(kubeConfigFor('admin'));

/** A bug on purpose: reading the object named "explode", or subscribing as "Explode", throws. */
const buggy: GatewayPlugin = {
  name: 'buggy',
  wrapOperations(ops) {
    return { ...ops, get: (req) => (req.name === 'explode' ? Promise.reject(new TypeError(secret)) : ops.get(req)) };
  },
  checkOperation({ source }) {
    if (/subscription Explode\b/.test(source)) throw new TypeError(secret);
  },
};

const crontab = (name: string) => admin.request('POST', `/apis/stable.example.com/v1/namespaces/${ns}/crontabs`, {
  body: { apiVersion: 'stable.example.com/v1', kind: 'CronTab', metadata: { name }, spec: { cronSpec: '@hourly' } },
});

before(async () => {
  ns = await namespaces.create('internal');
  gateway = await createGateway({
    client: admin, explorer: false, plugins: [buggy],
    onInternalError: (requestId, cause) => logged.push({ requestId, cause }),
  });
  const server = await gateway.listen(0);
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  await gateway?.stop();
  await namespaces.deleteAll();
});

test('GraphQL over HTTP: INTERNAL "internal error" for the client, the cause logged once with the request id', async () => {
  logged.length = 0;
  const res = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-request-id': 'req-internal-gql' },
    body: JSON.stringify({ query: `{ cronTab_stable_example_com(namespace: "${ns}", name: "explode") { metadata { name } } }` }),
  });
  const text = await res.text();
  assert.doesNotMatch(text, /boom|secret detail|TypeError/, text);
  const body = JSON.parse(text) as { errors: { message: string; extensions: { code: string } }[] };
  assert.equal(body.errors[0]!.message, 'internal error');
  assert.equal(body.errors[0]!.extensions.code, 'INTERNAL');
  assert.equal(logged.length, 1, JSON.stringify(logged));
  assert.equal(logged[0]!.requestId, 'req-internal-gql');
  assert.equal((logged[0]!.cause as Error).message, secret);
});

test('REST: a 500 problem with code INTERNAL and no detail of the cause, which is logged once with the request id', async () => {
  logged.length = 0;
  const res = await fetch(`${base}/rest/stable.example.com/v1/namespaces/${ns}/crontabs/explode`, { headers: { 'x-request-id': 'req-internal-rest' } });
  const text = await res.text();
  assert.equal(res.status, 500, text);
  assert.doesNotMatch(text, /boom|secret detail|TypeError/, text);
  assert.equal((JSON.parse(text) as { code: string }).code, 'INTERNAL');
  assert.equal(logged.length, 1, JSON.stringify(logged));
  assert.equal(logged[0]!.requestId, 'req-internal-rest');
  assert.equal((logged[0]!.cause as Error).message, secret);
});

test('WebSocket: a subscription that fails to start ends with an INTERNAL error; the connection and its other subscription go on', async () => {
  logged.length = 0;
  const client = openClient(base);
  const watch = `subscription Good { watchCronTab_stable_example_com(namespace: "${ns}", sendInitialEvents: true) { type object { metadata { name } } } }`;
  await crontab('before');
  const good = new Subscription(client, watch);
  await good.waitForEvents(2);
  const bad = new Subscription(client, watch.replace('subscription Good', 'subscription Explode'));
  await bad.waitForEnd();
  assert.equal(bad.errorCode, 'INTERNAL', JSON.stringify(bad.error));
  assert.equal(bad.error![0]!.message, 'internal error');
  assert.doesNotMatch(JSON.stringify(bad.error), /boom|secret detail/);
  await waitUntil(() => logged.length === 1, 5_000, 'the cause to be logged');
  assert.match(String(logged[0]!.requestId), /^[0-9a-f-]{36}-[\w-]+$/, 'the subscription\'s request id: connection id and subscription id');
  assert.equal((logged[0]!.cause as Error).message, secret);
  // The same connection still delivers the first subscription's events.
  await crontab('after');
  await good.waitForEvents(3);
  assert.deepEqual(good.summary(), ['ADDED before', 'INITIAL_STATE_DONE', 'ADDED after']);
  assert.equal(good.ended, false);
  await client.dispose();
});
