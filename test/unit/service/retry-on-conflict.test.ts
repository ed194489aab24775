import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from '../../../src/api-errors.ts';
import { retryOnConflict } from '../../../src/service/retry-on-conflict.ts';
import type { Clock } from '../../../src/kube/reflector.ts';

function clock(): Clock & { sleeps: number[] } {
  const sleeps: number[] = [];
  return { sleeps, now: () => 0, random: () => 0, sleep: async (ms) => void sleeps.push(ms) };
}

const conflict = () => new ApiError('CONFLICT', 'the object has been modified');

test('retries conflicts with exponential backoff and returns the first success', async () => {
  const c = clock();
  let n = 0;
  const result = await retryOnConflict(async () => {
    if (++n < 3) throw conflict();
    return 'ok';
  }, { clock: c });
  assert.equal(result, 'ok');
  assert.equal(n, 3);
  assert.deepEqual(c.sleeps, [10, 50]);
});

test('gives up after the bounded number of attempts with the last conflict', async () => {
  const c = clock();
  let n = 0;
  await assert.rejects(retryOnConflict(async () => {
    n++;
    throw conflict();
  }, { clock: c }), (e: unknown) => e instanceof ApiError && e.code === 'CONFLICT');
  assert.equal(n, 4);
  assert.deepEqual(c.sleeps, [10, 50, 250]);
});

test('other errors are not retried', async () => {
  let n = 0;
  await assert.rejects(retryOnConflict(async () => {
    n++;
    throw new ApiError('FORBIDDEN', 'no');
  }, { clock: clock() }), /no/);
  assert.equal(n, 1);
});
