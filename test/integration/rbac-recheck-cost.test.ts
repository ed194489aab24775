// What an RBAC change costs in reviews with live watches, on the real control plane. A soak test
// found one RoleBinding created and deleted, naming nobody, queuing 348,591 reviews: every live
// subscription was re-checked four times per change. A change now re-checks only the identities
// it may concern, each once per pass for all of its watches; and a removed grant still ends them.
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { createGateway, type Gateway } from '../../src/gateway.ts';
import { KubeClient, type RequestOptions } from '../../src/kube/kube-client.ts';
import { loadTenantConfig } from '../../src/auth/tenant-config.ts';
import { hmacSecret, nowSeconds, signHs256, TenantsDir } from '../helpers/jwt-issuer.ts';
import { pollUntil } from '../helpers/poll-until.ts';
import { SseClient } from '../helpers/sse-client.ts';
import { kubeConfigFor, kubectl, uniqueName } from '../helpers/test-cluster.ts';

const run = uniqueName('rcost');
const group = `${run}-g`;
const ns = `${run}-w`;
const other = `${run}-o`;
const issuer = 'https://issuer.crdgate.test/';
const audience = 'crdgate-test';

/** The admin's client, counting the reviews the gateway makes. */
class CountingClient extends KubeClient {
  reviews = 0;
  override request<T>(method: Parameters<KubeClient['request']>[0], path: string, opts?: RequestOptions): Promise<T> {
    if (method === 'POST' && /(subjectaccessreviews|selfsubjectrulesreviews)$/.test(path)) this.reviews++;
    return super.request<T>(method, path, opts);
  }
}

async function kubectlOk(args: string[], input?: string): Promise<void> {
  const r = await kubectl(args, input === undefined ? {} : { input });
  assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
}

const binding = (namespace: string, name: string, subject: string) => `---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: ${name}, namespace: ${namespace} }
subjects: [{ kind: Group, name: ${subject}, apiGroup: rbac.authorization.k8s.io }]
roleRef: { kind: ClusterRole, name: ${run}-reader, apiGroup: rbac.authorization.k8s.io }
`;

describe('the reviews an RBAC change costs with live watches', () => {
  const dir = new TenantsDir();
  const secret = hmacSecret();
  const client = new CountingClient(kubeConfigFor('admin'));
  let gateway: Gateway;
  let base = '';
  const watches: SseClient[] = [];
  const token = (sub: string) => signHs256(secret, { iss: issuer, aud: audience, sub, tenant: 't', iat: nowSeconds(), exp: nowSeconds() + 600 });

  /** Until no review has been made for 6 s (past the last repetition of a re-check). */
  const quiet = async () => {
    let seen = -1;
    while (seen !== client.reviews) {
      seen = client.reviews;
      await delay(6_000);
    }
  };
  /** The reviews a change costs: those made from it until quiet, the re-checks of what came before done. */
  const reviewsFor = async (change: () => Promise<void>) => {
    await quiet();
    const start = client.reviews;
    await change();
    await quiet();
    return client.reviews - start;
  };

  before(async () => {
    dir.write('hs.secret', secret);
    const file = dir.writeConfig('tenants.yaml', {
      auth: { issuer, audience, algorithms: ['HS256'], secretFile: 'hs.secret', clockToleranceSeconds: 5 },
      tenants: [{ name: 't', match: { tenant: 't' }, user: 't:{sub}', groups: [group] }],
    });
    for (const n of [ns, other]) await kubectlOk(['create', 'namespace', n]);
    await kubectlOk(['apply', '-f', '-'], `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: ${run}-reader }
rules:
- { apiGroups: [stable.example.com], resources: [crontabs], verbs: [get, list, watch] }
${binding(ns, 'reader', group)}`);
    gateway = await createGateway({ client, tenants: loadTenantConfig(file), explorer: false });
    base = `http://127.0.0.1:${((await gateway.listen(0)).address() as AddressInfo).port}/rest/stable.example.com/v1`;
    // Three identities with four watches each.
    for (let u = 0; u < 3; u++) {
      for (let i = 0; i < 4; i++) {
        const url = `${base}${i % 2 ? '' : `/namespaces/${ns}`}/crontabs?watch=true`;
        await pollUntil(`watch ${u}/${i} to open`, async () => {
          try {
            watches.push(await new SseClient(url, { authorization: `Bearer ${token(`user-${u}`)}` }).open());
            return true;
          } catch {
            return undefined;
          }
        }, { timeoutMs: 15_000, intervalMs: 200 });
      }
    }
  });

  after(async () => {
    for (const w of watches) w.close();
    await gateway?.stop();
    dir.remove();
    await kubectl(['delete', 'clusterrole', `${run}-reader`, '--ignore-not-found']);
    await kubectl(['delete', 'namespace', ns, other, '--wait=false', '--ignore-not-found']);
  });

  it('a RoleBinding created and deleted that names no watcher costs no review', async () => {
    const spent = await reviewsFor(async () => {
      await kubectlOk(['apply', '-f', '-'], binding(other, 'nobody', `${run}-nobody`));
      await kubectlOk(['delete', 'rolebinding', 'nobody', '-n', other]);
    });
    console.log(`a RoleBinding naming nobody, created and deleted, with 12 live watches of 3 identities: ${spent} reviews`);
    assert.equal(spent, 0);
  });

  it('one naming the watchers re-checks each identity; removing their grants still ends their watches', async () => {
    const spent = await reviewsFor(() => kubectlOk(['apply', '-f', '-'], binding(other, 'more', group)));
    console.log(`a RoleBinding naming the watchers' group, with 12 live watches of 3 identities: ${spent} reviews`);
    assert.ok(spent > 0, 'they were re-checked');
    // Per identity and pass: a rules review for each namespace binding it (two here, plus any
    // binding a system: group) and one standing for the rest, then list and watch across all;
    // four passes at most (the apiserver's authorizer follows a moment behind).
    assert.ok(spent <= 3 * 4 * 20, `${spent} reviews`);
    await kubectlOk(['delete', 'rolebinding', 'reader', '-n', ns]);
    await kubectlOk(['delete', 'rolebinding', 'more', '-n', other]);
    for (const w of watches.filter((_, i) => i % 2 === 0)) {
      const [ended] = await w.waitForCount(1, ['ERROR'], 10_000);
      assert.equal(ended!.json.object.code, 'FORBIDDEN', w.describe());
    }
  });
});
