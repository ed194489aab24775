// The Helm chart in deploy/helm/crdgate, checked by the real helm (built from Go modules by the
// test run): it lints, renders with the default values (plus the one required value) and with
// every optional object on, refuses to render without a tenants decision, the real API server
// accepts every object it renders (server-side dry run, with admission and Pod Security checks;
// the ServiceMonitor against the real prometheus-operator CRD), its RBAC is the kustomize base's,
// rule for rule, and no more than the tenants mode needs; two releases aggregate only their own
// ClusterRoles; the install notes say what an operator must know.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { loadConfig } from '../../src/config/config.ts';
import { repoRoot } from '../../src/local-cluster/build-launcher.ts';
import { helm } from '../helpers/helm.ts';
import { kubectl, uniqueName } from '../helpers/test-cluster.ts';

const chart = join(repoRoot, 'deploy', 'helm', 'crdgate');
const allOn = join(chart, 'ci', 'all-on-values.yaml');
const serviceMonitorCrd = join(process.env.CRDGATE_CRD_CORPUS ?? join(repoRoot, '..', 'shared', 'crds'), 'prometheus-operator', 'servicemonitors.monitoring.coreos.com.yaml');

interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [k: string]: any;
}

type Rule = { apiGroups?: string[]; resources?: string[]; verbs: string[]; resourceNames?: string[]; nonResourceURLs?: string[] };

async function ok(p: Promise<{ code: number; stdout: string; stderr: string }>, what: string): Promise<{ stdout: string; stderr: string }> {
  const r = await p;
  assert.equal(r.code, 0, `${what}: ${r.stderr}`);
  return r;
}

async function render(release: string, namespace: string, args: string[]): Promise<KubeObject[]> {
  const { stdout } = await ok(helm(['template', release, chart, '--namespace', namespace, ...args]), `helm template ${args.join(' ')}`);
  return parseAllDocuments(stdout).map((d) => d.toJS() as KubeObject).filter((o) => o);
}

const find = (objects: KubeObject[], kind: string, name: string) => {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(o, `${kind}/${name} is rendered (have: ${objects.map((x) => `${x.kind}/${x.metadata.name}`).join(', ')})`);
  return o;
};

/** Whether a ClusterRole's aggregationRule selects another ClusterRole (matchLabels, as Kubernetes reads them). */
function aggregates(aggregating: KubeObject, role: KubeObject): boolean {
  const selectors: { matchLabels?: Record<string, string>; matchExpressions?: unknown[] }[] = aggregating.aggregationRule?.clusterRoleSelectors ?? [];
  assert.ok(selectors.length && selectors.every((s) => s.matchLabels && Object.keys(s.matchLabels).length && !s.matchExpressions), 'matchLabels only, never empty');
  return selectors.some((s) => Object.entries(s.matchLabels!).every(([k, v]) => role.metadata.labels?.[k] === v));
}

/** Rules as a set: each rule's lists sorted, the rules sorted, so order and layout do not count. */
function normalizedRules(rules: Rule[]): string[] {
  const sortedEntries = (r: Rule) => Object.entries(r).map(([k, v]): [string, unknown] => [k, Array.isArray(v) ? [...v].sort() : v]);
  return rules.map((r) => JSON.stringify(Object.fromEntries(sortedEntries(r).sort(([a], [b]) => a.localeCompare(b))))).sort();
}

describe('deploy/helm/crdgate', () => {
  const namespace = uniqueName('helm');
  const created: string[] = [];
  let defaults: KubeObject[] = [];
  let everything: KubeObject[] = [];
  let crdInstalled = false;

  before(async () => {
    defaults = await render('crdgate', namespace, ['--set', 'tenants.configMapName=crdgate-tenants']);
    everything = await render('gw', namespace, ['-f', allOn]);
  });

  after(async () => {
    if (created.length) await kubectl(['delete', 'namespace', ...created, '--wait=false', '--ignore-not-found']);
    if (crdInstalled) await kubectl(['delete', '-f', serviceMonitorCrd, '--wait=false', '--ignore-not-found']);
  });

  it('helm lint --strict passes with the required value, and with every optional object on', async () => {
    for (const args of [['--set', 'tenants=none'], ['--set', 'tenants.secretName=t'], ['-f', allOn]]) {
      const r = await ok(helm(['lint', '--strict', chart, ...args]), `helm lint ${args.join(' ')}`);
      assert.match(r.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    }
    const version = await ok(helm(['version', '--short']), 'helm version');
    assert.match(version.stdout, /^v4\.\d+\.\d+/);
  });

  it('without a tenants decision, or with a wrong one, rendering fails and says what to set', async () => {
    for (const args of [[], ['--set', 'tenants=nobody'], ['--set', 'tenants.key=tenants.yaml']]) {
      const r = await helm(['template', 'x', chart, ...args]);
      assert.notEqual(r.code, 0, `rendered with ${args.join(' ')}`);
      assert.match(r.stderr, /crdgate: (no tenants file:|tenants is "nobody";) set tenants\.secretName or tenants\.configMapName \(an existing Secret or ConfigMap holding the tenants file\), or tenants=none to run without authentication/, r.stderr);
    }
    const both = await helm(['template', 'x', chart, '--set', 'tenants.secretName=a', '--set', 'tenants.configMapName=b']);
    assert.match(both.stderr, /tenants\.secretName and tenants\.configMapName are both set; choose one/);
    const none = await render('x', 'n', ['--set', 'tenants=none', '--set', 'nodeOptions=']);
    const args: string[] = find(none, 'Deployment', 'x-crdgate').spec.template.spec.containers[0].args;
    assert.equal(find(none, 'Deployment', 'x-crdgate').spec.template.spec.containers[0].env, undefined, 'nodeOptions "" sets no NODE_OPTIONS');
    assert.equal(args[args.indexOf('--tenants') + 1], 'none');
    assert.equal(find(none, 'Deployment', 'x-crdgate').spec.template.spec.volumes.some((v: { name: string }) => v.name === 'tenants'), false);
    const own = await helm(['template', 'x', chart, '--set', 'tenants=none', '--set', 'flags.port=1']);
    assert.match(own.stderr, /flags\.port is set by the chart itself/);
    // Nor through extraArgs or extraEnv, where the chart's guards would not see them.
    for (const [set, said] of [
      [['--set-string', 'extraArgs={--shutdown-timeout=60000}'], /extraArgs sets --shutdown-timeout, which the chart sets or checks itself; use flags\.shutdown-timeout/],
      [['--set-string', 'extraArgs={--shutdown-delay,30000}'], /extraArgs sets --shutdown-delay/],
      [['--set-string', 'extraArgs={-p9000}'], /extraArgs sets -p \(--port\)/],
      [['--set', 'extraEnv[0].name=CRDGATE_REDIS_URL', '--set', 'extraEnv[0].value=redis://:pw@r'], /extraEnv sets CRDGATE_REDIS_URL/],
      [['--set', 'extraEnv[0].name=NODE_OPTIONS', '--set', 'extraEnv[0].value=--max-old-space-size=100'], /extraEnv sets NODE_OPTIONS, which the chart sets from nodeOptions/],
    ] as const) {
      const r = await helm(['template', 'x', chart, '--set', 'tenants=none', ...set]);
      assert.match(r.stderr, said, set.join(' '));
    }
    const other = await helm(['template', 'x', chart, '--set', 'tenants=none', '--set-string', 'extraArgs={--log-level=debug}', '--set', 'extraEnv[0].name=CRDGATE_MAX_DEPTH', '--set', 'extraEnv[0].value=20']);
    assert.equal(other.code, 0, other.stderr);
    const typo = await helm(['template', 'x', chart, '--set', 'tenants=none', '--set', 'replicas=3']);
    assert.match(typo.stderr, /additional properties 'replicas' not allowed/, 'a misspelt value is refused, not ignored');
  });

  it('default values: the gateway, hardened as the kustomize base, its RBAC, Services, NetworkPolicy and PodDisruptionBudget', () => {
    const names = defaults.map((o) => `${o.kind}/${o.metadata.name}`).sort();
    assert.deepEqual(names, [
      'ClusterRole/crdgate', 'ClusterRole/crdgate-custom-resources', 'ClusterRoleBinding/crdgate', 'ClusterRoleBinding/crdgate-custom-resources',
      'Deployment/crdgate', 'NetworkPolicy/crdgate', 'PodDisruptionBudget/crdgate', 'Service/crdgate', 'Service/crdgate-metrics', 'ServiceAccount/crdgate',
    ]);
    const d = find(defaults, 'Deployment', 'crdgate');
    assert.equal(d.spec.replicas, 2);
    const pod = d.spec.template.spec;
    assert.equal(pod.serviceAccountName, 'crdgate');
    assert.equal(pod.enableServiceLinks, false, 'no CRDGATE_PORT=tcp://… from a Service named crdgate');
    assert.deepEqual(pod.securityContext, { runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, fsGroup: 10001, seccompProfile: { type: 'RuntimeDefault' } });
    const c = pod.containers[0];
    assert.equal(c.image, 'crdgate:0.1.0');
    assert.deepEqual(c.securityContext, { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, privileged: false, capabilities: { drop: ['ALL'] } });
    assert.deepEqual(c.livenessProbe.httpGet, { path: '/healthz', port: 'http' });
    assert.deepEqual(c.readinessProbe.httpGet, { path: '/readyz', port: 'http' });
    assert.deepEqual(c.args, ['serve', '--host', '0.0.0.0', '--port', '4000', '--local-cluster', 'never', '--tenants', '/etc/crdgate/tenants/tenants.yaml',
      '--metrics-port', '9464', '--metrics-host', '0.0.0.0', '--shutdown-delay', '5000']);
    assert.deepEqual(c.env, [{ name: 'NODE_OPTIONS', value: '--max-semi-space-size=16' }], 'no Redis by default; the young generation capped');
    assert.deepEqual(pod.volumes.find((v: { name: string }) => v.name === 'tenants'), { name: 'tenants', configMap: { name: 'crdgate-tenants' } });
    assert.deepEqual(pod.topologySpreadConstraints, [{ maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'ScheduleAnyway',
      labelSelector: { matchLabels: { 'app.kubernetes.io/name': 'crdgate', 'app.kubernetes.io/instance': 'crdgate' } } }]);
    // The API Service never carries the metrics port; the metrics Service has only that.
    assert.deepEqual(find(defaults, 'Service', 'crdgate').spec.ports, [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }]);
    assert.deepEqual(find(defaults, 'Service', 'crdgate-metrics').spec.ports, [{ name: 'metrics', port: 9464, targetPort: 'metrics', protocol: 'TCP' }]);
    const np = find(defaults, 'NetworkPolicy', 'crdgate');
    assert.deepEqual(np.spec.ingress, [{ ports: [{ port: 4000, protocol: 'TCP' }] }], 'metrics reachable by no one until metricsFrom says who');
    assert.deepEqual(find(defaults, 'PodDisruptionBudget', 'crdgate').spec.maxUnavailable, 1);
  });

  it('every optional object on: ServiceMonitor, HPA, Redis Secret, served groups, narrowed network, own flags', () => {
    const names = everything.map((o) => `${o.kind}/${o.metadata.name}`).sort();
    assert.deepEqual(names, [
      'ClusterRole/gw-crdgate', 'ClusterRole/gw-crdgate-custom-resources', 'ClusterRole/gw-crdgate-served-groups',
      'ClusterRoleBinding/gw-crdgate', 'ClusterRoleBinding/gw-crdgate-custom-resources', 'Deployment/gw-crdgate', 'HorizontalPodAutoscaler/gw-crdgate',
      'NetworkPolicy/gw-crdgate', 'PodDisruptionBudget/gw-crdgate', 'Secret/gw-crdgate-redis', 'Service/gw-crdgate', 'Service/gw-crdgate-metrics',
      'ServiceAccount/crdgate-gateway', 'ServiceMonitor/gw-crdgate',
    ]);
    const d = find(everything, 'Deployment', 'gw-crdgate');
    assert.equal(d.spec.replicas, undefined, 'the HPA owns the replica count');
    const c = d.spec.template.spec.containers[0];
    const flag = (name: string) => c.args[c.args.indexOf(name) + 1];
    assert.equal(flag('--rate-limit'), '20');
    assert.equal(flag('--max-watches'), '200');
    assert.equal(flag('--metrics-port'), '9100');
    assert.equal(flag('--shutdown-delay'), '8000');
    assert.deepEqual(c.env[0], { name: 'CRDGATE_REDIS_URL', valueFrom: { secretKeyRef: { name: 'gw-crdgate-redis', key: 'redis-url' } } });
    assert.ok(!JSON.stringify(d).includes('s3cret'), 'the Redis password is only in the Secret');
    assert.equal(find(everything, 'Secret', 'gw-crdgate-redis').stringData['redis-url'], 'redis://:s3cret@redis.crdgate-redis.svc:6379/0');
    const served = find(everything, 'ClusterRole', 'gw-crdgate-served-groups');
    assert.ok(aggregates(find(everything, 'ClusterRole', 'gw-crdgate-custom-resources'), served), 'the served groups are aggregated into the release\'s role');
    assert.deepEqual(served.rules, [{ apiGroups: ['stable.example.com'], resources: ['crontabs', 'clustercrontabs'], verbs: ['get', 'list', 'watch'] }]);
    assert.deepEqual(find(everything, 'ClusterRole', 'gw-crdgate').rules.filter((r: Rule) => r.resources?.includes('tokenreviews')),
      [{ apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create'] }], 'rbac.tokenReview grants TokenReviews');
    const sm = find(everything, 'ServiceMonitor', 'gw-crdgate');
    assert.deepEqual(sm.spec.endpoints, [{ port: 'metrics', path: '/metrics', interval: '15s', scrapeTimeout: '5s' }]);
    const selects = (o: KubeObject) => Object.entries(sm.spec.selector.matchLabels as Record<string, string>).every(([k, v]) => o.metadata.labels?.[k] === v);
    assert.deepEqual(everything.filter((o) => o.kind === 'Service' && selects(o)).map((o) => o.metadata.name), ['gw-crdgate-metrics'], 'the ServiceMonitor selects the metrics Service only');
    assert.equal(sm.metadata.labels?.['release'], 'prometheus');
    const hpa = find(everything, 'HorizontalPodAutoscaler', 'gw-crdgate');
    assert.deepEqual([hpa.spec.minReplicas, hpa.spec.maxReplicas, hpa.spec.metrics.length], [3, 12, 2]);
    const np = find(everything, 'NetworkPolicy', 'gw-crdgate');
    const egressPorts = np.spec.egress.flatMap((e: { ports: { port: number }[] }) => e.ports.map((p) => p.port)).sort((a: number, b: number) => a - b);
    assert.deepEqual(egressPorts, [53, 53, 443, 6379, 6443], 'DNS, the API server, the extra rule, Redis');
    assert.deepEqual(np.spec.ingress.map((i: { ports: { port: number }[] }) => i.ports[0]!.port), [4000, 9100]);
  });

  it('the gateway reads the rendered arguments as the values meant them: numbers of a values file from a million up too', async () => {
    // Values files give numbers as float64, which toString wrote as 8.388608e+06: a value the gateway refuses.
    const values = join(mkdtempSync(join(tmpdir(), 'crdgate-helm-values-')), 'values.yaml');
    writeFileSync(values, [
      'tenants: { secretName: t }',
      'shutdownDelayMs: 5000',
      'flags: { apq-cache-size: 8388608, query-cache-max-bytes: 536870912, watch-window-bytes: 67108864, kube-timeout: 15000,',
      '  trace-sample-ratio: 0.25, log-level: warn, install-examples: false }',
    ].join('\n'));
    const objects = await render('v', 'n', ['-f', values]);
    const c = find(objects, 'Deployment', 'v-crdgate').spec.template.spec.containers[0];
    const config = loadConfig(c.args.slice(1), {}, { stateDir: '/state' });
    assert.ok(config !== 'help');
    assert.equal(config.persistedOperations.cacheSize, 8388608);
    assert.equal(config.queryCache.maxBytes, 536870912);
    assert.equal(config.watch.windowBytes, 67108864);
    assert.equal(config.kubeTimeoutMs, 15000);
    assert.equal(config.tracing.sampleRatio, 0.25);
    assert.equal(config.logLevel, 'warn');
    assert.equal(config.installExamples, false);
    assert.equal(config.shutdownDelayMs, 5000);
    assert.deepEqual([config.host, config.port, config.localCluster, config.tenants, config.metricsPort, config.metricsHost],
      ['0.0.0.0', 4000, 'never', '/etc/crdgate/tenants/tenants.yaml', 9464, '0.0.0.0']);
    // The default and all-on renderings too: every argument the chart writes is one the gateway takes.
    for (const rendered of [defaults, everything]) {
      const d = rendered.find((o) => o.kind === 'Deployment')!;
      assert.notEqual(loadConfig(d.spec.template.spec.containers[0].args.slice(1), {}, { stateDir: '/state' }), 'help');
    }
  });

  it('a grace period shorter than the drain after SIGTERM (shutdownDelayMs + shutdown-timeout) is refused', async () => {
    const short = await helm(['template', 'x', chart, '--set', 'tenants=none', '--set', 'terminationGracePeriodSeconds=20']);
    assert.notEqual(short.code, 0);
    assert.match(short.stderr, /crdgate: terminationGracePeriodSeconds 20 does not cover shutdownDelayMs \(5000\) plus the gateway's shutdown-timeout \(25000 ms\); set it to at least 30, or shorten them/);
    const longTimeout = await helm(['template', 'x', chart, '--set', 'tenants=none', '--set', 'flags.shutdown-timeout=60000']);
    assert.match(longTimeout.stderr, /terminationGracePeriodSeconds 40 does not cover shutdownDelayMs \(5000\) plus the gateway's shutdown-timeout \(60000 ms\); set it to at least 65/);
    await render('x', 'n', ['--set', 'tenants=none', '--set', 'terminationGracePeriodSeconds=30']);
    await render('x', 'n', ['--set', 'tenants=none', '--set', 'flags.shutdown-timeout=10000', '--set', 'terminationGracePeriodSeconds=15']);
  });

  it('kubectl apply --dry-run=server accepts both renderings, with no Pod Security warning', async () => {
    if (!existsSync(serviceMonitorCrd)) {
      assert.ok(process.env.CI !== 'true', `the CRD corpus is missing (${serviceMonitorCrd}); CI needs it`);
      throw new Error(`the prometheus-operator ServiceMonitor CRD is not at ${serviceMonitorCrd}; set CRDGATE_CRD_CORPUS to the shared CRD corpus`);
    }
    const ns = await kubectl(['create', 'namespace', namespace]);
    assert.equal(ns.code, 0, ns.stderr);
    created.push(namespace);
    await ok(kubectl(['label', 'namespace', namespace, 'pod-security.kubernetes.io/enforce=restricted']), 'label namespace');
    // The real ServiceMonitor CRD (prometheus-operator's), so the dry run validates against its schema.
    await ok(kubectl(['apply', '--server-side', '-f', serviceMonitorCrd]), 'install the ServiceMonitor CRD');
    crdInstalled = true;
    await ok(kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/servicemonitors.monitoring.coreos.com']), 'CRD established');
    for (const objects of [defaults, everything]) {
      const r = await ok(kubectl(['apply', '--dry-run=server', '-f', '-'], { input: objects.map((o) => JSON.stringify(o)).join('\n') }), 'dry run');
      assert.doesNotMatch(r.stderr, /PodSecurity|Warning/i, r.stderr);
      const lines = r.stdout.trim().split('\n');
      assert.equal(lines.length, objects.length, r.stdout);
      for (const o of objects) {
        const group = o.apiVersion.includes('/') ? `.${o.apiVersion.split('/')[0]}` : '';
        const ref = `${o.kind.toLowerCase()}${group}/${o.metadata.name}`;
        assert.ok(lines.some((l) => l.startsWith(`${ref} `) && /\(server dry run\)$/.test(l)), `${ref} in: ${r.stdout}`);
      }
    }
    // The server's schema is really checked: a ServiceMonitor endpoint with a field it lacks is refused.
    const broken = structuredClone(find(everything, 'ServiceMonitor', 'gw-crdgate'));
    broken.spec.endpoints[0].interval = 'every minute';
    const refused = await kubectl(['apply', '--dry-run=server', '-f', '-'], { input: JSON.stringify(broken) });
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /spec\.endpoints\[0\]\.interval/, refused.stderr);
    const get = await kubectl(['get', 'deployment', '-n', namespace, '--ignore-not-found', '-o', 'name']);
    assert.equal(get.stdout.trim(), '', 'nothing was created for real');
  });

  it('two releases in one cluster aggregate only their own ClusterRoles', async () => {
    const served = (group: string) => ['--set', `rbac.customResources[0].apiGroups[0]=${group}`, '--set', 'rbac.customResources[0].resources[0]=things'];
    const releases = [
      await render('one', 'team-a', ['--set', 'tenants=none', ...served('a.example.com')]),
      await render('two', 'team-b', ['--set', 'tenants=none', ...served('b.example.com')]),
      await render('three', 'team-b', ['--set', 'tenants=none', ...served('c.example.com')]),
    ];
    const roles = releases.flatMap((objects) => objects.filter((o) => o.kind === 'ClusterRole'));
    for (const [i, objects] of releases.entries()) {
      const aggregating = objects.find((o) => o.kind === 'ClusterRole' && o.metadata.name.endsWith('-custom-resources'))!;
      const own = objects.find((o) => o.kind === 'ClusterRole' && o.metadata.name.endsWith('-served-groups'))!;
      const selected = roles.filter((r) => r !== aggregating && aggregating.aggregationRule && aggregates(aggregating, r));
      assert.deepEqual(selected, [own], `release ${i} aggregates its own served groups and nothing else`);
    }
    // A ClusterRole of the operator's own, with one release's label, goes to that release only.
    const labels = releases[1]!.find((o) => o.metadata.name === 'two-crdgate-served-groups')!.metadata.labels!;
    const extra: KubeObject = { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'extra', labels: {
      'crdgate.io/aggregate-to-release': labels['crdgate.io/aggregate-to-release']! } } };
    assert.deepEqual(releases.map((objects) => aggregates(objects.find((o) => o.metadata.name.endsWith('-custom-resources') && o.kind === 'ClusterRole')!, extra)), [false, true, false]);
  });

  it('RBAC by tenants mode: JWT without TokenReviews, TokenReview with them, none without impersonation or reviews', async () => {
    const rulesOf = async (args: string[]) => normalizedRules(find(await render('m', 'n', args), 'ClusterRole', 'm-crdgate').rules);
    const jwt = await rulesOf(['--set', 'tenants.secretName=t']);
    const tokenReview = await rulesOf(['--set', 'tenants.secretName=t', '--set', 'rbac.tokenReview=true']);
    const none = await rulesOf(['--set', 'tenants=none']);
    const tokenReviews = JSON.stringify({ apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create'] });
    assert.equal(jwt.length, 6);
    assert.ok(!jwt.includes(tokenReviews), 'a JWT tenants file never calls TokenReview');
    assert.deepEqual(tokenReview, [...jwt, tokenReviews].sort());
    assert.deepEqual(none, [JSON.stringify({ apiGroups: ['apiextensions.k8s.io'], resources: ['customresourcedefinitions'], verbs: ['get', 'list', 'watch'] })],
      'without tenants the gateway acts as itself: the CRD catalog is all it reads besides the served groups');
    const refused = await helm(['template', 'x', chart, '--set', 'tenants=none', '--set', 'rbac.tokenReview=true']);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /crdgate: rbac\.tokenReview is for a tenants file with auth\.tokenReview; with tenants=none no token is reviewed/);
  });

  it('the chart\'s version marks the breaking changes of its RBAC, and its changes name both upgrade steps', async () => {
    const shown = parse((await ok(helm(['show', 'chart', chart]), 'helm show chart')).stdout) as { version: string; annotations: Record<string, string> };
    assert.equal(shown.version, '0.2.0');
    const changes = parse(shown.annotations['artifacthub.io/changes']!) as { kind: string; description: string }[];
    assert.deepEqual(changes.map((c) => c.kind), ['changed', 'changed']);
    assert.match(changes[0]!.description, /crdgate\.io\/aggregate-to-release: RELEASE instead of crdgate\.io\/aggregate-to-gateway/);
    assert.match(changes[1]!.description, /rbac\.tokenReview=true/);
  });

  it('the install notes: the release\'s aggregation label, TokenReviews, and the replica range of an autoscaler', async () => {
    const notes = async (args: string[]) => {
      const { stdout } = await ok(helm(['install', 'nr', chart, '--namespace', 'gateways', '--dry-run=client', ...args]), `helm install --dry-run=client ${args.join(' ')}`);
      const at = stdout.indexOf('NOTES:\n');
      assert.ok(at >= 0, stdout);
      return stdout.slice(at);
    };
    const plain = await notes(['--set', 'tenants.secretName=t']);
    assert.match(plain, /add\nClusterRoles with this release's label:\n {2}crdgate\.io\/aggregate-to-release: "nr"\n(?! {2}crdgate)/);
    assert.match(plain, /The gateway may not create TokenReviews: right for a JWT tenants file; one with auth\.tokenReview\nneeds rbac\.tokenReview=true\./);
    assert.match(plain, /\n2 replicas without redis: .* a tenant may use up to 2 times its budget/s);
    assert.doesNotMatch(await notes(['--set', 'tenants.secretName=t', '--set', 'rbac.tokenReview=true']), /TokenReviews/);
    // With an autoscaler, replicaCount is not what runs: the notes give the autoscaler's range.
    const scaled = await notes(['--set', 'tenants.secretName=t', '--set', 'replicaCount=1', '--set', 'autoscaling.enabled=true', '--set', 'autoscaling.minReplicas=3', '--set', 'autoscaling.maxReplicas=7']);
    assert.match(scaled, /\n3 to 7 replicas \(HorizontalPodAutoscaler\) without redis: .* a tenant may use up to 7 times its budget/s);
    assert.doesNotMatch(scaled, /\n1 replicas/);
    assert.doesNotMatch(await notes(['--set', 'tenants.secretName=t', '--set', 'autoscaling.enabled=true', '--set', 'autoscaling.minReplicas=1', '--set', 'autoscaling.maxReplicas=1']), /without redis/);
  });

  it('the same RBAC as the kustomize base: the ClusterRoles\' rules, the aggregation, the bindings; TokenReviews as its component adds them', async () => {
    const kustomized = async (dir: string) => parseAllDocuments((await ok(kubectl(['kustomize', dir]), `kubectl kustomize ${dir}`)).stdout)
      .map((d) => d.toJS() as KubeObject);
    const base = await kustomized(join(repoRoot, 'deploy', 'kustomize', 'base'));
    // Release "crdgate" in namespace "crdgate" gives the base's names: compare object by object.
    const helmed = await render('crdgate', 'crdgate', ['--set', 'tenants.configMapName=crdgate-tenants']);
    const rbac = (objects: KubeObject[]) => objects.filter((o) => o.apiVersion === 'rbac.authorization.k8s.io/v1');
    const pick = (objects: KubeObject[]) => rbac(objects).map((o) => ({
      kind: o.kind,
      name: o.metadata.name,
      rules: o.rules ? normalizedRules(o.rules) : undefined,
      aggregationRule: o.aggregationRule,
      roleRef: o.roleRef,
      subjects: o.subjects,
    })).sort((a, b) => `${a.kind}/${a.name}`.localeCompare(`${b.kind}/${b.name}`));
    assert.deepEqual(pick(helmed), pick(base));
    // Not two empty lists: the gateway's six rules, and the aggregation, are in both.
    assert.equal(rbac(base).length, 4);
    assert.equal(normalizedRules(find(helmed, 'ClusterRole', 'crdgate').rules).length, 6);
    // TokenReview mode: rbac.tokenReview, and the base with the component deploy/kustomize/components/token-review.
    const overlay = mkdtempSync(join(tmpdir(), 'crdgate-kustomize-'));
    let reviewingBase: KubeObject[];
    try {
      // Kustomize takes a directory only as a relative path.
      writeFileSync(join(overlay, 'kustomization.yaml'), [
        'apiVersion: kustomize.config.k8s.io/v1beta1', 'kind: Kustomization',
        `resources: [${JSON.stringify(relative(overlay, join(repoRoot, 'deploy', 'kustomize', 'base')))}]`,
        `components: [${JSON.stringify(relative(overlay, join(repoRoot, 'deploy', 'kustomize', 'components', 'token-review')))}]`,
      ].join('\n'));
      reviewingBase = await kustomized(overlay);
    } finally {
      rmSync(overlay, { recursive: true, force: true });
    }
    const reviewing = await render('crdgate', 'crdgate', ['--set', 'tenants.configMapName=crdgate-tenants', '--set', 'rbac.tokenReview=true']);
    assert.deepEqual(pick(reviewing), pick(reviewingBase));
    assert.equal(normalizedRules(find(reviewingBase, 'ClusterRole', 'crdgate').rules).length, 7);
    assert.deepEqual(normalizedRules(find(reviewingBase, 'ClusterRole', 'crdgate-custom-resources').rules), [], 'the component touches the gateway\'s role only');
    // Any release name: the same rules, bound to that release's service account in its namespace.
    const other = await render('edge', 'gateways', ['--set', 'tenants.secretName=t']);
    assert.deepEqual(normalizedRules(find(other, 'ClusterRole', 'edge-crdgate').rules), normalizedRules(find(base, 'ClusterRole', 'crdgate').rules));
    assert.deepEqual(find(other, 'ClusterRoleBinding', 'edge-crdgate-custom-resources').subjects, [{ kind: 'ServiceAccount', name: 'edge-crdgate', namespace: 'gateways' }]);
  });
});
