// Request ids on the real control plane: the id of a request (the client's X-Request-Id or a
// generated one) is in its log line and travels as Audit-ID on every Kubernetes call the request
// makes; and the apiserver really adopts a client's Audit-ID as the audit ID of the request (it
// echoes it in its Audit-Id response header), which is what lets the audit log join ours.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { createGateway, type Gateway } from '../../src/gateway.ts';
import { KubeClient } from '../../src/kube/kube-client.ts';
import { createLogger } from '../../src/logging.ts';
import type { GatewayPlugin } from '../../src/plugins/gateway-plugin.ts';
import { requestLogging } from '../../src/plugins/request-logging.ts';
import { kubeConfigFor, testCluster } from '../helpers/test-cluster.ts';
import { testNamespaces } from '../helpers/test-namespaces.ts';

const namespaces = testNamespaces();
const lines: Record<string, unknown>[] = [];
const calls: { method: string; path: string; auditId: string | undefined }[] = [];
let ns: string;
let gateway: Gateway;
let base: string;

/** Records the Audit-ID of every Kubernetes call the gateway makes. */
const recorder: GatewayPlugin = {
  name: 'record-calls',
  wrapClient(client) {
    const wrapped = Object.create(client) as KubeClient;
    wrapped.request = ((method, path, opts) => {
      calls.push({ method, path, auditId: opts?.headers?.['Audit-ID'] });
      return client.request(method, path, opts);
    }) as KubeClient['request'];
    return wrapped;
  },
};

before(async () => {
  ns = await namespaces.create('hard-log');
  const admin = new KubeClient(kubeConfigFor('admin'));
  await admin.request('POST', `/apis/stable.example.com/v1/namespaces/${ns}/crontabs`, {
    body: { apiVersion: 'stable.example.com/v1', kind: 'CronTab', metadata: { name: 'c0' }, spec: { cronSpec: '@hourly' } },
  });
  const destination = new Writable({ write(chunk, _e, cb) {
    for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
    cb();
  } });
  gateway = await createGateway({ client: admin, explorer: false, plugins: [recorder, requestLogging({ logger: createLogger({ destination }) })] });
  const server = await gateway.listen(0);
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  await gateway?.stop();
  await namespaces.deleteAll();
});

test('the apiserver adopts a client-sent Audit-ID as the request\'s audit ID', async () => {
  const info = testCluster();
  const url = new URL(`${info.server}/api/v1/namespaces/${ns}`);
  const echoed = await new Promise<string | string[] | undefined>((resolve, reject) => {
    const req = httpsRequest(url, { method: 'GET', ca: readFileSync(info.caFile), headers: { Authorization: `Bearer ${info.adminToken}`, 'Audit-ID': 'crdgate-audit-probe-1' } }, (res) => {
      res.resume();
      resolve(res.headers['audit-id']);
    });
    req.on('error', reject);
    req.end();
  });
  assert.equal(echoed, 'crdgate-audit-probe-1');
});

test('GraphQL: the client\'s X-Request-Id is logged and sent as Audit-ID on each Kubernetes call of the request', async () => {
  calls.length = 0;
  const id = `gql-${Date.now()}`;
  const res = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-request-id': id },
    body: JSON.stringify({ query: `query Two { a: cronTab_stable_example_com(namespace: "${ns}", name: "c0") { metadata { name } } b: cronTabList_stable_example_com(namespace: "${ns}") { edges { node { metadata { name } } } } }`, operationName: 'Two' }),
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('x-request-id'), id);
  const mine = calls.filter((c) => c.path.includes(`/namespaces/${ns}/crontabs`));
  assert.equal(mine.length, 2, JSON.stringify(calls));
  assert.deepEqual(mine.map((c) => c.auditId), [id, id]);
  const line = lines.find((l) => l.requestId === id);
  assert.ok(line, `a log line for ${id}`);
  assert.equal(line.operation, 'Two');
  assert.equal(line.type, 'query');
  assert.equal(line.status, 200);
  assert.equal(line.code, 'ok');
});

test('REST: a generated request id is echoed, logged and sent as Audit-ID', async () => {
  calls.length = 0;
  const res = await fetch(`${base}/rest/stable.example.com/v1/namespaces/${ns}/crontabs/c0`);
  assert.equal(res.status, 200);
  const id = res.headers.get('x-request-id');
  assert.ok(id);
  const mine = calls.filter((c) => c.path.endsWith(`/namespaces/${ns}/crontabs/c0`));
  assert.equal(mine.length, 1);
  assert.equal(mine[0]!.auditId, id);
  const line = lines.find((l) => l.requestId === id);
  assert.equal(line?.path, `/rest/stable.example.com/v1/namespaces/${ns}/crontabs/c0`);
  assert.equal(line?.type, 'rest');
  assert.equal(line?.code, 'ok');
});
