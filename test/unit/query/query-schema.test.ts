// The where/orderBy inputs in the GraphQL schema: named after the types they filter, operator
// types shared across versions and CRDs, the resolver handing the operations Kubernetes-named
// conditions, and the connection's totalCount and per-edge cursors.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execute, getNamedType, GraphQLEnumType, GraphQLInputObjectType, parse, validateSchema, type GraphQLSchema } from 'graphql';
import { buildGraphQLSchema } from '../../../src/graphql/schema-builder.ts';
import { crdToModel } from '../../../src/model/crd-to-model.ts';
import { parseWhere, type OrderTerm } from '../../../src/model/query-filter.ts';
import type { KubeList, ListArgs, OperationRequest, ResourceOperations } from '../../../src/contract/operations.ts';
import { notImplementedOperations } from '../../../src/graphql/not-implemented-operations.ts';
import { makeCrd } from '../crd-fixtures.ts';
import { gadget } from './gadget-crd.ts';

const g = 'stable_example_com';
const twoVersions = crdToModel(makeCrd({ kind: 'Widget', versions: [{ name: 'v1' }, { name: 'v2' }] }));

function schemaWith(operations: Partial<ResourceOperations> = {}): GraphQLSchema {
  return buildGraphQLSchema([gadget().resource, twoVersions], { operations: { ...notImplementedOperations, ...operations } as ResourceOperations }).schema;
}

const input = (schema: GraphQLSchema, name: string) => {
  const t = schema.getType(name);
  assert.ok(t instanceof GraphQLInputObjectType, `${name} is an input type`);
  return t.getFields();
};

describe('where and orderBy in the schema', () => {
  const schema = schemaWith();

  it('is a valid schema, with the arguments on every list field', () => {
    assert.deepEqual(validateSchema(schema), []);
    for (const name of [`gadgetList_v1_${g}`, `gadgetList_${g}`, `widgetList_v1_${g}`, `widgetList_v2_${g}`]) {
      const args = schema.getQueryType()!.getFields()[name]!.args.map((a) => `${a.name}: ${a.type}`);
      assert.ok(args.some((a) => /^where: \w+_Where$/.test(a)) && args.some((a) => /^orderBy: \[\w+_OrderBy!\]$/.test(a)) && args.includes('consistency: ListConsistency'), name);
    }
    const connection = schema.getType(`Gadget_v1_${g}_Connection`) as unknown as { getFields(): Record<string, { type: unknown }> };
    assert.equal(String(connection.getFields()['totalCount']!.type), 'Int');
  });

  it('names each Where after the type it filters and shares the operator types', () => {
    const root = input(schema, `Gadget_v1_${g}_Where`);
    assert.deepEqual(Object.keys(root), ['apiVersion', 'kind', 'metadata', 'spec', 'status', 'and', 'or', 'not']);
    assert.equal(String(root['metadata']!.type), 'ObjectMetaWhere');
    const spec = input(schema, `Gadget_Spec_v1_${g}_Where`);
    const types = Object.fromEntries(Object.entries(spec).map(([k, f]) => [k, String(f.type)]));
    assert.deepEqual(types, {
      title: 'StringFilter', size: 'Int64Filter', count: 'IntFilter', ratio: 'FloatFilter', enabled: 'BooleanFilter',
      phase: `Gadget_Spec_Phase_v1_${g}_Filter`, expires: 'DateTimeFilter', port: 'IntOrStringFilter', tags: 'StringListFilter',
      owners: `Gadget_Spec_Owners_v1_${g}_ListFilter`, limits: `[Gadget_Spec_Limits_v1_${g}_EntryFilter!]`, settings: '[StringMapEntryFilter!]',
      extra: 'PresenceFilter', nested: `Gadget_Spec_Nested_v1_${g}_Where`, max_size: 'Int64Filter', a_b: 'StringFilter', a: `Gadget_Spec_A_v1_${g}_Where`,
      and: `[Gadget_Spec_v1_${g}_Where!]`, or: `[Gadget_Spec_v1_${g}_Where!]`, not: `Gadget_Spec_v1_${g}_Where`,
    });
    assert.equal(spec['max_size']!.description, 'Kubernetes name: "max-size".');
    assert.deepEqual(Object.keys(input(schema, `Gadget_Spec_Nested_v1_${g}_Where`)), ['level', 'note', 'not'], 'a property named not: no logic at that level');
    assert.deepEqual(Object.keys(input(schema, `Gadget_Spec_Phase_v1_${g}_Filter`)), ['eq', 'ne', 'in', 'notIn', 'exists', 'isNull']);
    assert.equal(String(input(schema, `Gadget_Spec_Phase_v1_${g}_Filter`)['in']!.type), `[Gadget_Spec_Phase_v1_${g}!]`);
    assert.deepEqual(Object.keys(input(schema, `Gadget_Spec_Limits_v1_${g}_EntryFilter`)), ['key', 'exists', 'isNull', 'value']);
    assert.deepEqual(Object.keys(input(schema, 'Int64Filter')), ['eq', 'ne', 'in', 'notIn', 'lt', 'lte', 'gt', 'gte', 'exists', 'isNull']);
    assert.deepEqual(Object.keys(input(schema, 'StringFilter')), ['eq', 'ne', 'in', 'notIn', 'lt', 'lte', 'gt', 'gte', 'prefix', 'contains', 'exists', 'isNull']);
    // One StringFilter for all: the Widget versions and the Gadget share it.
    const w1 = input(schema, `Widget_Spec_v1_${g}_Where`)['size']!.type;
    const w2 = input(schema, `Widget_Spec_v2_${g}_Where`)['size']!.type;
    assert.equal(w1, w2);
    assert.equal(getNamedType(spec['title']!.type), schema.getType('StringFilter'));
  });

  it('gives objects and enums of one shape one type, named after the first in schema order', () => {
    const endpoint = { type: 'object', properties: { host: { type: 'string' }, mode: { type: 'string', enum: ['A', 'B'] } } };
    const model = crdToModel(makeCrd({ kind: 'Link', spec: { type: 'object', properties: {
      primary: endpoint, backups: { type: 'array', items: endpoint }, other: { type: 'object', properties: { host: { type: 'string' } } },
      level: { type: 'string', enum: ['A', 'B'] },
    } } }));
    const linkSchema = buildGraphQLSchema([model]).schema;
    const spec = input(linkSchema, `Link_Spec_v1_${g}_Where`);
    assert.equal(String(spec['primary']!.type), `Link_Spec_Primary_v1_${g}_Where`);
    assert.equal(String(input(linkSchema, `Link_Spec_Primary_v1_${g}_ListFilter`)['some']!.type), `Link_Spec_Primary_v1_${g}_Where`);
    assert.equal(String(spec['backups']!.type), `Link_Spec_Primary_v1_${g}_ListFilter`, 'the list elements have the shape of primary');
    assert.equal(String(spec['other']!.type), `Link_Spec_Other_v1_${g}_Where`, 'another shape, another type');
    assert.equal(String(spec['level']!.type), `Link_Spec_Primary_Mode_v1_${g}_Filter`, 'the same enum values share a filter');
    assert.equal(linkSchema.getType(`Link_Spec_Backups_v1_${g}_Where`), undefined);
    assert.deepEqual(validateSchema(linkSchema), []);
  });

  it('lists the sortable fields of each version in an enum whose values carry the path', () => {
    const field = schema.getType(`Gadget_v1_${g}_OrderField`) as GraphQLEnumType;
    const size = field.getValue('spec_size')!;
    assert.equal(size.description, 'spec.size');
    assert.deepEqual((size.value as { path: string[] }).path, ['spec', 'size']);
    assert.ok(field.getValue('metadata_creationTimestamp'));
    assert.equal(field.getValue('spec_tags'), undefined);
    assert.equal(String(input(schema, `Gadget_v1_${g}_OrderBy`)['direction']!.type), 'OrderDirection');
  });
});

describe('the list resolver', () => {
  it('hands the operations Kubernetes-named conditions and order terms, and serves counts and cursors', async () => {
    let seen: OperationRequest<ListArgs> | undefined;
    const schema = schemaWith({
      list: async (req) => {
        seen = req;
        return {
          metadata: { resourceVersion: '42', totalCount: 7, continue: 'c-2', remainingItemCount: 4 },
          items: [{ metadata: { name: 'x' } }, { metadata: { name: 'y' } }, { metadata: { name: 'z' } }],
          cursors: ['c-0', 'c-1', 'c-2'],
        } satisfies KubeList;
      },
    });
    const result = await execute({ schema, document: parse(`{ gadgetList_v1_${g}(namespace: "n", first: 3,
      where: { spec: { max_size: { gte: "9007199254740993" }, phase: { in: [Failed] } } },
      orderBy: [{ field: spec_max_size, direction: DESC }, { field: metadata_name }], consistency: STRONG) {
        edges { cursor node { metadata { name } } } totalCount remainingItemCount resourceVersion pageInfo { hasNextPage startCursor endCursor } } }`) });
    assert.equal(result.errors, undefined, JSON.stringify(result.errors));
    const version = gadget().version;
    // graphql-js coerces an input object in the order of its type's fields (phase before max-size).
    assert.deepEqual(seen!.args.where, parseWhere({ spec: { phase: { in: ['Failed'] }, 'max-size': { gte: 9007199254740993n } } }, version, 'kubernetes'));
    assert.deepEqual(seen!.args.orderBy!.map((t: OrderTerm) => [t.field.dotted, t.direction]), [['spec.max-size', 'DESC'], ['metadata.name', 'ASC']]);
    assert.equal(seen!.args.consistency, 'STRONG');
    assert.equal(seen!.args.limit, 3);
    assert.deepEqual(JSON.parse(JSON.stringify(result.data)), { [`gadgetList_v1_${g}`]: {
      edges: [{ cursor: 'c-0', node: { metadata: { name: 'x' } } }, { cursor: 'c-1', node: { metadata: { name: 'y' } } }, { cursor: 'c-2', node: { metadata: { name: 'z' } } }],
      totalCount: 7, remainingItemCount: 4, resourceVersion: '42', pageInfo: { hasNextPage: true, startCursor: 'c-0', endCursor: 'c-2' },
    } });
  });

  it('refuses a bad where with BAD_USER_INPUT before calling the operations', async () => {
    let called = false;
    const schema = schemaWith({ list: async () => { called = true; return { items: [] }; } });
    let deep: Record<string, unknown> = { spec: { size: { eq: 1 } } };
    for (let i = 0; i < 40; i++) deep = { not: deep };
    const result = await execute({ schema, document: parse(`query($w: Gadget_v1_${g}_Where) { gadgetList_v1_${g}(where: $w) { totalCount } }`), variableValues: { w: deep } });
    assert.equal(result.errors?.[0]?.extensions?.['code'], 'BAD_USER_INPUT');
    assert.equal(result.errors?.[0]?.extensions?.['reason'], 'InvalidQuery');
    assert.equal(called, false);
  });

  it('a plain list knows its total only when one page is all of it', async () => {
    const answers: KubeList[] = [{ items: [{}, {}] }, { metadata: { continue: 'k' }, items: [{}] }];
    const schema = schemaWith({ list: async () => answers.shift()! });
    const q = parse(`{ widgetList_v1_${g}(namespace: "n") { totalCount pageInfo { hasNextPage endCursor } } }`);
    const data = async () => JSON.parse(JSON.stringify((await execute({ schema, document: q })).data));
    assert.deepEqual(await data(), { [`widgetList_v1_${g}`]: { totalCount: 2, pageInfo: { hasNextPage: false, endCursor: null } } });
    assert.deepEqual(await data(), { [`widgetList_v1_${g}`]: { totalCount: null, pageInfo: { hasNextPage: true, endCursor: 'k' } } });
  });
});

