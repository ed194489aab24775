// A tenant's schema is a view of the full schema: getType answers from lookups prepared once per
// full schema, and graphql-js' type map and interface implementations are collected only when
// first read. Each answer must be the one of the schema graphql-js builds from the tenant's roots,
// and validating or running a document must not collect anything.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  execute, getNamedType, GraphQLInterfaceType, GraphQLObjectType, GraphQLSchema, GraphQLString, introspectionFromSchema, parse as parseDocument,
  printSchema, validate,
} from 'graphql';
import { parse } from 'yaml';
import type { AccessRights, ResourceRef, Verb } from '../../../src/contract/access.ts';
import { createSchemaBuilder } from '../../../src/graphql/schema-builder.ts';
import { allowedRootFields, filterSchema, TenantSchemaCache } from '../../../src/graphql/tenant-schema.ts';
import { isCollected } from '../../../src/graphql/lazy-schema.ts';
import { validateDocument } from '../../../src/graphql/document-validation.ts';
import { GENERIC_OBJECT } from '../../../src/graphql/relation-types.ts';
import { rootFieldNames } from '../../../src/model/graphql-type-names.ts';
import { crdToModel } from '../../../src/model/crd-to-model.ts';
import { InMemoryOperations } from '../in-memory-operations.ts';

const crd = (file: string) => crdToModel(parse(readFileSync(fileURLToPath(new URL(`../../../deploy/examples/${file}`, import.meta.url)), 'utf8')));
const models = [crd('crontab-crd.yaml'), crd('clustercrontab-crd.yaml')];
const operations = new InMemoryOperations();

/** Rights as a list of "verb plural" grants, anywhere (subresources with "verb plural/sub"). */
function rights(...grants: string[]): AccessRights {
  return {
    anywhere: (verb: Verb, ref: ResourceRef, sub?: string) => grants.includes(sub === undefined ? `${verb} ${ref.plural}` : `${verb} ${ref.plural}/${sub}`),
    fingerprint: () => grants.join(','),
  };
}

const cases: [string, AccessRights][] = [
  ['reads crontabs', rights('get crontabs', 'list crontabs', 'watch crontabs')],
  ['creates crontabs only', rights('create crontabs')],
  ['lists cluster crontabs', rights('list clustercrontabs')],
  ['patches both, reads one', rights('patch crontabs', 'patch clustercrontabs', 'get clustercrontabs')],
  ['everything', rights(...['get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection'].flatMap((v) => [`${v} crontabs`, `${v} clustercrontabs`]), 'update crontabs/status', 'get crontabs/scale', 'update crontabs/scale')],
];

function rebuiltFrom(tenant: GraphQLSchema): GraphQLSchema {
  return new GraphQLSchema({
    query: tenant.getQueryType(),
    mutation: tenant.getMutationType(),
    subscription: tenant.getSubscriptionType(),
    types: [tenant.getType(GENERIC_OBJECT)!],
  });
}

for (const trusted of [true, false]) {
  const full = createSchemaBuilder({ operations, assumeValid: trusted }).build(models);
  const names = [...Object.keys(full.schema.getTypeMap()), 'Nope', 'constructor', '__proto__', 'hasOwnProperty'];

  for (const [what, perms] of cases) {
    test(`${what} (${trusted ? 'trusted' : 'checked'} full schema): getType as graphql-js' schema of the same roots, nothing collected until the type map is read`, () => {
      const tenant = new TenantSchemaCache().get(full.schema, full.resources, perms).schema;
      const rebuilt = rebuiltFrom(tenant);
      for (const name of names) assert.equal(tenant.getType(name), rebuilt.getType(name), `getType(${name})`);
      assert.ok(!isCollected(tenant));
      assert.deepEqual(Object.keys(tenant.getTypeMap()), Object.keys(rebuilt.getTypeMap()));
      assert.ok(isCollected(tenant));
      for (const name of names) assert.equal(tenant.getType(name), rebuilt.getType(name), `getType(${name}) once collected`);
      const resource = rebuilt.getType('KubernetesResource') as GraphQLInterfaceType;
      assert.deepEqual(tenant.getImplementations(resource).objects.map((o) => o.name), rebuilt.getImplementations(resource).objects.map((o) => o.name));
      assert.deepEqual(introspectionFromSchema(tenant), introspectionFromSchema(rebuilt));
      assert.equal(printSchema(tenant), printSchema(rebuilt));
    });
  }
}

test('the gateway\'s validation and execution read types through getType only: nothing is collected, the errors are graphql-js\'', async () => {
  const full = createSchemaBuilder({ operations, assumeValid: true }).build(models);
  const cronTab = full.resources.find((r) => r.kind === 'CronTab');
  const clusterCronTab = full.resources.find((r) => r.kind === 'ClusterCronTab');
  const get = rootFieldNames(cronTab!, undefined).get;
  const create = rootFieldNames(cronTab!, undefined).create;
  const createCluster = rootFieldNames(clusterCronTab!, undefined).create;
  const inputOf = (field: string) => getNamedType(full.schema.getMutationType()!.getFields()[field]!.args.find((a) => a.name === 'input')!.type).name;
  const tenant = new TenantSchemaCache().get(full.schema, full.resources, rights('get crontabs', 'create crontabs')).schema;
  const rebuilt = rebuiltFrom(tenant);
  const documents = [
    `query Q($ns: String!) { ${get}(namespace: $ns, name: "a") { metadata { name } } }`,
    `mutation M($input: ${inputOf(create)}!) { ${create}(namespace: "team", input: $input) { metadata { name } } }`,
    // A type and a field of a resource the tenant may not create: unknown to it, as in graphql-js' schema.
    `mutation M($input: ${inputOf(createCluster)}!) { ${createCluster}(input: $input) { metadata { name } } }`,
    '{ nope: __type(name: "Query") { name } }',
  ];
  for (const source of documents) {
    const document = parseDocument(source);
    assert.deepEqual(validateDocument(tenant, document, { hideSuggestions: true }).map(String), validateDocument(rebuilt, document, { hideSuggestions: true }).map(String), source);
    // "Did you mean" for an unknown type lists every type name: only then is the type map collected.
    if (source !== documents[2]) assert.deepEqual(validateDocument(tenant, document).map(String), validate(rebuilt, document).map(String), source);
  }
  await execute({ schema: tenant, document: parseDocument(documents[0]!), variableValues: { ns: 'team' }, contextValue: {} });
  assert.ok(!isCollected(tenant), 'validation and execution did not collect the type map');
  assert.notEqual(validateDocument(tenant, parseDocument(documents[2]!), { hideSuggestions: true }).length, 0);
  // graphql-js' own rules (KnownTypeNamesRule lists every type name) collect it, and agree.
  for (const source of documents) assert.deepEqual(validate(tenant, parseDocument(source)).map(String), validate(rebuilt, parseDocument(source)).map(String));
  assert.ok(isCollected(tenant));
  // __type answers from getType too: a type the tenant may not use does not exist for it.
  const hidden = await execute({ schema: tenant, document: parseDocument(`{ __type(name: "${inputOf(createCluster)}") { name } }`) });
  assert.deepEqual(JSON.parse(JSON.stringify(hidden)), { data: { __type: null } });
  assert.ok(filterSchema(full.schema, new Set(['Query.apiResources']), new Set()).getType(inputOf(create)) === undefined);
});

test('graphql-js (16) keeps the type map in _typeMap and the implementations in _implementationsMap, read through getTypeMap and getImplementations', () => {
  // lazySchemaView (lazy-schema.ts) makes those two fields accessors that collect on first read.
  const iface = new GraphQLInterfaceType({ name: 'I', fields: { a: { type: GraphQLString } } });
  const object = new GraphQLObjectType({ name: 'O', interfaces: [iface], fields: { a: { type: GraphQLString } } });
  const schema = new GraphQLSchema({ query: new GraphQLObjectType({ name: 'Query', fields: { o: { type: object }, i: { type: iface } } }) });
  const internals = schema as unknown as { _typeMap: unknown; _implementationsMap: Record<string, unknown> };
  assert.equal(schema.getTypeMap(), internals._typeMap);
  assert.equal(schema.getImplementations(iface), internals._implementationsMap['I']);
  const view = Object.create(schema) as GraphQLSchema;
  let reads = 0;
  Object.defineProperty(view, '_typeMap', { get: () => (reads++, internals._typeMap) });
  Object.defineProperty(view, 'getType', { value: () => object });
  assert.equal(view.getType('O'), object);
  assert.equal(reads, 0, 'getType, overridden, does not read the type map');
  assert.equal(view.getTypeMap(), internals._typeMap);
  assert.equal(reads, 1);
});

test('a new full schema drops the tenant schemas of the previous ones (they would keep it alive)', () => {
  const builder = createSchemaBuilder({ operations, assumeValid: true });
  const first = builder.build(models);
  const second = builder.build([models[0]!]);
  const cache = new TenantSchemaCache();
  const perms = rights('get crontabs');
  const before = cache.get(first.schema, first.resources, perms);
  assert.equal(cache.get(first.schema, first.resources, perms), before, 'cached');
  const after = cache.get(second.schema, second.resources, perms);
  assert.notEqual(after, before);
  assert.notEqual(cache.get(first.schema, first.resources, perms), before, 'the older full schema\'s entry is gone');
});

test('the cached view picks its root fields by operation as filterSchema does by their names', async () => {
  const full = createSchemaBuilder({ operations, assumeValid: true }).build(models);
  const categories = parseDocument('{ apiResources { crdName } resourcesInCategory(category: "crdgate-examples") { crdName listField } }');
  for (const [what, perms] of [...cases, ['nothing', rights()] as [string, AccessRights], ['lists crontabs only', rights('list crontabs')] as [string, AccessRights]]) {
    const viewed = new TenantSchemaCache().get(full.schema, full.resources, perms).schema;
    const { fields, crds } = allowedRootFields(full.resources, perms);
    const named = filterSchema(full.schema, fields, crds);
    assert.equal(printSchema(viewed), printSchema(named), what);
    const run = (schema: GraphQLSchema) => execute({ schema, document: categories, contextValue: {} });
    assert.deepEqual(await run(viewed), await run(named), what);
  }
  // A category lists only what the tenant may list.
  const inCategory = async (perms: AccessRights) => {
    const result = await execute({ schema: new TenantSchemaCache().get(full.schema, full.resources, perms).schema, document: categories, contextValue: {} });
    return (result.data as { resourcesInCategory: { crdName: string }[] }).resourcesInCategory.map((r) => r.crdName);
  };
  assert.deepEqual(await inCategory(rights('get clustercrontabs')), []);
  assert.deepEqual(await inCategory(rights('list clustercrontabs')), ['clustercrontabs.stable.example.com']);
});
