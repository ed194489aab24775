// Relations on the real control plane, with kube-controller-manager's garbage collector running:
// owners (typed CronTabs, generic ConfigMaps and Roles), chains three deep, children of a kind,
// Events created with kubectl, what the garbage collector does to them, and one Kubernetes call
// per kind and namespace per hop, counted on the gateway's own client.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { createGateway, type Gateway } from '../../src/gateway.ts';
import { KubeClient, type RequestOptions } from '../../src/kube/kube-client.ts';
import { assertNoStackTrace, gql, gqlData } from '../helpers/graphql-client.ts';
import { pollUntil } from '../helpers/poll-until.ts';
import { kubeConfigFor, kubectl } from '../helpers/test-cluster.ts';
import { testNamespaces } from '../helpers/test-namespaces.ts';

const V1 = 'CronTab_v1_stable_example_com';
const V2 = 'CronTab_v2_stable_example_com';
const CT = 'stable.example.com/v1';

interface KubeCall {
  method: string;
  path: string;
  fieldSelector?: string;
}

/** The gateway's client, recording every call it makes. */
function countingClient(calls: KubeCall[]): KubeClient {
  const client = new KubeClient(kubeConfigFor('admin'));
  const request = client.request.bind(client);
  client.request = (<T>(method: Parameters<KubeClient['request']>[0], path: string, opts?: RequestOptions): Promise<T> => {
    calls.push({ method, path, ...(typeof opts?.query?.['fieldSelector'] === 'string' ? { fieldSelector: opts.query['fieldSelector'] } : {}) });
    return request<T>(method, path, opts);
  }) as KubeClient['request'];
  return client;
}

interface Meta {
  name: string;
  namespace?: string;
  uid: string;
  resourceVersion: string;
}

async function kubectlJson(args: string[], input?: string): Promise<Record<string, any>> {
  const r = await kubectl([...args, '-o', 'json'], input === undefined ? {} : { input });
  assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

const create = (obj: Record<string, unknown>) => kubectlJson(['create', '-f', '-'], JSON.stringify(obj));

function ownerRef(o: { apiVersion: string; kind: string; metadata: Meta }, controller = false) {
  return { apiVersion: o.apiVersion, kind: o.kind, name: o.metadata.name, uid: o.metadata.uid, ...(controller ? { controller: true } : {}) };
}

function cronTab(ns: string, name: string, owners: object[] = [], image = `${name}:1`) {
  return { apiVersion: CT, kind: 'CronTab', metadata: { name, namespace: ns, ownerReferences: owners }, spec: { cronSpec: '* * * * *', image, replicas: 1 } };
}

function kubeEvent(ns: string, name: string, about: Record<string, any>, fields: Record<string, unknown>) {
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name, namespace: ns },
    involvedObject: { apiVersion: about.apiVersion, kind: about.kind, name: about.metadata.name, namespace: about.metadata.namespace, uid: about.metadata.uid },
    type: 'Normal',
    source: { component: 'relations-test' },
    ...fields,
  };
}

describe('relations', () => {
  const namespaces = testNamespaces();
  const calls: KubeCall[] = [];
  let gateway: Gateway;
  let url: string;
  let ns = '';
  let root: Record<string, any>;
  let child: Record<string, any>;
  let grandchild: Record<string, any>;

  before(async () => {
    ns = await namespaces.create('rel');
    gateway = await createGateway({ client: countingClient(calls), explorer: false });
    url = `http://127.0.0.1:${(((await gateway.listen(0)).address()) as AddressInfo).port}/graphql`;
    root = await create(cronTab(ns, 'root'));
    child = await create(cronTab(ns, 'child', [ownerRef(root as any, true)]));
    grandchild = await create(cronTab(ns, 'grandchild', [ownerRef(child as any, true)]));
    await create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'root-config', namespace: ns, ownerReferences: [ownerRef(root as any)] }, data: { schedule: 'nightly' } });
  });

  after(async () => {
    await gateway?.stop();
    await namespaces.deleteAll();
  });

  it('follows owners three hops up, each typed as its CronTab version', async () => {
    const data = await gqlData(url, `{
      cronTab_stable_example_com(namespace: "${ns}", name: "grandchild") {
        metadata { name }
        owners { __typename ... on ${V1} { metadata { name uid } spec { image }
          owners { __typename ... on ${V1} { metadata { name } spec { image }
            owners { __typename } } } } }
      }
    }`);
    const g = data.cronTab_stable_example_com;
    assert.equal(g.owners.length, 1);
    const c = g.owners[0];
    assert.equal(c.__typename, V1);
    assert.deepEqual([c.metadata.name, c.metadata.uid, c.spec.image], ['child', child.metadata.uid, 'child:1']);
    assert.equal(c.owners[0].__typename, V1);
    assert.deepEqual([c.owners[0].metadata.name, c.owners[0].spec.image], ['root', 'root:1']);
    assert.deepEqual(c.owners[0].owners, [], 'the root has no owners');
  });

  it('lists children of the kind asked for: ConfigMaps generic with their raw object, CronTabs typed at the version asked for', async () => {
    const data = await gqlData(url, `{
      cronTab_stable_example_com(namespace: "${ns}", name: "root") {
        configs: children(kind: "ConfigMap") { __typename apiVersion kind metadata { name } ... on KubernetesObject { raw } }
        tabs: children(kind: "CronTab", apiVersion: "${CT}") { __typename ... on ${V1} { metadata { name } spec { image } } }
        preferred: children(kind: "CronTab") { __typename apiVersion metadata { name } }
        none: children(kind: "Secret") { __typename }
      }
    }`);
    const r = data.cronTab_stable_example_com;
    assert.equal(r.configs.length, 1);
    assert.deepEqual([r.configs[0].__typename, r.configs[0].apiVersion, r.configs[0].kind, r.configs[0].metadata.name], ['KubernetesObject', 'v1', 'ConfigMap', 'root-config']);
    assert.deepEqual(r.configs[0].raw.data, { schedule: 'nightly' });
    assert.deepEqual(r.tabs.map((t: any) => [t.__typename, t.metadata.name, t.spec.image]), [[V1, 'child', 'child:1']]);
    // Without apiVersion, the version the cluster prefers, as kubectl reads it: v2 ranks above v1.
    assert.deepEqual(r.preferred.map((t: any) => [t.__typename, t.apiVersion, t.metadata.name]), [[V2, 'stable.example.com/v2', 'child']]);
    assert.deepEqual(r.none, []);
  });

  it('types an owner that is not a custom resource as KubernetesObject: a ConfigMap and a Role', async () => {
    const cm = await create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'owner-config', namespace: ns }, data: { a: '1' } });
    const role = await create({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'owner-role', namespace: ns }, rules: [] });
    await create(cronTab(ns, 'owned-by-builtins', [ownerRef(cm as any), ownerRef(role as any)]));
    const data = await gqlData(url, `{
      cronTab_stable_example_com(namespace: "${ns}", name: "owned-by-builtins") {
        owners { __typename apiVersion kind metadata { name uid } ... on KubernetesObject { raw } }
      }
    }`);
    const owners = data.cronTab_stable_example_com.owners;
    assert.deepEqual(owners.map((o: any) => [o.__typename, o.apiVersion, o.kind, o.metadata.name, o.metadata.uid]), [
      ['KubernetesObject', 'v1', 'ConfigMap', 'owner-config', cm.metadata.uid],
      ['KubernetesObject', 'rbac.authorization.k8s.io/v1', 'Role', 'owner-role', role.metadata.uid],
    ]);
    assert.deepEqual(owners[0].raw.data, { a: '1' });
  });

  it('lists Events created with kubectl, newest first, with limit and since', async () => {
    const now = Date.now();
    const at = (minutesAgo: number) => new Date(now - minutesAgo * 60_000).toISOString().replace(/\.\d+Z$/, 'Z');
    await create(kubeEvent(ns, 'root.old', root, { reason: 'Scheduled', message: 'old', firstTimestamp: at(30), lastTimestamp: at(30), count: 1 }));
    await create(kubeEvent(ns, 'root.new', root, { reason: 'Failed', message: 'new', type: 'Warning', firstTimestamp: at(20), lastTimestamp: at(1), count: 4 }));
    await create(kubeEvent(ns, 'root.mid', root, { reason: 'Pulled', message: 'mid', firstTimestamp: at(10), lastTimestamp: at(10), count: 1 }));
    await create(kubeEvent(ns, 'child.only', child, { reason: 'Other', message: 'not about root', firstTimestamp: at(1), lastTimestamp: at(1), count: 1 }));
    // root's uid with another kind: nobody's Event, whether root is read alone or in a list.
    await create(kubeEvent(ns, 'root.wrong-kind', { ...root, kind: 'Pod' }, { reason: 'Other', message: 'another kind', firstTimestamp: at(1), lastTimestamp: at(1), count: 1 }));
    const data = await gqlData(url, `{
      cronTab_stable_example_com(namespace: "${ns}", name: "root") {
        all: events { reason message type count lastSeen involvedObject { kind name uid } source { component } }
        newest: events(limit: 1) { message }
        recent: events(since: "${at(15)}") { message }
      }
    }`);
    const r = data.cronTab_stable_example_com;
    assert.deepEqual(r.all.map((e: any) => e.message), ['new', 'mid', 'old']);
    assert.deepEqual(r.all[0], {
      reason: 'Failed', message: 'new', type: 'Warning', count: 4, lastSeen: at(1),
      involvedObject: { kind: 'CronTab', name: 'root', uid: root.metadata.uid }, source: { component: 'relations-test' },
    });
    assert.deepEqual(r.newest.map((e: any) => e.message), ['new']);
    assert.deepEqual(r.recent.map((e: any) => e.message), ['new', 'mid']);
    const listed = await gqlData(url, `{ cronTabList_stable_example_com(namespace: "${ns}") { edges { node { metadata { name } events { message } } } } }`);
    const rootNode = listed.cronTabList_stable_example_com.edges.find((e: any) => e.node.metadata.name === 'root').node;
    assert.deepEqual(rootNode.events.map((e: any) => e.message), ['new', 'mid', 'old']);
  });

  it('refuses bad relation arguments with typed errors on the field, and keeps the object', async () => {
    const r = await gql(url, `{
      cronTab_stable_example_com(namespace: "${ns}", name: "root") {
        metadata { name }
        badVersion: children(kind: "CronTab", apiVersion: "a/b/c") { __typename }
        unknown: children(kind: "Nope") { __typename }
        notServedThere: children(kind: "CronTab", apiVersion: "stable.example.com/v9") { __typename }
        negative: events(limit: -1) { message }
      }
    }`);
    assert.equal(r.status, 200, r.text);
    assertNoStackTrace(r);
    assert.deepEqual(r.data, { cronTab_stable_example_com: { metadata: { name: 'root' }, badVersion: null, unknown: null, notServedThere: null, negative: null } });
    const byField = Object.fromEntries((r.errors ?? []).map((e) => [e.path!.at(-1), [e.extensions?.code, e.extensions?.reason]]));
    assert.deepEqual(byField, {
      badVersion: ['BAD_USER_INPUT', undefined], unknown: ['NOT_FOUND', 'KindNotServed'], notServedThere: ['NOT_FOUND', 'KindNotServed'], negative: ['BAD_USER_INPUT', undefined],
    });
    const since = await gql(url, `{ cronTab_stable_example_com(namespace: "${ns}", name: "root") { events(since: "yesterday") { message } } }`);
    // As for every scalar literal, the document does not validate (Apollo's code), with the scalar's message.
    assert.equal(since.status, 400, since.text);
    assert.equal(since.errors?.[0]?.extensions?.code, 'GRAPHQL_VALIDATION_FAILED', since.text);
    assert.match(since.errors![0]!.message, /DateTime must be an RFC 3339 date-time/);
    const sinceVariable = await gql(url, `query($since: DateTime) { cronTab_stable_example_com(namespace: "${ns}", name: "root") { events(since: $since) { message } } }`, { since: 'yesterday' });
    assert.equal(sinceVariable.status, 400, sinceVariable.text);
    assert.equal(sinceVariable.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT', sinceVariable.text);
    // The shape of a date-time but no real instant (month 13, :60): refused, not read as no Event at all.
    for (const impossible of ['2024-13-01T00:00:00Z', '2024-01-01T10:00:60Z', '2023-02-29T00:00:00Z']) {
      const r2 = await gql(url, `query($since: DateTime) { cronTab_stable_example_com(namespace: "${ns}", name: "root") { events(since: $since) { message } } }`, { since: impossible });
      assert.equal(r2.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT', r2.text);
      assert.match(r2.errors![0]!.message, /real instant/);
    }
  });

  it('answers N objects with one Kubernetes call per kind and namespace per hop', async () => {
    const batch = await namespaces.create('rel-batch');
    const top = await create(cronTab(batch, 'top'));
    const n = 6;
    for (let i = 0; i < n; i++) {
      const owner = await create(cronTab(batch, `owner-${i}`, [ownerRef(top as any, true)]));
      const tab = await create({ ...cronTab(batch, `tab-${i}`, [ownerRef(owner as any, true)]), metadata: { name: `tab-${i}`, namespace: batch, labels: { role: 'tab' }, ownerReferences: [ownerRef(owner as any, true)] } });
      await create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `tab-${i}-config`, namespace: batch, ownerReferences: [ownerRef(tab as any)] } });
      await create(kubeEvent(batch, `tab-${i}.started`, tab, { reason: 'Started', message: `tab ${i} started`, firstTimestamp: '2024-01-01T00:00:00Z', lastTimestamp: '2024-01-01T00:00:00Z', count: 1 }));
    }
    calls.length = 0;
    const data = await gqlData(url, `{
      cronTabList_stable_example_com(namespace: "${batch}", labelSelector: "role=tab") { edges { node {
        metadata { name }
        owners { ... on ${V1} { metadata { name } owners { metadata { name } } } }
        children(kind: "ConfigMap") { metadata { name } }
        events { message }
      } } }
    }`);
    const nodes = data.cronTabList_stable_example_com.edges.map((e: any) => e.node);
    assert.equal(nodes.length, n);
    for (const [i, node] of nodes.entries()) {
      assert.deepEqual(node.owners, [{ metadata: { name: `owner-${i}` }, owners: [{ metadata: { name: 'top' } }] }]);
      assert.deepEqual(node.children, [{ metadata: { name: `tab-${i}-config` } }]);
      assert.deepEqual(node.events, [{ message: `tab ${i} started` }]);
    }
    const inBatch = calls.filter((c) => c.path.includes(`/namespaces/${batch}/`)).map((c) => `${c.method} ${c.path}${c.fieldSelector ? `?fieldSelector=${c.fieldSelector}` : ''}`);
    assert.deepEqual(inBatch.sort(), [
      `GET /api/v1/namespaces/${batch}/configmaps`,
      `GET /api/v1/namespaces/${batch}/events?fieldSelector=involvedObject.kind=CronTab`,
      // the list itself, then the six owners (one list), then their one owner (one get)
      `GET /apis/stable.example.com/v1/namespaces/${batch}/crontabs`,
      `GET /apis/stable.example.com/v1/namespaces/${batch}/crontabs`,
      `GET /apis/stable.example.com/v1/namespaces/${batch}/crontabs/top`,
    ].sort());
  });

  it('reads children from a running query cache of their resource version, never starting one, and lists them where none runs', async () => {
    const cached = await namespaces.create('rel-cache');
    const parent = await create(cronTab(cached, 'parent'));
    for (const name of ['kid-a', 'kid-b', 'kid-c']) await create(cronTab(cached, name, [ownerRef(parent as any, true)]));
    await create(cronTab(cached, 'stranger'));
    const query = `{ cronTab_stable_example_com(namespace: "${cached}", name: "parent") {
      v1: children(kind: "CronTab", apiVersion: "${CT}") { metadata { name uid resourceVersion } }
      v2: children(kind: "CronTab") { metadata { name } } } }`;
    const listsOf = (version: string) => calls.filter((c) => c.method === 'GET' && c.path === `/apis/stable.example.com/${version}/namespaces/${cached}/crontabs`).length;
    const stores = () => gateway.operations.queries.caches.stats().filter((s) => s.namespace === cached || s.namespace === '');

    calls.length = 0;
    const listed = (await gqlData(url, query)).cronTab_stable_example_com;
    assert.deepEqual([listsOf('v1'), listsOf('v2')], [1, 1], 'without a cache, one list per kind and namespace');
    assert.deepEqual(stores(), [], 'a children query starts no cache');

    // A filtered list starts the cache of v1 CronTabs in the namespace and waits for its initial state.
    const warm = await gqlData(url, `{ cronTabList_stable_example_com(namespace: "${cached}", consistency: CACHED) { totalCount } }`);
    assert.equal(warm.cronTabList_stable_example_com.totalCount, 5);
    assert.deepEqual(stores().map((s) => [s.resource, s.synced]), [['crontabs.stable.example.com/v1', true]]);

    calls.length = 0;
    const fromCache = (await gqlData(url, query)).cronTab_stable_example_com;
    assert.deepEqual([listsOf('v1'), listsOf('v2')], [0, 1], 'v1 children from the cache, v2 (no cache) from a list');
    const apiserver = await kubectlJson(['get', 'crontabs.v1.stable.example.com', '-n', cached]);
    const owned = apiserver.items.filter((o: any) => o.metadata.ownerReferences?.some((r: any) => r.uid === parent.metadata.uid))
      .map((o: any) => ({ metadata: { name: o.metadata.name, uid: o.metadata.uid, resourceVersion: o.metadata.resourceVersion } }));
    const byName = (l: any[]) => [...l].sort((x, y) => x.metadata.name.localeCompare(y.metadata.name));
    assert.deepEqual(owned.map((o: any) => o.metadata.name).sort(), ['kid-a', 'kid-b', 'kid-c']);
    assert.deepEqual(byName(fromCache.v1), byName(owned), 'the cached answer is the apiserver\'s');
    assert.deepEqual(byName(fromCache.v1), byName(listed.v1));
    assert.deepEqual(fromCache.v2.map((c: any) => c.metadata.name).sort(), ['kid-a', 'kid-b', 'kid-c']);

    // A child that arrives in the cache last but sorts first: the cache answers in the apiserver's
    // order, so a limit keeps the same children from the cache as from a list.
    await create(cronTab(cached, 'kid-0', [ownerRef(parent as any, true)]));
    await pollUntil('the cache to hold kid-0', async () => (await gqlData(url, `{ cronTabList_stable_example_com(namespace: "${cached}", consistency: CACHED) { totalCount } }`)).cronTabList_stable_example_com.totalCount === 6);
    const limited = (await gqlData(url, `{ cronTab_stable_example_com(namespace: "${cached}", name: "parent") {
      v1: children(kind: "CronTab", apiVersion: "${CT}") { metadata { name } }
      first: children(kind: "CronTab", apiVersion: "${CT}", limit: 1) { metadata { name } }
      listed: children(kind: "CronTab", limit: 1) { metadata { name } } } }`)).cronTab_stable_example_com;
    assert.deepEqual(limited.v1.map((c: any) => c.metadata.name), ['kid-0', 'kid-a', 'kid-b', 'kid-c']);
    assert.deepEqual([limited.first[0].metadata.name, limited.listed[0].metadata.name], ['kid-0', 'kid-0']);
  });

  it('answers an owner that is gone, replaced or of an unknown kind with a null entry and its reason, keeping the object', async () => {
    // The garbage collector ignores Events, so their dangling owner references stay for the test.
    await create({
      ...kubeEvent(ns, 'dangling', root, { reason: 'Test', message: 'owners of every sort', firstTimestamp: '2024-01-01T00:00:00Z', lastTimestamp: '2024-01-01T00:00:00Z', count: 1 }),
      metadata: {
        name: 'dangling', namespace: ns, ownerReferences: [
          ownerRef(root as any),
          { apiVersion: CT, kind: 'CronTab', name: 'ghost', uid: '00000000-0000-4000-8000-000000000001' },
          { apiVersion: CT, kind: 'CronTab', name: 'child', uid: '00000000-0000-4000-8000-000000000002' },
          { apiVersion: 'nope.example.com/v1', kind: 'Nope', name: 'x', uid: '00000000-0000-4000-8000-000000000003' },
        ],
      },
    });
    const r = await gql(url, `{
      cronTab_stable_example_com(namespace: "${ns}", name: "root") {
        metadata { name }
        children(kind: "Event") { metadata { name } owners { __typename metadata { name } } }
      }
    }`);
    assert.equal(r.status, 200, r.text);
    assertNoStackTrace(r);
    const children = r.data!.cronTab_stable_example_com.children;
    const at = children.findIndex((c: any) => c.metadata.name === 'dangling');
    assert.ok(at >= 0, r.text);
    assert.deepEqual(children[at].owners, [{ __typename: V1, metadata: { name: 'root' } }, null, null, null]);
    const errors = (r.errors ?? []).map((e) => [e.path, e.extensions?.code, e.extensions?.reason]);
    const path = (i: number) => ['cronTab_stable_example_com', 'children', at, 'owners', i];
    assert.deepEqual(errors, [[path(1), 'NOT_FOUND', 'NotFound'], [path(2), 'NOT_FOUND', 'NotFound'], [path(3), 'NOT_FOUND', 'KindNotServed']]);
    assert.match(r.errors![1]!.message, /owner CronTab child .* is gone: the object of that name has uid/);
  });

  it('follows the garbage collector: a foreground delete takes the children, an orphaning delete takes the owner references', async () => {
    const doomed = await create(cronTab(ns, 'doomed'));
    await create(cronTab(ns, 'doomed-child', [{ ...ownerRef(doomed as any, true), blockOwnerDeletion: true }]));
    await create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'doomed-config', namespace: ns, ownerReferences: [{ ...ownerRef(doomed as any), blockOwnerDeletion: true }] } });
    const query = (name: string) => `{ cronTab_stable_example_com(namespace: "${ns}", name: "${name}") {
      metadata { deletionTimestamp finalizers }
      tabs: children(kind: "CronTab") { metadata { name } }
      configs: children(kind: "ConfigMap") { metadata { name } }
      owners { metadata { name } } } }`;
    const before = (await gqlData(url, query('doomed'))).cronTab_stable_example_com;
    assert.deepEqual([before.tabs.map((t: any) => t.metadata.name), before.configs.map((c: any) => c.metadata.name)], [['doomed-child'], ['doomed-config']]);

    const del = await kubectl(['delete', 'crontab.stable.example.com', 'doomed', '-n', ns, '--cascade=foreground', '--wait=false']);
    assert.equal(del.code, 0, del.stderr);
    // Until the garbage collector has deleted the dependents, the owner stays, marked for deletion.
    await pollUntil('the garbage collector to delete doomed after its dependents', async () => {
      const now = (await gqlData(url, query('doomed'))).cronTab_stable_example_com;
      if (now) assert.ok(now.metadata.deletionTimestamp && now.metadata.finalizers.includes('foregroundDeletion'), JSON.stringify(now));
      return now === null;
    }, { timeoutMs: 60_000, intervalMs: 200 });
    for (const [kind, name] of [['configmap', 'doomed-config'], ['crontab.stable.example.com', 'doomed-child']]) {
      const r = await kubectl(['get', kind!, name!, '-n', ns]);
      assert.match(r.stderr, /NotFound/, `${name} was deleted with its owner`);
    }

    const parent = await create(cronTab(ns, 'orphaning'));
    await create(cronTab(ns, 'orphan', [ownerRef(parent as any, true)]));
    assert.deepEqual((await gqlData(url, query('orphan'))).cronTab_stable_example_com.owners.map((o: any) => o.metadata.name), ['orphaning']);
    const orphaning = await kubectl(['delete', 'crontab.stable.example.com', 'orphaning', '-n', ns, '--cascade=orphan', '--wait=false']);
    assert.equal(orphaning.code, 0, orphaning.stderr);
    await pollUntil('the garbage collector to remove the owner reference of the orphan', async () =>
      (await gqlData(url, query('orphan'))).cronTab_stable_example_com.owners.length === 0, { timeoutMs: 60_000, intervalMs: 200 });
  });
});
