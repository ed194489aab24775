// The kustomize manifests in deploy/kustomize: they render, the real API server accepts every
// object (server-side dry run, with admission and Pod Security checks), and the Deployment keeps
// its hardening field by field.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { loadConfig } from '../../src/config/config.ts';
import { kubectl } from '../helpers/test-cluster.ts';

const overlay = 'deploy/kustomize/overlays/example-tenants';

interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [k: string]: any;
}

async function kubectlOk(args: string[], input?: string): Promise<{ stdout: string; stderr: string }> {
  const r = await kubectl(args, input === undefined ? {} : { input });
  assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
  return r;
}

describe('deploy/kustomize', () => {
  let objects: KubeObject[] = [];
  const find = (kind: string, name: string) => {
    const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
    assert.ok(o, `${kind}/${name} is rendered`);
    return o;
  };
  /** Namespaces this test created (server dry run needs the namespaces of namespaced objects to exist). */
  const created: string[] = [];

  before(async () => {
    const { stdout } = await kubectlOk(['kustomize', overlay]);
    objects = parseAllDocuments(stdout).map((d) => d.toJS() as KubeObject);
  });
  after(async () => {
    if (created.length) await kubectl(['delete', 'namespace', ...created, '--wait=false', '--ignore-not-found']);
  });

  it('renders the gateway, its RBAC, network policy and the example tenants', () => {
    const names = objects.map((o) => `${o.kind}/${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`).sort();
    const tenantsConfigMap = objects.find((o) => o.kind === 'ConfigMap')!.metadata.name;
    assert.match(tenantsConfigMap, /^crdgate-tenants-[a-z0-9]+$/);
    assert.deepEqual(names, [
      'ClusterRole/crdgate', 'ClusterRole/crdgate-custom-resources', 'ClusterRole/crdgate-example-clustercrontab-reader',
      'ClusterRole/crdgate-example-crontab-editor', 'ClusterRole/crdgate-stable-example-com',
      'ClusterRoleBinding/crdgate', 'ClusterRoleBinding/crdgate-custom-resources', 'ClusterRoleBinding/crdgate-example-tenant-a-clustercrontabs',
      `ConfigMap/crdgate/${tenantsConfigMap}`, 'Deployment/crdgate/crdgate',
      'Namespace/crdgate', 'Namespace/tenant-a', 'Namespace/tenant-b', 'NetworkPolicy/crdgate/crdgate', 'PodDisruptionBudget/crdgate/crdgate',
      'RoleBinding/tenant-a/crdgate-example-tenant-a', 'RoleBinding/tenant-b/crdgate-example-tenant-b',
      'Service/crdgate/crdgate', 'ServiceAccount/crdgate/crdgate',
    ].sort());
  });

  it('the overlay\'s tenants file and RBAC are exactly the examples', () => {
    assert.equal(readFileSync(`${overlay}/tenants.yaml`, 'utf8'), readFileSync('deploy/examples/tenants/tenants.yaml', 'utf8'));
    assert.equal(readFileSync(`${overlay}/tenants-rbac.yaml`, 'utf8'), readFileSync('deploy/examples/tenants-rbac.yaml', 'utf8'));
    const cm = objects.find((o) => o.kind === 'ConfigMap')!;
    assert.equal(cm.data['tenants.yaml'], readFileSync('deploy/examples/tenants/tenants.yaml', 'utf8'));
  });

  it('the Deployment runs hardened: non-root, read-only root, no escalation, no capabilities, seccomp, limits, probes', () => {
    const d = find('Deployment', 'crdgate');
    const pod = d.spec.template.spec;
    assert.equal(pod.serviceAccountName, 'crdgate');
    assert.equal(pod.enableServiceLinks, false, 'no CRDGATE_PORT=tcp://… from a Service named crdgate');
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.ok(pod.securityContext.runAsUser > 0);
    assert.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault');
    assert.equal(pod.containers.length, 1);
    const c = pod.containers[0];
    assert.equal(c.image, 'crdgate:latest');
    assert.deepEqual(c.env, [{ name: 'NODE_OPTIONS', value: '--max-semi-space-size=16' }], 'the young generation capped, as the chart does');
    assert.equal(c.securityContext.allowPrivilegeEscalation, false);
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    assert.equal(c.securityContext.runAsNonRoot, true);
    assert.equal(c.securityContext.privileged, false);
    assert.deepEqual(c.securityContext.capabilities, { drop: ['ALL'] });
    for (const kind of ['requests', 'limits']) {
      assert.ok(c.resources[kind].cpu, `${kind}.cpu`);
      assert.ok(c.resources[kind].memory, `${kind}.memory`);
    }
    assert.deepEqual(c.livenessProbe.httpGet, { path: '/healthz', port: 'http' });
    assert.deepEqual(c.readinessProbe.httpGet, { path: '/readyz', port: 'http' });
    assert.deepEqual(c.ports, [{ name: 'http', containerPort: 4000, protocol: 'TCP' }]);
    const args: string[] = c.args;
    assert.equal(args[args.indexOf('--tenants') + 1], '/etc/crdgate/tenants/tenants.yaml');
    assert.equal(args[args.indexOf('--host') + 1], '0.0.0.0');
    assert.equal(args[args.indexOf('--port') + 1], '4000');
    assert.equal(args[args.indexOf('--log-format') + 1], 'json');
    const mount = c.volumeMounts.find((m: { name: string }) => m.name === 'tenants');
    assert.deepEqual(mount, { name: 'tenants', mountPath: '/etc/crdgate/tenants', readOnly: true });
    const volume = pod.volumes.find((v: { name: string }) => v.name === 'tenants');
    assert.equal(volume.configMap.name, objects.find((o) => o.kind === 'ConfigMap')!.metadata.name, 'the volume follows the generated ConfigMap name');
  });

  it('rolling restarts and drains: a shutdown delay for load balancers, a grace period that covers the drain, one replica at a time', () => {
    const d = find('Deployment', 'crdgate');
    const args: string[] = d.spec.template.spec.containers[0].args;
    const config = loadConfig(args.slice(1), {}, { stateDir: '/state' });
    assert.ok(config !== 'help');
    assert.ok(config.shutdownDelayMs >= 5000, `a shutdown delay (${config.shutdownDelayMs} ms) lets endpoints go before the listener closes`);
    assert.ok(d.spec.template.spec.terminationGracePeriodSeconds * 1000 >= config.shutdownDelayMs + config.shutdownTimeoutMs,
      `the grace period (${d.spec.template.spec.terminationGracePeriodSeconds} s) covers the delay and the shutdown timeout (${config.shutdownDelayMs} + ${config.shutdownTimeoutMs} ms)`);
    const pdb = find('PodDisruptionBudget', 'crdgate');
    assert.equal(pdb.spec.maxUnavailable, 1);
    assert.deepEqual(pdb.spec.selector.matchLabels, d.spec.selector.matchLabels, 'the budget covers the gateway\'s pods');
  });

  it('the gateway\'s ClusterRoles: reads, reviews and impersonation; custom resources read-only, per group', () => {
    const rules = find('ClusterRole', 'crdgate').rules as { apiGroups: string[]; resources: string[]; verbs: string[] }[];
    const verbsOn = (group: string, resource: string) => rules.filter((r) => r.apiGroups.includes(group) && r.resources.includes(resource)).flatMap((r) => r.verbs).sort();
    assert.deepEqual(verbsOn('apiextensions.k8s.io', 'customresourcedefinitions'), ['get', 'list', 'watch']);
    assert.deepEqual(verbsOn('', 'namespaces'), ['get', 'list', 'watch']);
    for (const r of ['roles', 'rolebindings', 'clusterroles', 'clusterrolebindings']) assert.deepEqual(verbsOn('rbac.authorization.k8s.io', r), ['get', 'list', 'watch'], r);
    assert.deepEqual(verbsOn('authorization.k8s.io', 'subjectaccessreviews'), ['create']);
    assert.deepEqual(verbsOn('authorization.k8s.io', 'selfsubjectrulesreviews'), ['create']);
    for (const r of ['users', 'groups', 'serviceaccounts']) assert.deepEqual(verbsOn('', r), ['impersonate'], r);
    assert.deepEqual(verbsOn('authentication.k8s.io', 'userextras/*'), ['impersonate']);
    assert.deepEqual(verbsOn('authentication.k8s.io', 'uids'), ['impersonate']);
    // The example tenants file is a JWT one: the gateway never calls TokenReview (the component
    // deploy/kustomize/components/token-review grants it for a TokenReview one).
    assert.deepEqual(verbsOn('authentication.k8s.io', 'tokenreviews'), []);
    // Nothing else: no wildcard, no secrets, no write verb outside the reviews.
    assert.equal(rules.length, 6);
    assert.ok(!JSON.stringify(rules).includes('"*"'), 'no wildcard');
    const aggregated = find('ClusterRole', 'crdgate-custom-resources');
    // Labels that name this gateway, not any crdgate: another one in the cluster aggregates none of its roles.
    const own = { 'crdgate.io/aggregate-to-release': 'crdgate' };
    assert.deepEqual(aggregated.aggregationRule.clusterRoleSelectors, [{ matchLabels: own }]);
    const group = find('ClusterRole', 'crdgate-stable-example-com');
    assert.deepEqual(Object.fromEntries(Object.entries(group.metadata.labels ?? {}).filter(([k]) => k.startsWith('crdgate.io/'))), own);
    assert.deepEqual(group.rules, [{ apiGroups: ['stable.example.com'], resources: ['crontabs', 'clustercrontabs'], verbs: ['get', 'list', 'watch'] }]);
    for (const name of ['crdgate', 'crdgate-custom-resources']) {
      assert.deepEqual(find('ClusterRoleBinding', name).subjects, [{ kind: 'ServiceAccount', name: 'crdgate', namespace: 'crdgate' }]);
    }
  });

  it('the NetworkPolicy lets in the gateway port and out only DNS and HTTPS', () => {
    const np = find('NetworkPolicy', 'crdgate');
    assert.deepEqual(np.spec.podSelector, { matchLabels: { 'app.kubernetes.io/name': 'crdgate' } });
    assert.deepEqual(np.spec.policyTypes, ['Ingress', 'Egress']);
    assert.deepEqual(np.spec.ingress, [{ ports: [{ port: 4000, protocol: 'TCP' }] }]);
    const egressPorts = np.spec.egress.flatMap((e: { ports: { port: number; protocol: string }[] }) => e.ports.map((p) => `${p.protocol}/${p.port}`)).sort();
    assert.deepEqual(egressPorts, ['TCP/443', 'TCP/53', 'TCP/6443', 'UDP/53']);
    const svc = find('Service', 'crdgate');
    assert.deepEqual(svc.spec.selector, { 'app.kubernetes.io/name': 'crdgate' });
  });

  it('kubectl apply -k --dry-run=server accepts every object, with no Pod Security warning', async () => {
    // A server dry run creates nothing, so namespaced objects need their namespaces to exist;
    // crdgate's gets its restricted Pod Security label, so the Deployment is checked against it.
    for (const ns of objects.filter((o) => o.kind === 'Namespace')) {
      const r = await kubectl(['create', '--save-config', '-f', '-'], { input: JSON.stringify(ns) });
      if (r.code === 0) created.push(ns.metadata.name);
      else assert.match(r.stderr, /AlreadyExists/, r.stderr);
    }
    const r = await kubectlOk(['apply', '-k', overlay, '--dry-run=server']);
    assert.doesNotMatch(r.stderr, /PodSecurity|Warning/i, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, objects.length, r.stdout);
    for (const o of objects) {
      const group = o.apiVersion.includes('/') ? `.${o.apiVersion.split('/')[0]}` : '';
      const ref = `${o.kind.toLowerCase()}${group}/${o.metadata.name}`;
      assert.ok(lines.some((l) => l.startsWith(`${ref} `) && /\(server dry run\)$/.test(l)), `${ref} in: ${r.stdout}`);
    }
    // The Pod Security check is live: the same Deployment allowed to escalate draws a warning.
    const weakened = structuredClone(find('Deployment', 'crdgate'));
    weakened.spec.template.spec.containers[0].securityContext.allowPrivilegeEscalation = true;
    const weak = await kubectlOk(['apply', '--dry-run=server', '-f', '-'], JSON.stringify(weakened));
    assert.match(weak.stderr, /would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false/, weak.stderr);
    // Nothing was created for real.
    const get = await kubectl(['get', 'clusterrole', 'crdgate-stable-example-com', '--ignore-not-found', '-o', 'name']);
    assert.equal(get.stdout.trim(), '');
  });
});
