// When the token issuer's key set (JWKS) cannot be fetched, nothing is known about a token: the
// caller gets 503 UNAVAILABLE with a retry hint, never 401 (clients drop a good token or give up on
// a 401), and the cause, with the issuer's address, goes to the gateway's log only, at most once a
// minute. A token whose key id the key set lacks is still the caller's problem: 401.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Authenticator } from '../../../src/auth/authenticate.ts';
import { ApiError } from '../../../src/api-errors.ts';
import type { TenantConfig } from '../../../src/auth/tenant-config.ts';
import { nowSeconds, rsaKey, signRs256 } from '../../helpers/jwt-issuer.ts';

const claims = (sub: string) => ({ iss: 'https://issuer.test', aud: 'crdgate', sub, iat: nowSeconds(), exp: nowSeconds() + 600 });
const key = rsaKey('k1');
const jwk = { ...key.publicKey.export({ format: 'jwk' }), kid: key.kid, alg: 'RS256', use: 'sig' };

function authenticator(fetcher: () => Promise<{ keys: unknown }>, onKeySetError: (err: Error) => void, now: () => number = Date.now): Authenticator {
  const config: TenantConfig = {
    file: 'tenants.yaml',
    auth: {
      mode: 'jwt', issuer: 'https://issuer.test', audience: ['crdgate'], algorithms: ['RS256'], clockToleranceSeconds: 5, maxGroups: 16,
      key: { kind: 'jwks', uri: 'https://user:pw@issuer.test/keys?x=secret', cacheMaxAgeMs: 1000, requestsPerMinute: 100 },
    },
    tenants: [{ name: 'team', match: {}, user: 'team:{sub}', groups: ['team'], extra: {} }],
  };
  return new Authenticator(config, { fetcher, onKeySetError, now, keySetRetryMs: 0 });
}

test('an unreachable key set: 503 UNAVAILABLE with Retry-After, the cause logged once a minute; back: tokens pass', async () => {
  let up = false;
  const logged: string[] = [];
  let clock = Date.now();
  const a = authenticator(async () => {
    if (!up) throw Object.assign(new Error('connect ECONNREFUSED 10.1.2.3:443'), { code: 'ECONNREFUSED' });
    return { keys: [jwk] };
  }, (err) => logged.push(err.message), () => clock);
  for (let i = 0; i < 3; i++) {
    await assert.rejects(a.authenticate(`Bearer ${signRs256(key, claims('alice'))}`), (err: unknown) => {
      assert.ok(err instanceof ApiError, String(err));
      assert.equal(err.code, 'UNAVAILABLE');
      assert.equal(err.httpStatus, 503);
      assert.equal(err.details.retryAfterSeconds, 5);
      assert.equal(err.details.authReason, undefined);
      assert.doesNotMatch(err.message, /10\.1\.2\.3|issuer\.test|ECONNREFUSED/, 'the caller is not told where the gateway connects');
      return true;
    });
  }
  assert.deepEqual(logged, ['cannot fetch the token issuer\'s key set (JWKS) at https://issuer.test/keys: connect ECONNREFUSED 10.1.2.3:443']);
  clock += 61_000;
  await assert.rejects(a.authenticate(`Bearer ${signRs256(key, claims('alice'))}`), { code: 'UNAVAILABLE' });
  assert.equal(logged.length, 2, 'again after a minute');
  up = true;
  assert.equal((await a.authenticate(`Bearer ${signRs256(key, claims('alice'))}`)).identity.user, 'team:alice');
});

test('a key set with no keys is the issuer\'s problem (503); a kid the key set lacks is the token\'s (401)', async () => {
  const logged: string[] = [];
  const empty = authenticator(async () => ({ keys: [] }), (err) => logged.push(err.message));
  await assert.rejects(empty.authenticate(`Bearer ${signRs256(key, claims('alice'))}`), { code: 'UNAVAILABLE' });
  assert.equal(logged.length, 1);
  const good = authenticator(async () => ({ keys: [jwk] }), (err) => logged.push(err.message));
  await assert.rejects(good.authenticate(`Bearer ${signRs256(rsaKey('k2'), claims('mallory'))}`), (err: unknown) => {
    assert.ok(err instanceof ApiError);
    assert.equal(err.code, 'UNAUTHENTICATED');
    assert.equal(err.details.authReason, 'TOKEN_INVALID');
    return true;
  });
  assert.equal(logged.length, 1, 'an unknown kid is not an outage');
});
