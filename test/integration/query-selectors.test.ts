// Selectors on a list answered from the shared cache are matched by the gateway: they must pick
// exactly what the apiserver picks for the same list (consistency: STRONG), escapes, empty values
// and 64-bit label comparisons included.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { createGateway, type Gateway } from '../../src/gateway.ts';
import { KubeClient } from '../../src/kube/kube-client.ts';
import { gql } from '../helpers/graphql-client.ts';
import { kubeConfigFor, kubectl } from '../helpers/test-cluster.ts';
import { testNamespaces } from '../helpers/test-namespaces.ts';

describe('selectors of cached lists, as the apiserver reads them', () => {
  const namespaces = testNamespaces();
  let gateway: Gateway;
  let url: string;
  let ns = '';

  before(async () => {
    ns = await namespaces.create('sel');
    const crontab = (name: string, labels: Record<string, string>, spec: Record<string, unknown>) =>
      ({ apiVersion: 'stable.example.com/v1', kind: 'CronTab', metadata: { name, namespace: ns, labels }, spec: { image: 'x', ...spec } });
    const docs = [
      crontab('comma', { n: '9007199254740993' }, { cronSpec: '0,30 * * * *' }),
      crontab('plain', { n: '9007199254740992' }, { cronSpec: '5 * * * *' }),
      crontab('nospec', { n: '99999999999999999999' }, {}),
    ];
    const r = await kubectl(['apply', '-f', '-'], { input: docs.map((d) => JSON.stringify(d)).join('\n---\n') });
    assert.equal(r.code, 0, r.stderr);
    gateway = await createGateway({ client: new KubeClient(kubeConfigFor('admin')), explorer: false });
    url = `http://127.0.0.1:${(((await gateway.listen(0)).address()) as AddressInfo).port}/graphql`;
  });

  after(async () => {
    await gateway?.stop();
    await namespaces.deleteAll();
  });

  async function names(consistency: 'CACHED' | 'STRONG', selectors: { labelSelector?: string; fieldSelector?: string }) {
    const r = await gql(url, `query($ns: String, $l: String, $f: String, $c: ListConsistency) {
      cronTabList_v1_stable_example_com(namespace: $ns, labelSelector: $l, fieldSelector: $f, consistency: $c) { edges { node { metadata { name } } } } }`,
    { ns, l: selectors.labelSelector, f: selectors.fieldSelector, c: consistency });
    if (r.errors) return { error: r.errors.map((e) => e.extensions?.['code']) };
    return (r.data as any).cronTabList_v1_stable_example_com.edges.map((e: any) => e.node.metadata.name).sort();
  }

  for (const selectors of [
    { fieldSelector: 'spec.cronSpec=0\\,30 * * * *' },
    { fieldSelector: 'spec.cronSpec=' },
    { fieldSelector: 'spec.cronSpec!=x,' },
    { fieldSelector: 'metadata.name=x=y' },
    { fieldSelector: 'metadata.name=comma\\' },
    // Kubernetes trims no blank: around a field name it makes another name, in a value it is part of it.
    { fieldSelector: ' metadata.name=comma' },
    { fieldSelector: 'metadata.name = comma' },
    { fieldSelector: 'metadata.name=comma ' },
    { fieldSelector: 'metadata.name!= comma' },
    { fieldSelector: '  ' },
    { fieldSelector: 'metadata.name=comma, ' },
    { labelSelector: 'n>9007199254740992' },
    { labelSelector: 'n<9007199254740993' },
    { labelSelector: 'n>5' },
    { labelSelector: 'n>9223372036854775808' },
  ]) {
    it(`answers ${JSON.stringify(selectors)} from the cache as the apiserver does`, async () => {
      const strong = await names('STRONG', selectors);
      assert.deepEqual(await names('CACHED', selectors), strong);
    });
  }
});
