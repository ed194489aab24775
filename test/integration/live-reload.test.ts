// CRDs added, changed and deleted on the real apiserver reach the served schema within 2 s,
// without a restart; breaking changes are logged.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { KubeClient } from '../../src/kube/kube-client.ts';
import { loadFile } from '../../src/kube/kube-config.ts';
import { createGateway, type Gateway } from '../../src/gateway.ts';
import { encodeGroup } from '../../src/model/graphql-type-names.ts';
import { testCluster, uniqueName } from '../helpers/test-cluster.ts';
import { pollUntil } from '../helpers/poll-until.ts';

const admin = () => new KubeClient(loadFile(testCluster().kubeconfig));
const group = `${uniqueName('reload')}.example.com`;
const crdName = `gadgets.${group}`;
const fieldGroup = encodeGroup(group);
const warnings: string[] = [];
let gateway: Gateway;
let server: Server;
let url: string;

function crd(versions: { name: string; storage: boolean; extraField?: string }[]) {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: crdName },
    spec: {
      group,
      scope: 'Namespaced',
      names: { plural: 'gadgets', singular: 'gadget', kind: 'Gadget', listKind: 'GadgetList' },
      versions: versions.map((v) => ({
        name: v.name,
        served: true,
        storage: v.storage,
        schema: {
          openAPIV3Schema: {
            type: 'object',
            properties: {
              spec: {
                type: 'object',
                properties: { size: { type: 'integer' }, ...(v.extraField ? { [v.extraField]: { type: 'string' } } : {}) },
              },
            },
          },
        },
      })),
    },
  };
}

async function gql(query: string): Promise<{ data?: Record<string, unknown>; errors?: { message: string; extensions?: Record<string, unknown> }[] }> {
  const res = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
  return (await res.json()) as { data?: Record<string, unknown>; errors?: { message: string }[] };
}

async function rootFields(): Promise<Set<string>> {
  const r = await gql('{ __schema { queryType { fields { name } } } }');
  const fields = (r.data as { __schema: { queryType: { fields: { name: string }[] } } }).__schema.queryType.fields;
  return new Set(fields.map((f) => f.name));
}

async function timeUntil(cond: () => Promise<boolean>, limitMs: number, what: string): Promise<number> {
  const started = performance.now();
  await pollUntil(what, cond, { timeoutMs: limitMs, intervalMs: 25 });
  return performance.now() - started;
}

before(async () => {
  gateway = await createGateway({ client: admin(), log: { info: () => {}, warn: (m) => warnings.push(m) } });
  server = await gateway.listen(0);
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

after(async () => {
  await admin().request('DELETE', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crdName}`).catch(() => {});
  await gateway.stop();
});

test('a new CRD is usable within 2 s, a changed one reflects the change within 2 s, a deleted one disappears within 2 s', async () => {
  const client = admin();
  const getField = `gadget_${fieldGroup}`;
  const v2Field = `gadget_v2_${fieldGroup}`;
  assert.ok(!(await rootFields()).has(getField));

  await client.request('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', { body: crd([{ name: 'v1', storage: true }]) });
  const addMs = await timeUntil(async () => (await rootFields()).has(getField), 2000, 'the new CRD appearing in the schema');
  await client.request('POST', `/apis/${group}/v1/namespaces/default/gadgets`, {
    body: { apiVersion: `${group}/v1`, kind: 'Gadget', metadata: { name: 'g1' }, spec: { size: 3 } },
  });
  const got = await gql(`{ ${getField}(namespace: "default", name: "g1") { spec { size } } }`);
  assert.deepEqual(got, { data: { [getField]: { spec: { size: 3 } } } });

  // A change: a second served version with a new field.
  const current = await client.request<{ metadata: { resourceVersion: string } }>('GET', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crdName}`);
  const changed = crd([{ name: 'v1', storage: true }, { name: 'v2', storage: false, extraField: 'colour' }]);
  await client.request('PUT', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crdName}`, {
    body: { ...changed, metadata: { ...changed.metadata, resourceVersion: current.metadata.resourceVersion } },
  });
  const changeMs = await timeUntil(async () => (await rootFields()).has(v2Field), 2000, 'the new version appearing');
  const v2 = await gql(`{ ${v2Field}(namespace: "default", name: "g1") { spec { size colour } } }`);
  assert.deepEqual(v2, { data: { [v2Field]: { spec: { size: 3, colour: null } } } });

  await client.request('DELETE', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crdName}`);
  const deleteMs = await timeUntil(async () => !(await rootFields()).has(getField), 2000, 'the deleted CRD disappearing');
  const gone = await gql(`{ ${getField}(namespace: "default", name: "g1") { spec { size } } }`);
  assert.match(gone.errors?.[0]?.message ?? '', new RegExp(`Cannot query field "${getField}"`));
  assert.ok(warnings.some((w) => /schema change breaks clients/.test(w) && w.includes(getField)), `breaking removal logged: ${warnings.join(' | ')}`);
  console.log(`live reload: add ${addMs.toFixed(0)} ms, change ${changeMs.toFixed(0)} ms, delete ${deleteMs.toFixed(0)} ms`);
});
