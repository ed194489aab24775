// While the issuer is known to be down (a fetch failed less than the retry interval ago), the key
// set client answers from the kept key set without fetching: no wait for the fetch timeout per
// token, and tokens with made-up kids cannot spend the refetch budget (jwksRequestsPerMinute) and
// so switch the fallback (jwksFallbackSeconds) off for the tokens whose kid it holds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { jwksKeyResolver, type JwksSource } from '../../../src/auth/verification-keys.ts';
import { rsaKey } from '../../helpers/jwt-issuer.ts';

const k1 = rsaKey('k1');
const jwk = { ...k1.publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'RS256', use: 'sig' };
const source: JwksSource = { kind: 'jwks', uri: 'https://issuer.test/jwks.json', cacheMaxAgeMs: 20, requestsPerMinute: 3, fallbackMs: 3_600_000 };

function resolve(resolver: ReturnType<typeof jwksKeyResolver>, kid: string): Promise<string> {
  return new Promise((done) => resolver({ alg: 'RS256', kid }, (err) => done(err ? `error: ${err.message}` : 'key')));
}

test('an issuer known to be down: forged kids fetch nothing and spend no budget; the kept set keeps answering', async () => {
  let up = true;
  let fetches = 0;
  let clock = Date.now();
  const resolver = jwksKeyResolver(source, {
    now: () => clock,
    report: () => {},
    fetcher: async () => {
      fetches++;
      if (!up) throw new Error('connect ECONNREFUSED 127.0.0.1:443');
      return { keys: [jwk] };
    },
  });
  assert.equal(await resolve(resolver, 'k1'), 'key');
  up = false;
  await sleep(40);
  assert.equal(await resolve(resolver, 'k1'), 'key', 'the kept set answers');
  assert.equal(fetches, 2);

  for (let round = 0; round < 4; round++) {
    for (let i = 0; i < 10; i++) assert.match(await resolve(resolver, `forged-${round}-${i}`), /is not in the key set kept from the last fetch, and the token issuer's key set .* cannot be fetched/);
    await sleep(40);
    assert.equal(await resolve(resolver, 'k1'), 'key', `round ${round}: a kid the kept set holds is still accepted`);
    // The issuer is asked again once the retry interval has passed, at most once per interval.
    clock += 5_001;
  }
  assert.ok(fetches <= 5, `${fetches} fetches`);
});
