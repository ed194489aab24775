// The example CronTab CRD on the real control plane: established, discoverable the way crdgate's
// catalog expects, and served with the list/watch/selector/conversion behaviour crdgate builds on.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ApiextensionsV1Api, CustomObjectsApi, Watch } from '@kubernetes/client-node';
import { KubeClient } from '../../src/kube/kube-client.ts';
import { kubernetesVersion } from '../../src/local-cluster/build-launcher.ts';
import { rejectsWithStatus } from '../helpers/kube-status-assertions.ts';
import { pollUntil } from '../helpers/poll-until.ts';
import { kubeConfigFor, kubectl, testCluster } from '../helpers/test-cluster.ts';
import { testNamespaces } from '../helpers/test-namespaces.ts';

const group = 'stable.example.com';
const plural = 'crontabs';

interface CronTab {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; uid?: string; resourceVersion?: string; labels?: Record<string, string> };
  spec?: { cronSpec?: string; image?: string; replicas?: number };
}

interface CronTabList {
  apiVersion: string;
  kind: string;
  metadata: { resourceVersion: string };
  items: CronTab[];
}

interface APIResource {
  name: string;
  singularName: string;
  namespaced: boolean;
  kind: string;
  group?: string;
  version?: string;
  verbs: string[];
  shortNames?: string[];
}

interface APIGroupDiscovery {
  metadata: { name: string };
  versions: {
    version: string;
    resources: {
      resource: string;
      responseKind: { group: string; version: string; kind: string };
      scope: string;
      singularResource: string;
      verbs: string[];
      shortNames?: string[];
      subresources?: { subresource: string; responseKind: { group: string; version: string; kind: string }; verbs: string[] }[];
    }[];
  }[];
}

function cronTab(name: string, spec: CronTab['spec'], labels?: Record<string, string>, version = 'v1'): CronTab {
  return { apiVersion: `${group}/${version}`, kind: 'CronTab', metadata: { name, ...(labels ? { labels } : {}) }, spec };
}

const names = (list: CronTabList) => list.items.map((o) => o.metadata.name).sort();

describe('the CronTab CRD on the real control plane', () => {
  const kc = kubeConfigFor('admin');
  const objects = kc.makeApiClient(CustomObjectsApi);
  const client = new KubeClient(kc);
  const namespaces = testNamespaces(kc);
  let ns = '';

  const create = (body: CronTab, version = 'v1') =>
    objects.createNamespacedCustomObject({ group, version, namespace: ns, plural, body }) as Promise<CronTab>;
  const list = (query: { labelSelector?: string; fieldSelector?: string } = {}, version = 'v1') =>
    objects.listNamespacedCustomObject({ group, version, namespace: ns, plural, ...query }) as Promise<CronTabList>;

  before(async () => {
    ns = await namespaces.create('cluster-crd');
  });
  after(() => namespaces.deleteAll());

  it('is Established with its names accepted, v1 the storage version and v2 served', async () => {
    const crd = await kc.makeApiClient(ApiextensionsV1Api).readCustomResourceDefinition({ name: `${plural}.${group}` });
    const condition = (type: string) => crd.status?.conditions?.find((c) => c.type === type)?.status;
    assert.equal(condition('Established'), 'True');
    assert.equal(condition('NamesAccepted'), 'True');
    assert.deepEqual(crd.status?.acceptedNames?.shortNames, ['ct']);
    assert.deepEqual(crd.status?.storedVersions, ['v1']);
    assert.deepEqual(crd.spec.versions.map((v) => [v.name, v.served, v.storage]), [['v1', true, true], ['v2', true, false]]);
    assert.equal(crd.spec.conversion?.strategy, 'None');
  });

  for (const version of ['v1', 'v2']) {
    it(`discovery of ${group}/${version} lists crontabs with kind, scope, short name, verbs and both subresources`, async () => {
      const doc = await client.request<{ kind: string; groupVersion: string; resources: APIResource[] }>('GET', `/apis/${group}/${version}`);
      assert.equal(doc.kind, 'APIResourceList');
      assert.equal(doc.groupVersion, `${group}/${version}`);
      const byName = new Map(doc.resources.map((r) => [r.name, r]));
      const main = byName.get('crontabs');
      assert.ok(main, `crontabs missing from ${doc.resources.map((r) => r.name).join(', ')}`);
      assert.equal(main.kind, 'CronTab');
      assert.equal(main.singularName, 'crontab');
      assert.equal(main.namespaced, true);
      assert.deepEqual(main.shortNames, ['ct']);
      assert.deepEqual([...main.verbs].sort(), ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch']);
      const status = byName.get('crontabs/status');
      assert.ok(status, 'crontabs/status missing');
      assert.equal(status.kind, 'CronTab');
      assert.deepEqual([...status.verbs].sort(), ['get', 'patch', 'update']);
      const scale = byName.get('crontabs/scale');
      assert.ok(scale, 'crontabs/scale missing');
      assert.deepEqual([scale.group, scale.version, scale.kind], ['autoscaling', 'v1', 'Scale']);
      assert.deepEqual([...scale.verbs].sort(), ['get', 'patch', 'update']);
    });
  }

  it('the /apis group list names both versions, and prefers v2 by version priority rather than the storage version', async () => {
    const groups = await client.request<{ kind: string; groups: { name: string; versions: { groupVersion: string; version: string }[]; preferredVersion: { version: string } }[] }>('GET', '/apis');
    assert.equal(groups.kind, 'APIGroupList');
    const g = groups.groups.find((x) => x.name === group);
    assert.ok(g, `${group} missing from /apis`);
    assert.deepEqual(g.versions.map((v) => v.groupVersion).sort(), [`${group}/v1`, `${group}/v2`]);
    // Kubernetes orders CRD versions by kube-aware version priority (v2 > v1), whatever the
    // storage version is; crdgate must not assume "preferred" means "storage".
    assert.equal(g.preferredVersion.version, 'v2');
  });

  it('aggregated discovery (apidiscovery.k8s.io/v2) describes crontabs in both versions with their subresources', async () => {
    const doc = await client.request<{ kind: string; apiVersion: string; items: APIGroupDiscovery[] }>('GET', '/apis', {
      headers: { Accept: 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList' },
    });
    assert.equal(doc.kind, 'APIGroupDiscoveryList');
    assert.equal(doc.apiVersion, 'apidiscovery.k8s.io/v2');
    const g = doc.items.find((x) => x.metadata.name === group);
    assert.ok(g, `${group} missing from aggregated discovery`);
    assert.deepEqual(g.versions.map((v) => v.version).sort(), ['v1', 'v2']);
    for (const v of g.versions) {
      const r = v.resources.find((x) => x.resource === plural);
      assert.ok(r, `crontabs missing from ${v.version}`);
      assert.deepEqual(r.responseKind, { group, version: v.version, kind: 'CronTab' });
      assert.equal(r.scope, 'Namespaced');
      assert.equal(r.singularResource, 'crontab');
      assert.deepEqual(r.shortNames, ['ct']);
      assert.ok(r.verbs.includes('watch') && r.verbs.includes('list') && r.verbs.includes('patch'), r.verbs.join(','));
      const subs = new Map((r.subresources ?? []).map((s) => [s.subresource, s]));
      assert.deepEqual([...subs.keys()].sort(), ['scale', 'status']);
      assert.deepEqual(subs.get('status')!.responseKind, { group, version: v.version, kind: 'CronTab' });
      assert.deepEqual(subs.get('scale')!.responseKind, { group: 'autoscaling', version: 'v1', kind: 'Scale' });
    }
  });

  it('creates, gets, lists and deletes a CronTab', async () => {
    const created = await create(cronTab('crud', { cronSpec: '*/1 * * * *', image: 'busybox', replicas: 1 }));
    assert.equal(created.metadata.namespace, ns);
    assert.ok(created.metadata.uid && created.metadata.resourceVersion);

    const got = await objects.getNamespacedCustomObject({ group, version: 'v1', namespace: ns, plural, name: 'crud' }) as CronTab;
    assert.equal(got.metadata.uid, created.metadata.uid);
    assert.deepEqual(got.spec, { cronSpec: '*/1 * * * *', image: 'busybox', replicas: 1 });

    const listed = await list();
    assert.equal(listed.kind, 'CronTabList');
    assert.ok(listed.metadata.resourceVersion);
    assert.ok(names(listed).includes('crud'));

    await objects.deleteNamespacedCustomObject({ group, version: 'v1', namespace: ns, plural, name: 'crud' });
    await rejectsWithStatus(objects.getNamespacedCustomObject({ group, version: 'v1', namespace: ns, plural, name: 'crud' }), 404, 'NotFound');
    assert.ok(!names(await list()).includes('crud'));
  });

  it('a watch sees ADDED, MODIFIED and DELETED for the object, in order', async () => {
    const from = (await list()).metadata.resourceVersion;
    const seen: { type: string; name: string; replicas: number | undefined }[] = [];
    let failed: unknown;
    const watch = new Watch(kc);
    const done = pollUntil('the DELETED event of watched', () => {
      if (failed) throw failed;
      return seen.some((e) => e.type === 'DELETED' && e.name === 'watched');
    }, { timeoutMs: 15_000, intervalMs: 20 });
    const abort = await watch.watch(`/apis/${group}/v1/namespaces/${ns}/${plural}`, { resourceVersion: from }, (type, obj: CronTab) => {
      seen.push({ type, name: obj.metadata.name, replicas: obj.spec?.replicas });
    }, (err: unknown) => {
      if (err) failed = err;
    });
    try {
      await create(cronTab('watched', { cronSpec: '* * * * *', replicas: 1 }));
      await objects.patchNamespacedCustomObject({ group, version: 'v1', namespace: ns, plural, name: 'watched', body: [{ op: 'replace', path: '/spec/replicas', value: 2 }] });
      await objects.deleteNamespacedCustomObject({ group, version: 'v1', namespace: ns, plural, name: 'watched' });
      await done;
    } finally {
      abort.abort();
    }
    assert.deepEqual(seen.filter((e) => e.name === 'watched'), [
      { type: 'ADDED', name: 'watched', replicas: 1 },
      { type: 'MODIFIED', name: 'watched', replicas: 2 },
      { type: 'DELETED', name: 'watched', replicas: 2 },
    ]);
  });

  describe('selectors', () => {
    before(async () => {
      await create(cronTab('sel-web-1', { cronSpec: '*/5 * * * *' }, { tier: 'web', track: 'stable' }));
      await create(cronTab('sel-web-2', { cronSpec: '0 * * * *' }, { tier: 'web', track: 'canary' }));
      await create(cronTab('sel-db-1', { cronSpec: '*/5 * * * *' }, { tier: 'db' }));
    });

    it('a label selector filters on the server (equality, inequality and set-based)', async () => {
      assert.deepEqual(names(await list({ labelSelector: 'tier=web' })), ['sel-web-1', 'sel-web-2']);
      assert.deepEqual(names(await list({ labelSelector: 'tier=web,track!=canary' })), ['sel-web-1']);
      assert.deepEqual(names(await list({ labelSelector: 'tier in (db),!track' })), ['sel-db-1']);
      assert.deepEqual(names(await list({ labelSelector: 'tier=none' })), []);
    });

    it('a field selector on the selectable field spec.cronSpec filters on the server', async () => {
      assert.deepEqual(names(await list({ fieldSelector: 'spec.cronSpec=*/5 * * * *' })), ['sel-db-1', 'sel-web-1']);
      assert.deepEqual(names(await list({ fieldSelector: 'spec.cronSpec=0 * * * *' })), ['sel-web-2']);
      // Field and label selectors combine, and the built-in metadata.name field works too.
      assert.deepEqual(names(await list({ fieldSelector: 'spec.cronSpec=*/5 * * * *', labelSelector: 'tier=web' })), ['sel-web-1']);
      assert.deepEqual(names(await list({ fieldSelector: 'metadata.name=sel-db-1' })), ['sel-db-1']);
      // The same selectable field is declared in v2, so it filters there too.
      assert.deepEqual(names(await list({ fieldSelector: 'spec.cronSpec=0 * * * *' }, 'v2')), ['sel-web-2']);
    });

    it('a field selector on a field that is not selectable is rejected with 400', async () => {
      const status = await rejectsWithStatus(list({ fieldSelector: 'spec.image=busybox' }), 400, 'BadRequest');
      assert.match(status.message ?? '', /field label not supported: spec\.image/);
    });
  });

  it('an object created as v1 is readable and listable as v2 (conversion None keeps the fields)', async () => {
    const created = await create(cronTab('converted', { cronSpec: '1 2 3 4 5', image: 'nginx', replicas: 3 }));
    const asV2 = await objects.getNamespacedCustomObject({ group, version: 'v2', namespace: ns, plural, name: 'converted' }) as CronTab;
    assert.equal(asV2.apiVersion, `${group}/v2`);
    assert.equal(asV2.kind, 'CronTab');
    assert.equal(asV2.metadata.uid, created.metadata.uid);
    assert.equal(asV2.metadata.resourceVersion, created.metadata.resourceVersion);
    assert.deepEqual(asV2.spec, created.spec);
    const listedV2 = await list({ fieldSelector: 'metadata.name=converted' }, 'v2');
    assert.equal(listedV2.apiVersion, `${group}/v2`);
    assert.deepEqual(listedV2.items.map((o) => o.apiVersion), [`${group}/v2`]);

    // And the other way: written as v2, stored as v1, read back as v1.
    const fromV2 = await create(cronTab('converted-back', { cronSpec: '5 4 * * *', replicas: 1 }, undefined, 'v2'), 'v2');
    assert.equal(fromV2.apiVersion, `${group}/v2`);
    const asV1 = await objects.getNamespacedCustomObject({ group, version: 'v1', namespace: ns, plural, name: 'converted-back' }) as CronTab;
    assert.equal(asV1.apiVersion, `${group}/v1`);
    assert.deepEqual(asV1.spec, { cronSpec: '5 4 * * *', replicas: 1 });
  });

  it('`kubectl get ct` shows the printer columns and the object', async () => {
    await create(cronTab('printed', { cronSpec: '*/7 * * * *', image: 'alpine', replicas: 4 }));
    const out = await kubectl(['get', 'ct', '-n', ns, 'printed']);
    assert.equal(out.code, 0, out.stderr);
    const [header, row, ...rest] = out.stdout.trimEnd().split('\n');
    assert.deepEqual(header?.trim().split(/\s{2,}/), ['NAME', 'SPEC', 'REPLICAS', 'AGE']);
    assert.deepEqual(rest, []);
    const cells = row?.trim().split(/\s{2,}/) ?? [];
    assert.deepEqual(cells.slice(0, 3), ['printed', '*/7 * * * *', '4']);
    assert.match(cells[3] ?? '', /^\d+s$/);

    // Listing the namespace shows it among the others under the same columns.
    const all = await kubectl(['get', 'ct', '-n', ns]);
    assert.equal(all.code, 0, all.stderr);
    assert.match(all.stdout, /^NAME\s+SPEC\s+REPLICAS\s+AGE\n/);
    assert.match(all.stdout, /\nprinted\s+\*\/7 \* \* \* \*\s+4\s+\d+s\n/);
  });

  it('`kubectl version` reports the server as the release the launcher was built from', async () => {
    const release = /\bv\d+\.\d+\.\d+\b/.exec(testCluster().version)?.[0];
    assert.ok(release, `no release in cluster.json version "${testCluster().version}"`);
    assert.match(release, /^v1\.37\.\d+$/);
    assert.equal(release, kubernetesVersion(), 'cluster.json and test/cluster/go.mod disagree');
    const out = await kubectl(['version', '-o', 'json']);
    assert.equal(out.code, 0, out.stderr);
    const v = JSON.parse(out.stdout) as { clientVersion: { gitVersion: string }; serverVersion: { gitVersion: string; major: string; minor: string } };
    assert.equal(v.serverVersion.gitVersion, release);
    assert.equal(`v${v.serverVersion.major}.${v.serverVersion.minor}`, release.replace(/\.\d+$/, ''));
    assert.equal(v.clientVersion.gitVersion, release);
  });
});
