// Per-tenant budgets on the real apiserver: requests per second (GraphQL answers 429 with
// TOO_MANY_REQUESTS, retryAfterSeconds and Retry-After; REST with problem+json and Retry-After),
// one tenant's excess never touches another's budget, open watches are bounded and given back when
// a stream ends; and the apiserver's own 429 (API Priority and Fairness) is retried after its
// Retry-After instead of failing at once. Operations sent over WebSocket spend the same budget.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createGateway, type Gateway } from '../../src/gateway.ts';
import { loadTenantConfig } from '../../src/auth/tenant-config.ts';
import { KubeApiError, KubeClient } from '../../src/kube/kube-client.ts';
import { rateLimits, realClock, retryingTooManyRequests, type Clock, type RateLimits } from '../../src/plugins/rate-limits.ts';
import { hmacSecret, nowSeconds, signHs256, TenantsDir } from '../helpers/jwt-issuer.ts';
import { pollUntil } from '../helpers/poll-until.ts';
import { kubeConfigFor, kubectl, uniqueName } from '../helpers/test-cluster.ts';
import { testNamespaces } from '../helpers/test-namespaces.ts';
import type { AddressInfo } from 'node:net';
import { firstAnswerOver, openClient, type FirstAnswer } from '../helpers/subscription-client.ts';

const namespaces = testNamespaces();
const dir = new TenantsDir();
const secret = hmacSecret();
const issuer = 'https://issuer.crdgate.test/';
const audience = 'crdgate-hardening';
const group = uniqueName('hard-rl-admins');
const flowName = uniqueName('crdgate-hard-apf');
const apfUser = uniqueName('hard-apf-user');
let ns: string;
const gateways: Gateway[] = [];

const token = (tenant: string) => signHs256(secret, { iss: issuer, aud: audience, sub: `${tenant}-user`, tenant, exp: nowSeconds() + 600 });
const bearer = (tenant: string) => ({ authorization: `Bearer ${token(tenant)}` });

async function kapply(objects: unknown[]): Promise<void> {
  const r = await kubectl(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }) });
  assert.equal(r.code, 0, r.stderr);
}

async function start(limits: Partial<RateLimits>, clock?: Clock): Promise<string> {
  const file = dir.writeConfig(`${gateways.length}.yaml`, {
    auth: { issuer, audience, algorithms: ['HS256'], secretFile: 'hs.secret' },
    tenants: ['a', 'b'].map((t) => ({ name: t, match: { tenant: t }, user: `hard-${t}:{sub}`, groups: [group] })),
  });
  const gateway = await createGateway({ client: new KubeClient(kubeConfigFor('admin')), tenants: loadTenantConfig(file), explorer: false, plugins: [rateLimits({ limits, clock })] });
  gateways.push(gateway);
  const server = await gateway.listen(0);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

before(async () => {
  dir.write('hs.secret', secret);
  ns = await namespaces.create('hard-rl');
  await kapply([
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'crontabs', namespace: ns },
      rules: [{ apiGroups: ['stable.example.com'], resources: ['*'], verbs: ['*'] }] },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'crontabs', namespace: ns },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'crontabs' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: group }, { apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: apfUser }] },
    { apiVersion: 'stable.example.com/v1', kind: 'CronTab', metadata: { name: 'c0', namespace: ns }, spec: { cronSpec: '* * * * *' } },
  ]);
});

after(async () => {
  for (const g of gateways) await g.stop();
  await kubectl(['delete', 'flowschema,prioritylevelconfiguration', flowName, '--ignore-not-found']);
  await namespaces.deleteAll();
  dir.remove();
});

const getQuery = () => JSON.stringify({ query: `{ cronTab_stable_example_com(namespace: "${ns}", name: "c0") { metadata { name } } }` });

test('requests per second: the burst passes, the excess is 429 TOO_MANY_REQUESTS with Retry-After; other tenants are unaffected', async () => {
  // The budgets' clock stands still: no token comes back during the test, however long it takes,
  // so the refusal's Retry-After is the whole 5 s a token takes at 0.2/s.
  const frozen = realClock.now();
  const base = await start({ requestsPerSecond: 0.2, burst: 3 }, { ...realClock, now: () => frozen });
  const post = (tenant: string) => fetch(`${base}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', ...bearer(tenant) }, body: getQuery() });
  // RBAC reaches the authorizer after a moment: the first request may need a retry of its own.
  await pollUntil('tenant a to read its object', async () => {
    const r = await post('a');
    const body = await r.json() as { data?: { cronTab_stable_example_com?: unknown } };
    return r.status === 200 && body.data?.cronTab_stable_example_com ? true : undefined;
  }, { timeoutMs: 15_000, intervalMs: 200 }).catch(() => assert.fail('tenant a never read its object'));
  // The bucket may be empty already (polling used it): drain it, then the next one must be refused.
  let refused: Response | undefined;
  for (let i = 0; i < 4 && !refused; i++) {
    const r = await post('a');
    if (r.status === 429) refused = r;
    else assert.equal(r.status, 200);
  }
  assert.ok(refused, 'a fourth request within the burst window is refused');
  assert.equal(refused.headers.get('retry-after'), '5');
  const body = await refused.json() as { errors: { message: string; extensions: Record<string, unknown> }[] };
  assert.equal(body.errors[0]!.extensions.code, 'TOO_MANY_REQUESTS');
  assert.equal(body.errors[0]!.extensions.retryAfterSeconds, 5);
  assert.match(body.errors[0]!.message, /tenant "a" is over its rate limit of 0.2 requests per second \(burst 3\)/);

  const rest = await fetch(`${base}/rest/stable.example.com/v1/namespaces/${ns}/crontabs/c0`, { headers: bearer('a') });
  assert.equal(rest.status, 429);
  assert.equal(rest.headers.get('retry-after'), '5');
  assert.match(rest.headers.get('content-type') ?? '', /application\/problem\+json/);
  assert.equal((await rest.json() as { code: string }).code, 'TOO_MANY_REQUESTS');

  const b = await post('b');
  assert.equal(b.status, 200, 'tenant b has its own budget');
});

test('operations sent over WebSocket are admitted as requests: a query over the burst is refused TOO_MANY_REQUESTS, the socket goes on', async () => {
  const frozen = realClock.now();
  const base = await start({ requestsPerSecond: 0.2, burst: 3 }, { ...realClock, now: () => frozen });
  const client = openClient(base, { connectionParams: { authorization: `Bearer ${token('a')}` } });
  try {
    const query = JSON.parse(getQuery()).query as string;
    const answers: FirstAnswer[] = [];
    // The burst is three operations; RBAC may refuse the first ones while it settles, but each is admitted all the same.
    for (let i = 0; i < 4; i++) answers.push(await firstAnswerOver(client, { query }));
    const codes = answers.map((a) => a.errors?.[0]?.extensions?.code);
    assert.deepEqual(codes.slice(3), ['TOO_MANY_REQUESTS'], JSON.stringify(answers));
    assert.ok(!codes.slice(0, 3).includes('TOO_MANY_REQUESTS'), JSON.stringify(answers));
    assert.equal(answers[3]!.errors![0]!.extensions!.retryAfterSeconds, 5);
    const rest = await fetch(`${base}/rest/stable.example.com/v1/namespaces/${ns}/crontabs/c0`, { headers: bearer('a') });
    assert.equal(rest.status, 429, 'one budget for the tenant over both transports');
  } finally {
    await client.dispose();
  }
});

test('open watches per tenant: the second SSE watch is refused with 429, and accepted once the first ends', async () => {
  const base = await start({ requestsPerSecond: 0, maxWatches: 1 });
  const url = `${base}/rest/stable.example.com/v1/namespaces/${ns}/crontabs?watch=true`;
  const first = new AbortController();
  const opened = await pollUntil('the first watch to open', async () => {
    const r = await fetch(url, { headers: { ...bearer('a'), accept: 'text/event-stream' }, signal: first.signal });
    if (r.status === 200) return r;
    await r.body?.cancel();
    return undefined;
  }, { timeoutMs: 15_000, intervalMs: 200 });
  assert.match(opened.headers.get('content-type') ?? '', /text\/event-stream/);
  const second = await fetch(url, { headers: bearer('a') });
  assert.equal(second.status, 429);
  assert.ok(Number(second.headers.get('retry-after')) >= 1);
  assert.match((await second.json() as { detail: string }).detail, /tenant "a" has 1 open subscriptions and watches, its limit/);
  const other = new AbortController();
  const b = await fetch(url, { headers: bearer('b'), signal: other.signal });
  assert.equal(b.status, 200, 'tenant b has its own watch budget');
  other.abort();
  first.abort();
  const third = new AbortController();
  await pollUntil('a watch slot to be given back', async () => {
    const r = await fetch(url, { headers: bearer('a'), signal: third.signal });
    if (r.status === 200) return true;
    await r.body?.cancel();
    return undefined;
  }, { timeoutMs: 10_000 });
  third.abort();
});

test('SSE watches whose clients leave while they are being authenticated and checked give their slots back', async () => {
  const base = await start({ requestsPerSecond: 0, maxWatches: 3 });
  const url = `${base}/rest/stable.example.com/v1/namespaces/${ns}/crontabs?watch=true`;
  // Clients that leave after 0–40 ms: some while the token is verified, some during the RBAC
  // check, some once the stream is open.
  await Promise.all(Array.from({ length: 120 }, async (_, i) => {
    const gone = new AbortController();
    setTimeout(() => gone.abort(), i % 41);
    try {
      const r = await fetch(url, { headers: bearer('a'), signal: gone.signal });
      await r.body?.cancel();
    } catch {
      // The client left, as it meant to.
    }
  }));
  const open: AbortController[] = [];
  try {
    await pollUntil('three watches of the tenant to open', async () => {
      const c = new AbortController();
      const r = await fetch(url, { headers: bearer('a'), signal: c.signal });
      if (r.status !== 200) {
        await r.body?.cancel();
        return undefined;
      }
      open.push(c);
      return open.length === 3 ? true : undefined;
    }, { timeoutMs: 10_000, intervalMs: 100 });
  } finally {
    for (const c of open) c.abort();
  }
});

test('the apiserver\'s 429 (API Priority and Fairness) is retried after Retry-After, bounded', async () => {
  await kapply([
    { apiVersion: 'flowcontrol.apiserver.k8s.io/v1', kind: 'PriorityLevelConfiguration', metadata: { name: flowName },
      spec: { type: 'Limited', limited: { nominalConcurrencyShares: 1, lendablePercent: 0, limitResponse: { type: 'Reject' } } } },
    { apiVersion: 'flowcontrol.apiserver.k8s.io/v1', kind: 'FlowSchema', metadata: { name: flowName },
      spec: { priorityLevelConfiguration: { name: flowName }, matchingPrecedence: 91, distinguisherMethod: { type: 'ByUser' },
        rules: [{ subjects: [{ kind: 'User', user: { name: apfUser } }],
          resourceRules: [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'], namespaces: ['*'], clusterScope: true }] }] } },
    ...Array.from({ length: 100 }, (_, i) => ({ apiVersion: 'stable.example.com/v1', kind: 'CronTab', metadata: { name: `load-${i}`, namespace: ns }, spec: { cronSpec: '* * * * *', image: 'x'.repeat(200) } })),
  ]);
  const real = new KubeClient(kubeConfigFor('admin'));
  let rejectedAttempts = 0;
  const tap = Object.create(real) as KubeClient;
  tap.request = (async (...args: Parameters<KubeClient['request']>) => {
    try {
      return await real.request(...args);
    } catch (err) {
      if (err instanceof KubeApiError && err.httpStatus === 429) rejectedAttempts++;
      throw err;
    }
  }) as KubeClient['request'];
  const delays: number[] = [];
  const client = retryingTooManyRequests(tap, { retries: 3, maxDelayMs: 1_500, onRetry: (ms) => delays.push(ms) });
  const list = () => client.request('GET', `/apis/stable.example.com/v1/namespaces/${ns}/crontabs`, { impersonate: { user: apfUser } })
    .then(() => 'ok' as const, (err: unknown) => (err instanceof KubeApiError && err.httpStatus === 429 ? '429' as const : Promise.reject(err)));
  let outcomes: ('ok' | '429')[] = [];
  const deadline = Date.now() + 60_000;
  while (rejectedAttempts === 0 && Date.now() < deadline) outcomes = await Promise.all(Array.from({ length: 40 }, list));
  assert.ok(rejectedAttempts > 0, 'the apiserver rejected some calls with 429');
  assert.ok(delays.length > 0 && delays.every((d) => d >= 1000 && d <= 1500), `waited Retry-After (capped): ${delays.join(',')}`);
  const failed = outcomes.filter((o) => o === '429').length;
  assert.ok(failed < rejectedAttempts, `retries turned some 429s into answers (${rejectedAttempts} rejected attempts, ${failed} calls failed)`);
  assert.ok(outcomes.includes('ok'));
  await real.close();
});
