// The REST facade on the real control plane: every route form (namespaced, cluster-scoped, all
// namespaces), every verb, /status and /scale, both CronTab versions, every patch type, YAML in
// and out, dryRun, propagationPolicy, preconditions, and the errors as Kubernetes answers them.
// Every request and every response is checked against the gateway's LIVE /openapi.json (ajv,
// JSON Schema 2020-12): a request the test expects the document to allow must validate, one the
// facade must refuse must not, and every response must match its status, type and schema.
//
// 429 is not provoked here: the test control plane's API Priority and Fairness limits are far
// above what a test can send without starving the other test files; the Retry-After mapping is
// covered by unit tests of the error catalog.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jwt from 'jsonwebtoken';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { createGateway, type Gateway } from '../../src/gateway.ts';
import { KubeClient } from '../../src/kube/kube-client.ts';
import { stringifyJson } from '../../src/kube/lossless-json.ts';
import { loadTenantConfig } from '../../src/auth/tenant-config.ts';
import { OpenApiValidator } from '../helpers/openapi-validator.ts';
import { pollUntil } from '../helpers/poll-until.ts';
import { kubeConfigFor, kubectl, uniqueName } from '../helpers/test-cluster.ts';
import { testNamespaces } from '../helpers/test-namespaces.ts';

const G = 'stable.example.com';
const namespaces = testNamespaces();
const clusterNames: string[] = [];
const run = uniqueName('rest');
let gateway: Gateway;
let base: string;
let doc: OpenApiValidator;
let ns1: string;
let ns2: string;

interface Reply {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

interface CallOptions {
  body?: unknown;
  contentType?: string;
  accept?: string;
  headers?: Record<string, string>;
  /** The facade must refuse this request, and the document must not allow it either. */
  outsideDocument?: boolean;
}

/** One HTTP call, validated against the live document both ways; asserts the status. */
async function call(v: OpenApiValidator, origin: string, method: string, path: string, expect: number, o: CallOptions = {}): Promise<Reply> {
  const body = o.body === undefined ? undefined : typeof o.body === 'string' ? o.body : JSON.stringify(o.body);
  const headers: Record<string, string> = { ...(o.headers ?? {}) };
  if (body !== undefined) headers['content-type'] = o.contentType ?? 'application/json';
  if (o.accept) headers['accept'] = o.accept;
  const req = { method, url: path, headers, body };
  const requestProblems = v.checkRequest(req);
  if (o.outsideDocument) assert.notDeepEqual(requestProblems, [], `the document should not allow ${method} ${path}`);
  else assert.deepEqual(requestProblems, [], 'the request must be one the document allows');
  const res = await fetch(`${origin}${path}`, { method, headers, body });
  const text = await res.text();
  assert.equal(res.status, expect, `${method} ${path}: ${text.slice(0, 500)}`);
  if (v.find(method, path)) {
    assert.deepEqual(v.checkResponse(req, { status: res.status, headers: res.headers, body: text }), [], 'the response must match the document');
  } else {
    // A method the document does not offer on this path: the answer is still a problem document.
    assert.equal(res.headers.get('content-type')?.split(';')[0], 'application/problem+json');
    assert.deepEqual(v.check(JSON.parse(text), { $ref: '#/components/schemas/Problem' }, 'problem'), []);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

const api = (method: string, path: string, expect: number, o?: CallOptions) => call(doc, base, method, path, expect, o);
const nsPath = (ns: string, version = 'v1', name?: string, sub?: string) => `/rest/${G}/${version}/namespaces/${ns}/crontabs${name ? `/${name}` : ''}${sub ? `/${sub}` : ''}`;
const clusterPath = (name?: string, sub?: string) => `/rest/${G}/v1/clustercrontabs${name ? `/${name}` : ''}${sub ? `/${sub}` : ''}`;
const cronTab = (name: string, spec: Record<string, unknown> = {}, labels?: Record<string, string>) => ({
  metadata: { name, ...(labels ? { labels } : {}) }, spec: { cronSpec: '* * * * */5', image: 'img:1', replicas: 1, ...spec },
});

function assertProblem(r: Reply, code: string, reason?: string): void {
  assert.equal(r.headers.get('content-type')?.split(';')[0], 'application/problem+json');
  assert.equal(r.json.code, code, r.text);
  assert.equal(r.json.status, r.status);
  assert.equal(r.json.type, `urn:crdgate:problem:${code.toLowerCase().replace(/_/g, '-')}`);
  if (reason) assert.equal(r.json.reason, reason, r.text);
}

before(async () => {
  ns1 = await namespaces.create('rest1');
  ns2 = await namespaces.create('rest2');
  gateway = await createGateway({ client: new KubeClient(kubeConfigFor('admin')), explorer: false });
  const server = await gateway.listen(0);
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  doc = await OpenApiValidator.fetch(base);
});

after(async () => {
  await gateway?.stop();
  for (const name of clusterNames) await kubectl(['delete', 'clustercrontab', name, '--ignore-not-found', '--wait=false']);
  await namespaces.deleteAll();
});

describe('REST facade: namespaced CronTabs', () => {
  it('creates (201), reads, lists, replaces, patches and deletes, as Kubernetes does', async () => {
    const created = await api('POST', nsPath(ns1), 201, { body: cronTab('crud') });
    assert.equal(created.json.metadata.namespace, ns1);
    assert.equal(created.json.apiVersion, `${G}/v1`);
    assert.equal(created.json.kind, 'CronTab');
    const uid = created.json.metadata.uid;

    const got = await api('GET', nsPath(ns1, 'v1', 'crud'), 200);
    assert.equal(got.json.metadata.uid, uid);

    const list = await api('GET', nsPath(ns1), 200);
    assert.equal(list.json.kind, 'CronTabList');
    assert.deepEqual(list.json.items.map((i: any) => i.metadata.name), ['crud']);

    const replaced = await api('PUT', nsPath(ns1, 'v1', 'crud'), 200, {
      body: { ...got.json, spec: { ...got.json.spec, image: 'img:2' } },
    });
    assert.equal(replaced.json.spec.image, 'img:2');
    assert.notEqual(replaced.json.metadata.resourceVersion, got.json.metadata.resourceVersion);

    const stale = await api('PUT', nsPath(ns1, 'v1', 'crud'), 409, { body: { ...got.json, spec: { ...got.json.spec, image: 'img:3' } } });
    assertProblem(stale, 'CONFLICT', 'Conflict');
    assert.equal(stale.json.currentResourceVersion, replaced.json.metadata.resourceVersion);

    const merged = await api('PATCH', nsPath(ns1, 'v1', 'crud'), 200, { body: { spec: { replicas: 3 } }, contentType: 'application/merge-patch+json' });
    assert.equal(merged.json.spec.replicas, 3);
    assert.equal(merged.json.spec.image, 'img:2', 'a merge patch keeps the other fields');

    const jsonPatched = await api('PATCH', nsPath(ns1, 'v1', 'crud'), 200, {
      body: [{ op: 'test', path: '/spec/replicas', value: 3 }, { op: 'replace', path: '/spec/cronSpec', value: '@daily' }],
      contentType: 'application/json-patch+json',
    });
    assert.equal(jsonPatched.json.spec.cronSpec, '@daily');
    // A malformed operation is refused naming it (Kubernetes would write null for an add without
    // a value, and refuses the rest without saying which operation is wrong).
    for (const [ops, detail] of [
      [[{ op: 'test', path: '/spec/replicas', value: 3 }, { op: 'add', path: '/spec/image' }], /operation \[1\]: add needs a value/],
      [[{ op: 'copy', path: '/spec/image' }], /operation \[0\]: copy needs from/],
      [[{ op: 'remove', path: 'spec/image' }], /operation \[0\]\.path: "spec\/image" is not a JSON pointer/],
    ] as const) {
      const refused = await api('PATCH', nsPath(ns1, 'v1', 'crud'), 400, { body: ops, contentType: 'application/json-patch+json', outsideDocument: true });
      assertProblem(refused, 'BAD_REQUEST');
      assert.match(refused.json.detail, detail);
    }
    assert.equal((await api('GET', nsPath(ns1, 'v1', 'crud'), 200)).json.spec.image, 'img:2');
    // Over Kubernetes' 10,000 operations of one JSON patch: its 413, not a 400, as the gateway's own
    // body limit answers.
    const tooMany = Array.from({ length: 10_001 }, () => ({ op: 'test', path: '/spec/replicas', value: 3 }));
    const tooLarge = await api('PATCH', nsPath(ns1, 'v1', 'crud'), 413, { body: tooMany, contentType: 'application/json-patch+json' });
    assertProblem(tooLarge, 'BAD_REQUEST', 'RequestEntityTooLarge');
    assert.equal(tooLarge.json.kubernetesCode, 413);

    const deleted = await api('DELETE', nsPath(ns1, 'v1', 'crud'), 200);
    assert.equal(deleted.json.metadata?.uid ?? deleted.json.details?.uid, uid);
    const gone = await api('GET', nsPath(ns1, 'v1', 'crud'), 404);
    assertProblem(gone, 'NOT_FOUND', 'NotFound');
  });

  it('serves both CronTab versions of the same object', async () => {
    await api('POST', nsPath(ns1, 'v2'), 201, { body: cronTab('versions', { image: 'v2-made' }) });
    const v1 = await api('GET', nsPath(ns1, 'v1', 'versions'), 200);
    const v2 = await api('GET', nsPath(ns1, 'v2', 'versions'), 200);
    assert.equal(v1.json.apiVersion, `${G}/v1`);
    assert.equal(v2.json.apiVersion, `${G}/v2`);
    assert.equal(v1.json.metadata.uid, v2.json.metadata.uid);
    assert.equal(v1.json.spec.image, 'v2-made');
    const patched = await api('PATCH', nsPath(ns1, 'v2', 'versions'), 200, { body: { spec: { replicas: 7 } }, contentType: 'application/merge-patch+json' });
    assert.equal(patched.json.apiVersion, `${G}/v2`);
    assert.equal((await api('GET', nsPath(ns1, 'v1', 'versions'), 200)).json.spec.replicas, 7);
    const list = await api('GET', nsPath(ns1, 'v2'), 200);
    assert.equal(list.json.apiVersion, `${G}/v2`);
    await api('DELETE', nsPath(ns1, 'v2', 'versions'), 200);
  });

  it('writes and reads /status and /scale', async () => {
    await api('POST', nsPath(ns1), 201, { body: cronTab('subres', { replicas: 2 }) });
    const status = await api('PUT', nsPath(ns1, 'v1', 'subres', 'status'), 200, {
      body: { metadata: { name: 'subres' }, spec: { image: 'ignored-by-status' }, status: { replicas: 2, labelSelector: 'app=x' } },
    });
    assert.deepEqual(status.json.status, { replicas: 2, labelSelector: 'app=x' });
    assert.equal(status.json.spec.image, 'img:1', '/status does not change the spec');
    const readStatus = await api('GET', nsPath(ns1, 'v1', 'subres', 'status'), 200);
    assert.equal(readStatus.json.status.replicas, 2);

    const scale = await api('GET', nsPath(ns1, 'v1', 'subres', 'scale'), 200);
    assert.equal(scale.json.kind, 'Scale');
    assert.equal(scale.json.spec.replicas, 2);
    assert.equal(scale.json.status.selector, 'app=x');
    const scaled = await api('PUT', nsPath(ns1, 'v2', 'subres', 'scale'), 200, { body: { spec: { replicas: 5 } } });
    assert.equal(scaled.json.spec.replicas, 5);
    // Kubernetes refuses a replicas beyond 32 bits with "no kind is registered for the type
    // v1.Scale"; the facade names the field.
    for (const replicas of ['2147483648', '9007199254740993', '1.5', '"3"']) {
      const refused = await api('PUT', nsPath(ns1, 'v1', 'subres', 'scale'), 400, { body: `{"spec":{"replicas":${replicas}}}`, outsideDocument: true });
      assertProblem(refused, 'BAD_REQUEST');
      assert.match(refused.json.detail, /spec\.replicas of a Scale must be a 32-bit integer/, refused.text);
    }
    assert.equal((await api('GET', nsPath(ns1, 'v1', 'subres'), 200)).json.spec.replicas, 5);
    const staleScale = await api('PUT', nsPath(ns1, 'v1', 'subres', 'scale'), 409, {
      body: { metadata: { name: 'subres', resourceVersion: scale.json.metadata.resourceVersion }, spec: { replicas: 1 } },
    });
    assertProblem(staleScale, 'CONFLICT', 'Conflict');

    // PATCH on a subresource, with the object's patch types (kubectl scale and kubectl patch
    // --subresource do; RBAC may grant patch there without update): only the subresource changes.
    const merged = await api('PATCH', nsPath(ns1, 'v1', 'subres', 'status'), 200, { body: { status: { replicas: 7 }, spec: { replicas: 99 } }, contentType: 'application/merge-patch+json' });
    assert.equal(merged.json.status.replicas, 7);
    assert.equal(merged.json.spec.replicas, 5, 'a status patch leaves the spec');
    const patchedScale = await api('PATCH', nsPath(ns1, 'v1', 'subres', 'scale'), 200, { body: [{ op: 'replace', path: '/spec/replicas', value: 3 }], contentType: 'application/json-patch+json' });
    assert.equal(patchedScale.json.kind, 'Scale');
    assert.equal(patchedScale.json.spec.replicas, 3);
    const applied = await api('PATCH', `${nsPath(ns1, 'v1', 'subres', 'status')}?fieldManager=status-writer&force=true`, 200, {
      body: stringifyYaml({ apiVersion: `${G}/v1`, kind: 'CronTab', metadata: { name: 'subres' }, status: { replicas: 4 } }), contentType: 'application/apply-patch+yaml',
    });
    assert.equal(applied.json.status.replicas, 4);
    assert.ok(applied.json.metadata.managedFields.some((f: any) => f.manager === 'status-writer' && f.subresource === 'status'));
    assert.equal((await api('GET', nsPath(ns1, 'v1', 'subres'), 200)).json.spec.replicas, 3);
    // Nor are other methods of a path's shape: 405 with what it offers (a PUT on a collection was a
    // 404 about a resource named after the namespace).
    for (const [method, path, allow] of [
      ['PUT', nsPath(ns1), 'GET, HEAD, POST, DELETE'], ['PATCH', nsPath(ns1), 'GET, HEAD, POST, DELETE'],
      ['POST', nsPath(ns1, 'v1', 'subres'), 'GET, HEAD, PUT, PATCH, DELETE'], ['DELETE', nsPath(ns1, 'v1', 'subres', 'scale'), 'GET, HEAD, PUT, PATCH'],
      ['POST', `/rest/${G}/v1/crontabs`, 'GET, HEAD'],
    ] as const) {
      const refused = await api(method, path, 405, { body: {}, outsideDocument: true });
      assertProblem(refused, 'METHOD_NOT_ALLOWED');
      assert.equal(refused.headers.get('allow'), allow, `${method} ${path}`);
    }
    // A resource that does not exist stays 404 whatever the method.
    assertProblem(await api('PUT', `/rest/${G}/v1/namespaces/${ns1}/nosuchthings`, 404, { body: {}, outsideDocument: true }), 'NOT_FOUND');
  });

  it('server-side apply: creates (201, as Kubernetes answers), records the field manager, answers 409 on a conflict and takes over with force', async () => {
    const applyYaml = (image: string) => stringifyYaml({ apiVersion: `${G}/v1`, kind: 'CronTab', metadata: { name: 'applied' }, spec: { cronSpec: '@hourly', image } });
    const dry = await api('PATCH', `${nsPath(ns1, 'v1', 'applied')}?fieldManager=alice&dryRun=All`, 201, { body: applyYaml('a:0'), contentType: 'application/apply-patch+yaml' });
    assert.equal(dry.json.spec.image, 'a:0');
    const first = await api('PATCH', `${nsPath(ns1, 'v1', 'applied')}?fieldManager=alice`, 201, { body: applyYaml('a:1'), contentType: 'application/apply-patch+yaml' });
    assert.equal(first.json.spec.image, 'a:1');
    assert.ok(first.json.metadata.managedFields.some((f: any) => f.manager === 'alice' && f.operation === 'Apply'));

    const conflict = await api('PATCH', `${nsPath(ns1, 'v1', 'applied')}?fieldManager=bob`, 409, { body: applyYaml('b:1'), contentType: 'application/apply-patch+yaml' });
    assertProblem(conflict, 'CONFLICT', 'Conflict');
    assert.match(conflict.json.detail, /conflict with "alice"/);
    assert.ok(conflict.json.causes.some((c: any) => c.field === '.spec.image'), conflict.text);

    const forced = await api('PATCH', `${nsPath(ns1, 'v1', 'applied')}?fieldManager=bob&force=true`, 200, { body: applyYaml('b:1'), contentType: 'application/apply-patch+yaml' });
    assert.equal(forced.json.spec.image, 'b:1');
    assert.ok(forced.json.metadata.managedFields.some((f: any) => f.manager === 'bob' && f.operation === 'Apply'));

    // Without a fieldManager: refused as Kubernetes refuses it (a default manager shared by every
    // client would have each apply remove the fields the others set).
    const unnamed = await api('PATCH', nsPath(ns1, 'v1', 'applied'), 422, { body: applyYaml('c:1'), contentType: 'application/apply-patch+yaml' });
    assertProblem(unnamed, 'INVALID', 'Invalid');
    assert.equal(unnamed.json.detail, 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch');
    // An apply naming another kind, or none: refused, as Kubernetes refuses it.
    const other = stringifyYaml({ apiVersion: `${G}/v2`, kind: 'CronTab', metadata: { name: 'applied' }, spec: { cronSpec: '@hourly' } });
    assertProblem(await api('PATCH', `${nsPath(ns1, 'v1', 'applied')}?fieldManager=carol`, 400, { body: other, contentType: 'application/apply-patch+yaml' }), 'BAD_REQUEST');
    const bare = stringifyYaml({ metadata: { name: 'applied' }, spec: { image: 'd:1' } });
    const none = await api('PATCH', `${nsPath(ns1, 'v1', 'applied')}?fieldManager=carol`, 400, { body: bare, contentType: 'application/apply-patch+yaml' });
    assert.match(none.json.detail, /an apply names its object's apiVersion and kind/);
    assert.equal((await api('GET', nsPath(ns1, 'v1', 'applied'), 200)).json.spec.image, 'b:1', 'nothing was applied');
  });

  it('refuses strategic merge patch with 415 and Kubernetes\' own message', async () => {
    await api('POST', nsPath(ns1), 201, { body: cronTab('smp') });
    const r = await api('PATCH', nsPath(ns1, 'v1', 'smp'), 415, { body: { spec: { replicas: 2 } }, contentType: 'application/strategic-merge-patch+json', outsideDocument: true });
    assertProblem(r, 'UNSUPPORTED_MEDIA_TYPE', 'UnsupportedMediaType');
    assert.match(r.json.detail, /the body of the request was in an unknown format - accepted media types include: application\/json-patch\+json, application\/merge-patch\+json, application\/apply-patch\+yaml/);
    assert.equal(r.json.kubernetesCode, 415, 'the answer comes from Kubernetes itself');
    const plain = await api('POST', nsPath(ns1), 415, { body: 'hello', contentType: 'text/plain', outsideDocument: true });
    assertProblem(plain, 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('reads YAML bodies and answers in YAML when asked', async () => {
    const yamlBody = stringifyYaml(cronTab('yamly', { image: 'from-yaml' }));
    const created = await api('POST', nsPath(ns1), 201, { body: yamlBody, contentType: 'application/yaml', accept: 'application/yaml' });
    assert.equal(created.headers.get('content-type')?.split(';')[0], 'application/yaml');
    const obj = parseYaml(created.text);
    assert.equal(obj.spec.image, 'from-yaml');
    assert.equal(obj.kind, 'CronTab');
    const list = await api('GET', nsPath(ns1), 200, { accept: 'application/yaml' });
    assert.ok(parseYaml(list.text).items.some((i: any) => i.metadata.name === 'yamly'));
    const json = await api('GET', nsPath(ns1, 'v1', 'yamly'), 200, { accept: 'application/json' });
    assert.equal(json.json.spec.image, 'from-yaml');
    const bad = await api('POST', nsPath(ns1), 400, { body: 'metadata: [unclosed', contentType: 'application/yaml', outsideDocument: true });
    assertProblem(bad, 'BAD_REQUEST');
  });

  it('refuses with 406 a request whose Accept allows nothing it writes, before anything runs', async () => {
    for (const accept of ['application/xml', 'application/vnd.kubernetes.protobuf', 'text/html']) {
      const refused = await api('GET', nsPath(ns1), 406, { accept });
      assertProblem(refused, 'NOT_ACCEPTABLE', 'NotAcceptable');
      const write = await api('POST', nsPath(ns1), 406, { body: cronTab('never-made'), accept });
      assertProblem(write, 'NOT_ACCEPTABLE');
    }
    await api('GET', nsPath(ns1, 'v1', 'never-made'), 404);
    // What kubectl sends (a Table first, plain JSON after it), and any type: JSON.
    for (const accept of ['application/json;as=Table;v=v1;g=meta.k8s.io,application/json', '*/*', 'application/*', 'application/json; charset=utf-8', 'application/json;stream=watch']) {
      const ok = await api('GET', nsPath(ns1), 200, { accept });
      assert.equal(ok.json.kind, 'CronTabList', accept);
    }
    for (const accept of ['application/yaml;charset=utf-8', 'application/x-yaml']) {
      const yaml = await api('GET', nsPath(ns1), 200, { accept });
      assert.equal(yaml.headers.get('content-type')?.split(';')[0], 'application/yaml', accept);
      assert.equal(parseYaml(yaml.text).kind, 'CronTabList');
    }
    const options = await fetch(`${base}${nsPath(ns1)}`, { method: 'OPTIONS', headers: { accept: 'application/xml' } });
    assert.equal(options.status, 204);
  });

  it('dryRun persists nothing on create, update and delete', async () => {
    const dry = await api('POST', `${nsPath(ns1)}?dryRun=All`, 201, { body: cronTab('dry') });
    assert.equal(dry.json.metadata.name, 'dry');
    await api('GET', nsPath(ns1, 'v1', 'dry'), 404);
    await api('POST', nsPath(ns1), 201, { body: cronTab('dry') });
    await api('PATCH', `${nsPath(ns1, 'v1', 'dry')}?dryRun=All`, 200, { body: { spec: { image: 'dry:2' } }, contentType: 'application/merge-patch+json' });
    assert.equal((await api('GET', nsPath(ns1, 'v1', 'dry'), 200)).json.spec.image, 'img:1');
    await api('DELETE', `${nsPath(ns1, 'v1', 'dry')}?dryRun=All`, 200);
    await api('GET', nsPath(ns1, 'v1', 'dry'), 200);
    const badDry = await api('POST', `${nsPath(ns1)}?dryRun=Yes`, 400, { body: cronTab('dry2'), outsideDocument: true });
    assertProblem(badDry, 'BAD_REQUEST');
  });

  it('passes fieldValidation to Kubernetes: Strict refuses unknown fields (400), Ignore drops them', async () => {
    const body = { ...cronTab('fv'), spec: { cronSpec: '@daily', unknownField: 1 } };
    const strict = await api('POST', `${nsPath(ns1)}?fieldValidation=Strict`, 400, { body });
    assertProblem(strict, 'BAD_REQUEST', 'BadRequest');
    assert.match(strict.json.detail, /strict decoding error: unknown field "spec.unknownField"/);
    const ignored = await api('POST', `${nsPath(ns1)}?fieldValidation=Ignore`, 201, { body });
    assert.equal(ignored.json.spec.unknownField, undefined);
    // For a patch Kubernetes reports the unknown field as an invalid patch (422), not a bad request.
    const patchStrict = await api('PATCH', `${nsPath(ns1, 'v1', 'fv')}?fieldValidation=Strict`, 422, { body: { spec: { other: 1 } }, contentType: 'application/merge-patch+json' });
    assertProblem(patchStrict, 'INVALID', 'Invalid');
    assert.match(patchStrict.json.detail, /strict decoding error: unknown field "spec.other"/);
    await api('PATCH', `${nsPath(ns1, 'v1', 'fv')}?fieldValidation=Warn`, 200, { body: { spec: { other: 1 } }, contentType: 'application/merge-patch+json' });
  });

  it('deletes with propagationPolicy and with DeleteOptions preconditions', async () => {
    const fg = await api('POST', nsPath(ns1), 201, { body: cronTab('fg') });
    // Orphan and Foreground leave the object with a finalizer the garbage collector removes.
    const pending = await api('DELETE', `${nsPath(ns1, 'v1', 'fg')}?propagationPolicy=Foreground`, 200);
    assert.deepEqual(pending.json.metadata.finalizers, ['foregroundDeletion']);
    assert.ok(pending.json.metadata.deletionTimestamp);
    assert.equal(pending.json.metadata.uid, fg.json.metadata.uid);
    await pollUntil('the garbage collector to finish the foreground deletion', async () => (await fetch(`${base}${nsPath(ns1, 'v1', 'fg')}`)).status === 404, { timeoutMs: 30_000 });

    const pc = await api('POST', nsPath(ns1), 201, { body: cronTab('pc') });
    const wrongRv = await api('DELETE', nsPath(ns1, 'v1', 'pc'), 409, { body: { apiVersion: 'v1', kind: 'DeleteOptions', preconditions: { resourceVersion: '1' } } });
    assertProblem(wrongRv, 'CONFLICT', 'Conflict');
    assert.match(wrongRv.json.detail, /the ResourceVersion in the precondition \(1\) does not match the ResourceVersion in record/);
    const wrongUid = await api('DELETE', nsPath(ns1, 'v1', 'pc'), 409, { body: { preconditions: { uid: '00000000-0000-0000-0000-000000000000' } } });
    assert.match(wrongUid.json.detail, /00000000-0000-0000-0000-000000000000/, wrongUid.text);
    await api('DELETE', `${nsPath(ns1, 'v1', 'pc')}?propagationPolicy=Background`, 200, {
      body: { preconditions: { uid: pc.json.metadata.uid, resourceVersion: pc.json.metadata.resourceVersion } },
    });
    await api('GET', nsPath(ns1, 'v1', 'pc'), 404);
    await api('DELETE', `${nsPath(ns1, 'v1', 'pc')}?propagationPolicy=Sideways`, 400, { outsideDocument: true });
  });

  it('honours every option of a DeleteOptions body, as client-go sends them: a dry run deletes nothing', async () => {
    // client-go (and so kubectl) send delete options as a body, never as query parameters.
    const dry = { apiVersion: 'v1', kind: 'DeleteOptions', dryRun: ['All'] };
    const kept = await api('POST', nsPath(ns1), 201, { body: cronTab('dry-body', {}, { dryBody: 'yes' }) });
    await api('DELETE', nsPath(ns1, 'v1', 'dry-body'), 200, { body: dry });
    assert.equal((await api('GET', nsPath(ns1, 'v1', 'dry-body'), 200)).json.metadata.uid, kept.json.metadata.uid);
    await api('DELETE', `${nsPath(ns1)}?labelSelector=dryBody%3Dyes`, 200, { body: dry });
    await api('GET', nsPath(ns1, 'v1', 'dry-body'), 200);
    // The other options reach Kubernetes too: Foreground leaves the object with its finalizer.
    const pending = await api('DELETE', nsPath(ns1, 'v1', 'dry-body'), 200, { body: { kind: 'DeleteOptions', propagationPolicy: 'Foreground', gracePeriodSeconds: 0 } });
    assert.deepEqual(pending.json.metadata.finalizers, ['foregroundDeletion']);
    // Options the facade cannot honour are refused, never dropped.
    await api('POST', nsPath(ns1), 201, { body: cronTab('bad-options') });
    // (The document's int64 format does not bound the integer, so 2^63 is inside it.)
    for (const [body, outsideDocument] of [[{ dryRun: ['Yes'] }, true], [{ dryRun: 'All' }, true], [{ gracePeriodSeconds: 1.5 }, true],
      [{ gracePeriodSeconds: 9223372036854775808n }, false], [{ propagationPolicy: 'Sideways' }, true]] as const) {
      const refused = await api('DELETE', nsPath(ns1, 'v1', 'bad-options'), 400, { body: stringifyJson(body), outsideDocument });
      assertProblem(refused, 'BAD_REQUEST');
      assert.match(refused.json.detail, new RegExp(Object.keys(body)[0]!), refused.text);
    }
    const conflicting = await api('DELETE', `${nsPath(ns1, 'v1', 'bad-options')}?propagationPolicy=Orphan`, 400, { body: { propagationPolicy: 'Foreground' } });
    assert.match(conflicting.json.detail, /propagationPolicy/);
    await api('GET', nsPath(ns1, 'v1', 'bad-options'), 200);
  });

  it('lists with selectors and pages, in one namespace and in all namespaces, and deletes collections', async () => {
    for (const [ns, name, spec] of [[ns2, 'p1', '@hourly'], [ns2, 'p2', '@daily'], [ns2, 'p3', '@hourly']] as const) {
      await api('POST', nsPath(ns), 201, { body: cronTab(name, { cronSpec: spec }, { page: 'yes', spec: spec.slice(1) }) });
    }
    // A limit beyond 64 bits is refused with the digits as sent (rounded, Kubernetes would
    // refuse 100000000000000000000, naming no parameter).
    const huge = await api('GET', `${nsPath(ns2)}?limit=99999999999999999999`, 400);
    assertProblem(huge, 'BAD_REQUEST');
    assert.match(huge.json.detail, /^limit must be a whole number of at most 9223372036854775807, not "99999999999999999999"$/);
    const first = await api('GET', `${nsPath(ns2)}?limit=2`, 200);
    assert.equal(first.json.items.length, 2);
    assert.ok(first.json.metadata.continue);
    const second = await api('GET', `${nsPath(ns2)}?limit=2&continue=${encodeURIComponent(first.json.metadata.continue)}`, 200);
    assert.deepEqual([...first.json.items, ...second.json.items].map((i: any) => i.metadata.name), ['p1', 'p2', 'p3']);
    const hourly = await api('GET', `${nsPath(ns2)}?fieldSelector=${encodeURIComponent('spec.cronSpec=@hourly')}`, 200);
    assert.deepEqual(hourly.json.items.map((i: any) => i.metadata.name), ['p1', 'p3']);
    const daily = await api('GET', `${nsPath(ns2)}?labelSelector=${encodeURIComponent('spec=daily')}`, 200);
    assert.deepEqual(daily.json.items.map((i: any) => i.metadata.name), ['p2']);

    const all = await api('GET', `/rest/${G}/v1/crontabs?labelSelector=page%3Dyes`, 200);
    assert.deepEqual(all.json.items.map((i: any) => `${i.metadata.namespace}/${i.metadata.name}`).sort(), [`${ns2}/p1`, `${ns2}/p2`, `${ns2}/p3`]);
    const allNs = await api('GET', `/rest/${G}/v2/crontabs`, 200);
    const seen = new Set(allNs.json.items.map((i: any) => i.metadata.namespace));
    assert.ok(seen.has(ns1) && seen.has(ns2), 'the all-namespaces list spans namespaces');

    // A parameter given twice (as a client's default array style sends one) is refused, named.
    for (const [query, named] of [['limit=1&limit=2', /"limit" was given more than once$/], ['orderBy=metadata.name&orderBy=-spec.cronSpec', /"orderBy" was given more than once \(orderBy takes its fields comma-separated/]] as const) {
      const r = await fetch(`${base}${nsPath(ns2)}?${query}`);
      assert.equal(r.status, 400);
      const problem = await r.json() as { code: string; detail: string };
      assert.equal(problem.code, 'BAD_REQUEST');
      assert.match(problem.detail, named);
    }
    const badSelector = await api('GET', `${nsPath(ns2)}?fieldSelector=${encodeURIComponent('spec.image=x')}`, 400);
    assertProblem(badSelector, 'BAD_REQUEST', 'BadRequest');

    const dryCollection = await api('DELETE', `${nsPath(ns2)}?labelSelector=spec%3Dhourly&dryRun=All`, 200);
    assert.equal(dryCollection.json.items.length, 2);
    assert.equal((await api('GET', nsPath(ns2), 200)).json.items.length, 3);
    const removed = await api('DELETE', `${nsPath(ns2)}?labelSelector=spec%3Dhourly`, 200);
    assert.equal(removed.json.kind, 'CronTabList');
    assert.deepEqual(removed.json.items.map((i: any) => i.metadata.name).sort(), ['p1', 'p3']);
    assert.deepEqual((await api('GET', nsPath(ns2), 200)).json.items.map((i: any) => i.metadata.name), ['p2']);
  });

  it('answers 409 AlreadyExists, 422 with causes and 404 as Kubernetes does', async () => {
    await api('POST', nsPath(ns1), 201, { body: cronTab('twice') });
    const again = await api('POST', nsPath(ns1), 409, { body: cronTab('twice') });
    assertProblem(again, 'ALREADY_EXISTS', 'AlreadyExists');
    assert.equal(again.json.name, 'twice');

    const invalid = await api('POST', nsPath(ns1), 422, { body: { metadata: { name: 'bad' }, spec: { replicas: 'many' } }, outsideDocument: true });
    assertProblem(invalid, 'INVALID', 'Invalid');
    assert.ok(invalid.json.causes.some((c: any) => c.field === 'spec.replicas' && c.type === 'FieldValueTypeInvalid'), invalid.text);
    const badName = await api('POST', nsPath(ns1), 422, { body: cronTab('Not_A_Name') });
    assert.ok(badName.json.causes.some((c: any) => c.field === 'metadata.name'), badName.text);

    assertProblem(await api('GET', nsPath(ns1, 'v1', 'missing'), 404), 'NOT_FOUND', 'NotFound');
    assertProblem(await api('PATCH', nsPath(ns1, 'v1', 'missing'), 404, { body: { spec: {} }, contentType: 'application/merge-patch+json' }), 'NOT_FOUND', 'NotFound');
    assertProblem(await api('DELETE', nsPath(ns1, 'v1', 'missing'), 404), 'NOT_FOUND', 'NotFound');
    assertProblem(await api('GET', nsPath(ns1, 'v1', 'missing', 'scale'), 404), 'NOT_FOUND', 'NotFound');
    const mismatch = await api('POST', nsPath(ns1), 400, { body: { ...cronTab('x'), kind: 'Other' } });
    assertProblem(mismatch, 'BAD_REQUEST');
  });
});

describe('REST facade: cluster-scoped ClusterCronTabs', () => {
  it('creates, reads, lists, replaces, patches, writes status and deletes', async () => {
    const name = `${run}-cct`;
    clusterNames.push(name, `${name}-2`);
    const body = { metadata: { name, labels: { run } }, spec: { cronSpec: '@weekly', replicas: 2 } };
    const created = await api('POST', clusterPath(), 201, { body });
    assert.equal(created.json.metadata.namespace, undefined);
    await api('POST', clusterPath(), 201, { body: { metadata: { name: `${name}-2`, labels: { run } }, spec: { cronSpec: '@daily' } } });
    const got = await api('GET', clusterPath(name), 200);
    assert.equal(got.json.kind, 'ClusterCronTab');
    const list = await api('GET', `${clusterPath()}?labelSelector=run%3D${run}`, 200);
    assert.deepEqual(list.json.items.map((i: any) => i.metadata.name), [name, `${name}-2`]);
    const replaced = await api('PUT', clusterPath(name), 200, { body: { ...got.json, spec: { ...got.json.spec, image: 'cct:2' } } });
    assert.equal(replaced.json.spec.image, 'cct:2');
    const patched = await api('PATCH', clusterPath(name), 200, { body: [{ op: 'replace', path: '/spec/replicas', value: 4 }], contentType: 'application/json-patch+json' });
    assert.equal(patched.json.spec.replicas, 4);
    const status = await api('PUT', clusterPath(name, 'status'), 200, { body: { metadata: { name }, status: { replicas: 4 } } });
    assert.equal(status.json.status.replicas, 4);
    assert.equal((await api('GET', clusterPath(name, 'status'), 200)).json.status.replicas, 4);
    // The namespaced form of a cluster-scoped resource does not exist.
    const wrongForm = await api('GET', `/rest/${G}/v1/namespaces/${ns1}/clustercrontabs/${name}`, 404, { outsideDocument: true });
    assertProblem(wrongForm, 'NOT_FOUND');
    await api('DELETE', clusterPath(name), 200);
    await api('GET', clusterPath(name), 404);
    const removed = await api('DELETE', `${clusterPath()}?labelSelector=run%3D${run}`, 200);
    assert.deepEqual(removed.json.items.map((i: any) => i.metadata.name), [`${name}-2`]);
  });
});

describe('REST facade with tenants: 401 and 403', () => {
  let tenantGateway: Gateway;
  let origin: string;
  let dir: string;
  let secret: Buffer;
  let nsA: string;
  let nsB: string;
  const issuer = 'crdgate-rest-test';
  const token = (tenant: string, key: Buffer = secret) =>
    jwt.sign({ tenant }, key, { algorithm: 'HS256', issuer, audience: 'crdgate', subject: `user-${tenant}`, expiresIn: '1h' });

  before(async () => {
    nsA = await namespaces.create('resta');
    nsB = await namespaces.create('restb');
    dir = mkdtempSync(join(tmpdir(), 'crdgate-rest-tenants-'));
    secret = Buffer.from(`secret-${run}-${Math.random()}`);
    writeFileSync(join(dir, 'hs.key'), secret);
    writeFileSync(join(dir, 'tenants.yaml'), `auth:
  issuer: ${issuer}
  audience: crdgate
  algorithms: [HS256]
  secretFile: hs.key
tenants:
  - name: a
    match: { tenant: a }
    user: "${run}-a:{sub}"
    groups: ["${run}-a"]
`);
    const rbac = await kubectl(['apply', '-f', '-'], {
      input: `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: ${run}-editor }
rules:
- { apiGroups: ["${G}"], resources: ["crontabs", "crontabs/status", "crontabs/scale"], verbs: ["*"] }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: ${run}-a, namespace: ${nsA} }
subjects: [{ kind: Group, name: ${run}-a, apiGroup: rbac.authorization.k8s.io }]
roleRef: { kind: ClusterRole, name: ${run}-editor, apiGroup: rbac.authorization.k8s.io }
`,
    });
    assert.equal(rbac.code, 0, rbac.stderr);
    tenantGateway = await createGateway({ client: new KubeClient(kubeConfigFor('admin')), tenants: loadTenantConfig(join(dir, 'tenants.yaml')), explorer: false });
    const server = await tenantGateway.listen(0);
    origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });

  after(async () => {
    await tenantGateway?.stop();
    await kubectl(['delete', 'clusterrole', `${run}-editor`, '--ignore-not-found']);
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers 401 with WWW-Authenticate without a token or with a bad one, and 403 on another tenant\'s namespace', async () => {
    // Without a token the document is the generic description (no resource names); with a bad
    // token it is refused.
    const noToken = await fetch(`${origin}/openapi.json`);
    assert.equal(noToken.status, 200);
    const generic = await noToken.text();
    const paths = Object.keys((JSON.parse(generic) as { paths: Record<string, unknown> }).paths);
    assert.ok(paths.some((p) => p.includes('{plural}')) && !paths.some((p) => p.includes('crontabs')), 'the generic document has no resource paths');
    const badToken = await fetch(`${origin}/openapi.json`, { headers: { authorization: 'Bearer not-a-token' } });
    assert.equal(badToken.status, 401, 'a bad token is refused');
    const v = await OpenApiValidator.fetch(origin, { authorization: `Bearer ${token('a')}` }, { requireBearer: true });
    const as = (t: string): Record<string, string> => ({ authorization: `Bearer ${t}` });
    await pollUntil('tenant A may create in its namespace', async () =>
      (await fetch(`${origin}${nsPath(nsA)}`, { headers: as(token('a')) })).status === 200, { timeoutMs: 15_000 });

    const anonymous = await call(v, origin, 'GET', nsPath(nsA), 401, { outsideDocument: true });
    assertProblem(anonymous, 'UNAUTHENTICATED');
    assert.equal(anonymous.headers.get('www-authenticate'), 'Bearer realm="crdgate"', 'no credentials: no error code (RFC 6750 §3.1)');
    const forged = await call(v, origin, 'GET', nsPath(nsA), 401, { headers: as(token('a', Buffer.from('another secret'))) });
    assertProblem(forged, 'UNAUTHENTICATED');
    assert.match(forged.headers.get('www-authenticate') ?? '', /^Bearer /);

    const mine = await call(v, origin, 'POST', nsPath(nsA), 201, { body: cronTab('mine'), headers: as(token('a')) });
    assert.equal(mine.json.metadata.namespace, nsA);
    const theirs = await call(v, origin, 'GET', nsPath(nsB), 403, { headers: as(token('a')) });
    assertProblem(theirs, 'FORBIDDEN', 'Forbidden');
    assert.match(theirs.json.detail, new RegExp(`User "${run}-a:user-a" cannot list resource "crontabs"`));
    const create = await call(v, origin, 'POST', nsPath(nsB), 403, { body: cronTab('intruder'), headers: as(token('a')) });
    assertProblem(create, 'FORBIDDEN', 'Forbidden');
    assert.equal((await kubectl(['get', 'crontab', 'intruder', '-n', nsB, '--ignore-not-found', '-o', 'name'])).stdout.trim(), '', 'nothing was created');
    const noTenant = await call(v, origin, 'GET', nsPath(nsA), 403, { headers: as(token('zzz')) });
    assertProblem(noTenant, 'FORBIDDEN');
  });
});
