// The difference a relist finds after 410 Gone, on a control plane of its own whose etcd compacts
// every second and whose apiserver serves watches from etcd (no watch cache, which would still
// hold the events): the hub's watch is cut and held back until etcd has compacted its
// resourceVersion away, 3,000 objects change meanwhile, and the subscriber gets the whole difference — paged as
// its connection drains — in order, then the bookmark of the relist, then live events.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createGateway, type Gateway } from '../../src/gateway.ts';
import { KubeClient } from '../../src/kube/kube-client.ts';
import { startCompactingCluster, type CompactingCluster } from '../helpers/compacting-cluster.ts';
import { pollUntil } from '../helpers/poll-until.ts';
import { SseClient } from '../helpers/sse-client.ts';
import { openClient, Subscription, waitUntil } from '../helpers/subscription-client.ts';
import { cronTabPath as path, createIn, inParallel, listen, scaleIn, type CronTab } from '../helpers/crontab-writes.ts';

const WATCH = `subscription($ns: String) {
  watchCronTab_stable_example_com(namespace: $ns) { type resourceVersion object { metadata { name resourceVersion } spec { replicas } } }
}`;

describe('a relist after 410 on a control plane of its own', () => {
  let cc: CompactingCluster;
  let gateway: Gateway;
  let url: string;
  const ns = 'relist';
  /** While set, new watches of the apiserver wait for it (the test holds the hub's re-watch back). */
  let watchGate: PromiseWithResolvers<void> | undefined;
  /** Cuts the hub's current watch of CronTabs. */
  let cutWatch: (() => void) | undefined;

  before(async () => {
    cc = await startCompactingCluster('crdgate-relist-test-', ['--watch-cache=false']);
    await cc.client.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } } });
    const client = new KubeClient(cc.kc);
    const wrapped = Object.create(client) as KubeClient;
    wrapped.watch = async (p, opts) => {
      if (!p.includes('/crontabs')) return client.watch(p, opts);
      await watchGate?.promise;
      const cut = new AbortController();
      cutWatch = () => cut.abort(new Error('cut by the test'));
      return client.watch(p, { ...opts, signal: opts.signal ? AbortSignal.any([opts.signal, cut.signal]) : cut.signal });
    };
    gateway = await createGateway({ client: wrapped, watchGraceMs: 500, explorer: false });
    url = await listen(gateway);
  });

  after(async () => {
    await gateway?.stop();
    await cc?.stop();
  });

  // 5,000 writes take a while on a loaded machine: the runner's guard is raised, no assertion is about time.
  it('the difference of 3,000 objects arrives complete and in order, then the bookmark, then live events', { timeout: 900_000 }, async () => {
    await inParallel(2_000, 24, (i) => createIn(cc.client, ns, `k-${i}`));
    const client = openClient(url);
    const sub = new Subscription(client, WATCH, { ns });
    await waitUntil(() => gateway.operations.hub.stats().subscribers === 1 && cutWatch !== undefined, 10_000, 'the subscriber');
    // The hub's watch breaks and cannot come back until etcd has compacted past it.
    watchGate = Promise.withResolvers<void>();
    const listed = await cc.client.request<{ metadata: { resourceVersion: string } }>('GET', path(ns), { query: { limit: 1 } });
    cutWatch!();
    await inParallel(1_000, 24, (i) => createIn(cc.client, ns, `n-${i}`));
    await inParallel(1_000, 24, (i) => scaleIn(cc.client, ns, `k-${i}`, 9));
    await inParallel(1_000, 24, (i) => cc.client.request('DELETE', path(ns, `k-${1_000 + i}`)));
    await pollUntil('etcd to compact the hub\'s resourceVersion away', async () => {
      const answer = await cc.client.request('GET', path(ns), { query: { resourceVersion: listed.metadata.resourceVersion, resourceVersionMatch: 'Exact', limit: 1 } })
        .then(() => 'ok', (err: { status?: { code?: number } }) => err.status?.code);
      return answer === 410;
    }, { timeoutMs: 30_000 });
    assert.equal(sub.events.length, 0, 'nothing arrived while the watch was down');
    watchGate.resolve();
    watchGate = undefined;
    await sub.waitForEvents(3_001, 300_000);
    const diff = sub.events.slice(0, 3_000);
    const count = (type: string) => diff.filter((e) => e.type === type).length;
    assert.deepEqual([count('ADDED'), count('MODIFIED'), count('DELETED')], [1_000, 1_000, 1_000]);
    assert.equal(new Set(diff.map((e) => e.object!.metadata!.name)).size, 3_000, 'each object once');
    assert.ok(diff.filter((e) => e.type === 'MODIFIED').every((e) => e.object!.spec!['replicas'] === 9));
    // The synthesized events tell the resourceVersion from before the relist, from which a resume
    // replays the whole difference; the bookmark after them, the relist's.
    const at = new Set(diff.map((e) => e.resourceVersion));
    assert.equal(at.size, 1);
    const before = [...at][0]!;
    const bookmark = sub.events[3_000]!;
    assert.equal(bookmark.type, 'BOOKMARK');
    assert.ok(BigInt(before) < BigInt(bookmark.resourceVersion!), `the difference at ${before}, the relist at ${bookmark.resourceVersion}`);
    await createIn(cc.client, ns, 'after-relist');
    await sub.waitForEvents(3_002, 30_000);
    assert.deepEqual(sub.summary(3_001), ['ADDED after-relist']);
    assert.equal(sub.error, undefined);
    assert.equal(gateway.operations.hub.stats().slowConsumers, 0);
    await client.dispose();

    // A client cut anywhere inside the difference resumes from the resourceVersion of the last
    // event it got: it gets the whole difference again, then the bookmark and the live event,
    // over graphql-ws and over SSE (Last-Event-ID, as EventSource reconnects).
    const again = openClient(url);
    const resumed = new Subscription(again, `subscription($ns: String, $rv: String) {
      watchCronTab_stable_example_com(namespace: $ns, resourceVersion: $rv) { type resourceVersion object { metadata { name resourceVersion } spec { replicas } } }
    }`, { ns, rv: before });
    await resumed.waitForEvents(3_002, 300_000);
    assert.deepEqual(resumed.summary(), sub.summary().slice(0, 3_002), 'the difference, the bookmark, the live event');
    await again.dispose();
    const sse = new SseClient(`${url}/rest/stable.example.com/v1/namespaces/${ns}/crontabs?watch=true&allowWatchBookmarks=true`, { 'last-event-id': before });
    const replayed = await sse.waitForCount(3_001, ['ADDED', 'MODIFIED', 'DELETED'], 300_000);
    assert.equal(new Set(replayed.slice(0, 3_000).map((e) => e.json.object.metadata.name)).size, 3_000, 'the whole difference');
    assert.equal(replayed[3_000]!.json.object.metadata.name, 'after-relist');
    sse.close();
  });
});
