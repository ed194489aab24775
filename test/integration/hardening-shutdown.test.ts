// Graceful shutdown of `crdgate serve` as a real process on the real cluster: on SIGTERM /readyz
// answers 503 with Connection: close (observable during --shutdown-delay, while the server still
// accepts), then the server stops accepting, an in-flight GraphQL list still completes, a
// graphql-ws client sees 1001, an SSE watch ends, new connections are refused and the process
// exits 0 within the deadline.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as delay } from 'node:timers/promises';
import { KubeClient } from '../../src/kube/kube-client.ts';
import { repoRoot } from '../../src/local-cluster/build-launcher.ts';
import { pollUntil } from '../helpers/poll-until.ts';
import { openClient, Subscription } from '../helpers/subscription-client.ts';
import { kubeConfigFor, testCluster } from '../helpers/test-cluster.ts';
import { testNamespaces } from '../helpers/test-namespaces.ts';

const bin = join(repoRoot, 'bin', 'crdgate.js');
const namespaces = testNamespaces();
const kube = new KubeClient(kubeConfigFor('admin'));
const objects = 150;
let ns: string;

before(async () => {
  ns = await namespaces.create('hard-stop');
  const image = 'i'.repeat(40_000); // a list of ~6 MB: it takes the gateway a while to answer
  for (let i = 0; i < objects; i += 10) {
    await Promise.all(Array.from({ length: Math.min(10, objects - i) }, (_, j) => kube.request('POST', `/apis/stable.example.com/v1/namespaces/${ns}/crontabs`, {
      body: { apiVersion: 'stable.example.com/v1', kind: 'CronTab', metadata: { name: `c${i + j}` }, spec: { cronSpec: '@hourly', image } },
    })));
  }
});

after(() => namespaces.deleteAll());

test('SIGTERM: readyz 503, in-flight request completes, WebSocket 1001, SSE ends, new connections refused, exit 0 in time', async () => {
  const shutdownDelayMs = 2_000;
  const shutdownTimeoutMs = 15_000;
  const p = spawn(process.execPath, [bin, 'serve', '--kubeconfig', testCluster().kubeconfig, '--port', '0', '--tenants', 'none',
    '--metrics-port', '0', '--log-level', 'trace', '--shutdown-delay', String(shutdownDelayMs), '--shutdown-timeout', String(shutdownTimeoutMs)], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  p.stderr.on('data', (d) => (stderr += d));
  const logs: Record<string, unknown>[] = [];
  const exited = new Promise<{ code: number | null; at: number }>((r) => p.on('exit', (code) => r({ code, at: performance.now() })));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no listening line within 30 s; stderr: ${stderr}`)), 30_000);
      createInterface({ input: p.stdout }).on('line', (line) => {
        logs.push(JSON.parse(line) as Record<string, unknown>);
        const m = /GraphQL API at (http:\/\/\S+)\/graphql/.exec(line);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
      void exited.then(({ code }) => reject(new Error(`crdgate exited with ${code}: ${stderr}`)));
    });
    assert.equal((await fetch(`${url}/readyz`)).status, 200);

    // A live subscription and a live SSE watch.
    const ws = openClient(url);
    const sub = new Subscription(ws, `subscription($ns: String) { watchCronTab_stable_example_com(namespace: $ns, sendInitialEvents: true) { type object { metadata { name } } } }`, { ns });
    await sub.waitForEvents(1, 15_000);
    const sse = await fetch(`${url}/rest/stable.example.com/v1/namespaces/${ns}/crontabs?watch=true`, { headers: { accept: 'text/event-stream' } });
    assert.equal(sse.status, 200);
    const sseText = sse.text();

    // A request in flight through the whole shutdown: on a connection of its own, it sends its
    // headers and the start of its body before SIGTERM, and the rest only once new connections are
    // refused. (A request sent during the delay could reuse a keep-alive connection just as the
    // server ends it as idle; one sent on a timer could arrive after the server stopped accepting.)
    const query = JSON.stringify({ query: `{ cronTabList_stable_example_com(namespace: "${ns}", limit: 500) { edges { node { metadata { name } spec { image } } } } }` });
    const upload = httpRequest(`${url}/graphql`, { method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'x-request-id': 'in-flight' } });
    const inFlight = new Promise<{ status: number; body: string }>((resolve, reject) => {
      upload.on('response', (r) => {
        let body = '';
        r.setEncoding('utf8');
        r.on('data', (c: string) => (body += c));
        r.on('end', () => resolve({ status: r.statusCode ?? 0, body }));
        r.on('error', reject);
      });
      upload.on('error', reject);
    });
    upload.write(query.slice(0, 10));
    // In flight from the server's point of view: it has read the request's headers.
    await pollUntil('the gateway to receive the in-flight request', () => logs.some((l) => l.msg === 'request received' && l.requestId === 'in-flight'),
      { timeoutMs: 30_000, intervalMs: 20 });

    const sigterm = performance.now();
    p.kill('SIGTERM');
    const notReady = await pollUntil('readyz to answer 503', async () => {
      const r = await fetch(`${url}/readyz`);
      return r.status === 503 ? { connection: r.headers.get('connection'), ...(await r.json()) as { reasons: string[] } } : undefined;
    }, { timeoutMs: shutdownDelayMs, intervalMs: 20 });
    assert.deepEqual(notReady.reasons, ['shutting down']);
    // While it drains, answers close their connections: no client reuses one that is about to end.
    assert.equal(notReady.connection, 'close');

    await pollUntil('new connections to be refused', async () => {
      try {
        await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) });
        return false;
      } catch (err) {
        return /ECONNREFUSED/.test(String((err as { cause?: unknown }).cause ?? err));
      }
    }, { timeoutMs: 10_000, intervalMs: 50 });

    const closed = await Promise.race([ws.closed, delay(10_000).then(() => undefined)]);
    assert.equal(closed?.code, 1001, 'the graphql-ws client sees 1001 (going away)');
    const text = await Promise.race([sseText, delay(10_000).then(() => 'SSE stream did not end')]);
    assert.match(text, /event: ERROR\ndata: .*"code":"UNAVAILABLE"/, 'the SSE stream ends, saying why');

    upload.end(query.slice(10));
    const res = await inFlight;
    assert.equal(res.status, 200, res.body.slice(0, 500));
    const body = JSON.parse(res.body) as { data: { cronTabList_stable_example_com: { edges: unknown[] } } };
    assert.equal(body.data.cronTabList_stable_example_com.edges.length, objects, 'the in-flight request completed in full');

    const { code, at } = await exited;
    assert.equal(code, 0, stderr);
    assert.ok(at - sigterm < shutdownTimeoutMs, `exited ${Math.round(at - sigterm)} ms after SIGTERM; the deadline is ${shutdownTimeoutMs} ms`);
    assert.equal(stderr, '', 'nothing on stderr');
    assert.ok(logs.some((l) => /SIGTERM: shutting down/.test(String(l.msg))));
    assert.ok(logs.some((l) => /^stopped in \d+ ms$/.test(String(l.msg))));
    // Its connection was closed (1001): the subscription's end is CANCELLED, at info, as the
    // README says, not a warning per live subscription on every deploy.
    const ends = logs.filter((l) => l.msg === 'subscription ended');
    assert.deepEqual(ends.map((l) => [l.code, l.level]), [['CANCELLED', 'info']]);
    await ws.dispose();
  } finally {
    p.kill('SIGKILL');
  }
});

test('SIGTERM: a request slower than --shutdown-timeout is cut at the deadline and the process still exits 0', async () => {
  const shutdownTimeoutMs = 300;
  const p = spawn(process.execPath, [bin, 'serve', '--kubeconfig', testCluster().kubeconfig, '--port', '0', '--tenants', 'none',
    '--metrics-port', '0', '--log-level', 'trace', '--shutdown-timeout', String(shutdownTimeoutMs)], { env: { PATH: process.env.PATH, HOME: process.env.HOME }, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((r) => p.on('exit', (code) => r(code)));
  try {
    const lines: string[] = [];
    const url = await new Promise<string>((resolve, reject) => {
      createInterface({ input: p.stdout }).on('line', (line) => {
        lines.push(line);
        const m = /GraphQL API at (http:\/\/\S+)\/graphql/.exec(line);
        if (m) resolve(m[1]!);
      });
      setTimeout(() => reject(new Error('no listening line within 30 s')), 30_000);
    });
    // An SSE watch is a request that never ends by itself; with the hub stopped it ends anyway,
    // so use a client that keeps an upload open instead: the request never completes.
    const stuck = fetch(`${url}/graphql`, {
      method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': 'stuck' }, duplex: 'half',
      body: new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode('{"query":')); } }),
    } as RequestInit).then((r) => r.status, (err: unknown) => String(err));
    await pollUntil('the gateway to receive the stuck request', () => lines.some((l) => l.includes('"request received"') && l.includes('"requestId":"stuck"')),
      { timeoutMs: 30_000, intervalMs: 20 });
    const sigterm = performance.now();
    p.kill('SIGTERM');
    assert.equal(await exited, 0);
    const took = performance.now() - sigterm;
    assert.ok(took >= shutdownTimeoutMs * 0.9, `waited ${Math.round(took)} ms for the in-flight request`);
    // Far below the 25 s default: the request was cut at its deadline, not waited for.
    assert.ok(took < 20_000, `exited ${Math.round(took)} ms after SIGTERM`);
    assert.match(String(await stuck), /TypeError|terminated|fetch failed/, 'the stuck request was cut');
  } finally {
    p.kill('SIGKILL');
  }
});

test('SIGTERM: a WebSocket client that never answers the close is cut at the deadline; SSE watches still end with UNAVAILABLE', async () => {
  const shutdownTimeoutMs = 3_000;
  const p = spawn(process.execPath, [bin, 'serve', '--kubeconfig', testCluster().kubeconfig, '--port', '0', '--tenants', 'none',
    '--metrics-port', '0', '--shutdown-timeout', String(shutdownTimeoutMs)], { env: { PATH: process.env.PATH, HOME: process.env.HOME }, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((r) => p.on('exit', (code) => r(code)));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      createInterface({ input: p.stdout }).on('line', (line) => {
        const m = /GraphQL API at (http:\/\/\S+)\/graphql/.exec(line);
        if (m) resolve(m[1]!);
      });
      setTimeout(() => reject(new Error('no listening line within 30 s')), 30_000);
    });
    // A client whose network went away: upgraded, then silent (it never sends the close back).
    const { hostname, port } = new URL(url);
    const silent = connect(Number(port), hostname);
    await once(silent, 'connect');
    silent.write(`GET /graphql HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`
      + `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n`);
    const [upgraded] = await once(silent, 'data') as [Buffer];
    assert.match(upgraded.toString('latin1'), /^HTTP\/1\.1 101 /);
    silent.on('data', () => {});
    silent.on('error', () => {});
    const sse = await fetch(`${url}/rest/stable.example.com/v1/namespaces/${ns}/crontabs?watch=true`, { headers: { accept: 'text/event-stream' } });
    assert.equal(sse.status, 200);
    const sseText = sse.text();
    const sigterm = performance.now();
    p.kill('SIGTERM');
    const text = await Promise.race([sseText, delay(20_000).then(() => 'SSE stream did not end')]);
    assert.match(text, /event: ERROR\ndata: .*"code":"UNAVAILABLE"/, 'the SSE stream ends, saying why');
    assert.equal(await exited, 0);
    const took = performance.now() - sigterm;
    // ws waits 30 s for a close that never comes; the deadline is the gateway's.
    assert.ok(took < shutdownTimeoutMs + 5_000, `exited ${Math.round(took)} ms after SIGTERM; the deadline is ${shutdownTimeoutMs} ms`);
    silent.destroy();
  } finally {
    p.kill('SIGKILL');
  }
});
