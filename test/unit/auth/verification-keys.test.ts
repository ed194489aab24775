// The Authenticator makes its keys once (a public key from a PEM, a secret key from a secret, one
// per PEM of a key set) instead of letting the verifier parse them on every request. Each token
// must still be checked against its own key: another key's signature, or a switch of key type,
// is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Authenticator, verificationKey } from '../../../src/auth/authenticate.ts';
import type { JwtAuthConfig, TenantConfig } from '../../../src/auth/tenant-config.ts';
import { hmacSecret, nowSeconds, rsaKey, signHs256, signRs256 } from '../../helpers/jwt-issuer.ts';

const claims = (sub: string) => ({ iss: 'https://issuer.test', aud: 'crdgate', sub, iat: nowSeconds(), exp: nowSeconds() + 600 });

function authenticator(key: JwtAuthConfig['key'], algorithms: JwtAuthConfig['algorithms'], fetcher?: (uri: string) => Promise<{ keys: unknown }>): Authenticator {
  const config: TenantConfig = {
    file: 'tenants.yaml',
    auth: { mode: 'jwt', issuer: 'https://issuer.test', audience: ['crdgate'], algorithms, key, clockToleranceSeconds: 5, maxGroups: 16 },
    tenants: [{ name: 'team', match: {}, user: 'team:{sub}', groups: ['team'], extra: {} }],
  };
  return new Authenticator(config, { fetcher });
}

const userOf = async (a: Authenticator, token: string) => (await a.authenticate(`Bearer ${token}`)).identity.user;
const refused = (a: Authenticator, token: string) => assert.rejects(a.authenticate(`Bearer ${token}`), /the token signature is invalid|not accepted|algorithm/);

test('verificationKey: a PEM public key, otherwise a secret of the same bytes', () => {
  const rsa = rsaKey('a');
  const pub = verificationKey(rsa.publicPem);
  assert.equal(typeof pub === 'object' && 'type' in pub ? pub.type : undefined, 'public');
  const bytes = hmacSecret();
  const secret = verificationKey(bytes);
  assert.ok(typeof secret === 'object' && 'type' in secret && secret.type === 'secret');
  assert.deepEqual(secret.export(), bytes);
});

test('a secret: its tokens pass, another secret\'s and a public key\'s do not, again and again', async () => {
  const secret = hmacSecret();
  const a = authenticator({ kind: 'secret', secret, file: 'hs.key' }, ['HS256']);
  for (let i = 0; i < 2; i++) {
    assert.equal(await userOf(a, signHs256(secret, claims('alice'))), 'team:alice');
    await refused(a, signHs256(hmacSecret(), claims('mallory')));
    await refused(a, signRs256(rsaKey('x'), claims('mallory')));
  }
});

test('a public key: its tokens pass; another key\'s, and HS256 keyed with its PEM, do not', async () => {
  const rsa = rsaKey('a');
  const a = authenticator({ kind: 'publicKey', pem: rsa.publicPem, file: 'key.pem' }, ['RS256']);
  for (let i = 0; i < 2; i++) {
    assert.equal(await userOf(a, signRs256(rsa, claims('alice'))), 'team:alice');
    await refused(a, signRs256(rsaKey('a'), claims('mallory')));
    await refused(a, signHs256(rsa.publicPem, claims('mallory')));
  }
});

test('a key set: each kid verifies with its own key, not the one made last', async () => {
  const one = rsaKey('one');
  const two = rsaKey('two');
  const jwk = (k: typeof one) => ({ ...k.publicKey.export({ format: 'jwk' }), kid: k.kid, alg: 'RS256', use: 'sig' });
  const a = authenticator({ kind: 'jwks', uri: 'https://issuer.test/jwks', cacheMaxAgeMs: 60_000, requestsPerMinute: 10 }, ['RS256'],
    async () => ({ keys: [jwk(one), jwk(two)] }));
  for (let i = 0; i < 2; i++) {
    assert.equal(await userOf(a, signRs256(one, claims('alice'))), 'team:alice');
    assert.equal(await userOf(a, signRs256(two, claims('bob'))), 'team:bob');
    await refused(a, signRs256(one, claims('mallory'), { kid: 'two' }));
    await refused(a, signRs256(two, claims('mallory'), { kid: 'one' }));
  }
});
