// Revocation while the gateway's view of RBAC is stale. A separate control plane (not the shared
// one of the test run) is stopped; the gateway's watch of RBAC objects fails, and once it has been
// failing longer than the bound (--rbac-stale-after, default 2 s) live subscriptions are re-checked
// with SubjectAccessReviews every second. The control plane starts again and, while the gateway is
// still reconnecting, a RoleBinding is removed: the subscription it granted ends within 5 s of the
// apiserver being back, whether the re-check by SubjectAccessReview or the reconnected watch of
// RBAC objects notices first. A subscriber whose rights Kubernetes answered about with an error
// (429 or 503 while it shuts down) is ended as unverifiable at its next event rather than sent it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGateway, type Gateway } from '../../src/gateway.ts';
import { KubeClient } from '../../src/kube/kube-client.ts';
import { loadFile } from '../../src/kube/kube-config.ts';
import { loadTenantConfig } from '../../src/auth/tenant-config.ts';
import { launchCluster, type LocalCluster } from '../../src/local-cluster/launch-cluster.ts';
import { installExampleCrds } from '../../src/local-cluster/install-examples.ts';
import { hmacSecret, nowSeconds, signHs256, TenantsDir } from '../helpers/jwt-issuer.ts';
import { pollUntil } from '../helpers/poll-until.ts';
import { openClient, Subscription } from '../helpers/subscription-client.ts';
import { freePort } from '../helpers/free-port.ts';

const scratch = mkdtempSync(join(tmpdir(), 'crdgate-rbac-restart-test-'));
const dataDir = join(scratch, 'cluster');
const ns = 'rbac-restart';
const dir = new TenantsDir();
const secret = hmacSecret();
const warnings: string[] = [];
let port: number;
let cluster: LocalCluster;
let kube: KubeClient;
let gateway: Gateway | undefined;
let url: string;


const start = () => launchCluster({ dataDir, logFile: join(scratch, 'cluster.log'), port });
const token = (tenant: string) => signHs256(secret, { iss: 'restart-test', aud: 'crdgate', sub: `${tenant}-user`, tenant, exp: nowSeconds() + 3600 });
const apply = (path: string, body: Record<string, unknown>) => kube.request('POST', path, { body });
const crontab = (name: string) => apply(`/apis/stable.example.com/v1/namespaces/${ns}/crontabs`, { apiVersion: 'stable.example.com/v1', kind: 'CronTab', metadata: { name }, spec: { cronSpec: '@hourly' } });
const rbacPath = (kind: string, namespaced = true) => `/apis/rbac.authorization.k8s.io/v1${namespaced ? `/namespaces/${ns}` : ''}/${kind}`;

before(async () => {
  port = await freePort();
  cluster = await start();
  const kc = loadFile(cluster.info.kubeconfig);
  await installExampleCrds(kc);
  kube = new KubeClient(kc);
  await apply('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  await apply(rbacPath('clusterroles', false), {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'crontab-reader' },
    rules: [{ apiGroups: ['stable.example.com'], resources: ['crontabs'], verbs: ['get', 'list', 'watch'] }],
  });
  for (const who of ['kept', 'gone']) {
    await apply(rbacPath('rolebindings'), {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: who },
      subjects: [{ kind: 'Group', name: `group-${who}`, apiGroup: 'rbac.authorization.k8s.io' }],
      roleRef: { kind: 'ClusterRole', name: 'crontab-reader', apiGroup: 'rbac.authorization.k8s.io' },
    });
  }
  dir.write('hs.secret', secret);
  const file = dir.writeConfig('tenants.yaml', {
    auth: { issuer: 'restart-test', audience: 'crdgate', algorithms: ['HS256'], secretFile: 'hs.secret' },
    tenants: ['kept', 'gone'].map((t) => ({ name: t, match: { tenant: t }, user: `${t}:{sub}`, groups: [`group-${t}`] })),
  });
  gateway = await createGateway({
    client: new KubeClient(loadFile(cluster.info.kubeconfig)),
    tenants: loadTenantConfig(file),
    watchGraceMs: 1000,
    log: { info: () => {}, warn: (m) => warnings.push(m) },
  });
  const server = await gateway.listen(0);
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

after(async () => {
  await gateway?.stop();
  await cluster?.stop();
  dir.remove();
  rmSync(scratch, { recursive: true, force: true });
});

test('a RoleBinding removed while the gateway reconnects after an apiserver restart ends its subscription within 5 s of the apiserver being back', async (t) => {
  const watch = `subscription { watchCronTab_stable_example_com(namespace: "${ns}") { type object { metadata { name } } } }`;
  const kept = openClient(url, { connectionParams: { authorization: `Bearer ${token('kept')}` } });
  const gone = openClient(url, { connectionParams: { authorization: `Bearer ${token('gone')}` } });
  const keptSub = new Subscription(kept, watch);
  const goneSub = new Subscription(gone, watch);
  await pollUntil('both subscriptions to see an event', async () => {
    await crontab(`fence-${Date.now()}`);
    return keptSub.events.length > 0 && goneSub.events.length > 0;
  }, { timeoutMs: 15_000, intervalMs: 500 });

  await cluster.stop();
  // The RBAC view goes stale and the re-checks by SubjectAccessReview start (and fail: no apiserver).
  await pollUntil('the gateway to report its RBAC view stale', () => warnings.some((w) => /RBAC view has been stale/.test(w)), { timeoutMs: 30_000, intervalMs: 50 });
  cluster = await start();
  const back = Date.now();
  // Right away, while the gateway's watches are still backing off.
  await kube.request('DELETE', `${rbacPath('rolebindings')}/gone`);
  const deleted = Date.now();
  await pollUntil('the revoked subscription to end', () => goneSub.ended, { timeoutMs: 5_000, intervalMs: 10 });
  const endedAfter = Date.now() - back;
  assert.ok(endedAfter < 5_000, `ended ${endedAfter} ms after the apiserver was back`);
  // FORBIDDEN from a re-check; UNAVAILABLE only if the apiserver answered a re-check with an error
  // and an event came next (never delivered: the unverified subscription is ended instead).
  assert.ok(['FORBIDDEN', 'UNAVAILABLE'].includes(String(goneSub.errorCode)), JSON.stringify(goneSub.error));
  t.diagnostic(`apiserver back → RoleBinding deleted ${deleted - back} ms later → subscription ended ${endedAfter} ms after the apiserver was back, with ${String(goneSub.errorCode)}`);
  // The other subscriber's rights never changed: it is never refused. It may have been ended as
  // unverifiable (UNAVAILABLE, retryable) if the apiserver answered a re-check with an error (as it
  // does while shutting down) and an event came next; subscribing again works.
  assert.notEqual(keptSub.errorCode, 'FORBIDDEN', JSON.stringify(keptSub.error));
  t.diagnostic(`the kept subscription: ${keptSub.ended ? `ended with ${String(keptSub.errorCode)}` : 'still open'}`);
  const after = keptSub.ended ? new Subscription(kept, watch) : keptSub;
  const seen = after.events.length;
  await pollUntil('the kept subscriber to see a new event', async () => {
    await crontab(`after-${Date.now()}`);
    return after.events.length > seen;
  }, { timeoutMs: 15_000, intervalMs: 500 });
  // And the revoked one cannot subscribe again: with no rights left, its schema has no
  // subscriptions at all.
  const again = new Subscription(gone, watch);
  await again.waitForEnd(10_000);
  assert.deepEqual(again.events, []);
  assert.match(JSON.stringify(again.error), /FORBIDDEN|not configured to execute subscription/, JSON.stringify(again.error));
  await Promise.all([kept.dispose(), gone.dispose()]);
});
