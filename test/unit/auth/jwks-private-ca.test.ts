// A token issuer whose JWKS server has a certificate from a private CA: with jwksCaFile naming that
// CA, the gateway fetches the key set over real TLS and verifies tokens; without it (Node.js'
// public roots), or with another CA, the TLS handshake fails and tokens get 503 UNAVAILABLE, the
// certificate problem in the gateway's log. The certificates are in tls-fixtures (valid until
// 2126; the CA's key was not kept): server.crt, for localhost and 127.0.0.1, signed by ca.crt.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Authenticator } from '../../../src/auth/authenticate.ts';
import { loadTenantConfig } from '../../../src/auth/tenant-config.ts';
import { ApiError } from '../../../src/api-errors.ts';
import { JwksServer, nowSeconds, rsaKey, signRs256, TenantsDir } from '../../helpers/jwt-issuer.ts';

const fixture = (name: string) => readFileSync(new URL(`tls-fixtures/${name}`, import.meta.url));
const key = rsaKey('k1');
const server = new JwksServer([key], { key: fixture('server.key'), cert: fixture('server.crt') });
const dir = new TenantsDir();
dir.write('issuer-ca.pem', fixture('ca.crt'));
dir.write('other-ca.pem', fixture('other-ca.crt'));

before(() => server.start());
after(async () => {
  await server.stop();
  dir.remove();
});

const token = (sub: string) => signRs256(key, { iss: 'https://issuer.test', aud: 'crdgate', sub, iat: nowSeconds(), exp: nowSeconds() + 600 });

/** An Authenticator from a tenants file on disk (the CA file is read next to it), and what it logs. */
function authenticator(auth: Record<string, unknown>): { a: Authenticator; logged: string[] } {
  const file = dir.writeConfig(`tenants-${Math.random().toString(36).slice(2)}.yaml`, {
    auth: { issuer: 'https://issuer.test', audience: 'crdgate', algorithms: ['RS256'], jwksUri: server.uri, ...auth },
    tenants: [{ name: 'team', match: { aud: 'crdgate' }, user: 'team:{sub}' }],
  });
  const logged: string[] = [];
  return { a: new Authenticator(loadTenantConfig(file), { onKeySetError: (err) => logged.push(err.message) }), logged };
}

test('with jwksCaFile, the key set is fetched over TLS from a server the private CA certified', async () => {
  assert.match(server.uri, /^https:\/\/127\.0\.0\.1:\d+\/jwks\.json$/);
  const { a, logged } = authenticator({ jwksCaFile: 'issuer-ca.pem' });
  assert.equal((await a.authenticate(`Bearer ${token('alice')}`)).identity.user, 'team:alice');
  assert.equal(server.fetches, 1);
  assert.deepEqual(logged, []);
});

test('without jwksCaFile, or with another CA, the certificate is refused: 503, and the reason is logged', async () => {
  for (const auth of [{}, { jwksCaFile: 'other-ca.pem' }]) {
    const fetches = server.fetches;
    const { a, logged } = authenticator(auth);
    await assert.rejects(a.authenticate(`Bearer ${token('mallory')}`), (err: unknown) => {
      assert.ok(err instanceof ApiError, String(err));
      assert.equal(err.code, 'UNAVAILABLE');
      return true;
    });
    assert.equal(server.fetches, fetches, 'no key set was served');
    assert.equal(logged.length, 1);
    assert.match(logged[0]!, /^cannot fetch the token issuer's key set \(JWKS\) at https:\/\/127\.0\.0\.1:\d+\/jwks\.json: .*certificate/, logged[0]);
  }
});
