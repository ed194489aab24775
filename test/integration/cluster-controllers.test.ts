// The controller-manager the launcher runs makes the cluster finish what the apiserver only starts:
// namespace deletion (the "kubernetes" finalizer) and garbage collection through ownerReferences.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { KubeClient } from '../../src/kube/kube-client.ts';
import { kubeErrorOf, rejectsWithStatus } from '../helpers/kube-status-assertions.ts';
import { pollUntil } from '../helpers/poll-until.ts';
import { kubeConfigFor, uniqueName } from '../helpers/test-cluster.ts';
import { testNamespaces } from '../helpers/test-namespaces.ts';

const group = 'stable.example.com';
const plural = 'crontabs';
const apiVersion = `${group}/v1`;
// The garbage collector notices a new custom resource type on its periodic discovery resync
// (every 30 s), so the first cascade after the CRDs were installed may take that long.
const gcDeadline = { timeoutMs: 60_000, intervalMs: 200 };

interface CronTab {
  metadata: {
    name: string;
    uid: string;
    deletionTimestamp?: string;
    finalizers?: string[];
    ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string; blockOwnerDeletion?: boolean }[];
  };
}

describe('the controller-manager', () => {
  const kc = kubeConfigFor('admin');
  const core = kc.makeApiClient(CoreV1Api);
  const objects = kc.makeApiClient(CustomObjectsApi);
  const client = new KubeClient(kc);
  const namespaces = testNamespaces(kc);

  after(() => namespaces.deleteAll());

  it('finishes deleting a namespace that contains a CronTab', async () => {
    // Not from testNamespaces: this test deletes it and waits for it.
    const ns = uniqueName('cluster-ns-delete');
    await core.createNamespace({ body: { metadata: { name: ns } } });
    try {
      await objects.createNamespacedCustomObject({ group, version: 'v1', namespace: ns, plural, body: { apiVersion, kind: 'CronTab', metadata: { name: 'inside' }, spec: { replicas: 1 } } });
      // Only the namespace controller removes this finalizer, so without it the namespace would
      // stay Terminating forever.
      assert.deepEqual((await core.readNamespace({ name: ns })).spec?.finalizers, ['kubernetes']);

      await core.deleteNamespace({ name: ns });
      await pollUntil(`namespace ${ns} to be gone`, async () => {
        try {
          const current = await core.readNamespace({ name: ns });
          assert.equal(current.status?.phase, 'Terminating');
          return false;
        } catch (err) {
          if (kubeErrorOf(err)?.httpStatus === 404) return true;
          throw err;
        }
      }, { timeoutMs: 30_000, intervalMs: 200 });
      const left = await objects.listNamespacedCustomObject({ group, version: 'v1', namespace: ns, plural }) as { items: unknown[] };
      assert.deepEqual(left.items, []);
    } finally {
      await core.deleteNamespace({ name: ns }).catch(() => {});
    }
  });

  describe('garbage collection of CronTabs owned by CronTabs', () => {
    let ns = '';
    before(async () => {
      ns = await namespaces.create('cluster-gc');
    });

    const item = (name: string) => `/apis/${group}/v1/namespaces/${ns}/${plural}/${name}`;
    const get = (name: string) => client.request<CronTab>('GET', item(name));
    const exists = async (name: string) => {
      try {
        await get(name);
        return true;
      } catch (err) {
        if (kubeErrorOf(err)?.httpStatus === 404) return false;
        throw err;
      }
    };
    const createCronTab = (name: string, metadata: Partial<CronTab['metadata']> = {}) =>
      client.request<CronTab>('POST', `/apis/${group}/v1/namespaces/${ns}/${plural}`, {
        body: { apiVersion, kind: 'CronTab', metadata: { name, ...metadata }, spec: { replicas: 1 } },
      });
    async function ownerAndDependent(prefix: string, dependentMeta: (owner: CronTab) => Partial<CronTab['metadata']> = () => ({})): Promise<{ owner: CronTab; dependent: CronTab }> {
      const owner = await createCronTab(`${prefix}-owner`);
      const ref = { apiVersion, kind: 'CronTab', name: owner.metadata.name, uid: owner.metadata.uid };
      const extra = dependentMeta(owner);
      const dependent = await createCronTab(`${prefix}-dependent`, { ...extra, ownerReferences: [{ ...ref, ...extra.ownerReferences?.[0] }] });
      return { owner, dependent };
    }
    const deleteWith = (name: string, propagationPolicy: 'Background' | 'Foreground' | 'Orphan') =>
      client.request('DELETE', item(name), { body: { apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy } });

    it('Background: the owner goes at once and the dependent follows', async () => {
      const { owner, dependent } = await ownerAndDependent('background');
      await deleteWith(owner.metadata.name, 'Background');
      await rejectsWithStatus(get(owner.metadata.name), 404, 'NotFound');
      await pollUntil('the dependent to be collected', async () => !(await exists(dependent.metadata.name)), gcDeadline);
    });

    it('Foreground: the owner waits, marked for deletion, until its blocking dependent is gone', async () => {
      const hold = `${group}/hold`;
      const { owner, dependent } = await ownerAndDependent('foreground', () => ({ finalizers: [hold], ownerReferences: [{ blockOwnerDeletion: true } as NonNullable<CronTab['metadata']['ownerReferences']>[0]] }));
      assert.equal(dependent.metadata.ownerReferences?.[0]?.blockOwnerDeletion, true);
      await deleteWith(owner.metadata.name, 'Foreground');

      // The collector deletes the dependent, which our finalizer keeps around for now.
      await pollUntil('the dependent to be marked for deletion', async () => (await get(dependent.metadata.name)).metadata.deletionTimestamp, gcDeadline);
      const waiting = await get(owner.metadata.name);
      assert.ok(waiting.metadata.deletionTimestamp, 'the owner is marked for deletion');
      assert.deepEqual(waiting.metadata.finalizers, ['foregroundDeletion']);

      await client.request('PATCH', item(dependent.metadata.name), { contentType: 'application/merge-patch+json', body: { metadata: { finalizers: null } } });
      await pollUntil('the dependent to be gone', async () => !(await exists(dependent.metadata.name)), gcDeadline);
      await pollUntil('the owner to be gone after its dependent', async () => !(await exists(owner.metadata.name)), gcDeadline);
    });

    it('Orphan: the owner goes and the dependent stays, without its ownerReference', async () => {
      const { owner, dependent } = await ownerAndDependent('orphan');
      await deleteWith(owner.metadata.name, 'Orphan');
      // The owner carries the orphan finalizer until the collector has released its dependents.
      await pollUntil('the owner to be gone', async () => !(await exists(owner.metadata.name)), gcDeadline);
      const kept = await get(dependent.metadata.name);
      assert.equal(kept.metadata.uid, dependent.metadata.uid);
      assert.equal(kept.metadata.deletionTimestamp, undefined);
      assert.deepEqual(kept.metadata.ownerReferences ?? [], []);
    });
  });
});
