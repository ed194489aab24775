// Two replicas of the gateway: two real `crdgate serve` processes against the test cluster, sharing
// one real redis-server. A tenant's budget is one budget across both (what they admit together
// stays within it), an APQ document registered through one runs by its hash on the other, and
// subscriptions run on both. Then one replica gets SIGTERM while writes flow: its clients (the
// official graphql-ws client, retrying) reconnect to the other and resume from the last
// resourceVersion they received; every client ends with exactly the sequence of writes made, none
// lost, none twice.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createClient, type Client } from 'graphql-ws';
import { Redis } from 'ioredis';
import jwt from 'jsonwebtoken';
import WebSocket from 'ws';
import { KubeClient } from '../../src/kube/kube-client.ts';
import { loadFile } from '../../src/kube/kube-config.ts';
import { repoRoot } from '../../src/local-cluster/build-launcher.ts';
import { sha256Hex } from '../../src/plugins/persisted-operations.ts';
import { rateWindow } from '../../src/plugins/shared-budgets.ts';
import { defaultRateLimits } from '../../src/plugins/rate-limits.ts';
import { pollUntil } from '../helpers/poll-until.ts';
import { startRedis, type TestRedis } from '../helpers/redis-server.ts';
import { kubectl, testCluster, uniqueName } from '../helpers/test-cluster.ts';

const dir = mkdtempSync(join(tmpdir(), 'crdgate-replicas-'));
const secret = randomBytes(48);
const ns = uniqueName('replicas');
const role = uniqueName('replicas-rw');
const clients = 5;
const rate = { requestsPerSecond: 1, burst: 12 };
let redis: TestRedis;
let inspector: Redis | undefined;
let kube: KubeClient;

const token = (tenant: string) => jwt.sign({ tenant }, secret, { algorithm: 'HS256', issuer: 'replicas-test', audience: 'crdgate', subject: `u-${tenant}`, expiresIn: '1h' });

interface Replica {
  readonly url: string;
  readonly process: ChildProcess;
  readonly logs: string[];
  readonly exited: Promise<number | null>;
}
const replicas: Replica[] = [];

async function startReplica(name: string): Promise<Replica> {
  const p = spawn(process.execPath, [join(repoRoot, 'bin', 'crdgate.js'), 'serve', '--kubeconfig', testCluster().kubeconfig, '--port', '0',
    '--tenants', join(dir, 'tenants.yaml'), '--redis-url', redis.url, '--metrics-port', '0'], {
    env: { PATH: process.env.PATH, HOME: dir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  let stderr = '';
  p.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((r) => p.on('exit', (code) => r(code)));
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: p.stdout! }).on('line', (line) => {
      logs.push(line);
      const m = /GraphQL API at (http:\/\/\S+)\/graphql/.exec(line);
      if (m) resolve(m[1]!);
    });
    void exited.then((code) => reject(new Error(`replica ${name} exited with ${code} before listening: ${stderr}`)));
  });
  const replica = { url, process: p, logs, exited };
  replicas.push(replica);
  return replica;
}

async function post(replica: Replica, tenant: string, body: Record<string, unknown>) {
  const res = await fetch(`${replica.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token(tenant)}` },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as { data?: Record<string, unknown>; errors?: { message: string; extensions?: Record<string, unknown> }[] } };
}

before(async () => {
  redis = await startRedis();
  kube = new KubeClient(loadFile(testCluster().kubeconfig));
  writeFileSync(join(dir, 'secret'), secret);
  const rule = (name: string, limits: string) => `  - name: ${name}
    match: { tenant: ${name} }
    user: "${name}:{sub}"
    groups: ["${role}"]
    limits: ${limits}
`;
  writeFileSync(join(dir, 'tenants.yaml'), `auth:
  issuer: replicas-test
  audience: crdgate
  algorithms: [HS256]
  secretFile: secret
tenants:
${rule('rated', `{ requestsPerSecond: ${rate.requestsPerSecond}, burst: ${rate.burst} }`)}${rule('capped', '{ maxWatches: 3, requestsPerSecond: 0 }')}${rule('apq', '{ requestsPerSecond: 0 }')}${rule('watcher', `{ maxWatches: ${2 * clients}, requestsPerSecond: 0 }`)}`);
  for (const args of [
    ['create', 'namespace', ns],
    ['create', 'clusterrole', role, '--verb=get,list,watch', '--resource=crontabs.stable.example.com'],
    ['create', 'rolebinding', role, `--clusterrole=${role}`, `--group=${role}`, '-n', ns],
  ]) {
    const r = await kubectl(args);
    assert.equal(r.code, 0, r.stderr);
  }
  await Promise.all([startReplica('a'), startReplica('b')]);
});

after(async () => {
  for (const r of replicas) {
    if (r.process.exitCode === null) r.process.kill('SIGTERM');
    await r.exited;
  }
  inspector?.disconnect();
  await redis?.dispose();
  await kubectl(['delete', 'namespace', ns, '--wait=false']);
  await kubectl(['delete', 'clusterrole', role]);
  rmSync(dir, { recursive: true, force: true });
});

test('both replicas say that they share their state through Redis', () => {
  for (const r of replicas) {
    assert.ok(r.logs.some((l) => l.includes(`shared state in Redis at ${redis.url}`)), r.logs.join('\n'));
  }
});

test('requests per second: what both replicas admit together stays within the tenant\'s budget', async () => {
  const { points, seconds } = rateWindow({ ...defaultRateLimits, ...rate });
  const [a, b] = replicas as [Replica, Replica];
  const started = performance.now();
  const statuses: number[] = [];
  for (let i = 0; i < 3 * points; i++) statuses.push((await post(i % 2 ? b : a, 'rated', { query: '{ __typename }' })).status);
  const elapsedMs = performance.now() - started;
  const admitted = statuses.filter((s) => s === 200).length;
  assert.deepEqual(new Set(statuses), new Set([200, 429]), statuses.join(' '));
  const windows = 1 + Math.floor(elapsedMs / (seconds * 1000));
  assert.ok(admitted <= points * windows, `${admitted} admitted by both replicas in ${windows} window(s) of ${points}`);
  // Within one window, the two replicas together used exactly the tenant's budget: not twice it.
  if (windows === 1) assert.equal(admitted, points);
  const refused = await post(a, 'rated', { query: '{ __typename }' });
  if (refused.status === 429) {
    assert.equal(refused.body.errors?.[0]?.extensions?.code, 'TOO_MANY_REQUESTS');
    assert.match(refused.body.errors![0]!.message, /tenant "rated" is over its rate limit of 1 requests per second \(burst 12\)/);
  }
});

const watchQuery = `subscription($ns: String, $rv: String) {
  watchCronTab_stable_example_com(namespace: $ns, resourceVersion: $rv) { type resourceVersion object { metadata { name resourceVersion } } }
}`;

test('open watches: a tenant\'s subscriptions on both replicas count against one budget', async () => {
  const [a, b] = replicas as [Replica, Replica];
  const connect = (r: Replica) => createClient({ url: `${r.url.replace(/^http/, 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0, lazy: false,
    onNonLazyError: () => {}, connectionParams: { authorization: `Bearer ${token('capped')}` } });
  const opened: Client[] = [];
  const subscribe = (r: Replica) => new Promise<string>((resolve) => {
    const c = connect(r);
    opened.push(c);
    c.subscribe({ query: watchQuery, variables: { ns } }, {
      // A refusal arrives as a result with errors (then completion).
      next: (r) => {
        if (r.errors?.length) resolve(String(r.errors[0]?.extensions?.['code'] ?? r.errors[0]?.message));
      },
      // Alone on its connection, a refusal for now closes it (1013), for the client to come back.
      error: (e) => resolve((e as { code?: number }).code !== undefined ? `closed ${(e as { code: number }).code}` : String((e as { extensions?: { code?: string } }[])[0]?.extensions?.code ?? e)),
      complete: () => resolve('complete'),
    });
  });
  try {
    const slots = () => redisZcard('crdgate:watches:capped');
    const pending = [subscribe(a), subscribe(b)];
    await pollUntil('two watch slots taken', async () => (await slots()) === 2);
    pending.push(subscribe(a));
    await pollUntil('three watch slots taken', async () => (await slots()) === 3);
    assert.equal(await subscribe(b), 'closed 1013', 'the fourth, on the replica holding one, is over the shared budget');
    assert.equal(await subscribe(a), 'closed 1013');
    assert.equal(await slots(), 3);
    // A client that retries (as after a replica went away, its slots held until their leases
    // expire) subscribes once a slot is free again, and receives the events after.
    const retrying = createClient({ url: `${b.url.replace(/^http/, 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 20, lazy: false,
      retryWait: () => new Promise((r) => setTimeout(r, 300)), onNonLazyError: () => {}, connectionParams: { authorization: `Bearer ${token('capped')}` } });
    opened.push(retrying);
    const got: string[] = [];
    let ended: unknown;
    retrying.subscribe({ query: watchQuery, variables: { ns } }, {
      next: (r) => (r.errors?.length ? (ended = r.errors) : got.push((r.data as any).watchCronTab_stable_example_com.type)),
      error: (e) => (ended = e),
      complete: () => (ended = 'complete'),
    });
    await new Promise((r) => setTimeout(r, 1_000));
    assert.equal(got.length, 0);
    await opened[0]!.dispose();
    await pollUntil('a slot given back', async () => (await slots()) === 2, { intervalMs: 20 });
    await pollUntil('the retried subscription to hold the freed slot', async () => (await slots()) === 3 && ended === undefined, { timeoutMs: 15_000 });
    // Its watch starts a moment after the slot is held: changes until one arrives.
    const name = `retried-${process.pid}`;
    await kube.request('POST', `/apis/stable.example.com/v1/namespaces/${ns}/crontabs`, { body: { apiVersion: 'stable.example.com/v1', kind: 'CronTab', metadata: { name }, spec: { cronSpec: '* * * * *', image: 'x', replicas: 0 } } });
    let replicas = 0;
    await pollUntil('an event on the retried subscription', async () => {
      if (got.length > 0) return true;
      await kube.request('PATCH', `/apis/stable.example.com/v1/namespaces/${ns}/crontabs/${name}`, { body: { spec: { replicas: ++replicas } }, contentType: 'application/merge-patch+json' });
      return false;
    }, { timeoutMs: 15_000, intervalMs: 200 });
    assert.equal(ended, undefined);
  } finally {
    for (const c of opened) await c.dispose();
  }
  await pollUntil('the slots given back when the clients leave', async () => (await redisZcard('crdgate:watches:capped')) === 0);
});

test('APQ: a document registered through one replica runs by its hash through the other', async () => {
  const [a, b] = replicas as [Replica, Replica];
  const query = `query Names${process.pid} { cronTabList_stable_example_com(namespace: "${ns}") { edges { node { metadata { name } } } } }`;
  const ext = { persistedQuery: { version: 1, sha256Hash: sha256Hex(query) } };
  const unknown = await post(b, 'apq', { extensions: ext });
  assert.equal(unknown.body.errors?.[0]?.extensions?.code, 'PERSISTED_QUERY_NOT_FOUND', 'not registered yet');
  const registered = await post(a, 'apq', { query, extensions: ext });
  assert.equal(registered.status, 200, JSON.stringify(registered.body));
  const byHash = await post(b, 'apq', { extensions: ext });
  assert.equal(byHash.status, 200, JSON.stringify(byHash.body));
  assert.deepEqual(byHash.body, registered.body);
  // Another tenant does not find it: registrations are per tenant.
  const other = await post(b, 'capped', { extensions: ext });
  assert.equal(other.body.errors?.[0]?.extensions?.code, 'PERSISTED_QUERY_NOT_FOUND', JSON.stringify(other.body));
});

/** Slots held in a shared budget, read from Redis itself. */
function redisZcard(key: string): Promise<number> {
  if (!inspector) {
    inspector = new Redis(redis.url);
    // This test stops Redis on purpose; the inspector is not used while it is down.
    inspector.on('error', () => {});
  }
  return inspector.zcard(key);
}

type Event = { type: string; name: string; rv: string | undefined };

/** A graphql-ws client that reconnects (to the next replica in turn) and resumes from its last event. */
function resumingSubscriber(first: number) {
  const urls = replicas.map((r) => `${r.url.replace(/^http/, 'ws')}/graphql`);
  let attempt = first;
  let tried = '';
  const connectedTo: string[] = [];
  const events: Event[] = [];
  const errors: unknown[] = [];
  const variables: { ns: string; rv?: string } = { ns };
  const client = createClient({
    url: () => (tried = urls[attempt++ % urls.length]!),
    webSocketImpl: WebSocket,
    lazy: false,
    onNonLazyError: () => {},
    retryAttempts: 50,
    shouldRetry: () => true,
    // The library's own pause between attempts, short: the other replica is up.
    retryWait: (retries) => new Promise((r) => setTimeout(r, Math.min(1000, 50 * 2 ** retries))),
    connectionParams: { authorization: `Bearer ${token('watcher')}` },
    on: { connected: () => connectedTo.push(tried) },
  });
  return {
    client,
    connectedTo,
    events,
    errors,
    start(rv: string) {
      variables.rv = rv;
      // graphql-ws sends this payload again on every reconnect: the variables object is updated
      // with each event, so a resubscription resumes from the last resourceVersion received.
      client.subscribe<{ watchCronTab_stable_example_com: { type: string; resourceVersion: string; object: { metadata: { name: string } } } }>(
        { query: watchQuery, variables }, {
          next: (r) => {
            const e = r.data?.watchCronTab_stable_example_com;
            if (!e) return errors.push(r.errors ?? r);
            variables.rv = e.resourceVersion;
            if (e.type !== 'BOOKMARK') events.push({ type: e.type, name: e.object.metadata.name, rv: e.resourceVersion });
          },
          error: (e) => errors.push(e),
          complete: () => errors.push('completed'),
        });
    },
  };
}

type CronTab = { metadata: { name: string; resourceVersion: string } };

test('subscriptions on both replicas; SIGTERM one while writes flow: its clients resume on the other, nothing lost or doubled', async () => {
  const [a, b] = replicas as [Replica, Replica];
  const path = (name?: string) => `/apis/stable.example.com/v1/namespaces/${ns}/crontabs${name ? `/${name}` : ''}`;
  const start = (await kube.request<{ metadata: { resourceVersion: string } }>('GET', path())).metadata.resourceVersion;
  // Three clients start on replica a, two on b.
  const subscribers = Array.from({ length: clients }, (_, i) => resumingSubscriber(i < 3 ? 0 : 1));
  for (const s of subscribers) s.start(start);
  await pollUntil('every client connected', () => subscribers.every((s) => s.connectedTo.length === 1));
  assert.deepEqual(subscribers.map((s) => s.connectedTo[0]), [a, a, a, b, b].map((r) => `${r.url.replace(/^http/, 'ws')}/graphql`));
  await pollUntil('every subscription holds its slot', async () => (await redisZcard('crdgate:watches:watcher')) === clients);

  // A DELETE answers with a Status, not the object: the revision of a deletion is not known to
  // the writer. Clients' deletions are compared by name here, and their revisions across clients.
  const writes: Event[] = [];
  const record = (type: string, o: CronTab) => writes.push({ type, name: o.metadata.name, rv: o.metadata.resourceVersion });
  const deleted = (name: string) => writes.push({ type: 'DELETED', name, rv: undefined });
  const write = async (i: number) => {
    const name = `c${i % 7}`;
    const exists = writes.filter((w) => w.name === name).at(-1);
    if (!exists || exists.type === 'DELETED') {
      record('ADDED', await kube.request<CronTab>('POST', path(), { body: { apiVersion: 'stable.example.com/v1', kind: 'CronTab', metadata: { name }, spec: { cronSpec: '* * * * *', replicas: i } } }));
    } else if (i % 5 === 0) {
      await kube.request('DELETE', path(name));
      deleted(name);
    } else {
      record('MODIFIED', await kube.request<CronTab>('PATCH', path(name), { body: { spec: { replicas: i } }, contentType: 'application/merge-patch+json' }));
    }
  };
  let i = 0;
  for (; i < 20; i++) await write(i);
  // Replica a's clients are receiving when it is told to stop.
  await pollUntil('a\'s clients got events', () => subscribers.slice(0, 3).every((s) => s.events.length > 0));
  a.process.kill('SIGTERM');
  for (; i < 60; i++) await write(i);

  const code = await a.exited;
  assert.equal(code, 0, 'replica a stopped cleanly');
  await pollUntil('every client has every write', () => subscribers.every((s) => s.events.length >= writes.length), { timeoutMs: 60_000 });
  const asWritten = (e: Event) => (e.type === 'DELETED' ? { ...e, rv: undefined } : e);
  for (const [n, s] of subscribers.entries()) {
    assert.deepEqual(s.events.map(asWritten), writes, `client ${n} (connected to ${s.connectedTo.join(' then ')}): exactly the writes, in order`);
    assert.deepEqual(s.errors, [], `client ${n}: no error`);
    const rvs = s.events.map((e) => BigInt(e.rv!));
    assert.ok(rvs.every((rv, k) => k === 0 || rv > rvs[k - 1]!), `client ${n}: revisions strictly increase`);
    assert.deepEqual(s.events, subscribers[0]!.events, `client ${n} saw the same deletion revisions as client 0`);
  }
  // a's clients moved to b; b's stayed where they were.
  const bUrl = `${b.url.replace(/^http/, 'ws')}/graphql`;
  for (const s of subscribers.slice(0, 3)) assert.equal(s.connectedTo.at(-1), bUrl, s.connectedTo.join(' → '));
  for (const s of subscribers.slice(3)) assert.deepEqual(s.connectedTo, [bUrl]);
  // a gave its watch slots back when it stopped: the tenant holds one per client, all on b.
  await pollUntil('one slot per client', async () => (await redisZcard('crdgate:watches:watcher')) === clients);
  for (const s of subscribers) await s.client.dispose();
});

test('Redis goes away: the replica refuses with 503 UNAVAILABLE and Retry-After, says so once; Redis back: served again', async () => {
  const b = replicas[1]!;
  const query = { query: '{ __typename }' };
  assert.equal((await post(b, 'apq', query)).status, 200);
  const before = b.logs.length;
  await redis.stop();
  const refusals = [];
  for (let i = 0; i < 10; i++) {
    const res = await fetch(`${b.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token('rated')}` }, body: JSON.stringify(query) });
    refusals.push({ status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as { errors?: { message: string; extensions?: Record<string, unknown> }[] } });
  }
  for (const r of refusals) {
    assert.equal(r.status, 503, JSON.stringify(r.body));
    assert.equal(r.retryAfter, '1');
    assert.equal(r.body.errors?.[0]?.extensions?.code, 'UNAVAILABLE');
    assert.equal(r.body.errors?.[0]?.extensions?.reason, 'SharedStateUnavailable');
  }
  const rest = await fetch(`${b.url}/rest/stable.example.com/v1/namespaces/${ns}/crontabs`, { headers: { authorization: `Bearer ${token('rated')}` } });
  assert.equal(rest.status, 503);
  assert.equal(rest.headers.get('content-type'), 'application/problem+json; charset=utf-8');
  const said = () => b.logs.slice(before).filter((l) => l.includes('is unreachable'));
  await pollUntil('the log line', () => said().length > 0);
  assert.equal(said().length, 1, said().join('\n'));
  assert.equal(JSON.parse(said()[0]!).level, 'warn');

  await redis.start();
  await pollUntil('served again', async () => (await post(b, 'apq', query)).status === 200, { timeoutMs: 20_000 });
  // Logs reach this process through a pipe: the line may come a moment after the answer.
  await pollUntil('the line saying Redis is back', () => b.logs.slice(before).some((l) => l.includes('is reachable again')));
  assert.equal(b.logs.slice(before).filter((l) => l.includes('is reachable again')).length, 1);
  assert.equal(said().length, 1, 'still one line for the whole outage');
});
