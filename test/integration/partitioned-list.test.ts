// A list across the namespaces a caller may list, stitched from one list per namespace, is one
// snapshot: with writes in every namespace between the partial lists, no item is newer than the
// list's resourceVersion, nothing written meanwhile is in it, and a watch from that
// resourceVersion gets every one of those writes — on the real apiserver.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { CallerContext } from '../../src/contract/caller-context.ts';
import type { KubeList, KubeObject, ListArgs, OperationRequest } from '../../src/contract/operations.ts';
import { KubeClient } from '../../src/kube/kube-client.ts';
import { loadFile } from '../../src/kube/kube-config.ts';
import { decodePosition, partitionedList } from '../../src/service/partitioned-list.ts';
import { ResourceService } from '../../src/service/resource-service.ts';
import { testCluster, uniqueName } from '../helpers/test-cluster.ts';

const kube = new KubeClient(loadFile(testCluster().kubeconfig));
const service = new ResourceService(kube);
const namespaces = [uniqueName('plist-a'), uniqueName('plist-b'), uniqueName('plist-c')];

type CronTab = { metadata: { name: string; namespace: string; resourceVersion: string }; spec?: { replicas?: number } };
const path = (ns: string, name?: string) => `/apis/stable.example.com/v1/namespaces/${ns}/crontabs${name ? `/${name}` : ''}`;
const create = (ns: string, name: string) => kube.request<CronTab>('POST', path(ns), {
  body: { apiVersion: 'stable.example.com/v1', kind: 'CronTab', metadata: { name }, spec: { cronSpec: '@hourly', replicas: 1 } },
});

function request(args: ListArgs): OperationRequest<ListArgs, CallerContext> {
  // The service builds the path from group, plural, scope and version name only.
  return {
    resource: { group: 'stable.example.com', plural: 'crontabs', scope: 'Namespaced' } as OperationRequest<ListArgs, CallerContext>['resource'],
    version: { name: 'v1' } as OperationRequest<ListArgs, CallerContext>['version'],
    args,
    context: {},
  };
}

/** Objects per namespace, in pairs keep-i and drop-i: enough for every round of writes of the tests. */
const pairs = 20;
let round = 0;

/** The service, with a write in every namespace after each partial list: a create, a change and a delete. */
function writingBetweenLists() {
  const writes: { type: string; key: string; rv?: string }[] = [];
  return {
    writes,
    async list(req: OperationRequest<ListArgs, CallerContext>): Promise<KubeList> {
      const page = await service.list(req);
      round++;
      for (const ns of namespaces) {
        const made = await create(ns, `new-${round}`);
        writes.push({ type: 'ADDED', key: `${ns}/new-${round}`, rv: made.metadata.resourceVersion });
        const changed = await kube.request<CronTab>('PATCH', path(ns, `keep-${round}`), { body: { spec: { replicas: 10 + round } }, contentType: 'application/merge-patch+json' });
        writes.push({ type: 'MODIFIED', key: `${ns}/keep-${round}`, rv: changed.metadata.resourceVersion });
        // A delete answers with a Status, without the revision of the deletion.
        await kube.request('DELETE', path(ns, `drop-${round}`));
        writes.push({ type: 'DELETED', key: `${ns}/drop-${round}` });
      }
      return page;
    },
  };
}

/** Watches every namespace from rv until `until` holds; returns each event as "TYPE ns/name". */
async function watchFrom(rv: string, until: (events: string[]) => boolean): Promise<string[]> {
  const events: string[] = [];
  const ac = new AbortController();
  const done = kube.watch<CronTab>('/apis/stable.example.com/v1/crontabs', {
    query: { resourceVersion: rv, allowWatchBookmarks: false },
    signal: ac.signal,
    onEvent: (e) => {
      if (!namespaces.includes(e.object.metadata.namespace)) return;
      events.push(`${e.type} ${e.object.metadata.namespace}/${e.object.metadata.name}`);
      if (until(events)) ac.abort();
    },
  }).catch(() => {});
  await done;
  return events;
}

before(async () => {
  for (const ns of namespaces) {
    await kube.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } } });
    for (let i = 1; i <= pairs; i++) {
      await create(ns, `keep-${i}`);
      await create(ns, `drop-${i}`);
    }
  }
});

after(async () => {
  for (const ns of namespaces) await kube.request('DELETE', `/api/v1/namespaces/${ns}`).catch(() => {});
});

function assertSnapshot(items: readonly KubeObject[], rv: string, writes: { key: string; rv?: string }[]): void {
  for (const o of items as unknown as CronTab[]) {
    assert.ok(BigInt(o.metadata.resourceVersion) <= BigInt(rv), `${o.metadata.namespace}/${o.metadata.name} at ${o.metadata.resourceVersion} is newer than the list (${rv})`);
  }
  const keys = new Set((items as unknown as CronTab[]).map((o) => `${o.metadata.namespace}/${o.metadata.name}`));
  for (const w of writes) if (w.rv) assert.ok(BigInt(w.rv) > BigInt(rv), 'the writes come after the snapshot');
  for (const w of writes.filter((x) => x.key.includes('/new-'))) assert.ok(!keys.has(w.key), `${w.key}, created after the snapshot, is not in it`);
  for (const w of writes.filter((x) => x.key.includes('/drop-'))) assert.ok(keys.has(w.key), `${w.key}, deleted after the snapshot, is still in it`);
}

test('one list: writes in every namespace between the partial lists are not in it, and a watch from its resourceVersion gets them all', async () => {
  const svc = writingBetweenLists();
  const list = await partitionedList(svc, request({}), namespaces);
  const rv = list.metadata!.resourceVersion!;
  assert.equal(list.items.length, 3 * 2 * pairs, 'every object of the three namespaces as they were');
  assertSnapshot(list.items, rv, svc.writes);
  assert.equal(svc.writes.length, 27, 'three rounds of writes in three namespaces');
  const expected = svc.writes.map((w) => `${w.type} ${w.key}`);
  const events = await watchFrom(rv, (e) => expected.every((x) => e.includes(x)));
  assert.deepEqual(events, expected, 'exactly the writes after the list, in order, nothing missed');
});

test('paged: every page reads the same snapshot, the continue token carries its resourceVersion', async () => {
  const svc = writingBetweenLists();
  const seen: KubeObject[] = [];
  let cont: string | undefined;
  let rv: string | undefined;
  for (let pages = 0; pages < 100; pages++) {
    const page = await partitionedList(svc, request({ limit: 10, ...(cont ? { continue: cont } : {}) }), namespaces);
    seen.push(...page.items);
    rv ??= page.metadata!.resourceVersion;
    assert.equal(page.metadata!.resourceVersion, rv, 'every page stands at the first page\'s resourceVersion');
    cont = page.metadata!.continue;
    if (!cont) break;
    assert.equal(decodePosition(cont).rv, rv);
  }
  assert.equal(cont, undefined);
  assert.equal(seen.length, 3 * 2 * pairs, 'as many objects as the snapshot held (each write created one and deleted one)');
  assert.equal(new Set((seen as unknown as CronTab[]).map((o) => `${o.metadata.namespace}/${o.metadata.name}`)).size, seen.length, 'no object twice');
  assertSnapshot(seen, rv!, svc.writes);
});
