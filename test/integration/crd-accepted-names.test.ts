// A CRD is served under the names the apiserver accepted (status.acceptedNames), not under a
// change of spec.names it refused: a listKind another CRD of the group holds leaves both CRDs as
// the apiserver serves them, in GraphQL and REST alike.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { KubeClient } from '../../src/kube/kube-client.ts';
import { loadFile } from '../../src/kube/kube-config.ts';
import { createGateway, type Gateway } from '../../src/gateway.ts';
import { encodeGroup } from '../../src/model/graphql-type-names.ts';
import { testCluster, uniqueName } from '../helpers/test-cluster.ts';
import { pollUntil } from '../helpers/poll-until.ts';
import { testNamespaces } from '../helpers/test-namespaces.ts';

const admin = () => new KubeClient(loadFile(testCluster().kubeconfig));
const namespaces = testNamespaces();
const group = `${uniqueName('names')}.example.com`;
const field = encodeGroup(group);
const crdPath = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions';
let gateway: Gateway;
let server: Server;
let url: string;
let ns: string;

function crd(plural: string, kind: string) {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.${group}` },
    spec: {
      group,
      scope: 'Namespaced',
      names: { plural, singular: kind.toLowerCase(), kind, listKind: `${kind}List` },
      versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', properties: { size: { type: 'integer' } } } } } } }],
    },
  };
}

async function gql(query: string): Promise<{ data?: Record<string, unknown>; errors?: { message: string }[] }> {
  const res = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
  return (await res.json()) as { data?: Record<string, unknown>; errors?: { message: string }[] };
}

async function listed(kind: string): Promise<string[] | undefined> {
  const r = await gql(`{ ${kind.charAt(0).toLowerCase()}${kind.slice(1)}List_${field}(namespace: "${ns}") { edges { node { kind metadata { name } } } } }`);
  const list = r.data?.[`${kind.charAt(0).toLowerCase()}${kind.slice(1)}List_${field}`] as { edges: { node: { kind: string; metadata: { name: string } } }[] } | undefined;
  return list?.edges.map((e) => `${e.node.kind}/${e.node.metadata.name}`);
}

before(async () => {
  const client = admin();
  ns = await namespaces.create('names');
  for (const [plural, kind] of [['widgets', 'Widget'], ['gadgets', 'Gadget']] as const) {
    await client.request('POST', crdPath, { body: crd(plural, kind) });
  }
  gateway = await createGateway({ client, log: { info: () => {}, warn: () => {} } });
  server = await gateway.listen(0);
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  for (const [plural, kind, name] of [['widgets', 'Widget', 'w1'], ['gadgets', 'Gadget', 'g1']] as const) {
    await pollUntil(`${plural} served by the apiserver`, async () => {
      try {
        await client.request('POST', `/apis/${group}/v1/namespaces/${ns}/${plural}`, { body: { apiVersion: `${group}/v1`, kind, metadata: { name }, spec: { size: 1 } } });
        return true;
      } catch {
        return undefined;
      }
    }, { timeoutMs: 15_000, intervalMs: 100 });
  }
  await pollUntil('both served by the gateway', async () => ((await listed('Gadget'))?.length === 1 && (await listed('Widget'))?.length === 1) || undefined, { timeoutMs: 15_000, intervalMs: 100 });
});

after(async () => {
  const client = admin();
  for (const plural of ['widgets', 'gadgets']) await client.request('DELETE', `${crdPath}/${plural}.${group}`).catch(() => {});
  await gateway?.stop();
});

test('a listKind the apiserver refused (another CRD holds it) changes nothing the gateway serves', async () => {
  const client = admin();
  await client.request('PATCH', `${crdPath}/widgets.${group}`, { body: { spec: { names: { listKind: 'GadgetList' } } }, contentType: 'application/merge-patch+json' });
  await pollUntil('the apiserver to refuse the names', async () => {
    const w = await client.request<{ status: { conditions: { type: string; status: string }[] } }>('GET', `${crdPath}/widgets.${group}`);
    return w.status.conditions.some((c) => c.type === 'NamesAccepted' && c.status === 'False') || undefined;
  }, { timeoutMs: 10_000, intervalMs: 100 });
  // The gateway's catalog debounces; give it time to publish the changed CRD.
  await new Promise((r) => setTimeout(r, 1500));
  assert.deepEqual(await listed('Gadget'), ['Gadget/g1']);
  // The apiserver answers 429 (storage is (re)initializing) for a moment after a CRD's spec changed.
  assert.deepEqual(await pollUntil('the widgets list', () => listed('Widget'), { timeoutMs: 10_000, intervalMs: 200 }), ['Widget/w1']);
  const rest = await fetch(`${url}/rest/${group}/v1/namespaces/${ns}/gadgets`);
  assert.equal(rest.status, 200);
  assert.deepEqual(((await rest.json()) as { items: { metadata: { name: string } }[] }).items.map((i) => i.metadata.name), ['g1']);
});
