// Discovery of the kinds the real apiserver serves, which relations resolve apiVersion/kind with:
// aggregated discovery and the per-group documents of older apiservers give the same answers, and
// a kind that is not found makes discovery be asked again only after the injected clock says so.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { KubeClient, type RequestOptions } from '../../src/kube/kube-client.ts';
import { ApiDiscovery } from '../../src/service/api-discovery.ts';
import { kubeConfigFor } from '../helpers/test-cluster.ts';

function countingClient(paths: string[]): KubeClient {
  const client = new KubeClient(kubeConfigFor('admin'));
  const request = client.request.bind(client);
  client.request = (<T>(method: Parameters<KubeClient['request']>[0], path: string, opts?: RequestOptions): Promise<T> => {
    paths.push(path);
    return request<T>(method, path, opts);
  }) as KubeClient['request'];
  return client;
}

describe('API discovery', () => {
  for (const aggregated of [true, false]) {
    it(`resolves core, built-in and custom kinds (${aggregated ? 'aggregated discovery' : 'per-group documents'})`, async () => {
      const discovery = new ApiDiscovery(new KubeClient(kubeConfigFor('admin')), { aggregated });
      assert.deepEqual(await discovery.resolve('v1', 'ConfigMap'), { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true });
      assert.deepEqual(await discovery.resolve('v1', 'Namespace'), { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false });
      assert.deepEqual(await discovery.resolve('apps/v1', 'Deployment'), { group: 'apps', version: 'v1', plural: 'deployments', kind: 'Deployment', namespaced: true });
      assert.deepEqual(await discovery.resolve('stable.example.com/v1', 'CronTab'), { group: 'stable.example.com', version: 'v1', plural: 'crontabs', kind: 'CronTab', namespaced: true });
      // A version that is not served: the group's preferred version of the kind.
      assert.equal((await discovery.resolve('stable.example.com/v9', 'CronTab'))?.version, 'v2');
      assert.equal((await discovery.resolve('stable.example.com/v1', 'ClusterCronTab'))?.namespaced, false);
      assert.equal(await discovery.resolve('nope.example.com/v1', 'Nope'), undefined);
      assert.equal(await discovery.resolve('a/b/c', 'ConfigMap'), undefined);
      assert.deepEqual((await discovery.byKind('Event')).map((r) => `${r.group}/${r.version}`), ['/v1', 'events.k8s.io/v1']);
      assert.deepEqual(await discovery.byKind('Nope'), []);
    });
  }

  it('asks again for a kind it does not know only after missRefreshMs, and for everything after maxAgeMs', async () => {
    const paths: string[] = [];
    let now = 1_000_000;
    const discovery = new ApiDiscovery(countingClient(paths), { now: () => now, missRefreshMs: 2_000, maxAgeMs: 60_000 });
    await discovery.resolve('v1', 'ConfigMap');
    assert.deepEqual(paths, ['/api', '/apis']);
    await discovery.resolve('apps/v1', 'Deployment');
    await discovery.resolve('nope.example.com/v1', 'Nope');
    assert.equal(paths.length, 2, 'a miss right after loading asks nothing');
    now += 2_000;
    await discovery.resolve('nope.example.com/v1', 'Nope');
    assert.equal(paths.length, 4, 'a miss later asks again');
    await discovery.resolve('v1', 'ConfigMap');
    assert.equal(paths.length, 4);
    now += 60_000;
    await discovery.resolve('v1', 'ConfigMap');
    assert.equal(paths.length, 6, 'an old answer is renewed');
    const [a, b] = await Promise.all([(now += 60_000, discovery.resolve('v1', 'Pod')), discovery.resolve('v1', 'Service')]);
    assert.deepEqual([a?.plural, b?.plural], ['pods', 'services']);
    assert.equal(paths.length, 8, 'lookups at the same time share one load');
  });
});
