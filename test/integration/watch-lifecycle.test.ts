// Watches while the cluster changes under them, on the real control plane, for SSE watches on
// the hub's shared upstream and on a direct watch (a resume point older than the hub's window)
// and a graphql-ws subscription: the watched namespace deleted and created again with the same
// name, a CRD gaining a storage version, ceasing to serve the watched version, and deleted, and a
// CRD gaining a version or changing the watched version's schema, and another CRD, whose objects a
// subscription reads through a relation field, changing its schema.
// Every watch either goes on with the events the apiserver's own watch would send, or ends with a
// typed error; none hangs on keep-alives.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createGateway, type Gateway } from '../../src/gateway.ts';
import { KubeClient } from '../../src/kube/kube-client.ts';
import { pollUntil } from '../helpers/poll-until.ts';
import { SseClient, type ParsedEvent } from '../helpers/sse-client.ts';
import { encodeGroup } from '../../src/model/graphql-type-names.ts';
import { openClient, Subscription, waitUntil } from '../helpers/subscription-client.ts';
import { uniqueName, kubeConfigFor } from '../helpers/test-cluster.ts';

const G = 'stable.example.com';
const kube = new KubeClient(kubeConfigFor('admin'));
const clients: SseClient[] = [];
const cleanup: (() => Promise<unknown>)[] = [];
let gateway: Gateway;
let base: string;

const create = (group: string, version: string, plural: string, kind: string, ns: string, name: string) =>
  kube.request<{ metadata: { resourceVersion: string } }>('POST', `/apis/${group}/${version}/namespaces/${ns}/${plural}`, {
    body: { apiVersion: `${group}/${version}`, kind, metadata: { name }, spec: {} },
  });
const createCronTab = (ns: string, name: string) => create(G, 'v1', 'crontabs', 'CronTab', ns, name);

function sse(path: string): SseClient {
  const c = new SseClient(`${base}${path}`);
  clients.push(c);
  return c;
}

const summary = (events: ParsedEvent[]) => events.filter((e) => e.event !== 'BOOKMARK').map((e) => `${e.event}:${e.json?.object?.metadata?.name ?? e.json?.object?.code ?? ''}`);

before(async () => {
  gateway = await createGateway({ client: kube, explorer: false, watchGraceMs: 200 });
  const server = await gateway.listen(0);
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

after(async () => {
  for (const c of clients) c.close();
  await gateway?.stop();
  for (const fn of cleanup) await fn().catch(() => {});
});

describe('watches while the cluster changes under them', () => {
  it('the watched namespace deleted and created again: DELETED for its objects, then the new objects, on every kind of watch', async () => {
    const ns = uniqueName('life-ns');
    const nsBody = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } };
    await kube.request('POST', '/api/v1/namespaces', { body: nsBody });
    cleanup.push(() => kube.request('DELETE', `/api/v1/namespaces/${ns}`));
    // Made before any upstream of this namespace exists: a resume from the first is older than
    // the hub's window, so that SSE watch is a direct watch on the apiserver.
    const one = await createCronTab(ns, 'one');
    await createCronTab(ns, 'two');
    const path = `/rest/${G}/v1/namespaces/${ns}/crontabs?watch=true&allowWatchBookmarks=true`;
    const direct = await sse(`${path}&resourceVersion=${one.metadata.resourceVersion}`).open();
    await direct.waitFor('the direct watch', (es) => summary(es).includes('ADDED:two'));
    assert.equal(gateway.operations.hub.stats().fallbackSubscribers, 1);
    const shared = await sse(path).open();
    await shared.waitForCount(3);
    const ws = openClient(base);
    const sub = new Subscription(ws, `subscription($ns: String) { watchCronTab_stable_example_com(namespace: $ns, sendInitialEvents: true) { type object { metadata { name } } } }`, { ns });
    await sub.waitForEvents(3);

    await kube.request('DELETE', `/api/v1/namespaces/${ns}`);
    await pollUntil('the namespace to be gone', async () => {
      try {
        await kube.request('GET', `/api/v1/namespaces/${ns}`);
        return undefined;
      } catch {
        return true;
      }
    }, { timeoutMs: 60_000, intervalMs: 200 });
    await kube.request('POST', '/api/v1/namespaces', { body: nsBody });
    await createCronTab(ns, 'three');
    const deletedThenAdded = (es: string[]) => es.includes('DELETED:one') && es.includes('DELETED:two') && es.includes('ADDED:three');
    for (const [what, c] of [['shared', shared], ['direct', direct]] as const) {
      await c.waitFor(`${what}: deletions and the new object`, (es) => deletedThenAdded(summary(es)) || summary(es).some((e) => e.startsWith('ERROR')), 30_000);
      const got = summary(c.events);
      assert.ok(deletedThenAdded(got), `${what}: ${got.join(', ')}`);
      assert.equal(got.indexOf('ADDED:three') > got.indexOf('DELETED:one'), true, `${what}: ${got.join(', ')}`);
      assert.equal(c.endedHow, undefined, `${what} goes on`);
    }
    await sub.waitForEvents(6, 30_000);
    assert.deepEqual(sub.summary().slice(3).sort(), ['ADDED three', 'DELETED one', 'DELETED two']);
    assert.equal(sub.ended, false);
    await ws.dispose();
  });

  it('a CRD gaining a storage version, ceasing to serve the watched one, and deleted: typed ends, never a silent stream', async () => {
    const group = `${uniqueName('life')}.example.com`;
    const name = `gadgets.${group}`;
    const schema = { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } } };
    const crdPath = `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`;
    const versions = (v1: { served: boolean; storage: boolean }, v2?: { served: boolean; storage: boolean }) => [
      { name: 'v1', ...v1, schema }, ...(v2 ? [{ name: 'v2', ...v2, schema }] : []),
    ];
    await kube.request('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', {
      body: {
        apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name },
        spec: { group, scope: 'Namespaced', names: { plural: 'gadgets', singular: 'gadget', kind: 'Gadget', listKind: 'GadgetList' }, versions: versions({ served: true, storage: true }) },
      },
    });
    cleanup.push(() => kube.request('DELETE', crdPath));
    const ns = uniqueName('life-crd');
    await kube.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } } });
    cleanup.push(() => kube.request('DELETE', `/api/v1/namespaces/${ns}`));
    const pathOf = (v: string) => `/rest/${group}/${v}/namespaces/${ns}/gadgets?watch=true&allowWatchBookmarks=true`;
    await pollUntil('the gateway to serve the CRD', async () => (await fetch(`${base}/rest/${group}/v1/namespaces/${ns}/gadgets`)).status === 200 || undefined, { timeoutMs: 15_000, intervalMs: 100 });
    await create(group, 'v1', 'gadgets', 'Gadget', ns, 'g1');
    const patchVersions = (v: ReturnType<typeof versions>) => kube.request('PATCH', crdPath, { body: { spec: { versions: v } }, contentType: 'application/merge-patch+json' });

    /** Opens a watch of a version, waits for its first object, applies a change, and says how the watch took it. */
    const endOf = async (v: string, change: () => Promise<unknown>) => {
      const c = await sse(pathOf(v)).open();
      await c.waitFor('the initial state', (es) => es.some((e) => e.event === 'INITIAL_STATE_DONE'));
      const t0 = performance.now();
      await change();
      await c.waitFor('the end', (es) => es.some((e) => e.event === 'ERROR'), 30_000);
      await c.ended;
      const error = c.events.find((e) => e.event === 'ERROR')!.json.object;
      console.log(`${v}: ended with ${error.code} after ${Math.round(performance.now() - t0)} ms: ${error.detail}`);
      return error as { code: string };
    };
    // A new storage version: the watched version's objects are now converted from v2 (its type may differ).
    const newStorage = await endOf('v1', () => patchVersions(versions({ served: true, storage: false }, { served: true, storage: true })));
    assert.equal(newStorage.code, 'SCHEMA_CHANGED');
    // The apiserver ends the shared watch of a version it stops serving and refuses its relist
    // (404) while the gateway's CRD watch brings the change: the 404 waits for the change, which
    // ends the watch as a schema change, whichever comes first.
    const unserved = await endOf('v1', () => patchVersions(versions({ served: false, storage: false }, { served: true, storage: true })));
    assert.equal(unserved.code, 'SCHEMA_CHANGED');
    // Deleted: the shared watch and a direct one (a resume older than the hub's window) both end
    // as a schema change; the 404s the apiserver answers first wait for it.
    const g2 = await create(group, 'v2', 'gadgets', 'Gadget', ns, 'g2');
    await create(group, 'v2', 'gadgets', 'Gadget', ns, 'g3');
    const directBefore = gateway.operations.hub.stats().fallbackSubscribers;
    const direct = await sse(`/rest/${group}/v2/namespaces/${ns}/gadgets?watch=true&resourceVersion=${g2.metadata.resourceVersion}`).open();
    await direct.waitFor('the direct watch', (es) => summary(es).includes('ADDED:g3'));
    assert.equal(gateway.operations.hub.stats().fallbackSubscribers, directBefore + 1);
    const deleted = await endOf('v2', () => kube.request('DELETE', crdPath));
    assert.equal(deleted.code, 'SCHEMA_CHANGED');
    await direct.waitFor('the direct watch to end', (es) => es.some((e) => e.event === 'ERROR'), 30_000);
    const directEnd = direct.events.find((e) => e.event === 'ERROR')!.json.object as { code: string; detail: string };
    assert.equal(directEnd.code, 'SCHEMA_CHANGED', directEnd.detail);
  });

  it('a CRD gaining a version leaves the watches of its other version running; a change of that version\'s schema ends them', async () => {
    const group = `${uniqueName('versions')}.example.com`;
    const name = `gadgets.${group}`;
    const crdPath = `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`;
    const schemaOf = (props: Record<string, unknown>) => ({ openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', properties: props } } } });
    const v1 = (props: Record<string, unknown>) => ({ name: 'v1', served: true, storage: true, schema: schemaOf(props) });
    const v2 = { name: 'v2', served: true, storage: false, schema: schemaOf({ size: { type: 'integer' }, colour: { type: 'string' } }) };
    await kube.request('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', {
      body: {
        apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name },
        spec: { group, scope: 'Namespaced', names: { plural: 'gadgets', singular: 'gadget', kind: 'Gadget', listKind: 'GadgetList' }, versions: [v1({ size: { type: 'integer' } })] },
      },
    });
    cleanup.push(() => kube.request('DELETE', crdPath));
    const ns = uniqueName('life-versions');
    await kube.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } } });
    cleanup.push(() => kube.request('DELETE', `/api/v1/namespaces/${ns}`));
    const served = (v: string) => pollUntil(`the gateway to serve ${v}`, async () => (await fetch(`${base}/rest/${group}/${v}/namespaces/${ns}/gadgets`)).status === 200 || undefined, { timeoutMs: 15_000, intervalMs: 100 });
    await served('v1');
    const patchVersions = (versions: unknown[]) => kube.request('PATCH', crdPath, { body: { spec: { versions } }, contentType: 'application/merge-patch+json' });

    const stream = await sse(`/rest/${group}/v1/namespaces/${ns}/gadgets?watch=true&allowWatchBookmarks=true`).open();
    await stream.waitFor('the initial state', (es) => es.some((e) => e.event === 'INITIAL_STATE_DONE'));
    const ws = openClient(base);
    const subs = [`watchGadget_v1_${encodeGroup(group)}`, `watchGadget_${encodeGroup(group)}`].map((field) =>
      new Subscription(ws, `subscription($ns: String) { ${field}(namespace: $ns, sendInitialEvents: true) { type object { metadata { name } spec { size } } } }`, { ns }, field));
    // Started (their initial state in) before the object is made: a watch from "now" that began
    // after it would not see it. Bookmarks may come between the events at any time.
    const changes = (sub: Subscription) => sub.summary().filter((e) => e !== 'BOOKMARK');
    const changed = (sub: Subscription, n: number) => waitUntil(() => changes(sub).length >= n || sub.ended, 10_000, `${n} events`, () => changes(sub).join(', '));
    for (const sub of subs) await changed(sub, 1);
    await create(group, 'v1', 'gadgets', 'Gadget', ns, 'before');
    for (const sub of subs) await changed(sub, 2);
    await stream.waitFor('the first object', (es) => summary(es).includes('ADDED:before'));

    await patchVersions([v1({ size: { type: 'integer' } }), v2]);
    await served('v2');
    await create(group, 'v1', 'gadgets', 'Gadget', ns, 'after-v2');
    await stream.waitFor('the object made after v2 came', (es) => summary(es).includes('ADDED:after-v2') || summary(es).some((e) => e.startsWith('ERROR')));
    assert.deepEqual(summary(stream.events).filter((e) => !e.startsWith('INITIAL_STATE_DONE')), ['ADDED:before', 'ADDED:after-v2'], 'the SSE watch of v1 goes on');
    for (const sub of subs) {
      await changed(sub, 3).catch(() => {});
      assert.deepEqual(changes(sub), ['INITIAL_STATE_DONE', 'ADDED before', 'ADDED after-v2'], `the subscription goes on: ${JSON.stringify(sub.error)}`);
      assert.equal(sub.ended, false);
    }

    const t0 = performance.now();
    await patchVersions([v1({ size: { type: 'integer' }, label: { type: 'string' } }), v2]);
    await stream.waitFor('the end', (es) => es.some((e) => e.event === 'ERROR'), 30_000);
    assert.equal(stream.events.find((e) => e.event === 'ERROR')!.json.object.code, 'SCHEMA_CHANGED');
    for (const sub of subs) {
      await sub.waitForEnd(30_000);
      assert.equal(sub.errorCode, 'SCHEMA_CHANGED', JSON.stringify(sub.error));
    }
    console.log(`v1's schema changed: its watches ended after ${Math.round(performance.now() - t0)} ms`);
    await ws.dispose();
  });

  it('a subscription reading another CRD\'s objects through owners ends when that CRD\'s version changes; one that does not read its type goes on', async () => {
    const group = `${uniqueName('related')}.example.com`;
    const g = encodeGroup(group);
    const crdPathOf = (plural: string) => `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${plural}.${group}`;
    const crd = (plural: string, kind: string, spec: Record<string, unknown>) => ({
      apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: `${plural}.${group}` },
      spec: {
        group, scope: 'Namespaced', names: { plural, singular: kind.toLowerCase(), kind, listKind: `${kind}List` },
        versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', properties: spec } } } } }],
      },
    });
    for (const [plural, kind] of [['gadgets', 'Gadget'], ['widgets', 'Widget']] as const) {
      await kube.request('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', { body: crd(plural, kind, { size: { type: 'integer' } }) });
      cleanup.push(() => kube.request('DELETE', crdPathOf(plural)));
    }
    const ns = uniqueName('life-related');
    await kube.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } } });
    cleanup.push(() => kube.request('DELETE', `/api/v1/namespaces/${ns}`));
    for (const plural of ['gadgets', 'widgets']) {
      await pollUntil(`the gateway to serve ${plural}`, async () => (await fetch(`${base}/rest/${group}/v1/namespaces/${ns}/${plural}`)).status === 200 || undefined, { timeoutMs: 15_000, intervalMs: 100 });
    }
    const gadget = await kube.request<{ metadata: { uid: string } }>('POST', `/apis/${group}/v1/namespaces/${ns}/gadgets`, {
      body: { apiVersion: `${group}/v1`, kind: 'Gadget', metadata: { name: 'owner' }, spec: { size: 3 } },
    });
    await kube.request('POST', `/apis/${group}/v1/namespaces/${ns}/widgets`, {
      body: {
        apiVersion: `${group}/v1`, kind: 'Widget', spec: { size: 1 },
        metadata: { name: 'owned', ownerReferences: [{ apiVersion: `${group}/v1`, kind: 'Gadget', name: 'owner', uid: gadget.metadata.uid }] },
      },
    });
    const label = (value: string) => kube.request('PATCH', `/apis/${group}/v1/namespaces/${ns}/widgets/owned`, {
      body: { metadata: { labels: { step: value } } }, contentType: 'application/merge-patch+json',
    });
    const ws = openClient(base);
    const field = `watchWidget_v1_${g}`;
    const watchWith = (owners: string) => new Subscription(ws,
      `subscription($ns: String) { ${field}(namespace: $ns, sendInitialEvents: true) { type object { metadata { name } owners { ${owners} } } } }`, { ns }, field);
    const reading = watchWith(`... on Gadget_v1_${g} { spec { size } }`);
    const named = watchWith('apiVersion kind metadata { name }');
    for (const sub of [reading, named]) await sub.waitForEvents(2);
    assert.deepEqual((reading.events[0]!.object as { owners?: unknown }).owners, [{ spec: { size: 3 } }]);

    // The Gadget's size becomes a string: the reading subscription's selection was validated
    // against the Gadget type whose size was an Int.
    await kube.request('PATCH', crdPathOf('gadgets'), { body: crd('gadgets', 'Gadget', { size: { type: 'string' } }), contentType: 'application/merge-patch+json' });
    await pollUntil('the gateway to serve the new Gadget type', async () => {
      const r = await fetch(`${base}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: `{ __type(name: "Gadget_Spec_v1_${g}") { fields { name type { name } } } }` }) });
      const text = await r.text();
      return text.includes('"String"') || undefined;
    }, { timeoutMs: 15_000, intervalMs: 100 });
    await pollUntil('the apiserver to take a string size', async () => {
      try {
        await kube.request('PATCH', `/apis/${group}/v1/namespaces/${ns}/gadgets/owner`, { body: { spec: { size: 'big' } }, contentType: 'application/merge-patch+json' });
        return true;
      } catch {
        return undefined;
      }
    }, { timeoutMs: 15_000, intervalMs: 100 });
    await label('two');
    await named.waitForEvents(3);
    await reading.waitForEnd(15_000).catch(() => {});
    console.log(`after the Gadget's change, the reading subscription got ${JSON.stringify(reading.events.slice(2))}, error ${JSON.stringify(reading.error)}`);
    assert.equal(reading.errorCode, 'SCHEMA_CHANGED', JSON.stringify(reading.error));
    assert.equal(reading.events.length, 2, 'no event after its end');
    assert.deepEqual(named.summary(), ['ADDED owned', 'INITIAL_STATE_DONE', 'MODIFIED owned'], 'the subscription that does not read the Gadget type goes on');
    assert.equal(named.ended, false, JSON.stringify(named.error));
    await ws.dispose();
  });
});
