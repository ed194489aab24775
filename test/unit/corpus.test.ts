// Real-world coverage: every CRD of the shared corpus (`<repo>/../shared/crds`, or the
// directory in CRDGATE_CRD_CORPUS), alone and all together, must give a valid schema in which
// every field of every served version is reachable from the query root and in which a sample
// object filling every field survives GraphQL input → Kubernetes JSON → GraphQL output.

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { describe, it } from 'node:test';
import {
  getNamedType,
  getNullableType,
  graphql,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isListType,
  isObjectType,
  isScalarType,
  introspectionFromSchema,
  GraphQLSchema as Schema,
  printSchema,
  validateSchema,
} from 'graphql';
import type { GraphQLInputType, GraphQLOutputType, GraphQLSchema } from 'graphql';
import { parseCrdText } from '../../src/cli/crd-documents.ts';
import { rootFieldNames } from '../../src/model/graphql-type-names.ts';
import { buildGraphQLSchema, createSchemaBuilder } from '../../src/graphql/schema-builder.ts';
import { filterSchema, TenantSchemaCache } from '../../src/graphql/tenant-schema.ts';
import { collectInSlices, isCollected, knownTypesOf } from '../../src/graphql/lazy-schema.ts';
import { PermissionSet } from '../../src/auth/permissions.ts';
import { GENERIC_OBJECT } from '../../src/graphql/relation-types.ts';
import type { ResourceModel, SchemaNode, VersionModel } from '../../src/model/resource-model.ts';
import { parseJson, parseYaml } from '../../src/kube/lossless-json.ts';
import { sampleObject } from '../../src/model/sample-object.ts';
import { mapRepresentation, toGraphQL } from '../../src/model/value-conversion.ts';
import { buildOpenApiDocument } from '../../src/rest/openapi-builder.ts';
import { corpusAvailable, corpusDir, crdFiles } from '../helpers/crd-corpus.ts';
import { fullSelection } from './graphql-selection.ts';
import { InMemoryOperations } from './in-memory-operations.ts';
import { checkOpenApiStructure } from './openapi-structure.ts';

interface CorpusFile {
  readonly file: string;
  readonly models: ResourceModel[];
}

/** `yaml`, or `yaml_` when the CRD declares a top-level `yaml` property (docs/graphql-api.md). */
function yamlFieldOf(output: Record<string, unknown> | undefined): string {
  return output && typeof output['yaml_'] === 'string' ? 'yaml_' : 'yaml';
}

function loadCorpus(): CorpusFile[] {
  return crdFiles(corpusDir).map((path) => {
    const file = relative(corpusDir, path);
    const found = parseCrdText(file, readFileSync(path, 'utf8'));
    const problems = found.flatMap((f) => ('problem' in f ? [f.problem] : []));
    assert.deepEqual(problems, [], `${file} must load`);
    return { file, models: found.flatMap((f) => ('model' in f ? [f.model] : [])) };
  });
}

/** Walks the model and the GraphQL output types side by side: every property must be a field. */
function checkOutput(node: SchemaNode, type: GraphQLOutputType, path: string): number {
  const nullable = getNullableType(type);
  switch (node.kind) {
    case 'object': {
      assert.ok(isObjectType(nullable), `${path}: expected an object type, got ${String(type)}`);
      const fields = nullable.getFields();
      let count = 0;
      for (const p of node.properties) {
        const field = fields[p.graphqlName];
        assert.ok(field, `${path}.${p.name}: no field ${p.graphqlName} on ${nullable.name}`);
        count += 1 + checkOutput(p.node, field.type, `${path}.${p.name}`);
      }
      if (node.unknownFieldsName !== undefined) assert.ok(fields[node.unknownFieldsName], `${path}: no unknown-fields field`);
      return count;
    }
    case 'array':
      assert.ok(isListType(nullable), `${path}: expected a list, got ${String(type)}`);
      return checkOutput(node.items, nullable.ofType, `${path}[]`);
    case 'map': {
      if (mapRepresentation(node) !== 'entries') {
        assert.ok(isScalarType(nullable), `${path}: expected a map scalar`);
        return 0;
      }
      assert.ok(isListType(nullable), `${path}: expected a list of entries`);
      const entry = getNamedType(nullable);
      assert.ok(isObjectType(entry) && entry.getFields()['key'] && entry.getFields()['value'], `${path}: entry type`);
      return checkOutput(node.values, entry.getFields()['value']!.type, `${path}{}`);
    }
    case 'string':
      if (node.enum?.graphqlValues) assert.ok(isEnumType(nullable), `${path}: expected an enum`);
      else assert.ok(isScalarType(nullable), `${path}: expected a scalar`);
      return 0;
    case 'objectMeta':
      assert.equal(getNamedType(type).name, 'ObjectMeta', path);
      return 0;
    default:
      assert.ok(isScalarType(nullable), `${path}: expected a scalar, got ${String(type)}`);
      return 0;
  }
}

/** The same for input types: everything that can be read can be written. */
function checkInput(node: SchemaNode, type: GraphQLInputType, path: string): void {
  const nullable = getNullableType(type);
  if (node.kind === 'object') {
    assert.ok(isInputObjectType(nullable), `${path}: expected an input type, got ${String(type)}`);
    const fields = nullable.getFields();
    for (const p of node.properties) {
      assert.ok(fields[p.graphqlName], `${path}.${p.name}: no input field ${p.graphqlName}`);
      checkInput(p.node, fields[p.graphqlName]!.type, `${path}.${p.name}`);
    }
    if (node.unknownFieldsName !== undefined) assert.ok(fields[node.unknownFieldsName], `${path}: no unknown-fields input`);
  } else if (node.kind === 'array') {
    assert.ok(isListType(nullable), `${path}: expected a list`);
    checkInput(node.items, nullable.ofType, `${path}[]`);
  } else if (node.kind === 'map' && mapRepresentation(node) === 'entries') {
    const entry = getNamedType(nullable);
    assert.ok(isInputObjectType(entry), `${path}: entry input type`);
    checkInput(node.values, entry.getFields()['value']!.type, `${path}{}`);
  }
}

/** Null-valued object keys dropped: the output has nulls for fields the input did not set. */
function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null).map(([k, v]) => [k, withoutNulls(v)]));
}

async function roundTrip(schema: GraphQLSchema, model: ResourceModel, version: VersionModel): Promise<void> {
  const ops = (schema as unknown as { __ops: InMemoryOperations }).__ops;
  const names = rootFieldNames(model, version.name);
  const mutationField = schema.getMutationType()!.getFields()[names.create]!;
  const inputType = mutationField.args.find((a) => a.name === 'input')!.type;
  const sample = sampleObject(model, version, { namespace: 'corpus', name: 'sample' });
  const input = toGraphQL(sample, version.schema);
  const namespaceArg = model.scope === 'Namespaced' ? 'namespace: "corpus", ' : '';
  const result = await graphql({
    schema,
    source: `mutation($input: ${String(inputType)}) { ${names.create}(${namespaceArg}input: $input)${fullSelection(mutationField.type)} }`,
    variableValues: { input },
  });
  const where = `${model.crdName} ${version.name}`;
  assert.deepEqual(result.errors?.map((e) => e.message), undefined, `${where}: the create mutation must succeed`);
  assert.deepEqual(ops.lastCall().request.args.body, sample, `${where}: Kubernetes received exactly the sample`);
  const created = (result.data as Record<string, Record<string, unknown>>)[names.create]!;
  const { [yamlFieldOf(created)]: yaml, ...output } = created;
  // The yaml field is the object Kubernetes answered, in Kubernetes' names: here, the sample.
  assert.deepEqual(parseYaml(yaml as string), sample, `${where}: the yaml field is the object`);
  // As a client reads the response: the JSON text parsed with every digit kept.
  assert.deepEqual(withoutNulls(parseJson(JSON.stringify(output))), input, `${where}: GraphQL output equals the input`);
}

function buildFor(models: ResourceModel[]): GraphQLSchema {
  const ops = new InMemoryOperations();
  const result = buildGraphQLSchema(models, { operations: ops });
  Object.defineProperty(result.schema, '__ops', { value: ops });
  assert.deepEqual(result.problems, []);
  return result.schema;
}

async function checkAll(schema: GraphQLSchema, models: readonly ResourceModel[], roundTrips: boolean): Promise<number> {
  let fields = 0;
  const query = schema.getQueryType()!.getFields();
  const mutation = schema.getMutationType()!.getFields();
  for (const model of models) {
    for (const version of model.versions.filter((v) => v.served)) {
      const names = rootFieldNames(model, version.name);
      const get = query[names.get];
      assert.ok(get, `${model.crdName} ${version.name}: Query.${names.get}`);
      fields += checkOutput(version.schema, get.type, `${model.crdName}/${version.name}`);
      const input = mutation[names.create]!.args.find((a) => a.name === 'input')!;
      checkInput(version.schema, input.type, `${model.crdName}/${version.name}`);
      if (roundTrips) await roundTrip(schema, model, version);
    }
  }
  return fields;
}

/**
 * A tenant view answers getType without collecting its type map: for every name of the full
 * schema (and a few it lacks) the answer must be the one of the schema graphql-js builds from the
 * same roots; then the collected type map, implementations and introspection must be equal too.
 */
function assertSameAsRebuilt(what: string, full: GraphQLSchema, tenant: GraphQLSchema, rebuilt: GraphQLSchema): void {
  assert.ok(!isCollected(tenant), `${what}: nothing collected before the type map is read`);
  for (const name of [...Object.keys(full.getTypeMap()), 'Nope', 'constructor', '__proto__', 'toString']) {
    assert.equal(tenant.getType(name), rebuilt.getType(name), `${what}: getType(${name})`);
  }
  assert.ok(!isCollected(tenant), `${what}: getType does not collect the type map`);
  assert.deepEqual(Object.keys(tenant.getTypeMap()), Object.keys(rebuilt.getTypeMap()), `${what}: same types in the same order`);
  assert.ok(isCollected(tenant));
  for (const type of Object.values(rebuilt.getTypeMap())) {
    if (!isInterfaceType(type)) continue;
    const names = (s: GraphQLSchema) => { const i = s.getImplementations(type); return [i.objects.map((o) => o.name), i.interfaces.map((o) => o.name)]; };
    assert.deepEqual(names(tenant), names(rebuilt), `${what}: implementations of ${type.name}`);
  }
  assert.deepEqual(introspectionFromSchema(tenant), introspectionFromSchema(rebuilt), `${what}: same introspection`);
  assert.equal(printSchema(tenant), printSchema(rebuilt), `${what}: same SDL`);
}

describe('CRD corpus', () => {
  if (!existsSync(corpusDir)) {
    // A developer without the corpus may skip it; CI checks the real-world CRDs or fails.
    it('is available', (t) => {
      corpusAvailable(t);
    });
    return;
  }
  const corpus = loadCorpus();

  it('has CRDs to check', () => {
    assert.ok(corpus.length > 0, `no CRD files under ${corpusDir}`);
  });

  it('each file alone: valid schema, every field reachable, samples round-trip, valid OpenAPI', async (t) => {
    let versions = 0;
    let fields = 0;
    for (const { file, models } of corpus) {
      const schema = buildFor(models);
      assert.deepEqual(validateSchema(schema).map(String), [], `${file}: schema must be valid`);
      fields += await checkAll(schema, models, true);
      versions += models.flatMap((m) => m.versions.filter((v) => v.served)).length;
      assert.deepEqual(checkOpenApiStructure(buildOpenApiDocument(models)), [], `${file}: OpenAPI structure`);
    }
    t.diagnostic(`${corpus.length} files, ${versions} served versions, ${fields} fields checked`);
  });

  it('all together: one valid schema and OpenAPI document', async (t) => {
    const all = corpus.flatMap((c) => c.models);
    // The corpus holds two releases of some CRDs (e.g. gateway-api standard and experimental);
    // one cluster can only have one of each, so the builder must keep one and say so.
    const counts = new Map<string, number>();
    for (const m of all) counts.set(m.crdName, (counts.get(m.crdName) ?? 0) + 1);
    const result = buildGraphQLSchema(all);
    for (const problem of result.problems) {
      assert.ok((counts.get(problem.crdName) ?? 0) > 1, `unexpected problem: ${problem.crdName}: ${problem.message}`);
    }
    assert.equal(result.resources.length, counts.size, 'every distinct CRD is in the schema');
    assert.deepEqual(validateSchema(result.schema).map(String), []);
    const fields = await checkAll(result.schema, result.resources, false);
    assert.deepEqual(checkOpenApiStructure(buildOpenApiDocument(result.resources)), []);
    t.diagnostic(`${counts.size} distinct CRDs (${all.length} files), ${fields} fields reachable, ${result.problems.length} duplicates refused`);
  });

  it('all together, trusted (assumeValid, fields built when first read): the schema graphql-js builds, and valid', () => {
    const all = corpus.flatMap((c) => c.models);
    const checked = buildGraphQLSchema(all).schema;
    const trusted = createSchemaBuilder({ assumeValid: true }).build(all).schema;
    // The same types in the same order (introspection and printSchema follow the type map's order).
    assert.deepEqual(Object.keys(trusted.getTypeMap()), Object.keys(checked.getTypeMap()));
    const implementations = (schema: Schema) =>
      Object.values(schema.getTypeMap()).filter(isInterfaceType).map((i) => [i.name, schema.getImplementations(i).objects.map((o) => o.name)]);
    assert.deepEqual(implementations(trusted), implementations(checked));
    assert.equal(printSchema(trusted), printSchema(checked));
    // A trusted schema skips validation: validate a copy that graphql-js checks.
    assert.deepEqual(validateSchema(new Schema({ ...trusted.toConfig(), assumeValid: false })).map(String), []);
  });

  it('all together, trusted: the type map collected in slices, or finished synchronously midway, is the one graphql-js collects', () => {
    const all = corpus.flatMap((c) => c.models);
    const checked = buildGraphQLSchema(all).schema;
    const names = Object.keys(checked.getTypeMap());
    const implementations = (schema: Schema) =>
      Object.values(schema.getTypeMap()).filter(isInterfaceType).map((i) => [i.name, schema.getImplementations(i).objects.map((o) => o.name), schema.getImplementations(i).interfaces.map((o) => o.name)]);
    const expected = implementations(checked);
    // The collection's units: one per type walked, one per type put into the maps.
    const stops = [1, 997, Math.floor(names.length / 2), names.length - 1, names.length + 1, Math.floor(names.length * 1.5), 2 * names.length - 1];
    for (const stopAfter of [...stops, undefined]) {
      const what = stopAfter === undefined ? 'in slices of 997 units' : `finished after ${stopAfter} units`;
      const trusted = createSchemaBuilder({ assumeValid: true }).build(all).schema;
      let calls = 0;
      if (stopAfter === undefined) {
        let slices = 0;
        while (!collectInSlices(trusted, () => ++calls % 997 === 0)) slices++;
        assert.ok(slices >= Math.floor((2 * names.length) / 997) - 1, `${what}: ${slices} slices`);
      } else {
        assert.equal(collectInSlices(trusted, () => ++calls >= stopAfter), false, what);
        assert.ok(!isCollected(trusted), `${what}: not collected yet`);
      }
      // A read finishes what the slices left, synchronously.
      assert.deepEqual(Object.keys(trusted.getTypeMap()), names, `${what}: the same names in the same order`);
      assert.ok(isCollected(trusted));
      assert.deepEqual(implementations(trusted), expected, `${what}: the same implementations`);
      assert.equal(collectInSlices(trusted, () => true), true);
    }
  });

  it('all together, trusted: the lookups known before the type map is collected are the collected types', () => {
    const all = corpus.flatMap((c) => c.models);
    const checked = buildGraphQLSchema(all).schema;
    const names = [...Object.keys(checked.getTypeMap()), 'Nope', 'constructor', '__proto__', 'toString', 'hasOwnProperty'];
    const trusted = createSchemaBuilder({ assumeValid: true }).build(all).schema;
    assert.ok(!isCollected(trusted), 'a full build does not collect the type map');
    const known = knownTypesOf(trusted)!;
    // Lookups of known names answer without collecting.
    const early = new Map<string, unknown>();
    for (const name of known.keys()) early.set(name, trusted.getType(name));
    assert.ok(!isCollected(trusted), 'a known name does not collect the type map');
    const collected = trusted.getTypeMap();
    assert.ok(isCollected(trusted));
    // Every type the builder recorded is in the collected map under its name: none is unreachable.
    for (const [name, type] of known) {
      assert.equal(collected[name], type, `known ${name} is the collected type of that name`);
      assert.equal(early.get(name), type, `getType(${name}) before the collection`);
    }
    // Every name answers as in the schema graphql-js builds, before and after the collection.
    for (const name of names) assert.equal(trusted.getType(name)?.name, checked.getType(name)?.name, `getType(${name})`);
    const fresh = createSchemaBuilder({ assumeValid: true }).build(all).schema;
    for (const name of names) assert.equal(fresh.getType(name)?.name, checked.getType(name)?.name, `getType(${name}) of a fresh build`);
    // What the records lack are only the types made once for every build (shared by the CRDs: the
    // same objects in another builder's schema), never one made for a CRD; a lookup of those
    // collects the type map first.
    const unknown = Object.keys(collected).filter((name) => !known.has(name));
    for (const name of unknown) assert.equal(fresh.getTypeMap()[name], collected[name], `${name} must be recorded by the builder`);
    assert.ok(unknown.length < 40, `${unknown.length} types not known: ${unknown.join(', ')}`);
    assert.deepEqual(Object.keys(fresh.getTypeMap()), Object.keys(checked.getTypeMap()));
  });

  it('a tenant\'s filtered schema (some root fields): the schema graphql-js builds from the same roots, and valid', () => {
    const all = corpus.flatMap((c) => c.models);
    const full = createSchemaBuilder({ assumeValid: true }).build(all);
    const allowed = new Set<string>(['Query.apiResources']);
    for (const [root, type] of [['Query', full.schema.getQueryType()], ['Mutation', full.schema.getMutationType()], ['Subscription', full.schema.getSubscriptionType()]] as const) {
      Object.keys(type!.getFields()).forEach((field, i) => i % 3 === 0 && allowed.add(`${root}.${field}`));
    }
    const tenant = filterSchema(full.schema, allowed, new Set(full.resources.map((r) => r.crdName)));
    // The same roots (and KubernetesObject, reached only as an implementation) through graphql-js' constructor.
    const rebuilt = new Schema({
      query: tenant.getQueryType(),
      mutation: tenant.getMutationType(),
      subscription: tenant.getSubscriptionType(),
      types: [tenant.getType(GENERIC_OBJECT)!],
    });
    assertSameAsRebuilt('every third root field', full.schema, tenant, rebuilt);
    assert.ok(Object.keys(tenant.getTypeMap()).length < Object.keys(full.schema.getTypeMap()).length, 'the tenant sees fewer types');
    assert.deepEqual(validateSchema(rebuilt).map(String), []);
  });

  it('tenant schemas of typical RBAC fingerprints: the schema graphql-js builds from the same roots', () => {
    const all = corpus.flatMap((c) => c.models);
    const full = createSchemaBuilder({ assumeValid: true }).build(all);
    const groups = [...new Set(full.resources.map((r) => r.group))].sort();
    const read = { verbs: ['get', 'list', 'watch'], resources: ['*'] };
    const write = { verbs: ['create', 'update', 'patch', 'delete'], resources: ['*', '*/status'] };
    const third = groups.filter((_, i) => i % 3 === 0);
    const fingerprints: [string, { verbs: string[]; apiGroups: string[]; resources: string[] }[]][] = [
      ['reads everything', [{ ...read, apiGroups: ['*'] }]],
      ['reads one group', [{ ...read, apiGroups: [groups[1]!] }]],
      ['reads and writes a third of the groups', [{ ...read, apiGroups: third }, { ...write, apiGroups: third }]],
      ['reads everything, writes a third', [{ ...read, apiGroups: ['*'] }, { ...write, apiGroups: third }]],
    ];
    const cache = new TenantSchemaCache();
    for (const [what, rules] of fingerprints) {
      const perms = new PermissionSet({ user: what }, new Map([['team', rules]]), new Map());
      const tenant = cache.get(full.schema, full.resources, perms).schema;
      const rebuilt = new Schema({
        query: tenant.getQueryType(),
        mutation: tenant.getMutationType(),
        subscription: tenant.getSubscriptionType(),
        types: [tenant.getType(GENERIC_OBJECT)!],
      });
      assertSameAsRebuilt(what, full.schema, tenant, rebuilt);
      assert.deepEqual(validateSchema(rebuilt).map(String), [], `${what}: valid`);
    }
  });
});
