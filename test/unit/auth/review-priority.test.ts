// Every review the gateway makes waits for one of its slots. After an RBAC change every live
// subscription re-checks its subscriber at once; a caller arriving then is waiting for its answer
// and must not queue behind all of those re-checks (against a real apiserver the first list after
// a RoleBinding took 2 s with 40 subscribers). Re-checks still get slots while callers keep coming,
// so a revocation is not postponed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeClient } from '../../../src/kube/kube-client.ts';
import { Permissions } from '../../../src/auth/permissions.ts';
import { ReviewQueue } from '../../../src/auth/review-queue.ts';
import type { ResourceRef } from '../../../src/contract/access.ts';

const widgets: ResourceRef = { group: 'a.example.com', plural: 'widgets', namespaced: true };

/** An apiserver whose reviews are answered one at a time, in the order they were sent, when the test says so. */
function heldCluster() {
  const held: { user: string; answer: () => void }[] = [];
  const answered: string[] = [];
  const client = {
    server: 'https://k',
    async request(method: string, path: string, opts: { impersonate?: { user: string }; body?: { spec?: { user?: string } } }) {
      if (method === 'GET') return { items: path.endsWith('/namespaces') ? [{ metadata: { name: 'team', resourceVersion: '1' } }] : [], metadata: { resourceVersion: '1' } };
      const user = opts.impersonate?.user ?? opts.body?.spec?.user ?? '?';
      const rules = [{ verbs: ['list', 'watch'], apiGroups: ['a.example.com'], resources: ['widgets'] }];
      await new Promise<void>((resolve) => held.push({ user, answer: resolve }));
      answered.push(user);
      return path.endsWith('/selfsubjectrulesreviews') ? { status: { resourceRules: rules } } : { status: { allowed: false } };
    },
    watch(_path: string, opts: { signal?: AbortSignal; onOpen?: () => void }) {
      opts.onOpen?.();
      return new Promise<void>((resolve) => opts.signal?.addEventListener('abort', () => resolve()));
    },
  };
  const settle = () => new Promise((resolve) => setImmediate(resolve));
  /** Answers the oldest review in flight. */
  const answerOne = async () => {
    held.shift()?.answer();
    await settle();
  };
  return { client: client as unknown as KubeClient, held, answered, settle, answerOne };
}

/**
 * Queues the re-checks of 40 subscribers, then asks for `user`'s permissions as a request does:
 * its reviews must be sent at once, and each next one as soon as the one before is answered,
 * with no re-check answered in between.
 */
async function requestDuringRechecks(user: string): Promise<void> {
  const cluster = heldCluster();
  const permissions = new Permissions(cluster.client, { concurrency: 16 });
  permissions.start();
  try {
    await cluster.settle();
    const subscribers = Array.from({ length: 40 }, (_, i) => permissions.of({ user: `subscriber-${i}` }, [widgets], 'recheck'));
    await cluster.settle();
    const request = permissions.of({ user }, [widgets]);
    let done = false;
    void request.then(() => (done = true));
    await cluster.settle();
    assert.ok(cluster.held.some((r) => r.user === user), `in flight: ${cluster.held.map((r) => r.user).join(', ')}`);
    let answers = 0;
    while (!done && answers < 200) {
      const next = cluster.held.findIndex((r) => r.user === user);
      if (next < 0) break;
      cluster.held.splice(next, 1)[0]!.answer();
      await cluster.settle();
      answers++;
    }
    assert.ok(done, `the request got its permissions by its own reviews alone (in flight: ${cluster.held.map((r) => r.user).join(', ')})`);
    assert.equal(cluster.answered.filter((u) => u !== user).length, 0);
    while (cluster.held.length) await cluster.answerOne();
    assert.equal((await Promise.all(subscribers)).length, 40, 'every re-check still ends');
  } finally {
    while (cluster.held.length) cluster.held.shift()!.answer();
    await permissions.stop();
  }
}

test('a caller\'s reviews go ahead of the re-checks of 40 subscribers queued before it', async () => {
  await requestDuringRechecks('caller');
});

test('a subscriber\'s own request promotes its queued re-check, whose answers it shares', async () => {
  await requestDuringRechecks('subscriber-30');
});

/** Runs reviews that end when `end()` is called, in the order they started. */
function heldReviews() {
  const running: { lane: string; end: () => void }[] = [];
  const started: string[] = [];
  const review = (lane: string) => () => new Promise<string>((resolve) => {
    started.push(lane);
    running.push({ lane, end: () => resolve(lane) });
  });
  const endOne = async () => {
    running.shift()?.end();
    await new Promise((resolve) => setImmediate(resolve));
  };
  return { running, started, review, endOne };
}

test('the review queue: never more than its slots; re-checks never hold them all; a caller is next', async () => {
  const q = new ReviewQueue({ concurrency: 16 });
  const h = heldReviews();
  const rechecks = Array.from({ length: 100 }, () => q.run('recheck', h.review('recheck')));
  assert.equal(h.running.length, 12, 'four slots stay free for callers');
  const callers = Array.from({ length: 10 }, () => q.run('caller', h.review('caller')));
  assert.equal(h.running.length, 16);
  assert.equal(h.started.filter((l) => l === 'caller').length, 4);
  assert.deepEqual(q.load, { pending: 88 + 6, active: 16 });
  // Each slot that frees goes to a waiting caller first.
  for (let i = 0; i < 6; i++) await h.endOne();
  assert.equal(h.started.filter((l) => l === 'caller').length, 10);
  while (h.running.length) await h.endOne();
  assert.equal((await Promise.all(rechecks)).length, 100);
  assert.equal((await Promise.all(callers)).length, 10);
  assert.deepEqual(q.load, { pending: 0, active: 0 });
});

test('the review queue: a steady stream of callers cannot keep re-checks from a share of the slots', async () => {
  const q = new ReviewQueue({ concurrency: 16 });
  const h = heldReviews();
  const callers: Promise<string>[] = [];
  for (let i = 0; i < 16; i++) callers.push(q.run('caller', h.review('caller')));
  const rechecks = Array.from({ length: 8 }, () => q.run('recheck', h.review('recheck')));
  // Callers always wait in numbers; still, re-checks take freed slots until four run.
  for (let round = 0; round < 40; round++) {
    callers.push(q.run('caller', h.review('caller')), q.run('caller', h.review('caller')));
    const i = h.running.findIndex((r) => r.lane === 'caller');
    h.running.splice(i, 1)[0]!.end();
    await new Promise((resolve) => setImmediate(resolve));
    assert.ok(h.running.length <= 16);
  }
  assert.equal(h.running.filter((r) => r.lane === 'recheck').length, 4, 'four re-checks run however many callers wait');
  while (h.running.length) await h.endOne();
  assert.equal((await Promise.all(rechecks)).length, 8);
  assert.equal((await Promise.all(callers)).length, 96);
});

test('the review queue: a review that throws or rejects frees its slot and is reported to its caller', async () => {
  const q = new ReviewQueue({ concurrency: 1 });
  await assert.rejects(q.run('caller', () => {
    throw new Error('at once');
  }), /at once/);
  await assert.rejects(q.run('recheck', () => Promise.reject(new Error('later'))), /later/);
  assert.equal(await q.run('caller', async () => 'next'), 'next');
  assert.deepEqual(q.load, { pending: 0, active: 0 });
});
