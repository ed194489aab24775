// jwksFallbackSeconds against a real JWKS server (HTTPS, private CA) that goes down: while it cannot
// be reached, the key set fetched last verifies new tokens for jwksCacheSeconds + jwksFallbackSeconds
// after that fetch, then tokens get 503 again. A key the issuer removed stays refused once the
// issuer has answered without it, through a later outage too; a kid the last key set lacks is not
// the caller's fault while the issuer is down (503, not 401). Without the setting, an outage longer
// than the cache refuses every new token. The key set client caches keys in real time (jwks-rsa's
// memoizer), so this test sleeps, with windows of a few hundred milliseconds.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Authenticator } from '../../../src/auth/authenticate.ts';
import type { TenantConfig } from '../../../src/auth/tenant-config.ts';
import { ApiError } from '../../../src/api-errors.ts';
import { JwksServer, nowSeconds, rsaKey, signRs256, type SigningKey } from '../../helpers/jwt-issuer.ts';

const fixture = (name: string) => readFileSync(new URL(`tls-fixtures/${name}`, import.meta.url));
const k1 = rsaKey('k1');
const k2 = rsaKey('k2');
const server = new JwksServer([k1], { key: fixture('server.key'), cert: fixture('server.crt') });
before(() => server.start());
after(() => server.stop());

const cacheMs = 400;
const fallbackMs = 800;
let subjects = 0;
/** A token never sent before (so no remembered verification stands in for the key set). */
const token = (key: SigningKey) => `Bearer ${signRs256(key, { iss: 'https://issuer.test', aud: 'crdgate', sub: `u${++subjects}`, iat: nowSeconds(), exp: nowSeconds() + 600 })}`;

function authenticator(fallback: number | undefined, requestsPerMinute = 600): { a: Authenticator; logged: string[] } {
  const config: TenantConfig = {
    file: 'tenants.yaml',
    auth: {
      mode: 'jwt', issuer: 'https://issuer.test', audience: ['crdgate'], algorithms: ['RS256'], clockToleranceSeconds: 5, maxGroups: 16,
      key: {
        kind: 'jwks', uri: server.uri, cacheMaxAgeMs: cacheMs, requestsPerMinute,
        ca: { file: 'ca.crt', pem: fixture('ca.crt').toString() }, ...(fallback ? { fallbackMs: fallback } : {}),
      },
    },
    tenants: [{ name: 'team', match: {}, user: 'team:{sub}', groups: [], extra: {} }],
  };
  const logged: string[] = [];
  // The issuer is asked again at once after a failed fetch: this test sees each fetch.
  return { a: new Authenticator(config, { keySetRetryMs: 0, onKeySetError: (err) => logged.push(`${err.name}: ${err.message}`) }), logged };
}

async function refused(a: Authenticator, authorization: string, code: 'UNAVAILABLE' | 'UNAUTHENTICATED', message?: RegExp): Promise<void> {
  await assert.rejects(a.authenticate(authorization), (err: unknown) => {
    assert.ok(err instanceof ApiError, String(err));
    assert.equal(err.code, code, err.message);
    if (message) assert.match(err.message, message);
    return true;
  });
}

test('an issuer down longer than the cache: every new token is refused (503) without jwksFallbackSeconds', async () => {
  const { a } = authenticator(undefined, 2);
  await a.authenticate(token(k1));
  await server.stop();
  try {
    await sleep(cacheMs + 100);
    await refused(a, token(k1), 'UNAVAILABLE');
    // Two fetches a minute are spent: the rate limit holds back the next ones, which is still the
    // issuer's outage (503), not an unknown key (401).
    for (let i = 0; i < 3; i++) await refused(a, token(k1), 'UNAVAILABLE');
  } finally {
    await server.start();
  }
});

test('with jwksFallbackSeconds: the last key set bridges the outage for its window; removed keys stay removed', async () => {
  server.keys = [k1];
  const { a, logged } = authenticator(fallbackMs);
  assert.equal((await a.authenticate(token(k1))).tenant, 'team');
  // Read after the fetch: its window ends no later than this plus cache and fallback.
  const fetched = Date.now();

  // Connections refused, past the cache: the last key set stands in, and the gateway says so.
  await server.stop();
  await sleep(cacheMs + 100);
  assert.equal((await a.authenticate(token(k1))).tenant, 'team', 'the last key set verifies a new token');
  assert.equal(logged.length, 1);
  assert.match(logged[0]!, /^StaleKeySet: cannot fetch the token issuer's key set \(JWKS\) at https:\/\/127\.0\.0\.1:\d+\/jwks\.json: .*; the key set fetched at \S+ stands in for it until \S+ \(jwksFallbackSeconds\)$/);
  // A kid it lacks may be the issuer's new key: the issuer's fault, not the token's; the log says
  // that other kids still pass.
  await refused(a, token(k2), 'UNAVAILABLE');
  assert.equal(logged.length, 2);
  assert.match(logged[1]!, /^UnknownKidDuringOutage: key id "k2" is not in the key set kept from the last fetch, .*; tokens with other key ids are still verified$/);

  // Past the window (and past the cache of the key it last handed out): 503 again, and the end of
  // the window is told at once, in a line of its own.
  await sleep(Math.max(0, fetched + cacheMs + fallbackMs + 100 - Date.now()));
  await refused(a, token(k1), 'UNAVAILABLE');
  assert.match(logged[2]!, /^FallbackExpired: cannot fetch the token issuer's key set .*; the key set fetched at \S+ stood in for it until \S+ \(jwksFallbackSeconds\) and no longer does$/);
  assert.match(logged[3]!, /^KeySetUnavailable: cannot fetch the token issuer's key set/);
  assert.equal(logged.length, 4);

  // The issuer answers again, having replaced k1 by k2: k1 is unknown, k2 verifies.
  server.keys = [k2];
  await server.start();
  await refused(a, token(k1), 'UNAUTHENTICATED', /unknown key id "k1"/);
  assert.equal((await a.authenticate(token(k2))).tenant, 'team');

  // Down again, answering 503 this time: the last key set is the one without k1, which stays refused.
  server.failWith = 503;
  try {
    await sleep(cacheMs + 100);
    assert.equal((await a.authenticate(token(k2))).tenant, 'team', 'k2 is bridged');
    await refused(a, token(k1), 'UNAVAILABLE');
  } finally {
    server.failWith = undefined;
  }
  assert.equal((await a.authenticate(token(k2))).tenant, 'team');
  await refused(a, token(k1), 'UNAUTHENTICATED', /unknown key id "k1"/);
});

test('a key the issuer removed just before an outage is not brought back by it', async () => {
  server.keys = [k1, k2];
  const { a } = authenticator(fallbackMs);
  await a.authenticate(token(k1));
  await a.authenticate(token(k2));
  await sleep(cacheMs + 100);
  // The issuer drops k1 (compromised, say) and answers once without it; then it goes down, well
  // within the window of the fetch that still had k1.
  server.keys = [k2];
  await refused(a, token(k1), 'UNAUTHENTICATED', /unknown key id "k1"/);
  await server.stop();
  try {
    await refused(a, token(k1), 'UNAVAILABLE');
    await sleep(cacheMs + 100);
    await refused(a, token(k1), 'UNAVAILABLE');
    assert.equal((await a.authenticate(token(k2))).tenant, 'team', 'the last key set (k2 alone) bridges the outage');
  } finally {
    await server.start();
  }
});

test('a 4xx answer is the issuer\'s word, not an outage: no fallback; a 5xx is bridged', async () => {
  server.keys = [k1];
  const { a, logged } = authenticator(fallbackMs);
  await a.authenticate(token(k1));
  // The issuer retired its JWKS address: the kept set does not keep its keys alive.
  server.failWith = 404;
  try {
    await sleep(cacheMs + 100);
    await refused(a, token(k1), 'UNAVAILABLE');
    assert.deepEqual(logged.map((l) => l.split(':')[0]), ['KeySetUnavailable']);
    assert.match(logged[0]!, /HTTP 404/);
    server.failWith = 502;
    assert.equal((await a.authenticate(token(k1))).tenant, 'team', 'a 5xx is an outage: the kept set answers');
    assert.match(logged.at(-1)!, /^StaleKeySet: .*HTTP 502/);
  } finally {
    server.failWith = undefined;
  }
});

test('an issuer that answers 429 or 408 is busy, not gone: the kept set bridges it like a 5xx', async () => {
  server.keys = [k1];
  for (const status of [429, 408]) {
    const { a, logged } = authenticator(fallbackMs);
    await a.authenticate(token(k1));
    server.failWith = status;
    try {
      await sleep(cacheMs + 100);
      assert.equal((await a.authenticate(token(k1))).tenant, 'team', `HTTP ${status}: the kept set answers`);
      assert.match(logged.at(-1)!, new RegExp(`^StaleKeySet: .*HTTP ${status}`));
    } finally {
      server.failWith = undefined;
    }
  }
});
