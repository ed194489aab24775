// Tenant isolation through the gateway, on the real control plane: every attack below is tried
// with tenant B's object in reach and must be refused with the right code, with nothing of B's
// (its image marker, its uid) in any response. Tokens come from a test issuer (RSA keys from
// node:crypto, a JWKS on 127.0.0.1); the same tenants are also served from a publicKeyFile and an
// HS256 secretFile. Subscriptions (WebSocket) are in tenants-watch.test.ts.
//
// | #  | attack                                                                  | expected (and asserted)                                   | file   |
// |----|-------------------------------------------------------------------------|-----------------------------------------------------------|--------|
// | 1  | RS256 token signed by another key under the published kid               | 401 UNAUTHENTICATED "signature is invalid"                | here   |
// | 2  | alg none (unsigned), published kid                                       | 401 UNAUTHENTICATED "unsigned tokens (alg none)"          | here   |
// | 3  | HS256 keyed with the RSA public key PEM (algorithm confusion)            | 401 UNAUTHENTICATED "algorithm is not accepted" (JWKS, PEM)| here   |
// | 4  | wrong iss                                                                | 401 UNAUTHENTICATED "issuer is not accepted"              | here   |
// | 5  | wrong aud                                                                | 401 UNAUTHENTICATED "audience is not accepted"            | here   |
// | 6  | expired (exp 60 s ago, tolerance 5 s)                                    | 401 UNAUTHENTICATED "expired"                             | here   |
// | 7  | not yet valid (nbf 60 s ahead, tolerance 5 s)                            | 401 UNAUTHENTICATED "not valid before"                    | here   |
// | 8  | unknown kid                                                              | 401 UNAUTHENTICATED "unknown key id"; the JWKS was refetched | here |
// | 9  | key rotation: new kid published after the set was cached                 | 200, works (refetch on unknown kid)                       | here   |
// | 10 | no Authorization header                                                  | 401 + WWW-Authenticate: Bearer realm="crdgate"            | here   |
// | 11 | malformed Authorization (Basic, "Bearer", two words, not a JWT, two headers) | 401 UNAUTHENTICATED + WWW-Authenticate                 | here   |
// | 12 | token without exp                                                        | 401 UNAUTHENTICATED "no expiry"                           | here   |
// | 13 | valid token whose claims match no tenant                                 | 403 FORBIDDEN "no tenant rule matches"                    | here   |
// | 14 | templates mapping to the user system:admin ({sub})                       | 403 FORBIDDEN "system: user"                              | here   |
// | 15 | templates mapping to the group system:masters ({groups})                 | 403 FORBIDDEN "group system:masters"                      | here   |
// | 16 | same with " system:masters" / "system:masters\t" (HTTP whitespace)       | 403 FORBIDDEN SYSTEM_IDENTITY                             | here   |
// | 17 | secretFile config: RS256 token, HS256 with another secret, alg none      | 401 UNAUTHENTICATED each                                  | here   |
// | 18 | A gets B's object                                                        | FORBIDDEN, data null                                      | here   |
// | 19 | A lists B's namespace                                                    | FORBIDDEN                                                 | here   |
// | 20 | A creates in B's namespace                                               | FORBIDDEN; kubectl: nothing created                       | here   |
// | 21 | A patches / replaces / scales / updates status of B's object             | FORBIDDEN; kubectl: B's object unchanged (resourceVersion)| here   |
// | 22 | A deletes B's object / B's collection                                    | FORBIDDEN; kubectl: B's object still there, same uid      | here   |
// | 23 | A lists all namespaces                                                   | only A's objects (both of A's namespaces)                 | here   |
// | 24 | A pages all namespaces with first:1                                      | 3 pages, A's 3 objects in order, never B's                | here   |
// | 25 | A's token + client Impersonate-User: system:admin / -Group: system:masters | still FORBIDDEN on B; all-namespace list still A's only | here   |
// | 26 | create/replace with namespace: A but metadata.namespace: B               | BAD_USER_INPUT (not BAD_REQUEST); nothing created in A nor B | here   |
// | 27 | aliases { a: A's object, b: B's object } in one request                  | data.a = A's, data.b null, one FORBIDDEN error at ["b"]   | here   |
// | 28 | introspection as A and as B                                              | A: CronTab + ClusterCronTab (read-only) types; B: CronTab only, __type(ClusterCronTab…) null | here |
// | 29 | WebSocket connection_init without token / with a forged token            | socket closed 4401                                        | watch  |
// | 30 | WebSocket connection_init with a token matching no tenant                | socket closed 4403                                        | watch  |
// | 31 | token expiring during a subscription (exp 4 s ahead)                     | subscription error UNAUTHENTICATED, then socket closed 4401 "token expired", ~2 ms after exp (asserted ≤ 1 s) | watch |
// | 32 | A watches B's namespace                                                  | FORBIDDEN error, no event                                 | watch  |
// | 33 | A watches all namespaces while objects change in A's and B's             | only A's events (initial state and live); B watching gets only B's | watch |
// | 34 | A's RoleBinding deleted during A's subscription                          | ends with FORBIDDEN in < 5 s (measured)                   | watch  |
// | 35 | A's cluster-wide grant revoked during an all-namespace subscription      | GONE (list again); the next one A's only, no B event      | watch  |
// | 36 | a token valid for 30 days on a WebSocket                                  | stays open                                                | watch  |
// | 37 | groups claim system:masters / " system:masters" / SYSTEM:MASTERS / System:Masters\t | 403 FORBIDDEN SYSTEM_IDENTITY, nothing of B      | here   |
// | 38 | groups claim of 300 elements (HTTP) / 10,000 elements (HTTP, WebSocket)  | 403 TOO_MANY_GROUPS; 10,000 over HTTP: 431 (header limit) | here, watch |
// | 39 | "oidc:{groups}" template, groups claim [B's group, system:masters]       | identity oidc:…: B's object FORBIDDEN                     | here   |
// | 40 | allowGroups "<A's group>", groups claim [B's group, A's group]           | B's group dropped: A's object readable, B's FORBIDDEN      | here   |
// | 41 | typ other than accepted / no typ (config typ: [JWT, at+jwt])             | 401 TOKEN_TYPE                                            | here   |
// | 42 | exp - iat over maxTokenLifetimeSeconds, no iat, iat in the future        | 401 TOKEN_LIFETIME                                        | here   |
// | 43 | WebSocket connection_init whose groups claim holds system:masters        | socket closed 4403, no ack                                | watch  |
// | 44 | TokenReview: garbage, another cluster's or a deleted account's token     | 401 TOKEN_REVIEW                                          | tokenreview |
// | 45 | TokenReview: service-account token for another audience                  | 401 TOKEN_AUDIENCE                                        | tokenreview |
// | 46 | TokenReview: a system:masters member's token (admin)                     | 403 SYSTEM_IDENTITY (unless allowSystemIdentities lists it) | tokenreview |
// | 47 | TokenReview: a valid user no tenant rule matches (carol)                 | 403 NO_TENANT                                             | tokenreview |
// | 48 | TokenReview: alice reads bob's namespace; alice's token + Impersonate-*  | FORBIDDEN; nothing of bob's                               | tokenreview |
// | 49 | TokenReview: a service-account token whose account is deleted during a subscription | subscription ends UNAUTHENTICATED           | tokenreview |
// | 50 | groups claim [A's group, B's non-ASCII group spelled as its UTF-8 bytes read as Latin-1 ("Ã©" for "é")] | FORBIDDEN (GraphQL, REST), nothing of B; the real name reads B's object | here |
// | 51 | groups claim or sub holding a lone UTF-16 surrogate (would reach Kubernetes as U+FFFD) | 403 UNSAFE_IDENTITY                          | here   |
// | 52 | kid / typ holding CR LF ("…\r\nSet-Cookie: …"), NUL, or characters beyond Latin-1 | 401 (GraphQL, REST), challenge printable ASCII, no injected header | here |
// | 53 | any token against a gateway whose RBAC lacks TokenReviews / access reviews | 503 UNAVAILABLE, neither the gateway's identity nor FORBIDDEN | tokenreview |
// | 54 | a caller's request the apiserver refuses to let the gateway impersonate | 503 UNAVAILABLE, without the gateway's identity | tokenreview |
//
// Every attack request is recorded in an attack ledger (test/helpers/attack-ledger.ts): each file
// prints "attack run: N attempts, N refused, N leaks"; `npm run attack` runs all three files and
// adds them up.
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createGateway, type Gateway } from '../../src/gateway.ts';
import { KubeClient } from '../../src/kube/kube-client.ts';
import { loadTenantConfig } from '../../src/auth/tenant-config.ts';
import { hmacSecret, JwksServer, nowSeconds, rsaKey, signHs256, signRs256, TenantsDir, unsignedToken, type Claims } from '../helpers/jwt-issuer.ts';
import { pollUntil } from '../helpers/poll-until.ts';
import { AttackLedger } from '../helpers/attack-ledger.ts';
import { kubeConfigFor, kubectl, uniqueName } from '../helpers/test-cluster.ts';

const run = uniqueName('sec');
const groupA = `${run}-a`;
const groupB = `${run}-b`;
const nsA1 = `${run}-a1`;
const nsA2 = `${run}-a2`;
const nsB = `${run}-b`;
const issuer = 'https://issuer.crdgate.test/';
const audience = 'crdgate-test';
/** A second group of B's, named with characters outside ASCII (Latin-1 and beyond). */
const groupBAccented = `${run}-b-équipe-团队`;
/** In B's object only: no response to A may ever contain it. */
const bMarker = `b-only-image-${run}`;

const v1 = '_v1_stable_example_com';
const getQ = (ns: string, name: string) => `{ cronTab${v1}(namespace: "${ns}", name: "${name}") { metadata { name namespace uid } spec { image } } }`;
const listAllQ = (first?: number, after?: string) =>
  `{ cronTabList${v1}${first ? `(first: ${first}${after ? `, after: "${after}"` : ''})` : ''} { edges { node { metadata { name namespace } spec { image } } } pageInfo { hasNextPage endCursor } } }`;

interface Reply {
  status: number;
  headers: Headers;
  text: string;
  body: { data?: Record<string, any> | null; errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, any> }[] };
}

async function post(url: string, query: string, headers: Record<string, string> = {}): Promise<Reply> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
    body: JSON.stringify({ query }),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  let body: Reply['body'] = {};
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON: the assertions on status and text say what it was.
  }
  return { status: res.status, headers: res.headers, text, body };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const ledger = new AttackLedger(import.meta.filename);
let currentTest = '';

function claims(tenant: string, extra: Claims = {}): Claims {
  const now = nowSeconds();
  return { iss: issuer, aud: audience, sub: `${tenant}-user`, tenant, iat: now, exp: now + 600, ...extra };
}

async function startGateway(configFile: string): Promise<{ gateway: Gateway; url: string }> {
  const gateway = await createGateway({ client: new KubeClient(kubeConfigFor('admin')), tenants: loadTenantConfig(configFile), explorer: false });
  const server = await gateway.listen(0);
  return { gateway, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql` };
}

async function kubectlOk(args: string[], input?: string): Promise<string> {
  const r = await kubectl(args, input === undefined ? {} : { input });
  assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** B's object as the admin sees it: the proof that an attack changed nothing. */
async function bObject(): Promise<{ uid: string; resourceVersion: string; image: string; replicas: number }> {
  const o = JSON.parse(await kubectlOk(['get', 'crontabs.stable.example.com', 'b-secret', '-n', nsB, '-o', 'json']));
  return { uid: o.metadata.uid, resourceVersion: o.metadata.resourceVersion, image: o.spec.image, replicas: o.spec.replicas };
}

async function crontabExists(ns: string, name: string): Promise<boolean> {
  const r = await kubectl(['get', 'crontabs.stable.example.com', name, '-n', ns, '-o', 'name']);
  if (r.code === 0) return true;
  assert.match(r.stderr, /NotFound|not found/, r.stderr);
  return false;
}

const crontab = (ns: string, name: string, image: string, replicas = 1) => `apiVersion: stable.example.com/v1
kind: CronTab
metadata: { name: ${name}, namespace: ${ns} }
spec: { cronSpec: "* * * * */5", image: "${image}", replicas: ${replicas} }
`;

const rbacYaml = () => `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: ${run}-editor }
rules:
- { apiGroups: [stable.example.com], resources: [crontabs], verbs: [get, list, watch, create, update, patch, delete, deletecollection] }
- { apiGroups: [stable.example.com], resources: [crontabs/status, crontabs/scale], verbs: [get, update, patch] }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: ${run}-cct-reader }
rules:
- { apiGroups: [stable.example.com], resources: [clustercrontabs], verbs: [get, list, watch] }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: ${run}-a-cct }
subjects: [{ kind: Group, name: ${groupA}, apiGroup: rbac.authorization.k8s.io }]
roleRef: { kind: ClusterRole, name: ${run}-cct-reader, apiGroup: rbac.authorization.k8s.io }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: editor-accented, namespace: ${nsB} }
subjects: [{ kind: Group, name: "${groupBAccented}", apiGroup: rbac.authorization.k8s.io }]
roleRef: { kind: ClusterRole, name: ${run}-editor, apiGroup: rbac.authorization.k8s.io }
${[[nsA1, groupA], [nsA2, groupA], [nsB, groupB]].map(([ns, g]) => `---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: editor, namespace: ${ns} }
subjects: [{ kind: Group, name: ${g}, apiGroup: rbac.authorization.k8s.io }]
roleRef: { kind: ClusterRole, name: ${run}-editor, apiGroup: rbac.authorization.k8s.io }
`).join('')}`;

describe('tenant isolation through the gateway', () => {
  const dir = new TenantsDir();
  const key1 = rsaKey('key-1');
  /** Same kid as key1, different key: what an attacker without the private key can sign. */
  const impostor = rsaKey('key-1');
  const key2 = rsaKey('key-2');
  const stranger = rsaKey('never-published');
  const jwks = new JwksServer([key1]);
  const secret = hmacSecret();
  let viaJwks: { gateway: Gateway; url: string };
  let viaPem: { gateway: Gateway; url: string };
  let viaSecret: { gateway: Gateway; url: string };
  let tokenA = '';
  let tokenB = '';
  let bUid = '';

  const tenants = [
    { name: 'a', match: { tenant: 'a' }, user: 'a:{sub}', groups: [groupA], extra: { 'crdgate.io/tenant': ['a'] } },
    { name: 'b', match: { tenant: 'b' }, user: 'b:{sub}', groups: [groupB] },
    // A rule that takes the identity straight from claims: claims must not reach system: identities.
    { name: 'templated', match: { tenant: 'c' }, user: '{sub}', groups: ['{groups}'] },
    // The same, but the identity provider's groups live under a prefix of their own.
    { name: 'prefixed', match: { tenant: 'p' }, user: 'p:{sub}', groups: ['oidc:{groups}'] },
    // Only A's group passes from the claim.
    { name: 'filtered', match: { tenant: 'f' }, user: 'f:{sub}', groups: ['{groups}'], allowGroups: groupA },
  ];

  const leaksB = (text: string) => text.includes(bMarker) || (!!bUid && text.includes(bUid));
  beforeEach((t) => {
    currentTest = t.name;
  });

  /** Nothing of B's object in a text A received. */
  const assertNothingOfB = (text: string) => {
    assert.ok(!text.includes(bMarker), `B's data leaked: ${text}`);
    assert.ok(!bUid || !text.includes(bUid), `B's uid leaked: ${text}`);
  };

  before(async () => {
    await jwks.start();
    const auth = { issuer, audience, clockToleranceSeconds: 5 };
    const jwksFile = dir.writeConfig('jwks.yaml', { auth: { ...auth, algorithms: ['RS256'], jwksUri: jwks.uri }, tenants });
    dir.write('key-1.pem', key1.publicPem);
    // The PEM config also pins the token type and bounds the token lifetime.
    const pemFile = dir.writeConfig('pem.yaml', { auth: { ...auth, algorithms: ['RS256'], publicKeyFile: 'key-1.pem', typ: ['JWT', 'at+jwt'], maxTokenLifetimeSeconds: 3600 }, tenants });
    dir.write('hs.secret', secret);
    const secretFile = dir.writeConfig('secret.yaml', { auth: { ...auth, algorithms: ['HS256'], secretFile: 'hs.secret' }, tenants });

    await kubectlOk(['create', 'namespace', nsA1]);
    await kubectlOk(['create', 'namespace', nsA2]);
    await kubectlOk(['create', 'namespace', nsB]);
    await kubectlOk(['apply', '-f', '-'], rbacYaml());
    await kubectlOk(['apply', '-f', '-'], [
      crontab(nsA1, 'a1-first', 'a-image'), crontab(nsA1, 'a1-second', 'a-image'), crontab(nsA2, 'a2-only', 'a-image'),
      crontab(nsB, 'b-secret', bMarker, 2),
    ].join('---\n'));
    bUid = (await bObject()).uid;

    [viaJwks, viaPem, viaSecret] = await Promise.all([startGateway(jwksFile), startGateway(pemFile), startGateway(secretFile)]);
    tokenA = signRs256(key1, claims('a'));
    tokenB = signRs256(key1, claims('b'));
    // RBAC reaches the apiserver's authorizer after a short delay: wait until both tenants work.
    await pollUntil('tenant A to read its object', async () => (await post(viaJwks.url, getQ(nsA1, 'a1-first'), bearer(tokenA))).body.data?.[`cronTab${v1}`], { timeoutMs: 15_000 });
    await pollUntil('tenant B to read its object', async () => (await post(viaJwks.url, getQ(nsB, 'b-secret'), bearer(tokenB))).body.data?.[`cronTab${v1}`], { timeoutMs: 15_000 });
  });

  after(async () => {
    console.log(ledger.summary());
    await Promise.all([viaJwks?.gateway.stop(), viaPem?.gateway.stop(), viaSecret?.gateway.stop()]);
    await jwks.stop();
    dir.remove();
    await kubectl(['delete', 'clusterrole', `${run}-editor`, `${run}-cct-reader`, '--ignore-not-found']);
    await kubectl(['delete', 'clusterrolebinding', `${run}-a-cct`, '--ignore-not-found']);
    await kubectl(['delete', 'namespace', nsA1, nsA2, nsB, '--wait=false', '--ignore-not-found']);
  });

  describe('authentication: refused tokens (each carries tenant B claims and asks for B\'s object)', () => {
    /** The request a stolen or forged B token would make. */
    async function refused(url: string, headers: Record<string, string>, status: number, code: string, reason: RegExp): Promise<Reply> {
      const r = await post(url, getQ(nsB, 'b-secret'), headers);
      // Accepted at all (a 2xx with data) is a leak here: every one of these identities is forbidden.
      ledger.record(currentTest, `${status} ${code} ${reason.source}`, {
        refused: r.status === status && r.body.errors?.[0]?.extensions?.code === code,
        leaked: leaksB(r.text) || (r.status < 300 && r.body.data != null),
      });
      assert.equal(r.status, status, r.text);
      assert.equal(r.body.errors?.length, 1, r.text);
      assert.equal(r.body.errors[0]!.extensions?.code, code, r.text);
      assert.match(r.body.errors[0]!.message, reason);
      assert.equal(r.body.data, undefined, r.text);
      // RFC 6750 §3.1: a request without any credentials gets the bare challenge, a bad token an error code.
      if (status === 401) assert.match(r.headers.get('www-authenticate') ?? '', headers.authorization === undefined ? /^Bearer realm="crdgate"$/ : /^Bearer realm="crdgate", error="invalid_token"/);
      else assert.equal(r.headers.get('www-authenticate'), null);
      assertNothingOfB(r.text);
      return r;
    }

    /** A token accepted as an identity that RBAC gives nothing of B's: every request for B's object is FORBIDDEN. */
    async function refusedByRbac(token: string): Promise<void> {
      for (const q of [getQ(nsB, 'b-secret'), `{ cronTabList${v1}(namespace: "${nsB}") { edges { node { spec { image } } } } }`]) {
        const r = await post(viaJwks.url, q, bearer(token));
        // An identity with no rights at all does not even see the field (its schema has none).
        const code = r.body.errors?.[0]?.extensions?.code;
        ledger.record(currentTest, q.slice(0, 60), { refused: code === 'FORBIDDEN' || code === 'GRAPHQL_VALIDATION_FAILED', leaked: leaksB(r.text) });
        assertNothingOfB(r.text);
        assert.ok(code === 'FORBIDDEN' || code === 'GRAPHQL_VALIDATION_FAILED', r.text);
      }
      const all = await post(viaJwks.url, listAllQ(), bearer(token));
      ledger.record(currentTest, 'list across all namespaces', { refused: !leaksB(all.text), leaked: leaksB(all.text) });
      assertNothingOfB(all.text);
    }

    it('a genuine B token reads B\'s object (the requests below would succeed if verification were bypassed)', async () => {
      const r = await post(viaJwks.url, getQ(nsB, 'b-secret'), bearer(tokenB));
      assert.equal(r.body.data?.[`cronTab${v1}`]?.spec?.image, bMarker, r.text);
    });

    it('forged signature: signed by another key under the published kid', async () => {
      await refused(viaJwks.url, bearer(signRs256(impostor, claims('b'))), 401, 'UNAUTHENTICATED', /signature is invalid/);
      await refused(viaPem.url, bearer(signRs256(impostor, claims('b'))), 401, 'UNAUTHENTICATED', /signature is invalid/);
    });

    it('alg none: an unsigned token', async () => {
      await refused(viaJwks.url, bearer(unsignedToken(claims('b'), { kid: key1.kid })), 401, 'UNAUTHENTICATED', /unsigned tokens \(alg none\)/);
      await refused(viaPem.url, bearer(unsignedToken(claims('b'))), 401, 'UNAUTHENTICATED', /unsigned tokens \(alg none\)/);
      await refused(viaSecret.url, bearer(unsignedToken(claims('b'))), 401, 'UNAUTHENTICATED', /unsigned tokens \(alg none\)/);
    });

    it('algorithm confusion: HS256 keyed with the RSA public key', async () => {
      await refused(viaJwks.url, bearer(signHs256(key1.publicPem, claims('b'), { kid: key1.kid })), 401, 'UNAUTHENTICATED', /algorithm is not accepted/);
      await refused(viaPem.url, bearer(signHs256(key1.publicPem, claims('b'))), 401, 'UNAUTHENTICATED', /algorithm is not accepted/);
    });

    it('wrong issuer', async () => {
      await refused(viaJwks.url, bearer(signRs256(key1, claims('b', { iss: 'https://evil.example/' }))), 401, 'UNAUTHENTICATED', /issuer is not accepted/);
    });

    it('wrong audience', async () => {
      await refused(viaJwks.url, bearer(signRs256(key1, claims('b', { aud: 'another-service' }))), 401, 'UNAUTHENTICATED', /audience is not accepted/);
    });

    it('expired beyond the clock tolerance', async () => {
      await refused(viaJwks.url, bearer(signRs256(key1, claims('b', { iat: nowSeconds() - 700, exp: nowSeconds() - 60 }))), 401, 'UNAUTHENTICATED', /expired/);
    });

    it('not yet valid: nbf beyond the clock tolerance', async () => {
      await refused(viaJwks.url, bearer(signRs256(key1, claims('b', { nbf: nowSeconds() + 60 }))), 401, 'UNAUTHENTICATED', /not valid before/);
    });

    it('an unknown kid is refused after the key set is refetched; a kid added by rotation is then accepted', async () => {
      const before = jwks.fetches;
      assert.ok(before >= 1, 'the key set was fetched for the tokens above');
      await refused(viaJwks.url, bearer(signRs256(stranger, claims('b'))), 401, 'UNAUTHENTICATED', /unknown key id "never-published"/);
      assert.equal(jwks.fetches, before + 1, 'an unknown kid makes the gateway fetch the key set again');

      // Rotation: key-2 is published; the gateway has key-1 cached and must look again.
      jwks.keys = [key1, key2];
      const rotated = signRs256(key2, claims('a'));
      const r = await post(viaJwks.url, getQ(nsA1, 'a1-first'), bearer(rotated));
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.data?.[`cronTab${v1}`]?.metadata?.name, 'a1-first', r.text);
      assert.equal(jwks.fetches, before + 2, 'the new kid was found by refetching the key set');
      // The old key still works (both are published), and the impostor still does not.
      assert.equal((await post(viaJwks.url, getQ(nsA1, 'a1-first'), bearer(tokenA))).status, 200);
      await refused(viaJwks.url, bearer(signRs256(impostor, claims('b'))), 401, 'UNAUTHENTICATED', /signature is invalid/);
    });

    it('no token at all: 401 with a WWW-Authenticate challenge', async () => {
      await refused(viaJwks.url, {}, 401, 'UNAUTHENTICATED', /bearer token is required/);
    });

    it('malformed Authorization headers', async () => {
      await refused(viaJwks.url, { authorization: 'Basic YWxpY2U6c2VjcmV0' }, 401, 'UNAUTHENTICATED', /must be "Bearer <token>"/);
      await refused(viaJwks.url, { authorization: 'Bearer' }, 401, 'UNAUTHENTICATED', /must be "Bearer <token>"/);
      await refused(viaJwks.url, { authorization: `Bearer ${tokenB} ${tokenB}` }, 401, 'UNAUTHENTICATED', /must be "Bearer <token>"/);
      await refused(viaJwks.url, { authorization: 'Bearer not-a-jwt' }, 401, 'UNAUTHENTICATED', /malformed/);
      // B's genuine token with its signature cut off is just unsigned.
      await refused(viaJwks.url, bearer(tokenB.slice(0, tokenB.lastIndexOf('.') + 1)), 401, 'UNAUTHENTICATED', /unsigned|signature/);
      // Two Authorization headers (fetch would join them into one): Node keeps the first, so neither is taken.
      const two = await new Promise<{ status: number; text: string }>((resolve, reject) => {
        const body = JSON.stringify({ query: getQ(nsB, 'b-secret') });
        const req = httpRequest(viaJwks.url, { method: 'POST', headers: ['host', new URL(viaJwks.url).host, 'content-type', 'application/json', 'content-length', String(Buffer.byteLength(body)), 'authorization', `Bearer ${tokenB}`, 'authorization', `Bearer ${tokenA}`] }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        });
        req.on('error', reject);
        req.end(body);
      });
      ledger.record(currentTest, 'two Authorization headers', { refused: two.status === 401, leaked: leaksB(two.text) && two.status !== 401 });
      assert.equal(two.status, 401, two.text.slice(0, 400));
      assert.match(two.text, /the request carries 2 Authorization headers/);
    });

    it('a token without exp', async () => {
      const c = claims('b');
      delete c.exp;
      await refused(viaJwks.url, bearer(signRs256(key1, c)), 401, 'UNAUTHENTICATED', /no expiry/);
    });

    it('a valid token whose claims match no tenant: 403', async () => {
      await refused(viaJwks.url, bearer(signRs256(key1, claims('z'))), 403, 'FORBIDDEN', /no tenant rule matches/);
      // Matching is exact: a claim that merely contains the value does not match.
      await refused(viaJwks.url, bearer(signRs256(key1, claims('b ', {}))), 403, 'FORBIDDEN', /no tenant rule matches/);
    });

    it('claims that map to a system: user or to system:masters through templates: 403', async () => {
      await refused(viaJwks.url, bearer(signRs256(key1, claims('c', { sub: 'system:admin' }))), 403, 'FORBIDDEN', /system: user/);
      await refused(viaJwks.url, bearer(signRs256(key1, claims('c', { sub: 'system:kube-controller-manager' }))), 403, 'FORBIDDEN', /system: user/);
      await refused(viaJwks.url, bearer(signRs256(key1, claims('c', { sub: 'mallory', groups: ['system:masters'] }))), 403, 'FORBIDDEN', /group system:masters/);
      await refused(viaJwks.url, bearer(signRs256(key1, claims('c', { sub: 'mallory', groups: 'system:masters' }))), 403, 'FORBIDDEN', /group system:masters/);
      await refused(viaJwks.url, bearer(signRs256(key1, claims('c', { sub: 'mallory', groups: [groupB, 'system:nodes'] }))), 403, 'FORBIDDEN', /group system:nodes/);
    });

    it('claims that map to system:masters with HTTP whitespace around it: 403', async () => {
      for (const g of [' system:masters', 'system:masters\t']) {
        const r = await refused(viaJwks.url, bearer(signRs256(key1, claims('c', { sub: 'mallory', groups: [g] }))), 403, 'FORBIDDEN', /system:masters/);
        assert.equal(r.body.errors![0]!.extensions?.authReason, 'SYSTEM_IDENTITY');
      }
      for (const sub of [' system:admin', 'system:kube-controller-manager ']) {
        await refused(viaJwks.url, bearer(signRs256(key1, claims('c', { sub }))), 403, 'FORBIDDEN', /system: user/);
      }
    });

    it('a groups claim holding system:masters in any spelling: 403 SYSTEM_IDENTITY', async () => {
      for (const g of ['system:masters', ' system:masters', 'SYSTEM:MASTERS', 'System:Masters\t']) {
        const r = await refused(viaJwks.url, bearer(signRs256(key1, claims('c', { sub: 'mallory', groups: [groupB, g] }))), 403, 'FORBIDDEN', /system:masters/i);
        assert.equal(r.body.errors![0]!.extensions?.authReason, 'SYSTEM_IDENTITY');
      }
    });

    it('a groups claim of 300 elements: 403 TOO_MANY_GROUPS; of 10,000: refused by the header limit before any work', async () => {
      const many = Array.from({ length: 300 }, (_, i) => `g${i}`);
      const r = await refused(viaJwks.url, bearer(signRs256(key1, claims('c', { sub: 'mallory', groups: [groupB, ...many] }))), 403, 'FORBIDDEN', /301 or more groups; at most 256/);
      assert.equal(r.body.errors![0]!.extensions?.authReason, 'TOO_MANY_GROUPS');
      const huge = Array.from({ length: 10_000 }, (_, i) => `g${i}`);
      const res = await fetch(viaJwks.url, {
        method: 'POST', headers: { 'content-type': 'application/json', ...bearer(signRs256(key1, claims('c', { sub: 'mallory', groups: [groupB, ...huge] }))) },
        body: JSON.stringify({ query: getQ(nsB, 'b-secret') }),
      });
      const text = await res.text();
      ledger.record(currentTest, '10,000 groups over HTTP', { refused: res.status === 431, leaked: leaksB(text) || res.status < 300 });
      // Node's HTTP server refuses headers over 16 KiB (431) before the gateway sees the request;
      // over WebSocket the same token reaches the gateway and gets TOO_MANY_GROUPS (tenants-watch).
      assert.equal(res.status, 431, text);
      assertNothingOfB(text);
    });

    it('a prefixed group template: a claim naming B\'s group (or system:masters) becomes oidc:…, which grants nothing', async () => {
      const token = signRs256(key1, claims('p', { sub: 'mallory', groups: [groupB, 'system:masters'] }));
      await refusedByRbac(token);
    });

    it('allowGroups: a claim group outside the allow-list is dropped, so B\'s group grants nothing', async () => {
      const token = signRs256(key1, claims('f', { sub: 'mallory', groups: [groupB, groupA] }));
      const own = await pollUntil('A\'s group to let the filtered tenant read A\'s object', async () => (await post(viaJwks.url, getQ(nsA1, 'a1-first'), bearer(token))).body.data?.[`cronTab${v1}`], { timeoutMs: 10_000 });
      assert.equal(own.metadata.name, 'a1-first');
      await refusedByRbac(token);
    });

    it('non-ASCII names reach Kubernetes as written: B\'s accented group reads B\'s object, its UTF-8 bytes spelled as Latin-1 do not', async () => {
      const genuine = signRs256(key1, claims('c', { sub: 'mallory', groups: [groupBAccented] }));
      const own = await pollUntil('B\'s accented group to read B\'s object', async () => (await post(viaJwks.url, getQ(nsB, 'b-secret'), bearer(genuine))).body.data?.[`cronTab${v1}`], { timeoutMs: 10_000 });
      assert.equal(own.spec.image, bMarker);
      // Another name for the identity provider ("Ã©quipe-å\u009b¢…"), whose UTF-8 bytes sent as
      // Latin-1 header bytes would be exactly those of B's group.
      // With A's group next to it, the caller's schema has the CronTab fields, so only RBAC on the
      // impersonated request stands between it and B's object (before the fix: B's object, 200).
      const mojibake = Buffer.from(groupBAccented, 'utf8').toString('latin1');
      for (const groups of [[groupA, mojibake], [mojibake]]) await refusedByRbac(signRs256(key1, claims('c', { sub: 'mallory', groups })));
      const rest = await fetch(viaJwks.url.replace(/\/graphql$/, `/rest/stable.example.com/v1/namespaces/${nsB}/crontabs/b-secret`), { headers: bearer(signRs256(key1, claims('c', { sub: 'mallory', groups: [groupA, mojibake] }))) });
      const text = await rest.text();
      ledger.record(currentTest, 'REST get of B\'s object', { refused: rest.status === 403, leaked: leaksB(text) });
      assert.equal(rest.status, 403, text);
      assertNothingOfB(text);
    });

    it('a claim holding a lone UTF-16 surrogate (no UTF-8 spelling; it would reach Kubernetes as U+FFFD): 403 UNSAFE_IDENTITY', async () => {
      for (const extra of [{ sub: 'mallory', groups: [`${groupB}\ud800`] }, { sub: 'mallory\udfff' }]) {
        const r = await refused(viaJwks.url, bearer(signRs256(key1, claims('c', extra))), 403, 'FORBIDDEN', /control characters/);
        assert.equal(r.body.errors![0]!.extensions?.authReason, 'UNSAFE_IDENTITY');
      }
    });

    it('a kid or typ holding line breaks, NUL or characters beyond Latin-1: 401 with a challenge of printable ASCII, not 500', async () => {
      for (const kid of ['x\r\nSet-Cookie: a=b', 'a\u0000b', '团']) {
        const r = await refused(viaJwks.url, bearer(signRs256(key1, claims('b'), { kid })), 401, 'UNAUTHENTICATED', /unknown key id/);
        assert.match(r.headers.get('www-authenticate')!, /^[\x20-\x7e]*$/);
        const rest = await fetch(viaJwks.url.replace(/\/graphql$/, `/rest/stable.example.com/v1/namespaces/${nsB}/crontabs/b-secret`), { headers: bearer(signRs256(key1, claims('b'), { kid })) });
        const text = await rest.text();
        ledger.record(currentTest, `REST kid ${JSON.stringify(kid)}`, { refused: rest.status === 401, leaked: leaksB(text) });
        assert.equal(rest.status, 401, text);
        assert.equal(rest.headers.get('set-cookie'), null);
        assert.match(rest.headers.get('www-authenticate')!, /^Bearer realm="crdgate", error="invalid_token", error_description="[\x20-\x7e]*"$/);
      }
      await refused(viaPem.url, bearer(signRs256(key1, claims('b'), { typ: 'at+jwt\r\nX-Injected: 1' })), 401, 'UNAUTHENTICATED', /token type \(typ\)/);
    });

    it('a token type other than the accepted ones, or none: 401 TOKEN_TYPE', async () => {
      for (const typ of ['JOSE', 'id_token+jwt', undefined]) {
        const r = await refused(viaPem.url, bearer(signRs256(key1, claims('b'), { typ })), 401, 'UNAUTHENTICATED', /token type \(typ\)/);
        assert.equal(r.body.errors![0]!.extensions?.authReason, 'TOKEN_TYPE');
      }
      // Compared as RFC 8725 says: case-insensitive, with or without application/.
      const ok = await post(viaPem.url, getQ(nsA1, 'a1-first'), bearer(signRs256(key1, claims('a'), { typ: 'application/AT+JWT' })));
      assert.equal(ok.body.data?.[`cronTab${v1}`]?.metadata?.name, 'a1-first', ok.text);
    });

    it('a token living longer than maxTokenLifetimeSeconds, without iat, or issued in the future: 401 TOKEN_LIFETIME', async () => {
      const now = nowSeconds();
      const noIat = claims('b');
      delete noIat.iat;
      for (const [c, why] of [
        [claims('b', { iat: now, exp: now + 2 * 86_400 }), /lives 172800 s/],
        [noIat, /no issue time/],
        [claims('b', { iat: now + 600, exp: now + 900 }), /issued in the future/],
      ] as const) {
        const r = await refused(viaPem.url, bearer(signRs256(key1, c)), 401, 'UNAUTHENTICATED', why);
        assert.equal(r.body.errors![0]!.extensions?.authReason, 'TOKEN_LIFETIME');
      }
    });

    it('a shared-secret (HS256) config: RS256 tokens, other secrets and alg none are refused; its own tokens work', async () => {
      const ok = await post(viaSecret.url, getQ(nsA1, 'a1-first'), bearer(signHs256(secret, claims('a'))));
      assert.equal(ok.body.data?.[`cronTab${v1}`]?.metadata?.name, 'a1-first', ok.text);
      await refused(viaSecret.url, bearer(signRs256(key1, claims('b'))), 401, 'UNAUTHENTICATED', /algorithm is not accepted/);
      await refused(viaSecret.url, bearer(signHs256(hmacSecret(), claims('b'))), 401, 'UNAUTHENTICATED', /signature is invalid/);
      await refused(viaSecret.url, bearer(signHs256(key1.publicPem, claims('b'))), 401, 'UNAUTHENTICATED', /signature is invalid/);
    });

    it('a publicKeyFile config accepts tokens of its key', async () => {
      const ok = await post(viaPem.url, getQ(nsA1, 'a1-first'), bearer(signRs256(key1, claims('a'))));
      assert.equal(ok.body.data?.[`cronTab${v1}`]?.metadata?.name, 'a1-first', ok.text);
      await refused(viaPem.url, bearer(signRs256(key2, claims('b'), { kid: 'key-1' })), 401, 'UNAUTHENTICATED', /signature is invalid/);
    });
  });

  describe('tenant A against tenant B\'s namespace', () => {
    /** One FORBIDDEN error, nothing of B's in the response. */
    async function forbidden(query: string, headers: Record<string, string> = bearer(tokenA)): Promise<Reply> {
      const r = await post(viaJwks.url, query, headers);
      ledger.record(currentTest, query.slice(0, 60), { refused: r.body.errors?.length === 1 && r.body.errors[0]!.extensions?.code === 'FORBIDDEN', leaked: leaksB(r.text) });
      assertNothingOfB(r.text);
      assert.equal(r.body.errors?.length, 1, r.text);
      assert.equal(r.body.errors[0]!.extensions?.code, 'FORBIDDEN', r.text);
      return r;
    }

    it('get: FORBIDDEN, data null', async () => {
      const r = await forbidden(getQ(nsB, 'b-secret'));
      assert.equal(r.body.data?.[`cronTab${v1}`], null);
      assert.deepEqual(r.body.errors![0]!.path, [`cronTab${v1}`]);
      // The default-version field and the v2 field are the same resource.
      await forbidden(`{ cronTab_stable_example_com(namespace: "${nsB}", name: "b-secret") { spec { image } } }`);
      await forbidden(`{ cronTab_v2_stable_example_com(namespace: "${nsB}", name: "b-secret") { metadata { uid } } }`);
      await forbidden(`{ cronTab_Scale${v1}(namespace: "${nsB}", name: "b-secret") { spec { replicas } } }`);
    });

    it('list in B\'s namespace: FORBIDDEN', async () => {
      const r = await forbidden(`{ cronTabList${v1}(namespace: "${nsB}") { edges { node { spec { image } } } } }`);
      assert.equal(r.body.data, null);
    });

    it('create in B\'s namespace: FORBIDDEN and nothing created', async () => {
      await forbidden(`mutation { createCronTab${v1}(namespace: "${nsB}", input: { metadata: { name: "planted" }, spec: { image: "x" } }) { metadata { uid } } }`);
      assert.equal(await crontabExists(nsB, 'planted'), false);
    });

    it('patch, replace, scale and status update of B\'s object: FORBIDDEN and B\'s object unchanged', async () => {
      const before = await bObject();
      await forbidden(`mutation { patchCronTab${v1}(namespace: "${nsB}", name: "b-secret", type: MERGE, patch: { spec: { image: "hijacked" } }) { spec { image } } }`);
      await forbidden(`mutation { patchCronTab${v1}(namespace: "${nsB}", name: "b-secret", type: JSON, jsonPatch: [{ op: replace, path: "/spec/image", value: "hijacked" }]) { spec { image } } }`);
      await forbidden(`mutation { patchCronTab${v1}(namespace: "${nsB}", name: "b-secret", type: APPLY, fieldManager: "a", force: true, patch: { spec: { image: "hijacked" } }) { spec { image } } }`);
      await forbidden(`mutation { replaceCronTab${v1}(namespace: "${nsB}", name: "b-secret", input: { metadata: { name: "b-secret" }, spec: { image: "hijacked" } }) { spec { image } } }`);
      await forbidden(`mutation { scaleCronTab${v1}(namespace: "${nsB}", name: "b-secret", replicas: 9) { spec { replicas } } }`);
      await forbidden(`mutation { updateCronTabStatus${v1}(namespace: "${nsB}", name: "b-secret", input: { metadata: { name: "b-secret" }, status: { replicas: 9 } }) { status { replicas } } }`);
      assert.deepEqual(await bObject(), before);
    });

    it('delete of B\'s object and of B\'s collection: FORBIDDEN and B\'s object still there', async () => {
      const before = await bObject();
      await forbidden(`mutation { deleteCronTab${v1}(namespace: "${nsB}", name: "b-secret") { object { metadata { uid } } } }`);
      await forbidden(`mutation { deleteCronTabList${v1}(namespace: "${nsB}") { metadata { uid } } }`);
      assert.deepEqual(await bObject(), before);
    });

    it('a list across all namespaces holds A\'s objects only, from both of A\'s namespaces', async () => {
      const r = await post(viaJwks.url, listAllQ(), bearer(tokenA));
      ledger.record(currentTest, 'A lists all namespaces', { refused: !leaksB(r.text), leaked: leaksB(r.text) });
      assertNothingOfB(r.text);
      assert.equal(r.body.errors, undefined, r.text);
      const names = r.body.data![`cronTabList${v1}`].edges.map((e: any) => `${e.node.metadata.namespace}/${e.node.metadata.name}`);
      assert.deepEqual(names, [`${nsA1}/a1-first`, `${nsA1}/a1-second`, `${nsA2}/a2-only`]);
      // And B, the other way round.
      const rb = await post(viaJwks.url, listAllQ(), bearer(tokenB));
      assert.deepEqual(rb.body.data![`cronTabList${v1}`].edges.map((e: any) => e.node.metadata.name), ['b-secret'], rb.text);
    });

    it('paging across all namespaces with first: 1 walks through both of A\'s namespaces, never B\'s', async () => {
      const seen: string[] = [];
      let after: string | undefined;
      for (let page = 0; page < 10; page++) {
        const r = await post(viaJwks.url, listAllQ(1, after), bearer(tokenA));
        ledger.record(currentTest, `page ${page}`, { refused: !leaksB(r.text), leaked: leaksB(r.text) });
        assertNothingOfB(r.text);
        assert.equal(r.body.errors, undefined, r.text);
        const conn = r.body.data![`cronTabList${v1}`];
        assert.ok(conn.edges.length <= 1, r.text);
        seen.push(...conn.edges.map((e: any) => `${e.node.metadata.namespace}/${e.node.metadata.name}`));
        if (!conn.pageInfo.hasNextPage) break;
        after = conn.pageInfo.endCursor;
        assert.ok(after, 'a next page has a cursor');
      }
      assert.deepEqual(seen, [`${nsA1}/a1-first`, `${nsA1}/a1-second`, `${nsA2}/a2-only`]);
    });

    it('client-sent Impersonate-* headers next to A\'s token do not elevate', async () => {
      const headers = {
        ...bearer(tokenA),
        'Impersonate-User': 'system:admin',
        'Impersonate-Group': 'system:masters',
        'Impersonate-Extra-Scopes': 'everything',
      };
      await forbidden(getQ(nsB, 'b-secret'), headers);
      await forbidden(`mutation { patchCronTab${v1}(namespace: "${nsB}", name: "b-secret", type: MERGE, patch: { spec: { image: "hijacked" } }) { spec { image } } }`, headers);
      const r = await post(viaJwks.url, listAllQ(), headers);
      ledger.record(currentTest, 'list with Impersonate-* headers', { refused: !leaksB(r.text), leaked: leaksB(r.text) });
      assertNothingOfB(r.text);
      assert.equal(r.body.data?.[`cronTabList${v1}`]?.edges?.length, 3, r.text);
      // Without any token, the headers are not an identity either.
      const anon = await post(viaJwks.url, getQ(nsB, 'b-secret'), { 'Impersonate-User': 'system:admin', 'Impersonate-Group': 'system:masters' });
      ledger.record(currentTest, 'Impersonate-* headers without a token', { refused: anon.status === 401, leaked: leaksB(anon.text) || anon.status < 300 });
      assert.equal(anon.status, 401, anon.text);
      assertNothingOfB(anon.text);
    });

    it('a namespace argument that differs from metadata.namespace is refused and nothing is created', async () => {
      const r = await post(viaJwks.url, `mutation { createCronTab${v1}(namespace: "${nsA1}", input: { metadata: { name: "smuggled", namespace: "${nsB}" }, spec: { image: "x" } }) { metadata { namespace } } }`, bearer(tokenA));
      ledger.record(currentTest, 'create with metadata.namespace of B', { refused: r.body.errors?.[0]?.extensions?.code === 'BAD_USER_INPUT', leaked: leaksB(r.text) || !!r.body.data?.[`createCronTab${v1}`] });
      assert.equal(r.body.errors?.length, 1, r.text);
      // The GraphQL layer refuses it before any Kubernetes call, with GraphQL's input-error code
      // (BAD_USER_INPUT, as for every argument error); the service layer would say BAD_REQUEST.
      assert.equal(r.body.errors[0]!.extensions?.code, 'BAD_USER_INPUT', r.text);
      assert.match(r.body.errors[0]!.message, new RegExp(`metadata.namespace is "${nsB}", but the namespace argument is "${nsA1}"`));
      const replace = await post(viaJwks.url, `mutation { replaceCronTab${v1}(namespace: "${nsA1}", name: "a1-first", input: { metadata: { name: "a1-first", namespace: "${nsB}" }, spec: { image: "x" } }) { metadata { namespace } } }`, bearer(tokenA));
      assert.equal(replace.body.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT', replace.text);
      assert.equal(await crontabExists(nsA1, 'smuggled'), false);
      assert.equal(await crontabExists(nsB, 'smuggled'), false);
    });

    it('aliases fetching A\'s and B\'s objects in one request: A\'s data, and FORBIDDEN with null for B', async () => {
      const r = await post(viaJwks.url, `{
        a: cronTab${v1}(namespace: "${nsA1}", name: "a1-first") { metadata { name } spec { image } }
        b: cronTab${v1}(namespace: "${nsB}", name: "b-secret") { metadata { name } spec { image } }
      }`, bearer(tokenA));
      ledger.record(currentTest, 'aliases of A\'s and B\'s object', { refused: r.body.data?.b === null, leaked: leaksB(r.text) });
      assertNothingOfB(r.text);
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.body.data, { a: { metadata: { name: 'a1-first' }, spec: { image: 'a-image' } }, b: null });
      assert.equal(r.body.errors?.length, 1, r.text);
      assert.deepEqual(r.body.errors[0]!.path, ['b']);
      assert.equal(r.body.errors[0]!.extensions?.code, 'FORBIDDEN');
    });

    it('introspection shows each tenant its own types and root fields only', async () => {
      const q = `{ __schema { types { name } queryType { fields { name } } mutationType { fields { name } } subscriptionType { fields { name } } }
        cct: __type(name: "ClusterCronTab${v1}") { name } apiResources { crdName } }`;
      const view = async (token: string) => {
        const r = await post(viaJwks.url, q, bearer(token));
        assert.equal(r.body.errors, undefined, r.text);
        const s = r.body.data!.__schema;
        const fields = (t: { fields: { name: string }[] } | null) => (t?.fields ?? []).map((f) => f.name);
        return {
          // Generated types carry a "_" (shared and introspection types do not, or start with "__").
          generated: s.types.map((t: { name: string }) => t.name).filter((n: string) => n.includes('_') && !n.startsWith('__')) as string[],
          query: fields(s.queryType), mutation: fields(s.mutationType), subscription: fields(s.subscriptionType),
          cct: r.body.data!.cct, resources: r.body.data!.apiResources.map((x: { crdName: string }) => x.crdName).sort(),
        };
      };
      const a = await view(tokenA);
      const b = await view(tokenB);
      const family = (names: string[]) => [...new Set(names.map((n) => n.split('_')[0]))].sort();
      assert.deepEqual(family(a.generated), ['ClusterCronTab', 'CronTab']);
      assert.deepEqual(family(b.generated), ['CronTab']);
      assert.ok(a.query.includes(`clusterCronTab${v1}`) && a.query.includes(`clusterCronTabList${v1}`), a.query.join());
      assert.equal(a.cct?.name, `ClusterCronTab${v1}`);
      // A may only read ClusterCronTabs: no mutation or other write field for them.
      assert.deepEqual(a.mutation.filter((f) => /ClusterCronTab/.test(f)), []);
      assert.ok(a.subscription.includes(`watchClusterCronTab${v1}`));
      assert.deepEqual(b.query.filter((f) => /clusterCronTab/i.test(f)), []);
      assert.deepEqual(b.subscription.filter((f) => /ClusterCronTab/.test(f)), []);
      assert.equal(b.cct, null);
      assert.ok(b.query.includes(`cronTab${v1}`) && b.mutation.includes(`createCronTab${v1}`));
      assert.deepEqual(a.resources, ['clustercrontabs.stable.example.com', 'crontabs.stable.example.com'].sort());
      assert.deepEqual(b.resources, ['crontabs.stable.example.com']);
      // Asking B's schema for a field only A has fails validation, suggesting nothing of A's.
      const probe = await post(viaJwks.url, `{ clusterCronTabList${v1} { edges { node { metadata { name } } } } }`, bearer(tokenB));
      assert.equal(probe.status, 400, probe.text);
      assert.doesNotMatch(probe.text.replaceAll(`clusterCronTabList${v1}`, ''), /ClusterCronTab/i);
    });
  });
});
