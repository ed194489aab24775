// resourcesInCategory and applyYaml in a tenant's schema: a category lists only the kinds the
// tenant may list; applyYaml exists only for a tenant that may patch something, and treats the
// kinds it may not patch as kinds the API does not serve (their existence is not revealed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { graphql } from 'graphql';
import { parse } from 'yaml';
import type { AccessRights, ResourceRef, Verb } from '../../../src/contract/access.ts';
import { createSchemaBuilder } from '../../../src/graphql/schema-builder.ts';
import { TenantSchemaCache } from '../../../src/graphql/tenant-schema.ts';
import { crdToModel } from '../../../src/model/crd-to-model.ts';
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
