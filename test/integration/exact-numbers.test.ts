// No value changes on the way through. A CRD with an int64 field, an int-or-string field, a
// number field and a preserve-unknown-fields map holds the values of the matrix (2^53 − 1,
// 2^53 + 1, 2^63 − 1, −2^63, floats of the size of 1e21, 0.1, −0):
//   - written by the real kubectl, they read back through every gateway path (REST JSON, YAML,
//     list and SSE; GraphQL get and list over HTTP, a query and a subscription over WebSocket)
//     with exactly the digits kubectl reads;
//   - written through every gateway path (REST POST in JSON and YAML, PUT, the three patch
//     types; GraphQL create with variables and with literals, replace, the three patch types over
//     HTTP, create over WebSocket), kubectl reads exactly the digits it reads for its own write,
//     and so does the gateway's answer to the write.
// Numbers are compared as the text they were written with (test/helpers/number-texts.ts).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rootFieldNames, resourceTypeName } from '../../src/model/graphql-type-names.ts';
import { KubeClient } from '../../src/kube/kube-client.ts';
import { jsonNumberTexts, yamlNumberTexts } from '../helpers/number-texts.ts';
import { pollUntil } from '../helpers/poll-until.ts';
import { startGateway, type RunningGateway } from '../helpers/graphql-client.ts';
import { SseClient } from '../helpers/sse-client.ts';
import { RawGraphQLSocket, waitUntil } from '../helpers/subscription-client.ts';
import { kubeConfigFor, kubectl, uniqueName } from '../helpers/test-cluster.ts';
import { testNamespaces } from '../helpers/test-namespaces.ts';

/** The matrix: a label, the JSON text written, and what Kubernetes itself reads back. */
const VALUES: readonly { label: string; text: string; kubernetes: string }[] = [
  { label: '2^53-1', text: '9007199254740991', kubernetes: '9007199254740991' },
  { label: '2^53+1', text: '9007199254740993', kubernetes: '9007199254740993' },
  { label: '2^63-1', text: '9223372036854775807', kubernetes: '9223372036854775807' },
  { label: '-2^63', text: '-9223372036854775808', kubernetes: '-9223372036854775808' },
  { label: '1e21', text: '1e21', kubernetes: '1e+21' },
  // 17 significant digits: a double keeps 16 or 17, and Kubernetes (Go float64) writes the shortest.
  { label: '1.2345678901234567e21', text: '1.2345678901234567e21', kubernetes: '1.2345678901234568e+21' },
  { label: '0.1', text: '0.1', kubernetes: '0.1' },
  { label: '-0', text: '-0', kubernetes: '0' },
];
const isInteger = (text: string) => /^-?\d+$/.test(text);
/** Where each value goes: integer fields take only integers (Kubernetes refuses 0.1 there). */
const FIELDS = (text: string) => (isInteger(text) ? ['i64', 'ios', 'num', 'free.a', 'free.list[0]'] : ['num', 'free.a', 'free.list[0]']);

const group = `${uniqueName('exact')}.example.com`;
const crdName = `figures.${group}`;
const apiVersion = `${group}/v1`;
const namespaces = testNamespaces();
const admin = new KubeClient(kubeConfigFor('admin'));
let gw: RunningGateway;
let origin: string;
let names: ReturnType<typeof rootFieldNames>;
let inputType: string;
let readNs: string;
let writeNs: string;

/** The spec of value i as JSON text, the number written verbatim. */
function specText(text: string): string {
  const ints = isInteger(text) ? `"i64":${text},"ios":${text},` : '';
  return `{${ints}"num":${text},"free":{"a":${text},"list":[${text}]}}`;
}

function specYaml(text: string, indent: string): string {
  const ints = isInteger(text) ? `${indent}i64: ${text}\n${indent}ios: ${text}\n` : '';
  return `${ints}${indent}num: ${text}\n${indent}free:\n${indent}  a: ${text}\n${indent}  list: [${text}]\n`;
}

/** The same spec as a GraphQL literal (keys unquoted). */
function specLiteral(text: string): string {
  return specText(text).replace(/"(\w+)":/g, '$1:');
}

function objectText(name: string, spec: string, extraMetadata = ''): string {
  return `{"apiVersion":"${apiVersion}","kind":"Figure","metadata":{"name":"${name}"${extraMetadata}},"spec":${spec}}`;
}

/** The number texts of the matrix fields of one object's spec (from jsonNumberTexts/yamlNumberTexts). */
function fieldsOf(spec: any, text: string): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const f of FIELDS(text)) {
    const value = f === 'free.a' ? spec?.free?.a : f === 'free.list[0]' ? spec?.free?.list?.[0] : spec?.[f];
    out[f] = value?.['#'];
  }
  return out;
}

function expected(text: string, kubernetes: string): Record<string, string> {
  return Object.fromEntries(FIELDS(text).map((f) => [f, kubernetes]));
}

async function http(method: string, path: string, body?: string, contentType = 'application/json', accept = 'application/json') {
  const res = await fetch(`${origin}${path}`, { method, headers: { accept, ...(body !== undefined ? { 'content-type': contentType } : {}) }, ...(body !== undefined ? { body } : {}) });
  return { status: res.status, text: await res.text() };
}

/** One GraphQL POST whose body is given as text, so variables can hold any number. */
async function gqlText(bodyText: string) {
  const r = await http('POST', '/graphql', bodyText);
  assert.equal(r.status, 200, r.text);
  const json = jsonNumberTexts(r.text);
  assert.equal(json.errors, undefined, r.text);
  return json.data;
}

const select = 'metadata { name } spec { i64 ios num free }';
const rest = (ns: string, name = '') => `/rest/${group}/v1/namespaces/${ns}/figures${name ? `/${name}` : ''}`;

before(async () => {
  await admin.request('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', {
    body: {
      apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: crdName },
      spec: {
        group, scope: 'Namespaced', names: { plural: 'figures', singular: 'figure', kind: 'Figure', listKind: 'FigureList' },
        versions: [{
          name: 'v1', served: true, storage: true,
          schema: { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', properties: {
            i64: { type: 'integer', format: 'int64' },
            ios: { 'x-kubernetes-int-or-string': true },
            num: { type: 'number' },
            free: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
          } } } } },
        }],
      },
    },
  });
  await pollUntil('the CRD to be established', async () => {
    const crd = await admin.request<{ status?: { conditions?: { type: string; status: string }[] } }>('GET', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crdName}`);
    return crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True');
  }, { timeoutMs: 30_000 });
  gw = await startGateway(kubeConfigFor('admin'));
  origin = gw.url.replace(/\/graphql$/, '');
  const model = await pollUntil('the gateway to serve the CRD', () => gw.gateway.live.resources.find((r) => r.crdName === crdName), { timeoutMs: 30_000 });
  names = rootFieldNames(model, 'v1');
  inputType = resourceTypeName(model, 'v1', [], 'Input');
  readNs = await namespaces.create('exact-read');
  writeNs = await namespaces.create('exact-write');
});

after(async () => {
  await gw?.stop();
  await namespaces.deleteAll();
  await admin.request('DELETE', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crdName}`).catch(() => {});
  await admin.close();
});

/** kubectl's own reading of every object in a namespace: name → spec with number texts. */
async function kubectlRead(ns: string): Promise<Map<string, any>> {
  const got = await kubectl(['get', crdName, '-n', ns, '-o', 'json']);
  assert.equal(got.code, 0, got.stderr);
  return new Map(jsonNumberTexts(got.stdout).items.map((o: any) => [o.metadata.name, o.spec]));
}

describe('numbers written by kubectl read back through every gateway path with the same digits', () => {
  let byKubectl: Map<string, any>;
  const name = (i: number) => `value-${i}`;

  before(async () => {
    const list = `{"apiVersion":"v1","kind":"List","items":[${VALUES.map((v, i) => objectText(name(i), specText(v.text))).join(',')}]}`;
    const created = await kubectl(['create', '-n', readNs, '-f', '-'], { input: list });
    assert.equal(created.code, 0, created.stderr);
    byKubectl = await kubectlRead(readNs);
  });

  it('kubectl reads what Kubernetes makes of each value (the reference)', () => {
    for (const [i, v] of VALUES.entries()) assert.deepEqual(fieldsOf(byKubectl.get(name(i)), v.text), expected(v.text, v.kubernetes), v.label);
  });

  const check = (path: string, specs: (i: number) => any) => {
    for (const [i, v] of VALUES.entries()) {
      assert.deepEqual(fieldsOf(specs(i), v.text), fieldsOf(byKubectl.get(name(i)), v.text), `${path}: ${v.label}`);
    }
  };

  it('REST: get (JSON and YAML) and list', async () => {
    const json = new Map<number, any>();
    const yaml = new Map<number, any>();
    for (const i of VALUES.keys()) {
      const r = await http('GET', rest(readNs, name(i)));
      assert.equal(r.status, 200, r.text);
      json.set(i, jsonNumberTexts(r.text).spec);
      const y = await http('GET', rest(readNs, name(i)), undefined, undefined, 'application/yaml');
      assert.equal(y.status, 200, y.text);
      yaml.set(i, yamlNumberTexts(y.text).spec);
    }
    check('REST get', (i) => json.get(i));
    check('REST get as YAML', (i) => yaml.get(i));
    const list = await http('GET', rest(readNs));
    assert.equal(list.status, 200, list.text);
    const items = new Map(jsonNumberTexts(list.text).items.map((o: any) => [o.metadata.name, o.spec]));
    check('REST list', (i) => items.get(name(i)));
  });

  it('REST: Server-Sent Events watch', async () => {
    const sse = await new SseClient(`${origin}${rest(readNs)}?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true`).open();
    try {
      const events = await sse.waitFor('the initial state', (es) => (es.some((e) => e.event === 'INITIAL_STATE_DONE') ? es : undefined), 30_000);
      const specs = new Map(events.filter((e) => e.event === 'ADDED').map((e) => {
        const object = jsonNumberTexts(e.data).object;
        return [object.metadata.name, object.spec];
      }));
      check('REST SSE', (i) => specs.get(name(i)));
    } finally {
      sse.close();
    }
  });

  it('GraphQL over HTTP: get and list', async () => {
    const got = new Map<number, any>();
    for (const i of VALUES.keys()) {
      const data = await gqlText(JSON.stringify({ query: `{ ${names.get}(namespace: "${readNs}", name: "${name(i)}") { ${select} } }` }));
      got.set(i, data[names.get].spec);
    }
    check('GraphQL get', (i) => got.get(i));
    const data = await gqlText(JSON.stringify({ query: `{ ${names.list}(namespace: "${readNs}") { edges { node { ${select} } } } }` }));
    const nodes = new Map(data[names.list].edges.map((e: any) => [e.node.metadata.name, e.node.spec]));
    check('GraphQL list', (i) => nodes.get(name(i)));
  });

  it('GraphQL relations: owners and children, typed, in one batched answer', async () => {
    // Each value twice in a namespace of its own: own-i, and dep-i owned by own-i.
    const ns = await namespaces.create('exact-rel');
    const owners = `{"apiVersion":"v1","kind":"List","items":[${VALUES.map((v, i) => objectText(`own-${i}`, specText(v.text))).join(',')}]}`;
    const made = await kubectl(['create', '-n', ns, '-f', '-'], { input: owners });
    assert.equal(made.code, 0, made.stderr);
    const got = await kubectl(['get', crdName, '-n', ns, '-o', 'json']);
    assert.equal(got.code, 0, got.stderr);
    const uid = new Map(jsonNumberTexts(got.stdout).items.map((o: any) => [o.metadata.name, o.metadata.uid]));
    const ownedBy = (i: number) => `,"ownerReferences":[{"apiVersion":"${apiVersion}","kind":"Figure","name":"own-${i}","uid":"${uid.get(`own-${i}`)}"}]`;
    const deps = `{"apiVersion":"v1","kind":"List","items":[${VALUES.map((v, i) => objectText(`dep-${i}`, specText(v.text), ownedBy(i))).join(',')}]}`;
    const created = await kubectl(['create', '-n', ns, '-f', '-'], { input: deps });
    assert.equal(created.code, 0, created.stderr);
    const typed = resourceTypeName(gw.gateway.live.resources.find((r) => r.crdName === crdName)!, 'v1', []);
    const data = await gqlText(JSON.stringify({ query: `{ ${names.list}(namespace: "${ns}") { edges { node {
      metadata { name }
      owners { ... on ${typed} { ${select} } }
      children(kind: "Figure", apiVersion: "${apiVersion}") { ... on ${typed} { ${select} } }
    } } } }` }));
    const nodes = new Map<string, any>(data[names.list].edges.map((e: any) => [e.node.metadata.name, e.node]));
    check('GraphQL owners', (i) => { const o = nodes.get(`dep-${i}`).owners; assert.equal(o.length, 1); return o[0].spec; });
    check('GraphQL children', (i) => { const c = nodes.get(`own-${i}`).children; assert.equal(c.length, 1); return c[0].spec; });
  });

  it('GraphQL over WebSocket: a query and a subscription with the initial state', async () => {
    const socket = await RawGraphQLSocket.connect(gw.url.replace(/\/graphql$/, ''));
    try {
      const query = socket.subscribeText(JSON.stringify({ query: `{ ${names.list}(namespace: "${readNs}") { edges { node { ${select} } } } }` }));
      await waitUntil(() => socket.of(query, 'complete').length > 0, 30_000, 'the query result');
      const result = jsonNumberTexts(socket.textsOf(query).find((t) => t.includes('"next"'))!);
      const nodes = new Map(result.payload.data[names.list].edges.map((e: any) => [e.node.metadata.name, e.node.spec]));
      check('GraphQL query over WebSocket', (i) => nodes.get(name(i)));

      const sub = socket.subscribeText(JSON.stringify({
        query: `subscription { ${names.watch}(namespace: "${readNs}", sendInitialEvents: true) { type object { ${select} } } }`,
      }));
      await waitUntil(() => socket.textsOf(sub).some((t) => t.includes('INITIAL_STATE_DONE')), 30_000, 'the initial state over WebSocket');
      const specs = new Map(socket.textsOf(sub).map((t) => jsonNumberTexts(t).payload?.data?.[names.watch]).filter((e) => e?.type === 'ADDED')
        .map((e) => [e.object.metadata.name, e.object.spec]));
      check('GraphQL subscription', (i) => specs.get(name(i)));
    } finally {
      socket.close();
    }
  });
});

describe('numbers written through every gateway path read back by kubectl with the digits of a kubectl write', () => {
  /** Each write path: writes value v as object `name`, returns the spec of its answer. */
  const paths: Record<string, (name: string, v: string) => Promise<any>> = {
    'REST POST JSON': async (name, v) => {
      const r = await http('POST', rest(writeNs), objectText(name, specText(v)));
      assert.equal(r.status, 201, r.text);
      return jsonNumberTexts(r.text).spec;
    },
    'REST POST YAML': async (name, v) => {
      const yaml = `apiVersion: ${apiVersion}\nkind: Figure\nmetadata:\n  name: ${name}\nspec:\n${specYaml(v, '  ')}`;
      const r = await http('POST', rest(writeNs), yaml, 'application/yaml');
      assert.equal(r.status, 201, r.text);
      return jsonNumberTexts(r.text).spec;
    },
    'REST PUT': async (name, v) => {
      const rv = await placeholder(name);
      const r = await http('PUT', rest(writeNs, name), objectText(name, specText(v), `,"resourceVersion":"${rv}"`));
      assert.equal(r.status, 200, r.text);
      return jsonNumberTexts(r.text).spec;
    },
    'REST merge patch': async (name, v) => {
      await placeholder(name);
      const r = await http('PATCH', rest(writeNs, name), `{"spec":${specText(v)}}`, 'application/merge-patch+json');
      assert.equal(r.status, 200, r.text);
      return jsonNumberTexts(r.text).spec;
    },
    'REST JSON patch': async (name, v) => {
      await placeholder(name);
      const r = await http('PATCH', rest(writeNs, name), `[{"op":"add","path":"/spec","value":${specText(v)}}]`, 'application/json-patch+json');
      assert.equal(r.status, 200, r.text);
      return jsonNumberTexts(r.text).spec;
    },
    'REST apply (YAML)': async (name, v) => {
      const yaml = `apiVersion: ${apiVersion}\nkind: Figure\nmetadata:\n  name: ${name}\nspec:\n${specYaml(v, '  ')}`;
      const r = await http('PATCH', `${rest(writeNs, name)}?fieldManager=exact-test`, yaml, 'application/apply-patch+yaml');
      // 201: the apply creates the object, as Kubernetes answers.
      assert.equal(r.status, 201, r.text);
      return jsonNumberTexts(r.text).spec;
    },
    'GraphQL create (variables)': async (name, v) => {
      const data = await gqlText(`{"query":${JSON.stringify(`mutation($input: ${inputType}!) { ${names.create}(namespace: "${writeNs}", input: $input) { ${select} } }`)},`
        + `"variables":{"input":{"metadata":{"name":"${name}"},"spec":${specText(v)}}}}`);
      return data[names.create].spec;
    },
    'GraphQL create (literals)': async (name, v) => {
      const query = `mutation { ${names.create}(namespace: "${writeNs}", input: { metadata: { name: "${name}" }, spec: ${specLiteral(v)} }) { ${select} } }`;
      return (await gqlText(JSON.stringify({ query })))[names.create].spec;
    },
    'GraphQL replace': async (name, v) => {
      const rv = await placeholder(name);
      const data = await gqlText(`{"query":${JSON.stringify(`mutation($input: ${inputType}!) { ${names.replace}(namespace: "${writeNs}", name: "${name}", input: $input) { ${select} } }`)},`
        + `"variables":{"input":{"metadata":{"name":"${name}","resourceVersion":"${rv}"},"spec":${specText(v)}}}}`);
      return data[names.replace].spec;
    },
    'GraphQL MERGE patch': async (name, v) => patchOverGraphQL(name, 'MERGE', `"patch":{"spec":${specText(v)}}`, true),
    'GraphQL JSON patch': async (name, v) => patchOverGraphQL(name, 'JSON', `"ops":[{"op":"add","path":"/spec","value":${specText(v)}}]`, true),
    'GraphQL APPLY patch': async (name, v) => patchOverGraphQL(name, 'APPLY', `"patch":{"spec":${specText(v)}}`, false),
    'GraphQL create over WebSocket': async (name, v) => {
      const socket = await RawGraphQLSocket.connect(origin);
      try {
        const id = socket.subscribeText(`{"query":${JSON.stringify(`mutation($input: ${inputType}!) { ${names.create}(namespace: "${writeNs}", input: $input) { ${select} } }`)},`
          + `"variables":{"input":{"metadata":{"name":"${name}"},"spec":${specText(v)}}}}`);
        await waitUntil(() => socket.of(id, 'complete').length > 0 || socket.of(id, 'error').length > 0, 30_000, 'the mutation over WebSocket');
        const next = jsonNumberTexts(socket.textsOf(id).find((t) => t.includes('"next"')) ?? '{}');
        assert.equal(next.payload?.errors, undefined, socket.textsOf(id).join('\n'));
        return next.payload.data[names.create].spec;
      } finally {
        socket.close();
      }
    },
  };

  async function placeholder(name: string): Promise<string> {
    const r = await http('POST', rest(writeNs), objectText(name, '{}'));
    assert.equal(r.status, 201, r.text);
    return JSON.parse(r.text).metadata.resourceVersion;
  }

  async function patchOverGraphQL(name: string, type: string, variables: string, placeholderFirst: boolean) {
    if (placeholderFirst) await placeholder(name);
    const args = type === 'JSON' ? 'jsonPatch: $ops' : `patch: $patch${type === 'APPLY' ? ', fieldManager: "exact-test"' : ''}`;
    const declared = type === 'JSON' ? '$ops: [JsonPatchOperation!]' : `$patch: ${inputType}`;
    const query = `mutation(${declared}) { ${names.patch}(namespace: "${writeNs}", name: "${name}", type: ${type}, ${args}) { ${select} } }`;
    return (await gqlText(`{"query":${JSON.stringify(query)},"variables":{${variables}}}`))[names.patch].spec;
  }

  it('every path writes every value exactly', async (t) => {
    const answers = new Map<string, any>();
    const objectName = (p: number, i: number) => `p${p}-value-${i}`;
    for (const [p, [, write]] of Object.entries(paths).entries()) {
      for (const [i, v] of VALUES.entries()) answers.set(objectName(p, i), await write(objectName(p, i), v.text));
    }
    const stored = await kubectlRead(writeNs);
    const rows: string[] = [];
    for (const [p, path] of Object.keys(paths).entries()) {
      for (const [i, v] of VALUES.entries()) {
        const want = expected(v.text, v.kubernetes);
        assert.deepEqual(fieldsOf(stored.get(objectName(p, i)), v.text), want, `${path}, ${v.label}: what kubectl reads`);
        assert.deepEqual(fieldsOf(answers.get(objectName(p, i)), v.text), want, `${path}, ${v.label}: the gateway's answer`);
      }
      rows.push(path);
    }
    t.diagnostic(`${rows.length} write paths × ${VALUES.length} values byte-equal to kubectl: ${rows.join('; ')}`);
  });

  it('a float in an integer field is refused by every path, as kubectl refuses it', async () => {
    for (const [field, v] of [['i64', '0.1'], ['ios', '1e21']] as const) {
      const spec = `{"${field}":${v}}`;
      const byKubectl = await kubectl(['create', '-n', writeNs, '-f', '-'], { input: objectText(`refused-${field}`, spec) });
      assert.notEqual(byKubectl.code, 0, `kubectl must refuse ${spec}`);
      const r = await http('POST', rest(writeNs), objectText(`refused-${field}`, spec));
      assert.equal(r.status, 422, r.text);
      assert.equal(JSON.parse(r.text).code, 'INVALID');
      const g = await http('POST', '/graphql', `{"query":${JSON.stringify(`mutation($input: ${inputType}!) { ${names.create}(namespace: "${writeNs}", input: $input) { metadata { name } } }`)},`
        + `"variables":{"input":{"metadata":{"name":"refused-${field}"},"spec":${spec}}}}`);
      assert.equal(g.status, 400, g.text);
      assert.equal(JSON.parse(g.text).errors[0].extensions.code, 'BAD_USER_INPUT', g.text);
    }
    assert.equal((await kubectlRead(writeNs)).has('refused-i64'), false);
  });

  it('YAML is read as kubectl reads it: octal 017, 1_000, 0b101, yes/on/n and merge keys alike', async () => {
    // kubectl (go-yaml) resolves these plain scalars as YAML 1.1 does; YAML 1.2 reads 017 as 17
    // and the others as strings. A manifest must mean the same through the gateway.
    const spec = ['i64: 017', 'ios: 0x1F', 'num: 1_000.5', 'free:', '  base: &base { inherited: 0o17 }', '  merged:', '    <<: *base', '    own: 1',
      ...['a: 017', 'b: 1_000', 'c: 0b101', 'd: on', 'e: yes', 'f: n', 'g: 0X1F', 'h: +0x1F', 'i: -0b11', 'j: 09', 'k: 1:20', 'l: 2001-12-14',
        'm: "017"', 'n: Off', 'o: 0B1', 'p: 1__0', 'q: .5', 'r: 1e3', 'y: [Y, NO, 010]', 'keys: { on: 1, n: 2 }',
        // Explicit YAML 1.1 tags, which the yaml library alone turns into a Buffer, a Set, a Map or a Date.
        'tb: !!binary aGVsbG8=', 'ts: !!set {a, b}', 'to: !!omap [a: 1, b: 2]', 'tt: !!timestamp 2001-12-14t21:59:43.10-05:00'].map((line) => `  ${line}`)];
    const manifest = (name: string) => `apiVersion: ${apiVersion}\nkind: Figure\nmetadata:\n  name: ${name}\n  namespace: ${writeNs}\nspec:\n${spec.map((l) => `  ${l}`).join('\n')}\n`;
    const made = await kubectl(['create', '-f', '-'], { input: manifest('yaml-kubectl') });
    assert.equal(made.code, 0, made.stderr);
    const posted = await http('POST', rest(writeNs), manifest('yaml-rest'), 'application/yaml');
    assert.equal(posted.status, 201, posted.text);
    const applied = await http('PATCH', `${rest(writeNs, 'yaml-apply')}?fieldManager=exact-test`, manifest('yaml-apply'), 'application/apply-patch+yaml');
    assert.equal(applied.status, 201, applied.text);
    const viaGraphQL = await gqlText(JSON.stringify({ query: 'mutation($y: String!) { applyYaml(yaml: $y, fieldManager: "exact-test") { error { message } } }', variables: { y: manifest('yaml-graphql') } }));
    assert.deepEqual(viaGraphQL.applyYaml, [{ error: null }]);
    const stored = await kubectlRead(writeNs);
    const reference = stored.get('yaml-kubectl');
    assert.equal(reference.i64['#'], '15', 'kubectl reads 017 as octal');
    for (const name of ['yaml-rest', 'yaml-apply', 'yaml-graphql']) assert.deepEqual(stored.get(name), reference, name);
  });

  it('YAML written by the gateway reads back in kubectl as the same strings: line separators and controls escaped', async () => {
    const free = { a: '\u2028x', b: 'x\u2029', c: '\u0085y', d: 'x\u2028', e: 'bell\u0007', f: 'on', g: 'plain' };
    const posted = await http('POST', rest(writeNs), objectText('yaml-breaks', JSON.stringify({ free })));
    assert.equal(posted.status, 201, posted.text);
    const yaml = await http('GET', rest(writeNs, 'yaml-breaks'), undefined, undefined, 'application/yaml');
    assert.equal(yaml.status, 200, yaml.text);
    const read = await kubectl(['create', '--dry-run=client', '-o', 'json', '-f', '-'], { input: yaml.text });
    assert.equal(read.code, 0, `${read.stderr}\n${yaml.text}`);
    assert.deepEqual(JSON.parse(read.stdout).spec.free, free, yaml.text);
  });

  it('a GET query reads its variables as a POST body: every digit kept, a number beyond a double refused', async () => {
    // Two objects a double cannot tell apart; a Float variable must pick the one it names.
    for (const [name, text] of [['get-near', '9007199254740992'], ['get-exact', '9007199254740993']]) {
      const r = await http('POST', rest(writeNs), objectText(name, `{"num":${text}}`));
      assert.equal(r.status, 201, r.text);
    }
    const query = `query($n: Float) { ${names.list}(namespace: "${writeNs}", where: { metadata: { name: { prefix: "get-" } }, spec: { num: { eq: $n } } }) { edges { node { metadata { name } } } } }`;
    const get = async (variables: string) => {
      const res = await fetch(`${origin}/graphql?${new URLSearchParams({ query, variables })}`, { headers: { accept: 'application/json', 'apollo-require-preflight': '1' } });
      return { status: res.status, text: await res.text() };
    };
    const exact = await get('{"n":9007199254740993}');
    assert.equal(exact.status, 200, exact.text);
    assert.deepEqual(JSON.parse(exact.text).data[names.list].edges.map((e: any) => e.node.metadata.name), ['get-exact'], exact.text);
    const beyond = await get('{"n":1e400}');
    assert.equal(beyond.status, 400, beyond.text);
    const error = JSON.parse(beyond.text).errors[0];
    assert.equal(error.extensions.code, 'BAD_REQUEST', beyond.text);
    assert.match(error.message, /1e400/);
  });

  it('a 32-bit Int argument refuses an integer beyond 2^53 instead of rounding it', async () => {
    const r = await http('POST', '/graphql', `{"query":${JSON.stringify(`query($n: Int) { ${names.list}(namespace: "${writeNs}", limit: $n) { edges { cursor } } }`)},"variables":{"n":9007199254740993}}`);
    assert.equal(r.status, 400, r.text);
    const error = JSON.parse(r.text).errors[0];
    assert.equal(error.extensions.code, 'BAD_USER_INPUT', r.text);
    assert.match(error.message, /9007199254740993/, 'the message shows the number as sent');
  });
});

describe('objects nested thousands of levels deep (Kubernetes stores up to 10,000)', () => {
  const levels = 3_000;
  const leaf = '9223372036854775807';
  /** The object's spec as text: free.a.a.….a = [2^63 − 1], `levels` objects deep. */
  const deepSpec = `{"free":${'{"a":'.repeat(levels)}[${leaf}]${'}'.repeat(levels)}}`;
  let deepNs: string;

  before(async () => {
    deepNs = await namespaces.create('exact-deep');
    // Written past the gateway (which refuses client JSON nested deeper than 1,000 levels), as
    // any other client of the apiserver may write it.
    const created = await kubectl(['create', '-n', deepNs, '-f', '-'], { input: objectText('deep', deepSpec) });
    assert.equal(created.code, 0, created.stderr);
  });

  it('do not break the shared watch, lists or reads of the collection: served with every digit', async () => {
    const sse = await new SseClient(`${origin}/rest/${group}/v1/figures?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true`).open();
    try {
      const events = await sse.waitFor('the initial state', (es) => (es.some((e) => e.event === 'INITIAL_STATE_DONE' || e.event === 'ERROR') ? es : undefined), 30_000);
      const deep = events.find((e) => e.event === 'ADDED' && e.data.includes('"name":"deep"'));
      assert.ok(deep, `the deep object in the initial state: ${events.map((e) => e.event).join(', ')}`);
      assert.ok(deep.data.includes(`${'{"a":'.repeat(levels)}[${leaf}]`), 'every level and every digit');
    } finally {
      sse.close();
    }
    const list = await http('GET', rest(deepNs));
    assert.equal(list.status, 200, list.text.slice(0, 300));
    assert.ok(list.text.includes(`[${leaf}]${'}'.repeat(levels)}`));
    const get = await http('POST', '/graphql', JSON.stringify({ query: `{ ${names.get}(namespace: "${deepNs}", name: "deep") { spec { free } } }` }));
    assert.equal(get.status, 200, get.text.slice(0, 300));
    assert.ok(get.text.includes(`${'{"a":'.repeat(levels)}[${leaf}]`), get.text.slice(0, 300));
  });

  it('client JSON nested deeper than 1,000 levels is refused with 400, naming the bound', async () => {
    const nested = (n: number) => `{"free":${'{"a":'.repeat(n - 1)}1${'}'.repeat(n - 1)}}`;
    const refused = await http('POST', rest(deepNs), objectText('too-deep', nested(1_001)));
    assert.equal(refused.status, 400, refused.text.slice(0, 300));
    assert.match(refused.text, /nested more than 1000 levels deep/);
    const viaGraphql = await http('POST', '/graphql', `{"query":${JSON.stringify(`mutation($s: JSON) { ${names.create}(namespace: "${deepNs}", input: { metadata: { name: "too-deep" }, spec: { free: $s } }) { metadata { name } } }`)},"variables":{"s":${nested(1_001)}}}`);
    assert.equal(viaGraphql.status, 400, viaGraphql.text.slice(0, 300));
    assert.match(viaGraphql.text, /nested more than 1000 levels deep/);
  });
});
