// A REST list's limit: at most REST_MAX_PAGE objects per answer (the continue token brings the
// rest, as Kubernetes may answer fewer objects than the limit); 0 and none are the default page.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from '../../../src/api-errors.ts';
import { pageLimit, REST_MAX_PAGE } from '../../../src/transports/rest-request.ts';

test('a REST limit is at most one page of 1,000; 0 and none stay for the default page; garbage is refused', () => {
  assert.equal(REST_MAX_PAGE, 1000);
  assert.deepEqual(['10', '1000', '1001', '100000', '9223372036854775807', '0', undefined].map((v) => pageLimit(v)), [10, 1000, 1000, 1000, 1000, 0, undefined]);
  for (const bad of ['-1', '1e3', 'x', '99999999999999999999']) assert.throws(() => pageLimit(bad), ApiError, bad);
});
