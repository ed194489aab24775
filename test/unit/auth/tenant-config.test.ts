// The tenants file is validated completely at start: every problem is reported, one line each,
// with the file and the path of the offending value.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadTenantConfig, validateTenantConfig, type JwtAuthConfig, type TenantConfig } from '../../../src/auth/tenant-config.ts';
import { CrdgateError } from '../../../src/errors.ts';
import { hmacSecret, rsaKey, TenantsDir } from '../../helpers/jwt-issuer.ts';

const dir = new TenantsDir();
after(() => dir.remove());
const pem = dir.write('key.pem', rsaKey('k').publicPem);
dir.write('hs.secret', hmacSecret());
dir.write('short.secret', Buffer.alloc(31, 7));
const file = join(dir.dir, 'tenants.yaml');

const tenant = { name: 'a', match: { tenant: 'a' }, user: 'a:{sub}', groups: ['tenant-a'] };
const rsAuth = { issuer: 'https://login.example.com/', audience: 'crdgate', algorithms: ['RS256'], publicKeyFile: 'key.pem' };

/** The JWT settings of a valid file. */
function jwt(c: TenantConfig): JwtAuthConfig {
  assert.equal(c.auth.mode, 'jwt');
  return c.auth as JwtAuthConfig;
}

/** The problems of a document, one per line, with the file prefix removed. */
function problems(doc: unknown): string[] {
  try {
    validateTenantConfig(doc, file);
  } catch (err) {
    assert.ok(err instanceof CrdgateError, String(err));
    assert.equal(err.code, 'CONFIG_INVALID');
    const lines = err.message.split('\n');
    for (const l of lines) assert.ok(l.startsWith(`${file}: `), `every line names the file: ${l}`);
    return lines.map((l) => l.slice(file.length + 2));
  }
  assert.fail('the document was accepted');
}

describe('tenants file validation', () => {
  it('accepts a complete file and resolves key files next to it', () => {
    const c = validateTenantConfig({ auth: { ...rsAuth, audience: ['crdgate', 'other'], clockToleranceSeconds: 10 }, tenants: [{ ...tenant, extra: { 'crdgate.io/tenant': ['a'] } }] }, file);
    assert.deepEqual(jwt(c).algorithms, ['RS256']);
    assert.deepEqual(jwt(c).audience, ['crdgate', 'other']);
    assert.equal(jwt(c).clockToleranceSeconds, 10);
    assert.equal(jwt(c).key.kind, 'publicKey');
    const key = jwt(c).key;
    assert.equal(key.kind === 'publicKey' && key.file, pem);
    assert.deepEqual(c.tenants, [{ ...tenant, extra: { 'crdgate.io/tenant': ['a'] } }]);
    const jwks = validateTenantConfig({ auth: { ...rsAuth, publicKeyFile: undefined, jwksUri: 'https://login.example.com/jwks.json' }, tenants: [tenant] }, file);
    assert.deepEqual(jwt(jwks).key, { kind: 'jwks', uri: 'https://login.example.com/jwks.json', cacheMaxAgeMs: 600_000, requestsPerMinute: 10 });
    assert.equal(jwt(jwks).clockToleranceSeconds, 30);
  });

  it('reports every problem of a broken file, one line each, with its path', () => {
    assert.deepEqual(problems({
      auth: { issuer: '', audience: [], algorithms: ['RS256', 'none'], jwksUri: 'http://login.example.com/jwks.json', clockToleranceSeconds: 301, colour: 'red' },
      tenants: [
        { name: 'a', match: {}, user: '', groups: 'tenant-a', shade: 1 },
        { name: 'a', match: { tenant: { nested: true } }, user: 'b', extra: { k: 'not-a-list' } },
        'not-a-mapping',
      ],
      extras: true,
    }), [
      'extras: unknown key (expected auth, tenants)',
      'auth.colour: unknown key (expected one of issuer, audience, algorithms, jwksUri, publicKeyFile, secretFile, clockToleranceSeconds, jwksCacheSeconds, jwksRequestsPerMinute, jwksFallbackSeconds, jwksCaFile, maxTokenLifetimeSeconds, typ, maxGroups; or tokenReview alone)',
      'auth.issuer: is required (a string)',
      'auth.audience: is required (a string or a list of strings)',
      'auth.algorithms[1]: "none" is not supported (never "none"); use one of RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, HS256, HS384, HS512',
      'auth.jwksUri: must be an https URL (http only for localhost)',
      'auth.clockToleranceSeconds: must be at most 300',
      'tenants[0].shade: unknown key (expected name, match, user, groups, extra, allowGroups, limits, fieldManager)',
      'tenants[0].match: is required: claims and the values they must have, e.g. { tenant: a }',
      'tenants[0].user: is required: the Kubernetes user name (may use {claim})',
      'tenants[0].groups: must be a list of strings',
      'tenants[1].name: "a" is used twice',
      'tenants[1].match.tenant: must be a string, number or boolean',
      'tenants[1].extra.k: must be a list of strings',
      'tenants[2]: must be a mapping with name, match, user',
    ]);
  });

  it('extra values Kubernetes would receive changed or not at all (blanks at the ends, control characters, empty) are refused at start', () => {
    assert.deepEqual(problems({ auth: rsAuth, tenants: [{ ...tenant, extra: { scopes: ['read', ' write', ''], 'team\n': ['x'], ok: ['grün'] } }] }), [
      'tenants[0].extra.scopes: " write" is not a value Kubernetes receives as written (no blanks at the ends, no control characters, not empty)',
      'tenants[0].extra.scopes: "" is not a value Kubernetes receives as written (no blanks at the ends, no control characters, not empty)',
      'tenants[0].extra: the key "team\\n" is not one Kubernetes receives as written (no blanks at the ends, no control characters, not empty)',
    ]);
  });

  it('an extra key with upper case is refused at start: Kubernetes reads it in lower case from its header', () => {
    assert.deepEqual(problems({ auth: rsAuth, tenants: [{ ...tenant, extra: { Scopes: ['read'], 'example.com/team': ['red'] } }] }), [
      'tenants[0].extra: the key "Scopes" reaches Kubernetes as "scopes" (extra keys travel in header names): write it in lower case',
    ]);
  });

  it('needs auth and a non-empty tenants list', () => {
    assert.deepEqual(problems({}), [
      'auth: is required: issuer, audience, algorithms and one of jwksUri, publicKeyFile, secretFile; or tokenReview',
      'tenants: is required: a non-empty list of rules',
    ]);
    assert.deepEqual(problems({ auth: rsAuth, tenants: [] }), ['tenants: is required: a non-empty list of rules']);
    assert.throws(() => validateTenantConfig(['a list'], file), /must be a mapping with auth and tenants/);
  });

  it('needs exactly one key source', () => {
    assert.deepEqual(problems({ auth: { ...rsAuth, publicKeyFile: undefined }, tenants: [tenant] }), ['auth: needs exactly one of jwksUri, publicKeyFile, secretFile (found none)']);
    assert.deepEqual(problems({ auth: { ...rsAuth, jwksUri: 'https://x/jwks.json' }, tenants: [tenant] }), ['auth: needs exactly one of jwksUri, publicKeyFile, secretFile (found jwksUri, publicKeyFile)']);
  });

  it('accepts http JWKS only on localhost', () => {
    for (const uri of ['http://127.0.0.1:8080/jwks.json', 'http://localhost/jwks.json']) {
      assert.equal(jwt(validateTenantConfig({ auth: { ...rsAuth, publicKeyFile: undefined, jwksUri: uri }, tenants: [tenant] }, file)).key.kind, 'jwks');
    }
    for (const uri of ['http://10.0.0.1/jwks.json', 'http://localhost.evil.example/jwks.json', 'file:///etc/jwks.json', 'not a url']) {
      assert.deepEqual(problems({ auth: { ...rsAuth, publicKeyFile: undefined, jwksUri: uri }, tenants: [tenant] }), ['auth.jwksUri: must be an https URL (http only for localhost)'], uri);
    }
  });

  it('refuses HS* next to a public key and RS* next to a shared secret (algorithm confusion)', () => {
    assert.deepEqual(problems({ auth: { ...rsAuth, algorithms: ['RS256', 'HS256'] }, tenants: [tenant] }),
      ['auth.algorithms: HS256 does not fit a public key; list only RS*, PS* or ES* algorithms']);
    assert.deepEqual(problems({ auth: { ...rsAuth, publicKeyFile: undefined, jwksUri: 'https://x/jwks.json', algorithms: ['HS512'] }, tenants: [tenant] }),
      ['auth.algorithms: HS512 does not fit a public key; list only RS*, PS* or ES* algorithms']);
    assert.deepEqual(problems({ auth: { ...rsAuth, publicKeyFile: undefined, secretFile: 'hs.secret', algorithms: ['HS256', 'RS256', 'ES256'] }, tenants: [tenant] }), [
      'auth.algorithms: RS256 does not fit a shared secret; list only HS* algorithms',
      'auth.algorithms: ES256 does not fit a shared secret; list only HS* algorithms',
    ]);
    const ok = validateTenantConfig({ auth: { ...rsAuth, publicKeyFile: undefined, secretFile: 'hs.secret', algorithms: ['HS256', 'HS384'] }, tenants: [tenant] }, file);
    assert.deepEqual(jwt(ok).algorithms, ['HS256', 'HS384']);
    const secret = jwt(ok).key;
    assert.equal(secret.kind === 'secret' && secret.secret.length, 48);
  });

  it('refuses a shared secret under 32 bytes, a missing key file and a file that is no PEM', () => {
    assert.deepEqual(problems({ auth: { ...rsAuth, publicKeyFile: undefined, secretFile: 'short.secret', algorithms: ['HS256'] }, tenants: [tenant] }),
      [`auth.secretFile: ${join(dir.dir, 'short.secret')} holds 31 bytes; an HMAC secret needs at least 32`]);
    assert.deepEqual(problems({ auth: { ...rsAuth, publicKeyFile: 'missing.pem' }, tenants: [tenant] }),
      [`auth.publicKeyFile: cannot read ${join(dir.dir, 'missing.pem')}: ENOENT`]);
    assert.deepEqual(problems({ auth: { ...rsAuth, publicKeyFile: 'hs.secret' }, tenants: [tenant] }),
      [`auth.publicKeyFile: ${join(dir.dir, 'hs.secret')} is not a PEM public key or certificate`]);
  });

  it('refuses a public key file Node.js cannot read as a key, and algorithms the key cannot verify', () => {
    // A PEM header over a body that is no key: every token would be refused at run time.
    const broken = dir.write('broken.pem', '-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5IGF0IGFsbA==\n-----END PUBLIC KEY-----\n');
    const [brokenProblem, ...more] = problems({ auth: { ...rsAuth, publicKeyFile: 'broken.pem' }, tenants: [tenant] });
    assert.deepEqual(more, []);
    assert.ok(brokenProblem!.startsWith(`auth.publicKeyFile: ${broken} is not a PEM public key or certificate (`) && brokenProblem!.endsWith(')'), brokenProblem);
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const ecFile = dir.write('ec.pem', ec);
    assert.deepEqual(problems({ auth: { ...rsAuth, publicKeyFile: 'ec.pem', algorithms: ['RS256', 'ES256', 'ES384'] }, tenants: [tenant] }), [
      `auth.algorithms: RS256 does not fit the public key in ${ecFile} (an EC key on prime256v1: ES256)`,
      `auth.algorithms: ES384 does not fit the public key in ${ecFile} (an EC key on prime256v1: ES256)`,
    ]);
    assert.deepEqual(problems({ auth: { ...rsAuth, algorithms: ['ES256'] }, tenants: [tenant] }),
      [`auth.algorithms: ES256 does not fit the public key in ${pem} (an RSA key: RS256, RS384, RS512, PS256, PS384, PS512)`]);
    const ed = dir.write('ed.pem', generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString());
    assert.deepEqual(problems({ auth: { ...rsAuth, publicKeyFile: 'ed.pem' }, tenants: [tenant] }),
      [`auth.algorithms: RS256 does not fit the public key in ${ed} (a key of type ed25519, which no supported algorithm verifies)`]);
    assert.deepEqual(jwt(validateTenantConfig({ auth: { ...rsAuth, publicKeyFile: 'ec.pem', algorithms: ['ES256'] }, tenants: [tenant] }, file)).algorithms, ['ES256']);
    assert.deepEqual(jwt(validateTenantConfig({ auth: { ...rsAuth, algorithms: ['RS256', 'PS512'] }, tenants: [tenant] }, file)).algorithms, ['RS256', 'PS512']);
  });

  it('refuses a JWKS cache of 0 seconds (jwks-rsa would keep keys forever) and 0 fetches a minute (never fetched)', () => {
    const jwksAuth = { ...rsAuth, publicKeyFile: undefined, jwksUri: 'https://login.example.com/jwks.json' };
    assert.deepEqual(problems({ auth: { ...jwksAuth, jwksCacheSeconds: 0, jwksRequestsPerMinute: 0 }, tenants: [tenant] }), [
      'auth.jwksCacheSeconds: must be at least 1 (the key set is fetched again after this long)',
      'auth.jwksRequestsPerMinute: must be at least 1 (the key set could never be fetched)',
    ]);
    assert.deepEqual(jwt(validateTenantConfig({ auth: { ...jwksAuth, jwksCacheSeconds: 1, jwksRequestsPerMinute: 1 }, tenants: [tenant] }, file)).key,
      { kind: 'jwks', uri: 'https://login.example.com/jwks.json', cacheMaxAgeMs: 1000, requestsPerMinute: 1 });
  });

  it('jwksCaFile: PEM certificates next to the tenants file, for an https jwksUri; jwksFallbackSeconds: whole seconds up to a day', () => {
    const jwksAuth = { ...rsAuth, publicKeyFile: undefined, jwksUri: 'https://login.example.com/jwks.json' };
    const ca = dir.write('issuer-ca.pem', readFileSync(new URL('tls-fixtures/ca.crt', import.meta.url)));
    const bundle = dir.write('bundle.pem', Buffer.concat([readFileSync(new URL('tls-fixtures/ca.crt', import.meta.url)), readFileSync(new URL('tls-fixtures/other-ca.crt', import.meta.url))]));
    dir.write('not-a-cert.pem', rsaKey('k').publicPem);
    dir.write('broken.pem', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
    const key = jwt(validateTenantConfig({ auth: { ...jwksAuth, jwksCaFile: 'issuer-ca.pem', jwksFallbackSeconds: 3600 }, tenants: [tenant] }, file)).key;
    assert.ok(key.kind === 'jwks');
    assert.deepEqual(key.ca, { file: ca, pem: readFileSync(ca, 'utf8') });
    assert.equal(key.fallbackMs, 3_600_000);
    assert.equal(jwt(validateTenantConfig({ auth: { ...jwksAuth, jwksCaFile: 'bundle.pem' }, tenants: [tenant] }, file)).key.kind, 'jwks');
    // Only the checked certificates are kept: not a private key before them, nor text after them.
    const privateKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    dir.write('with-key.pem', `${privateKey}${readFileSync(ca, 'utf8')}not a certificate\n`);
    const withKey = jwt(validateTenantConfig({ auth: { ...jwksAuth, jwksCaFile: 'with-key.pem' }, tenants: [tenant] }, file)).key;
    assert.ok(withKey.kind === 'jwks');
    assert.equal(withKey.ca?.pem, readFileSync(ca, 'utf8'));
    // Off unless asked for.
    const plain = jwt(validateTenantConfig({ auth: jwksAuth, tenants: [tenant] }, file)).key;
    assert.ok(plain.kind === 'jwks' && plain.fallbackMs === undefined && plain.ca === undefined);
    assert.deepEqual(problems({ auth: { ...jwksAuth, jwksCaFile: 'missing.pem', jwksFallbackSeconds: 86_401 }, tenants: [tenant] }), [
      'auth.jwksFallbackSeconds: must be at most 86400 (a day)',
      `auth.jwksCaFile: cannot read ${join(dir.dir, 'missing.pem')}: ENOENT`,
    ]);
    assert.deepEqual(problems({ auth: { ...jwksAuth, jwksCaFile: 'not-a-cert.pem', jwksFallbackSeconds: -1 }, tenants: [tenant] }), [
      'auth.jwksFallbackSeconds: -1 is not a whole number of seconds',
      `auth.jwksCaFile: ${join(dir.dir, 'not-a-cert.pem')} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`,
    ]);
    assert.match(problems({ auth: { ...jwksAuth, jwksCaFile: 'broken.pem' }, tenants: [tenant] }).join('\n'), /^auth\.jwksCaFile: certificate 1 of .*broken\.pem does not parse \(/);
    assert.deepEqual(problems({ auth: { ...jwksAuth, jwksUri: 'http://127.0.0.1:8080/jwks.json', jwksCaFile: 'issuer-ca.pem' }, tenants: [tenant] }),
      ['auth.jwksCaFile: needs an https jwksUri (the CA verifies the JWKS server\'s certificate)']);
    assert.deepEqual(problems({ auth: { ...rsAuth, jwksCaFile: 'issuer-ca.pem', jwksFallbackSeconds: 60 }, tenants: [tenant] }), [
      'auth.jwksFallbackSeconds: is used only with jwksUri',
      'auth.jwksCaFile: is used only with jwksUri',
    ]);
  });

  it('refuses system:masters in groups and system: users', () => {
    assert.deepEqual(problems({ auth: rsAuth, tenants: [{ ...tenant, groups: ['tenant-a', 'system:masters'] }] }), ['tenants[0].groups: must not contain system:masters']);
    assert.deepEqual(problems({ auth: rsAuth, tenants: [{ ...tenant, user: 'system:admin' }] }), ['tenants[0].user: must not be a system: user']);
    assert.deepEqual(problems({ auth: rsAuth, tenants: [{ ...tenant, user: 'system:serviceaccount:kube-system:{sub}' }] }), ['tenants[0].user: must not be a system: user']);
  });

  it('refuses every system: group and whitespace-padded system identities', () => {
    assert.deepEqual(problems({ auth: rsAuth, tenants: [{ ...tenant, groups: [' system:masters'] }] }), ['tenants[0].groups: must not contain system:masters']);
    assert.equal(problems({ auth: rsAuth, tenants: [{ ...tenant, groups: ['system:nodes'] }] }).length, 1);
    assert.equal(problems({ auth: rsAuth, tenants: [{ ...tenant, user: ' system:admin' }] }).length, 1);
  });

  it('names the key of a bad number of seconds', () => {
    assert.deepEqual(problems({ auth: { ...rsAuth, clockToleranceSeconds: 'soon' }, tenants: [tenant] }), ['auth.clockToleranceSeconds: soon is not a whole number of seconds']);
  });

  it('reads YAML files and reports unreadable or invalid ones in one line', () => {
    const good = dir.write('good.yaml', `auth:\n  issuer: i\n  audience: a\n  algorithms: [RS256]\n  publicKeyFile: key.pem\ntenants:\n  - { name: a, match: { tenant: a }, user: "a:{sub}" }\n`);
    assert.equal(loadTenantConfig(good).tenants[0]!.name, 'a');
    assert.throws(() => loadTenantConfig(join(dir.dir, 'absent.yaml')), (err: Error) => err instanceof CrdgateError && /^cannot read tenants file .*absent\.yaml/.test(err.message) && !err.message.includes('\n'));
    const bad = dir.write('bad.yaml', 'auth: [\n');
    assert.throws(() => loadTenantConfig(bad), (err: Error) => err instanceof CrdgateError && /is not valid YAML/.test(err.message) && !err.message.includes('\n'));
  });
});

describe('per-tenant limits', () => {
  it('accepts query limits over 0 and budgets from 0 (unlimited), and refuses anything else, one line each', () => {
    const all = { maxCost: 50_000, maxDepth: 30, maxAliases: 2, maxDirectives: 5, maxTokens: 20_000, requestsPerSecond: 0, burst: 10, maxConcurrentCalls: 4, maxWatches: 0 };
    const ok = validateTenantConfig({ auth: rsAuth, tenants: [{ ...tenant, limits: all }] }, file);
    assert.deepEqual(ok.tenants[0]!.limits, all);
    const keys = 'maxCost, maxDepth, maxAliases, maxDirectives, maxTokens, requestsPerSecond, burst, maxConcurrentCalls, maxWatches, maxConnections';
    assert.deepEqual(problems({ auth: rsAuth, tenants: [{ ...tenant, limits: { maxCost: -1, maxDepth: 0, maxTokens: '9', depth: 3, maxWatches: -2, burst: 1.5 } }] }), [
      `tenants[0].limits.depth: unknown key (expected ${keys})`,
      'tenants[0].limits.maxCost: -1 is not a positive whole number',
      'tenants[0].limits.maxDepth: 0 is not a positive whole number',
      'tenants[0].limits.maxTokens: "9" is not a positive whole number',
      'tenants[0].limits.burst: 1.5 is not a positive whole number',
      'tenants[0].limits.maxWatches: -2 is not a whole number (0: unlimited)',
    ]);
    // Settings that are not per tenant stay the gateway's.
    assert.deepEqual(problems({ auth: rsAuth, tenants: [{ ...tenant, limits: { defaultPageSize: 5 } }] }), [
      `tenants[0].limits.defaultPageSize: unknown key (expected ${keys})`,
    ]);
    assert.deepEqual(problems({ auth: rsAuth, tenants: [{ ...tenant, limits: 7 }] }), ['tenants[0].limits: must be a mapping, e.g. { maxCost: 50000 }']);
  });
});

describe('per-tenant field manager', () => {
  it('accepts a name Kubernetes accepts as a fieldManager, and refuses anything else', () => {
    const ok = validateTenantConfig({ auth: rsAuth, tenants: [{ ...tenant, fieldManager: 'team-a/deployer' }, { ...tenant, name: 'b', match: { tenant: 'b' } }] }, file);
    assert.equal(ok.tenants[0]!.fieldManager, 'team-a/deployer');
    assert.equal(ok.tenants[1]!.fieldManager, undefined, 'no fieldManager: the gateway default applies');
    for (const bad of ['', 'x'.repeat(129), 'tab\there', 7]) {
      assert.deepEqual(problems({ auth: rsAuth, tenants: [{ ...tenant, fieldManager: bad }] }), ['tenants[0].fieldManager: must be a string of 1 to 128 printable characters'], JSON.stringify(bad));
    }
  });
});
