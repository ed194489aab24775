// Robustness of the REST facade on the real apiserver, property-based (fast-check): random paths,
// methods and query parameters (selectors, resourceVersions, continue tokens, dryRun, field
// managers), JSON and YAML bodies (including YAML alias bombs and deep nesting), the three patch
// content types with well-formed and broken patch documents, Accept and Content-Type variations,
// and short SSE watches. Every answer must be a success or an RFC 9457 problem with a catalog
// code, never a stack trace or an HTML page; no unhandled rejection; the heap comes back down.
// In-process: supertest on gateway.app (the real-socket run is fuzz-socket.test.ts).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import fc from 'fast-check';
import request from 'supertest';
import { stringify as stringifyYaml } from 'yaml';
import { createGateway, type Gateway } from '../../src/gateway.ts';
import { KubeClient } from '../../src/kube/kube-client.ts';
import { queryLimits } from '../../src/plugins/query-limits.ts';
import { rateLimits } from '../../src/plugins/rate-limits.ts';
import { kubeConfigFor, kubectl } from '../helpers/test-cluster.ts';
import { testNamespaces } from '../helpers/test-namespaces.ts';
import { pollUntil } from '../helpers/poll-until.ts';
import { assertHeapBounded, assertTyped, crashTraps, problemFault, settledHeap, type Answer } from '../helpers/fuzz-answers.ts';
import {
  anyJson, continueToken, deepJson, fieldSelector, garbageString, jsonPatchOp, labelSelector, nastyStrings, objectPatch, resourceVersion,
} from '../helpers/fuzz-inputs.ts';

const traps = crashTraps();
const namespaces = testNamespaces();
let ns: string;
let gateway: Gateway;
let server: Server;
const seed = Number(process.env.FUZZ_SEED ?? 20240611);

before(async () => {
  ns = await namespaces.create('fuzz-rest');
  const r = await kubectl(['apply', '-f', '-'], { input: JSON.stringify({
    apiVersion: 'stable.example.com/v1', kind: 'CronTab', metadata: { name: 'fuzz-target', namespace: ns, labels: { app: 'web' } }, spec: { cronSpec: '* * * * *', replicas: 1 },
  }) });
  assert.equal(r.code, 0, r.stderr);
  gateway = await createGateway({
    client: new KubeClient(kubeConfigFor('admin')), explorer: false,
    plugins: [queryLimits({ mode: 'production' }), rateLimits({ limits: { requestsPerSecond: 0, maxConcurrentCalls: 0 } })],
  });
  server = createServer(gateway.app).listen(0, '127.0.0.1');
});

after(async () => {
  server?.close();
  await gateway?.stop();
  await namespaces.deleteAll();
  traps.remove();
});

interface RestRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  query: Record<string, string | string[]>;
  headers: Record<string, string>;
  body?: string | Buffer;
}

async function send(r: RestRequest): Promise<Answer> {
  let req = request(server)[r.method.toLowerCase() as 'get'](r.path).query(r.query);
  for (const [k, v] of Object.entries(r.headers)) req = req.set(k, v);
  if (r.body !== undefined) req = req.send(r.body);
  const res = await req.buffer(true).parse((s, cb) => {
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(Buffer.from(c)));
    s.on('end', () => cb(null, Buffer.concat(chunks).toString('utf8')));
  });
  return { status: res.status, contentType: String(res.headers['content-type'] ?? ''), text: res.body as string };
}

// Bugs these properties found (fixed since), each pinned by a test below; the properties no
// longer excuse them.
const bugs = {
  badPercentEncoding: 'a REST path segment that is not percent-encoded UTF-8 (%ED%A0%80, %C0) gets 400, not 500',
  bodyParser: 'a REST body the body parser refuses (bad Content-Encoding) gets 400/415, not 500',
};

const segment = fc.oneof(
  { weight: 2, arbitrary: fc.string({ maxLength: 12 }) },
  { weight: 1, arbitrary: fc.constantFrom(...nastyStrings.filter((s) => s.length < 100)) },
);
const enc = (s: string) => {
  try {
    return encodeURIComponent(s);
  } catch {
    return '%ED%A0%80';
  }
};

/** Paths under /rest: the real ones, with any segment replaced by junk some of the time. */
const path = () => fc.tuple(
  fc.constantFrom('namespaced-collection', 'namespaced-item', 'cluster-collection', 'cluster-item', 'subresource', 'junk'),
  fc.oneof({ weight: 4, arbitrary: fc.constant('stable.example.com') }, { weight: 1, arbitrary: segment }),
  fc.oneof({ weight: 4, arbitrary: fc.constant('v1') }, { weight: 1, arbitrary: segment }),
  fc.oneof({ weight: 3, arbitrary: fc.constant(ns) }, { weight: 1, arbitrary: segment }),
  fc.oneof({ weight: 3, arbitrary: fc.constant('fuzz-target') }, { weight: 1, arbitrary: segment }),
  fc.constantFrom('status', 'scale', 'bogus', ''),
  fc.array(segment, { maxLength: 6 }),
).map(([shape, group, version, namespace, name, sub, junk]) => {
  const g = enc(group);
  const v = enc(version);
  switch (shape) {
    case 'namespaced-collection': return { path: `/rest/${g}/${v}/namespaces/${enc(namespace)}/crontabs`, mine: namespace === ns, cluster: false };
    case 'namespaced-item': return { path: `/rest/${g}/${v}/namespaces/${enc(namespace)}/crontabs/${enc(name)}`, mine: namespace === ns, cluster: false };
    case 'cluster-collection': return { path: `/rest/${g}/${v}/clustercrontabs`, mine: false, cluster: true };
    case 'cluster-item': return { path: `/rest/${g}/${v}/clustercrontabs/${enc(name)}`, mine: false, cluster: true };
    case 'subresource': return { path: `/rest/${g}/${v}/namespaces/${enc(namespace)}/crontabs/${enc(name)}/${sub}`, mine: namespace === ns, cluster: false };
    default: return { path: `/rest/${junk.map(enc).join('/')}`, mine: false, cluster: false };
  }
});

const fuzzedParams = fc.record({
  labelSelector: labelSelector, fieldSelector: fieldSelector, limit: fc.oneof(fc.nat({ max: 600 }).map(String), garbageString),
  continue: continueToken, resourceVersion: resourceVersion, resourceVersionMatch: fc.constantFrom('NotOlderThan', 'Exact', 'exact', ''),
  dryRun: fc.constantFrom('All', 'all', 'true', ''), fieldManager: garbageString, fieldValidation: fc.constantFrom('Ignore', 'Warn', 'Strict', 'strict'),
  force: fc.constantFrom('true', 'false', '1', 'yes'), propagationPolicy: fc.constantFrom('Orphan', 'Background', 'Foreground', 'None'),
  gracePeriodSeconds: fc.oneof(fc.nat().map(String), garbageString), pretty: fc.constant('true'),
}, { requiredKeys: [] });
/** Mostly parameters Kubernetes accepts (so requests get past the facade), some fuzzed. */
const queryParams = fc.oneof(
  { weight: 2, arbitrary: fc.constant({}) },
  { weight: 2, arbitrary: fc.record({
    labelSelector: fc.constantFrom('app=web', 'app!=x', '!app'), limit: fc.constantFrom('1', '2', '500'), fieldManager: fc.constantFrom('fuzz', 'kubectl'),
    fieldValidation: fc.constantFrom('Ignore', 'Warn', 'Strict'), resourceVersion: fc.constantFrom('0', '1'), dryRun: fc.constant('All'),
  }, { requiredKeys: [] }) },
  { weight: 3, arbitrary: fuzzedParams },
).chain((q) => fc.record({
  q: fc.constant(q as Record<string, string | string[]>),
  // A parameter given twice arrives as an array (refused, named, before anything runs): now and then.
  twice: fc.oneof({ weight: 9, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom('limit', 'labelSelector', 'dryRun', 'continue') }),
}).map(({ q, twice }) => (twice ? { ...q, [twice]: ['1', '2'] } : q)));

const yamlBomb = `a: &a ["x","x","x","x","x","x","x","x","x"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: [*f,*f,*f,*f,*f,*f,*f,*f,*f]
`;

/** Bodies in every encoding the facade parses, and some it does not. */
const body = fc.oneof(
  { weight: 3, arbitrary: objectPatch.map((o) => ({ type: 'application/json', text: JSON.stringify(o) })) },
  { weight: 2, arbitrary: objectPatch.map((o) => ({ type: 'application/yaml', text: stringifyYaml(o) })) },
  { weight: 2, arbitrary: fc.array(jsonPatchOp, { maxLength: 4 }).map((ops) => ({ type: 'application/json-patch+json', text: JSON.stringify(ops) })) },
  { weight: 2, arbitrary: objectPatch.map((o) => ({ type: 'application/merge-patch+json', text: JSON.stringify(o) })) },
  { weight: 2, arbitrary: objectPatch.map((o) => ({ type: 'application/apply-patch+yaml', text: stringifyYaml(o) })) },
  { weight: 1, arbitrary: fc.constantFrom('application/strategic-merge-patch+json', 'application/json-patch+json', 'application/apply-patch+yaml', 'application/merge-patch+json')
    .chain((type) => anyJson.map((v) => ({ type, text: JSON.stringify(v) ?? 'null' }))) },
  { weight: 1, arbitrary: deepJson.map((v) => ({ type: 'application/json', text: JSON.stringify(v) })) },
  { weight: 1, arbitrary: fc.constantFrom('application/yaml', 'application/apply-patch+yaml').map((type) => ({ type, text: yamlBomb })) },
  { weight: 1, arbitrary: fc.constantFrom('{', '[', '{"a":', 'a: [', ': :', '- - -', '!!binary x', '&a [*a]', '%YAML 9.9\n---\na: 1', '---\n---\n', '\u0000', '{"spec":' + '['.repeat(5000))
    .chain((text) => fc.constantFrom('application/json', 'application/yaml', 'application/json-patch+json', 'application/apply-patch+yaml').map((type) => ({ type, text }))) },
  { weight: 1, arbitrary: fc.tuple(garbageString, fc.constantFrom('text/plain', 'application/xml', '', 'application/json; charset=utf-16', 'application/yaml; foo', 'multipart/form-data', 'application/x-www-form-urlencoded'))
    .map(([text, type]) => ({ type, text })) },
);

const headers = fc.record({
  // Most of them types the facade writes; the others (406 before anything runs) now and then.
  accept: fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom('application/json', 'application/yaml', 'text/yaml', '*/*', '', 'application/json; charset=utf-8', 'application/json;as=Table;v=v1;g=meta.k8s.io, application/json') },
    { weight: 1, arbitrary: fc.constantFrom('text/html', 'application/vnd.kubernetes.protobuf', 'text/event-stream', 'application/xml;q=0.9') },
  ),
  'x-request-id': fc.string({ maxLength: 200 }).map((s) => s.replace(/[^\t\x20-\x7e]/g, '')),
  'impersonate-user': fc.constant('system:admin'),
  'last-event-id': fc.string({ maxLength: 20 }).map((s) => s.replace(/[^\t\x20-\x7e]/g, '')),
}, { requiredKeys: [] }).chain((h) => fc.oneof(
  { weight: 19, arbitrary: fc.constant(h) },
  { weight: 1, arbitrary: fc.constantFrom('identity', 'gzip', 'bogus').map((e) => ({ ...h, 'content-encoding': e })) },
));

const restRequest = () => fc.record({
  method: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE' as const),
  target: path(),
  query: queryParams,
  headers,
  body: fc.option(body, { nil: undefined, freq: 4 }),
}).map(({ method, target, query, headers: h, body: b }): RestRequest => {
  // Writes persist only in this file's namespace: elsewhere (other tests' namespaces, cluster-
  // scoped objects) every write is a dry run.
  const q: Record<string, string | string[]> = { ...query };
  delete q.watch;
  if (method !== 'GET' && !target.mine) q.dryRun = 'All';
  if (method === 'DELETE') q.dryRun = 'All';
  const r: RestRequest = { method, path: target.path, query: q, headers: { ...h } };
  if (b) {
    r.headers['content-type'] = b.type;
    r.body = b.text;
  }
  return r;
});

test('random REST requests (paths, parameters, bodies, patches, headers) get a success or a typed problem', async () => {
  const before = await settledHeap();
  let reachedKubernetes = 0;
  await fc.assert(fc.asyncProperty(restRequest(), async (r) => {
    const answer = await send(r);
    assertTyped('rest', answer, r);
    if (/kubernetesCode|"kind":\s*"?(CronTab|Scale|Status)|"items"|^kind: CronTab/m.test(answer.text)) reachedKubernetes++;
  }), { numRuns: 2000, seed });
  traps.assertNone();
  assertHeapBounded(before, await settledHeap(), 'after 2000 random REST requests');
  // The run must have gone past routing and parsing into Kubernetes a fair number of times.
  console.log(`ℹ ${reachedKubernetes} of 2000 random REST requests reached Kubernetes (seed ${seed})`);
  assert.ok(reachedKubernetes > 100, `only ${reachedKubernetes} requests reached Kubernetes`);
  const check = await send({ method: 'GET', path: `/rest/stable.example.com/v1/namespaces/${ns}/crontabs`, query: {}, headers: {} });
  assert.equal(check.status, 200, check.text);
});

test('short SSE watches with fuzzed selectors and resourceVersions stream or fail with a typed problem', async () => {
  const watchQuery = fc.record({
    labelSelector: labelSelector, fieldSelector: fieldSelector, resourceVersion: resourceVersion,
    sendInitialEvents: fc.constantFrom('true', 'false', 'maybe'), allowWatchBookmarks: fc.constantFrom('true', 'false', '2'),
  }, { requiredKeys: [] });
  // Each watch lasts its timeoutSeconds: they run ten at a time (fc.sample, without shrinking;
  // the failure names the input).
  const inputs = fc.sample(fc.tuple(watchQuery, fc.constantFrom(ns, 'fuzz-none', '\u00e9')), { numRuns: 60, seed });
  for (let i = 0; i < inputs.length; i += 10) {
    await Promise.all(inputs.slice(i, i + 10).map(async ([query, namespace]) => {
      const q = { ...query, watch: 'true', timeoutSeconds: '1' };
      const answer = await send({ method: 'GET', path: `/rest/stable.example.com/v1/namespaces/${encodeURIComponent(namespace)}/crontabs`, query: q, headers: {} });
      if (answer.status === 200) {
        assert.match(answer.contentType, /^text\/event-stream/);
        // An error inside the stream is an ERROR event carrying a typed problem.
        for (const m of answer.text.matchAll(/^event: ERROR\ndata: (.*)$/gm)) {
          const problem = JSON.parse(m[1]!).object;
          assert.equal(problemFault({ status: problem.status, contentType: 'application/problem+json', text: JSON.stringify(problem) }), undefined, `${JSON.stringify(q)}: ${m[1]}`);
        }
      } else {
        assertTyped('rest', answer, q);
      }
    }));
  }
  traps.assertNone();
  // Every watch ended: no subscriber is left on the hub.
  await pollUntil('the hub to have no subscribers', () => gateway.operations.hub.stats().subscribers === 0, { timeoutMs: 5000 });
});

test(bugs.badPercentEncoding, async () => {
  // Express' router refuses to decode such a parameter with an error of status 400 ("Failed to
  // decode param"); finalHandlers() in src/transports/create-app.ts ignores the status and answers 500.
  for (const path of [
    '/rest/%ED%A0%80/v1/namespaces/default/crontabs',
    `/rest/stable.example.com/v1/namespaces/${ns}/crontabs/%C0`,
    `/rest/stable.example.com/v1/namespaces/%FF%FE/crontabs`,
  ]) {
    const answer = await send({ method: 'GET', path, query: {}, headers: {} });
    assert.equal(problemFault(answer), undefined, `${path} → ${answer.status} ${answer.text}`);
    assert.equal(answer.status, 400, `${path} → ${answer.status} ${answer.text}`);
  }
});

test(bugs.bodyParser, async () => {
  // finalHandlers() in src/transports/create-app.ts maps only entity.too.large and entity.parse.failed;
  // express.raw's other refusals in the REST router (status 400/415 with a type) become INTERNAL 500.
  for (const [encoding, status] of [['gzip', 400], ['bogus', 415]] as const) {
    const answer = await send({
      method: 'POST', path: `/rest/stable.example.com/v1/namespaces/${ns}/crontabs`, query: { dryRun: 'All' },
      headers: { 'content-type': 'application/json', 'content-encoding': encoding }, body: '{"metadata":{"name":"x"}}',
    });
    assert.equal(problemFault(answer), undefined, `Content-Encoding ${encoding} → ${answer.status} ${answer.text}`);
    assert.equal(answer.status, status, `Content-Encoding ${encoding} → ${answer.status} ${answer.text}`);
  }
});
