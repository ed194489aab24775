// The start-up check of a TokenReview tenants file always says its outcome: granted (info), not
// granted (a warning naming what grants it), or not checked, with why (a warning): an API server
// not reachable yet must not leave the operator with no sign either way.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkTokenReviewGrant, tokenReviewGranted, tokenReviewNotGranted } from '../../../src/auth/token-review.ts';
import type { KubeClient } from '../../../src/kube/kube-client.ts';

async function outcome(request: KubeClient['request']): Promise<{ info: string[]; warn: string[] }> {
  const logged = { info: [] as string[], warn: [] as string[] };
  await checkTokenReviewGrant({ request }, { info: (m) => logged.info.push(m), warn: (m) => logged.warn.push(m) });
  return logged;
}

test('the check could not be made: a warning with the reason and what the grant is for', async () => {
  const logged = await outcome((async () => { throw new Error('connect ECONNREFUSED 10.96.0.1:443'); }) as KubeClient['request']);
  assert.deepEqual(logged.info, []);
  assert.equal(logged.warn.length, 1);
  assert.match(logged.warn[0]!, /^could not check whether the gateway's identity may create TokenReviews .*: connect ECONNREFUSED 10\.96\.0\.1:443; without that grant callers get 503 UNAVAILABLE \(Helm chart: rbac\.tokenReview=true/);
});

test('granted: an info line; not granted: the warning', async () => {
  assert.deepEqual(await outcome((async () => ({ status: { allowed: true } })) as KubeClient['request']), { info: [tokenReviewGranted], warn: [] });
  assert.deepEqual(await outcome((async () => ({ status: { allowed: false } })) as KubeClient['request']), { info: [], warn: [tokenReviewNotGranted] });
});
