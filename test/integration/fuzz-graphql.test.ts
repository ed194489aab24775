// Robustness of the GraphQL endpoint on the real apiserver, property-based (fast-check): random and
// mutated documents, variables of every shape against operations that reach Kubernetes (selectors,
// resourceVersions, continue tokens, the three patch kinds), malformed request bodies and content
// types, and Authorization garbage against a gateway with tenants. Every answer must be a typed
// GraphQL error (a code from the catalog or Apollo's request codes) or data, never a stack trace or
// an HTML page; the process must see no unhandled rejection; the heap must come back down.
// In-process: supertest on gateway.app (the real-socket run is fuzz-socket.test.ts).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import fc from 'fast-check';
import request from 'supertest';
import { createGateway, type Gateway } from '../../src/gateway.ts';
import { KubeClient } from '../../src/kube/kube-client.ts';
import { loadTenantConfig } from '../../src/auth/tenant-config.ts';
import { queryLimits } from '../../src/plugins/query-limits.ts';
import { rateLimits } from '../../src/plugins/rate-limits.ts';
import { hmacSecret, nowSeconds, signHs256, TenantsDir } from '../helpers/jwt-issuer.ts';
import { kubeConfigFor, kubectl } from '../helpers/test-cluster.ts';
import { testNamespaces } from '../helpers/test-namespaces.ts';
import { assertHeapBounded, assertTyped, crashTraps, graphqlFault, settledHeap } from '../helpers/fuzz-answers.ts';
import {
  anyJson, authorizationHeader, continueToken, deepJson, fieldSelector, garbageString, graphqlDocument, jsonPatchOp,
  labelSelector, objectPatch, resourceVersion,
} from '../helpers/fuzz-inputs.ts';

const traps = crashTraps();
const namespaces = testNamespaces();
const dir = new TenantsDir();
const secret = hmacSecret();
const issuer = 'https://issuer.fuzz.test/';
const audience = 'crdgate-fuzz';
let ns: string;
let gateway: Gateway;
let tenantGateway: Gateway;
let server: Server;
let tenantServer: Server;
let token: string;
// Fixed seeds keep a failure reproducible from the report; FUZZ_SEED explores further.
const seed = Number(process.env.FUZZ_SEED ?? 20240611);

before(async () => {
  ns = await namespaces.create('fuzz-gql');
  const r = await kubectl(['apply', '-f', '-'], { input: JSON.stringify({
    apiVersion: 'stable.example.com/v1', kind: 'CronTab', metadata: { name: 'fuzz-target', namespace: ns, labels: { app: 'web' } }, spec: { cronSpec: '* * * * *', replicas: 1 },
  }) });
  assert.equal(r.code, 0, r.stderr);
  const plugins = () => [queryLimits({ mode: 'production' }), rateLimits({ limits: { requestsPerSecond: 0, maxConcurrentCalls: 0 } })];
  gateway = await createGateway({ client: new KubeClient(kubeConfigFor('admin')), explorer: false, plugins: plugins() });
  dir.write('hs.secret', secret);
  const tenantsFile = dir.writeConfig('tenants.yaml', {
    auth: { issuer, audience, algorithms: ['HS256'], secretFile: 'hs.secret' },
    tenants: [{ name: 'fuzz', match: { tenant: 'fuzz' }, user: 'fuzz:{sub}', groups: ['fuzz-group'] }],
  });
  tenantGateway = await createGateway({ client: new KubeClient(kubeConfigFor('admin')), explorer: false, tenants: loadTenantConfig(tenantsFile), plugins: plugins() });
  const now = nowSeconds();
  token = signHs256(secret, { iss: issuer, aud: audience, sub: 'someone', tenant: 'fuzz', iat: now, exp: now + 3600 });
  // One server for the whole run: supertest would otherwise listen anew for every request.
  server = createServer(gateway.app).listen(0, '127.0.0.1');
  tenantServer = createServer(tenantGateway.app).listen(0, '127.0.0.1');
});

after(async () => {
  server?.close();
  tenantServer?.close();
  await gateway?.stop();
  await tenantGateway?.stop();
  await namespaces.deleteAll();
  dir.remove();
  traps.remove();
});

async function post(target: Server, body: string | object, headers: Record<string, string> = {}) {
  let req = request(target).post('/graphql').set('accept', 'application/graphql-response+json, application/json');
  const withType = Object.keys(headers).some((h) => h.toLowerCase() === 'content-type') ? headers : { 'content-type': 'application/json', ...headers };
  for (const [k, v] of Object.entries(withType)) req = req.set(k, v);
  const res = await req.send(typeof body === 'string' ? body : JSON.stringify(body)).buffer(true).parse((r, cb) => {
    let text = '';
    r.setEncoding('utf8');
    r.on('data', (c: string) => (text += c));
    r.on('end', () => cb(null, text));
  });
  return { status: res.status, contentType: String(res.headers['content-type'] ?? ''), text: res.body as string };
}

const operations = {
  get: 'query Get($ns: String!, $name: String!) { cronTab_stable_example_com(namespace: $ns, name: $name) { metadata { name resourceVersion labels } spec { cronSpec replicas } } }',
  list: `query List($ns: String, $l: String, $f: String, $limit: Int, $c: String, $rv: String, $first: Int, $after: String) {
    cronTabList_stable_example_com(namespace: $ns, labelSelector: $l, fieldSelector: $f, limit: $limit, continue: $c, resourceVersion: $rv, first: $first, after: $after) {
      edges { node { metadata { name } } } pageInfo { endCursor hasNextPage } } }`,
  create: 'mutation Create($ns: String!, $input: CronTab_v1_stable_example_com_Input!, $fm: String) { createCronTab_stable_example_com(namespace: $ns, input: $input, dryRun: true, fieldManager: $fm) { metadata { name } } }',
  patch: `mutation Patch($ns: String!, $name: String!, $type: PatchType!, $patch: CronTab_v1_stable_example_com_Input, $jsonPatch: [JsonPatchOperation!], $fm: String, $force: Boolean, $dry: Boolean) {
    patchCronTab_stable_example_com(namespace: $ns, name: $name, type: $type, patch: $patch, jsonPatch: $jsonPatch, fieldManager: $fm, force: $force, dryRun: $dry) { metadata { resourceVersion } spec { replicas } } }`,
  scale: 'mutation Scale($ns: String!, $name: String!, $n: Int!, $rv: String) { scaleCronTab_stable_example_com(namespace: $ns, name: $name, replicas: $n, resourceVersion: $rv, dryRun: true) { spec { replicas } } }',
};

// Bugs these properties found (fixed since), each pinned by a test below; the properties no
// longer excuse them, so a regression fails both its own test and the property that finds it.
const bugs = {
  subscriptionDirective: 'a subscription whose root field has @include/@skip(if: $variable) gets a typed 4xx, not a 500',
  subscriptionOverHttp: 'a subscription sent over HTTP is refused with BAD_REQUEST pointing to WebSocket',
  loneSurrogate: 'a namespace or name with a lone surrogate (\\ud800) is a BAD_REQUEST, not an internal error',
  bodyParser: 'a body the body parser refuses (bad Content-Encoding or charset) gets 400/415, not 500',
};

const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
const near = (a: fc.Arbitrary<unknown>) => fc.oneof({ weight: 4, arbitrary: a }, { weight: 1, arbitrary: anyJson });
const namespaceArg = () => fc.oneof(fc.constant(ns), garbageString);
const nameArg = fc.oneof(fc.constant('fuzz-target'), garbageString);

/** Operations that reach Kubernetes, with variables that are right in shape and wrong in content (and sometimes in shape). */
const operationWithVariables = () => fc.oneof(
  fc.record({ query: fc.constant(operations.get), variables: fc.record({ ns: near(namespaceArg()), name: near(nameArg) }) }),
  fc.record({ query: fc.constant(operations.list), variables: fc.record({
    ns: maybe(near(namespaceArg())), l: maybe(near(labelSelector)), f: maybe(near(fieldSelector)), limit: maybe(near(fc.integer({ min: -3, max: 2 ** 31 }))),
    c: maybe(near(continueToken)), rv: maybe(near(resourceVersion)), first: maybe(fc.integer({ min: -1, max: 5 })), after: maybe(continueToken),
  }, { requiredKeys: [] }) }),
  fc.record({ query: fc.constant(operations.create), variables: fc.record({ ns: near(namespaceArg()), input: near(objectPatch), fm: maybe(garbageString) }) }),
  fc.record({ query: fc.constant(operations.patch), variables: fc.record({
    ns: near(namespaceArg()), name: near(nameArg), type: near(fc.constantFrom('MERGE', 'JSON', 'APPLY', 'STRATEGIC', 'merge')),
    patch: maybe(near(objectPatch)), jsonPatch: maybe(near(fc.array(jsonPatchOp, { maxLength: 4 }))), fm: maybe(near(garbageString)),
    force: maybe(near(fc.boolean())), dry: near(fc.constant(true)),
  }, { requiredKeys: ['ns', 'name', 'type', 'dry'] }) }),
  fc.record({ query: fc.constant(operations.scale), variables: fc.record({ ns: near(namespaceArg()), name: near(nameArg), n: near(fc.integer({ min: -2, max: 50 })), rv: maybe(resourceVersion) }) }),
);

test('random and mutated documents get data or typed errors', async () => {
  const before = await settledHeap();
  await fc.assert(fc.asyncProperty(graphqlDocument, fc.option(anyJson, { nil: undefined }), fc.option(garbageString, { nil: undefined }), async (query, variables, operationName) => {
    const body = { query, ...(variables !== undefined ? { variables } : {}), ...(operationName !== undefined ? { operationName } : {}) };
    assertTyped('graphql', await post(server, body), body);
  }), { numRuns: 1500, seed });
  traps.assertNone();
  assertHeapBounded(before, await settledHeap(), 'after 1500 random documents');
});

test('operations that reach Kubernetes with fuzzed variables (selectors, resourceVersions, continue tokens, patches) get data or typed errors', async () => {
  const before = await settledHeap();
  await fc.assert(fc.asyncProperty(operationWithVariables(), async (body) => {
    assertTyped('graphql', await post(server, body), body);
  }), { numRuns: 1500, seed });
  traps.assertNone();
  assertHeapBounded(before, await settledHeap(), 'after 1500 fuzzed operations');
  // The target survived every dry run and patch: the gateway still answers for it.
  const check = await post(server, { query: operations.get, variables: { ns, name: 'fuzz-target' } });
  assert.equal(check.status, 200, check.text);
  assert.match(check.text, /"name":"fuzz-target"/);
});

test('malformed request bodies and content types get typed errors', async () => {
  const rawBody = fc.oneof(
    anyJson.map((v) => JSON.stringify(v)),
    fc.record({ query: anyJson, variables: anyJson, operationName: anyJson, extensions: anyJson }, { requiredKeys: [] }).map((v) => JSON.stringify(v)),
    fc.record({ query: fc.constant(operations.get), variables: deepJson }).map((v) => JSON.stringify(v)),
    garbageString,
    fc.constantFrom('{', '{"query":', '{"query":"{ __typename }"', '{"query":"{ __typename }"}garbage', '\ufeff{"query":"{ __typename }"}',
      '{"query":"{ __typename }","query":"{ apiResources { kind } }"}', '{"__proto__":{"query":"{ __typename }"}}', 'null', '[]', '""', '1e999'),
  );
  const contentType = fc.oneof(
    fc.constantFrom('application/json', 'application/json; charset=utf-8', 'application/json; charset=latin1', 'application/json; charset=bogus', 'text/plain',
      'application/graphql', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json, text/plain', 'application/yaml', '*/*', 'json', ';;;'),
    garbageString.map((s) => s.replace(/[^\t\x20-\x7e]/g, '')),
  );
  const extraHeaders = fc.record({
    'x-request-id': garbageString.map((s) => s.replace(/[^\t\x20-\x7e]/g, '')),
    'apollo-require-preflight': fc.constantFrom('true', ''),
    'x-apollo-operation-name': fc.string({ maxLength: 20 }).map((s) => s.replace(/[^\t\x20-\x7e]/g, '')),
    'content-encoding': fc.constantFrom('gzip', 'deflate', 'br', 'identity', 'bogus'),
    'impersonate-user': fc.constant('system:admin'),
    'accept': fc.constantFrom('text/html', 'application/json', '*/*', 'application/graphql-response+json;q=0', ''),
  }, { requiredKeys: [] });
  await fc.assert(fc.asyncProperty(rawBody, contentType, extraHeaders, async (body, type, headers) => {
    const h = { 'content-type': type, ...headers };
    const answer = await post(server, body, h);
    assertTyped('graphql', answer, { body, headers: h });
  }), { numRuns: 800, seed });
  traps.assertNone();
});

test('Authorization garbage against a gateway with tenants gets UNAUTHENTICATED or a typed error, never a crash', async () => {
  let unauthenticated = 0;
  await fc.assert(fc.asyncProperty(authorizationHeader(token), fc.constantFrom(operations.get, '{ __typename }'), async (authorization, query) => {
    const body = { query, variables: { ns, name: 'fuzz-target' } };
    const answer = await post(tenantServer, body, { authorization });
    assertTyped('graphql', answer, { authorization, body });
    if (answer.status === 401) unauthenticated++;
  }), { numRuns: 600, seed });
  traps.assertNone();
  // The property must have hit the authentication path, and a good token still works.
  assert.ok(unauthenticated > 200, `only ${unauthenticated} answers were 401`);
  const ok = await post(tenantServer, { query: '{ __typename }' }, { authorization: `Bearer ${token}` });
  assert.equal(ok.status, 200, ok.text);
});

test(bugs.subscriptionDirective, async () => {
  // graphql-js' SingleFieldSubscriptionsRule collects the root fields with no variable values, so
  // @include(if: $x) throws inside validation; Apollo turns that into its catch-all 500.
  for (const query of [
    'subscription S($x: Boolean) { watchCronTab_stable_example_com @include(if: $x) { type } }',
    'subscription S($x: Boolean!) { watchCronTab_stable_example_com @skip(if: $x) { type } }',
  ]) {
    const answer = await post(server, { query, variables: { x: true } });
    assert.equal(graphqlFault(answer), undefined, `${query}\n→ ${answer.status} ${answer.text}`);
    assert.ok(answer.status < 500, `${query}\n→ ${answer.status} ${answer.text}`);
  }
});

test(bugs.subscriptionOverHttp, async () => {
  // Subscriptions are served over WebSocket; over HTTP Apollo runs the operation as a query, the
  // subscribe-only root field resolves to nothing, and the client sees a null-field internal error.
  const answer = await post(server, { query: `subscription { watchCronTab_stable_example_com(namespace: "${ns}") { type } }` });
  assert.equal(graphqlFault(answer), undefined, `${answer.status} ${answer.text}`);
  assert.doesNotMatch(answer.text, /INTERNAL_SERVER_ERROR|Cannot return null/, answer.text);
  assert.ok(answer.status >= 400 && answer.status < 500, `expected a 4xx refusal, got ${answer.status} ${answer.text}`);
});

test(bugs.loneSurrogate, async () => {
  // resourcePath() in src/service/resource-service.ts calls encodeURIComponent, which throws a
  // URIError on a lone surrogate; nothing maps it to the catalog. Kubernetes names are DNS labels:
  // the expected answer is a typed 4xx (BAD_USER_INPUT, INVALID or NOT_FOUND), as for any bad name.
  for (const [what, body] of [
    ['get by namespace', { query: operations.get, variables: { ns: '\ud800', name: 'fuzz-target' } }],
    ['get by name', { query: operations.get, variables: { ns, name: 'x\udfff' } }],
    ['list', { query: operations.list, variables: { ns: '\ud800' } }],
    ['scale', { query: operations.scale, variables: { ns: '\ud800', name: 'fuzz-target', n: 1 } }],
  ] as const) {
    const answer = await post(server, body);
    assert.equal(graphqlFault(answer), undefined, `${what} → ${answer.status} ${answer.text}`);
    assert.doesNotMatch(answer.text, /URI malformed|INTERNAL_SERVER_ERROR/, `${what} → ${answer.text}`);
  }
});

test(bugs.bodyParser, async () => {
  // finalHandlers() in src/transports/create-app.ts maps only entity.too.large and entity.parse.failed;
  // body-parser's other refusals (they carry status 400/415 and a type) become INTERNAL 500.
  const cases: [Record<string, string>, number][] = [
    [{ 'content-type': 'application/json', 'content-encoding': 'gzip' }, 400],
    [{ 'content-type': 'application/json', 'content-encoding': 'bogus' }, 415],
    [{ 'content-type': 'application/json; charset=latin1' }, 415],
  ];
  for (const [headers, status] of cases) {
    const answer = await post(server, '{"query":"{ __typename }"}', headers);
    assert.equal(graphqlFault(answer), undefined, `${JSON.stringify(headers)} → ${answer.status} ${answer.text}`);
    assert.equal(answer.status, status, `${JSON.stringify(headers)} → ${answer.status} ${answer.text}`);
  }
});

test('the answer checks themselves refuse stack traces, HTML pages, untyped codes and INTERNAL', () => {
  const json = (errors: unknown[], status = 400) => ({ status, contentType: 'application/json', text: JSON.stringify({ errors }) });
  assert.match(graphqlFault(json([{ message: 'x', extensions: { code: 'NOPE' } }])) ?? '', /outside the catalog/);
  assert.match(graphqlFault(json([{ message: 'x', extensions: { code: 'INTERNAL_SERVER_ERROR' } }], 500)) ?? '', /outside the catalog/);
  assert.match(graphqlFault(json([{ message: 'boom', extensions: { code: 'INTERNAL' } }], 500)) ?? '', /INTERNAL/);
  assert.match(graphqlFault(json([{ message: 'at Object.<anonymous> (/srv/x.ts:1:2)', extensions: { code: 'BAD_REQUEST' } }])) ?? '', /stack trace/);
  assert.match(graphqlFault({ status: 500, contentType: 'text/html', text: '<!DOCTYPE html><pre>Error</pre>' }) ?? '', /HTML/);
  assert.match(graphqlFault({ status: 400, contentType: 'text/plain', text: 'Bad Request' }) ?? '', /not JSON/);
  assert.equal(graphqlFault(json([{ message: 'x', extensions: { code: 'GRAPHQL_PARSE_FAILED' } }])), undefined);
  assert.equal(graphqlFault(json([{ message: 'x', extensions: { code: 'INTERNAL', kubernetesCode: 500 } }], 200)), undefined);
});
