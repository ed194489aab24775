// How the real apiserver answers every kind of write crdgate exposes on custom resources: the
// patch content types (and the one it refuses), server-side apply ownership, optimistic
// concurrency, the status and scale subresources, dry runs and validation errors.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { KubeClient } from '../../src/kube/kube-client.ts';
import { rejectsWithStatus } from '../helpers/kube-status-assertions.ts';
import { kubeConfigFor } from '../helpers/test-cluster.ts';
import { testNamespaces } from '../helpers/test-namespaces.ts';

const group = 'stable.example.com';
const apiVersion = `${group}/v1`;

interface CronTab {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    labels?: Record<string, string>;
    managedFields?: { manager: string; operation: string; fieldsV1?: { 'f:spec'?: Record<string, unknown> } }[];
  };
  spec?: { cronSpec?: string; image?: string; replicas?: number };
  status?: { replicas?: number; labelSelector?: string };
}

interface Scale {
  apiVersion: string;
  kind: string;
  metadata: { name: string; resourceVersion?: string };
  spec: { replicas?: number };
  status: { replicas: number; selector?: string };
}

const mergePatch = 'application/merge-patch+json';
const jsonPatch = 'application/json-patch+json';
const applyPatch = 'application/apply-patch+yaml';

describe('writes to custom resources', () => {
  const kc = kubeConfigFor('admin');
  const client = new KubeClient(kc);
  const namespaces = testNamespaces(kc);
  let ns = '';

  const collection = () => `/apis/${group}/v1/namespaces/${ns}/crontabs`;
  const item = (name: string, sub = '') => `${collection()}/${name}${sub}`;
  const get = (name: string) => client.request<CronTab>('GET', item(name));
  const create = (name: string, spec: CronTab['spec'] = { cronSpec: '* * * * *', image: 'busybox', replicas: 1 }) =>
    client.request<CronTab>('POST', collection(), { body: { apiVersion, kind: 'CronTab', metadata: { name }, spec } });
  const patch = (name: string, contentType: string, body: unknown, query: Record<string, string | boolean> = {}) =>
    client.request<CronTab>('PATCH', item(name), { contentType, body, query });
  const ownersOf = (obj: CronTab, field: string) =>
    (obj.metadata.managedFields ?? []).filter((m) => m.fieldsV1?.['f:spec']?.[`f:${field}`] !== undefined).map((m) => `${m.manager}/${m.operation}`);

  before(async () => {
    ns = await namespaces.create('cluster-write');
  });
  after(() => namespaces.deleteAll());

  describe('patches', () => {
    it('a strategic-merge patch is refused with 415 UnsupportedMediaType, naming the accepted types', async () => {
      await create('smp');
      const status = await rejectsWithStatus(patch('smp', 'application/strategic-merge-patch+json', { spec: { image: 'nginx' } }), 415, 'UnsupportedMediaType');
      assert.equal(status.message, 'the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml');
      assert.equal((await get('smp')).spec?.image, 'busybox');
    });

    it('a merge patch (RFC 7386) sets, keeps and removes (null) fields', async () => {
      await create('merge');
      const patched = await patch('merge', mergePatch, { metadata: { labels: { tier: 'web' } }, spec: { image: 'nginx', cronSpec: null } });
      assert.deepEqual(patched.spec, { image: 'nginx', replicas: 1 });
      assert.deepEqual(patched.metadata.labels, { tier: 'web' });
      assert.deepEqual((await get('merge')).spec, { image: 'nginx', replicas: 1 });
    });

    it('a JSON patch (RFC 6902) applies its operations in order, and a failing test op rejects the whole patch with 422', async () => {
      await create('json');
      const patched = await patch('json', jsonPatch, [
        { op: 'test', path: '/spec/replicas', value: 1 },
        { op: 'replace', path: '/spec/replicas', value: 4 },
        { op: 'add', path: '/metadata/labels', value: { via: 'json-patch' } },
        { op: 'remove', path: '/spec/image' },
      ]);
      assert.deepEqual(patched.spec, { cronSpec: '* * * * *', replicas: 4 });
      assert.deepEqual(patched.metadata.labels, { via: 'json-patch' });

      await rejectsWithStatus(patch('json', jsonPatch, [
        { op: 'test', path: '/spec/replicas', value: 1 },
        { op: 'replace', path: '/spec/replicas', value: 9 },
      ]), 422, 'Invalid');
      assert.equal((await get('json')).spec?.replicas, 4);
    });

    it('server-side apply creates the object (201), records its field manager, and drops fields the manager stops applying (200)', async () => {
      const statuses: number[] = [];
      const onStatus = (s: number) => statuses.push(s);
      const ssa = (name: string, spec: CronTab['spec'], query: Record<string, string>) =>
        client.request<CronTab>('PATCH', item(name), { contentType: applyPatch, body: { apiVersion, kind: 'CronTab', metadata: { name }, spec }, query, onStatus });
      const applied = await ssa('ssa', { cronSpec: '0 0 * * *', image: 'busybox', replicas: 2 }, { fieldManager: 'team-a' });
      assert.deepEqual(applied.spec, { cronSpec: '0 0 * * *', image: 'busybox', replicas: 2 });
      assert.deepEqual(ownersOf(applied, 'replicas'), ['team-a/Apply']);
      const reapplied = await ssa('ssa', { cronSpec: '0 0 * * *', replicas: 3 }, { fieldManager: 'team-a' });
      assert.deepEqual(reapplied.spec, { cronSpec: '0 0 * * *', replicas: 3 });
      assert.equal(reapplied.metadata.uid, applied.metadata.uid);
      // A dry-run apply that would create answers as the real one would.
      await ssa('ssa-dry', { replicas: 1 }, { fieldManager: 'team-a', dryRun: 'All' });
      assert.deepEqual(statuses, [201, 200, 201]);
    });

    it('server-side apply needs a fieldManager (422)', async () => {
      const status = await rejectsWithStatus(patch('ssa', applyPatch, { apiVersion, kind: 'CronTab', metadata: { name: 'ssa' }, spec: { replicas: 1 } }), 422, 'Invalid');
      assert.equal(status.details?.causes?.[0]?.field, 'fieldManager');
    });

    it('a server-side apply conflict between two managers is 409 without force, and force takes the field over', async () => {
      await patch('contested', applyPatch, { apiVersion, kind: 'CronTab', metadata: { name: 'contested' }, spec: { image: 'busybox', replicas: 1 } }, { fieldManager: 'owner-1' });
      const status = await rejectsWithStatus(
        patch('contested', applyPatch, { apiVersion, kind: 'CronTab', metadata: { name: 'contested' }, spec: { replicas: 5 } }, { fieldManager: 'owner-2' }),
        409, 'Conflict');
      assert.equal(status.message, 'Apply failed with 1 conflict: conflict with "owner-1": .spec.replicas');
      assert.deepEqual(status.details?.causes, [{ reason: 'FieldManagerConflict', message: 'conflict with "owner-1"', field: '.spec.replicas' }]);
      assert.equal((await get('contested')).spec?.replicas, 1);

      const forced = await patch('contested', applyPatch, { apiVersion, kind: 'CronTab', metadata: { name: 'contested' }, spec: { replicas: 5 } }, { fieldManager: 'owner-2', force: true });
      assert.deepEqual(forced.spec, { image: 'busybox', replicas: 5 });
      assert.deepEqual(ownersOf(forced, 'replicas'), ['owner-2/Apply']);
      assert.deepEqual(ownersOf(forced, 'image'), ['owner-1/Apply']);
    });
  });

  describe('updates', () => {
    it('an update (PUT) with a stale resourceVersion is 409 Conflict', async () => {
      const original = await create('stale');
      await patch('stale', mergePatch, { spec: { replicas: 2 } });
      const status = await rejectsWithStatus(client.request('PUT', item('stale'), { body: { ...original, spec: { ...original.spec, replicas: 7 } } }), 409, 'Conflict');
      assert.match(status.message ?? '', /the object has been modified; please apply your changes to the latest version and try again/);
      assert.equal((await get('stale')).spec?.replicas, 2);
      // With the current resourceVersion the same update goes through.
      const current = await get('stale');
      const updated = await client.request<CronTab>('PUT', item('stale'), { body: { ...current, spec: { ...current.spec, replicas: 7 } } });
      assert.equal(updated.spec?.replicas, 7);
    });

    it('an update through /status changes status and ignores spec; a normal update ignores status', async () => {
      const created = await create('status');
      assert.equal(created.metadata.generation, 1);
      const viaStatus = await client.request<CronTab>('PUT', item('status', '/status'), {
        body: { ...created, spec: { ...created.spec, replicas: 9 }, status: { replicas: 3, labelSelector: 'app=status' } },
      });
      assert.deepEqual(viaStatus.status, { replicas: 3, labelSelector: 'app=status' });
      assert.equal(viaStatus.spec?.replicas, 1);
      assert.equal(viaStatus.metadata.generation, 1, 'a status write does not bump generation');

      const viaMain = await client.request<CronTab>('PUT', item('status'), {
        body: { ...viaStatus, spec: { ...viaStatus.spec, replicas: 2 }, status: { replicas: 0 } },
      });
      assert.equal(viaMain.spec?.replicas, 2);
      assert.deepEqual(viaMain.status, { replicas: 3, labelSelector: 'app=status' });
      assert.equal(viaMain.metadata.generation, 2);

      const stored = await get('status');
      assert.deepEqual([stored.spec?.replicas, stored.status?.replicas], [2, 3]);

      // A merge patch on /status behaves the same way.
      const patched = await client.request<CronTab>('PATCH', item('status', '/status'), { contentType: mergePatch, body: { spec: { replicas: 8 }, status: { replicas: 4 } } });
      assert.deepEqual([patched.spec?.replicas, patched.status?.replicas], [2, 4]);
    });

    it('the scale subresource reads and sets spec.replicas as an autoscaling/v1 Scale', async () => {
      await create('scaled', { cronSpec: '* * * * *', replicas: 2 });
      await client.request('PATCH', item('scaled', '/status'), { contentType: mergePatch, body: { status: { replicas: 1, labelSelector: 'app=scaled' } } });
      const scale = await client.request<Scale>('GET', item('scaled', '/scale'));
      assert.equal(scale.apiVersion, 'autoscaling/v1');
      assert.equal(scale.kind, 'Scale');
      assert.equal(scale.metadata.name, 'scaled');
      assert.deepEqual(scale.spec, { replicas: 2 });
      assert.deepEqual(scale.status, { replicas: 1, selector: 'app=scaled' });

      const updated = await client.request<Scale>('PUT', item('scaled', '/scale'), { body: { ...scale, spec: { replicas: 6 } } });
      assert.equal(updated.spec.replicas, 6);
      assert.equal((await get('scaled')).spec?.replicas, 6);

      const patched = await client.request<Scale>('PATCH', item('scaled', '/scale'), { contentType: mergePatch, body: { spec: { replicas: 0 } } });
      // autoscaling/v1 Scale declares replicas omitempty: zero replicas come back as no field at all.
      assert.deepEqual(patched.spec, {});
      assert.equal((await get('scaled')).spec?.replicas, 0);
    });
  });

  describe('creates', () => {
    it('dryRun=All returns the object as it would be created and persists nothing', async () => {
      const dry = await client.request<CronTab>('POST', collection(), {
        query: { dryRun: 'All' },
        body: { apiVersion, kind: 'CronTab', metadata: { name: 'dry' }, spec: { replicas: 1 } },
      });
      assert.equal(dry.metadata.name, 'dry');
      assert.deepEqual(dry.spec, { replicas: 1 });
      await rejectsWithStatus(get('dry'), 404, 'NotFound');
    });

    it('creating an existing name is 409 AlreadyExists', async () => {
      await create('twice');
      const status = await rejectsWithStatus(create('twice'), 409, 'AlreadyExists');
      assert.equal(status.message, `crontabs.${group} "twice" already exists`);
      assert.deepEqual([status.details?.name, status.details?.group, status.details?.kind], ['twice', group, 'crontabs']);
    });

    it('an object that does not match the schema is 422 Invalid, with causes naming the field', async () => {
      const status = await rejectsWithStatus(
        client.request('POST', collection(), { body: { apiVersion, kind: 'CronTab', metadata: { name: 'invalid' }, spec: { replicas: 'three' } } }),
        422, 'Invalid');
      assert.match(status.message ?? '', /^CronTab\.stable\.example\.com "invalid" is invalid: /);
      assert.deepEqual([status.details?.name, status.details?.kind], ['invalid', 'CronTab']);
      const cause = status.details?.causes?.find((c) => c.field === 'spec.replicas');
      assert.ok(cause, JSON.stringify(status.details?.causes));
      assert.equal((cause as { reason?: string }).reason, 'FieldValueTypeInvalid');
      assert.match(cause.message ?? '', /must be of type integer/);
      await rejectsWithStatus(get('invalid'), 404, 'NotFound');
    });
  });
});
