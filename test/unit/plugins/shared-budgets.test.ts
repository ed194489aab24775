import { test } from 'node:test';
import assert from 'node:assert/strict';
import { redisLocation } from '../../../src/plugins/redis-connection.ts';
import { rateWindow } from '../../../src/plugins/shared-budgets.ts';

test('the shared rate window keeps the sustained rate; its length is burst ÷ rate seconds, rounded up, at least one', () => {
  const cases: [number, number, { points: number; seconds: number }][] = [
    [50, 100, { points: 100, seconds: 2 }], // the defaults: exactly the token bucket's burst
    [1, 10, { points: 10, seconds: 10 }],
    [10, 15, { points: 20, seconds: 2 }], // a burst between whole seconds rounds up to 2 s of the rate
    [50, 10, { points: 50, seconds: 1 }], // a burst below one second's rate: windows are whole seconds
    [3, 3, { points: 3, seconds: 1 }],
  ];
  for (const [requestsPerSecond, burst, want] of cases) {
    const w = rateWindow({ requestsPerSecond, burst });
    assert.deepEqual(w, want, `${requestsPerSecond}/s burst ${burst}`);
    assert.equal(w.points / w.seconds, requestsPerSecond, 'the sustained rate is the flag\'s');
  }
});

test('a Redis URL is shown without its user info', () => {
  assert.equal(redisLocation('redis://user:s3cret@cache.example:6380/3'), 'redis://cache.example:6380/3');
  assert.equal(redisLocation('rediss://:s3cret@cache'), 'rediss://cache');
  assert.equal(redisLocation('redis://[::1]:6379'), 'redis://[::1]:6379');
  assert.doesNotMatch(redisLocation('not a url s3cret'), /s3cret/);
});
