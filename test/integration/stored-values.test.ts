// Kubernetes keeps objects as stored when a CRD's schema changes a field's type: a value the new
// type cannot represent reads back in GraphQL as null with a typed error (INVALID, reason
// StoredValueInvalid) beside the object's other fields, and as stored through REST.
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
import { openClient } from '../helpers/subscription-client.ts';

const admin = () => new KubeClient(loadFile(testCluster().kubeconfig));
const namespaces = testNamespaces();
const group = `${uniqueName('stored')}.example.com`;
const field = encodeGroup(group);
const crdPath = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions';
let gateway: Gateway;
let server: Server;
let url: string;
let ns: string;

// Before the change, glossy, code and label hold a string, a string and an object; after it, the
// schema says boolean, int32 (GraphQL's Int) and string: graphql-js' own scalars meet stored values.
const crd = (changed: boolean) => ({
  apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: `paints.${group}` },
  spec: { group, scope: 'Namespaced', names: { plural: 'paints', singular: 'paint', kind: 'Paint', listKind: 'PaintList' },
    versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', properties: {
      spec: { type: 'object', properties: {
        color: { type: changed ? 'integer' : 'string' }, shade: { type: 'number' }, size: { type: 'integer' },
        glossy: { type: changed ? 'boolean' : 'string' },
        code: changed ? { type: 'integer', format: 'int32' } : { type: 'string' },
        label: changed ? { type: 'string' } : { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
      } } } } } }] },
});

async function gql(query: string): Promise<{ data?: any; errors?: { message: string; path?: unknown[]; extensions?: Record<string, unknown> }[] }> {
  const res = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
  return (await res.json()) as { data?: unknown; errors?: { message: string }[] };
}

before(async () => {
  const client = admin();
  ns = await namespaces.create('stored');
  await client.request('POST', crdPath, { body: crd(false) });
  await pollUntil('paints served', async () => {
    try {
      await client.request('POST', `/apis/${group}/v1/namespaces/${ns}/paints`, { body: { apiVersion: `${group}/v1`, kind: 'Paint', metadata: { name: 'p1' }, spec: { color: 'red', size: 3, glossy: 'yes', code: 'abc', label: { tone: 'warm' } } } });
      return true;
    } catch {
      return undefined;
    }
  }, { timeoutMs: 15_000, intervalMs: 100 });
  const current = await client.request<{ metadata: { resourceVersion: string } }>('GET', `${crdPath}/paints.${group}`);
  await client.request('PUT', `${crdPath}/paints.${group}`, { body: { ...crd(true), metadata: { name: `paints.${group}`, resourceVersion: current.metadata.resourceVersion } } });
  gateway = await createGateway({ client, log: { info: () => {}, warn: () => {} } });
  server = await gateway.listen(0);
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

after(async () => {
  await admin().request('DELETE', `${crdPath}/paints.${group}`).catch(() => {});
  await gateway?.stop();
});

test('a stored value the field\'s new type cannot represent: null with INVALID in GraphQL, the rest of the object intact', async () => {
  const get = await pollUntil('the get', async () => {
    const r = await gql(`{ paint_${field}(namespace: "${ns}", name: "p1") { metadata { name } spec { color size } } }`);
    return r.data?.[`paint_${field}`] ? r : undefined;
  }, { timeoutMs: 15_000, intervalMs: 200 });
  assert.deepEqual(get.data[`paint_${field}`], { metadata: { name: 'p1' }, spec: { color: null, size: 3 } });
  assert.equal(get.errors?.length, 1);
  assert.equal(get.errors![0]!.extensions?.code, 'INVALID');
  assert.equal(get.errors![0]!.extensions?.reason, 'StoredValueInvalid');
  assert.match(get.errors![0]!.message, /the stored value "red" is not a Int64/);
  const list = await gql(`{ paintList_${field}(namespace: "${ns}") { edges { node { spec { color size } } } } }`);
  assert.deepEqual(list.data[`paintList_${field}`].edges, [{ node: { spec: { color: null, size: 3 } } }]);
  assert.equal(list.errors?.[0]?.extensions?.code, 'INVALID');
  const rest = await fetch(`${url}/rest/${group}/v1/namespaces/${ns}/paints/p1`);
  assert.equal(((await rest.json()) as { spec: { color: unknown } }).spec.color, 'red', 'REST answers it as stored');
});

test('values graphql-js\' own Int, Boolean and String cannot represent: the same typed error, on the planned path, graphql-js\' and over WebSocket', async () => {
  const spec = { glossy: null, code: null, label: null };
  const expectTyped = (r: Awaited<ReturnType<typeof gql>>, count: number) => {
    assert.equal(r.errors?.length, count, JSON.stringify(r.errors));
    for (const e of r.errors!) {
      assert.deepEqual([e.extensions?.code, e.extensions?.reason], ['INVALID', 'StoredValueInvalid'], e.message);
    }
    const words = r.errors!.map((e) => e.message).sort();
    assert.match(words.join('\n'), /the stored value "yes" is not a Boolean/);
    assert.match(words.join('\n'), /the stored value "abc" is not a Int/);
    // The apiserver prunes what the new schema does not know from the object it reads: an empty object is left.
    assert.match(words.join('\n'), /the stored value \{\} is not a String/);
  };
  const getText = `{ paint_${field}(namespace: "${ns}", name: "p1") { metadata { name } spec { glossy code label size } } }`;
  // A document's first sighting goes through Apollo's pipeline, a later one the direct path.
  for (let sighting = 0; sighting < 3; sighting++) {
    const one = await gql(getText);
    assert.deepEqual(one.data?.[`paint_${field}`], { metadata: { name: 'p1' }, spec: { ...spec, size: 3 } });
    expectTyped(one, 3);
  }
  // Two root fields: graphql-js executes it, not the plan of a single root field.
  const two = await gql(`{ a: paint_${field}(namespace: "${ns}", name: "p1") { spec { glossy code label } } b: paintList_${field}(namespace: "${ns}") { edges { node { spec { glossy code label } } } } }`);
  assert.deepEqual(two.data, { a: { spec }, b: { edges: [{ node: { spec } }] } });
  expectTyped(two, 6);
  const client = openClient(url);
  try {
    const overSocket = await client.iterate({ query: `{ paint_${field}(namespace: "${ns}", name: "p1") { spec { glossy code label } } }` }).next();
    assert.deepEqual((overSocket.value as any).data, { [`paint_${field}`]: { spec } });
    expectTyped(overSocket.value as Awaited<ReturnType<typeof gql>>, 3);
    // A subscription's events: one execution shared by the subscribers of the same selection.
    const watch = client.iterate({ query: `subscription { watchPaint_${field}(namespace: "${ns}", sendInitialEvents: true) { type object { spec { glossy code label } } } }` });
    const added = (await watch.next()).value as Awaited<ReturnType<typeof gql>>;
    await watch.return?.();
    assert.deepEqual(added.data, { [`watchPaint_${field}`]: { type: 'ADDED', object: { spec } } });
    expectTyped(added, 3);
  } finally {
    await client.dispose();
  }
});
