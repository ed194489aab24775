// Permissions.of caches a permission set per identity and resource list, the list named by a
// number (ResourceListIds) rather than by its resources joined on every request. A wrong key would
// hand one caller another's rights, or rights computed for other resources: these tests fail then.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Impersonation, KubeClient } from '../../../src/kube/kube-client.ts';
import { Permissions, ResourceListIds } from '../../../src/auth/permissions.ts';
import type { ResourceRef } from '../../../src/contract/access.ts';

const widgets: ResourceRef = { group: 'a.example.com', plural: 'widgets', namespaced: true };
const gadgets: ResourceRef = { group: 'a.example.com', plural: 'gadgets', namespaced: true };

test('resource lists: the same content shares a number, any other content (scope included) does not', () => {
  const ids = new ResourceListIds();
  const list = [widgets, gadgets];
  assert.equal(ids.idOf(list), ids.idOf(list));
  assert.equal(ids.idOf([{ ...widgets }, { ...gadgets }]), ids.idOf(list), 'another object, the same resources');
  assert.notEqual(ids.idOf([gadgets, widgets]), ids.idOf(list), 'another order');
  assert.notEqual(ids.idOf([widgets]), ids.idOf(list));
  assert.notEqual(ids.idOf([{ ...widgets, group: 'b.example.com' }, gadgets]), ids.idOf(list));
  assert.notEqual(ids.idOf([{ ...widgets, namespaced: false }, gadgets]), ids.idOf(list), 'another scope');
  // A watch pinned to one name is authorized for that name: its answers are not the resource's.
  assert.notEqual(ids.idOf([{ ...widgets, name: 'w-1' }, gadgets]), ids.idOf(list), 'one object by name');
  assert.notEqual(ids.idOf([{ ...widgets, name: 'w-1' }, gadgets]), ids.idOf([{ ...widgets, name: 'w-2' }, gadgets]), 'another name');
  assert.equal(ids.idOf([{ ...widgets, name: 'w-1' }, gadgets]), ids.idOf([{ ...widgets, name: 'w-1' }, { ...gadgets }]));
});

test('resource lists: a forgotten content gets a new number, never one another content had', () => {
  const ids = new ResourceListIds(2);
  const first = ids.idOf([{ ...widgets }]);
  const second = ids.idOf([{ ...gadgets }]);
  ids.idOf([{ ...widgets, plural: 'things' }]);
  const again = ids.idOf([{ ...widgets }]);
  assert.notEqual(again, second);
  assert.ok(again === first || again > second, `${again}: a number of its own`);
});

/** Kubernetes as Permissions asks it: one namespace; alice may get and list widgets there, bob nothing. */
function fakeCluster(): { client: KubeClient; rulesReviews: string[]; accessReviews: string[] } {
  const rulesReviews: string[] = [];
  const accessReviews: string[] = [];
  const client = {
    server: 'https://k',
    async request(method: string, path: string, opts: { impersonate?: { user: string }; body?: { spec?: { user?: string; resourceAttributes?: { resource: string } } } }) {
      if (method === 'GET') return { items: path.endsWith('/namespaces') ? [{ metadata: { name: 'team', resourceVersion: '1' } }] : [], metadata: { resourceVersion: '1' } };
      if (path.endsWith('/selfsubjectrulesreviews')) {
        const user = opts.impersonate!.user;
        rulesReviews.push(user);
        return { status: { resourceRules: user === 'alice' ? [{ verbs: ['get', 'list'], apiGroups: ['a.example.com'], resources: ['widgets'] }] : [] } };
      }
      accessReviews.push(`${opts.body!.spec!.user} ${opts.body!.spec!.resourceAttributes!.resource}`);
      return { status: { allowed: false } };
    },
    watch(_path: string, opts: { signal?: AbortSignal; onOpen?: () => void }) {
      opts.onOpen?.();
      return new Promise<void>((resolve) => opts.signal?.addEventListener('abort', () => resolve()));
    },
  };
  return { client: client as unknown as KubeClient, rulesReviews, accessReviews };
}

test('permission sets: two identities never share one, two resource lists never share one, an RBAC change drops them', async () => {
  const cluster = fakeCluster();
  const permissions = new Permissions(cluster.client, { ttlMs: 60_000 });
  permissions.start();
  try {
    // The first list of namespaces drops every cached answer (namespaces were added): let it come first.
    await permissions.of({ user: 'nobody' }, []);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const list = [widgets, gadgets];
    const alice = await permissions.of({ user: 'alice', groups: ['team'] }, list);
    assert.equal(await permissions.of({ user: 'alice', groups: ['team'] }, [{ ...widgets }, { ...gadgets }]), alice, 'the same identity and resources');
    const bob = await permissions.of({ user: 'bob', groups: ['team'] }, list);
    assert.notEqual(bob, alice);
    assert.equal(alice.anywhere('get', widgets), true);
    assert.equal(bob.anywhere('get', widgets), false, 'bob has rights of his own');
    assert.notEqual(await permissions.of({ user: 'alice', groups: ['team', 'other'] }, list), alice, 'other groups: another identity');

    const reviewed = cluster.accessReviews.length;
    const widgetsOnly = await permissions.of({ user: 'alice', groups: ['team'] }, [widgets]);
    assert.notEqual(widgetsOnly, alice, 'another resource list: its own set');
    const asCluster = await permissions.of({ user: 'alice', groups: ['team'] }, [{ ...widgets, namespaced: false }, gadgets]);
    assert.notEqual(asCluster, alice, 'a resource whose scope changed: its own set');
    assert.ok(cluster.accessReviews.length > reviewed, 'a cluster-scoped resource is reviewed for every verb');

    permissions.invalidate();
    const rules = cluster.rulesReviews.length;
    const after = await permissions.of({ user: 'alice', groups: ['team'] }, list);
    assert.notEqual(after, alice, 'an RBAC change: computed again');
    assert.equal(cluster.rulesReviews.length, rules + 1);
  } finally {
    await permissions.stop();
  }
});

test('identity keys: identities that differ in any part never share a key (extra values or keys holding "," or "=")', async () => {
  const { identityKey } = await import('../../../src/auth/access-review.ts');
  const pairs: [Impersonation, Impersonation][] = [
    [{ user: 'u', extra: { scopes: ['read,write'] } }, { user: 'u', extra: { scopes: ['read', 'write'] } }],
    [{ user: 'u', extra: { 'a=b': ['c'] } }, { user: 'u', extra: { a: ['b=c'] } }],
    [{ user: 'u', extra: { a: ['1'], b: ['2'] } }, { user: 'u', extra: { a: ['1,b=2'] } }],
    [{ user: 'u', groups: ['g'] }, { user: 'u', extra: { g: [] } }],
    [{ user: 'u', uid: '' }, { user: 'u', uid: '""' }],
  ];
  for (const [a, b] of pairs) assert.notEqual(identityKey(a), identityKey(b), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
  // The same identity, written in another order, is one key.
  assert.equal(identityKey({ user: 'u', groups: ['b', 'a'], extra: { y: ['2', '1'], x: ['0'] } }), identityKey({ user: 'u', groups: ['a', 'b'], extra: { x: ['0'], y: ['1', '2'] } }));
});
