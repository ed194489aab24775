// Filtered and sorted lists on the real control plane: 5,000 Gadgets across three namespaces, two
// tenants (a: two namespaces; b: one namespace, plus one object of another by resourceNames) and a
// cluster-wide tenant w. Every operator against an independent predicate over a fresh apiserver
// list; sorting by Int64 beyond 2^53, date-times and strings with cursors across all pages; the
// RBAC cut; the cache under concurrent writes; REST parity with the live OpenAPI; typed errors.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { createGateway, type Gateway } from '../../src/gateway.ts';
import { KubeClient } from '../../src/kube/kube-client.ts';
import { parseKubernetesJson } from '../../src/kube/lossless-json.ts';
import { loadTenantConfig } from '../../src/auth/tenant-config.ts';
import { resourceTypeName, rootFieldNames } from '../../src/model/graphql-type-names.ts';
import { ownedBy } from '../../src/model/query-filter.ts';
import { hmacSecret, nowSeconds, signHs256, TenantsDir } from '../helpers/jwt-issuer.ts';
import { gql } from '../helpers/graphql-client.ts';
import { pollUntil } from '../helpers/poll-until.ts';
import { OpenApiValidator } from '../helpers/openapi-validator.ts';
import { kubeConfigFor, kubectl, uniqueName } from '../helpers/test-cluster.ts';
import { gadget, installGadgetCrd, parallel, type Gadget } from '../helpers/gadget-dataset.ts';

const run = uniqueName('ql');
const group = `${run}.query.example.com`;
const nsA1 = `${run}-a1`;
const nsA2 = `${run}-a2`;
const nsB = `${run}-b`;
const counts: [string, number][] = [[nsA1, 2000], [nsA2, 2000], [nsB, 1000]];
const issuer = 'https://issuer.crdgate.test/';
const audience = 'crdgate-test';
const resource = { kind: 'Gadget', listKind: 'GadgetList', group };
const listField = rootFieldNames(resource, 'v1').list;
const whereType = `${resourceTypeName(resource, 'v1', [])}_Where`;
const orderType = `${resourceTypeName(resource, 'v1', [])}_OrderBy`;
const collection = (ns?: string) => `/apis/${group}/v1${ns ? `/namespaces/${ns}` : ''}/gadgets`;
const admin = new KubeClient(kubeConfigFor('admin'));

type Obj = Gadget & { metadata: Gadget['metadata'] & { uid: string; resourceVersion: string; creationTimestamp: string } };
const idOf = (o: { metadata: { namespace?: string; name?: string } }) => `${o.metadata.namespace}/${o.metadata.name}`;
const byId = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Every Gadget, fresh from the apiserver (as the admin), integers beyond 2^53 as bigint. */
async function apiserverObjects(ns?: string): Promise<Obj[]> {
  const items: Obj[] = [];
  let cont: string | undefined;
  do {
    const page = await admin.request<{ items: Obj[]; metadata: { continue?: string } }>('GET', collection(ns), { query: { limit: 1000, continue: cont } });
    items.push(...page.items);
    cont = page.metadata.continue || undefined;
  } while (cont);
  return items;
}

const rbac = `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: ${run}-reader }
rules: [{ apiGroups: [${group}], resources: [gadgets], verbs: [get, list, watch] }]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: ${run}-w }
subjects: [{ kind: Group, name: ${run}-w, apiGroup: rbac.authorization.k8s.io }]
roleRef: { kind: ClusterRole, name: ${run}-reader, apiGroup: rbac.authorization.k8s.io }
${[nsA1, nsA2].map((ns) => `---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: reader-a, namespace: ${ns} }
subjects: [{ kind: Group, name: ${run}-a, apiGroup: rbac.authorization.k8s.io }]
roleRef: { kind: ClusterRole, name: ${run}-reader, apiGroup: rbac.authorization.k8s.io }
`).join('')}---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: reader-b, namespace: ${nsB} }
subjects: [{ kind: Group, name: ${run}-b, apiGroup: rbac.authorization.k8s.io }]
roleRef: { kind: ClusterRole, name: ${run}-reader, apiGroup: rbac.authorization.k8s.io }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: { name: one-gadget, namespace: ${nsA1} }
rules: [{ apiGroups: [${group}], resources: [gadgets], resourceNames: [g-00007], verbs: [get, list, watch] }]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: one-gadget-b, namespace: ${nsA1} }
subjects: [{ kind: Group, name: ${run}-b, apiGroup: rbac.authorization.k8s.io }]
roleRef: { kind: Role, name: one-gadget, apiGroup: rbac.authorization.k8s.io }
`;

describe('filtered and sorted lists', () => {
  const dir = new TenantsDir();
  const secret = hmacSecret();
  let gateway: Gateway;
  let base = '';
  const owners = new Map<string, { name: string; uid: string }>();
  const token = (tenant: string) => signHs256(secret, { iss: issuer, aud: audience, sub: `${tenant}-user`, tenant, iat: nowSeconds(), exp: nowSeconds() + 3600 });
  const auth = (tenant: string) => ({ authorization: `Bearer ${token(tenant)}` });
  const graphql = (tenant: string, query: string, variables?: Record<string, unknown>) => gql(`${base}/graphql`, query, variables, { headers: auth(tenant) });

  /** One page of the list field as `tenant`, with the ids, cursors and counts. */
  async function page(tenant: string, args: Record<string, unknown>, ns?: string) {
    const r = await graphql(tenant, `query($ns: String, $where: ${whereType}, $orderBy: [${orderType}!], $first: Int, $after: String, $consistency: ListConsistency, $rv: String) {
      list: ${listField}(namespace: $ns, where: $where, orderBy: $orderBy, first: $first, after: $after, consistency: $consistency, resourceVersion: $rv) {
        edges { cursor node { metadata { namespace name } } } totalCount remainingItemCount resourceVersion pageInfo { hasNextPage endCursor } } }`,
    { ns, ...args });
    assert.equal(r.errors, undefined, r.text.slice(0, 2000));
    const list = r.data.list as { edges: { cursor: string; node: { metadata: { namespace: string; name: string } } }[]; totalCount: number; remainingItemCount: number | null; resourceVersion: string; pageInfo: { hasNextPage: boolean; endCursor: string | null } };
    return { ...list, ids: list.edges.map((e) => idOf(e.node)) };
  }

  /** Every page, following endCursor. */
  async function allPages(tenant: string, args: Record<string, unknown>, first: number, ns?: string): Promise<string[]> {
    const ids: string[] = [];
    let after: string | undefined;
    for (;;) {
      const p = await page(tenant, { ...args, first, ...(after ? { after } : {}) }, ns);
      ids.push(...p.ids);
      if (!p.pageInfo.hasNextPage) return ids;
      after = p.pageInfo.endCursor!;
    }
  }

  before(async () => {
    await installGadgetCrd(admin, group);
    for (const [ns] of counts) {
      await admin.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } } });
      const cm = await admin.request<{ metadata: { name: string; uid: string } }>('POST', `/api/v1/namespaces/${ns}/configmaps`, { body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'owner' } } });
      owners.set(ns, { name: cm.metadata.name, uid: cm.metadata.uid });
    }
    const r = await kubectl(['apply', '-f', '-'], { input: rbac });
    assert.equal(r.code, 0, r.stderr);
    const all = counts.flatMap(([ns, n]) => Array.from({ length: n }, (_, i) => gadget(group, ns, i, owners.get(ns))));
    await parallel(all.length, 48, async (i) => {
      const g = all[i]!;
      await admin.request('POST', collection(g.metadata.namespace), { body: g });
    });
    dir.write('hs.secret', secret);
    const file = dir.writeConfig('tenants.yaml', {
      auth: { issuer, audience, algorithms: ['HS256'], secretFile: 'hs.secret' },
      tenants: ['a', 'b', 'w'].map((t) => ({ name: t, match: { tenant: t }, user: `${t}:{sub}`, groups: [`${run}-${t}`] })),
    });
    gateway = await createGateway({ client: new KubeClient(kubeConfigFor('admin')), tenants: loadTenantConfig(file), explorer: false });
    base = `http://127.0.0.1:${(((await gateway.listen(0)).address()) as AddressInfo).port}`;
    await pollUntil('the gateway to serve Gadgets', () => gateway.live.resources.some((m) => m.group === group), { timeoutMs: 30_000 });
    // RBAC reaches the authorizer after a moment.
    for (const [t, ns] of [['a', nsA2], ['b', nsB], ['w', nsA1]] as const) {
      await pollUntil(`tenant ${t} to list in ${ns}`, async () => (await graphql(t, `{ ${listField}(namespace: "${ns}", first: 1) { edges { cursor } } }`)).data, { timeoutMs: 20_000 });
    }
  });

  after(async () => {
    await gateway?.stop();
    dir.remove();
    await kubectl(['delete', 'namespace', nsA1, nsA2, nsB, '--wait=false', '--ignore-not-found']);
    await kubectl(['delete', 'clusterrole', `${run}-reader`, '--ignore-not-found']);
    await kubectl(['delete', 'clusterrolebinding', `${run}-w`, '--ignore-not-found']);
    await kubectl(['delete', 'crd', `gadgets.${group}`, '--wait=false', '--ignore-not-found']);
  });

  it('every operator, across all namespaces, equals the same filter applied to a fresh apiserver list', async () => {
    const objects = await apiserverObjects();
    assert.equal(objects.length, 5000);
    const instant = (s: unknown) => (typeof s === 'string' ? Date.parse(s) : NaN);
    const spec = (o: Obj) => o.spec as Record<string, any>;
    const t2031 = '2030-01-03T00:00:00Z';
    const big = 2n ** 60n + 2500n;
    const cases: [string, unknown, (o: Obj) => boolean][] = [
      ['string eq', { spec: { title: { eq: 't-000' } } }, (o) => spec(o).title === 't-000'],
      ['string ne', { spec: { title: { ne: 't-000' } } }, (o) => spec(o).title !== 't-000'],
      ['string in', { spec: { title: { in: ['T-919', 't-838'] } } }, (o) => ['T-919', 't-838'].includes(spec(o).title)],
      ['string notIn', { spec: { title: { notIn: ['T-919'] } } }, (o) => spec(o).title !== 'T-919'],
      ['string lt (code units)', { spec: { title: { lt: 'U' } } }, (o) => spec(o).title < 'U'],
      ['string prefix', { spec: { title: { prefix: 'T-9' } } }, (o) => spec(o).title.startsWith('T-9')],
      ['string contains', { spec: { title: { contains: '-12' } } }, (o) => spec(o).title.includes('-12')],
      ['Int64 gt, lte', { spec: { size: { gt: 100, lte: 250 } } }, (o) => spec(o).size > 100 && spec(o).size <= 250],
      ['Int64 beyond 2^53 gte (decimal string)', { spec: { big: { gte: big.toString() } } }, (o) => spec(o).big >= big],
      ['Int64 beyond 2^53 eq', { spec: { big: { eq: (2n ** 60n + 7919n % 4999n).toString() } } }, (o) => spec(o).big === 2n ** 60n + 7919n % 4999n],
      ['Int64 in, notIn', { spec: { size: { in: [1, 2, 3, 1999] }, count: { notIn: [1] } } }, (o) => [1, 2, 3, 1999].includes(spec(o).size) && spec(o).count !== 1],
      ['Int lt', { spec: { count: { lt: 3 } } }, (o) => spec(o).count < 3],
      ['Float gte', { spec: { ratio: { gte: 2.5 } } }, (o) => spec(o).ratio >= 2.5],
      ['Boolean eq', { spec: { enabled: { eq: true } } }, (o) => spec(o).enabled === true],
      ['Boolean ne', { spec: { enabled: { ne: true } } }, (o) => spec(o).enabled === false],
      ['enum in', { spec: { phase: { in: ['Failed', 'Pending'] } } }, (o) => ['Failed', 'Pending'].includes(spec(o).phase)],
      ['DateTime lt (offsets)', { spec: { expires: { lt: t2031 } } }, (o) => instant(spec(o).expires) < Date.parse(t2031)],
      ['DateTime gte with an offset', { spec: { expires: { gte: '2030-01-03T02:00:00+02:00' } } }, (o) => instant(spec(o).expires) >= Date.parse(t2031)],
      ['IntOrString eq int, eq string', { or: [{ spec: { port: { eq: 8001 } } }, { spec: { port: { eq: 'http' } } }] }, (o) => spec(o).port === 8001 || spec(o).port === 'http'],
      ['exists false (absent list)', { spec: { tags: { exists: false } } }, (o) => spec(o).tags === undefined],
      ['isNull (absent object)', { spec: { extra: { isNull: false } } }, (o) => spec(o).extra !== undefined],
      ['nested object', { spec: { nested: { level: { gte: 7 }, note: { exists: true } } } }, (o) => spec(o).nested.level >= 7 && spec(o).nested.note !== undefined],
      ['list some (scalars)', { spec: { tags: { some: { eq: 'x3' } } } }, (o) => (spec(o).tags ?? []).includes('x3')],
      ['list every (objects)', { spec: { owners: { every: { weight: { lte: 1 } } } } }, (o) => (spec(o).owners ?? []).every((w: any) => w.weight <= 1)],
      ['list none', { spec: { owners: { none: { name: { eq: 'o1' } } } } }, (o) => !(spec(o).owners ?? []).some((w: any) => w.name === 'o1')],
      ['list isEmpty', { spec: { tags: { isEmpty: true } } }, (o) => (spec(o).tags ?? []).length === 0],
      ['typed map entry', { spec: { limits: [{ key: 'cpu', value: { gte: 6 } }, { key: 'mem', exists: false }] } },
        (o) => spec(o).limits?.cpu >= 6 && spec(o).limits?.mem === undefined],
      ['string map entry', { spec: { settings: [{ key: 'zone', in: ['z0', 'z2'] }] } }, (o) => ['z0', 'z2'].includes(spec(o).settings.zone)],
      ['labels: eq, key absent', { metadata: { labels: [{ key: 'app', eq: 'web' }, { key: 'tier', exists: false }] } },
        (o) => o.metadata.labels['app'] === 'web' && o.metadata.labels['tier'] === undefined],
      ['metadata name prefix, namespace in', { metadata: { name: { prefix: 'g-001' }, namespace: { in: [nsA2, nsB] } } },
        (o) => o.metadata.name.startsWith('g-001') && [nsA2, nsB].includes(o.metadata.namespace)],
      ['metadata creationTimestamp', { metadata: { creationTimestamp: { gte: '2000-01-01T00:00:00Z' } } }, () => true],
      ['owner references', { metadata: { ownerReferences: { some: { kind: { eq: 'ConfigMap' } } } } }, (o) => (o.metadata.ownerReferences ?? []).some((r) => r['kind'] === 'ConfigMap')],
      ['and, or, not', { and: [{ spec: { count: { gte: 10 } } }, { not: { or: [{ spec: { phase: { eq: 'Failed' } } }, { metadata: { labels: [{ key: 'shard', eq: '3' }] } }] } }] },
        (o) => spec(o).count >= 10 && !(spec(o).phase === 'Failed' || o.metadata.labels['shard'] === '3')],
    ];
    for (const [name, where, predicate] of cases) {
      const expected = objects.filter(predicate).map(idOf).sort(byId);
      assert.ok(expected.length > 0 && expected.length < 5000 || name === 'metadata creationTimestamp', `${name}: the case selects some objects (${expected.length})`);
      const got = await page('w', { where, first: 5000 });
      assert.deepEqual(got.ids, expected, name);
      assert.equal(got.totalCount, expected.length, `${name}: totalCount`);
    }
  });

  it('sorts by Int64 beyond 2^53, date-time and strings, stably, and cursors walk every page once', async () => {
    const objects = await apiserverObjects();
    const tie = (a: Obj, b: Obj) => byId(idOf(a), idOf(b));
    const cmp = <T>(x: T, y: T) => (x < y ? -1 : x > y ? 1 : 0);
    const orders: [unknown, (a: Obj, b: Obj) => number][] = [
      [[{ field: 'spec_big', direction: 'ASC' }], (a, b) => cmp(a.spec['big'] as bigint, b.spec['big'] as bigint) || tie(a, b)],
      [[{ field: 'spec_expires', direction: 'DESC' }], (a, b) => cmp(Date.parse(b.spec['expires'] as string), Date.parse(a.spec['expires'] as string)) || tie(a, b)],
      [[{ field: 'spec_title', direction: 'ASC' }, { field: 'spec_count', direction: 'DESC' }],
        (a, b) => cmp(a.spec['title'] as string, b.spec['title'] as string) || cmp(b.spec['count'] as number, a.spec['count'] as number) || tie(a, b)],
      // nested.note is missing on half the objects: those come last.
      [[{ field: 'spec_nested_note', direction: 'DESC' }], (a, b) => {
        const x = (a.spec['nested'] as { note?: string }).note;
        const y = (b.spec['nested'] as { note?: string }).note;
        if (x === undefined || y === undefined) return x === y ? tie(a, b) : x === undefined ? 1 : -1;
        return cmp(y, x) || tie(a, b);
      }],
    ];
    for (const [orderBy, compare] of orders) {
      const expected = [...objects].sort(compare).map(idOf);
      assert.deepEqual(await allPages('w', { orderBy }, 700), expected, JSON.stringify(orderBy));
    }
    // Int64 values keep every digit on the way out, too.
    const r = await graphql('w', `{ ${listField}(orderBy: [{ field: spec_big, direction: DESC }], first: 2) { edges { node { spec { big } } } } }`);
    const max = objects.reduce((m, o) => ((o.spec['big'] as bigint) > m ? (o.spec['big'] as bigint) : m), 0n);
    assert.match(r.text, new RegExp(`"big":${max}[,}]`));
  });

  it('cuts cached answers to what each tenant may list; a conditional right goes to the apiserver as the caller', async () => {
    const objects = await apiserverObjects();
    const where = { spec: { count: { lt: 20 } } };
    const matching = objects.filter((o) => (o.spec['count'] as number) < 20);
    const ids = (nss: string[]) => matching.filter((o) => nss.includes(o.metadata.namespace)).map(idOf).sort(byId);
    const a = await page('a', { where, first: 5000 });
    assert.deepEqual(a.ids, ids([nsA1, nsA2]));
    assert.equal(a.totalCount, ids([nsA1, nsA2]).length);
    const aStrong = await page('a', { where, first: 5000, consistency: 'STRONG' });
    assert.deepEqual(aStrong.ids, a.ids, 'STRONG (the apiserver, as the caller) agrees');
    // b may get and list one Gadget of a1 by name: its list across namespaces, like Kubernetes', has only b's namespace.
    const b = await page('b', { where: { metadata: { name: { in: ['g-00007', 'g-00008'] } } }, first: 5000 });
    assert.deepEqual(b.ids, [`${nsB}/g-00007`, `${nsB}/g-00008`]);
    const inA1 = await graphql('b', `{ ${listField}(namespace: "${nsA1}", where: { metadata: { name: { eq: "g-00007" } } }) { edges { node { metadata { name } } } totalCount } }`);
    assert.equal(inA1.errors?.[0]?.extensions?.['code'], 'FORBIDDEN', inA1.text);
    assert.equal(inA1.data, null);
    const direct = await admin.request<{ metadata: { name: string } }>('GET', `${collection(nsA1)}/g-00007`);
    assert.equal(direct.metadata.name, 'g-00007', 'the object exists');
    // a in one namespace, from the cache of all namespaces or its own: only that namespace.
    const one = await page('a', { where, first: 5000 }, nsA2);
    assert.deepEqual(one.ids, ids([nsA2]));
    const none = await graphql('a', `{ ${listField}(namespace: "${nsB}", where: { spec: { count: { lt: 20 } } }) { totalCount } }`);
    assert.equal(none.errors?.[0]?.extensions?.['code'], 'FORBIDDEN', none.text);
  });

  it('stays equal to a fresh filtered apiserver list under concurrent writes, once it has caught up', async () => {
    const before = { ...gateway.operations.queries.counters };
    const where = { spec: { count: { gte: 50 } }, metadata: { labels: [{ key: 'app', eq: 'web' }] } };
    const predicate = (o: Obj) => (o.spec['count'] as number) >= 50 && o.metadata.labels['app'] === 'web';
    await page('a', { where, first: 10 }, nsA1);
    let writing = true;
    const readers = (async () => {
      let reads = 0;
      while (writing) {
        const p = await page('a', { where, first: 50, orderBy: [{ field: 'spec_count', direction: 'DESC' }] }, nsA1);
        assert.ok(p.totalCount > 0);
        reads++;
      }
      return reads;
    })();
    let maxRv = 0n;
    const seen = (o: { metadata: { resourceVersion: string } }) => {
      const rv = BigInt(o.metadata.resourceVersion);
      if (rv > maxRv) maxRv = rv;
    };
    await parallel(300, 24, async (i) => {
      const name = `g-${String((i * 37) % 2000).padStart(5, '0')}`;
      if (i % 15 === 0) {
        await admin.request('DELETE', `${collection(nsA1)}/${name}`).catch(() => {});
        return;
      }
      if (i % 15 === 1) {
        const g = gadget(group, nsA1, 10_000 + i);
        seen(await admin.request<Obj>('POST', collection(nsA1), { body: g }));
        return;
      }
      const patched = await admin.request<Obj>('PATCH', `${collection(nsA1)}/${name}`, {
        body: { spec: { count: (i * 13) % 97 }, metadata: { labels: { app: i % 2 ? 'web' : 'db' } } }, contentType: 'application/merge-patch+json',
      }).catch(() => undefined);
      if (patched) seen(patched);
    });
    // A last write: events of one namespace arrive in order, so once the cache has seen this one it has seen all.
    seen(await admin.request<Obj>('PATCH', `${collection(nsA1)}/g-01999`, { body: { metadata: { annotations: { last: 'write' } } }, contentType: 'application/merge-patch+json' }));
    writing = false;
    assert.ok((await readers) > 0, 'lists were answered while the writes went on');
    const got = await page('a', { where, first: 5000, rv: maxRv.toString() }, nsA1);
    const expected = (await apiserverObjects(nsA1)).filter(predicate).map(idOf).sort(byId);
    assert.deepEqual(got.ids, expected);
    assert.equal(got.totalCount, expected.length);
    assert.ok(BigInt(got.resourceVersion) >= maxRv, `answered at ${got.resourceVersion}, after the last write at ${maxRv}`);
    const counters = gateway.operations.queries.counters;
    assert.equal(counters.fromApiserver, before.fromApiserver, 'every one of these lists came from the cache');
    assert.ok(counters.fromCache > before.fromCache);
  });

  it('keeps a cursor valid while objects change: nothing after it is skipped or repeated', async () => {
    const orderBy = [{ field: 'spec_size', direction: 'ASC' }];
    const where = { spec: { size: { lt: 40 } } };
    const first = await page('w', { where, orderBy, first: 10 }, nsA2);
    assert.deepEqual(first.ids, Array.from({ length: 10 }, (_, i) => `${nsA2}/g-${String(i).padStart(5, '0')}`));
    // The cursor's own object goes, one before it moves behind it, a new one lands between.
    await admin.request('DELETE', `${collection(nsA2)}/g-00009`);
    await admin.request('PATCH', `${collection(nsA2)}/g-00003`, { body: { spec: { size: 30 } }, contentType: 'application/merge-patch+json' });
    const added = await admin.request<Obj>('POST', collection(nsA2), { body: { ...gadget(group, nsA2, 20_000), spec: { ...gadget(group, nsA2, 20_000).spec, size: 12 } } });
    const rest = await page('w', { where, orderBy, first: 100, after: first.pageInfo.endCursor, rv: added.metadata.resourceVersion }, nsA2);
    const name = (i: number) => `g-${String(i).padStart(5, '0')}`;
    const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => name(from + i));
    // Size 12 twice (g-00012, then the new one by name), size 30 twice (g-00003 moved there, g-00030).
    const expected = [...range(10, 12), added.metadata.name, ...range(13, 29), name(3), ...range(30, 39)];
    assert.deepEqual(rest.ids.map((id) => id.slice(nsA2.length + 1)), expected);
    assert.equal(rest.totalCount, 40, 'all matches, on every page');
  });

  it('offers a general filtered query to the service: children of an owner, by uid', async () => {
    const owner = owners.get(nsB)!;
    const model = gateway.live.resources.find((m) => m.group === group)!;
    const list = await gateway.operations.list({
      resource: model, version: model.versions[0]!, namespace: nsB, args: { where: ownedBy(owner.uid), limit: 1000 }, context: {},
    });
    const expected = (await apiserverObjects(nsB)).filter((o) => o.metadata.ownerReferences?.some((r) => r['uid'] === owner.uid)).map((o) => o.metadata.name).sort();
    assert.equal(expected.length, 20);
    assert.deepEqual(list.items.map((o) => (o['metadata'] as { name: string }).name), expected);
  });

  it('REST: ?where= (exact integers), ?orderBy=, ?consistency=, described by the live OpenAPI document', async () => {
    const doc = await (await fetch(`${base}/openapi.json`, { headers: auth('w') })).json() as Record<string, any>;
    const validator = new OpenApiValidator(doc, { requireBearer: true });
    const big = 2n ** 60n + 4900n;
    const where = `{"spec":{"big":{"gte":${big}}},"metadata":{"namespace":{"in":["${nsA1}","${nsB}"]}}}`;
    const url = `/rest/${group}/v1/gadgets?where=${encodeURIComponent(where)}&orderBy=-spec.big,metadata.name&limit=5`;
    assert.deepEqual(validator.checkRequest({ method: 'GET', url, headers: auth('w') }), []);
    const res = await fetch(base + url, { headers: auth('w') });
    const text = await res.text();
    assert.equal(res.status, 200, text);
    assert.deepEqual(validator.checkResponse({ method: 'GET', url }, { status: res.status, headers: res.headers, body: text }), []);
    const body = parseKubernetesJson(text) as { items: Obj[]; metadata: { totalCount: number; continue?: string; remainingItemCount?: number } };
    const expected = (await apiserverObjects()).filter((o) => (o.spec['big'] as bigint) >= big && [nsA1, nsB].includes(o.metadata.namespace))
      .sort((a, b) => ((a.spec['big'] as bigint) > (b.spec['big'] as bigint) ? -1 : (a.spec['big'] as bigint) < (b.spec['big'] as bigint) ? 1 : byId(a.metadata.name, b.metadata.name) || byId(a.metadata.namespace, b.metadata.namespace)));
    assert.deepEqual(body.items.map(idOf), expected.slice(0, 5).map(idOf));
    assert.equal(body.metadata.totalCount, expected.length);
    assert.equal(body.metadata.remainingItemCount, expected.length - 5);
    assert.match(text, new RegExp(`"big":${expected[0]!.spec['big']}[,}]`), 'every digit on the way out');
    const next = await fetch(`${base}/rest/${group}/v1/gadgets?where=${encodeURIComponent(where)}&orderBy=-spec.big,metadata.name&limit=500&continue=${encodeURIComponent(body.metadata.continue!)}`, { headers: auth('w') });
    const rest = parseKubernetesJson(await next.text()) as { items: Obj[] };
    assert.deepEqual(rest.items.map(idOf), expected.slice(5).map(idOf));
  });

  it('REST: bad where, orderBy and cursors are 400 problems that say what is wrong', async () => {
    const bad = async (query: string, code: string, reason: string | undefined, detail: RegExp) => {
      const res = await fetch(`${base}/rest/${group}/v1/namespaces/${nsB}/gadgets?${query}`, { headers: auth('b') });
      const problem = await res.json() as Record<string, unknown>;
      assert.equal(res.status, 400, `${query}: ${JSON.stringify(problem)}`);
      assert.equal(res.headers.get('content-type'), 'application/problem+json; charset=utf-8');
      assert.equal(problem['code'], code);
      assert.equal(problem['reason'], reason);
      assert.match(String(problem['detail']), detail);
    };
    const w = (v: unknown) => `where=${encodeURIComponent(typeof v === 'string' ? v : JSON.stringify(v))}`;
    await bad(w({ spec: { nope: { eq: 1 } } }), 'BAD_REQUEST', 'InvalidQuery', /where\.spec\.nope: this object has no filterable field "nope"/);
    await bad(w({ spec: { size: { eq: 'ten' } } }), 'BAD_REQUEST', 'InvalidQuery', /where\.spec\.size\.eq: expected an integer/);
    await bad(w({ spec: { title: { regex: '.*' } } }), 'BAD_REQUEST', 'InvalidQuery', /regular expressions are not offered/);
    let deep: unknown = { spec: { size: { eq: 1 } } };
    for (let i = 0; i < 40; i++) deep = { not: deep };
    await bad(w(deep), 'BAD_REQUEST', 'InvalidQuery', /nested deeper than 32 levels/);
    await bad(w('{"spec":'), 'BAD_REQUEST', 'InvalidQuery', /where is not valid JSON/);
    await bad('orderBy=spec.tags', 'BAD_REQUEST', 'InvalidQuery', /not a sortable field/);
    await bad(`${w({ spec: { size: { lt: 5 } } })}&continue=q1.bm9wZQ`, 'BAD_REQUEST', 'InvalidCursor', /malformed/);
    await bad(`${w({ spec: { size: { lt: 5 } } })}&watch=true`, 'BAD_REQUEST', 'InvalidQuery', /apply to lists, not to watches/);
    await bad('consistency=SOMETIMES', 'BAD_REQUEST', undefined, /consistency must be one of CACHED, STRONG/);
  });

  it('GraphQL: bad where, orderBy and cursors are typed errors', async () => {
    const q = (args: string, vars?: Record<string, unknown>) => graphql('w', `query${vars ? `($w: ${whereType})` : ''} { ${listField}(${args}) { totalCount } }`, vars);
    const code = async (args: string, expected: string, message: RegExp, vars?: Record<string, unknown>) => {
      const r = await q(args, vars);
      assert.ok(r.errors?.length, r.text);
      assert.equal(r.errors[0]!.extensions?.['code'], expected, r.text);
      assert.match(r.errors[0]!.message, message);
    };
    await code('where: { spec: { nope: { eq: 1 } } }', 'GRAPHQL_VALIDATION_FAILED', /nope/);
    await code('where: { spec: { title: { regex: "a" } } }', 'GRAPHQL_VALIDATION_FAILED', /regex/);
    await code('where: $w', 'BAD_USER_INPUT', /size/, { w: { spec: { size: { eq: 'ten' } } } });
    let deep: unknown = { spec: { size: { eq: 1 } } };
    for (let i = 0; i < 40; i++) deep = { not: deep };
    await code('where: $w', 'BAD_USER_INPUT', /nested deeper than 32 levels/, { w: deep });
    await code('where: $w', 'BAD_USER_INPUT', /more than 500 conditions/, { w: { spec: { size: { in: Array.from({ length: 600 }, (_, i) => i) } } } });
    // Parts without conditions are bounded too (80,000 of them, under the body limit, took seconds per request).
    for (const length of [3_000, 80_000]) await code('where: $w', 'BAD_USER_INPUT', /more than 5000 parts/, { w: { or: Array.from({ length }, () => ({ or: [] })) } });
    await code('where: $w', 'BAD_USER_INPUT', /null is not a filter value/, { w: { spec: { title: { eq: null } } } });
    await code('where: { spec: { size: { lt: 5 } } }, after: "q1.bm9wZQ"', 'BAD_REQUEST', /cursor is malformed/);
    const p = await page('w', { where: { spec: { size: { lt: 5 } } }, first: 1 });
    await code(`where: { spec: { size: { lt: 6 } } }, after: "${p.pageInfo.endCursor}"`, 'BAD_REQUEST', /belongs to another query/);
  });

  it('is visible in the cache statistics: objects and bytes per resource and namespace scope', () => {
    const stats = gateway.operations.queries.caches.stats().filter((s) => s.resource === `gadgets.${group}/v1`);
    const everywhere = stats.find((s) => s.namespace === '');
    assert.ok(everywhere, JSON.stringify(stats));
    assert.ok(everywhere.objects >= 5000 - 30, `${everywhere.objects} objects`);
    assert.ok(everywhere.bytes > everywhere.objects * 300, `${everywhere.bytes} bytes`);
  });
});
