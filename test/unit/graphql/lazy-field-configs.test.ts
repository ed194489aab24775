// The field configs of the types made for each CRD (descriptions, resolvers, input fields) are
// made when something first reads a type's fields, not at start: at 1,000 CRDs there are ~200,000
// of them. A trusted build, the lookups of known names, the type map's collection, the walk that
// prepares the next change and the tenant views' preparation read only the fields' types, which the
// types declare beside their configs. Starting the gateway and serving a CRD's documents makes the
// configs of the types those documents reach, and no others. Each test fails if a path makes them all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { getNamedType, isEnumType, isInputObjectType, isObjectType, printSchema } from 'graphql';
import type { GraphQLEnumType, GraphQLInputObjectType, GraphQLObjectType, GraphQLType } from 'graphql';
import request from 'supertest';
import { parse } from 'yaml';
import { parseCrdText } from '../../../src/cli/crd-documents.ts';
import { createSchemaBuilder } from '../../../src/graphql/schema-builder.ts';
import { fieldConfigsMadeCount, fieldTypeOf, forEachReference, knownTypesOf } from '../../../src/graphql/lazy-schema.ts';
import { prepareTenantViews } from '../../../src/graphql/tenant-schema.ts';
import { crdToModel } from '../../../src/model/crd-to-model.ts';
import type { ResourceModel } from '../../../src/model/resource-model.ts';
import { createApp } from '../../../src/transports/create-app.ts';
import { attachWebSocket } from '../../../src/transports/graphql-ws-server.ts';
import { SchemaGateway } from '../../../src/transports/schema-gateway.ts';
import { corpusAvailable, corpusDir, crdFiles } from '../../helpers/crd-corpus.ts';
import { InMemoryOperations } from '../in-memory-operations.ts';

const example = (file: string) => crdToModel(parse(readFileSync(fileURLToPath(new URL(`../../../deploy/examples/${file}`, import.meta.url)), 'utf8')));

function corpusModels(): ResourceModel[] {
  const models: ResourceModel[] = [];
  const names = new Set<string>();
  for (const path of crdFiles(corpusDir)) {
    for (const found of parseCrdText(path, readFileSync(path, 'utf8'))) {
      if ('model' in found && !names.has(found.model.crdName)) {
        names.add(found.model.crdName);
        models.push(found.model);
      }
    }
  }
  return models;
}

/** The example CronTab CRDs and every CRD of the corpus, in one schema. */
function manyModels(): ResourceModel[] {
  return [example('crontab-crd.yaml'), example('clustercrontab-crd.yaml'), ...corpusModels()];
}

const FILTER_INPUT = /_(Where|Filter|ListFilter|EntryFilter|OrderBy)$/;

test('a trusted build, lookups, the collection, the next change\'s preparation and the tenant views make no field config', (t) => {
  if (!corpusAvailable(t)) return;
  const builder = createSchemaBuilder({ operations: new InMemoryOperations(), assumeValid: true });
  const models = manyModels();
  const before = fieldConfigsMadeCount();
  const { schema } = builder.build(models);
  assert.equal(fieldConfigsMadeCount() - before, 0, 'the build makes none');
  const known = knownTypesOf(schema)!;
  assert.ok(known.size > 30_000, `a schema of the whole corpus (${known.size} types)`);
  for (const name of known.keys()) assert.equal(schema.getType(name)?.name, name);
  assert.equal(fieldConfigsMadeCount() - before, 0, 'lookups make none');
  builder.prepareIncremental();
  const collected = Object.keys(schema.getTypeMap()).length;
  const afterPreparation = fieldConfigsMadeCount() - before;
  prepareTenantViews(schema);
  const afterTenants = fieldConfigsMadeCount() - before;
  // The filter inputs' fields (Where, _Filter, _ListFilter) are still made by these walks; every
  // object, input and map entry type of the CRDs' own fields is not.
  const whereLike = Object.values(schema.getTypeMap()).filter((type) => FILTER_INPUT.test(type.name)).length;
  assert.ok(afterPreparation <= whereLike, `the preparation made ${afterPreparation} configs; at most the ${whereLike} filter inputs`);
  assert.equal(afterTenants, afterPreparation, 'the tenant views make none');
  assert.ok(collected > known.size - 10);
  // A change (one CRD less) patches the schema from what the preparation computed: no config either.
  assert.equal(builder.build(models.slice(0, -1)).schema !== schema && builder.lastBuild, 'patched');
  assert.equal(fieldConfigsMadeCount() - before, afterTenants, 'a change makes none');
});

test('the shortcuts give exactly the types of the fields configs', (t) => {
  if (!corpusAvailable(t)) return;
  const { schema } = createSchemaBuilder({ assumeValid: true }).build(manyModels());
  // The object, input and map entry types of the CRDs' fields (the filter inputs declare thunks without shortcuts).
  const types = [...knownTypesOf(schema)!.values()].filter(
    (type): type is GraphQLObjectType | GraphQLInputObjectType => (isObjectType(type) || isInputObjectType(type)) && !FILTER_INPUT.test(type.name),
  );
  const before = fieldConfigsMadeCount();
  // Read before any config is made.
  const early = types.map((type) => {
    const found: GraphQLType[] = [];
    forEachReference(type, (ref) => found.push(ref));
    return found;
  });
  assert.equal(fieldConfigsMadeCount(), before, 'reading the references makes no config');
  let fields = 0;
  types.forEach((type, i) => {
    const expected: GraphQLType[] = isObjectType(type) ? [...type.getInterfaces()] : [];
    for (const field of Object.values(type.getFields())) {
      expected.push(field.type);
      if ('args' in field) for (const arg of field.args) expected.push(arg.type);
      if (isObjectType(type)) assert.equal(fieldTypeOf(type, field.name), field.type, `${type.name}.${field.name}`);
      fields++;
    }
    const refs = early[i]!;
    assert.equal(refs.length, expected.length, `${type.name}: as many references as the config has`);
    refs.forEach((ref, at) => assert.equal(getNamedType(ref), getNamedType(expected[at]!), `${type.name}: reference ${at}`));
  });
  assert.ok(types.length > 20_000 && fields > 100_000, `${types.length} types, ${fields} fields`);
  assert.ok(fieldConfigsMadeCount() - before > types.length / 2, 'the configs were made by getFields');
});

test('a started gateway makes the configs of the types its documents reach, and no others', async (t) => {
  if (!corpusAvailable(t)) return;
  const builder = createSchemaBuilder({ operations: new InMemoryOperations(), assumeValid: true });
  const before = fieldConfigsMadeCount();
  const { schema } = builder.build(manyModels());
  const gateway = new SchemaGateway(schema);
  const { app, stop } = await createApp({ gateway, readiness: () => ({ ready: true, reasons: [] }), explorer: false });
  const server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const ws = attachWebSocket(server, { path: '/graphql', schema: () => gateway.current });
  try {
    assert.equal(fieldConfigsMadeCount() - before, 0, 'starting makes none');
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const created = await request(url).post('/graphql').send({
      query: 'mutation New($ns: String!, $input: CronTab_v1_stable_example_com_Input!) { createCronTab_stable_example_com(namespace: $ns, input: $input) { metadata { name } spec { replicas } yaml } }',
      variables: { ns: 'default', input: { metadata: { name: 'one' }, spec: { cronSpec: '* * * * *', image: 'img', replicas: 2 } } },
    });
    assert.equal(created.body.data?.createCronTab_stable_example_com?.spec?.replicas, 2, JSON.stringify(created.body));
    const listed = await request(url).post('/graphql').send({
      query: 'query List($where: CronTab_v1_stable_example_com_Where) { cronTabList_stable_example_com(namespace: "default", where: $where) { edges { node { metadata { name } } } } }',
      variables: { where: { spec: { replicas: { eq: 2 } } } },
    });
    assert.deepEqual(listed.body, { data: { cronTabList_stable_example_com: { edges: [{ node: { metadata: { name: 'one' } } }] } } });
    const made = fieldConfigsMadeCount() - before;
    assert.ok(made > 0 && made <= 8, `serving CronTab documents made ${made} configs (CronTab's own types)`);
  } finally {
    await ws.close();
    server.close();
    await stop();
  }
  // Printing the schema makes every config, and gives graphql-js' SDL of them.
  assert.ok(printSchema(schema).includes('  spec: CronTab_Spec_v1_stable_example_com\n  status: CronTab_Status_v1_stable_example_com\n'));
  assert.ok(fieldConfigsMadeCount() - before > 30_000);
});

test('a trusted build defines enum values when first read; a checked build at once, as graphql-js refuses bad names while defining', () => {
  // graphql 16 keeps an enum's values config as given until getValues() (its `_values`).
  const valuesDefined = (type: GraphQLEnumType) => typeof (type as unknown as { _values: unknown })._values !== 'function';
  const models = [example('crontab-crd.yaml'), example('clustercrontab-crd.yaml')];
  const trusted = createSchemaBuilder({ assumeValid: true }).build(models).schema;
  const enums = [...knownTypesOf(trusted)!.values()].filter((type): type is GraphQLEnumType => isEnumType(type) && type.name.includes('stable_example_com'));
  assert.ok(enums.length >= 2, enums.map((e) => e.name).join());
  for (const type of enums) assert.ok(!valuesDefined(type), `${type.name}: values not defined by the build`);
  const orderField = trusted.getType('CronTab_v1_stable_example_com_OrderField') as GraphQLEnumType;
  assert.ok(orderField.getValues().some((value) => value.name === 'spec_replicas'));
  assert.ok(valuesDefined(orderField));
  const checked = createSchemaBuilder().build(models).schema;
  for (const type of Object.values(checked.getTypeMap())) if (isEnumType(type)) assert.ok(valuesDefined(type), `${type.name}: defined by a checked build`);
});

