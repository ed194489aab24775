// The watch semantics crdgate's watch hub is built on (client-go reflector style): streaming the
// initial state with an end-of-initial-events bookmark, 410 Expired for a resourceVersion that is
// too old, and resuming from a list's resourceVersion without gaps or repeats.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { KubeApiError, KubeClient, type WatchEvent } from '../../src/kube/kube-client.ts';
import { requestWithHeaderLines } from '../helpers/header-lines-request.ts';
import { kubeErrorOf, rejectsWithStatus } from '../helpers/kube-status-assertions.ts';
import { kubeConfigFor } from '../helpers/test-cluster.ts';
import { testNamespaces } from '../helpers/test-namespaces.ts';

const group = 'stable.example.com';
const plural = 'crontabs';

interface CronTab {
  apiVersion: string;
  kind: string;
  metadata: { name: string; resourceVersion?: string; annotations?: Record<string, string> };
  spec?: { cronSpec?: string; replicas?: number };
}

interface KubeStatusEvent {
  type: string;
  object: { kind: string; code: number; reason: string; message: string };
}

describe('watch semantics on the real control plane', () => {
  const kc = kubeConfigFor('admin');
  const client = new KubeClient(kc);
  const objects = kc.makeApiClient(CustomObjectsApi);
  const namespaces = testNamespaces(kc);

  const path = (ns: string) => `/apis/${group}/v1/namespaces/${ns}/${plural}`;
  const create = (ns: string, name: string, replicas = 1) =>
    objects.createNamespacedCustomObject({ group, version: 'v1', namespace: ns, plural, body: { apiVersion: `${group}/v1`, kind: 'CronTab', metadata: { name }, spec: { cronSpec: '* * * * *', replicas } } }) as Promise<CronTab>;
  const setReplicas = (ns: string, name: string, replicas: number) =>
    objects.patchNamespacedCustomObject({ group, version: 'v1', namespace: ns, plural, name, body: [{ op: 'replace', path: '/spec/replicas', value: replicas }] }) as Promise<CronTab>;
  const remove = (ns: string, name: string) => objects.deleteNamespacedCustomObject({ group, version: 'v1', namespace: ns, plural, name });
  const summary = (events: WatchEvent<CronTab>[]) => events.map((e) => `${e.type} ${e.object.metadata?.name ?? ''}`).join(', ');

  /** Watches until `done` says the events so far are enough (then stops the watch), or fails at the deadline. */
  async function watchUntil(ns: string, query: Record<string, string | boolean>, done: (events: WatchEvent<CronTab>[]) => boolean, timeoutMs = 15_000): Promise<WatchEvent<CronTab>[]> {
    const events: WatchEvent<CronTab>[] = [];
    const stop = new AbortController();
    const deadline = setTimeout(() => stop.abort(), timeoutMs);
    let ended: unknown;
    try {
      await client.watch<CronTab>(path(ns), {
        query,
        signal: stop.signal,
        onEvent: (e) => {
          events.push(e);
          if (done(events)) stop.abort();
        },
      });
      ended = new Error('the server ended the watch');
    } catch (err) {
      if (!(err instanceof KubeApiError && err.reason === 'Canceled')) throw err;
    } finally {
      clearTimeout(deadline);
    }
    if (!done(events)) throw new Error(`${ended ? 'the server ended the watch' : `no end after ${timeoutMs} ms`}; events: ${summary(events)}`);
    return events;
  }

  after(() => namespaces.deleteAll());

  describe('sendInitialEvents', () => {
    let ns = '';
    before(async () => {
      ns = await namespaces.create('cluster-watch-initial');
      for (const name of ['one', 'two', 'three']) await create(ns, name);
    });

    it('streams the current objects as ADDED, then a BOOKMARK annotated k8s.io/initial-events-end, then live changes', async () => {
      let change: Promise<unknown> | undefined;
      const events = await watchUntil(ns, { sendInitialEvents: true, resourceVersionMatch: 'NotOlderThan', allowWatchBookmarks: true }, (seen) => {
        const last = seen.at(-1);
        // A change made only once the initial state is complete must arrive after the bookmark.
        if (last?.type === 'BOOKMARK' && !change) change = setReplicas(ns, 'two', 5).catch((err: unknown) => err);

        return last?.type === 'MODIFIED';
      });
      assert.ok(!((await change) instanceof Error), String(await change));
      const bookmarkAt = events.findIndex((e) => e.type === 'BOOKMARK');
      assert.equal(bookmarkAt, 3, summary(events));
      assert.deepEqual(events.slice(0, 3).map((e) => e.type), ['ADDED', 'ADDED', 'ADDED']);
      assert.deepEqual(events.slice(0, 3).map((e) => e.object.metadata.name).sort(), ['one', 'three', 'two']);
      const bookmark = events[bookmarkAt]!.object;
      assert.equal(bookmark.metadata.annotations?.['k8s.io/initial-events-end'], 'true');
      assert.ok(bookmark.metadata.resourceVersion, 'the bookmark carries a resourceVersion');
      assert.deepEqual(events.slice(bookmarkAt + 1).map((e) => [e.type, e.object.metadata.name, e.object.spec?.replicas]), [['MODIFIED', 'two', 5]]);
    });

    it('is refused with 422 without resourceVersionMatch=NotOlderThan', async () => {
      const status = await rejectsWithStatus(client.watch(path(ns), { query: { sendInitialEvents: true, allowWatchBookmarks: true }, onEvent: () => {}, signal: AbortSignal.timeout(10_000) }), 422, 'Invalid');
      assert.equal(status.details?.causes?.[0]?.field, 'resourceVersionMatch');
    });
  });

  describe('a resourceVersion that is too old', () => {
    let ns = '';
    before(async () => {
      ns = await namespaces.create('cluster-watch-expired');
      await create(ns, 'present');
    });

    it('a watch from resourceVersion 1 ends with 410 Gone, reason Expired', async () => {
      let events = 0;
      const status = await rejectsWithStatus(client.watch(path(ns), { query: { resourceVersion: '1' }, onEvent: () => void events++, signal: AbortSignal.timeout(10_000) }), 410, 'Expired');
      assert.match(status.message ?? '', /too old resource version: 1 \(\d+\)/);
      assert.equal(events, 0);
    });

    it('the 410 arrives as an ERROR event on an HTTP 200 watch stream, not as an HTTP error', async () => {
      const res = await requestWithHeaderLines<KubeStatusEvent>('GET', `${path(ns)}?watch=true&resourceVersion=1`);
      assert.equal(res.status, 200);
      assert.equal(res.body.type, 'ERROR');
      assert.deepEqual([res.body.object.kind, res.body.object.code, res.body.object.reason], ['Status', 410, 'Expired']);
    });

    it('a list at resourceVersion 1 with resourceVersionMatch=Exact is served from etcd history until it is compacted', async () => {
      // The watch cache only keeps a short window, but an Exact list goes to etcd, which still has
      // revision 1 until the apiserver's periodic compaction (every 5 minutes by default). So this
      // is 200 with the state at revision 1 (before this namespace existed) in a young cluster,
      // and 410 Expired after a compaction.
      try {
        const list = await client.request<{ metadata: { resourceVersion: string }; items: CronTab[] }>('GET', path(ns), { query: { resourceVersion: '1', resourceVersionMatch: 'Exact' } });
        assert.equal(list.metadata.resourceVersion, '1');
        assert.deepEqual(list.items, []);
      } catch (err) {
        const e = kubeErrorOf(err);
        if (!e) throw err;
        assert.deepEqual([e.httpStatus, e.status.reason], [410, 'Expired'], JSON.stringify(e.status));
      }
    });
  });

  describe('resuming from a list', () => {
    let ns = '';
    before(async () => {
      ns = await namespaces.create('cluster-watch-resume');
    });

    it('a watch from a list\'s resourceVersion sees exactly the changes made after the list', async () => {
      await create(ns, 'kept', 1);
      await create(ns, 'removed', 1);
      const listed = await client.request<{ metadata: { resourceVersion: string }; items: CronTab[] }>('GET', path(ns));
      assert.deepEqual(listed.items.map((o) => o.metadata.name).sort(), ['kept', 'removed']);

      await create(ns, 'added', 1);
      await setReplicas(ns, 'kept', 2);
      await remove(ns, 'removed');
      // A last change marks the end: everything before it must have been delivered, in order.
      await create(ns, 'sentinel', 1);

      const events = await watchUntil(ns, { resourceVersion: listed.metadata.resourceVersion }, (seen) =>
        seen.some((e) => e.type === 'ADDED' && e.object.metadata.name === 'sentinel'));
      assert.deepEqual(events.map((e) => [e.type, e.object.metadata.name]), [
        ['ADDED', 'added'],
        ['MODIFIED', 'kept'],
        ['DELETED', 'removed'],
        ['ADDED', 'sentinel'],
      ]);
      assert.equal(events[1]!.object.spec?.replicas, 2);
    });
  });

  describe('many watches of one client', () => {
    it('300 watches at once each get their events: none waits unsent for a socket', async () => {
      const ns = await namespaces.create('cluster-watch-many');
      const stop = new AbortController();
      const seen = new Set<number>();
      let opened = 0;
      const watches = Array.from({ length: 300 }, (_, i) => client.watch<CronTab>(path(ns), {
        query: { allowWatchBookmarks: false },
        onOpen: () => void opened++,
        onEvent: (e) => {
          if (e.type === 'ADDED') seen.add(i);
        },
        signal: stop.signal,
      }).catch(() => {}));
      try {
        const until = Date.now() + 20_000;
        while (opened < 300 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
        assert.equal(opened, 300, 'every watch is open');
        await create(ns, 'seen-by-all');
        while (seen.size < 300 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
        assert.equal(seen.size, 300, 'every watch got the ADDED');
      } finally {
        stop.abort();
        await Promise.all(watches);
      }
    });
  });
});
