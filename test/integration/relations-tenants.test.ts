// Relations as each tenant's RBAC allows them, on the real control plane: every hop is a Kubernetes
// call as the caller, so an owner, a child or an Event the tenant may not read is a null (or a
// null list) with FORBIDDEN in `errors`, never its data and never a 500; the namespaced children
// of a cluster-scoped object come only from the namespaces the tenant may list; and a subscription
// that selects relations resolves them per event as each subscriber, never sharing one
// subscriber's answer with another.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import jwt from 'jsonwebtoken';
import type { ExecutionResult } from 'graphql';
import { loadTenantConfig } from '../../src/auth/tenant-config.ts';
import { createGateway, type Gateway } from '../../src/gateway.ts';
import { KubeClient, type RequestOptions } from '../../src/kube/kube-client.ts';
import { assertNoStackTrace, gql, type GraphQLResult } from '../helpers/graphql-client.ts';
import { pollUntil } from '../helpers/poll-until.ts';
import { openClient } from '../helpers/subscription-client.ts';
import { kubeConfigFor, kubectl, uniqueName } from '../helpers/test-cluster.ts';

const run = uniqueName('reltn');
const nsA = `${run}-a`;
const nsB = `${run}-b`;
const groupA = `${run}-a`;
const groupOps = `${run}-ops`;
const groupEv = `${run}-ev`;
const cparent = `${run}-parent`;
/** In objects tenant A may not read: no answer to A may contain it. */
const marker = `hidden-${run}`;
const V1 = 'CronTab_v1_stable_example_com';
const CV1 = 'ClusterCronTab_v1_stable_example_com';

const dir = mkdtempSync(join(tmpdir(), 'crdgate-relations-'));
const secret = randomBytes(48);
const token = (tenant: string) => jwt.sign({ tenant }, secret, { algorithm: 'HS256', issuer: 'relations-test', audience: 'crdgate', subject: `u-${tenant}`, expiresIn: '1h' });
const bearer = (tenant: string) => ({ authorization: `Bearer ${token(tenant)}` });

async function kubectlOk(args: string[], input?: string): Promise<string> {
  const r = await kubectl(args, input === undefined ? {} : { input });
  assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

async function create(obj: Record<string, unknown>): Promise<Record<string, any>> {
  return JSON.parse(await kubectlOk(['create', '-f', '-', '-o', 'json'], JSON.stringify(obj)));
}

const ref = (o: Record<string, any>) => ({ apiVersion: o.apiVersion, kind: o.kind, name: o.metadata.name, uid: o.metadata.uid });

function cronTab(ns: string, name: string, owners: object[], image = `${name}:1`) {
  return { apiVersion: 'stable.example.com/v1', kind: 'CronTab', metadata: { name, namespace: ns, ownerReferences: owners }, spec: { cronSpec: '* * * * *', image } };
}

function event(ns: string, name: string, about: Record<string, any>, message: string) {
  return {
    apiVersion: 'v1', kind: 'Event', metadata: { name, namespace: ns },
    involvedObject: { apiVersion: about.apiVersion, kind: about.kind, name: about.metadata.name, namespace: about.metadata.namespace, uid: about.metadata.uid },
    reason: 'Test', message, type: 'Normal', count: 1, firstTimestamp: '2024-01-01T00:00:00Z', lastTimestamp: '2024-01-01T00:00:00Z', source: { component: 'relations-test' },
  };
}

/** path → code of every error, sorted by path: errors are listed as the fields finish. */
const codesAt = (r: Pick<GraphQLResult, 'errors'>) => (r.errors ?? []).map((e) => [e.path?.join('.'), e.extensions?.code]).sort((x, y) => String(x[0]).localeCompare(String(y[0])));

/** The gateway's client, recording the path of every call it makes. */
function countingClient(paths: string[]): KubeClient {
  const client = new KubeClient(kubeConfigFor('admin'));
  const request = client.request.bind(client);
  client.request = (<T>(method: Parameters<KubeClient['request']>[0], path: string, opts?: RequestOptions): Promise<T> => {
    paths.push(`${method} ${path}`);
    return request<T>(method, path, opts);
  }) as KubeClient['request'];
  return client;
}

describe('relations as each tenant may read them', () => {
  const calls: string[] = [];
  let gateway: Gateway;
  let base: string;
  let url: string;

  before(async () => {
    writeFileSync(join(dir, 'secret'), secret);
    writeFileSync(join(dir, 'tenants.yaml'), `auth:
  issuer: relations-test
  audience: crdgate
  algorithms: [HS256]
  secretFile: secret
tenants:
  - name: a
    match: { tenant: a }
    user: "a:{sub}"
    groups: ["${groupA}"]
  - name: ops
    match: { tenant: ops }
    user: "ops:{sub}"
    groups: ["${groupOps}"]
  - name: ev
    match: { tenant: ev }
    user: "ev:{sub}"
    groups: ["${groupEv}"]
`);
    // A: CronTabs in its namespace, and may get (not list) ClusterCronTabs; no ConfigMaps, Roles or Events.
    // ops: everything involved, everywhere.
    for (const args of [
      ['create', 'namespace', nsA], ['create', 'namespace', nsB],
      ['create', 'clusterrole', `${run}-crontabs`, '--verb=get,list,watch', '--resource=crontabs.stable.example.com'],
      ['create', 'rolebinding', `${run}-a`, `--clusterrole=${run}-crontabs`, `--group=${groupA}`, '-n', nsA],
      ['create', 'clusterrole', `${run}-cparent`, '--verb=get', '--resource=clustercrontabs.stable.example.com'],
      ['create', 'clusterrolebinding', `${run}-a-cparent`, `--clusterrole=${run}-cparent`, `--group=${groupA}`],
      ['create', 'clusterrole', `${run}-ops`, '--verb=get,list,watch', '--resource=crontabs.stable.example.com,clustercrontabs.stable.example.com,configmaps,roles.rbac.authorization.k8s.io,events'],
      ['create', 'clusterrolebinding', `${run}-ops`, `--clusterrole=${run}-ops`, `--group=${groupOps}`],
      // ev: CronTabs, and Events only through the events.k8s.io API.
      ['create', 'rolebinding', `${run}-ev`, `--clusterrole=${run}-crontabs`, `--group=${groupEv}`, '-n', nsA],
      ['create', 'role', `${run}-ev-events`, '--verb=list', '--resource=events.events.k8s.io', '-n', nsA],
      ['create', 'rolebinding', `${run}-ev-events`, `--role=${run}-ev-events`, `--group=${groupEv}`, '-n', nsA],
    ]) await kubectlOk(args);
    const parent = await create({ apiVersion: 'stable.example.com/v1', kind: 'ClusterCronTab', metadata: { name: cparent }, spec: { cronSpec: '0 * * * *', image: 'parent:1' } });
    const config = await create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'owner-config', namespace: nsA }, data: { secret: marker } });
    const role = await create({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: `owner-role`, namespace: nsA }, rules: [] });
    const peer = await create(cronTab(nsA, 'peer', []));
    const owned = await create(cronTab(nsA, 'owned', [ref(config), ref(role), ref(peer)]));
    await create(event(nsA, 'owned.event', owned, `event ${marker}`));
    await create(cronTab(nsA, 'a-child', [ref(parent)]));
    await create(cronTab(nsB, 'b-child', [ref(parent)], `b-child-${marker}`));
    // Events of a cluster-scoped object are where client-go's recorders put them: in `default`.
    await create(event('default', `${run}.parent`, parent, `parent event ${marker}`));
    gateway = await createGateway({ client: countingClient(calls), tenants: loadTenantConfig(join(dir, 'tenants.yaml')), explorer: false });
    base = `http://127.0.0.1:${((await gateway.listen(0)).address() as AddressInfo).port}`;
    url = `${base}/graphql`;
  });

  after(async () => {
    await gateway?.stop();
    await kubectl(['delete', 'namespace', nsA, nsB, '--wait=false']);
    await kubectl(['delete', 'event', `${run}.parent`, '-n', 'default']);
    await kubectl(['delete', 'clustercrontab.stable.example.com', cparent]);
    await kubectl(['delete', 'clusterrolebinding', `${run}-a-cparent`, `${run}-ops`]);
    await kubectl(['delete', 'clusterrole', `${run}-crontabs`, `${run}-cparent`, `${run}-ops`]);
    rmSync(dir, { recursive: true, force: true });
  });

  const ownedQuery = `{ cronTab_stable_example_com(namespace: "${nsA}", name: "owned") {
    metadata { name }
    owners { __typename apiVersion kind metadata { name } ... on KubernetesObject { raw } }
    events { message }
    children(kind: "ConfigMap") { metadata { name } }
  } }`;

  it('gives A null owners, Events and children it may not read, each with FORBIDDEN, and the rest', async () => {
    const r = await gql(url, ownedQuery, undefined, { headers: bearer('a') });
    assert.equal(r.status, 200, r.text);
    assertNoStackTrace(r);
    assert.doesNotMatch(r.text, new RegExp(marker), 'nothing of what A may not read');
    const owned = r.data!.cronTab_stable_example_com;
    assert.equal(owned.metadata.name, 'owned');
    assert.deepEqual(owned.owners, [null, null, { __typename: V1, apiVersion: 'stable.example.com/v1', kind: 'CronTab', metadata: { name: 'peer' } }]);
    assert.equal(owned.events, null);
    assert.equal(owned.children, null);
    const at = 'cronTab_stable_example_com';
    assert.deepEqual(codesAt(r), [[`${at}.children`, 'FORBIDDEN'], [`${at}.events`, 'FORBIDDEN'], [`${at}.owners.0`, 'FORBIDDEN'], [`${at}.owners.1`, 'FORBIDDEN']]);
  });

  it('gives ops, who may read them, every owner, Event and child', async () => {
    const r = await gql(url, ownedQuery, undefined, { headers: bearer('ops') });
    assert.equal(r.errors, undefined, r.text);
    const owned = r.data!.cronTab_stable_example_com;
    assert.deepEqual(owned.owners.map((o: any) => [o.__typename, o.kind, o.metadata.name]), [
      ['KubernetesObject', 'ConfigMap', 'owner-config'], ['KubernetesObject', 'Role', `owner-role`], [V1, 'CronTab', 'peer'],
    ]);
    assert.equal(owned.owners[0].raw.data.secret, marker);
    assert.deepEqual(owned.events, [{ message: `event ${marker}` }]);
    assert.deepEqual(owned.children, []);
  });

  it('answers a custom kind the tenant may not use exactly as a kind the cluster does not serve', async () => {
    // ev may use CronTabs only: ClusterCronTab exists, Nosuch does not; the answers must not differ.
    const childrenOf = async (tenant: string, kind: string, apiVersion?: string) => {
      const r = await gql(url, `{ cronTab_stable_example_com(namespace: "${nsA}", name: "owned") {
        children(kind: "${kind}"${apiVersion ? `, apiVersion: "${apiVersion}"` : ''}) { metadata { name } } } }`, undefined, { headers: bearer(tenant) });
      assert.equal(r.status, 200, r.text);
      assertNoStackTrace(r);
      return { children: r.data?.cronTab_stable_example_com?.children, errors: (r.errors ?? []).map((e) => ({ message: e.message, path: e.path, extensions: e.extensions })) };
    };
    const same = (a: unknown, b: unknown, from: string, to: string) => assert.deepEqual(a, JSON.parse(JSON.stringify(b).replaceAll(from, to)));
    const hidden = await childrenOf('ev', 'ClusterCronTab');
    assert.equal(hidden.children, null);
    assert.deepEqual(hidden.errors.map((e) => [e.extensions?.code, e.extensions?.reason, e.message]), [['NOT_FOUND', 'KindNotServed', 'the cluster serves no kind ClusterCronTab']]);
    same(hidden, await childrenOf('ev', 'Nosuch'), 'Nosuch', 'ClusterCronTab');
    same(await childrenOf('ev', 'ClusterCronTab', 'stable.example.com/v1'), await childrenOf('ev', 'Nosuch', 'stable.example.com/v1'), 'Nosuch', 'ClusterCronTab');
    // A, who may get ClusterCronTabs, learns they exist (a namespaced object has no cluster-scoped children).
    assert.deepEqual(await childrenOf('a', 'ClusterCronTab'), { children: [], errors: [] });
    // Nor does an owner reference to a ClusterCronTab tell ev that the kind exists.
    const r = await gql(url, `{ cronTab_stable_example_com(namespace: "${nsA}", name: "a-child") { owners { kind } } }`, undefined, { headers: bearer('ev') });
    assert.deepEqual(r.data?.cronTab_stable_example_com, { owners: [null] });
    assert.deepEqual((r.errors ?? []).map((e) => [e.extensions?.code, e.extensions?.reason, e.message]),
      [['NOT_FOUND', 'KindNotServed', 'the cluster serves no kind ClusterCronTab in stable.example.com/v1']]);
  });

  it('reads the Events through events.k8s.io/v1 for a caller who may list only those, in the core/v1 shape', async () => {
    const r = await gql(url, `{ cronTab_stable_example_com(namespace: "${nsA}", name: "owned") {
      events { message reason count involvedObject { kind name } source { component } } } }`, undefined, { headers: bearer('ev') });
    assert.equal(r.errors, undefined, r.text);
    assert.deepEqual(r.data!.cronTab_stable_example_com.events, [
      { message: `event ${marker}`, reason: 'Test', count: 1, involvedObject: { kind: 'CronTab', name: 'owned' }, source: { component: 'relations-test' } },
    ]);
  });

  it('finds nothing of another tenant through an owner reference forged to name its object', async () => {
    const theirs = JSON.parse(await kubectlOk(['get', 'crontab.stable.example.com', 'b-child', '-n', nsB, '-o', 'json']));
    // An owner of a kind that does not exist keeps the garbage collector from deleting the object
    // (it cannot tell whether that owner is gone), which it would do at once for a dangling owner.
    const unknown = { apiVersion: 'nope.example.com/v1', kind: 'Nope', name: 'x', uid: '00000000-0000-4000-8000-000000000009' };
    await create(cronTab(nsA, 'forged', [unknown, ref(theirs)]));
    for (const tenant of ['a', 'ops']) {
      const r = await gql(url, `{ cronTab_stable_example_com(namespace: "${nsA}", name: "forged") { owners { metadata { name } } } }`, undefined, { headers: bearer(tenant) });
      assert.equal(r.status, 200, r.text);
      assert.doesNotMatch(r.text, new RegExp(marker), `${tenant}: nothing of the object in ${nsB}`);
      assert.deepEqual(r.data!.cronTab_stable_example_com.owners, [null, null]);
      // An owner is looked up where Kubernetes' garbage collector looks: in the dependent's namespace.
      assert.deepEqual(codesAt(r), [['cronTab_stable_example_com.owners.0', 'NOT_FOUND'], ['cronTab_stable_example_com.owners.1', 'NOT_FOUND']]);
    }
  });

  const parentQuery = `{ clusterCronTab_stable_example_com(name: "${cparent}") {
    children(kind: "CronTab", apiVersion: "stable.example.com/v1") { metadata { namespace name } ... on ${V1} { spec { image } } }
    events { message }
  } }`;

  it('lists the namespaced children of a cluster-scoped object only in the namespaces A may list', async () => {
    const a = await gql(url, parentQuery, undefined, { headers: bearer('a') });
    assert.equal(a.status, 200, a.text);
    assert.doesNotMatch(a.text, new RegExp(marker));
    assert.deepEqual(a.data!.clusterCronTab_stable_example_com.children, [{ metadata: { namespace: nsA, name: 'a-child' }, spec: { image: 'a-child:1' } }]);
    assert.equal(a.data!.clusterCronTab_stable_example_com.events, null);
    assert.deepEqual(codesAt(a), [['clusterCronTab_stable_example_com.events', 'FORBIDDEN']]);

    const ops = await gql(url, parentQuery, undefined, { headers: bearer('ops') });
    assert.equal(ops.errors, undefined, ops.text);
    const children = ops.data!.clusterCronTab_stable_example_com.children.map((c: any) => `${c.metadata.namespace}/${c.metadata.name}`);
    assert.deepEqual(children.sort(), [`${nsA}/a-child`, `${nsB}/b-child`].sort());
    assert.deepEqual(ops.data!.clusterCronTab_stable_example_com.events, [{ message: `parent event ${marker}` }]);
  });

  it('types an owner by the caller\'s schema: a typed ClusterCronTab for ops, and for A, whose schema has it too', async () => {
    const q = `{ cronTab_stable_example_com(namespace: "${nsA}", name: "a-child") { owners { __typename ... on ${CV1} { spec { cronSpec } } } } }`;
    for (const tenant of ['a', 'ops']) {
      const r = await gql(url, q, undefined, { headers: bearer(tenant) });
      assert.equal(r.errors, undefined, r.text);
      assert.deepEqual(r.data!.cronTab_stable_example_com.owners, [{ __typename: CV1, spec: { cronSpec: '0 * * * *' } }]);
    }
  });

  it('resolves relations in a subscription per event, as each subscriber: A\'s answers are never ops\' and the reverse', async () => {
    const sub = `subscription { watchCronTab_stable_example_com(namespace: "${nsA}") {
      type object { metadata { name } owners { __typename metadata { name } } events { message } } } }`;
    const results: Record<string, ExecutionResult<any>[]> = { a: [], ops: [] };
    const clients = Object.keys(results).map((tenant) => {
      const client = openClient(base, { connectionParams: { authorization: `Bearer ${token(tenant)}` } });
      client.subscribe({ query: sub }, { next: (r) => void results[tenant]!.push(r as ExecutionResult<any>), error: () => {}, complete: () => {} });
      return client;
    });
    try {
      const modified = (tenant: string) => results[tenant]!.find((r) => r.data?.watchCronTab_stable_example_com?.type === 'MODIFIED');
      // Both subscriptions are open once an annotation written now reaches both.
      await pollUntil('a MODIFIED event for both subscribers', async () => {
        await kubectlOk(['annotate', '--overwrite', 'crontab.stable.example.com', 'owned', '-n', nsA, `touched=${Date.now()}`]);
        return !!modified('a') && !!modified('ops');
      }, { timeoutMs: 20_000, intervalMs: 300, detail: () => JSON.stringify(results) });
      const a = modified('a')!;
      assert.doesNotMatch(JSON.stringify(a), new RegExp(marker), 'nothing of what A may not read');
      assert.deepEqual(a.data!.watchCronTab_stable_example_com.object.owners, [null, null, { __typename: V1, metadata: { name: 'peer' } }]);
      assert.equal(a.data!.watchCronTab_stable_example_com.object.events, null);
      assert.deepEqual(codesAt(a as Pick<GraphQLResult, 'errors'>), [
        ['watchCronTab_stable_example_com.object.events', 'FORBIDDEN'],
        ['watchCronTab_stable_example_com.object.owners.0', 'FORBIDDEN'], ['watchCronTab_stable_example_com.object.owners.1', 'FORBIDDEN'],
      ]);
      const ops = modified('ops')!;
      assert.equal(ops.errors, undefined, JSON.stringify(ops));
      assert.deepEqual(ops.data!.watchCronTab_stable_example_com.object.owners.map((o: any) => o.metadata.name), ['owner-config', `owner-role`, 'peer']);
      assert.deepEqual(ops.data!.watchCronTab_stable_example_com.object.events, [{ message: `event ${marker}` }]);
    } finally {
      for (const c of clients) await c.dispose();
    }
  });

  it('reads the children of a cluster-scoped object from a running query cache, cut to the namespaces each tenant may list', async () => {
    // ops, who may list CronTabs everywhere, starts the cache of all namespaces with a filtered list.
    const warm = await gql(url, '{ cronTabList_stable_example_com(consistency: CACHED) { totalCount } }', undefined, { headers: bearer('ops') });
    assert.equal(warm.errors, undefined, warm.text);
    const store = gateway.operations.queries.caches.stats().find((s) => s.resource === 'crontabs.stable.example.com/v1' && s.namespace === '');
    assert.equal(store?.synced, true, JSON.stringify(gateway.operations.queries.caches.stats()));
    const cronTabLists = () => calls.filter((c) => /^GET \/apis\/stable\.example\.com\/v1\/(namespaces\/[^/]+\/)?crontabs$/.test(c));

    calls.length = 0;
    const a = await gql(url, parentQuery, undefined, { headers: bearer('a') });
    assert.equal(a.status, 200, a.text);
    assert.doesNotMatch(a.text, new RegExp(marker));
    assert.deepEqual(a.data!.clusterCronTab_stable_example_com.children, [{ metadata: { namespace: nsA, name: 'a-child' }, spec: { image: 'a-child:1' } }]);
    assert.deepEqual(codesAt(a), [['clusterCronTab_stable_example_com.events', 'FORBIDDEN']]);

    const ops = await gql(url, parentQuery, undefined, { headers: bearer('ops') });
    assert.equal(ops.errors, undefined, ops.text);
    const children = ops.data!.clusterCronTab_stable_example_com.children.map((c: any) => `${c.metadata.namespace}/${c.metadata.name}`);
    assert.deepEqual(children.sort(), [`${nsA}/a-child`, `${nsB}/b-child`].sort());
    assert.deepEqual(cronTabLists(), [], 'both answers came from the cache, without a list of CronTabs');
  });
});
