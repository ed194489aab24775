// TokenReview mode on the real control plane: callers send Kubernetes tokens (the launcher's static
// tokens for alice, bob, carol and the admin; service-account tokens from the TokenRequest API),
// the apiserver says who they are, and that identity is impersonated. Rows 44-49 of the attack
// table in tenants-security.test.ts; every attack is recorded in the attack ledger.
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { createGateway, type Gateway } from '../../src/gateway.ts';
import { KubeClient } from '../../src/kube/kube-client.ts';
import { loadTenantConfig } from '../../src/auth/tenant-config.ts';
import { tokenReviewGranted, tokenReviewNotGranted } from '../../src/auth/token-review.ts';
import type { GatewayPlugin } from '../../src/plugins/gateway-plugin.ts';
import { AttackLedger } from '../helpers/attack-ledger.ts';
import { rsaKey, signRs256, TenantsDir } from '../helpers/jwt-issuer.ts';
import { pollUntil } from '../helpers/poll-until.ts';
import { openClient, Subscription } from '../helpers/subscription-client.ts';
import { kubeConfigFor, kubectl, testCluster, uniqueName } from '../helpers/test-cluster.ts';

const run = uniqueName('sectr');
const nsA = `${run}-a`;
const nsB = `${run}-b`;
const bMarker = `bob-only-image-${run}`;
const v1 = '_v1_stable_example_com';
const ledger = new AttackLedger(import.meta.filename);
let currentTest = '';

const staticToken = (name: string) => {
  const info = testCluster();
  const t = name === 'admin' ? info.adminToken : info.users.find((u) => u.name === name)?.token;
  if (!t) throw new Error(`no static user ${name}`);
  return t;
};
const getQ = (ns: string, name: string) => `{ cronTab${v1}(namespace: "${ns}", name: "${name}") { metadata { name namespace uid } spec { image } } }`;
const listAllQ = `{ cronTabList${v1} { edges { node { metadata { name namespace } spec { image } } } } }`;

interface Reply {
  status: number;
  headers: Headers;
  text: string;
  body: { data?: Record<string, any> | null; errors?: { message: string; extensions?: Record<string, any> }[] };
}

async function post(url: string, query: string, headers: Record<string, string>): Promise<Reply> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query }), signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  let body: Reply['body'] = {};
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON: the assertions on status and text say what it was.
  }
  return { status: res.status, headers: res.headers, text, body };
}

async function kubectlOk(args: string[], input?: string): Promise<string> {
  const r = await kubectl(args, input === undefined ? {} : { input });
  assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const crontab = (ns: string, name: string, image: string) => `apiVersion: stable.example.com/v1
kind: CronTab
metadata: { name: ${name}, namespace: ${ns} }
spec: { cronSpec: "* * * * */5", image: "${image}" }
`;

const rbac = () => `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: ${run}-editor }
rules:
- { apiGroups: [stable.example.com], resources: [crontabs], verbs: [get, list, watch, create, update, patch, delete] }
${[[nsA, 'User', 'alice'], [nsB, 'User', 'bob'], [nsA, 'ServiceAccount', 'builder']].map(([ns, kind, name]) => `---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: ${name}, namespace: ${ns} }
subjects: [{ kind: ${kind}, name: ${name}${kind === 'ServiceAccount' ? `, namespace: ${ns}` : ', apiGroup: rbac.authorization.k8s.io'} }]
roleRef: { kind: ClusterRole, name: ${run}-editor, apiGroup: rbac.authorization.k8s.io }
`).join('')}`;

describe('TokenReview mode: Kubernetes tokens as the way in', () => {
  const dir = new TenantsDir();
  const gateways: Gateway[] = [];
  let tokenReviews = 0;
  /** Counts the TokenReviews the gateways make. */
  const counter: GatewayPlugin = {
    name: 'count-token-reviews',
    wrapClient(client) {
      const wrapped = Object.create(client) as KubeClient;
      wrapped.request = ((method, path, opts) => {
        if (path === '/apis/authentication.k8s.io/v1/tokenreviews') tokenReviews++;
        return client.request(method, path, opts);
      }) as KubeClient['request'];
      return wrapped;
    },
  };
  const tenants = [
    { name: 'alice', match: { user: 'alice' } },
    { name: 'bob', match: { user: 'bob' } },
    { name: 'robots', match: { groups: 'system:serviceaccounts' } },
    { name: 'admins', match: { user: 'admin' } },
  ];
  let plain = '';
  let audienced = '';
  let admins = '';

  const start = async (name: string, auth: Record<string, unknown>): Promise<string> => {
    const file = dir.writeConfig(`${name}.yaml`, { auth, tenants });
    const gateway = await createGateway({ client: new KubeClient(kubeConfigFor('admin')), tenants: loadTenantConfig(file), explorer: false, plugins: [counter] });
    gateways.push(gateway);
    return `http://127.0.0.1:${((await gateway.listen(0)).address() as AddressInfo).port}/graphql`;
  };
  const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
  const leaks = (text: string) => text.includes(bMarker);

  /** An attack: refused with the code (and authReason), nothing of bob's, and no data. */
  async function refused(url: string, token: string, status: number, code: string, authReason: string | undefined, headers: Record<string, string> = {}): Promise<Reply> {
    const r = await post(url, getQ(nsB, 'bob-secret'), { ...bearer(token), ...headers });
    ledger.record(currentTest, `${code} ${authReason ?? ''}`, {
      refused: r.status === status && r.body.errors?.[0]?.extensions?.code === code,
      leaked: leaks(r.text) || (r.status < 300 && r.body.data?.[`cronTab${v1}`] != null),
    });
    assert.ok(!leaks(r.text), r.text);
    assert.equal(r.status, status, r.text);
    assert.equal(r.body.errors?.[0]?.extensions?.code, code, r.text);
    if (authReason) assert.equal(r.body.errors?.[0]?.extensions?.authReason, authReason, r.text);
    return r;
  }

  before(async () => {
    await kubectlOk(['create', 'namespace', nsA]);
    await kubectlOk(['create', 'namespace', nsB]);
    await kubectlOk(['create', 'serviceaccount', 'builder', '-n', nsA]);
    await kubectlOk(['apply', '-f', '-'], rbac());
    await kubectlOk(['apply', '-f', '-'], [crontab(nsA, 'alice-own', 'a-image'), crontab(nsB, 'bob-secret', bMarker)].join('---\n'));
    [plain, audienced, admins] = await Promise.all([
      start('plain', { tokenReview: { cacheSeconds: 2 } }),
      start('audienced', { tokenReview: { audiences: ['crdgate'] } }),
      start('admins', { tokenReview: { allowSystemIdentities: ['system:masters'] } }),
    ]);
    await pollUntil('alice to read her object', async () => (await post(plain, getQ(nsA, 'alice-own'), bearer(staticToken('alice')))).body.data?.[`cronTab${v1}`], { timeoutMs: 15_000 });
  });

  beforeEach((t) => {
    currentTest = t.name;
  });

  after(async () => {
    console.log(ledger.summary());
    await Promise.all(gateways.map((g) => g.stop()));
    dir.remove();
    await kubectl(['delete', 'clusterrole', `${run}-editor`, '--ignore-not-found']);
    await kubectl(['delete', 'namespace', nsA, nsB, '--wait=false', '--ignore-not-found']);
  });

  it('a static token: the reviewed user is impersonated, so RBAC decides (alice reads hers, lists only hers)', async () => {
    const own = await post(plain, getQ(nsA, 'alice-own'), bearer(staticToken('alice')));
    assert.equal(own.body.data?.[`cronTab${v1}`]?.spec?.image, 'a-image', own.text);
    const all = await post(plain, listAllQ, bearer(staticToken('alice')));
    ledger.record(currentTest, 'alice lists all namespaces', { refused: !leaks(all.text), leaked: leaks(all.text) });
    assert.ok(!leaks(all.text), all.text);
    assert.deepEqual(all.body.data?.[`cronTabList${v1}`]?.edges.map((e: any) => `${e.node.metadata.namespace}/${e.node.metadata.name}`), [`${nsA}/alice-own`], all.text);
    const bob = await post(plain, getQ(nsB, 'bob-secret'), bearer(staticToken('bob')));
    assert.equal(bob.body.data?.[`cronTab${v1}`]?.spec?.image, bMarker, 'bob reads his own (the attacks below would succeed if refusals were bypassed)');
  });

  it('alice against bob\'s namespace, also with client-sent Impersonate-* headers: FORBIDDEN', async () => {
    await refused(plain, staticToken('alice'), 200, 'FORBIDDEN', undefined);
    await refused(plain, staticToken('alice'), 200, 'FORBIDDEN', undefined, { 'Impersonate-User': 'bob', 'Impersonate-Group': 'system:masters' });
  });

  it('tokens Kubernetes does not accept: 401 TOKEN_REVIEW', async () => {
    await refused(plain, 'not-a-token-at-all', 401, 'UNAUTHENTICATED', 'TOKEN_REVIEW');
    await refused(plain, `${staticToken('bob')}x`, 401, 'UNAUTHENTICATED', 'TOKEN_REVIEW');
    // A well-formed JWT from a key the apiserver does not know, claiming to be a service account.
    const forged = signRs256(rsaKey('k'), { iss: 'https://kubernetes.default.svc.cluster.local', sub: `system:serviceaccount:${nsB}:default`, aud: ['https://kubernetes.default.svc.cluster.local'], exp: Math.floor(Date.now() / 1000) + 600 });
    await refused(plain, forged, 401, 'UNAUTHENTICATED', 'TOKEN_REVIEW');
  });

  it('a system:masters member\'s token is refused (403 SYSTEM_IDENTITY), unless the tenants file allows system:masters', async () => {
    await refused(plain, staticToken('admin'), 403, 'FORBIDDEN', 'SYSTEM_IDENTITY');
    const allowed = await post(admins, getQ(nsB, 'bob-secret'), bearer(staticToken('admin')));
    assert.equal(allowed.body.data?.[`cronTab${v1}`]?.spec?.image, bMarker, allowed.text);
  });

  it('a valid user that no tenant rule matches (carol): 403 NO_TENANT', async () => {
    await refused(plain, staticToken('carol'), 403, 'FORBIDDEN', 'NO_TENANT');
  });

  it('service-account tokens: the account is impersonated; with audiences, only tokens meant for the gateway pass', async () => {
    const apiToken = (await kubectlOk(['create', 'token', 'builder', '-n', nsA, '--duration', '10m'])).trim();
    const gatewayToken = (await kubectlOk(['create', 'token', 'builder', '-n', nsA, '--duration', '10m', '--audience', 'crdgate'])).trim();
    const viaPlain = await post(plain, getQ(nsA, 'alice-own'), bearer(apiToken));
    assert.equal(viaPlain.body.data?.[`cronTab${v1}`]?.metadata?.name, 'alice-own', viaPlain.text);
    const viaAudience = await post(audienced, getQ(nsA, 'alice-own'), bearer(gatewayToken));
    assert.equal(viaAudience.body.data?.[`cronTab${v1}`]?.metadata?.name, 'alice-own', viaAudience.text);
    // The account may read nsA only.
    await refused(audienced, gatewayToken, 200, 'FORBIDDEN', undefined);
    // A token for the apiserver, or a static token (no audience of its own), is not for the gateway.
    await refused(audienced, apiToken, 401, 'UNAUTHENTICATED', 'TOKEN_REVIEW');
    await refused(audienced, staticToken('alice'), 401, 'UNAUTHENTICATED', 'TOKEN_REVIEW');
  });

  it('the gateway\'s own reviews refused by Kubernetes (its RBAC lacks them): 503 for the caller, naming neither the gateway\'s identity nor FORBIDDEN', async () => {
    // Reviews made with carol's credentials, who may create none: as a gateway installed without its ClusterRole.
    const carol = new KubeClient(kubeConfigFor('carol'));
    const reviewsAsCarol = (paths: string[]): GatewayPlugin => ({
      name: 'reviews-as-carol',
      wrapClient(client) {
        const wrapped = Object.create(client) as KubeClient;
        wrapped.request = ((method, path, opts) => (paths.includes(path) ? carol : client).request(method, path, opts)) as KubeClient['request'];
        return wrapped;
      },
    });
    const file = dir.writeConfig('carol-reviews.yaml', { auth: { tokenReview: {} }, tenants });
    const urls: string[] = [];
    const warnings: string[][] = [];
    const infos: string[][] = [];
    // The first gateway also asks carol whether it may create TokenReviews (SelfSubjectAccessReview), as it would ask itself.
    for (const paths of [['/apis/authentication.k8s.io/v1/tokenreviews', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews'], ['/apis/authorization.k8s.io/v1/subjectaccessreviews', '/apis/authorization.k8s.io/v1/selfsubjectrulesreviews']]) {
      const warned: string[] = [];
      const told: string[] = [];
      warnings.push(warned);
      infos.push(told);
      const log = { info: (msg: string) => told.push(msg), warn: (msg: string) => warned.push(msg) };
      const gateway = await createGateway({ client: new KubeClient(kubeConfigFor('admin')), tenants: loadTenantConfig(file), explorer: false, plugins: [reviewsAsCarol(paths)], log });
      gateways.push(gateway);
      urls.push(`http://127.0.0.1:${((await gateway.listen(0)).address() as AddressInfo).port}/graphql`);
    }
    try {
      // The missing grant is in the log from the start, with what grants it; not where the gateway has it.
      await pollUntil('the warning that TokenReviews are not granted', () => warnings[0]!.find((w) => w === tokenReviewNotGranted), { detail: () => JSON.stringify(warnings) });
      assert.match(tokenReviewNotGranted, /rbac\.tokenReview=true.*deploy\/kustomize\/components\/token-review/);
      // The second gateway's check has answered (granted) before its log is read for the warning.
      await pollUntil('the second gateway\'s check', () => infos[1]!.find((m) => m === tokenReviewGranted), { detail: () => JSON.stringify([infos[1], warnings[1]]) });
      assert.ok(!warnings[1]!.includes(tokenReviewNotGranted), JSON.stringify(warnings[1]));
      // Without TokenReviews nobody gets in, whatever the token; without access reviews alice does not.
      const attempts = [[urls[0]!, staticToken('alice')], [urls[0]!, 'not-a-token-at-all'], [urls[1]!, staticToken('alice')]];
      for (const [url, token] of attempts) {
        for (const r of [await post(url!, getQ(nsA, 'alice-own'), bearer(token!))]) {
          ledger.record(currentTest, 'gateway without review rights', { refused: r.status === 503, leaked: leaks(r.text) || /carol/.test(r.text) });
          assert.equal(r.status, 503, r.text);
          assert.equal(r.body.errors?.[0]?.extensions?.code, 'UNAVAILABLE', r.text);
          assert.doesNotMatch(r.text, /carol|forbidden/i);
          assert.equal(r.headers.get('www-authenticate'), null);
        }
      }
      const garbage = await post(urls[1]!, getQ(nsA, 'alice-own'), bearer('not-a-token-at-all'));
      assert.equal(garbage.body.errors?.[0]?.extensions?.authReason, 'TOKEN_REVIEW', garbage.text);
    } finally {
      await carol.close();
    }
  });

  it('the gateway refused the impersonation of a caller (its RBAC narrowed): 503, without the gateway\'s identity', async () => {
    // Calls on CronTabs made with carol's credentials, who may impersonate nobody.
    const carol = new KubeClient(kubeConfigFor('carol'));
    const file = dir.writeConfig('carol-impersonates.yaml', { auth: { tokenReview: {} }, tenants });
    const gateway = await createGateway({
      client: new KubeClient(kubeConfigFor('admin')), tenants: loadTenantConfig(file), explorer: false,
      plugins: [{
        name: 'crontabs-as-carol',
        wrapClient(client) {
          const wrapped = Object.create(client) as KubeClient;
          wrapped.request = ((method, path, opts) => (path.startsWith('/apis/stable.example.com/') && opts?.impersonate ? carol : client).request(method, path, opts)) as KubeClient['request'];
          return wrapped;
        },
      }],
    });
    gateways.push(gateway);
    const url = `http://127.0.0.1:${((await gateway.listen(0)).address() as AddressInfo).port}/graphql`;
    try {
      const r = await pollUntil('alice\'s schema to have CronTabs', async () => {
        const reply = await post(url, getQ(nsA, 'alice-own'), bearer(staticToken('alice')));
        return reply.body.errors?.[0]?.extensions?.code === 'GRAPHQL_VALIDATION_FAILED' ? undefined : reply;
      }, { timeoutMs: 10_000 });
      ledger.record(currentTest, 'impersonation refused by Kubernetes', { refused: r.body.errors?.[0]?.extensions?.code === 'UNAVAILABLE', leaked: /carol/.test(r.text) });
      assert.equal(r.body.errors?.[0]?.extensions?.code, 'UNAVAILABLE', r.text);
      assert.doesNotMatch(r.text, /carol|forbidden/i);
    } finally {
      await carol.close();
    }
  });

  it('answers are cached by token: repeated requests cost one TokenReview', async () => {
    const before = tokenReviews;
    for (let i = 0; i < 5; i++) assert.equal((await post(admins, getQ(nsB, 'bob-secret'), bearer(staticToken('admin')))).status, 200);
    assert.equal(tokenReviews - before, 0, 'the admin token was reviewed in an earlier test and is still cached (60 s)');
    const fresh = (await kubectlOk(['create', 'token', 'builder', '-n', nsA, '--duration', '10m', '--audience', 'crdgate'])).trim();
    const mid = tokenReviews;
    for (let i = 0; i < 5; i++) assert.equal((await post(audienced, getQ(nsA, 'alice-own'), bearer(fresh))).status, 200);
    assert.equal(tokenReviews - mid, 1);
  });

  it('a service account deleted during a subscription: the subscription ends UNAUTHENTICATED', async () => {
    await kubectlOk(['create', 'serviceaccount', 'doomed', '-n', nsA]);
    await kubectlOk(['create', 'rolebinding', 'doomed', '-n', nsA, `--clusterrole=${run}-editor`, `--serviceaccount=${nsA}:doomed`]);
    const token = (await kubectlOk(['create', 'token', 'doomed', '-n', nsA, '--duration', '10m'])).trim();
    const client = openClient(plain.replace(/\/graphql$/, ''), { connectionParams: { authorization: `Bearer ${token}` } });
    const sub = new Subscription(client, `subscription { watchCronTab${v1}(namespace: "${nsA}", sendInitialEvents: true) { type object { metadata { name } } } }`);
    await sub.waitForEvents(1, 15_000);
    const t0 = Date.now();
    await kubectlOk(['delete', 'serviceaccount', 'doomed', '-n', nsA]);
    await sub.waitForEnd(15_000);
    ledger.record(currentTest, 'deleted account\'s subscription', { refused: sub.errorCode === 'UNAUTHENTICATED', leaked: false });
    assert.equal(sub.errorCode, 'UNAUTHENTICATED', JSON.stringify(sub.error));
    console.log(`token review: the deleted account's subscription ended ${Date.now() - t0} ms after the delete (cacheSeconds 2)`);
    await client.dispose();
  });
});
