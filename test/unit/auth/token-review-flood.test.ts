// TokenReview mode asks the apiserver about every token it has no answer for, before anyone is
// authenticated (so before any tenant's rate limit). A flood of distinct made-up tokens must not
// queue without bound: the reviews share one concurrency limit with the access reviews of
// authenticated callers, who would wait behind all of them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pLimit from 'p-limit';
import { ApiError } from '../../../src/api-errors.ts';
import type { KubeClient } from '../../../src/kube/kube-client.ts';
import { TokenReviewer } from '../../../src/auth/token-review.ts';
import type { TokenReviewAuthConfig } from '../../../src/auth/tenant-config.ts';

const config: TokenReviewAuthConfig = { mode: 'tokenReview', audiences: [], cacheSeconds: 60, allowSystemIdentities: [], maxGroups: 256 };

/** An apiserver whose TokenReviews answer "not authenticated" only when released. */
function slowCluster() {
  const waiting: (() => void)[] = [];
  let asked = 0;
  const client = {
    server: 'https://k',
    request: () => {
      asked++;
      return new Promise((resolve) => waiting.push(() => resolve({ status: { authenticated: false } })));
    },
  } as unknown as KubeClient;
  return { client, waiting, asked: () => asked, release: () => waiting.splice(0).forEach((r) => r()) };
}

test('distinct unknown tokens beyond a bound are refused at once (503, Retry-After), not queued; answers make room again', async () => {
  const cluster = slowCluster();
  const limit = pLimit(16);
  const reviewer = new TokenReviewer(cluster.client, config, { limited: (review) => limit(review) });
  const flood = Array.from({ length: 2_000 }, (_, i) => reviewer.review(`made-up-token-${i}`).then(() => 'accepted', (err: unknown) => err));
  await new Promise((resolve) => setImmediate(resolve));
  const refusedAtOnce = await Promise.race([Promise.all(flood.slice(1_000)), new Promise((resolve) => setTimeout(() => resolve('still waiting'), 200))]);
  assert.notEqual(refusedAtOnce, 'still waiting', 'the flood beyond the bound waits in the queue');
  for (const err of refusedAtOnce as unknown[]) {
    assert.ok(err instanceof ApiError && err.code === 'UNAVAILABLE', String(err));
    assert.ok((err.details.retryAfterSeconds ?? 0) >= 1);
  }
  // What waits is bounded, and the limit's queue with it: an access review queues behind at most that.
  assert.ok(limit.pendingCount + limit.activeCount <= 256, `${limit.pendingCount + limit.activeCount} reviews queued`);
  while (cluster.waiting.length) {
    cluster.release();
    await new Promise((resolve) => setImmediate(resolve));
  }
  const answered = await Promise.all(flood.slice(0, 200));
  for (const err of answered) assert.ok(err instanceof ApiError && err.code === 'UNAUTHENTICATED', String(err));
  assert.ok(cluster.asked() <= 256, `${cluster.asked()} TokenReviews`);
  // Room again: a new token is reviewed.
  const next = reviewer.review('another-token').catch((err: unknown) => err);
  await new Promise((resolve) => setImmediate(resolve));
  cluster.release();
  assert.equal(((await next) as ApiError).code, 'UNAUTHENTICATED');
});
