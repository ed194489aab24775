// children(kind:) with tenants: a custom kind the tenant may not use is answered exactly as a kind
// the cluster does not serve (as the REST facade answers for such a resource), so the answer does
// not show which CRDs exist; nor does the choice between the groups that serve a kind name a group
// the tenant may not use. Built-in kinds are listed as the caller, and Kubernetes' refusal stays.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from '../../../src/api-errors.ts';
import { KubeApiError, type KubeClient } from '../../../src/kube/kube-client.ts';
import { Permissions } from '../../../src/auth/permissions.ts';
import { rbacOperations } from '../../../src/auth/rbac-operations.ts';
import { createHubOperations } from '../../../src/service/hub-operations.ts';
import type { ObjectRef } from '../../../src/contract/relations.ts';

const alice = { user: 'alice', groups: ['team'] };
const group = (name: string, resources: [string, string][]) => ({
  metadata: { name },
  versions: [{ version: 'v1', resources: resources.map(([resource, kind]) => ({ resource, responseKind: { kind }, scope: 'Namespaced' })) }],
});

/** Kubernetes as the gateway asks it: alice may list crontabs of stable.example.com in "team", nothing else. */
function fakeCluster(): KubeClient {
  const client = {
    server: 'https://k',
    async request(method: string, path: string, opts: { impersonate?: { user: string } } = {}) {
      if (path === '/api') return { kind: 'APIGroupDiscoveryList', items: [group('', [['configmaps', 'ConfigMap']])] };
      if (path === '/apis') {
        return { kind: 'APIGroupDiscoveryList', items: [
          group('stable.example.com', [['crontabs', 'CronTab']]),
          group('hidden.example.com', [['crontabs', 'CronTab'], ['gadgets', 'Gadget']]),
        ] };
      }
      if (path.endsWith('/selfsubjectrulesreviews')) {
        return { status: { resourceRules: [{ verbs: ['get', 'list', 'watch'], apiGroups: ['stable.example.com'], resources: ['crontabs'] }] } };
      }
      if (method === 'POST') return { status: { allowed: false } };
      if (path === '/api/v1/namespaces') return { items: [{ metadata: { name: 'team', resourceVersion: '1' } }], metadata: { resourceVersion: '1' } };
      if (path.startsWith('/apis/rbac.authorization.k8s.io/')) return { items: [], metadata: { resourceVersion: '1' } };
      if (opts.impersonate?.user === 'alice' && !path.startsWith('/apis/stable.example.com/')) {
        const plural = path.split('/').at(-1)!;
        throw new KubeApiError(403, { code: 403, reason: 'Forbidden', message: `${plural} is forbidden: User "alice" cannot list resource "${plural}" in the namespace "team"` });
      }
      return { items: [{ apiVersion: 'x/v1', kind: 'X', metadata: { name: 'child', namespace: 'team', uid: 'c1', ownerReferences: [{ uid: 'p1' }] } }] };
    },
    watch(_path: string, opts: { signal?: AbortSignal; onOpen?: () => void }) {
      opts.onOpen?.();
      return new Promise<void>((resolve) => opts.signal?.addEventListener('abort', () => resolve()));
    },
  };
  return client as unknown as KubeClient;
}

const parent: ObjectRef = { apiVersion: 'v1', kind: 'ConfigMap', name: 'p', namespace: 'team', uid: 'p1' };

async function withOperations(run: (children: (kind: string, apiVersion?: string, identity?: typeof alice | null) => Promise<unknown>) => Promise<void>): Promise<void> {
  const client = fakeCluster();
  const permissions = new Permissions(client, { ttlMs: 60_000 });
  permissions.start();
  const ops = createHubOperations(client);
  const rbac = rbacOperations(ops, permissions, { customResource: (g) => g.endsWith('.example.com') });
  try {
    await permissions.of({ user: 'nobody' }, []);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await run(async (kind, apiVersion, identity) => {
      const [answer] = await rbac.children({ args: { parents: [parent], kind, ...(apiVersion ? { apiVersion } : {}) }, context: identity === null ? {} : { identity: identity ?? alice } });
      if (!answer!.ok) {
        const e = answer!.error;
        assert.ok(e instanceof ApiError);
        return { code: e.code, message: e.message, details: e.details };
      }
      return answer!.value.map((o) => (o['metadata'] as { name: string }).name);
    });
  } finally {
    rbac.stopRechecks();
    await ops.hub.stop();
    await permissions.stop();
  }
}

test('a custom kind the tenant may not use is answered as one the cluster does not serve', async () => {
  await withOperations(async (children) => {
    assert.deepEqual(await children('Gadget'), await children('Nonexistent').then((a) => JSON.parse(JSON.stringify(a).replaceAll('Nonexistent', 'Gadget'))));
    assert.deepEqual(await children('Gadget'), { code: 'NOT_FOUND', message: 'the cluster serves no kind Gadget', details: { reason: 'KindNotServed', kind: 'Gadget' } });
    assert.deepEqual(await children('Gadget', 'hidden.example.com/v1'),
      { code: 'NOT_FOUND', message: 'the cluster serves no kind Gadget in hidden.example.com/v1', details: { reason: 'KindNotServed', kind: 'Gadget', group: 'hidden.example.com' } });
    assert.deepEqual(await children('Gadget', 'hidden.example.com/v1'), await children('Gizmo', 'hidden.example.com/v1').then((a) => JSON.parse(JSON.stringify(a).replaceAll('Gizmo', 'Gadget'))));
    assert.deepEqual(await children('CronTab', 'hidden.example.com/v1'),
      { code: 'NOT_FOUND', message: 'the cluster serves no kind CronTab in hidden.example.com/v1', details: { reason: 'KindNotServed', kind: 'CronTab', group: 'hidden.example.com' } });
  });
});

test('a kind two groups serve: only the group the tenant may use is a candidate, and none other is named', async () => {
  await withOperations(async (children) => {
    assert.deepEqual(await children('CronTab'), ['child']);
    assert.deepEqual(await children('CronTab', 'stable.example.com/v1'), ['child']);
    // Without tenants (no identity) both groups serve it: the caller must say which.
    const asGateway = await children('CronTab', undefined, null) as { code: string; message: string };
    assert.equal(asGateway.code, 'BAD_USER_INPUT');
    assert.match(asGateway.message, /stable\.example\.com\/v1, hidden\.example\.com\/v1|hidden\.example\.com\/v1, stable\.example\.com\/v1/);
  });
});

test('built-in kinds keep Kubernetes\' refusal; without tenants every kind is listed', async () => {
  await withOperations(async (children) => {
    const cm = await children('ConfigMap') as { code: string; message: string };
    assert.equal(cm.code, 'FORBIDDEN');
    assert.match(cm.message, /configmaps is forbidden/);
    assert.deepEqual(await children('Gadget', undefined, null), ['child']);
  });
});
