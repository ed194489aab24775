// Every error code of the catalog provoked for real through the GraphQL API: the apiserver's own
// answers (NotFound, AlreadyExists, Conflict, Invalid, Forbidden, Unauthorized, Expired,
// TooManyRequests, UnsupportedMediaType) and the gateway's transport failures (an apiserver that
// does not answer, one that is gone, a client that goes away). Each keeps the Kubernetes reason
// and message and never carries a stack trace.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeClient } from '../../src/kube/kube-client.ts';
import { burstUntilRejected, setupApfReject } from '../helpers/apf-reject.ts';
import { startCompactingCluster, type CompactingCluster } from '../helpers/compacting-cluster.ts';
import { kubeConfigFor, kubectl, testCluster, uniqueName } from '../helpers/test-cluster.ts';
import { assertNoStackTrace, eventually, gql, gqlData, onlyError, startGateway, type RunningGateway } from '../helpers/graphql-client.ts';

type Obj = Record<string, any>;

const run = uniqueName('run');
const ns = uniqueName('gql-err');
let admin: RunningGateway;
let url: string;
const cleanups: (() => Promise<unknown>)[] = [];

async function kubectlOk(args: string[], input?: string): Promise<string> {
  const r = await kubectl(args, input === undefined ? {} : { input });
  assert.equal(r.code, 0, `kubectl ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

async function kapply(objects: Obj[]): Promise<void> {
  await kubectlOk(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }));
}

const crontab = (name: string, namespace = ns) => ({
  apiVersion: 'stable.example.com/v1', kind: 'CronTab', metadata: { name, namespace, labels: { run } }, spec: { cronSpec: '* * * * *', replicas: 1 },
});

/** A kubeconfig for the test cluster whose token can be changed after the gateway started. */
function mutableKubeConfig(server = testCluster().server): { kc: KubeConfig; user: { name: string; token: string } } {
  const info = testCluster();
  const user = { name: 'mutable', token: info.adminToken };
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'test', server, caFile: info.caFile, skipTLSVerify: false }],
    users: [user],
    contexts: [{ name: 'test', cluster: 'test', user: 'mutable' }],
    currentContext: 'test',
  });
  return { kc, user };
}

before(async () => {
  admin = await startGateway(kubeConfigFor('admin'));
  url = admin.url;
  await kubectlOk(['create', 'namespace', ns]);
});

after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  await admin?.stop();
  await kubectl(['delete', 'namespace', ns, '--wait=false']);
  await kubectl(['delete', 'clustercrontabs', '-l', `run=${run}`, '--wait=false']);
});

/** What the apiserver itself answers (its Status) to a request the gateway would make. */
async function directStatus(method: 'POST' | 'PATCH', path: string, body: unknown, contentType?: string): Promise<Obj> {
  const client = new KubeClient(kubeConfigFor('admin'));
  return client.request(method, path, { body, ...(contentType ? { contentType } : {}) })
    .then(() => assert.fail(`${method} ${path} succeeded`), (e: { status: Obj }) => e.status);
}

/** The gateway's causes must carry the apiserver's cause reason as `type`, besides message and field. */
function assertCausesKept(gatewayCauses: Obj[] | undefined, kubeCauses: Obj[]): void {
  assert.ok(kubeCauses.length > 0);
  assert.deepEqual(
    (gatewayCauses ?? []).map((c) => ({ type: c.type, message: c.message, field: c.field })),
    kubeCauses.map((c) => ({ type: c.reason, message: c.message, field: c.field })),
    'causes keep the Kubernetes cause reason (StatusCause.reason) as type',
  );
}

describe('answers of the apiserver', () => {
  test('NOT_FOUND: patch, replace, delete, updateStatus and scale of a missing object', async () => {
    const operations = [
      `patchCronTab_stable_example_com(namespace: $ns, name: "missing", type: MERGE, patch: { spec: { image: "x" } }) { metadata { name } }`,
      `replaceCronTab_stable_example_com(namespace: $ns, name: "missing", input: { spec: { image: "x" } }) { metadata { name } }`,
      `deleteCronTab_stable_example_com(namespace: $ns, name: "missing") { status { status } }`,
      `updateCronTabStatus_stable_example_com(namespace: $ns, name: "missing", input: { status: { replicas: 1 } }) { metadata { name } }`,
      `scaleCronTab_stable_example_com(namespace: $ns, name: "missing", replicas: 2) { spec { replicas } }`,
    ];
    for (const op of operations) {
      const r = await gql(url, `mutation($ns: String!) { ${op} }`, { ns });
      const err = onlyError(r, 'NOT_FOUND');
      assert.equal(err.extensions?.reason, 'NotFound', op);
      assert.equal(err.extensions?.kubernetesCode, 404);
      assert.equal(err.extensions?.httpStatus, 404);
      assert.equal(err.message, 'crontabs.stable.example.com "missing" not found', op);
      assert.equal(err.extensions?.name, 'missing');
      assert.equal(err.extensions?.group, 'stable.example.com');
    }
    const cluster = await gql(url, `mutation { deleteClusterCronTab_stable_example_com(name: "missing-cct") { status { status } } }`);
    assert.equal(onlyError(cluster, 'NOT_FOUND').message, 'clustercrontabs.stable.example.com "missing-cct" not found');
  });

  test('ALREADY_EXISTS: creating a ClusterCronTab twice', async () => {
    const name = uniqueName('cct-twice');
    const create = `mutation($in: ClusterCronTab_v1_stable_example_com_Input!) { createClusterCronTab_stable_example_com(input: $in) { metadata { name } } }`;
    const input = { metadata: { name, labels: { run } }, spec: { cronSpec: '* * * * *' } };
    await gqlData(url, create, { in: input });
    const err = onlyError(await gql(url, create, { in: input }), 'ALREADY_EXISTS');
    assert.equal(err.extensions?.reason, 'AlreadyExists');
    assert.equal(err.extensions?.kubernetesCode, 409);
    assert.equal(err.message, `clustercrontabs.stable.example.com "${name}" already exists`);
  });

  test('CONFLICT: a replace with a stale resourceVersion carries the current one', async () => {
    await kapply([crontab('conflict')]);
    const rv = JSON.parse(await kubectlOk(['get', 'crontab', 'conflict', '-n', ns, '-o', 'json'])).metadata.resourceVersion as string;
    await kubectlOk(['label', 'crontab', 'conflict', '-n', ns, 'touched=yes']);
    const now = JSON.parse(await kubectlOk(['get', 'crontab', 'conflict', '-n', ns, '-o', 'json'])).metadata.resourceVersion as string;
    assert.notEqual(rv, now);
    const r = await gql(url, `mutation($ns: String!, $rv: String) { replaceCronTab_stable_example_com(namespace: $ns, name: "conflict",
      input: { metadata: { resourceVersion: $rv }, spec: { cronSpec: "1 1 1 1 1" } }) { metadata { name } } }`, { ns, rv });
    const err = onlyError(r, 'CONFLICT');
    assert.equal(err.extensions?.reason, 'Conflict');
    assert.equal(err.extensions?.currentResourceVersion, now);
    assert.equal(err.message, `Operation cannot be fulfilled on crontabs.stable.example.com "conflict": the object has been modified; please apply your changes to the latest version and try again`);
  });

  describe('INVALID: causes name the Kubernetes field and its GraphQL path', () => {
    const create = `mutation($in: ClusterCronTab_v1_stable_example_com_Input!) { o: createClusterCronTab_stable_example_com(input: $in) { metadata { name } } }`;

    test('spec.replicas below its minimum', async () => {
      const name = uniqueName('cct-invalid');
      const r = await gql(url, create, { in: { metadata: { name, labels: { run } }, spec: { cronSpec: 'x', replicas: -1 } } });
      const err = onlyError(r, 'INVALID');
      const direct = await directStatus('POST', '/apis/stable.example.com/v1/clustercrontabs',
        { apiVersion: 'stable.example.com/v1', kind: 'ClusterCronTab', metadata: { name }, spec: { cronSpec: 'x', replicas: -1 } });
      assert.equal(err.message, direct.message);
      assert.deepEqual(err.extensions?.causes?.map((c: Obj) => c.path), [['spec', 'replicas']]);
      assertCausesKept(err.extensions?.causes, direct.details.causes);
      assert.equal(err.extensions?.reason, 'Invalid');
      assert.equal(err.extensions?.kubernetesCode, 422);
      assert.equal(err.extensions?.httpStatus, 422);
      assert.match(err.message, /^ClusterCronTab\.stable\.example\.com ".*" is invalid: spec\.replicas: Invalid value: -1: spec\.replicas in body should be greater than or equal to 0/);
      assert.deepEqual(err.extensions?.causes, [{
        type: 'FieldValueInvalid', message: 'Invalid value: -1: spec.replicas in body should be greater than or equal to 0',
        field: 'spec.replicas', path: ['spec', 'replicas'],
      }]);
      assert.equal((await kubectl(['get', 'clustercrontab', name])).code, 1, 'nothing was created');
    });

    test('a missing required cronSpec', async () => {
      const r = await gql(url, create, { in: { metadata: { name: uniqueName('cct-invalid'), labels: { run } }, spec: { image: 'x' } } });
      const err = onlyError(r, 'INVALID');
      assert.deepEqual(err.extensions?.causes?.map((c: Obj) => [c.field, c.path]), [['spec.cronSpec', ['spec', 'cronSpec']]]);
      const direct = await directStatus('POST', '/apis/stable.example.com/v1/clustercrontabs',
        { apiVersion: 'stable.example.com/v1', kind: 'ClusterCronTab', metadata: { name: uniqueName('cct-invalid') }, spec: { image: 'x' } });
      assertCausesKept(err.extensions?.causes, direct.details.causes);
      assert.deepEqual(err.extensions?.causes, [{ type: 'FieldValueRequired', message: 'Required value', field: 'spec.cronSpec', path: ['spec', 'cronSpec'] }]);
    });

    test('an enum value outside the enum, sent through a JSON patch', async () => {
      const name = uniqueName('cct-invalid');
      await kapply([{ apiVersion: 'stable.example.com/v1', kind: 'ClusterCronTab', metadata: { name, labels: { run } }, spec: { cronSpec: 'x' } }]);
      const patch = `mutation($name: String!, $ops: [JsonPatchOperation!]) { clusterCronTab: patchClusterCronTab_stable_example_com(name: $name, type: JSON, jsonPatch: $ops) { metadata { name } } }`;
      const badEnum = onlyError(await gql(url, patch, { name, ops: [{ op: 'replace', path: '/spec/concurrencyPolicy', value: 'Sometimes' }] }), 'INVALID');
      assert.deepEqual(badEnum.extensions?.causes?.map((c: Obj) => [c.field, c.path]), [['spec.concurrencyPolicy', ['spec', 'concurrencyPolicy']]]);
      const direct = await directStatus('PATCH', `/apis/stable.example.com/v1/clustercrontabs/${name}`,
        [{ op: 'replace', path: '/spec/concurrencyPolicy', value: 'Sometimes' }], 'application/json-patch+json');
      assert.equal(badEnum.message, direct.message);
      assertCausesKept(badEnum.extensions?.causes, direct.details.causes);
      assert.deepEqual(badEnum.extensions?.causes, [{
        type: 'FieldValueNotSupported', message: 'Unsupported value: "Sometimes": supported values: "Allow", "Forbid", "Replace"',
        field: 'spec.concurrencyPolicy', path: ['spec', 'concurrencyPolicy'],
      }]);
      assert.deepEqual(badEnum.path, ['clusterCronTab']);
    });

    test('property names mapped to GraphQL names (jvm-options, -Xmx, dest-port) map back in causes[].path', async () => {
      const name = uniqueName('cct-invalid');
      await kapply([{ apiVersion: 'stable.example.com/v1', kind: 'ClusterCronTab', metadata: { name, labels: { run } }, spec: { cronSpec: 'x' } }]);
      const patch = `mutation($name: String!, $ops: [JsonPatchOperation!]) { clusterCronTab: patchClusterCronTab_stable_example_com(name: $name, type: JSON, jsonPatch: $ops) { metadata { name } } }`;
      const badPort = onlyError(await gql(url, patch, { name, ops: [{ op: 'add', path: '/spec/jvm-options', value: { '-Xmx': 5, 'dest-port': 'http' } }] }), 'INVALID');
      const causes = (badPort.extensions?.causes as Obj[]).map((c) => ({ field: c.field, path: c.path }))
        .sort((a, b) => a.field.localeCompare(b.field));
      assert.deepEqual(causes, [
        { field: 'spec.jvm-options.-Xmx', path: ['spec', 'jvm_options', '_Xmx'] },
        { field: 'spec.jvm-options.dest-port', path: ['spec', 'jvm_options', 'dest_port'] },
      ]);
      assert.match(badPort.message, /spec\.jvm-options\.dest-port: Invalid value: "string": spec\.jvm-options\.dest-port in body must be of type integer: "string"/);
    });
  });

  test('BAD_REQUEST: a malformed continue token, with the apiserver\'s message', async () => {
    const r = await gql(url, `query($ns: String) { cronTabList_stable_example_com(namespace: $ns, first: 1, after: "not-a-token") { edges { cursor } } }`, { ns });
    const err = onlyError(r, 'BAD_REQUEST');
    assert.equal(err.extensions?.reason, 'BadRequest');
    assert.match(err.message, /continue key is not valid/);
  });

  test('UNSUPPORTED_MEDIA_TYPE: a strategic merge patch is refused with the reason Kubernetes gives', async () => {
    await kapply([crontab('strategic')]);
    // What the apiserver itself answers to the same request.
    const direct = await new KubeClient(kubeConfigFor('admin')).request('PATCH', `/apis/stable.example.com/v1/namespaces/${ns}/crontabs/strategic`, {
      body: { spec: { image: 'x' } }, contentType: 'application/strategic-merge-patch+json',
    }).then(() => undefined, (e: { status: Obj }) => e.status);
    assert.equal(direct?.reason, 'UnsupportedMediaType');
    const r = await gql(url, `mutation($ns: String!) { patchCronTab_stable_example_com(namespace: $ns, name: "strategic", type: STRATEGIC, patch: { spec: { image: "x" } }) { spec { image } } }`, { ns });
    const err = onlyError(r, 'UNSUPPORTED_MEDIA_TYPE');
    assert.equal(err.extensions?.reason, 'UnsupportedMediaType');
    assert.equal(err.extensions?.kubernetesCode, 415);
    assert.equal(err.message, direct?.message);
    assert.match(err.message, /accepted media types include: application\/json-patch\+json, application\/merge-patch\+json, application\/apply-patch\+yaml/);
  });
});

describe('identity errors', () => {
  const crdReader = uniqueName('crdgate-test-crd-reader');
  before(async () => {
    // A gateway needs to read CRDs to build its schema; carol gets exactly that and nothing on crontabs.
    await kapply([
      { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: crdReader },
        rules: [{ apiGroups: ['apiextensions.k8s.io'], resources: ['customresourcedefinitions'], verbs: ['get', 'list', 'watch'] }] },
      { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: crdReader },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: crdReader },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'carol' }] },
    ]);
    cleanups.push(() => kubectl(['delete', 'clusterrolebinding,clusterrole', crdReader, '--ignore-not-found']));
  });

  test('FORBIDDEN: a gateway acting as carol, who may not touch crontabs', async () => {
    const carol = await eventually('carol to be allowed to list CRDs', () => startGateway(kubeConfigFor('carol'), {}, 5_000));
    try {
      const list = await gql(carol.url, `query($ns: String) { cronTabList_stable_example_com(namespace: $ns) { edges { cursor } } }`, { ns });
      const err = onlyError(list, 'FORBIDDEN');
      assert.equal(err.extensions?.reason, 'Forbidden');
      assert.equal(err.extensions?.kubernetesCode, 403);
      assert.equal(err.message, `crontabs.stable.example.com is forbidden: User "carol" cannot list resource "crontabs" in API group "stable.example.com" in the namespace "${ns}"`);
      const create = await gql(carol.url, `mutation($ns: String!) { createCronTab_stable_example_com(namespace: $ns, input: { metadata: { name: "by-carol" }, spec: { cronSpec: "x" } }) { metadata { name } } }`, { ns });
      assert.match(onlyError(create, 'FORBIDDEN').message, /User "carol" cannot create resource "crontabs"/);
      assert.equal((await kubectl(['get', 'crontab', 'by-carol', '-n', ns])).code, 1);
    } finally {
      await carol.stop();
    }
  });

  test('UNAUTHENTICATED: the gateway\'s service-account token is revoked', async () => {
    // A bound service-account token dies with the object it is bound to: deleting the Secret
    // revokes it, and the apiserver answers 401 once its token cache (10 s) lets go.
    const sa = 'gateway-sa';
    await kubectlOk(['create', 'serviceaccount', sa, '-n', ns]);
    await kubectlOk(['create', 'secret', 'generic', 'gateway-token-anchor', '-n', ns]);
    await kapply([{ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: `${crdReader}-sa` },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: crdReader },
      subjects: [{ kind: 'ServiceAccount', name: sa, namespace: ns }] }]);
    cleanups.push(() => kubectl(['delete', 'clusterrolebinding', `${crdReader}-sa`, '--ignore-not-found']));
    const token = (await kubectlOk(['create', 'token', sa, '-n', ns, '--bound-object-kind', 'Secret', '--bound-object-name', 'gateway-token-anchor', '--duration', '1h'])).trim();
    const { kc, user } = mutableKubeConfig();
    user.token = token;
    const gw = await eventually('the service account to read CRDs', () => startGateway(kc, {}, 5_000), 30_000);
    try {
      const query = `query($ns: String) { cronTabList_stable_example_com(namespace: $ns) { resourceVersion } }`;
      // Authenticated, but not allowed to list crontabs.
      assert.match(onlyError(await gql(gw.url, query, { ns }), 'FORBIDDEN').message, new RegExp(`User "system:serviceaccount:${ns}:${sa}" cannot list`));
      await kubectlOk(['delete', 'secret', 'gateway-token-anchor', '-n', ns]);
      const r = await eventually('the revoked token to be refused', async () => {
        const a = await gql(gw.url, query, { ns });
        return a.errors?.[0]?.extensions?.code === 'UNAUTHENTICATED' ? a : undefined;
      }, 30_000);
      const err = onlyError(r, 'UNAUTHENTICATED');
      assert.equal(err.extensions?.reason, 'Unauthorized');
      assert.equal(err.extensions?.kubernetesCode, 401);
      assert.equal(err.extensions?.httpStatus, 401);
      assert.equal(err.message, 'Unauthorized');
    } finally {
      await gw.stop();
    }
  });

  test('TOO_MANY_REQUESTS: API Priority and Fairness rejects carol beyond her one concurrency share', async () => {
    const apf = await setupApfReject({ user: 'carol', prefix: 'gql-apf' });
    cleanups.push(() => apf.cleanup());
    const carol = await eventually('carol\'s gateway', () => startGateway(kubeConfigFor('carol'), {}, 5_000), 30_000);
    try {
      const query = `query($ns: String) { cronTabList_stable_example_com(namespace: $ns) { edges { node { metadata { name } } } } }`;
      const burst = await burstUntilRejected(() => gql(carol.url, query, { ns: apf.namespace }), (a) =>
        !a.errors && a.data?.cronTabList_stable_example_com.edges.length === apf.objects ? 'served'
          : a.errors?.[0]?.extensions?.code === 'TOO_MANY_REQUESTS' ? 'rejected' : 'other');
      for (const a of burst.other) if (a.errors) assert.equal(a.errors[0]!.extensions?.code, 'TOO_MANY_REQUESTS', a.text);
      const rejected = burst.rejected;
      assert.ok(rejected, 'the apiserver rejected some of carol\'s requests with 429');
      assert.ok(burst.served > 0, 'carol\'s RBAC grant works: some lists were served');
      const err = onlyError(rejected, 'TOO_MANY_REQUESTS');
      assert.equal(err.extensions?.kubernetesCode, 429);
      assert.equal(err.extensions?.httpStatus, 429);
      // APF rejects with a text/plain body (http.Error), not a Status; client-go derives the reason
      // from the HTTP code (NewGenericServerResponse) and the message is the text without its newline.
      assert.equal(err.message, 'Too many requests, please try again later.');
      assert.equal(err.extensions?.reason, 'TooManyRequests');
      assert.ok(Number.isInteger(err.extensions?.retryAfterSeconds) && err.extensions?.retryAfterSeconds >= 1, JSON.stringify(err.extensions));
    } finally {
      await carol.stop();
      await apf.cleanup();
    }
  });
});

/** A TCP proxy in front of the apiserver that can stop answering or go away entirely. */
interface TestProxy {
  port: number;
  mode: 'forward' | 'blackhole';
  /** Requests' bytes held back in blackhole mode, and connections closed: what a test waits on. */
  readonly swallowedBytes: number;
  readonly closedConnections: number;
  close(): Promise<void>;
}

async function startProxy(target: URL): Promise<TestProxy> {
  const sockets = new Set<Socket>();
  const state = { mode: 'forward' as 'forward' | 'blackhole', swallowed: 0, closed: 0 };
  const server: Server = createServer((client) => {
    const upstream = createConnection(Number(target.port), target.hostname);
    sockets.add(client).add(upstream);
    client.on('data', (d: Buffer) => {
      if (state.mode === 'forward') upstream.write(d);
      else state.swallowed += d.length;
    });
    upstream.on('data', (d) => {
      if (state.mode === 'forward') client.write(d);
    });
    let ended = false;
    const end = () => {
      if (!ended) state.closed++;
      ended = true;
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  server.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  return {
    port: (server.address() as { port: number }).port,
    get mode() {
      return state.mode;
    },
    set mode(m) {
      state.mode = m;
    },
    get swallowedBytes() {
      return state.swallowed;
    },
    get closedConnections() {
      return state.closed;
    },
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    }),
  };
}

describe('transport failures', () => {
  test('TIMEOUT, a client that disconnects mid-request, then UNAVAILABLE (not TIMEOUT) when the apiserver is gone', async (t) => {
    const target = new URL(testCluster().server);
    const proxy = await startProxy(target);
    const { kc } = mutableKubeConfig(`https://127.0.0.1:${proxy.port}`);
    const gw = await startGateway(kc, { timeoutMs: 1_000 });
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    const query = `query($ns: String) { cronTabList_stable_example_com(namespace: $ns) { resourceVersion } }`;
    try {
      await gqlData(gw.url, query, { ns });

      proxy.mode = 'blackhole';
      let started = performance.now();
      const timedOut = await gql(gw.url, query, { ns });
      const tookMs = performance.now() - started;
      const err = onlyError(timedOut, 'TIMEOUT');
      assert.equal(err.extensions?.reason, 'Timeout');
      assert.equal(err.extensions?.httpStatus, 504);
      // Where the gateway connects to is for its log, not for its callers.
      assert.equal(err.message, 'the Kubernetes API did not answer within 1000 ms');
      // Not before the deadline (a load spike only makes the answer later, never earlier).
      assert.ok(tookMs >= 900, `answered after ${tookMs} ms, before the 1000 ms deadline`);

      // A client that gives up while the gateway waits on Kubernetes.
      const controller = new AbortController();
      const swallowed = proxy.swallowedBytes;
      const closed = proxy.closedConnections;
      const pending = gql(gw.url, query, { ns }, { signal: controller.signal });
      await eventually('the gateway to wait on Kubernetes', async () => proxy.swallowedBytes > swallowed || undefined, 10_000);
      controller.abort();
      await assert.rejects(pending, { name: 'AbortError' });
      // The gateway gives up its upstream call too (by cancellation, or at the latest its deadline).
      await eventually('the abandoned upstream call to end', async () => proxy.closedConnections > closed || undefined, 10_000);
      proxy.mode = 'forward';
      await eventually('the gateway to answer again', async () => {
        const r = await gql(gw.url, query, { ns });
        return r.errors ? undefined : r;
      }, 10_000);
      assert.ok(gw.server.listening, 'the gateway still listens');
      assert.deepEqual(unhandled, [], 'no unhandled rejection');

      await proxy.close();
      started = performance.now();
      const gone = await gql(gw.url, query, { ns });
      const goneMs = performance.now() - started;
      const unavailable = onlyError(gone, 'UNAVAILABLE');
      assert.equal(unavailable.extensions?.reason, 'ServiceUnavailable');
      assert.equal(unavailable.extensions?.httpStatus, 503);
      assert.equal(unavailable.message, 'cannot reach the Kubernetes API: ECONNREFUSED');
      // UNAVAILABLE, not TIMEOUT: the refused connection was reported at once, not at the deadline.
      t.diagnostic(`UNAVAILABLE after ${goneMs.toFixed(0)} ms`);
      const again = onlyError(await gql(gw.url, query, { ns }), 'UNAVAILABLE');
      assert.match(again.message, /ECONNREFUSED/);
      // /readyz answers anyone: not ready, why, and not where the apiserver is.
      const readyz = await eventually('/readyz to say not ready', async () => {
        const r = await fetch(`${gw.url.replace(/\/graphql$/, '')}/readyz`);
        return r.status === 503 ? r.text() : undefined;
      }, 30_000);
      assert.match(readyz, /Kubernetes API not reachable: cannot reach the Kubernetes API/);
      assert.doesNotMatch(readyz, new RegExp(`127\\.0\\.0\\.1|${proxy.port}`));
    } finally {
      process.off('unhandledRejection', onUnhandled);
      await gw.stop();
      await proxy.close().catch(() => {});
    }
  });
});

describe('GONE: an expired continue token', () => {
  // The shared cluster compacts etcd every 5 minutes (the default), so a continue token cannot be
  // made to expire there on demand; this cluster compacts every second.
  let cc: CompactingCluster | undefined;
  let gw: RunningGateway | undefined;
  before(async () => {
    cc = await startCompactingCluster('crdgate-gone-');
  });
  after(async () => {
    await gw?.stop();
    await cc?.stop();
  });

  test('continuing a list after its resourceVersion was compacted → GONE, telling the client to restart the listing', async () => {
    await cc!.seedCronTabs(6);
    gw = await startGateway(cc!.kc);
    const q = `query($c: String) { l: cronTabList_stable_example_com(namespace: "default", first: 2, after: $c) { edges { node { metadata { name } } } pageInfo { hasNextPage endCursor } } }`;
    const first = await gqlData(gw.url, q);
    assert.equal(first.l.pageInfo.hasNextPage, true);
    const token = first.l.pageInfo.endCursor as string;
    // Writes move etcd past the token's revision; the apiserver compacts it away within seconds.
    const expired = await eventually('the continue token to expire', async () => {
      await cc!.advance();
      const r = await gql(gw!.url, q, { c: token });
      return r.errors ? r : undefined;
    }, 60_000);
    const err = onlyError(expired, 'GONE');
    assert.equal(err.extensions?.reason, 'Expired');
    assert.equal(err.extensions?.kubernetesCode, 410);
    assert.equal(err.extensions?.httpStatus, 410);
    assert.match(err.message, /The provided continue parameter is too old to display a consistent list result/);
    assert.match(err.message, /restart the listing without a continue token/);
    assert.match(String(err.extensions?.hint), /restart the listing/);
    assertNoStackTrace(expired);
  });
});
