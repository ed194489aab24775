// An accepted token sent again is not verified again (issue #15), but is never accepted when
// verification would refuse it now: past its exp, before its nbf, after its key left the key set
// or was replaced, with another tenants file, or altered in any way. Refused tokens are verified
// every time. The clock is injected: nothing here sleeps except for the key set client's own cache.
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { Authenticator, type AuthenticatorOptions } from '../../../src/auth/authenticate.ts';
import { VerifiedTokens } from '../../../src/auth/verified-tokens.ts';
import type { JwtAuthConfig, TenantConfig } from '../../../src/auth/tenant-config.ts';
import { ApiError } from '../../../src/api-errors.ts';
import { hmacSecret, JwksServer, rsaKey, signHs256, signRs256, type Claims } from '../../helpers/jwt-issuer.ts';

const jsonwebtoken = createRequire(import.meta.url)('jsonwebtoken') as typeof import('jsonwebtoken');
const t0 = 2_000_000_000;
const claims = (sub: string, extra: Claims = {}): Claims => ({ iss: 'https://issuer.test', aud: 'crdgate', sub, iat: t0, exp: t0 + 600, ...extra });

class Clock {
  seconds = t0;
  readonly now = () => this.seconds * 1000 + 250;
}

function authenticator(key: JwtAuthConfig['key'], algorithms: JwtAuthConfig['algorithms'], clock: Clock, opts: AuthenticatorOptions = {}): Authenticator {
  const config: TenantConfig = {
    file: 'tenants.yaml',
    auth: { mode: 'jwt', issuer: 'https://issuer.test', audience: ['crdgate'], algorithms, key, clockToleranceSeconds: 5, maxGroups: 16 },
    tenants: [{ name: 'team', match: { team: 'yes' }, user: 'team:{sub}', groups: ['team', '{groups}'], extra: {} }],
  };
  return new Authenticator(config, { now: clock.now, ...opts });
}

/** Counts jsonwebtoken's verifications for the length of one test. */
function countVerifications(t: { after(fn: () => void): void }): { readonly calls: number } {
  const spy = mock.method(jsonwebtoken, 'verify');
  t.after(() => spy.mock.restore());
  return { get calls() { return spy.mock.callCount(); } };
}

async function refusedWith(a: Authenticator, token: string, authReason: string, message?: RegExp): Promise<void> {
  await assert.rejects(a.authenticate(`Bearer ${token}`), (err: unknown) => {
    assert.ok(err instanceof ApiError, String(err));
    assert.equal(err.details.authReason, authReason, err.message);
    if (message) assert.match(err.message, message);
    return true;
  });
}

const hs = (secret: Buffer, clock: Clock, opts?: AuthenticatorOptions) => authenticator({ kind: 'secret', secret, file: 'hs.key' }, ['HS256'], clock, opts);

test('a token sent again is not verified again, and gives the same caller', async (t) => {
  const verifications = countVerifications(t);
  const secret = hmacSecret();
  const a = hs(secret, new Clock());
  const token = signHs256(secret, claims('alice', { team: 'yes', groups: ['dev'] }));
  const first = await a.authenticate(`Bearer ${token}`);
  assert.equal(verifications.calls, 1);
  const second = await a.authenticate(`Bearer ${token}`);
  const third = await a.authenticate(token);
  assert.equal(verifications.calls, 1);
  assert.deepEqual(second, first);
  assert.deepEqual(third, first);
  assert.deepEqual(first, { tenant: 'team', identity: { user: 'team:alice', groups: ['team', 'dev'], extra: {} }, subject: 'alice', expiresAt: (t0 + 600) * 1000 });
  // The claims are the same object shape as a verification gives.
  const direct = await a.verify(token);
  assert.deepEqual(Object.keys(direct).sort(), ['header', 'payload']);
});

test('a remembered token expires exactly when verification would refuse it (exp + tolerance, injected clock)', async (t) => {
  const verifications = countVerifications(t);
  const secret = hmacSecret();
  const clock = new Clock();
  const a = hs(secret, clock);
  const token = signHs256(secret, claims('alice', { team: 'yes' }));
  await a.authenticate(token);
  clock.seconds = t0 + 604; // within the 5 s tolerance
  assert.equal((await a.authenticate(token)).identity.user, 'team:alice');
  assert.equal(verifications.calls, 1);
  clock.seconds = t0 + 605;
  await refusedWith(a, token, 'TOKEN_EXPIRED');
  assert.equal(verifications.calls, 2, 'an expired entry is verified again, which refuses it');
  // A fresh Authenticator (nothing remembered) draws the line at the same second.
  const fresh = hs(secret, clock);
  await refusedWith(fresh, token, 'TOKEN_EXPIRED');
  clock.seconds = t0 + 604;
  assert.equal((await fresh.authenticate(token)).identity.user, 'team:alice');
});

test('a remembered token honours nbf when the clock goes back', async (t) => {
  const verifications = countVerifications(t);
  const secret = hmacSecret();
  const clock = new Clock();
  const a = hs(secret, clock);
  const token = signHs256(secret, claims('alice', { team: 'yes', nbf: t0 + 100 }));
  clock.seconds = t0 + 90;
  await refusedWith(a, token, 'TOKEN_NOT_YET_VALID');
  clock.seconds = t0 + 100;
  await a.authenticate(token);
  await a.authenticate(token);
  assert.equal(verifications.calls, 2);
  clock.seconds = t0 + 95; // nbf within the tolerance
  await a.authenticate(token);
  assert.equal(verifications.calls, 2);
  clock.seconds = t0 + 94;
  await refusedWith(a, token, 'TOKEN_NOT_YET_VALID');
});

test('an altered token is verified and refused, however much it shares with a remembered one', async (t) => {
  const verifications = countVerifications(t);
  const secret = hmacSecret();
  const a = hs(secret, new Clock());
  const token = signHs256(secret, claims('alice', { team: 'yes' }));
  await a.authenticate(token);
  const [h, p, s] = token.split('.') as [string, string, string];
  const lastSig = s.at(-2) === 'A' ? 'B' : 'A';
  const tampered = [
    `${h}.${p}.${s.slice(0, -2)}${lastSig}${s.at(-1)}`,
    `${h}.${Buffer.from(JSON.stringify(claims('mallory', { team: 'yes' }))).toString('base64url')}.${s}`,
    `${h}.${p}.${s}x`,
  ];
  for (const bad of tampered) await refusedWith(a, bad, 'TOKEN_INVALID', /signature is invalid/);
  assert.equal(verifications.calls, 1 + tampered.length);
  await a.authenticate(token);
  assert.equal(verifications.calls, 1 + tampered.length);
});

test('refused tokens are not remembered: each attempt is verified again', async (t) => {
  const verifications = countVerifications(t);
  const secret = hmacSecret();
  const a = hs(secret, new Clock());
  const forged = signHs256(hmacSecret(), claims('mallory', { team: 'yes' }));
  const noTenant = signHs256(secret, claims('bob', { team: 'no' }));
  for (let i = 0; i < 3; i++) {
    await refusedWith(a, forged, 'TOKEN_INVALID');
    await refusedWith(a, noTenant, 'NO_TENANT');
  }
  assert.equal(verifications.calls, 6);
});

test('another tenants file (another secret) does not accept what the old one remembered', async () => {
  const clock = new Clock();
  const secret = hmacSecret();
  const before = hs(secret, clock);
  const token = signHs256(secret, claims('alice', { team: 'yes' }));
  await before.authenticate(token);
  await before.authenticate(token);
  // A reloaded tenants file makes a new Authenticator: what the old one remembered is not shared.
  const after = hs(hmacSecret(), clock);
  await refusedWith(after, token, 'TOKEN_INVALID', /signature is invalid/);
});

test('the cache is bounded in entries and in bytes', async (t) => {
  const verifications = countVerifications(t);
  const secret = hmacSecret();
  const a = hs(secret, new Clock(), { verifiedTokens: { maxEntries: 2 } });
  const tokens = ['a', 'b', 'c'].map((sub) => signHs256(secret, claims(sub, { team: 'yes' })));
  for (const token of tokens) await a.authenticate(token);
  assert.equal(verifications.calls, 3);
  await a.authenticate(tokens[2]!);
  await a.authenticate(tokens[1]!);
  assert.equal(verifications.calls, 3);
  await a.authenticate(tokens[0]!); // the least recently used, dropped
  assert.equal(verifications.calls, 4);

  const small = hs(secret, new Clock(), { verifiedTokens: { maxBytes: 1_000 } });
  const big = signHs256(secret, claims('big', { team: 'yes', groups: Array.from({ length: 10 }, (_, i) => `group-${i}-${'x'.repeat(40)}`) }));
  assert.ok(big.length > 500);
  await small.authenticate(big);
  await small.authenticate(big);
  assert.equal(verifications.calls, 6, 'a token over the byte bound is not kept');
});

test('a key set: a remembered token is refused once its key leaves the set or is replaced', async (t) => {
  const one = rsaKey('one');
  const two = rsaKey('two');
  const server = new JwksServer([one, two]);
  await server.start();
  t.after(() => server.stop());
  const verifications = countVerifications(t);
  // The key set client keeps a key 1 ms: each request asks it again, as verification would.
  const a = authenticator({ kind: 'jwks', uri: server.uri, cacheMaxAgeMs: 1, requestsPerMinute: 600 }, ['RS256'], new Clock());
  const byOne = signRs256(one, claims('alice', { team: 'yes' }));
  const byTwo = signRs256(two, claims('bob', { team: 'yes' }));
  await a.authenticate(byOne);
  await a.authenticate(byTwo);
  await a.authenticate(byOne);
  await a.authenticate(byTwo);
  assert.equal(verifications.calls, 2, 'the key set still holds both keys');

  server.keys = [two];
  await new Promise((r) => setTimeout(r, 5));
  await refusedWith(a, byOne, 'TOKEN_INVALID', /unknown key id "one"/);
  await a.authenticate(byTwo);
  assert.equal(verifications.calls, 3);

  const twoAgain = rsaKey('two'); // another key under the same kid
  server.keys = [twoAgain];
  await new Promise((r) => setTimeout(r, 5));
  await refusedWith(a, byTwo, 'TOKEN_INVALID', /signature is invalid/);
  assert.equal((await a.authenticate(signRs256(twoAgain, claims('carol', { team: 'yes' })))).identity.user, 'team:carol');
  assert.ok(server.fetches >= 3);
});

test('a token without exp (refused by verification today) is kept a bounded time', () => {
  let now = t0 * 1000;
  const cache = new VerifiedTokens({ clockToleranceSeconds: 5, now: () => now, noExpirySeconds: 60 });
  cache.remember('token', { header: { alg: 'HS256' }, payload: { sub: 'x' } }, 'key');
  now += 59_000;
  assert.equal(cache.lookup('token')?.key, 'key');
  now += 1_000;
  assert.equal(cache.lookup('token'), undefined);
  assert.equal(cache.size, 0);
});

test('a token whose header has "crit" is refused, remembered or not (RFC 7515 4.1.11)', async () => {
  const secret = hmacSecret();
  const a = hs(secret, new Clock());
  const plain = signHs256(secret, claims('alice', { team: 'yes' }));
  await a.authenticate(`Bearer ${plain}`);
  for (const crit of [['foo'], ['exp'], [], 'foo']) {
    const token = signHs256(secret, claims('alice', { team: 'yes' }), { crit, foo: 1 });
    await refusedWith(a, token, 'TOKEN_MALFORMED', /critical \(crit: .*RFC 7515/);
    await refusedWith(a, token, 'TOKEN_MALFORMED');
  }
});
