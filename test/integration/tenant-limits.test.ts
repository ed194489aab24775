// A tenant rule may set its own query limits and budgets, lower or higher than the gateway's: over
// HTTP and over WebSocket, one tenant's operation is refused where another tenant's identical one
// runs.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { WebSocket } from 'ws';
import jwt from 'jsonwebtoken';
import { loadTenantConfig } from '../../src/auth/tenant-config.ts';
import { createGateway, type Gateway } from '../../src/gateway.ts';
import { KubeClient } from '../../src/kube/kube-client.ts';
import { loadFile } from '../../src/kube/kube-config.ts';
import { queryLimits } from '../../src/plugins/query-limits.ts';
import { rateLimits } from '../../src/plugins/rate-limits.ts';
import { kubectl, testCluster, uniqueName } from '../helpers/test-cluster.ts';
import { firstAnswer, openClient, Subscription, waitUntil } from '../helpers/subscription-client.ts';

const dir = mkdtempSync(join(tmpdir(), 'crdgate-tenant-limits-'));
const secret = randomBytes(48);
const ns = uniqueName('tlimits');
const role = uniqueName('tlimits-reader');
let gateway: Gateway;
let url: string;

const token = (tenant: string) => jwt.sign({ tenant }, secret, { algorithm: 'HS256', issuer: 'limits-test', audience: 'crdgate', subject: `u-${tenant}`, expiresIn: '1h' });
// A list of 100 (the default page) with a few fields costs several hundred; its depth is 5.
const listQuery = `{ cronTabList_stable_example_com(namespace: "${ns}") { edges { node { metadata { name namespace } spec { cronSpec } } } } }`;

before(async () => {
  writeFileSync(join(dir, 'secret'), secret);
  writeFileSync(join(dir, 'tenants.yaml'), `auth:
  issuer: limits-test
  audience: crdgate
  algorithms: [HS256]
  secretFile: secret
tenants:
  - name: small
    match: { tenant: small }
    user: "small:{sub}"
    groups: ["${role}"]
    limits: { maxCost: 50 }
  - name: default
    match: { tenant: default }
    user: "default:{sub}"
    groups: ["${role}"]
  - name: shallow
    match: { tenant: shallow }
    user: "shallow:{sub}"
    groups: ["${role}"]
    limits: { maxDepth: 3 }
  - name: deep
    match: { tenant: deep }
    user: "deep:{sub}"
    groups: ["${role}"]
    limits: { maxDepth: 8 }
  - name: onewatch
    match: { tenant: onewatch }
    user: "onewatch:{sub}"
    groups: ["${role}"]
    limits: { maxWatches: 1 }
  - name: twoconns
    match: { tenant: twoconns }
    user: "twoconns:{sub}"
    groups: ["${role}"]
    limits: { maxConnections: 2 }
`);
  for (const args of [
    ['create', 'namespace', ns],
    ['create', 'clusterrole', role, '--verb=get,list,watch', '--resource=crontabs.stable.example.com'],
    ['create', 'rolebinding', role, `--clusterrole=${role}`, `--group=${role}`, '-n', ns],
  ]) {
    const r = await kubectl(args);
    assert.equal(r.code, 0, r.stderr);
  }
  gateway = await createGateway({
    client: new KubeClient(loadFile(testCluster().kubeconfig)),
    tenants: loadTenantConfig(join(dir, 'tenants.yaml')),
    plugins: [queryLimits({ mode: 'production', limits: { maxCost: 20_000, maxDepth: 5 } }), rateLimits({ limits: { maxWatches: 3 } })],
    explorer: false,
  });
  url = `http://127.0.0.1:${((await gateway.listen(0)).address() as { port: number }).port}/graphql`;
});

after(async () => {
  await gateway?.stop();
  await kubectl(['delete', 'namespace', ns, '--wait=false']);
  await kubectl(['delete', 'clusterrole', role]);
  rmSync(dir, { recursive: true, force: true });
});

async function post(tenant: string, query: string) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token(tenant)}` }, body: JSON.stringify({ query }) });
  return { status: res.status, body: (await res.json()) as { data?: unknown; errors?: { message: string; extensions?: Record<string, unknown> }[] } };
}

test('over HTTP: the tenant with a cost limit of 50 is refused what the default tenant may run', async () => {
  const small = await post('small', listQuery);
  assert.equal(small.status, 400, JSON.stringify(small.body));
  assert.equal(small.body.errors?.[0]?.extensions?.code, 'BAD_REQUEST');
  assert.match(small.body.errors![0]!.message, /more than the limit of 50/);
  const dflt = await post('default', listQuery);
  assert.equal(dflt.status, 200, JSON.stringify(dflt.body));
  assert.equal(dflt.body.errors, undefined);
});

test('over WebSocket: the same per-tenant limit applies to subscriptions', async () => {
  // About 11 fields, times the subscription factor of 10: over 50, far under the default limit.
  const sub = `subscription { watchCronTab_stable_example_com(namespace: "${ns}", sendInitialEvents: true) { type resourceVersion object { metadata { name namespace uid } spec { cronSpec image replicas } } } }`;
  const first = (tenant: string) => firstAnswer(url.replace(/^http/, 'ws'), sub, { connectionParams: { authorization: `Bearer ${token(tenant)}` } });
  const small = await first('small');
  assert.equal(small.errors?.[0]?.extensions?.code, 'BAD_REQUEST', JSON.stringify(small));
  assert.match(small.errors![0]!.message, /more than the limit of 50/);
  const dflt = await first('default');
  assert.equal(dflt.errors, undefined, JSON.stringify(dflt));
});

test('depth: a tenant rule lowers or raises the gateway\'s limit over HTTP, and lowers it over WebSocket', async () => {
  // Depth 6: over the gateway's 5, under the deep tenant's 8.
  const deeper = `{ cronTabList_stable_example_com(namespace: "${ns}") { edges { node { metadata { ownerReferences { name } } } } } }`;
  for (let i = 0; i < 2; i++) {
    const deep = await post('deep', deeper);
    assert.equal(deep.status, 200, JSON.stringify(deep.body));
    const dflt = await post('default', deeper);
    assert.equal(dflt.status, 400, JSON.stringify(dflt.body));
    assert.match(dflt.body.errors![0]!.message, /depth limit of 5 exceeded, found 6 \(limit maxDepth, set with --max-depth\)/);
  }
  const shallow = await post('shallow', listQuery);
  assert.equal(shallow.status, 400);
  assert.equal(shallow.body.errors?.[0]?.extensions?.code, 'BAD_REQUEST');
  assert.match(shallow.body.errors![0]!.message, /depth limit of 3 exceeded, found 5 \(limit maxDepth, set by the tenant's rule, limits\.maxDepth\)/);

  const sub = `subscription { watchCronTab_stable_example_com(namespace: "${ns}", sendInitialEvents: true) { type object { metadata { name } } } }`;
  const first = (tenant: string) => firstAnswer(url.replace(/^http/, 'ws'), sub, { connectionParams: { authorization: `Bearer ${token(tenant)}` } });
  const refused = await first('shallow');
  assert.equal(refused.errors?.[0]?.extensions?.code, 'BAD_REQUEST', JSON.stringify(refused));
  assert.match(refused.errors![0]!.message, /depth limit of 3 exceeded, found 4.*tenant's rule/);
  // The default tenant's identical subscription runs (depth 4 is under the gateway's 5).
  const dflt = await first('default');
  assert.equal(dflt.errors, undefined, JSON.stringify(dflt));
});

test('budgets: a tenant rule\'s maxWatches of 1 refuses a second open subscription; the default tenant opens two', async () => {
  const sub = `subscription { watchCronTab_stable_example_com(namespace: "${ns}", sendInitialEvents: true) { type } }`;
  const base = url.replace(/\/graphql$/, '');
  const clients: ReturnType<typeof openClient>[] = [];
  const open = (tenant: string) => {
    const c = openClient(base, { connectionParams: { authorization: `Bearer ${token(tenant)}` } });
    clients.push(c);
    return new Subscription(c, sub);
  };
  try {
    const first = open('onewatch');
    await waitUntil(() => first.events.some((e) => e.type === 'INITIAL_STATE_DONE') || first.ended, 10_000, 'the first subscription');
    assert.equal(first.error, undefined, JSON.stringify(first.error));
    // On the first one's connection: the error; closing it would cut the first one.
    const second = new Subscription(clients[0]!, sub);
    await waitUntil(() => second.ended, 10_000, 'the second subscription to be refused');
    assert.equal(second.errorCode, 'TOO_MANY_REQUESTS', JSON.stringify(second.error));
    assert.match(second.error![0]!.message, /tenant "onewatch" has 1 open subscriptions and watches, its limit/);
    // On a connection of its own (a client resubscribing after a replica went away, whose slots
    // its leases still hold): closed with 1013, so that graphql-ws' client comes back later,
    // where an error would end the subscription for good.
    const third = open('onewatch');
    const closed = await clients.at(-1)!.closed;
    assert.equal(closed.code, 1013);
    assert.match(closed.reason, /^try again later: tenant "onewatch" has 1 open subscriptions and watches, its limit/);
    assert.ok(Buffer.byteLength(closed.reason) <= 123);
    assert.equal(third.events.length, 0);
    assert.equal(first.ended, false, 'the first one goes on');
    const others = [open('default'), open('default')];
    await waitUntil(() => others.every((o) => o.events.some((e) => e.type === 'INITIAL_STATE_DONE') || o.ended), 10_000, 'the default tenant\'s subscriptions');
    for (const o of others) assert.equal(o.error, undefined, JSON.stringify(o.error));
  } finally {
    for (const c of clients) await c.dispose();
  }
});

/** A raw graphql-ws connection of `tenant`: resolves with its ack, or with how the server closed it. */
function connect(tenant: string): { ws: WebSocket; outcome: Promise<'ack' | { code: number; reason: string }> } {
  const ws = new WebSocket(url.replace(/^http/, 'ws'), 'graphql-transport-ws');
  ws.on('error', () => {});
  const outcome = new Promise<'ack' | { code: number; reason: string }>((resolve) => {
    ws.once('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token(tenant)}` } })));
    ws.on('message', (data) => {
      if ((JSON.parse(String(data)) as { type: string }).type === 'connection_ack') resolve('ack');
    });
    ws.once('close', (code, reason) => resolve({ code, reason: String(reason) }));
  });
  return { ws, outcome };
}

test('budgets: a tenant rule\'s maxConnections of 2 closes a third WebSocket with 1013; closed ones, however they close, give their slot back', async () => {
  const open: WebSocket[] = [];
  try {
    for (let i = 0; i < 2; i++) {
      const c = connect('twoconns');
      open.push(c.ws);
      assert.equal(await c.outcome, 'ack');
    }
    const third = connect('twoconns');
    const refused = await third.outcome;
    assert.notEqual(refused, 'ack');
    assert.equal((refused as { code: number }).code, 1013);
    assert.match((refused as { reason: string }).reason, /tenant "twoconns" has 2 open WebSocket connections, its limit/);
    // Another tenant's budget is its own.
    const other = connect('default');
    open.push(other.ws);
    assert.equal(await other.outcome, 'ack');
    // One cut without a close frame, one closed cleanly: both slots come back.
    open[0]!.terminate();
    open[1]!.close();
    // Sockets that leave while their connection_init is being answered take no slot for good.
    for (let i = 0; i < 10; i++) {
      const c = connect('twoconns');
      c.ws.once('open', () => setImmediate(() => c.ws.terminate()));
      await c.outcome;
    }
    let acked = 0;
    await waitUntil(async () => {
      const c = connect('twoconns');
      if ((await c.outcome) !== 'ack') return false;
      open.push(c.ws);
      return ++acked === 2;
    }, 10_000, 'two connections of the tenant again');
  } finally {
    for (const ws of open) ws.terminate();
  }
});
