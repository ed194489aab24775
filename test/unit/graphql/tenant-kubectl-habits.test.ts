// resourcesInCategory and applyYaml in a tenant's schema: a category lists only the kinds the
// tenant may list; applyYaml exists only for a tenant that may patch something, and treats the
// kinds it may not patch as kinds the API does not serve (their existence is not revealed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { graphql, parse as parseGraphQL } from 'graphql';
import { parse } from 'yaml';
import type { AccessRights, ResourceRef, Verb } from '../../../src/contract/access.ts';
import { createSchemaBuilder } from '../../../src/graphql/schema-builder.ts';
import { TenantSchemaCache } from '../../../src/graphql/tenant-schema.ts';
import { crdToModel } from '../../../src/model/crd-to-model.ts';
import { operationCost } from '../../../src/plugins/query-limits.ts';
import { InMemoryOperations } from '../in-memory-operations.ts';

const crd = (file: string) => crdToModel(parse(readFileSync(fileURLToPath(new URL(`../../../deploy/examples/${file}`, import.meta.url)), 'utf8')));
const models = [crd('crontab-crd.yaml'), crd('clustercrontab-crd.yaml')];

/** Rights as a list of "verb plural" grants, anywhere. */
function rights(...grants: string[]): AccessRights {
  return {
    anywhere: (verb: Verb, ref: ResourceRef, sub?: string) => sub === undefined && grants.includes(`${verb} ${ref.plural}`),
    fingerprint: () => grants.join(','),
  };
}

const operations = new InMemoryOperations();
const full = createSchemaBuilder({ operations }).build(models);
const schemaFor = (r: AccessRights) => new TenantSchemaCache().get(full.schema, full.resources, r).schema;
const run = async (r: AccessRights, source: string) => JSON.parse(JSON.stringify(await graphql({ schema: schemaFor(r), source }))) as { data?: unknown; errors?: unknown };

test('a category lists only the kinds the tenant may list', async () => {
  const category = '{ resourcesInCategory(category: "crdgate-examples") { kind listField } }';
  assert.deepEqual((await run(rights('list clustercrontabs'), category)).data, { resourcesInCategory: [{ kind: 'ClusterCronTab', listField: 'clusterCronTabList_stable_example_com' }] });
  // Seeing the kind (get) is not listing it: kubectl get <category> lists.
  assert.deepEqual((await run(rights('get clustercrontabs', 'list crontabs'), category)).data, { resourcesInCategory: [] });
});

test('applyYaml only with a patch right, and only for the kinds the tenant may patch', async () => {
  assert.equal(schemaFor(rights('get crontabs', 'create crontabs')).getMutationType()?.getFields()['applyYaml'], undefined);
  const apply = `mutation { applyYaml(fieldManager: "t", yaml: """
apiVersion: stable.example.com/v1
kind: ClusterCronTab
metadata: { name: hidden }
---
apiVersion: stable.example.com/v1
kind: CronTab
metadata: { name: mine, namespace: team }
spec: { cronSpec: "* * * * *" }
""") { index error { code message } } }`;
  const result = await run(rights('patch crontabs'), apply);
  assert.equal(result.errors, undefined, JSON.stringify(result.errors));
  assert.deepEqual(result.data, { applyYaml: [
    { index: 0, error: { code: 'BAD_USER_INPUT', message: 'ClusterCronTab stable.example.com/v1 is not a custom resource this API serves to you' } },
    { index: 1, error: null },
  ] });
  const call = operations.lastCall();
  assert.equal(call.operation, 'patch');
  assert.deepEqual([call.request.namespace, call.request.name, call.request.args.patchType, call.request.args.fieldManager], ['team', 'mine', 'application/apply-patch+yaml', 't']);
});

test('applyYaml: its documents count in the cost, and one operation applies at most 50 in all, however many aliases', async () => {
  const doc = (i: number) => `apiVersion: stable.example.com/v1\nkind: CronTab\nmetadata: { name: c${i}, namespace: team }\nspec: { cronSpec: "* * * * *" }\n`;
  const yaml = (n: number) => Array.from({ length: n }, (_, i) => doc(i)).join('---\n');
  const schema = schemaFor(rights('patch crontabs'));
  const mutation = (aliases: number) => `mutation($y: String!) { ${Array.from({ length: aliases }, (_, i) => `a${i}: applyYaml(fieldManager: "t", yaml: $y) { index error { code } }`).join(' ')} }`;
  const costOf = (aliases: number, n: number) => operationCost(schema, parseGraphQL(mutation(aliases)), undefined, { y: yaml(n) }, { defaultPageSize: 100, subscriptionCostFactor: 10 });
  // Per alias: the field, and its selection of index, error and error's code once per document.
  assert.equal(costOf(1, 1), 1 + 3);
  assert.equal(costOf(1, 50), 1 + 50 * 3);
  assert.equal(costOf(15, 50), 15 * (1 + 50 * 3));
  // A List's items are documents too: one such text costs as many as a call applies.
  const list = `apiVersion: v1\nkind: List\nitems:\n${Array.from({ length: 3 }, (_, i) => `  - { apiVersion: stable.example.com/v1, kind: CronTab, metadata: { name: i${i} } }`).join('\n')}\n`;
  assert.equal(operationCost(schema, parseGraphQL(mutation(1)), undefined, { y: list }, { defaultPageSize: 100, subscriptionCostFactor: 10 }), 1 + 50 * 3);
  const calls = () => operations.calls.filter((c) => c.operation === 'patch').length;
  const before = calls();
  const within = JSON.parse(JSON.stringify(await graphql({ schema, source: mutation(2), variableValues: { y: yaml(25) }, contextValue: {} })));
  assert.equal(within.errors, undefined, JSON.stringify(within.errors));
  assert.equal(calls() - before, 50);
  const over = JSON.parse(JSON.stringify(await graphql({ schema, source: mutation(3), variableValues: { y: yaml(25) }, contextValue: {} })));
  assert.equal(over.errors, undefined, JSON.stringify(over.errors));
  assert.equal(calls() - before, 100, 'the third alias applied nothing');
  assert.deepEqual([...over.data.a0, ...over.data.a1].map((r: { error: unknown }) => r.error), Array(50).fill(null));
  assert.equal(over.data.a2.length, 25);
  for (const r of over.data.a2) assert.deepEqual(r.error, { code: 'BAD_USER_INPUT' });
  const message = JSON.parse(JSON.stringify(await graphql({ schema, source: `mutation($y: String!) { a: applyYaml(fieldManager: "t", yaml: $y) { index } b: applyYaml(fieldManager: "t", yaml: $y) { error { message } } }`,
    variableValues: { y: yaml(30) }, contextValue: {} })));
  assert.match(message.data.b[20].error.message, /^not applied: this operation's applyYaml fields hold more than 50 documents in all/);
  assert.equal(message.data.b[19].error, null);
});

test('applyYaml: a List stands for its items, as kubectl applies them', async () => {
  const schema = schemaFor(rights('patch crontabs'));
  const yaml = `apiVersion: v1
kind: List
items:
  - { apiVersion: stable.example.com/v1, kind: CronTab, metadata: { name: l1, namespace: team }, spec: { cronSpec: "* * * * *" } }
  - { apiVersion: stable.example.com/v1, kind: CronTab, metadata: { name: l2, namespace: team }, spec: { cronSpec: "* * * * *" } }
---
apiVersion: stable.example.com/v1
kind: CronTabList
items:
  - { apiVersion: stable.example.com/v1, kind: CronTab, metadata: { name: l3, namespace: team }, spec: { cronSpec: "* * * * *" } }
`;
  const result = JSON.parse(JSON.stringify(await graphql({ schema, source: 'mutation($y: String!) { applyYaml(fieldManager: "t", yaml: $y) { index name error { message } } }', variableValues: { y: yaml }, contextValue: {} })));
  assert.equal(result.errors, undefined, JSON.stringify(result.errors));
  assert.deepEqual(result.data.applyYaml, [{ index: 0, name: 'l1', error: null }, { index: 1, name: 'l2', error: null }, { index: 2, name: 'l3', error: null }]);
});
