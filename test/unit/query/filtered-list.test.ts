// Which source answers a filtered list, and what the caller gets: the cache cut to its namespaces,
// the apiserver (every page, as the caller) for STRONG, conditional rights, an unreached
// resourceVersion or Exact, and a bound on what the apiserver path reads.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from '../../../src/api-errors.ts';
import type { KubeList, KubeObject, ListArgs, OperationRequest } from '../../../src/contract/operations.ts';
import type { CallerContext } from '../../../src/contract/caller-context.ts';
import { parseOrderByText, parseWhere } from '../../../src/model/query-filter.ts';
import { cachedObjects, createFilteredLists, isQueryList, type CacheScope, type ListGuard } from '../../../src/service/filtered-list.ts';
import type { FeedHandlers } from '../../../src/service/query-cache-feed.ts';
import { QueryCaches } from '../../../src/service/query-cache.ts';
import { gadget } from './gadget-crd.ts';

const { resource, version } = gadget();
const obj = (namespace: string, name: string, size: number): KubeObject => ({ metadata: { namespace, name, resourceVersion: '5' }, spec: { size } });
const stored = ['a', 'b', 'c'].flatMap((ns) => Array.from({ length: 10 }, (_, i) => obj(ns, `o${i}`, i)));
type Req = OperationRequest<ListArgs, CallerContext>;

function setup(scope: CacheScope = { kind: 'all' }, apiserverObjects: KubeObject[] = stored) {
  const feeds: { key: string; h: FeedHandlers }[] = [];
  const timers: { fn: () => void; live: boolean }[] = [];
  const caches = new QueryCaches({
    feed: (key, h) => {
      feeds.push({ key: key.namespace ?? '*', h });
      for (const o of stored) if (!key.namespace || (o['metadata'] as { namespace: string }).namespace === key.namespace) h.apply('ADDED', o, '5');
      h.progress('100', true);
      return { stop: () => {} };
    },
    maxBytes: 1 << 20,
    idleMs: 60_000,
    timers: {
      now: () => 0,
      setTimer: (fn) => {
        const t = { fn, live: true };
        timers.push(t);
        return { cancel: () => { t.live = false; } };
      },
    },
  });
  const apiserverCalls: ListArgs[] = [];
  const inner = createFilteredLists({ caches, maxScan: 25 });
  const guard: ListGuard = {
    scope,
    apiserverList: async (req) => {
      apiserverCalls.push(req.args);
      const from = Number(req.args.continue ?? 0);
      const inScope = apiserverObjects.filter((o) => !req.namespace || (o['metadata'] as { namespace: string }).namespace === req.namespace);
      const items = inScope.slice(from, from + 10);
      const next = from + 10 < inScope.length ? String(from + 10) : undefined;
      return { metadata: { resourceVersion: '90', ...(next ? { continue: next } : {}) }, items } satisfies KubeList;
    },
  };
  const lists = { list: (req: Req) => inner.list(req, guard), counters: inner.counters };
  const req = (args: ListArgs, namespace?: string): Req => ({ resource, version, args, context: {}, ...(namespace ? { namespace } : {}) });
  return { caches, feeds, timers, lists, apiserverCalls, req };
}

const ids = (l: KubeList) => l.items.map((o) => `${(o['metadata'] as { namespace: string }).namespace}/${(o['metadata'] as { name: string }).name}`);
const where = (v: unknown) => parseWhere(v, version, 'kubernetes');

describe('filtered lists', () => {
  it('are lists with where, orderBy or consistency CACHED', () => {
    assert.equal(isQueryList({}), false);
    assert.equal(isQueryList({ consistency: 'STRONG' }), false);
    assert.equal(isQueryList({ orderBy: [] }), false);
    assert.equal(isQueryList({ consistency: 'CACHED' }), true);
    assert.equal(isQueryList({ where: where({}) }), true);
    assert.equal(isQueryList({ orderBy: parseOrderByText('spec.size', version) }), true);
  });

  it('answer from the cache, cut to the namespaces the caller may list, with counts, cursors and the store\'s resourceVersion', async () => {
    const s = setup({ kind: 'namespaces', namespaces: new Set(['a', 'c']) });
    const first = await s.lists.list(s.req({ where: where({ spec: { size: { gte: 7 } } }), orderBy: parseOrderByText('-spec.size', version), limit: 4 }));
    assert.deepEqual(ids(first), ['a/o9', 'c/o9', 'a/o8', 'c/o8']);
    assert.equal(first.metadata?.totalCount, 6);
    assert.equal(first.metadata?.remainingItemCount, 2);
    assert.equal(first.metadata?.resourceVersion, '100');
    assert.equal(first.cursors?.length, 4);
    assert.equal(first.metadata?.continue, first.cursors?.[3]);
    const rest = await s.lists.list(s.req({ where: where({ spec: { size: { gte: 7 } } }), orderBy: parseOrderByText('-spec.size', version), limit: 4, continue: first.metadata!.continue! }));
    assert.deepEqual(ids(rest), ['a/o7', 'c/o7']);
    assert.equal(rest.metadata?.continue, undefined);
    assert.equal(s.apiserverCalls.length, 0);
    assert.deepEqual(s.lists.counters, { fromCache: 2, fromApiserver: 0 });
  });

  it('serve one namespace from a running store of all namespaces, or start that namespace\'s own', async () => {
    const s = setup();
    assert.deepEqual(ids(await s.lists.list(s.req({ where: where({ spec: { size: { lt: 2 } } }) }, 'b'))), ['b/o0', 'b/o1']);
    assert.deepEqual(s.feeds.map((f) => f.key), ['b']);
    await s.lists.list(s.req({ consistency: 'CACHED' }));
    assert.deepEqual(ids(await s.lists.list(s.req({ where: where({ spec: { size: { lt: 1 } } }) }, 'c'))), ['c/o0']);
    assert.deepEqual(s.feeds.map((f) => f.key), ['b', '*'], 'c is served by the store of all namespaces');
  });

  it('start stores of at most 8 namespaces of a resource; lists of further namespaces (existing or not) share the store of all', async () => {
    const s = setup();
    const names = ['a', 'b', 'c', 'ghost-1', 'ghost-2', 'ghost-3', 'ghost-4', 'ghost-5'];
    for (const ns of names) await s.lists.list(s.req({ consistency: 'CACHED' }, ns));
    assert.deepEqual(s.feeds.map((f) => f.key), names);
    for (let i = 6; i < 100; i++) assert.deepEqual(ids(await s.lists.list(s.req({ consistency: 'CACHED' }, `ghost-${i}`))), []);
    assert.deepEqual(ids(await s.lists.list(s.req({ where: where({ spec: { size: { lt: 1 } } }) }, 'c'))), ['c/o0']);
    assert.deepEqual(s.feeds.map((f) => f.key), [...names, '*'], 'one more store (all namespaces), not 92');
  });

  it('go to the apiserver, every page of the caller\'s own list, for STRONG and for conditional rights', async () => {
    for (const [scope, args] of [[{ kind: 'all' }, { consistency: 'STRONG' }], [{ kind: 'apiserver' }, {}]] as [CacheScope, ListArgs][]) {
      const s = setup(scope, stored.slice(0, 20));
      const l = await s.lists.list(s.req({ ...args, where: where({ spec: { size: { eq: 3 } } }), labelSelector: 'x!=y', resourceVersion: '80' }));
      assert.deepEqual(ids(l), ['a/o3', 'b/o3']);
      assert.equal(l.metadata?.resourceVersion, '90');
      assert.deepEqual(s.apiserverCalls.map((c) => [c.limit, c.continue, c.resourceVersion, c.labelSelector]),
        [[500, undefined, '80', 'x!=y'], [500, '10', undefined, 'x!=y']], 'resourceVersion on the first page only');
      assert.equal(s.feeds.length, 0);
    }
  });

  it('refuse to read more than maxScan objects from the apiserver', async () => {
    const s = setup({ kind: 'apiserver' });
    await assert.rejects(s.lists.list(s.req({ where: where({}) })), (err: unknown) =>
      err instanceof ApiError && err.code === 'BAD_REQUEST' && err.details.reason === 'QueryTooLarge' && /more than 25 objects .*--query-max-scan/.test(err.message));
  });

  it('wait for a resourceVersion the store has not reached, then ask the apiserver; Exact always does', async () => {
    const s = setup({ kind: 'all' }, stored.slice(0, 20));
    const pending = s.lists.list(s.req({ where: where({}), resourceVersion: '150' }));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(s.apiserverCalls.length, 0, 'still waiting for the store');
    for (const t of s.timers.filter((x) => x.live)) t.fn();
    assert.equal((await pending).metadata?.resourceVersion, '90');
    assert.equal(s.apiserverCalls.length, 2);
    const reached = await s.lists.list(s.req({ where: where({}), resourceVersion: '60' }));
    assert.equal(reached.metadata?.resourceVersion, '100');
    await s.lists.list(s.req({ where: where({}), resourceVersion: '60', resourceVersionMatch: 'Exact' }));
    assert.equal(s.apiserverCalls.length, 4);
  });

  it('check selectors before reading anything, on either path', async () => {
    const s = setup();
    await assert.rejects(s.lists.list(s.req({ where: where({}), fieldSelector: 'spec.size=1' })), (err: unknown) => err instanceof ApiError && err.code === 'BAD_REQUEST');
    assert.equal(s.feeds.length + s.apiserverCalls.length, 0);
  });
});

describe('objects a running cache holds, for relations', () => {
  const key = { group: resource.group, version: version.name, plural: resource.plural };
  const names = (l: readonly KubeObject[] | undefined) => l?.map((o) => `${(o['metadata'] as { namespace: string }).namespace}/${(o['metadata'] as { name: string }).name}`).sort();

  it('start no store: without a running one there is no answer, and nothing is listed or watched', () => {
    const s = setup();
    assert.equal(cachedObjects(s.caches, key, true, 'a', { kind: 'all' }), undefined);
    assert.equal(cachedObjects(s.caches, key, true, undefined, { kind: 'all' }), undefined);
    assert.deepEqual(s.feeds, []);
    assert.deepEqual(s.caches.stats(), []);
  });

  it('read a namespace\'s own store, or the store of all namespaces, cut to the caller\'s scope', async () => {
    const s = setup();
    await s.lists.list(s.req({ consistency: 'CACHED' }, 'b'));
    assert.equal(names(cachedObjects(s.caches, key, true, 'b', { kind: 'all' }))?.length, 10);
    assert.equal(cachedObjects(s.caches, key, true, 'a', { kind: 'all' }), undefined, 'b\'s store holds nothing of a');
    await s.lists.list(s.req({ consistency: 'CACHED' }));
    assert.deepEqual(names(cachedObjects(s.caches, key, true, 'a', { kind: 'all' })), stored.slice(0, 10).map((o) => `a/${(o['metadata'] as { name: string }).name}`).sort());
    assert.equal(cachedObjects(s.caches, key, true, undefined, { kind: 'all' })?.length, 30);
    const cut = cachedObjects(s.caches, key, true, undefined, { kind: 'namespaces', namespaces: new Set(['c']) });
    assert.deepEqual(new Set(names(cut)?.map((n) => n.split('/')[0])), new Set(['c']));
    assert.equal(cut?.length, 10);
    assert.equal(cachedObjects(s.caches, key, true, 'a', { kind: 'apiserver' }), undefined, 'conditional rights are the apiserver\'s to answer');
    assert.equal(s.feeds.length, 2);
  });
});
