// RBAC reviews stay bounded and proportional to who is waiting: a soak test found 74,000 caller
// and 122,000 re-check reviews queued with no client connected, reviews of callers who had left
// still sent, and about 45 KB kept per distinct caller for good. These tests fail if a review
// whose askers have all gone is still sent, if the queue grows past its bound, if two askers of
// one answer cost two reviews, or if a caller's permissions outlive its TTL and its watches.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeClient } from '../../../src/kube/kube-client.ts';
import { Permissions } from '../../../src/auth/permissions.ts';
import { ReviewQueue } from '../../../src/auth/review-queue.ts';
import { ApiError } from '../../../src/api-errors.ts';
import type { ResourceRef } from '../../../src/contract/access.ts';

const widgets: ResourceRef = { group: 'a.example.com', plural: 'widgets', namespaced: true };
const settle = () => new Promise((resolve) => setImmediate(resolve));

/** Reviews that run until `end()`; `sent` counts those started. */
function heldReviews() {
  const running: (() => void)[] = [];
  let sent = 0;
  const review = () => new Promise<string>((resolve) => {
    sent++;
    running.push(() => resolve('answer'));
  });
  return { running, review, sent: () => sent };
}

test('the review queue: past maxWaiting, a caller\'s review is refused at once with UNAVAILABLE (retry in 1 s), never queued', { timeout: 3000 }, async () => {
  const q = new ReviewQueue({ concurrency: 2, maxWaiting: 3 });
  const h = heldReviews();
  const queued = Array.from({ length: 5 }, () => q.run('caller', h.review));
  assert.deepEqual(q.load, { pending: 3, active: 2 });
  await assert.rejects(q.run('caller', h.review), (err: unknown) =>
    err instanceof ApiError && err.code === 'UNAVAILABLE' && err.details.retryAfterSeconds === 1);
  assert.deepEqual(q.load, { pending: 3, active: 2 }, 'the refused review was not queued');
  assert.equal(q.stats.refused, 1);
  while (h.running.length) {
    h.running.shift()!();
    await settle();
  }
  assert.equal((await Promise.all(queued)).length, 5);
  assert.equal(h.sent(), 5);
});

test('the review queue: a waiting review whose asker has gone is dropped (CANCELLED) and never sent; a running one is aborted', { timeout: 3000 }, async () => {
  const q = new ReviewQueue({ concurrency: 1 });
  const h = heldReviews();
  const first = new AbortController();
  let runningSignal: AbortSignal | undefined;
  const running = q.run('caller', (signal) => {
    runningSignal = signal;
    return h.review();
  }, { signal: first.signal });
  const gone = new AbortController();
  const dropped = Array.from({ length: 10 }, (_, i) => q.run(i % 2 ? 'caller' : 'recheck', h.review, { signal: gone.signal }));
  const kept = q.run('caller', h.review);
  assert.equal(q.load.pending, 11);
  gone.abort();
  for (const d of dropped) await assert.rejects(d, (err: unknown) => err instanceof ApiError && err.code === 'CANCELLED');
  assert.equal(q.load.pending, 1, 'only the review someone waits for is left');
  first.abort();
  assert.equal(runningSignal?.aborted, true, 'the review in flight hears it (its HTTP call is aborted)');
  h.running.shift()!();
  await running;
  await settle();
  h.running.shift()!();
  assert.equal(await kept, 'answer');
  assert.equal(h.sent(), 2, 'the ten reviews nobody waited for were never sent');
  assert.equal(q.stats.dropped, 10);
  await assert.rejects(q.run('caller', h.review, { signal: gone.signal }), (err: unknown) => err instanceof ApiError && err.code === 'CANCELLED');
});

/** Kubernetes as Permissions asks it, answering reviews when the test says so; `namespaces` bind the users' group. */
function heldCluster(namespaces: string[]) {
  const held: (() => void)[] = [];
  let sent = 0;
  const rules = [{ verbs: ['get', 'list', 'watch'], apiGroups: ['a.example.com'], resources: ['widgets'] }];
  const client = {
    server: 'https://k',
    async request(method: string, path: string, opts: { signal?: AbortSignal }) {
      if (method === 'GET') {
        if (path.endsWith('/namespaces')) return { items: namespaces.map((name) => ({ metadata: { name, resourceVersion: '1' } })), metadata: { resourceVersion: '1' } };
        const bindings = path.endsWith('/rolebindings')
          ? namespaces.map((ns) => ({ metadata: { name: 'team', namespace: ns, resourceVersion: '1' }, subjects: [{ kind: 'Group', name: 'team' }], roleRef: { kind: 'ClusterRole', name: 'editor' } }))
          : [];
        return { items: bindings, metadata: { resourceVersion: '1' } };
      }
      sent++;
      await new Promise<void>((resolve, reject) => {
        held.push(resolve);
        opts.signal?.addEventListener('abort', () => reject(new ApiError('CANCELLED', 'aborted')));
      });
      // A fresh copy each time, as a parsed answer is.
      return path.endsWith('/selfsubjectrulesreviews') ? { status: { resourceRules: structuredClone(rules) } } : { status: { allowed: false } };
    },
    watch(_path: string, opts: { signal?: AbortSignal; onOpen?: () => void }) {
      opts.onOpen?.();
      return new Promise<void>((resolve) => opts.signal?.addEventListener('abort', () => resolve()));
    },
  };
  /** Answers every review sent, and those they lead to, until none comes within 10 ms. */
  const answerAll = async () => {
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      if (!held.length) return;
      while (held.length) {
        held.shift()!();
        await settle();
      }
    }
  };
  return { client: client as unknown as KubeClient, held, sent: () => sent, answerAll };
}

async function started(namespaces: string[], opts: { concurrency?: number; ttlMs?: number; now?: () => number } = {}) {
  const cluster = heldCluster(namespaces);
  const permissions = new Permissions(cluster.client, opts);
  permissions.start();
  await settle();
  await new Promise((resolve) => setTimeout(resolve, 20));
  return { cluster, permissions };
}

test('permissions: askers of the same answer share its reviews; when all have gone, its queued reviews are never sent', { timeout: 3000 }, async () => {
  const { cluster, permissions } = await started(['n1', 'n2', 'n3'], { concurrency: 1 });
  try {
    const alice = { user: 'alice', groups: ['team'] };
    const a = new AbortController();
    const b = new AbortController();
    const first = permissions.of(alice, [widgets], 'caller', a.signal);
    const second = permissions.of(alice, [widgets], 'caller', b.signal);
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(cluster.sent(), 1, 'one review in flight (one slot), the rest queued');
    a.abort();
    await assert.rejects(first, (err: unknown) => err instanceof ApiError && err.code === 'CANCELLED');
    await cluster.answerAll();
    const set = await second;
    assert.equal(set.namespacesWhere('list', widgets).length, 3, 'the asker still waiting got the answer');
    // Three bound namespaces + one standing for the rest (none here) and list/watch across all: as for one asker.
    const forOne = cluster.sent();

    const bob = { user: 'bob', groups: ['team'] };
    const gone = new AbortController();
    const left = [permissions.of(bob, [widgets], 'caller', gone.signal), permissions.of(bob, [widgets], 'caller', gone.signal)];
    await new Promise((resolve) => setTimeout(resolve, 10));
    const before = cluster.sent();
    gone.abort();
    for (const l of left) await assert.rejects(l);
    await cluster.answerAll();
    assert.equal(cluster.sent(), before, `nothing more was sent for bob once his askers left (${before - forOne} in flight then)`);
    assert.equal(permissions.reviewer.load.pending, 0);
    // Asked again, the answer is computed afresh, not the abandoned one.
    const again = permissions.of(bob, [widgets]);
    await cluster.answerAll();
    assert.equal((await again).namespacesWhere('list', widgets).length, 3);
  } finally {
    await permissions.stop();
  }
});

test('permissions: the newest set is kept only for identities with live watches, and goes with the last one', { timeout: 3000 }, async () => {
  const { cluster, permissions } = await started(['n1']);
  try {
    const caller = { user: 'caller', groups: ['team'] };
    const watcher = { user: 'watcher', groups: ['team'] };
    const release = permissions.retain(watcher);
    const sets = Promise.all([permissions.of(caller, [widgets]), permissions.of(watcher, [widgets])]);
    await cluster.answerAll();
    const [, watcherSet] = await sets;
    assert.equal(permissions.latest(caller), undefined, 'a caller without watches leaves nothing behind');
    assert.equal(permissions.latest(watcher), watcherSet);
    release();
    assert.equal(permissions.latest(watcher), undefined);
  } finally {
    await permissions.stop();
  }
});

test('permissions: callers given the same rules share one copy of them; expired answers are purged', { timeout: 3000 }, async () => {
  let now = 1_000;
  const { cluster, permissions } = await started(['n1', 'n2', 'n3', 'n4'], { ttlMs: 10_000, now: () => now });
  try {
    const users = Array.from({ length: 20 }, (_, i) => ({ user: `u${i}`, groups: ['team'] }));
    const asked = Promise.all(users.map((u) => permissions.of(u, [widgets])));
    await cluster.answerAll();
    const sets = await asked;
    const rulesOf = (s: object) => (s as unknown as { rules: Map<string, unknown> }).rules;
    for (const s of sets) assert.equal(rulesOf(s), rulesOf(sets[0]!), 'one rules map for every caller with the same rules');
    const caches = permissions as unknown as { cache: { size: number }; rulesCache: { size: number } };
    assert.equal(caches.cache.size, 20);
    now += 10_001;
    permissions.purgeStale();
    assert.equal(caches.cache.size, 0, 'expired sets go without waiting for their room to be needed');
    assert.equal(caches.rulesCache.size, 0);
  } finally {
    await permissions.stop();
  }
});

test('permissions: a computation refused part-way sends none of its other reviews, and leaves the queue to others', { timeout: 5000 }, async () => {
  const cluster = heldCluster(['n1']);
  const permissions = new Permissions(cluster.client, { concurrency: 2, maxWaiting: 20 });
  permissions.start();
  await settle();
  await new Promise((resolve) => setTimeout(resolve, 20));
  try {
    // 40 cluster-scoped resources: 11 reviews each, far past the bound of 20 waiting.
    const many: ResourceRef[] = Array.from({ length: 40 }, (_, i) => ({ group: `g${i}.example.com`, plural: 'things', namespaced: false }));
    const big = permissions.of({ user: 'mallory', groups: ['team'] }, many).catch((err: unknown) => err);
    await cluster.answerAll();
    const refused = await big;
    assert.ok(refused instanceof ApiError && refused.code === 'UNAVAILABLE', String(refused));
    assert.doesNotMatch(refused.message, /\d/, 'the refusal tells nothing of the gateway\'s load');
    await cluster.answerAll();
    assert.equal(permissions.reviewer.load.pending, 0, 'the failed computation\'s waiting reviews were dropped');
    assert.ok(cluster.sent() < 30, `${cluster.sent()} reviews sent for a computation refused at its 21st`);
    // Another caller's small question goes through.
    const small = permissions.of({ user: 'victim', groups: ['team'] }, [widgets]);
    await cluster.answerAll();
    assert.equal((await small).namespacesWhere('list', widgets).length, 1);
  } finally {
    await permissions.stop();
  }
});
