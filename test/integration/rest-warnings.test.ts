// The apiserver's warnings reach REST clients as its own clients get them, as Warning headers:
// a deprecated version (its deprecationWarning) and unknown fields it dropped from a write.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { KubeClient } from '../../src/kube/kube-client.ts';
import { loadFile } from '../../src/kube/kube-config.ts';
import { createGateway, type Gateway } from '../../src/gateway.ts';
import { testCluster, uniqueName } from '../helpers/test-cluster.ts';
import { pollUntil } from '../helpers/poll-until.ts';
import { testNamespaces } from '../helpers/test-namespaces.ts';

const admin = () => new KubeClient(loadFile(testCluster().kubeconfig));
const namespaces = testNamespaces();
const group = `${uniqueName('warn')}.example.com`;
const crdPath = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions';
let gateway: Gateway;
let server: Server;
let base: string;
let ns: string;

const version = (name: string, storage: boolean, deprecated: boolean) => ({
  name, served: true, storage, ...(deprecated ? { deprecated: true, deprecationWarning: `${name} of gizmos goes away in 2027; use v1` } : {}),
  schema: { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', properties: { size: { type: 'integer' } } } } } },
});

before(async () => {
  const client = admin();
  ns = await namespaces.create('warn');
  await client.request('POST', crdPath, { body: {
    apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: `gizmos.${group}` },
    spec: { group, scope: 'Namespaced', names: { plural: 'gizmos', singular: 'gizmo', kind: 'Gizmo', listKind: 'GizmoList' },
      versions: [version('v1', true, false), version('v1beta1', false, true)] },
  } });
  gateway = await createGateway({ client, log: { info: () => {}, warn: () => {} } });
  server = await gateway.listen(0);
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}/rest/${group}`;
  await pollUntil('gizmos served by the gateway', async () => (await fetch(`${base}/v1/namespaces/${ns}/gizmos`)).status === 200 || undefined, { timeoutMs: 15_000, intervalMs: 100 });
});

after(async () => {
  await admin().request('DELETE', `${crdPath}/gizmos.${group}`).catch(() => {});
  await gateway?.stop();
});

test('a deprecated version: its deprecationWarning in a Warning header; the current version: none', async () => {
  const old = await fetch(`${base}/v1beta1/namespaces/${ns}/gizmos`);
  assert.equal(old.status, 200);
  assert.equal(old.headers.get('warning'), '299 - "v1beta1 of gizmos goes away in 2027; use v1"');
  const current = await fetch(`${base}/v1/namespaces/${ns}/gizmos`);
  assert.equal(current.headers.get('warning'), null);
});

test('a write with a field the schema does not have: the apiserver drops it and says so, and the client is told', async () => {
  const res = await fetch(`${base}/v1/namespaces/${ns}/gizmos`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ apiVersion: `${group}/v1`, kind: 'Gizmo', metadata: { name: 'g1' }, spec: { size: 1, colour: 'red' } }),
  });
  assert.equal(res.status, 201, await res.clone().text());
  assert.equal(res.headers.get('warning'), '299 - "unknown field \\"spec.colour\\""');
});
