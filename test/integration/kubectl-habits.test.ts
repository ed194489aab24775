// kubectl habits in GraphQL, against the real apiserver: each object's `yaml` field is what
// `kubectl get -o yaml` shows (every digit of an int64 included); `applyYaml` applies several YAML
// documents by server-side apply, each with its own result, the bad ones beside the good; and
// `resourcesInCategory` lists a category's kinds with list fields that work.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { parse as parseYamlText } from 'yaml';
import { parseYaml } from '../../src/kube/lossless-json.ts';
import { gql, gqlData, startGateway, type RunningGateway } from '../helpers/graphql-client.ts';
import { kubeConfigFor, kubectl, uniqueName } from '../helpers/test-cluster.ts';
import { testNamespaces } from '../helpers/test-namespaces.ts';

const namespaces = testNamespaces();
let ns: string;
let gw: RunningGateway;
const cct = uniqueName('habits-cct');

before(async () => {
  ns = await namespaces.create('habits');
  gw = await startGateway(kubeConfigFor('admin'));
});
after(async () => {
  await gw?.stop();
  await kubectl(['delete', 'clustercrontab', cct, '--ignore-not-found', '--wait=false']);
  await namespaces.deleteAll();
});

const APPLY = `mutation Apply($yaml: String!, $dryRun: Boolean) {
  applyYaml(yaml: $yaml, fieldManager: "habits-test", dryRun: $dryRun) {
    index apiVersion kind namespace name object yaml error { code message } } }`;

interface Result { index: number; kind: string | null; name: string | null; object: any; yaml: string | null; error: { code: string; message: string } | null }

test('applyYaml: each document applied on its own; bad YAML, an unserved kind and a refused object get their own errors', async () => {
  const yaml = `apiVersion: stable.example.com/v1
kind: CronTab
metadata: { name: first, namespace: ${ns} }
spec: { cronSpec: "* * * * *", image: "example/first:1", replicas: 2 }
---
kind: [this is not closed
---
apiVersion: v1
kind: ConfigMap
metadata: { name: not-a-custom-resource, namespace: ${ns} }
---
apiVersion: stable.example.com/v1
kind: ClusterCronTab
metadata: { name: ${cct}-refused }
spec: { cronSpec: "* * * * *", concurrencyPolicy: Sometimes }
---
apiVersion: stable.example.com/v1
kind: CronTab
metadata: { name: no-namespace }
---
apiVersion: stable.example.com/v1
kind: ClusterCronTab
metadata: { name: ${cct} }
spec: { cronSpec: "0 1 * * *", image: "example/int64:1", targets: [{ name: max, weight: 9223372036854775807 }] }
`;
  const { applyYaml } = await gqlData<{ applyYaml: Result[] }>(gw.url, APPLY, { yaml });
  assert.deepEqual(applyYaml.map((r) => [r.index, r.error?.code ?? 'ok']),
    [[0, 'ok'], [1, 'BAD_USER_INPUT'], [2, 'BAD_USER_INPUT'], [3, 'INVALID'], [4, 'BAD_USER_INPUT'], [5, 'ok']]);
  assert.equal(applyYaml[0]!.object.spec.replicas, 2);
  assert.match(applyYaml[1]!.error!.message, /not valid YAML/);
  assert.match(applyYaml[2]!.error!.message, /ConfigMap v1 is not a custom resource this API serves/);
  assert.match(applyYaml[3]!.error!.message, /concurrencyPolicy/);
  assert.match(applyYaml[4]!.error!.message, /namespaced: the document needs metadata.namespace/);
  assert.match(applyYaml[5]!.yaml!, /weight: 9223372036854775807\n/);
  // Applied as the field manager given, really there; the refused ones are not.
  const got = await kubectl(['get', 'crontab', 'first', '-n', ns, '-o', 'jsonpath={.metadata.managedFields[0].manager} {.spec.replicas}']);
  assert.equal(got.stdout, 'habits-test 2');
  assert.notEqual((await kubectl(['get', 'clustercrontab', `${cct}-refused`])).code, 0);
});

test('applyYaml: dryRun answers without persisting; an empty text and too many documents are refused as a whole', async () => {
  const yaml = `apiVersion: stable.example.com/v1\nkind: CronTab\nmetadata: { name: dry, namespace: ${ns} }\nspec: { cronSpec: "* * * * *" }\n`;
  const { applyYaml } = await gqlData<{ applyYaml: Result[] }>(gw.url, APPLY, { yaml, dryRun: true });
  assert.equal(applyYaml[0]!.error, null);
  assert.equal(applyYaml[0]!.name, 'dry');
  assert.notEqual((await kubectl(['get', 'crontab', 'dry', '-n', ns])).code, 0, 'a dry run persists nothing');
  const empty = await gql(gw.url, APPLY, { yaml: '---\n' });
  assert.equal(empty.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
  const many = await gql(gw.url, APPLY, { yaml: Array.from({ length: 51 }, (_, i) => `kind: K\nmetadata: { name: n${i} }`).join('\n---\n') });
  assert.equal(many.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
  assert.match(many.errors![0]!.message, /51 documents; at most 50/);
});

test('the yaml field is what kubectl get -o yaml shows, every digit included', async () => {
  await gqlData(gw.url, APPLY, { yaml: `apiVersion: stable.example.com/v1\nkind: ClusterCronTab\nmetadata: { name: ${cct} }\nspec: { cronSpec: "0 1 * * *", targets: [{ name: max, weight: 9223372036854775807 }] }\n` });
  const data = await gqlData<{ clusterCronTab_stable_example_com: { yaml: string } }>(gw.url,
    `{ clusterCronTab_stable_example_com(name: "${cct}") { yaml } }`);
  const ours = data.clusterCronTab_stable_example_com.yaml;
  const theirs = await kubectl(['get', 'clustercrontab', cct, '-o', 'yaml']);
  assert.equal(theirs.code, 0, theirs.stderr);
  assert.deepEqual(parseYaml(ours), parseYaml(theirs.stdout));
  assert.match(ours, /weight: 9223372036854775807\n/);
  assert.doesNotMatch(ours, /managedFields/);
  // Keys in kubectl's order (sorted), so the two texts read alike.
  assert.deepEqual(Object.keys(parseYamlText(ours) as object), Object.keys(parseYamlText(theirs.stdout) as object));
});

test('the yaml field and REST YAML read back in kubectl as the same object, strings YAML 1.1 would retype included', async () => {
  // kubectl (sigs.k8s.io/yaml) and most YAML parsers read YAML 1.1, where yes, on, y, Off, 1_000,
  // 0b101, 12:30:00 and 2026-12-05 are no strings unless quoted; kubectl get -o yaml quotes them.
  const strings = { a: 'yes', b: 'on', c: 'y', d: 'Off', e: '1_000', f: '0b101', g: '12:30:00', h: '2026-12-05', n: 'no', i: '0777', j: '~' };
  const created = await gqlData<{ createCronTab_stable_example_com: { metadata: { name: string } } }>(gw.url,
    `mutation($ns: String!, $in: CronTab_v1_stable_example_com_Input!) { createCronTab_stable_example_com(namespace: $ns, input: $in) { metadata { name } } }`,
    { ns, in: { metadata: { name: 'yaml11', annotations: strings }, spec: { cronSpec: 'yes', image: '2026-12-05T01:45:04Z' } } });
  assert.equal(created.createCronTab_stable_example_com.metadata.name, 'yaml11');
  const data = await gqlData<{ cronTab_stable_example_com: { yaml: string } }>(gw.url, `{ cronTab_stable_example_com(namespace: "${ns}", name: "yaml11") { yaml } }`);
  const rest = await fetch(`${gw.url.replace(/\/graphql$/, '')}/rest/stable.example.com/v1/namespaces/${ns}/crontabs/yaml11`, { headers: { accept: 'application/yaml' } });
  assert.equal(rest.status, 200);
  for (const [from, text] of [['the yaml field', data.cronTab_stable_example_com.yaml], ['REST', await rest.text()]] as const) {
    // What kubectl makes of the text: the object as JSON, without sending it anywhere.
    const read = await kubectl(['create', '--dry-run=client', '-o', 'json', '-f', '-'], { input: text });
    assert.equal(read.code, 0, `${from}: ${read.stderr}`);
    const object = JSON.parse(read.stdout) as { metadata: { annotations: Record<string, string> }; spec: Record<string, unknown> };
    assert.deepEqual(object.metadata.annotations, strings, from);
    assert.deepEqual([object.spec['cronSpec'], object.spec['image']], ['yes', '2026-12-05T01:45:04Z'], from);
  }
});

test('resourcesInCategory lists the kinds of a category with list fields that work', async () => {
  const data = await gqlData<{ resourcesInCategory: { kind: string; listField: string; versions: { name: string; listField: string | null }[] }[]; all: { kind: string }[] }>(gw.url,
    '{ resourcesInCategory(category: "crdgate-examples") { kind listField versions { name listField } } all: resourcesInCategory(category: "all") { kind } }');
  assert.deepEqual(data.resourcesInCategory.map((r) => [r.kind, r.listField]), [['ClusterCronTab', 'clusterCronTabList_stable_example_com']]);
  assert.deepEqual(data.resourcesInCategory[0]!.versions.map((v) => v.listField), ['clusterCronTabList_v1_stable_example_com']);
  // CronTab declares no categories: not in `all` (kubectl get all leaves it out too).
  assert.ok(!data.all.some((r) => r.kind === 'CronTab'));
  const listed = await gqlData<Record<string, { edges: { node: { metadata: { name: string } } }[] }>>(gw.url,
    `{ ${data.resourcesInCategory[0]!.listField} { edges { node { metadata { name } } } } }`);
  assert.ok(Object.values(listed)[0]!.edges.length > 0);
});

test('YAML the gateway writes reads back in kubectl as the same strings (YAML 1.1 readers included)', async () => {
  // kubectl, client-go and PyYAML read YAML 1.1: unquoted on, y, 017, 1_000, 0b1, 0X1F or 1:20
  // are booleans and numbers there. Each must come out quoted, as kubectl's own YAML has it.
  const texts = ['on', 'Off', 'yes', 'NO', 'y', 'n', '~', '017', '09', '1_000', '0b1', '0B1', '0X1F', '0O17', '+0x1F', '1:20', '2001-12-14', '.5', '1.', '1e3', '<<'];
  const annotations = Object.fromEntries(texts.map((t, i) => [`k${i}`, t]));
  for (const key of ['y', 'n', 'on', 'NO']) annotations[key] = key;
  const name = uniqueName('yaml-strings');
  const object = { apiVersion: 'stable.example.com/v1', kind: 'CronTab', metadata: { name, namespace: ns, annotations }, spec: { cronSpec: '* * * * *' } };
  const created = await kubectl(['create', '-f', '-'], { input: JSON.stringify(object) });
  assert.equal(created.code, 0, created.stderr);
  const origin = gw.url.replace(/\/graphql$/, '');
  const rest = await fetch(`${origin}/rest/stable.example.com/v1/namespaces/${ns}/crontabs/${name}`, { headers: { accept: 'application/yaml' } });
  assert.equal(rest.status, 200);
  const field = await gqlData<{ cronTab_stable_example_com: { yaml: string } }>(gw.url, `{ cronTab_stable_example_com(namespace: "${ns}", name: "${name}") { yaml } }`);
  for (const [path, yaml] of [['REST as YAML', await rest.text()], ['the yaml field', field.cronTab_stable_example_com.yaml]] as const) {
    // kubectl's own reading of the text: what it would send if a user applied it.
    const read = await kubectl(['create', '--dry-run=client', '-o', 'json', '-f', '-'], { input: yaml });
    assert.equal(read.code, 0, `${path}: ${read.stderr}`);
    assert.deepEqual(JSON.parse(read.stdout).metadata.annotations, annotations, `${path}:\n${yaml}`);
  }
});
