// The small input holes, on the real control plane: each refused with a typed 400 before it
// reaches Kubernetes (or, for the field manager, fixed):
//   - `namespace: ""` is not "all namespaces", and no namespace or name that cannot be one (an
//     encoded NUL, "..") reaches the apiserver, over GraphQL, REST and WebSocket;
//   - writes that name no fieldManager record "crdgate", or the tenant rule's fieldManager, in
//     managedFields instead of "unknown";
//   - a WebSocket upgrade without the graphql-transport-ws subprotocol is refused at the upgrade;
//   - a document nested deeper than the parser's stack allows is refused by its depth before it
//     is parsed, over HTTP (POST and GET) and WebSocket, even with a raised token limit.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jwt from 'jsonwebtoken';
import WebSocket from 'ws';
import { loadTenantConfig } from '../../src/auth/tenant-config.ts';
import { createGateway, type Gateway } from '../../src/gateway.ts';
import { KubeClient } from '../../src/kube/kube-client.ts';
import { queryLimits } from '../../src/plugins/query-limits.ts';
import { firstAnswer, RawGraphQLSocket, waitUntil } from '../helpers/subscription-client.ts';
import { kubeConfigFor, kubectl, uniqueName } from '../helpers/test-cluster.ts';
import { testNamespaces } from '../helpers/test-namespaces.ts';

const G = 'stable.example.com';
const namespaces = testNamespaces();
const dir = mkdtempSync(join(tmpdir(), 'crdgate-refusals-'));
const secret = randomBytes(48);
const role = uniqueName('refusals-writer');
let ns: string;
let open: Gateway;
let tenanted: Gateway;
let origin: string;
let tenantOrigin: string;

const listField = 'cronTabList_stable_example_com';
const token = (tenant: string) => jwt.sign({ tenant }, secret, { algorithm: 'HS256', issuer: 'refusals-test', audience: 'crdgate', subject: `u-${tenant}`, expiresIn: '1h' });

async function gql(base: string, query: string, variables?: Record<string, unknown>, tenant?: string) {
  const res = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(tenant ? { authorization: `Bearer ${token(tenant)}` } : {}) },
    body: JSON.stringify({ query, ...(variables ? { variables } : {}) }),
  });
  return { status: res.status, body: await res.json() as { data?: any; errors?: { message: string; extensions?: Record<string, unknown> }[] } };
}

async function rest(method: string, path: string, body?: unknown, contentType = 'application/json', tenant?: string) {
  const res = await fetch(`${tenant ? tenantOrigin : origin}/rest${path}`, {
    method,
    headers: { ...(body !== undefined ? { 'content-type': contentType } : {}), ...(tenant ? { authorization: `Bearer ${token(tenant)}` } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: await res.json() as Record<string, any> };
}

/** A request with its path sent as given: fetch would resolve "%2E%2E" as a ".." segment itself. */
function rawRequest(method: string, path: string, body?: string): Promise<{ status: number; body: Record<string, any> }> {
  return new Promise((resolve, reject) => {
    const { hostname, port } = new URL(origin);
    const req = httpRequest({ hostname, port, path: `/rest${path}`, method, headers: body === undefined ? {} : { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function managers(name: string): Promise<string[]> {
  const got = await kubectl(['get', `crontabs.${G}`, name, '-n', ns, '-o', 'json', '--show-managed-fields']);
  assert.equal(got.code, 0, got.stderr);
  return (JSON.parse(got.stdout).metadata.managedFields as { manager: string }[]).map((m) => m.manager);
}

before(async () => {
  ns = await namespaces.create('refusals');
  writeFileSync(join(dir, 'secret'), secret);
  writeFileSync(join(dir, 'tenants.yaml'), `auth:
  issuer: refusals-test
  audience: crdgate
  algorithms: [HS256]
  secretFile: secret
tenants:
  - name: named
    match: { tenant: named }
    user: "named:{sub}"
    groups: ["${role}"]
    fieldManager: team-named
  - name: plain
    match: { tenant: plain }
    user: "plain:{sub}"
    groups: ["${role}"]
`);
  for (const args of [
    ['create', 'clusterrole', role, '--verb=get,list,watch,create,update,patch', `--resource=crontabs.${G}`],
    ['create', 'rolebinding', role, `--clusterrole=${role}`, `--group=${role}`, '-n', ns],
  ]) {
    const r = await kubectl(args);
    assert.equal(r.code, 0, r.stderr);
  }
  // A raised token limit: what stops a deep document must be its depth.
  open = await createGateway({ client: new KubeClient(kubeConfigFor('admin')), plugins: [queryLimits({ limits: { maxTokens: 10_000_000 } })], explorer: false });
  origin = `http://127.0.0.1:${((await open.listen(0)).address() as { port: number }).port}`;
  tenanted = await createGateway({ client: new KubeClient(kubeConfigFor('admin')), tenants: loadTenantConfig(join(dir, 'tenants.yaml')), explorer: false });
  tenantOrigin = `http://127.0.0.1:${((await tenanted.listen(0)).address() as { port: number }).port}`;
});

after(async () => {
  await open?.stop();
  await tenanted?.stop();
  await namespaces.deleteAll();
  await kubectl(['delete', 'clusterrole', role, '--ignore-not-found']);
  rmSync(dir, { recursive: true, force: true });
});

describe('namespaces and names that cannot be one', () => {
  it('GraphQL: namespace "" on a list, a get, a create and a subscription is refused, not read as "all namespaces"', async () => {
    for (const query of [
      `{ ${listField}(namespace: "") { edges { node { metadata { name } } } } }`,
      `{ cronTab_stable_example_com(namespace: "", name: "x") { metadata { name } } }`,
      `mutation { createCronTab_stable_example_com(namespace: "", input: { metadata: { name: "x" } }) { metadata { name } } }`,
    ]) {
      const r = await gql(origin, query);
      assert.equal(r.body.errors?.length, 1, JSON.stringify(r.body));
      assert.equal(r.body.errors![0]!.extensions?.['code'], 'BAD_USER_INPUT', JSON.stringify(r.body));
      assert.equal(r.body.errors![0]!.extensions?.['httpStatus'], 400);
      assert.match(r.body.errors![0]!.message, /"" is not a namespace name/);
    }
    const sub = await firstAnswer(`${origin.replace(/^http/, 'ws')}/graphql`, `subscription { watchCronTab_stable_example_com(namespace: "") { type } }`);
    assert.equal(sub.errors?.[0]?.extensions?.['code'], 'BAD_USER_INPUT', JSON.stringify(sub));
  });

  it('GraphQL: a NUL namespace, "." or ".." as a name, and a name with "/" (a subresource) are refused', async () => {
    const r = await gql(origin, `query($ns: String) { ${listField}(namespace: $ns) { edges { cursor } } }`, { ns: '\u0000' });
    assert.equal(r.body.errors?.[0]?.extensions?.['code'], 'BAD_USER_INPUT', JSON.stringify(r.body));
    for (const name of ['.', '..', 'x/scale', 'x/status', 'x%2Fscale']) {
      const got = await gql(origin, `{ cronTab_stable_example_com(namespace: "${ns}", name: "${name}") { metadata { name } } }`);
      assert.equal(got.body.errors?.[0]?.extensions?.['code'], 'BAD_USER_INPUT', JSON.stringify(got.body));
    }
  });

  it('REST: an encoded NUL as namespace and ".." as a name get a typed 400 and never reach the apiserver', async () => {
    for (const [method, path] of [
      ['GET', `/${G}/v1/namespaces/%00/crontabs`],
      ['GET', `/${G}/v1/namespaces/%00/crontabs?watch=true`],
      ['GET', `/${G}/v1/namespaces/%00/crontabs/x`],
      ['POST', `/${G}/v1/namespaces/%00/crontabs`],
      ['GET', `/${G}/v1/namespaces/Not_A_Label/crontabs`],
      ['GET', `/${G}/v1/namespaces/${ns}/crontabs/%2E%2E`],
      ['DELETE', `/${G}/v1/namespaces/${ns}/crontabs/%2E`],
      // An encoded slash: the apiserver would read the scale subresource of "x".
      ['GET', `/${G}/v1/namespaces/${ns}/crontabs/x%2Fscale`],
      ['PUT', `/${G}/v1/namespaces/${ns}/crontabs/x%2Fstatus`],
    ] as const) {
      const r = await rawRequest(method, path, method === 'POST' || method === 'PUT' ? '{"metadata":{"name":"x"}}' : undefined);
      assert.equal(r.status, 400, `${method} ${path}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body['code'], 'BAD_REQUEST');
    }
  });
});

describe('the field manager of writes that name none', () => {
  it('is "crdgate" for every kind of write, and the client\'s own name when it gives one', async () => {
    const created = await gql(origin, `mutation { createCronTab_stable_example_com(namespace: "${ns}", input: { metadata: { name: "fm-graphql" }, spec: { cronSpec: "* * * * *", replicas: 1 } }) { metadata { name } } }`);
    assert.equal(created.body.errors, undefined, JSON.stringify(created.body));
    assert.deepEqual(await managers('fm-graphql'), ['crdgate']);
    const patched = await gql(origin, `mutation { patchCronTab_stable_example_com(namespace: "${ns}", name: "fm-graphql", type: MERGE, patch: { spec: { image: "i" } }) { metadata { name } } }`);
    assert.equal(patched.body.errors, undefined, JSON.stringify(patched.body));
    const scaled = await gql(origin, `mutation { scaleCronTab_stable_example_com(namespace: "${ns}", name: "fm-graphql", replicas: 3) { spec { replicas } } }`);
    assert.equal(scaled.body.errors, undefined, JSON.stringify(scaled.body));
    assert.deepEqual([...new Set(await managers('fm-graphql'))], ['crdgate']);

    const posted = await rest('POST', `/${G}/v1/namespaces/${ns}/crontabs`, { metadata: { name: 'fm-rest' }, spec: { cronSpec: '* * * * *' } });
    assert.equal(posted.status, 201, JSON.stringify(posted.body));
    const jsonPatched = await rest('PATCH', `/${G}/v1/namespaces/${ns}/crontabs/fm-rest`, [{ op: 'add', path: '/spec/image', value: 'j' }], 'application/json-patch+json');
    assert.equal(jsonPatched.status, 200, JSON.stringify(jsonPatched.body));
    assert.deepEqual([...new Set(await managers('fm-rest'))], ['crdgate']);

    const own = await rest('PATCH', `/${G}/v1/namespaces/${ns}/crontabs/fm-rest?fieldManager=my-tool`, { spec: { image: 'k' } }, 'application/merge-patch+json');
    assert.equal(own.status, 200, JSON.stringify(own.body));
    assert.ok((await managers('fm-rest')).includes('my-tool'));
  });

  it('is the tenant rule\'s fieldManager when it names one', async () => {
    for (const [tenant, want] of [['named', 'team-named'], ['plain', 'crdgate']] as const) {
      const name = `fm-${tenant}`;
      const created = await gql(tenantOrigin, `mutation { createCronTab_stable_example_com(namespace: "${ns}", input: { metadata: { name: "${name}" }, spec: { cronSpec: "* * * * *" } }) { metadata { name } } }`, undefined, tenant);
      assert.equal(created.body.errors, undefined, JSON.stringify(created.body));
      const patched = await rest('PATCH', `/${G}/v1/namespaces/${ns}/crontabs/${name}`, { spec: { image: 'x' } }, 'application/merge-patch+json', tenant);
      assert.equal(patched.status, 200, JSON.stringify(patched.body));
      assert.deepEqual([...new Set(await managers(name))], [want], tenant);
    }
  });
});

describe('the WebSocket subprotocol', () => {
  /** The HTTP answer to an upgrade offering `protocols` (101 when it is accepted). */
  function upgrade(protocols: string[]): Promise<{ status: number; body: string; protocol?: string }> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`${origin.replace(/^http/, 'ws')}/graphql`, protocols);
      ws.on('unexpected-response', (_req, res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      ws.on('open', () => {
        resolve({ status: 101, body: '', protocol: ws.protocol });
        ws.close();
      });
      ws.on('error', (err) => {
        if (!/Unexpected server response/.test(err.message)) reject(err);
      });
    });
  }

  it('a missing or wrong subprotocol is refused at the upgrade with a typed 400', async () => {
    for (const protocols of [[], ['graphql-ws'], ['json', 'graphql-transport-wss']]) {
      const r = await upgrade(protocols);
      assert.equal(r.status, 400, `${JSON.stringify(protocols)}: ${r.body}`);
      const body = JSON.parse(r.body) as { errors: { message: string; extensions: { code: string } }[] };
      assert.equal(body.errors[0]!.extensions.code, 'BAD_REQUEST');
      assert.match(body.errors[0]!.message, /graphql-transport-ws/);
    }
  });

  it('graphql-transport-ws is accepted and chosen, also among others', async () => {
    assert.deepEqual(await upgrade(['graphql-transport-ws']), { status: 101, body: '', protocol: 'graphql-transport-ws' });
    assert.deepEqual(await upgrade(['graphql-ws', 'graphql-transport-ws']), { status: 101, body: '', protocol: 'graphql-transport-ws' });
  });
});

describe('documents nested deeper than the parser can take', () => {
  const deepSelection = (n: number) => `{ ${listField}(namespace: "${ns}") ${'{ edges '.repeat(n)}${'}'.repeat(n)} }`;
  const deepValue = (n: number) => `{ ${listField}(namespace: "${ns}", labelSelector: ${'['.repeat(n)}"a"${']'.repeat(n)}) { edges { cursor } } }`;

  it('are refused by depth over HTTP, POST and GET, with BAD_REQUEST, even with a raised token limit', async () => {
    for (const query of [deepSelection(10_000), deepValue(10_000)]) {
      const r = await gql(origin, query);
      assert.equal(r.status, 400, JSON.stringify(r.body).slice(0, 500));
      assert.equal(r.body.errors?.[0]?.extensions?.['code'], 'BAD_REQUEST');
      assert.equal(r.body.errors?.[0]?.extensions?.['reason'], 'QueryLimitExceeded');
      assert.match(r.body.errors![0]!.message, /nests more than 115 levels deep/);
    }
    const get = await fetch(`${origin}/graphql?query=${encodeURIComponent(deepSelection(500))}`, { headers: { 'apollo-require-preflight': 'true' } });
    const body = await get.json() as { errors: { extensions: { code: string } }[] };
    assert.equal(get.status, 400, JSON.stringify(body).slice(0, 500));
    assert.equal(body.errors[0]!.extensions.code, 'BAD_REQUEST');
  });

  it('variables nested more than 1,000 levels deep refuse their operation over WebSocket, not the connection', async () => {
    const socket = await RawGraphQLSocket.connect(origin);
    try {
      const query = `query($n: JSON) { __typename }`;
      const ids = [1_001, 5_000, 50_000].map((levels) => socket.subscribeText(`{"query":${JSON.stringify(query)},"variables":{"n":${'['.repeat(levels)}1${']'.repeat(levels)}}}`));
      const within = socket.subscribe(`{ __typename }`);
      await waitUntil(() => ids.every((id) => socket.of(id, 'error').length) && socket.of(within, 'complete').length > 0, 10_000, 'the answers');
      for (const id of ids) {
        const [refusal] = socket.of(id, 'error')[0]!.payload as { message: string; extensions: { code: string } }[];
        assert.equal(refusal!.extensions.code, 'BAD_REQUEST');
        assert.match(refusal!.message, /nested more than 1000 levels deep/);
      }
      assert.deepEqual(socket.of(within, 'next')[0]!.payload, { data: { __typename: 'Query' } });
      assert.equal(socket.closeCode, undefined, 'the connection stays open');
    } finally {
      socket.close();
    }
  });

  it('are refused by depth over WebSocket', async () => {
    const answer = await firstAnswer(`${origin.replace(/^http/, 'ws')}/graphql`, `subscription { watchCronTab_stable_example_com(namespace: "${ns}") { object ${'{ metadata '.repeat(10_000)}${'}'.repeat(10_000)} } }`);
    assert.equal(answer.errors?.[0]?.extensions?.['code'], 'BAD_REQUEST', JSON.stringify(answer).slice(0, 500));
    assert.match(answer.errors![0]!.message, /nests more than 115 levels deep/);
  });

  it('nesting inside strings does not count, and a document within the nesting limit meets the depth rule as before', async () => {
    const braces = await gql(origin, `{ ${listField}(namespace: "${ns}", labelSelector: "${'{'.repeat(10_000)}") { edges { cursor } } }`);
    assert.doesNotMatch(JSON.stringify(braces.body), /levels deep/);
    const deep = await gql(origin, deepSelection(50));
    assert.equal(deep.status, 400);
    assert.equal(deep.body.errors?.[0]?.extensions?.['code'], 'BAD_REQUEST');
    assert.match(deep.body.errors![0]!.message, /limit maxDepth/);
  });
});
