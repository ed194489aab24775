import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  execute,
  graphql,
  isEnumType,
  isInputObjectType,
  isObjectType,
  parse as parseGraphQL,
  printType,
  subscribe,
  validateSchema,
} from 'graphql';
import type { GraphQLFieldMap, GraphQLInputObjectType, GraphQLSchema } from 'graphql';
import { parse } from 'yaml';
import { buildGraphQLSchema, createSchemaBuilder } from '../../src/graphql/schema-builder.ts';
import { PlannedExecution } from '../../src/graphql/compiled-execution.ts';
import { crdToModel } from '../../src/model/crd-to-model.ts';
import type { ResourceModel } from '../../src/model/resource-model.ts';
import { parseJson } from '../../src/kube/lossless-json.ts';
import { makeCrd, TRICKY_SPEC } from './crd-fixtures.ts';
import { fullSelection } from './graphql-selection.ts';
import { InMemoryOperations } from './in-memory-operations.ts';

const example = (name: string) => crdToModel(parse(readFileSync(new URL(`../../deploy/examples/${name}`, import.meta.url), 'utf8')));
const cronTab = example('crontab-crd.yaml');
const clusterCronTab = example('clustercrontab-crd.yaml');
const tricky = crdToModel(makeCrd({ group: 'tricky.example.org', kind: 'Tricky', spec: TRICKY_SPEC, versions: [{ name: 'v1', subresources: { status: {} } }] }));

function build(models: ResourceModel[], operations?: InMemoryOperations): GraphQLSchema {
  const result = buildGraphQLSchema(models, operations ? { operations } : {});
  assert.deepEqual(result.problems, []);
  assert.deepEqual(validateSchema(result.schema).map(String), []);
  return result.schema;
}

/** Every generated type of a CRD (names are prefixed with its Kind and end with its group). */
function typesOf(schema: GraphQLSchema, kind: string, group: string): Map<string, string> {
  const suffix = group.replace(/-/g, '__').replace(/\./g, '_');
  const out = new Map<string, string>();
  for (const [name, type] of Object.entries(schema.getTypeMap())) {
    if (name.startsWith(`${kind}_`) && (name.endsWith(suffix) || name.includes(`${suffix}_`))) out.set(name, printType(type));
  }
  return out;
}

function printFields(fields: GraphQLFieldMap<unknown, unknown>, filter: (name: string) => boolean): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, field] of Object.entries(fields)) {
    if (!filter(name)) continue;
    const args = field.args.map((a) => `${a.name}: ${String(a.type)}`).join(', ');
    out.set(name, `${name}(${args}): ${String(field.type)} ${field.description ?? ''} ${field.deprecationReason ?? ''}`);
  }
  return out;
}

function rootFieldsOf(schema: GraphQLSchema, group: string): Map<string, string> {
  const suffix = `_${group.replace(/-/g, '__').replace(/\./g, '_')}`;
  const mine = (name: string) => name.endsWith(suffix);
  return new Map([
    ...printFields(schema.getQueryType()!.getFields(), mine),
    ...printFields(schema.getMutationType()!.getFields(), mine),
    ...printFields(schema.getSubscriptionType()!.getFields(), mine),
  ]);
}

describe('schema builder: shape', () => {
  const schema = build([cronTab, clusterCronTab]);

  it('exposes every served version under versioned names, and the storage version without one', () => {
    const query = schema.getQueryType()!.getFields();
    for (const name of [
      'cronTab_v1_stable_example_com',
      'cronTab_v2_stable_example_com',
      'cronTab_stable_example_com',
      'cronTabList_v1_stable_example_com',
      'cronTabList_stable_example_com',
      'cronTab_Scale_v1_stable_example_com',
      'clusterCronTab_v1_stable_example_com',
    ]) {
      assert.ok(query[name], `Query.${name}`);
    }
    assert.equal(String(query['cronTab_stable_example_com']!.type), 'CronTab_v1_stable_example_com');
    assert.equal(String(query['cronTab_v2_stable_example_com']!.type), 'CronTab_v2_stable_example_com');
    const mutation = schema.getMutationType()!.getFields();
    for (const op of ['create', 'replace', 'patch', 'delete', 'scale']) assert.ok(mutation[`${op}CronTab_v1_stable_example_com`], op);
    assert.ok(mutation['updateCronTabStatus_v1_stable_example_com']);
    assert.ok(mutation['deleteCronTabList_v1_stable_example_com']);
    assert.ok(mutation['updateClusterCronTabStatus_v1_stable_example_com']);
    assert.equal(mutation['scaleClusterCronTab_v1_stable_example_com'], undefined, 'no scale subresource, no scale field');
    assert.ok(schema.getSubscriptionType()!.getFields()['watchCronTab_v1_stable_example_com']);
  });

  it('takes namespace for namespaced resources only, and dryRun on every mutation', () => {
    const query = schema.getQueryType()!.getFields();
    assert.deepEqual(query['cronTab_v1_stable_example_com']!.args.map((a) => `${a.name}: ${a.type}`), ['namespace: String!', 'name: String!']);
    assert.deepEqual(query['clusterCronTab_v1_stable_example_com']!.args.map((a) => a.name), ['name']);
    assert.deepEqual(
      query['cronTabList_v1_stable_example_com']!.args.map((a) => a.name),
      ['namespace', 'labelSelector', 'fieldSelector', 'limit', 'continue', 'first', 'after', 'resourceVersion', 'where', 'orderBy', 'consistency'],
    );
    for (const field of Object.values(schema.getMutationType()!.getFields())) {
      assert.ok(field.args.some((a) => a.name === 'dryRun'), `${field.name} takes dryRun`);
    }
    const patch = schema.getMutationType()!.getFields()['patchCronTab_v1_stable_example_com']!;
    assert.deepEqual(patch.args.map((a) => a.name), ['namespace', 'name', 'type', 'patch', 'jsonPatch', 'fieldManager', 'force', 'dryRun', 'subresource']);
    // A patch takes subresource (STATUS) exactly where the version has a status subresource.
    const withAndWithout = buildGraphQLSchema([crdToModel(makeCrd({ versions: [{ name: 'v1', subresources: { status: {} } }, { name: 'v2' }] }))]).schema;
    const widgets = withAndWithout.getMutationType()!.getFields();
    assert.equal(widgets['patchWidget_v1_stable_example_com']!.args.some((a) => a.name === 'subresource'), true);
    assert.equal(widgets['patchWidget_v2_stable_example_com']!.args.some((a) => a.name === 'subresource'), false);
    // The input's status says which writes keep it, where a status subresource makes Kubernetes ignore it elsewhere.
    const schemaWithStatus = { type: 'object', properties: { status: { type: 'object', description: 'What the controller saw.', properties: { ready: { type: 'boolean' } } } } };
    const inputs = buildGraphQLSchema([crdToModel(makeCrd({
      versions: [{ name: 'v1', subresources: { status: {} }, schema: schemaWithStatus }, { name: 'v2', schema: schemaWithStatus }],
    }))]).schema;
    const statusOf = (version: string) => (inputs.getType(`Widget_${version}_stable_example_com_Input`) as GraphQLInputObjectType).getFields()['status']!.description;
    assert.equal(statusOf('v1'), 'Written only through the status subresource: updateWidgetStatus, or patchWidget with subresource: STATUS. '
      + 'Create, replace and a patch of the object leave it as it was: Kubernetes ignores it there.\n\nWhat the controller saw.');
    assert.equal(statusOf('v2'), 'What the controller saw.');
    const del = schema.getMutationType()!.getFields()['deleteCronTab_v1_stable_example_com']!;
    assert.deepEqual(del.args.map((a) => a.name), ['namespace', 'name', 'propagationPolicy', 'gracePeriodSeconds', 'dryRun', 'preconditions']);
    const watch = schema.getSubscriptionType()!.getFields()['watchCronTab_v1_stable_example_com']!;
    assert.deepEqual(watch.args.map((a) => a.name), ['namespace', 'labelSelector', 'fieldSelector', 'resourceVersion', 'sendInitialEvents']);
  });

  it('types spec and status, enums, int-or-string, maps and preserved fields', () => {
    const spec = schema.getType('ClusterCronTab_Spec_v1_stable_example_com');
    assert.ok(isObjectType(spec));
    const fields = spec.getFields();
    assert.equal(String(fields['replicas']!.type), 'Int');
    assert.equal(String(fields['timeout']!.type), 'IntOrString');
    assert.equal(String(fields['env']!.type), 'StringMap');
    assert.equal(String(fields['config']!.type), 'JSON');
    assert.equal(String(fields['jvm_options']!.type), 'ClusterCronTab_Spec_JvmOptions_v1_stable_example_com');
    const policy = schema.getType('ClusterCronTab_Spec_ConcurrencyPolicy_v1_stable_example_com');
    assert.ok(isEnumType(policy));
    assert.deepEqual(policy.getValues().map((v) => v.name), ['Allow', 'Forbid', 'Replace']);
    assert.ok(isInputObjectType(schema.getType('ClusterCronTab_Spec_v1_stable_example_com_Input')));
    assert.match(fields['replicas']!.description ?? '', /Default: 1/);
  });
});

describe('schema builder: names are stable', () => {
  const alone = build([cronTab]);
  const unrelated = crdToModel(makeCrd({ group: 'zzz.example.io', kind: 'Zebra' }));
  const sameKindElsewhere = crdToModel(makeCrd({ group: 'other.example.com', kind: 'CronTab', plural: 'crontabs' }));
  const sameKindSimilarGroup = crdToModel(makeCrd({ group: 'stable-example.com', kind: 'CronTab', plural: 'crontabs' }));
  const crowded = build([unrelated, cronTab, sameKindElsewhere, sameKindSimilarGroup, tricky]);

  it('adding unrelated CRDs and the same Kind in other groups changes no type of the existing CRD', () => {
    const before = typesOf(alone, 'CronTab', 'stable.example.com');
    assert.ok(before.size > 5);
    const after = typesOf(crowded, 'CronTab', 'stable.example.com');
    assert.deepEqual(after, before);
  });

  it('and no root field of it', () => {
    const before = rootFieldsOf(alone, 'stable.example.com');
    assert.ok(before.size >= 20);
    assert.deepEqual(rootFieldsOf(crowded, 'stable.example.com'), before);
  });

  it('the same Kind in another group gets its own types and fields', () => {
    assert.ok(crowded.getType('CronTab_v1_other_example_com'));
    assert.ok(crowded.getType('CronTab_v1_stable__example_com'));
    assert.ok(crowded.getQueryType()!.getFields()['cronTab_v1_other_example_com']);
    assert.ok(crowded.getQueryType()!.getFields()['cronTab_v1_stable__example_com']);
  });

  it('removing the other CRDs again gives the same schema text', async () => {
    const { printSchema } = await import('graphql');
    assert.equal(printSchema(build([cronTab])), printSchema(alone));
  });

  it('refuses a second CRD for an already served group and kind, keeping the first', () => {
    const impostor = crdToModel(makeCrd({ group: 'stable.example.com', kind: 'CronTab', plural: 'crontabz' }));
    const result = buildGraphQLSchema([impostor, cronTab]);
    assert.deepEqual(result.problems, [
      { crdName: 'crontabz.stable.example.com', message: 'kind CronTab of group stable.example.com is already served by CRD crontabs.stable.example.com' },
    ]);
    assert.deepEqual(result.resources.map((r) => r.crdName), ['crontabs.stable.example.com']);
  });
});

describe('schema builder: incremental', () => {
  it('reuses the types of unchanged CRDs and rebuilds the changed one', () => {
    const builder = createSchemaBuilder();
    const first = builder.build([cronTab, clusterCronTab]).schema;
    const changedCrd = parse(readFileSync(new URL('../../deploy/examples/clustercrontab-crd.yaml', import.meta.url), 'utf8'));
    changedCrd.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.extra = { type: 'string' };
    const second = builder.build([cronTab, crdToModel(changedCrd)]).schema;
    assert.equal(second.getType('CronTab_v1_stable_example_com'), first.getType('CronTab_v1_stable_example_com'));
    assert.equal(second.getType('CronTab_Spec_v2_stable_example_com'), first.getType('CronTab_Spec_v2_stable_example_com'));
    assert.notEqual(second.getType('ClusterCronTab_Spec_v1_stable_example_com'), first.getType('ClusterCronTab_Spec_v1_stable_example_com'));
    const spec = second.getType('ClusterCronTab_Spec_v1_stable_example_com');
    assert.ok(isObjectType(spec) && spec.getFields()['extra']);
    assert.equal(builder.cacheSize, 2);
    builder.build([cronTab]);
    assert.equal(builder.cacheSize, 1, 'removed CRDs leave the cache');
  });
});

describe('schema builder: deprecation', () => {
  it('marks the root fields of deprecated versions with the CRD warning', () => {
    const model = crdToModel(
      makeCrd({ versions: [{ name: 'v1' }, { name: 'v1beta1', deprecated: true, deprecationWarning: 'example.com/v1beta1 Widget is going away; use v1' }] }),
    );
    const schema = build([model]);
    const query = schema.getQueryType()!.getFields();
    assert.equal(query['widget_v1beta1_stable_example_com']!.deprecationReason, 'example.com/v1beta1 Widget is going away; use v1');
    assert.equal(schema.getMutationType()!.getFields()['createWidget_v1beta1_stable_example_com']!.deprecationReason, 'example.com/v1beta1 Widget is going away; use v1');
    assert.equal(query['widget_v1_stable_example_com']!.deprecationReason, undefined);
  });

  it('skips versions that are not served', () => {
    const model = crdToModel(makeCrd({ versions: [{ name: 'v1' }, { name: 'v1alpha1', served: false }] }));
    const schema = build([model]);
    assert.equal(schema.getQueryType()!.getFields()['widget_v1alpha1_stable_example_com'], undefined);
    assert.equal(schema.getType('Widget_v1alpha1_stable_example_com'), undefined);
  });
});

describe('schema builder: resolvers call the operations with Kubernetes JSON', () => {
  it('create converts names, enums, maps and unknown fields, fills apiVersion/kind/namespace, and serves the result back', async () => {
    const ops = new InMemoryOperations();
    const schema = build([tricky], ops);
    const result = await graphql({
      schema,
      source: `mutation($input: Tricky_v1_tricky_example_org_Input!) {
        createTricky_v1_tricky_example_org(namespace: "team-a", input: $input, dryRun: true, fieldManager: "me") {
          apiVersion kind metadata { name namespace labels }
          spec { a_b_2 a_b mode port big labels backends { key value { host_name port } } mixed { known known_too _unknownFields } }
        }
      }`,
      variableValues: {
        input: {
          metadata: { name: 'x', labels: { 'app.kubernetes.io/name': 'x' } },
          spec: {
            a_b_2: 'dash',
            a_b: 'underscore',
            mode: 's_mime',
            port: '25%',
            big: '9223372036854775807',
            labels: { 'a.b/c': 'd' },
            backends: [{ key: 'primary', value: { host_name: 'h', port: 80 } }],
            mixed: { known: 'k', _unknownFields: { 'x-extra': [1, 2] } },
          },
        },
      },
    });
    assert.deepEqual(result.errors, undefined);
    const call = ops.lastCall();
    assert.equal(call.operation, 'create');
    assert.equal(call.request.namespace, 'team-a');
    assert.equal(call.request.args.dryRun, 'All');
    assert.equal(call.request.args.fieldManager, 'me');
    assert.deepEqual(call.request.args.body, {
      apiVersion: 'tricky.example.org/v1',
      kind: 'Tricky',
      metadata: { name: 'x', namespace: 'team-a', labels: { 'app.kubernetes.io/name': 'x' } },
      spec: {
        'a-b': 'dash',
        a_b: 'underscore',
        mode: 's/mime',
        port: '25%',
        big: 9223372036854775807n,
        labels: { 'a.b/c': 'd' },
        backends: { primary: { 'host-name': 'h', port: 80 } },
        mixed: { known: 'k', 'x-extra': [1, 2] },
      },
    });
    // As a client reads the response: JSON text, every digit kept.
    assert.match(JSON.stringify(result.data), /"big":9223372036854775807\b/);
    assert.deepEqual(parseJson(JSON.stringify(result.data)), {
      createTricky_v1_tricky_example_org: {
        apiVersion: 'tricky.example.org/v1',
        kind: 'Tricky',
        metadata: { name: 'x', namespace: 'team-a', labels: { 'app.kubernetes.io/name': 'x' } },
        spec: {
          a_b_2: 'dash',
          a_b: 'underscore',
          mode: 's_mime',
          port: '25%',
          big: 9223372036854775807n,
          labels: { 'a.b/c': 'd' },
          backends: [{ key: 'primary', value: { host_name: 'h', port: 80 } }],
          mixed: { known: 'k', known_too: null, _unknownFields: { 'x-extra': [1, 2] } },
        },
      },
    });
  });

  it('refuses contradicting names and namespaces with BAD_USER_INPUT', async () => {
    const ops = new InMemoryOperations();
    const schema = build([cronTab], ops);
    const result = await graphql({
      schema,
      source: `mutation { replaceCronTab_v1_stable_example_com(namespace: "a", name: "x", input: { metadata: { name: "y" } }) { kind } }`,
    });
    assert.match(result.errors?.[0]?.message ?? '', /metadata.name is "y", but the name argument is "x"/);
    assert.equal(result.errors?.[0]?.extensions['code'], 'BAD_USER_INPUT');
    assert.equal(ops.calls.length, 0);
  });

  it('patch: MERGE keeps nulls, JSON passes operations, APPLY needs a fieldManager', async () => {
    const ops = new InMemoryOperations();
    const schema = build([tricky], ops);
    const run = (args: string) =>
      graphql({ schema, source: `mutation { patchTricky_v1_tricky_example_org(namespace: "n", name: "x", ${args}) { kind } }` });
    let result = await run(`type: MERGE, patch: { spec: { a_b_2: null, mode: HTTP_01 } }`);
    assert.deepEqual(result.errors, undefined);
    assert.deepEqual(ops.lastCall().request.args, { patchType: 'application/merge-patch+json', patch: { spec: { 'a-b': null, mode: 'HTTP-01' } } });
    result = await run(`type: JSON, jsonPatch: [{ op: replace, path: "/spec/a-b", value: "v" }], dryRun: true`);
    assert.deepEqual(result.errors, undefined);
    assert.deepEqual(ops.lastCall().request.args, {
      patchType: 'application/json-patch+json',
      patch: [{ op: 'replace', path: '/spec/a-b', value: 'v' }],
      dryRun: 'All',
    });
    result = await run(`type: APPLY, patch: { spec: { a_b: "v" } }`);
    assert.match(result.errors?.[0]?.message ?? '', /APPLY needs a fieldManager/);
    result = await run(`type: APPLY, patch: { spec: { a_b: "v" } }, fieldManager: "ci", force: true`);
    assert.deepEqual(result.errors, undefined);
    assert.deepEqual(ops.lastCall().request.args, {
      patchType: 'application/apply-patch+yaml',
      patch: { apiVersion: 'tricky.example.org/v1', kind: 'Tricky', metadata: { namespace: 'n', name: 'x' }, spec: { a_b: 'v' } },
      fieldManager: 'ci',
      force: true,
    });
    result = await run(`type: JSON, patch: { spec: { a_b: "v" } }`);
    assert.match(result.errors?.[0]?.message ?? '', /type JSON takes jsonPatch, not patch/);
    // A malformed operation is refused naming it; Kubernetes would read a missing value as null
    // (add and replace then write null) and answers the others without saying which one failed.
    const calls = ops.calls.length;
    for (const [ops2, message] of [
      ['{ op: add, path: "/spec/a-b" }', /jsonPatch\[0\]: add needs a value \(null to write null\)/],
      ['{ op: test, path: "/spec/a-b", value: 1 }, { op: replace, path: "/spec/a-b" }', /jsonPatch\[1\]: replace needs a value/],
      ['{ op: move, path: "/spec/a-b" }', /jsonPatch\[0\]: move needs from/],
      ['{ op: copy, path: "/spec/x", from: "spec" }', /jsonPatch\[0\]\.from: "spec" is not a JSON pointer \(it must be empty or start with \/\)/],
      ['{ op: remove, path: "spec/a-b" }', /jsonPatch\[0\]\.path: "spec\/a-b" is not a JSON pointer/],
      ['{ op: remove, path: "/spec/a~2b" }', /jsonPatch\[0\]\.path: "\/spec\/a~2b" is not a JSON pointer \(~ must be followed by 0 or 1\)/],
      ['{ op: move, path: "/spec/a/b", from: "/spec/a" }', /jsonPatch\[0\]: move cannot move "\/spec\/a" into its own child "\/spec\/a\/b"/],
    ] as const) {
      result = await run(`type: JSON, jsonPatch: [${ops2}]`);
      assert.match(result.errors?.[0]?.message ?? '', message, ops2);
      assert.equal(result.errors?.[0]?.extensions['code'], 'BAD_USER_INPUT');
    }
    assert.equal(ops.calls.length, calls, 'nothing reached the operations');
  });

  it('list returns a Relay connection; delete returns the object or a Status; scale reads and writes', async () => {
    const ops = new InMemoryOperations();
    const schema = build([cronTab], ops);
    await graphql({ schema, source: `mutation { createCronTab_v1_stable_example_com(namespace: "n", input: { metadata: { name: "a" }, spec: { cronSpec: "* * * * *" } }) { kind } }` });
    const list = await graphql({
      schema,
      source: `{ cronTabList_stable_example_com(namespace: "n", first: 1, labelSelector: "app=x") {
        edges { cursor node { metadata { name } spec { cronSpec } } } pageInfo { hasNextPage endCursor hasPreviousPage } resourceVersion } }`,
    });
    assert.deepEqual(list.errors, undefined);
    assert.deepEqual(ops.lastCall().request.args, { labelSelector: 'app=x', limit: 1 });
    assert.deepEqual(JSON.parse(JSON.stringify(list.data)), {
      cronTabList_stable_example_com: {
        edges: [{ cursor: 'next-page', node: { metadata: { name: 'a' }, spec: { cronSpec: '* * * * *' } } }],
        pageInfo: { hasNextPage: true, endCursor: 'next-page', hasPreviousPage: false },
        resourceVersion: '7',
      },
    });
    const both = await graphql({ schema, source: `{ cronTabList_v1_stable_example_com(limit: 1, first: 1) { resourceVersion } }` });
    assert.match(both.errors?.[0]?.message ?? '', /give limit or first, not both/);

    const scale = await graphql({ schema, source: `mutation { scaleCronTab_v1_stable_example_com(namespace: "n", name: "a", replicas: 3, resourceVersion: "9") { spec { replicas } } }` });
    assert.deepEqual(scale.errors, undefined);
    assert.deepEqual(ops.lastCall().request.args.body, {
      apiVersion: 'autoscaling/v1',
      kind: 'Scale',
      metadata: { name: 'a', namespace: 'n', resourceVersion: '9' },
      spec: { replicas: 3 },
    });
    const readScale = await graphql({ schema, source: `{ cronTab_Scale_v1_stable_example_com(namespace: "n", name: "a") { spec { replicas } status { replicas selector } } }` });
    assert.deepEqual(JSON.parse(JSON.stringify(readScale.data)), { cronTab_Scale_v1_stable_example_com: { spec: { replicas: 2 }, status: { replicas: 1, selector: 'app=x' } } });

    const del = `mutation { deleteCronTab_v1_stable_example_com(namespace: "n", name: "a", propagationPolicy: Foreground, gracePeriodSeconds: 0, preconditions: { resourceVersion: "5" }) { object { metadata { name } } status { status code } } }`;
    const first = await graphql({ schema, source: del });
    assert.deepEqual(first.errors, undefined);
    assert.deepEqual(ops.lastCall().request.args, { propagationPolicy: 'Foreground', gracePeriodSeconds: 0, preconditions: { resourceVersion: '5' } });
    assert.deepEqual(JSON.parse(JSON.stringify(first.data)), { deleteCronTab_v1_stable_example_com: { object: { metadata: { name: 'a' } }, status: null } });
    const second = await graphql({ schema, source: del });
    assert.deepEqual(JSON.parse(JSON.stringify(second.data)), { deleteCronTab_v1_stable_example_com: { object: null, status: { status: 'Success', code: 200 } } });

    const collection = await graphql({ schema, source: `mutation { deleteCronTabList_v1_stable_example_com(namespace: "n", labelSelector: "a=b", dryRun: true) { kind } }` });
    assert.deepEqual(collection.errors, undefined);
    assert.deepEqual(ops.lastCall().request.args, { dryRun: 'All', labelSelector: 'a=b' });
  });

  it('watch maps Kubernetes events, turns the initial-events bookmark into INITIAL_STATE_DONE and other bookmarks into BOOKMARK', async () => {
    const ops = new InMemoryOperations();
    ops.watchEvents = [
      { type: 'ADDED', object: { kind: 'CronTab', metadata: { name: 'a', resourceVersion: '1' } } },
      { type: 'BOOKMARK', object: { kind: 'CronTab', metadata: { resourceVersion: '2' } } },
      { type: 'BOOKMARK', object: { kind: 'CronTab', metadata: { resourceVersion: '3', annotations: { 'k8s.io/initial-events-end': 'true' } } } },
      { type: 'DELETED', object: { kind: 'CronTab', metadata: { name: 'a', resourceVersion: '4' } } },
      // Synthesized after a relist: the event stands at the list's resourceVersion, not the object's.
      { type: 'ADDED', object: { kind: 'CronTab', metadata: { name: 'b', resourceVersion: '2' } }, resourceVersion: '9' },
    ];
    const schema = build([cronTab], ops);
    const stream = await subscribe({
      schema,
      document: parseGraphQL(`subscription { watchCronTab_v1_stable_example_com(namespace: "n", sendInitialEvents: true) { type resourceVersion object { metadata { name } } } }`),
    });
    assert.ok(Symbol.asyncIterator in stream);
    const events = [];
    for await (const event of stream) events.push(JSON.parse(JSON.stringify(event.data)).watchCronTab_v1_stable_example_com);
    assert.deepEqual(events, [
      { type: 'ADDED', resourceVersion: '1', object: { metadata: { name: 'a' } } },
      { type: 'BOOKMARK', resourceVersion: '2', object: null },
      { type: 'INITIAL_STATE_DONE', resourceVersion: '3', object: null },
      { type: 'DELETED', resourceVersion: '4', object: { metadata: { name: 'a' } } },
      { type: 'ADDED', resourceVersion: '9', object: { metadata: { name: 'b' } } },
    ]);
    assert.deepEqual(ops.lastCall().request.args, { sendInitialEvents: true });
  });

  it('fails with NOT_IMPLEMENTED when no operations are injected', async () => {
    const schema = build([cronTab]);
    const result = await execute({
      schema,
      document: parseGraphQL(`{ cronTab_v1_stable_example_com(namespace: "n", name: "a") { kind } }`),
    });
    assert.equal(result.errors?.[0]?.extensions['code'], 'NOT_IMPLEMENTED');
  });

  it('reads a stored enum value the schema no longer lists as it is, on both execution paths', async () => {
    // Kubernetes keeps what it stored when a CRD's enum changes (and ratcheting keeps it through
    // updates), and another served version may list other values: the read must not lose it.
    const ops = new InMemoryOperations();
    const schema = build([tricky], ops);
    ops.objects.set(`${tricky.crdName}/v1/n/x`, { apiVersion: 'tricky.example.org/v1', kind: 'Tricky', metadata: { name: 'x', namespace: 'n' }, spec: { mode: 'HTTP-02', starEnum: '*' } });
    const source = '{ tricky_v1_tricky_example_org(namespace: "n", name: "x") { spec { mode starEnum } } }';
    const planned = new PlannedExecution();
    for (const path of ['graphql-js', 'planned', 'planned again'] as const) {
      const result = path === 'graphql-js' ? await graphql({ schema, source }) : await planned.execute({ schema, document: parseGraphQL(source) });
      assert.deepEqual(result.errors, undefined, path);
      assert.deepEqual(JSON.parse(JSON.stringify(result.data)), { tricky_v1_tricky_example_org: { spec: { mode: 'HTTP-02', starEnum: '*' } } }, path);
    }
  });

  it('serves a full object read back through every field', async () => {
    const ops = new InMemoryOperations();
    const schema = build([clusterCronTab], ops);
    const object = {
      apiVersion: 'stable.example.com/v1',
      kind: 'ClusterCronTab',
      metadata: { name: 'x', resourceVersion: '3', generation: 2, creationTimestamp: '2024-01-01T00:00:00Z' },
      spec: { cronSpec: '* * * * *', replicas: 1, concurrencyPolicy: 'Forbid', timeout: '5m', env: { A: 'b' }, 'jvm-options': { '-Xmx': '1g', 'dest-port': 8 }, config: { any: ['thing'] }, targets: [{ name: 't', weight: 1 }] },
      status: { replicas: 1, conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: '2024-01-01T00:00:00Z' }] },
    };
    ops.objects.set('clustercrontabs.stable.example.com/v1//x', object);
    const type = schema.getQueryType()!.getFields()['clusterCronTab_v1_stable_example_com']!.type;
    const result = await graphql({ schema, source: `{ clusterCronTab_v1_stable_example_com(name: "x")${fullSelection(type)} }` });
    assert.deepEqual(result.errors, undefined);
    const data = JSON.parse(JSON.stringify(result.data)).clusterCronTab_v1_stable_example_com;
    assert.deepEqual(data.spec.jvm_options, { _Xmx: '1g', dest_port: 8 });
    assert.equal(data.spec.concurrencyPolicy, 'Forbid');
    assert.equal(data.status.conditions[0].status, 'True');
    assert.equal(data.metadata.generation, 2);
  });
});
