// Bounded RBAC work on the real control plane, with 40 namespaces of this file's own:
//   - a new caller bound in 2 of them costs rules reviews in those 2 (plus the few namespaces
//     anywhere in the cluster whose RoleBindings name system: groups), plus one that stands for all
//     the others — not one per namespace;
//   - a caller bound in all 40 costs 40 rules reviews, never more than the concurrency limit (16)
//     of them in flight at once, and its answers are right.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { createGateway, type Gateway } from '../../src/gateway.ts';
import { KubeClient } from '../../src/kube/kube-client.ts';
import { loadTenantConfig } from '../../src/auth/tenant-config.ts';
import type { GatewayPlugin } from '../../src/plugins/gateway-plugin.ts';
import { hmacSecret, nowSeconds, signHs256, TenantsDir } from '../helpers/jwt-issuer.ts';
import { pollUntil } from '../helpers/poll-until.ts';
import { kubeConfigFor, kubectl, uniqueName } from '../helpers/test-cluster.ts';

const run = uniqueName('rbacb');
const count = 40;
const namespaces = Array.from({ length: count }, (_, i) => `${run}-${String(i).padStart(2, '0')}`);
const v1 = '_v1_stable_example_com';

const reviewPaths = ['/apis/authorization.k8s.io/v1/selfsubjectrulesreviews', '/apis/authorization.k8s.io/v1/subjectaccessreviews'];

describe('bounded RBAC work', () => {
  const dir = new TenantsDir();
  const secret = hmacSecret();
  let gateway: Gateway;
  let url = '';
  const stats = { inFlight: 0, maxInFlight: 0 };
  /** The namespaces of each user's rules reviews ('' stands for the one review of all the others). */
  const reviewedBy = new Map<string, Set<string>>();
  /** Counts the reviews the gateway makes and how many are in flight at once. */
  const counter: GatewayPlugin = {
    name: 'count-reviews',
    wrapClient(client) {
      const wrapped = Object.create(client) as KubeClient;
      wrapped.request = (async (method, path, opts) => {
        if (!reviewPaths.includes(path)) return client.request(method, path, opts);
        if (path.endsWith('selfsubjectrulesreviews')) {
          const user = opts?.impersonate?.user ?? '';
          const ns = (opts?.body as { spec?: { namespace?: string } } | undefined)?.spec?.namespace ?? '';
          reviewedBy.set(user, (reviewedBy.get(user) ?? new Set()).add(ns));
        }
        stats.maxInFlight = Math.max(stats.maxInFlight, ++stats.inFlight);
        try {
          return await client.request(method, path, opts);
        } finally {
          stats.inFlight--;
        }
      }) as KubeClient['request'];
      return wrapped;
    },
  };
  const token = (tenant: string) => signHs256(secret, { iss: 'bounds', aud: 'crdgate', sub: `${tenant}-user`, tenant, exp: nowSeconds() + 600 });
  const list = async (tenant: string) => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token(tenant)}` },
      body: JSON.stringify({ query: `{ cronTabList${v1} { edges { node { metadata { namespace name } } } } }` }),
    });
    const body = (await res.json()) as { data?: Record<string, { edges: { node: { metadata: { namespace: string; name: string } } }[] }>; errors?: unknown };
    return body.data?.[`cronTabList${v1}`]?.edges.map((e) => `${e.node.metadata.namespace}/${e.node.metadata.name}`).filter((n) => n.startsWith(run));
  };

  before(async () => {
    const binding = (ns: string, group: string) => `---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: ${group}, namespace: ${ns} }
subjects: [{ kind: Group, name: ${group}, apiGroup: rbac.authorization.k8s.io }]
roleRef: { kind: ClusterRole, name: ${run}-reader, apiGroup: rbac.authorization.k8s.io }
`;
    const yaml = [
      ...namespaces.map((ns) => `apiVersion: v1\nkind: Namespace\nmetadata: { name: ${ns} }\n`),
      `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: ${run}-reader }
rules:
- { apiGroups: [stable.example.com], resources: [crontabs], verbs: [get, list, watch] }
`,
      ...namespaces.map((ns) => binding(ns, `${run}-wide`)),
      binding(namespaces[3]!, `${run}-narrow`), binding(namespaces[31]!, `${run}-narrow`),
      ...namespaces.map((ns) => `apiVersion: stable.example.com/v1\nkind: CronTab\nmetadata: { name: c, namespace: ${ns} }\nspec: { cronSpec: "@hourly" }\n`),
    ].join('---\n');
    const r = await kubectl(['apply', '-f', '-'], { input: yaml });
    assert.equal(r.code, 0, r.stderr);
    dir.write('hs.secret', secret);
    const file = dir.writeConfig('tenants.yaml', {
      auth: { issuer: 'bounds', audience: 'crdgate', algorithms: ['HS256'], secretFile: 'hs.secret' },
      tenants: [
        { name: 'narrow', match: { tenant: 'narrow' }, user: 'narrow:{sub}', groups: [`${run}-narrow`] },
        { name: 'wide', match: { tenant: 'wide' }, user: 'wide:{sub}', groups: [`${run}-wide`] },
      ],
    });
    gateway = await createGateway({ client: new KubeClient(kubeConfigFor('admin')), tenants: loadTenantConfig(file), explorer: false, plugins: [counter] });
    url = `http://127.0.0.1:${((await gateway.listen(0)).address() as AddressInfo).port}/graphql`;
  });

  after(async () => {
    await gateway?.stop();
    dir.remove();
    await kubectl(['delete', 'clusterrole', `${run}-reader`, '--ignore-not-found']);
    await kubectl(['delete', 'namespace', ...namespaces, '--wait=false', '--ignore-not-found']);
  });

  it('a caller bound in 2 of 40 namespaces: rules reviews there, plus one for every other namespace', async () => {
    // RBAC reaches the apiserver's authorizer a moment after it is written.
    const seen = await pollUntil('the narrow caller to list its two namespaces', async () => {
      const names = await list('narrow');
      return names?.length === 2 ? names : undefined;
    }, { timeoutMs: 15_000 });
    assert.deepEqual(seen, [`${namespaces[3]}/c`, `${namespaces[31]}/c`]);
    const total = (await kubectl(['get', 'namespaces', '-o', 'name'])).stdout.trim().split('\n').length;
    const systemBound = JSON.parse((await kubectl(['get', 'rolebindings', '-A', '-o', 'json'])).stdout).items
      .filter((rb: { subjects?: { kind: string; name: string }[] }) => (rb.subjects ?? []).some((s) => s.kind === 'Group' && s.name.startsWith('system:')))
      .map((rb: { metadata: { namespace: string } }) => rb.metadata.namespace);
    // A new identity (another subject) of the same tenant: nothing cached for it.
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${signHs256(secret, { iss: 'bounds', aud: 'crdgate', sub: 'second-user', tenant: 'narrow', exp: nowSeconds() + 600 })}` },
      body: JSON.stringify({ query: `{ cronTabList${v1} { edges { node { metadata { name } } } } }` }),
    });
    assert.equal(res.status, 200);
    // Namespaces, not calls: other test files change RBAC objects on this cluster all the time, and
    // each change rightly drops cached answers, so the same reviews may be asked again.
    const reviewed = reviewedBy.get('narrow:second-user') ?? new Set();
    const bound = 2 + new Set(systemBound).size + 1;
    console.log(`rules reviews for a new caller: ${reviewed.size} namespaces (in the cluster: ${total}; bound: 2, with system: group bindings: ${new Set(systemBound).size})`);
    assert.ok(reviewed.has(namespaces[3]!) && reviewed.has(namespaces[31]!), 'its own two namespaces were reviewed');
    assert.ok(reviewed.size <= bound, `rules reviews in ${reviewed.size} namespaces; at most ${bound} expected, not one per namespace (${total})`);
    assert.ok(reviewed.size < total / 2, `${reviewed.size} of ${total}`);
  });

  it('a caller bound in all 40: one review per namespace, never more than 16 in flight, and the right answer', async () => {
    stats.maxInFlight = 0;
    const names = await pollUntil('the wide caller to list all 40 namespaces', async () => {
      const n = await list('wide');
      return n?.length === count ? n : undefined;
    }, { timeoutMs: 15_000 });
    assert.deepEqual(names, namespaces.map((ns) => `${ns}/c`));
    console.log(`reviews in flight at most: ${stats.maxInFlight}`);
    assert.ok(stats.maxInFlight <= 16, `${stats.maxInFlight} reviews in flight at once`);
    assert.ok(stats.maxInFlight > 1, 'reviews do run concurrently');
  });
});
