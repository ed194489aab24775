// The relation fields of the schema, against the in-memory operations: every object type
// implements KubernetesResource; related objects are typed by apiVersion and kind (the generated
// type when the schema has it, KubernetesObject otherwise); one batch per hop; a missing owner is
// a null entry with its error, never the object's loss; names stay free for relations.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { graphql, isInterfaceType, isObjectType, parse, validate, type ExecutionResult, type GraphQLSchema } from 'graphql';
import { parse as parseYaml } from 'yaml';
import { ApiError } from '../../../src/api-errors.ts';
import type { KubeObject } from '../../../src/contract/operations.ts';
import type { AccessRights } from '../../../src/contract/access.ts';
import { buildGraphQLSchema, createSchemaBuilder } from '../../../src/graphql/schema-builder.ts';
import { TenantSchemaCache } from '../../../src/graphql/tenant-schema.ts';
import { SharedSelections } from '../../../src/graphql/shared-subscription-results.ts';
import { crdToModel } from '../../../src/model/crd-to-model.ts';
import { limitRules, operationCost } from '../../../src/plugins/query-limits.ts';
import { relationsExample } from '../../../src/graphql/relations-example.ts';
import { defaultExplorerQuery } from '../../../src/transports/explorer-page.ts';
import { makeCrd } from '../crd-fixtures.ts';
import { InMemoryOperations } from '../in-memory-operations.ts';

const example = (name: string) => crdToModel(parseYaml(readFileSync(new URL(`../../../deploy/examples/${name}`, import.meta.url), 'utf8')));
const cronTab = example('crontab-crd.yaml');
const clusterCronTab = example('clustercrontab-crd.yaml');
const V1 = 'CronTab_v1_stable_example_com';
const CT = 'stable.example.com/v1';

function tab(name: string, uid: string, owners: KubeObject[] = []): KubeObject {
  return {
    apiVersion: CT, kind: 'CronTab',
    metadata: { name, namespace: 'ns', uid, ownerReferences: owners.map((o) => ({ apiVersion: o['apiVersion'], kind: o['kind'], name: (o['metadata'] as any).name, uid: (o['metadata'] as any).uid })) },
    spec: { image: `${name}:1` },
  };
}

function store(ops: InMemoryOperations, ...objects: KubeObject[]): void {
  for (const o of objects) ops.objects.set(`${cronTab.crdName}/v1/ns/${(o['metadata'] as any).name}`, o);
}

const run = async (schema: GraphQLSchema, source: string) => JSON.parse(JSON.stringify(await graphql({ schema, source, contextValue: {} })));

describe('relation fields', () => {
  it('are on every object type of every served version, through the KubernetesResource interface', () => {
    const { schema } = buildGraphQLSchema([cronTab, clusterCronTab]);
    const iface = schema.getType('KubernetesResource');
    assert.ok(isInterfaceType(iface));
    const implementations = schema.getPossibleTypes(iface).map((t) => t.name).sort();
    assert.deepEqual(implementations, ['ClusterCronTab_v1_stable_example_com', 'CronTab_v1_stable_example_com', 'CronTab_v2_stable_example_com', 'KubernetesObject']);
    for (const name of implementations) {
      const type = schema.getType(name);
      assert.ok(isObjectType(type));
      const fields = type.getFields();
      assert.equal(String(fields['owners']!.type), '[KubernetesResource]!', name);
      assert.deepEqual(fields['children']!.args.map((a) => `${a.name}: ${a.type}`), ['kind: String!', 'apiVersion: String', 'limit: Int'], name);
      assert.deepEqual(fields['events']!.args.map((a) => `${a.name}: ${a.type}`), ['limit: Int', 'since: DateTime'], name);
    }
    assert.deepEqual(Object.keys((schema.getType('KubernetesObject') as any).getFields()), ['apiVersion', 'kind', 'metadata', 'raw', 'owners', 'children', 'events']);
  });

  it('give a root property named like a relation the first free suffix, both ways, and keep apiVersion and kind Strings', async () => {
    const crd = makeCrd({ kind: 'Team', versions: [{ name: 'v1', schema: {
      type: 'object',
      properties: {
        apiVersion: { type: 'string', enum: ['example.com/v1'] },
        kind: { type: 'string', format: 'date-time' },
        owners: { type: 'array', items: { type: 'string' } },
        owners_2: { type: 'string' },
        events: { type: 'integer' },
        spec: { type: 'object', properties: { owners: { type: 'string' } } },
      },
    } }] });
    const ops = new InMemoryOperations();
    const { schema } = buildGraphQLSchema([crdToModel(crd)], { operations: ops });
    const team = (schema.getType('Team_v1_stable_example_com') as any).getFields();
    assert.equal(String(team.apiVersion.type), 'String');
    assert.equal(String(team.kind.type), 'String');
    assert.equal(String(team.owners.type), '[KubernetesResource]!');
    assert.equal(String(team.owners_3.type), '[String!]');
    assert.equal(String(team.owners_2.type), 'String', 'a name that was free stays');
    assert.equal(String(team.events_2.type), 'Int64');
    assert.match(team.owners_3.description, /Kubernetes name: "owners"/);
    assert.equal(String((schema.getType('Team_Spec_v1_stable_example_com') as any).getFields().owners.type), 'String', 'only the root is concerned');
    const r = await run(schema, `mutation { createTeam_v1_stable_example_com(namespace: "ns", input: { metadata: { name: "t" }, owners_3: ["x"], events_2: 3 }) { owners_3 events_2 } }`);
    assert.deepEqual(r.errors, undefined);
    assert.deepEqual(r.data.createTeam_v1_stable_example_com, { owners_3: ['x'], events_2: 3 });
    assert.deepEqual((ops.lastCall().request.args.body as any).owners, ['x']);
  });

  it('resolve each hop of N objects in one batch, typed by apiVersion and kind', async () => {
    const ops = new InMemoryOperations();
    const top = tab('top', 'u-top');
    const owners = [0, 1, 2].map((i) => tab(`owner-${i}`, `u-owner-${i}`, [top]));
    const config: KubeObject = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg', namespace: 'ns', uid: 'u-cfg' }, data: { a: 'b' } };
    const tabs = [0, 1, 2].map((i) => tab(`tab-${i}`, `u-tab-${i}`, i === 0 ? [owners[0]!, config] : [owners[i]!]));
    store(ops, top, ...owners, ...tabs);
    ops.objects.set('configmaps/v1/ns/cfg', config);
    ops.kubeEvents = [{ apiVersion: 'v1', kind: 'Event', metadata: { name: 'e' }, involvedObject: { uid: 'u-tab-1' }, message: 'hello', lastTimestamp: '2024-01-01T00:00:00Z' }];
    const schema = buildGraphQLSchema([cronTab], { operations: ops }).schema;
    const r = await run(schema, `{ cronTabList_stable_example_com(namespace: "ns", labelSelector: "x") { edges { node {
      metadata { name }
      owners { __typename metadata { name } ... on KubernetesObject { raw } owners { metadata { name } } }
      events { message lastSeen }
    } } } }`);
    assert.deepEqual(r.errors, undefined);
    const nodes = r.data.cronTabList_stable_example_com.edges.map((e: any) => e.node).filter((n: any) => n.metadata.name.startsWith('tab-'));
    assert.deepEqual(nodes.map((n: any) => n.owners.map((o: any) => `${o.__typename} ${o.metadata.name} <- ${o.owners.map((x: any) => x.metadata.name)}`)), [
      [`${V1} owner-0 <- top`, 'KubernetesObject cfg <- '], [`${V1} owner-1 <- top`], [`${V1} owner-2 <- top`],
    ]);
    assert.deepEqual(nodes[0].owners[1].raw.data, { a: 'b' });
    assert.deepEqual(nodes[1].events, [{ message: 'hello', lastSeen: '2024-01-01T00:00:00Z' }]);
    const batches = ops.relationCalls.map((c) => `${c.operation} ${(c.request.args.lookups ?? c.request.args.parents).length}`);
    // Hop 1: the 7 owner references of the 7 listed objects in one batch, their Events in another;
    // hop 2: the 3 references of the owners found (owner-0..2 name top; top and cfg have none).
    assert.deepEqual(batches.sort(), ['events 7', 'owners 3', 'owners 7']);
  });

  it('answer an owner that cannot be read with a null entry and its error, and a failed batch with an error per entry', async () => {
    const ops = new InMemoryOperations();
    const owner = tab('owner', 'u-owner');
    const hidden = tab('hidden', 'u-hidden');
    store(ops, owner, hidden, tab('dependent', 'u-dep', [owner, hidden]));
    ops.relationErrors.set('u-hidden', new ApiError('FORBIDDEN', 'crontabs "hidden" is forbidden', { reason: 'Forbidden' }));
    const schema = buildGraphQLSchema([cronTab], { operations: ops }).schema;
    const query = `{ cronTab_stable_example_com(namespace: "ns", name: "dependent") { metadata { name } owners { metadata { name } } } }`;
    const r = await run(schema, query);
    assert.deepEqual(r.data, { cronTab_stable_example_com: { metadata: { name: 'dependent' }, owners: [{ metadata: { name: 'owner' } }, null] } });
    assert.deepEqual(r.errors.map((e: any) => [e.path, e.extensions.code, e.extensions.reason]), [[['cronTab_stable_example_com', 'owners', 1], 'FORBIDDEN', 'Forbidden']]);

    ops.owners = async () => {
      throw new ApiError('TOO_MANY_REQUESTS', 'over budget', { retryAfterSeconds: 1 });
    };
    const refused = await run(schema, query);
    assert.deepEqual(refused.data, { cronTab_stable_example_com: { metadata: { name: 'dependent' }, owners: [null, null] } });
    assert.deepEqual(refused.errors.map((e: any) => [e.path.at(-1), e.extensions.code]), [[0, 'TOO_MANY_REQUESTS'], [1, 'TOO_MANY_REQUESTS']]);
  });

  it('type a related object as KubernetesObject in a tenant schema that leaves its type out', async () => {
    const ops = new InMemoryOperations();
    const owner: KubeObject = { apiVersion: CT, kind: 'ClusterCronTab', metadata: { name: 'c', uid: 'u-c' } };
    ops.objects.set(`${clusterCronTab.crdName}/v1//c`, { ...owner, apiVersion: 'stable.example.com/v1' });
    store(ops, tab('dependent', 'u-dep', [owner]));
    const full = buildGraphQLSchema([cronTab, clusterCronTab], { operations: ops }).schema;
    const onlyCronTabs: AccessRights = { anywhere: (_verb, ref) => ref.plural === 'crontabs', fingerprint: () => 'crontabs' };
    const tenant = new TenantSchemaCache().get(full, [cronTab, clusterCronTab], onlyCronTabs).schema;
    assert.equal(tenant.getType('ClusterCronTab_v1_stable_example_com'), undefined);
    const query = `{ cronTab_stable_example_com(namespace: "ns", name: "dependent") { owners { __typename kind } } }`;
    assert.deepEqual((await run(tenant, query)).data.cronTab_stable_example_com.owners, [{ __typename: 'KubernetesObject', kind: 'ClusterCronTab' }]);
    assert.deepEqual((await run(full, query)).data.cronTab_stable_example_com.owners, [{ __typename: 'ClusterCronTab_v1_stable_example_com', kind: 'ClusterCronTab' }]);
  });

  it('keep the interface whole when the schema is patched for a new CRD', async () => {
    const ops = new InMemoryOperations();
    const builder = createSchemaBuilder({ operations: ops, assumeValid: true });
    builder.build([cronTab]);
    const widget = crdToModel(makeCrd({ kind: 'Widget' }));
    const schema = builder.build([cronTab, widget]).schema;
    assert.equal(builder.lastBuild, 'patched');
    const iface = schema.getType('KubernetesResource') as any;
    assert.ok(schema.isSubType(iface, schema.getType('Widget_v1_stable_example_com') as any));
    const owner: KubeObject = { apiVersion: 'stable.example.com/v1', kind: 'Widget', metadata: { name: 'w', uid: 'u-w' }, spec: { size: 3 } };
    ops.objects.set(`${widget.crdName}/v1/ns/w`, owner);
    store(ops, tab('dependent', 'u-dep', [owner]));
    const r = await run(schema, `{ cronTab_stable_example_com(namespace: "ns", name: "dependent") { owners { ... on Widget_v1_stable_example_com { spec { size } } } } }`);
    assert.deepEqual(r, { data: { cronTab_stable_example_com: { owners: [{ spec: { size: 3 } }] } } });
  });

  it('count in the cost model: children and events like lists, owners as a list of 5; and in the depth limit', () => {
    const schema = buildGraphQLSchema([cronTab]).schema;
    const cost = (q: string) => operationCost(schema, parse(q), undefined, undefined, { defaultPageSize: 100, subscriptionCostFactor: 10 });
    const get = (inner: string) => `{ cronTab_stable_example_com(namespace: "n", name: "x") { ${inner} } }`;
    assert.equal(cost(get('metadata { name }')), 3);
    assert.equal(cost(get('children(kind: "ConfigMap", limit: 4) { metadata { name } }')), 1 + 1 + 4 * 2);
    assert.equal(cost(get('events { message }')), 1 + 1 + 100);
    assert.equal(cost(get('owners { metadata { name } }')), 1 + 1 + 5 * 2);
    assert.equal(cost(get('owners { owners { kind } }')), 1 + 1 + 5 + 25);
    const deep = parse(get('owners { owners { owners { owners { metadata { name } } } } }'));
    assert.deepEqual(validate(schema, deep, limitRules({ maxDepth: 8 }) as never), []);
    assert.match(String(validate(schema, deep, limitRules({ maxDepth: 6 }) as never)[0]), /depth/i);
  });

  it('give a subscription that selects relations a shared-results group per subscriber, read as that subscriber', async () => {
    const ops = new InMemoryOperations();
    const owner = tab('owner', 'u-owner');
    store(ops, owner);
    const schema = buildGraphQLSchema([cronTab], { operations: ops }).schema;
    const groups = new SharedSelections();
    const join = (query: string, user: string) => groups.join({ schema, document: parse(query), contextValue: { identity: { user, groups: ['g'] } } }, query);
    const withRelations = 'subscription { watchCronTab_stable_example_com(namespace: "ns") { object { metadata { name } owners { metadata { name } } } } }';
    const plain = 'subscription { watchCronTab_stable_example_com(namespace: "ns") { object { metadata { name } } } }';
    const alice = join(withRelations, 'alice');
    const aliceAgain = join(withRelations, 'alice');
    const bob = join(withRelations, 'bob');
    assert.equal(new Set([alice, aliceAgain, bob]).size, 3, 'relations are read per subscriber');
    assert.equal(join(plain, 'alice'), join(plain, 'bob'), 'a selection without relations is shared');
    const event = { type: 'ADDED', object: tab('watched', 'u-watched', [owner]) };
    const data = async (group: typeof alice) => JSON.parse((await group.payloadOf(event)).toString()).data;
    const expected = { watchCronTab_stable_example_com: { object: { metadata: { name: 'watched' }, owners: [{ metadata: { name: 'owner' } }] } } };
    for (const group of [alice, aliceAgain, bob]) assert.deepEqual(await data(group), expected);
    const readers = ops.relationCalls.filter((c) => c.operation === 'owners').map((c) => (c.request.context as { identity: { user: string } }).identity.user);
    assert.deepEqual(readers.sort(), ['alice', 'alice', 'bob'], 'each subscriber reads the owners as itself');
  });

  it('make the explorer\'s example: a Relations operation on the first namespaced resource, valid against the schema', () => {
    const schema = buildGraphQLSchema([cronTab, clusterCronTab]).schema;
    const example = relationsExample([clusterCronTab, cronTab]);
    assert.match(example, /query Relations \{\s+cronTabList_stable_example_com\(first: 5\)/);
    assert.deepEqual(validate(schema, parse(defaultExplorerQuery + example)).map(String), []);
    assert.match(relationsExample([clusterCronTab]), /clusterCronTabList_stable_example_com\(first: 5\)[\s\S]*metadata \{ name \}/);
    assert.equal(relationsExample([]), '');
  });
  it('bound the owners one execution resolves: objects that all own each other fail past the bound, not the process, and each event of a subscription starts afresh', async () => {
    const ops = new InMemoryOperations();
    const refs = Array.from({ length: 40 }, (_, i) => tab(`clq-${i}`, `u-clq-${i}`));
    store(ops, ...refs.map((r) => tab((r['metadata'] as any).name, (r['metadata'] as any).uid, refs)));
    const schema = buildGraphQLSchema([cronTab], { operations: ops }).schema;
    const get = (levels: number) => `{ cronTab_stable_example_com(namespace: "ns", name: "clq-0") { metadata { name } ${'owners { '.repeat(levels)}metadata { name } ${'} '.repeat(levels)}} }`;
    const exec = async (source: string, contextValue: object, rootValue?: object) => JSON.parse(JSON.stringify(await graphql({ schema, source, contextValue, rootValue })));
    const entries = (v: unknown): number => (Array.isArray(v) ? v.length + v.reduce((n: number, x) => n + entries(x), 0)
      : typeof v === 'object' && v !== null ? Object.values(v).reduce((n: number, x) => n + entries(x), 0) : 0);
    // Two levels: 40 + 1,600 owners, within the bound.
    const two = await exec(get(2), {});
    assert.equal(two.errors, undefined);
    assert.equal(two.data.cronTab_stable_example_com.owners[39].owners.length, 40);
    // Three levels would be 64,000 more (four, 2.56 million: the process ran out of memory).
    const three = await exec(get(3), {});
    assert.equal(three.data.cronTab_stable_example_com.metadata.name, 'clq-0');
    assert.ok(three.errors.length > 0);
    for (const e of three.errors) {
      assert.equal(e.extensions.code, 'BAD_REQUEST');
      assert.match(e.message, /owners fields reach more than 10000 objects in all/);
    }
    assert.ok(entries(three.data) <= 10_000 + 40, `${entries(three.data)} entries`);
    // One context, an execution per root value (a subscription's events): each has the whole bound.
    const context = {};
    for (let event = 0; event < 7; event++) assert.equal((await exec(get(2), context, { event })).errors, undefined, `event ${event}`);
  });
});
