// What relations read lists in pages and stops at --query-max-scan: a namespace of very many
// objects of a kind is refused after the bound, never read whole into the gateway.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from '../../../src/api-errors.ts';
import type { KubeClient } from '../../../src/kube/kube-client.ts';
import type { ApiResource } from '../../../src/service/api-discovery.ts';
import { kubeObjectReader } from '../../../src/service/object-reader.ts';

const configMaps = { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true } as ApiResource;

/** An apiserver of `n` ConfigMaps in one namespace that pages lists as Kubernetes does. */
function cluster(n: number) {
  const calls: Record<string, string | undefined>[] = [];
  const client = {
    request: async (_method: string, _path: string, opts: { query: Record<string, string | undefined> }) => {
      calls.push(opts.query);
      const from = Number(opts.query['continue'] ?? 0);
      const to = Math.min(n, from + Number(opts.query['limit']));
      const items = Array.from({ length: to - from }, (_, i) => ({ metadata: { name: `cm-${from + i}`, namespace: 'big' } }));
      return { items, metadata: to < n ? { continue: String(to) } : {} };
    },
  } as unknown as KubeClient;
  return { calls, client };
}

const context = {};

test('a list is read page by page, every object once, typed by its resource', async () => {
  const { calls, client } = cluster(1_234);
  const items = await kubeObjectReader(client).list(configMaps, 'big', { fieldSelector: 'a=b' }, context);
  assert.equal(items.length, 1_234);
  assert.equal(new Set(items.map((o) => (o['metadata'] as { name: string }).name)).size, 1_234);
  assert.deepEqual(items[0], { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm-0', namespace: 'big' } });
  assert.deepEqual(calls.map((q) => [q['limit'], q['continue'], q['fieldSelector']]), [['500', undefined, 'a=b'], ['500', '500', 'a=b'], ['500', '1000', 'a=b']]);
});

test('past maxScan objects the read is refused with QueryTooLarge, without reading the rest', async () => {
  const { calls, client } = cluster(100_000);
  await assert.rejects(kubeObjectReader(client, 1_000).list(configMaps, 'big', {}, context), (err: unknown) => {
    assert.ok(err instanceof ApiError && err.code === 'BAD_REQUEST' && err.details.reason === 'QueryTooLarge', String(err));
    assert.match(err.message, /^more than 1000 configmaps in namespace big would have to be read for this relation \(--query-max-scan\)/);
    return true;
  });
  assert.equal(calls.length, 3);
});
