// Queries and mutations on custom resources through the generated GraphQL API, end to end: real
// HTTP to a gateway built in-process (admin identity), a real kube-apiserver behind it, and the
// real kubectl as the independent witness of what was (or was not) persisted.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { kubeConfigFor, kubectl, uniqueName } from '../helpers/test-cluster.ts';
import { eventually, gql, gqlData, onlyError, startGateway, type RunningGateway } from '../helpers/graphql-client.ts';

type Obj = Record<string, any>;

const run = uniqueName('run');
const ns = uniqueName('gql-ops');
const otherNs = uniqueName('gql-ops-b');
let gw: RunningGateway;
let url: string;

/** The CronTab versions, and the version-less fields of the default (storage) version v1. */
const versions = [
  { label: 'v1', field: '_v1', type: '_v1', apiVersion: 'stable.example.com/v1', resource: 'crontabs.v1.stable.example.com' },
  { label: 'v2', field: '_v2', type: '_v2', apiVersion: 'stable.example.com/v2', resource: 'crontabs.v2.stable.example.com' },
  { label: 'default version', field: '', type: '_v1', apiVersion: 'stable.example.com/v1', resource: 'crontabs.v1.stable.example.com' },
] as const;
type Version = (typeof versions)[number];

const CRONTAB = `apiVersion kind metadata { name namespace uid resourceVersion generation labels annotations creationTimestamp }
  spec { cronSpec image replicas } status { replicas labelSelector }`;
const CLUSTER_CRONTAB = `apiVersion kind metadata { name uid resourceVersion generation labels }
  spec { cronSpec image replicas concurrencyPolicy timeout env jvm_options { _Xmx dest_port } config targets { name weight } }
  status { replicas lastScheduleTime conditions { type status reason message lastTransitionTime } }`;

async function kubectlOk(args: string[], input?: string): Promise<string> {
  const r = await kubectl(args, input === undefined ? {} : { input });
  assert.equal(r.code, 0, `kubectl ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

/** The object as kubectl sees it, or undefined when kubectl says NotFound. */
async function kget(resource: string, name: string, namespace?: string, showManagedFields = false): Promise<Obj | undefined> {
  const r = await kubectl(['get', resource, name, ...(namespace ? ['-n', namespace] : []), '-o', 'json', ...(showManagedFields ? ['--show-managed-fields'] : [])]);
  if (r.code !== 0) {
    assert.match(r.stderr, /NotFound/, `kubectl get ${resource} ${name} failed: ${r.stderr}`);
    return undefined;
  }
  return JSON.parse(r.stdout) as Obj;
}

async function kapply(objects: Obj[]): Promise<void> {
  await kubectlOk(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }));
}

function crontab(name: string, namespace: string, extra: { labels?: Record<string, string>; cronSpec?: string; image?: string; replicas?: number } = {}): Obj {
  return {
    apiVersion: 'stable.example.com/v1',
    kind: 'CronTab',
    metadata: { name, namespace, labels: { run, ...extra.labels } },
    spec: { cronSpec: extra.cronSpec ?? '*/5 * * * *', image: extra.image ?? 'example/img:1', replicas: extra.replicas ?? 1 },
  };
}

/** What the GraphQL CronTab selection shows of an object as kubectl prints it. */
function crontabView(o: Obj): Obj {
  const m = o.metadata;
  return {
    apiVersion: o.apiVersion,
    kind: o.kind,
    metadata: {
      name: m.name, namespace: m.namespace, uid: m.uid, resourceVersion: m.resourceVersion, generation: m.generation,
      labels: m.labels ?? null, annotations: m.annotations ?? null, creationTimestamp: m.creationTimestamp,
    },
    spec: { cronSpec: o.spec?.cronSpec ?? null, image: o.spec?.image ?? null, replicas: o.spec?.replicas ?? null },
    status: o.status ? { replicas: o.status.replicas ?? null, labelSelector: o.status.labelSelector ?? null } : null,
  };
}

const names = (edges: { node: Obj }[]) => edges.map((e) => e.node.metadata.name as string).sort();

before(async () => {
  gw = await startGateway(kubeConfigFor('admin'));
  url = gw.url;
  await kubectlOk(['create', 'namespace', ns]);
  await kubectlOk(['create', 'namespace', otherNs]);
});

after(async () => {
  await gw?.stop();
  await kubectl(['delete', 'namespace', ns, otherNs, '--wait=false']);
  await kubectl(['delete', 'clustercrontabs', '-l', `run=${run}`, '--wait=false']);
});

describe('CronTab reads, for every served version', () => {
  const seeded = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf'];
  before(async () => {
    await kapply([
      ...seeded.map((n, i) => crontab(`read-${n}`, ns, {
        labels: { tier: i % 2 ? 'back' : 'front' },
        cronSpec: i < 2 ? '0 1 * * *' : '*/10 * * * *',
        replicas: i,
      })),
      crontab('read-other-1', otherNs, { labels: { tier: 'front' } }),
      crontab('read-other-2', otherNs, { labels: { tier: 'back' } }),
    ]);
  });

  for (const v of versions) {
    const get = `cronTab${v.field}_stable_example_com`;
    const list = `cronTabList${v.field}_stable_example_com`;

    test(`${v.label}: get one matches kubectl field for field`, async () => {
      const data = await gqlData(url, `query($ns: String!, $name: String!) { o: ${get}(namespace: $ns, name: $name) { ${CRONTAB} } }`,
        { ns, name: 'read-charlie' });
      const viaKubectl = await kget(v.resource, 'read-charlie', ns);
      assert.ok(viaKubectl);
      assert.equal(viaKubectl.apiVersion, v.apiVersion);
      assert.deepEqual(data.o, crontabView(viaKubectl));
      assert.deepEqual(data.o.spec, { cronSpec: '*/10 * * * *', image: 'example/img:1', replicas: 2 });
    });

    test(`${v.label}: get of a missing object is null without an error`, async () => {
      const r = await gql(url, `query($ns: String!) { o: ${get}(namespace: $ns, name: "no-such-crontab") { metadata { name } } }`, { ns });
      assert.equal(r.status, 200);
      assert.equal(r.errors, undefined, r.text);
      assert.deepEqual(r.data, { o: null });
    });

    test(`${v.label}: list in one namespace, with the list's resourceVersion`, async () => {
      const data = await gqlData(url, `query($ns: String) { l: ${list}(namespace: $ns) {
        edges { node { apiVersion metadata { name namespace resourceVersion } } } pageInfo { hasNextPage endCursor } resourceVersion } }`, { ns });
      assert.deepEqual(names(data.l.edges), seeded.map((n) => `read-${n}`).sort());
      assert.ok(data.l.edges.every((e: { node: Obj }) => e.node.metadata.namespace === ns && e.node.apiVersion === v.apiVersion));
      assert.deepEqual(data.l.pageInfo, { hasNextPage: false, endCursor: null });
      const kubectlList = JSON.parse(await kubectlOk(['get', '--raw', `/apis/stable.example.com/${v.apiVersion.split('/')[1]}/namespaces/${ns}/crontabs`])) as Obj;
      assert.match(data.l.resourceVersion, /^\d+$/);
      // A list's resourceVersion is at least as new as every object in it.
      const newest = Math.max(...data.l.edges.map((e: { node: Obj }) => Number(e.node.metadata.resourceVersion)));
      assert.ok(Number(data.l.resourceVersion) >= newest, `list rv ${data.l.resourceVersion} < object rv ${newest}`);
      assert.ok(Number(kubectlList.metadata.resourceVersion) >= Number(data.l.resourceVersion));
    });

    test(`${v.label}: list across all namespaces`, async () => {
      const data = await gqlData(url, `query($sel: String) { l: ${list}(labelSelector: $sel) { edges { node { metadata { name namespace } } } } }`,
        { sel: `run=${run}` });
      const seen = data.l.edges.map((e: { node: Obj }) => `${e.node.metadata.namespace}/${e.node.metadata.name}`).sort();
      assert.deepEqual(seen, [...seeded.map((n) => `${ns}/read-${n}`), `${otherNs}/read-other-1`, `${otherNs}/read-other-2`].sort());
    });

    test(`${v.label}: labelSelector and fieldSelector (spec.cronSpec, a selectable field) filter on the server`, async () => {
      const byLabel = await gqlData(url, `query($ns: String, $sel: String) { l: ${list}(namespace: $ns, labelSelector: $sel) { edges { node { metadata { name labels } } } } }`,
        { ns, sel: 'tier=back' });
      assert.deepEqual(names(byLabel.l.edges), ['read-bravo', 'read-delta', 'read-foxtrot']);
      const byField = await gqlData(url, `query($ns: String, $sel: String) { l: ${list}(namespace: $ns, fieldSelector: $sel) { edges { node { metadata { name } spec { cronSpec } } } } }`,
        { ns, sel: 'spec.cronSpec=0 1 * * *' });
      assert.deepEqual(names(byField.l.edges), ['read-alpha', 'read-bravo']);
      const both = await gqlData(url, `query($ns: String) { l: ${list}(namespace: $ns, labelSelector: "tier=front", fieldSelector: "spec.cronSpec!=0 1 * * *") { edges { node { metadata { name } } } } }`,
        { ns });
      assert.deepEqual(names(both.l.edges), ['read-charlie', 'read-echo', 'read-golf']);
      // The apiserver, not the gateway, evaluates field selectors: a field that is not selectable
      // is refused with Kubernetes' own message.
      const refused = await gql(url, `query($ns: String) { l: ${list}(namespace: $ns, fieldSelector: "spec.image=x") { edges { cursor } } }`, { ns });
      const err = onlyError(refused, 'BAD_REQUEST');
      assert.equal(err.extensions?.reason, 'BadRequest');
      assert.match(err.message, /field label not supported: spec\.image/);
    });

    test(`${v.label}: Relay pagination (first/after and limit/continue) returns every object exactly once`, async () => {
      for (const [sizeArg, cursorArg] of [['first', 'after'], ['limit', 'continue']] as const) {
        const seen: string[] = [];
        let cursor: string | null = null;
        let pages = 0;
        for (;;) {
          const data: Obj = await gqlData(url, `query($ns: String, $n: Int, $c: String) { l: ${list}(namespace: $ns, ${sizeArg}: $n, ${cursorArg}: $c) {
            edges { cursor node { metadata { name } } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } resourceVersion remainingItemCount } }`,
            { ns, n: 3, c: cursor });
          pages++;
          const page = data.l;
          assert.ok(page.edges.length <= 3);
          seen.push(...page.edges.map((e: { node: Obj }) => e.node.metadata.name));
          assert.match(page.resourceVersion, /^\d+$/);
          assert.equal(page.pageInfo.hasPreviousPage, false);
          assert.equal(page.edges.at(-1).cursor, page.pageInfo.endCursor, 'the last edge carries the page cursor');
          if (!page.pageInfo.hasNextPage) {
            assert.equal(page.pageInfo.endCursor, null);
            break;
          }
          assert.equal(typeof page.pageInfo.endCursor, 'string');
          assert.ok(Number(page.remainingItemCount) > 0);
          cursor = page.pageInfo.endCursor;
          assert.ok(pages < 10, 'pagination does not end');
        }
        assert.equal(pages, 3, `${sizeArg}/${cursorArg}: 7 objects in pages of 3`);
        assert.deepEqual([...seen].sort(), seeded.map((n) => `read-${n}`).sort(), `${sizeArg}/${cursorArg}: every object exactly once`);
      }
    });
  }

  test('giving both first and limit is refused', async () => {
    const r = await gql(url, `query($ns: String) { cronTabList_stable_example_com(namespace: $ns, first: 1, limit: 2) { edges { cursor } } }`, { ns });
    onlyError(r, 'BAD_USER_INPUT');
  });
});

describe('CronTab mutations, for every served version', () => {
  for (const v of versions) {
    const f = (op: string) => `${op}CronTab${v.field}_stable_example_com`;
    const inputType = `CronTab${v.type}_stable_example_com_Input`;
    const prefix = `m${v.field.replace('_', '') || 'd'}`;
    const get = (name: string, showManagedFields = false) => kget(v.resource, name, ns, showManagedFields);

    test(`${v.label}: create, with and without dryRun; again → ALREADY_EXISTS; kubectl sees it field for field`, async () => {
      const name = `${prefix}-create`;
      const input = { metadata: { name, labels: { run, made: 'graphql' } }, spec: { cronSpec: '1 2 3 4 5', image: 'img:create', replicas: 3 } };
      const mutation = `mutation($ns: String!, $in: ${inputType}!, $dry: Boolean) { o: ${f('create')}(namespace: $ns, input: $in, dryRun: $dry) { ${CRONTAB} } }`;
      const dry = await gqlData(url, mutation, { ns, in: input, dry: true });
      assert.equal(dry.o.metadata.name, name);
      assert.equal(dry.o.spec.image, 'img:create');
      assert.equal(await get(name), undefined, 'dryRun create must not persist');

      const made = await gqlData(url, mutation, { ns, in: input });
      assert.equal(made.o.apiVersion, v.apiVersion);
      const seen = await get(name);
      assert.ok(seen, 'kubectl sees the created object');
      assert.deepEqual(made.o, crontabView(seen));
      assert.deepEqual(seen.spec, { cronSpec: '1 2 3 4 5', image: 'img:create', replicas: 3 });
      assert.deepEqual(seen.metadata.labels, { run, made: 'graphql' });

      const again = await gql(url, mutation, { ns, in: input });
      const err = onlyError(again, 'ALREADY_EXISTS');
      assert.equal(err.extensions?.reason, 'AlreadyExists');
      assert.equal(err.message, `crontabs.stable.example.com "${name}" already exists`);
      assert.deepEqual(err.path, ['o']);
    });

    test(`${v.label}: replace with resourceVersion; dryRun does not persist; a stale resourceVersion → CONFLICT with the current one`, async () => {
      const name = `${prefix}-replace`;
      await kapply([crontab(name, ns, { image: 'img:0' })]);
      const before = (await get(name))!;
      const mutation = `mutation($ns: String!, $name: String!, $in: ${inputType}!, $dry: Boolean) {
        o: ${f('replace')}(namespace: $ns, name: $name, input: $in, dryRun: $dry) { metadata { resourceVersion generation } spec { image cronSpec replicas } } }`;
      const input = (image: string, resourceVersion: string) => ({
        metadata: { name, resourceVersion, labels: { run } }, spec: { cronSpec: '5 4 * * *', image, replicas: 2 },
      });

      const dry = await gqlData(url, mutation, { ns, name, in: input('img:dry', before.metadata.resourceVersion), dry: true });
      assert.equal(dry.o.spec.image, 'img:dry');
      assert.equal((await get(name))!.spec.image, 'img:0', 'dryRun replace must not persist');
      assert.equal((await get(name))!.metadata.resourceVersion, before.metadata.resourceVersion);

      const replaced = await gqlData(url, mutation, { ns, name, in: input('img:1', before.metadata.resourceVersion) });
      const now = (await get(name))!;
      assert.deepEqual(now.spec, { cronSpec: '5 4 * * *', image: 'img:1', replicas: 2 });
      assert.equal(replaced.o.metadata.resourceVersion, now.metadata.resourceVersion);
      assert.notEqual(now.metadata.resourceVersion, before.metadata.resourceVersion);

      const stale = await gql(url, mutation, { ns, name, in: input('img:stale', before.metadata.resourceVersion) });
      const err = onlyError(stale, 'CONFLICT');
      assert.equal(err.extensions?.reason, 'Conflict');
      assert.match(err.message, /the object has been modified; please apply your changes to the latest version and try again/);
      assert.equal(err.extensions?.currentResourceVersion, (await get(name))!.metadata.resourceVersion);
      assert.equal((await get(name))!.spec.image, 'img:1');
    });

    test(`${v.label}: patch MERGE (null deletes a field), with and without dryRun`, async () => {
      const name = `${prefix}-merge`;
      await kapply([crontab(name, ns, { image: 'img:0', replicas: 1 })]);
      const mutation = `mutation($ns: String!, $name: String!, $p: ${inputType}, $dry: Boolean) {
        o: ${f('patch')}(namespace: $ns, name: $name, type: MERGE, patch: $p, dryRun: $dry) { metadata { labels } spec { cronSpec image replicas } } }`;
      const patch = { metadata: { labels: { patched: 'yes' } }, spec: { image: null, replicas: 7 } };
      const dry = await gqlData(url, mutation, { ns, name, p: patch, dry: true });
      assert.deepEqual(dry.o.spec, { cronSpec: '*/5 * * * *', image: null, replicas: 7 });
      assert.deepEqual((await get(name))!.spec, { cronSpec: '*/5 * * * *', image: 'img:0', replicas: 1 }, 'dryRun merge patch must not persist');

      const done = await gqlData(url, mutation, { ns, name, p: patch });
      assert.deepEqual(done.o.spec, { cronSpec: '*/5 * * * *', image: null, replicas: 7 });
      const now = (await get(name))!;
      assert.deepEqual(now.spec, { cronSpec: '*/5 * * * *', replicas: 7 });
      assert.deepEqual(now.metadata.labels, { run, patched: 'yes' });

      // null deletes a label too, with variables and as a literal.
      await gqlData(url, mutation, { ns, name, p: { metadata: { labels: { patched: null, other: 'x' } } } });
      assert.deepEqual((await get(name))!.metadata.labels, { run, other: 'x' });
      await gqlData(url, `mutation { o: ${f('patch')}(namespace: "${ns}", name: "${name}", type: MERGE, patch: { metadata: { labels: { other: null } } }) { metadata { name } } }`);
      assert.deepEqual((await get(name))!.metadata.labels, { run });
      // In a whole object a null label has no meaning (Kubernetes would store ""): refused.
      const created = await gql(url, `mutation($ns: String!, $o: ${inputType}!) { o: ${f('create')}(namespace: $ns, input: $o) { metadata { name } } }`,
        { ns, o: { metadata: { name: `${name}-null-label`, labels: { gone: null } }, spec: { cronSpec: '* * * * *' } } });
      assert.equal(created.errors?.[0]?.extensions?.['code'], 'BAD_USER_INPUT', created.text);
      assert.match(created.errors![0]!.message, /null deletes a key in a MERGE patch only/);
    });

    test(`${v.label}: patch JSON (RFC 6902 operations), with and without dryRun`, async () => {
      const name = `${prefix}-json`;
      await kapply([crontab(name, ns, { image: 'img:0', replicas: 1 })]);
      const mutation = `mutation($ns: String!, $name: String!, $ops: [JsonPatchOperation!], $dry: Boolean) {
        o: ${f('patch')}(namespace: $ns, name: $name, type: JSON, jsonPatch: $ops, dryRun: $dry) { metadata { labels } spec { cronSpec image replicas } } }`;
      const ops = [
        { op: 'test', path: '/spec/image', value: 'img:0' },
        { op: 'replace', path: '/spec/replicas', value: 4 },
        { op: 'add', path: '/metadata/labels/json~1patched', value: 'yes' },
        { op: 'copy', from: '/spec/image', path: '/spec/cronSpec' },
        { op: 'remove', path: '/spec/image' },
      ];
      await gqlData(url, mutation, { ns, name, ops, dry: true });
      assert.deepEqual((await get(name))!.spec, { cronSpec: '*/5 * * * *', image: 'img:0', replicas: 1 }, 'dryRun JSON patch must not persist');
      const done = await gqlData(url, mutation, { ns, name, ops });
      assert.deepEqual(done.o.spec, { cronSpec: 'img:0', image: null, replicas: 4 });
      const now = (await get(name))!;
      assert.deepEqual(now.spec, { cronSpec: 'img:0', replicas: 4 });
      assert.equal(now.metadata.labels['json/patched'], 'yes');
      // The failed `test` operation is the apiserver's answer, not the gateway's.
      const failed = await gql(url, mutation, { ns, name, ops: [{ op: 'test', path: '/spec/replicas', value: 99 }] });
      assert.ok(failed.errors?.length, failed.text);
      assert.equal(failed.errors[0]!.extensions?.kubernetesCode, 422);
    });

    test(`${v.label}: patch APPLY: field managers, a conflict without force, force takes ownership, dryRun`, async () => {
      const name = `${prefix}-apply`;
      const mutation = `mutation($ns: String!, $name: String!, $p: ${inputType}, $m: String, $force: Boolean, $dry: Boolean) {
        o: ${f('patch')}(namespace: $ns, name: $name, type: APPLY, patch: $p, fieldManager: $m, force: $force, dryRun: $dry) {
          metadata { resourceVersion managedFields { manager operation } } spec { cronSpec image replicas } } }`;
      const first = await gqlData(url, mutation, { ns, name, m: 'manager-one', p: { metadata: { labels: { run } }, spec: { cronSpec: '0 0 * * *', image: 'img:one' } } });
      assert.deepEqual(first.o.spec, { cronSpec: '0 0 * * *', image: 'img:one', replicas: null });
      let seen = (await get(name, true))!;
      assert.deepEqual(seen.spec, { cronSpec: '0 0 * * *', image: 'img:one' });
      assert.ok(seen.metadata.managedFields.some((m: Obj) => m.manager === 'manager-one' && m.operation === 'Apply'));

      const p2 = { spec: { cronSpec: '0 0 * * *', image: 'img:two' } };
      const conflict = await gql(url, mutation, { ns, name, m: 'manager-two', p: p2 });
      const err = onlyError(conflict, 'CONFLICT');
      assert.equal(err.extensions?.reason, 'Conflict');
      assert.equal(err.message, 'Apply failed with 1 conflict: conflict with "manager-one": .spec.image');
      assert.deepEqual(err.extensions?.causes, [{ type: 'FieldManagerConflict', message: 'conflict with "manager-one"', field: '.spec.image', path: ['spec', 'image'] }]);
      assert.equal(err.extensions?.currentResourceVersion, seen.metadata.resourceVersion);

      await gqlData(url, mutation, { ns, name, m: 'manager-two', p: p2, force: true, dry: true });
      assert.equal((await get(name))!.spec.image, 'img:one', 'dryRun apply must not persist');

      const forced = await gqlData(url, mutation, { ns, name, m: 'manager-two', p: p2, force: true });
      assert.equal(forced.o.spec.image, 'img:two');
      seen = (await get(name, true))!;
      assert.equal(seen.spec.image, 'img:two');
      const two = seen.metadata.managedFields.find((m: Obj) => m.manager === 'manager-two');
      assert.ok(two?.fieldsV1?.['f:spec']?.['f:image'], 'manager-two owns spec.image');
      const one = seen.metadata.managedFields.find((m: Obj) => m.manager === 'manager-one');
      assert.equal(one?.fieldsV1?.['f:spec']?.['f:image'], undefined, 'manager-one lost spec.image');

      const noManager = await gql(url, mutation, { ns, name, p: p2 });
      onlyError(noManager, 'BAD_USER_INPUT');
    });

    test(`${v.label}: updateStatus changes the status and ignores spec, with and without dryRun`, async () => {
      const name = `${prefix}-status`;
      await kapply([crontab(name, ns, { image: 'img:0' })]);
      const mutation = `mutation($ns: String!, $name: String!, $in: ${inputType}!, $dry: Boolean) {
        o: updateCronTabStatus${v.field}_stable_example_com(namespace: $ns, name: $name, input: $in, dryRun: $dry) { spec { image } status { replicas labelSelector } } }`;
      const input = { spec: { image: 'img:ignored' }, status: { replicas: 3, labelSelector: 'app=x' } };
      const dry = await gqlData(url, mutation, { ns, name, in: input, dry: true });
      assert.deepEqual(dry.o.status, { replicas: 3, labelSelector: 'app=x' });
      assert.equal((await get(name))!.status, undefined, 'dryRun status update must not persist');

      const done = await gqlData(url, mutation, { ns, name, in: input });
      assert.deepEqual(done.o, { spec: { image: 'img:0' }, status: { replicas: 3, labelSelector: 'app=x' } });
      const now = (await get(name))!;
      assert.deepEqual(now.status, { replicas: 3, labelSelector: 'app=x' });
      assert.equal(now.spec.image, 'img:0', 'spec is not changed through /status');
    });

    test(`${v.label}: patch with subresource STATUS changes status only; a patch of the object leaves status, as Kubernetes ignores it there`, async () => {
      const name = `${prefix}-patch-status`;
      await kapply([crontab(name, ns, { image: 'img:0' })]);
      const mutation = `mutation($ns: String!, $name: String!, $p: ${inputType}, $sub: PatchSubresource, $dry: Boolean) {
        o: ${f('patch')}(namespace: $ns, name: $name, type: MERGE, patch: $p, subresource: $sub, dryRun: $dry) { spec { image } status { replicas labelSelector } } }`;
      const p = { spec: { image: 'img:ignored' }, status: { replicas: 5, labelSelector: 'app=p' } };
      const dry = await gqlData(url, mutation, { ns, name, p, sub: 'STATUS', dry: true });
      assert.deepEqual(dry.o.status, { replicas: 5, labelSelector: 'app=p' });
      assert.equal((await get(name))!.status, undefined, 'dryRun status patch must not persist');
      const done = await gqlData(url, mutation, { ns, name, p, sub: 'STATUS' });
      assert.deepEqual(done.o, { spec: { image: 'img:0' }, status: { replicas: 5, labelSelector: 'app=p' } });
      const jsonPatch = await gqlData(url, `mutation($ns: String!, $name: String!) {
        o: ${f('patch')}(namespace: $ns, name: $name, type: JSON, subresource: STATUS, jsonPatch: [{ op: replace, path: "/status/replicas", value: 6 }]) { status { replicas } } }`, { ns, name });
      assert.equal(jsonPatch.o.status.replicas, 6);
      const object = await gqlData(url, mutation, { ns, name, p: { status: { replicas: 9 } } });
      assert.equal(object.o.status.replicas, 6, 'a patch of the object does not change its status');
      assert.deepEqual((await get(name))!.status, { replicas: 6, labelSelector: 'app=p' });
    });

    test(`${v.label}: scale get and set through the scale subresource`, async () => {
      const name = `${prefix}-scale`;
      await kapply([crontab(name, ns, { replicas: 2 })]);
      const scaleField = `cronTab_Scale${v.field}_stable_example_com`;
      const read = await gqlData(url, `query($ns: String!, $name: String!) { s: ${scaleField}(namespace: $ns, name: $name) {
        apiVersion kind metadata { name namespace resourceVersion } spec { replicas } status { replicas selector } } }`, { ns, name });
      assert.equal(read.s.apiVersion, 'autoscaling/v1');
      assert.equal(read.s.kind, 'Scale');
      assert.deepEqual(read.s.metadata.name, name);
      assert.equal(read.s.spec.replicas, 2);
      assert.equal(read.s.metadata.resourceVersion, (await get(name))!.metadata.resourceVersion);

      const mutation = `mutation($ns: String!, $name: String!, $r: Int!, $rv: String, $dry: Boolean) {
        s: scaleCronTab${v.field}_stable_example_com(namespace: $ns, name: $name, replicas: $r, resourceVersion: $rv, dryRun: $dry) { spec { replicas } metadata { resourceVersion } } }`;
      const dry = await gqlData(url, mutation, { ns, name, r: 9, dry: true });
      assert.equal(dry.s.spec.replicas, 9);
      assert.equal((await get(name))!.spec.replicas, 2, 'dryRun scale must not persist');

      const set = await gqlData(url, mutation, { ns, name, r: 5 });
      assert.equal(set.s.spec.replicas, 5);
      assert.equal((await get(name))!.spec.replicas, 5, 'kubectl sees spec.replicas');

      const stale = await gql(url, mutation, { ns, name, r: 6, rv: read.s.metadata.resourceVersion });
      const err = onlyError(stale, 'CONFLICT');
      assert.equal(err.extensions?.currentResourceVersion, (await get(name))!.metadata.resourceVersion);
      assert.equal((await get(name))!.spec.replicas, 5);
    });

    test(`${v.label}: delete with preconditions, dryRun, propagationPolicy and gracePeriodSeconds`, async () => {
      const name = `${prefix}-delete`;
      await kapply([crontab(name, ns)]);
      const obj = (await get(name))!;
      const mutation = `mutation($ns: String!, $name: String!, $pre: PreconditionsInput, $dry: Boolean, $pp: PropagationPolicy, $grace: Int64) {
        d: ${f('delete')}(namespace: $ns, name: $name, preconditions: $pre, dryRun: $dry, propagationPolicy: $pp, gracePeriodSeconds: $grace) {
          object { metadata { name uid deletionTimestamp finalizers } } status { status reason code } } }`;

      const wrongUid = await gql(url, mutation, { ns, name, pre: { uid: '00000000-0000-0000-0000-000000000000' } });
      const err = onlyError(wrongUid, 'CONFLICT');
      assert.equal(err.extensions?.reason, 'Conflict');
      assert.equal(err.message, `Operation cannot be fulfilled on CronTab.stable.example.com "${name}": the UID in the precondition `
        + `(00000000-0000-0000-0000-000000000000) does not match the UID in record (${obj.metadata.uid}). The object might have been deleted and then recreated`);
      assert.equal(err.extensions?.currentResourceVersion, obj.metadata.resourceVersion);
      const wrongRv = await gql(url, mutation, { ns, name, pre: { resourceVersion: '1' } });
      assert.match(onlyError(wrongRv, 'CONFLICT').message, /the ResourceVersion in the precondition \(1\) does not match the ResourceVersion in record/);
      assert.ok(await get(name), 'a failed precondition deletes nothing');

      const dry = await gqlData(url, mutation, { ns, name, dry: true, pre: { uid: obj.metadata.uid } });
      // Kubernetes answers a delete that needs no finalizers with a Success Status, also on dryRun.
      assert.deepEqual(dry.d, { object: null, status: { status: 'Success', reason: null, code: null } });
      assert.ok(await get(name), 'dryRun delete must not delete');

      const done = await gqlData(url, mutation, {
        ns, name, pre: { uid: obj.metadata.uid, resourceVersion: obj.metadata.resourceVersion }, pp: 'Foreground', grace: 0,
      });
      // Foreground: the object is returned marked for deletion, and the garbage collector removes it.
      assert.equal(done.d.object.metadata.uid, obj.metadata.uid);
      assert.ok(done.d.object.metadata.deletionTimestamp, 'marked for deletion');
      assert.deepEqual(done.d.object.metadata.finalizers, ['foregroundDeletion']);
      await eventually('the garbage collector to remove the object', async () => ((await get(name)) === undefined ? true : undefined), 30_000);

      const background = `${prefix}-delete-bg`;
      await kapply([crontab(background, ns)]);
      const bgUid = (await get(background))!.metadata.uid;
      const bg = await gqlData(url, mutation, { ns, name: background, pp: 'Background', grace: 0 });
      // Deleted at once: Kubernetes answers with a Success Status naming the object, not the object.
      assert.deepEqual(bg.d, { object: null, status: { status: 'Success', reason: null, code: null } });
      assert.equal(await get(background), undefined);
      assert.ok(bgUid);
    });

    test(`${v.label}: deleteCollection deletes only what the labelSelector matches; dryRun deletes nothing`, async () => {
      const group = `${prefix}-dc`;
      await kapply([
        crontab(`${group}-keep-1`, ns, { labels: { group, doomed: 'no' } }),
        crontab(`${group}-keep-2`, ns, { labels: { group } }),
        crontab(`${group}-drop-1`, ns, { labels: { group, doomed: 'yes' } }),
        crontab(`${group}-drop-2`, ns, { labels: { group, doomed: 'yes' } }),
        crontab(`${group}-drop-other-ns`, otherNs, { labels: { group, doomed: 'yes' } }),
      ]);
      const mutation = `mutation($ns: String!, $sel: String, $dry: Boolean) { d: deleteCronTabList${v.field}_stable_example_com(namespace: $ns, labelSelector: $sel, dryRun: $dry) { metadata { name namespace } } }`;
      const remaining = async (namespace: string) => {
        const l = JSON.parse(await kubectlOk(['get', v.resource, '-n', namespace, '-l', `group=${group}`, '-o', 'json'])) as { items: Obj[] };
        return l.items.map((o) => o.metadata.name as string).sort();
      };
      const dry = await gqlData(url, mutation, { ns, sel: `group=${group},doomed=yes`, dry: true });
      assert.deepEqual(dry.d.map((o: Obj) => o.metadata.name).sort(), [`${group}-drop-1`, `${group}-drop-2`]);
      assert.equal((await remaining(ns)).length, 4, 'dryRun deleteCollection must not delete');

      const done = await gqlData(url, mutation, { ns, sel: `group=${group},doomed=yes` });
      assert.deepEqual(done.d.map((o: Obj) => `${o.metadata.namespace}/${o.metadata.name}`).sort(), [`${ns}/${group}-drop-1`, `${ns}/${group}-drop-2`]);
      assert.deepEqual(await remaining(ns), [`${group}-keep-1`, `${group}-keep-2`]);
      assert.deepEqual(await remaining(otherNs), [`${group}-drop-other-ns`], 'other namespaces are untouched');
    });
  }
});

describe('ClusterCronTab (cluster-scoped): mapped names, int-or-string, maps and preserved fields', () => {
  const kubectlSpec = {
    cronSpec: '0 * * * *',
    image: 'example/cluster:1',
    replicas: 2,
    concurrencyPolicy: 'Forbid',
    timeout: 30,
    env: { LEVEL: 'debug', 'weird.key/with-dash': 'v' },
    'jvm-options': { '-Xmx': '512m', 'dest-port': 8443 },
    config: { nested: { list: [1, 'two', { three: 3.5 }], flag: true, empty: {} }, 'key with spaces': 'x', 'ünïcode': ['a'] },
    targets: [{ name: 'a', weight: 1 }, { name: 'b', weight: 2 }],
  };
  const graphqlSpec = (s: Obj) => ({
    cronSpec: s.cronSpec, image: s.image ?? null, replicas: s.replicas ?? null, concurrencyPolicy: s.concurrencyPolicy ?? null,
    timeout: s.timeout ?? null, env: s.env ?? null,
    jvm_options: s['jvm-options'] ? { _Xmx: s['jvm-options']['-Xmx'] ?? null, dest_port: s['jvm-options']['dest-port'] ?? null } : null,
    config: s.config ?? null, targets: s.targets ?? null,
  });
  const cct = (name: string, spec: Obj, labels: Record<string, string> = {}) => ({
    apiVersion: 'stable.example.com/v1', kind: 'ClusterCronTab', metadata: { name, labels: { run, ...labels } }, spec,
  });
  const names = { get: 'clusterCronTab_stable_example_com', getV1: 'clusterCronTab_v1_stable_example_com' };
  const getC = (name: string) => kget('clustercrontabs.stable.example.com', name);

  test('an object created by kubectl is seen through GraphQL field for field (v1 and default fields)', async () => {
    const name = uniqueName('cct-kubectl');
    await kapply([cct(name, kubectlSpec)]);
    const seen = (await getC(name))!;
    for (const field of [names.get, names.getV1]) {
      const data = await gqlData(url, `query($name: String!) { o: ${field}(name: $name) { ${CLUSTER_CRONTAB} } }`, { name });
      assert.equal(data.o.apiVersion, 'stable.example.com/v1');
      assert.deepEqual(data.o.metadata, { name, uid: seen.metadata.uid, resourceVersion: seen.metadata.resourceVersion, generation: 1, labels: { run } });
      assert.deepEqual(data.o.spec, graphqlSpec(seen.spec));
      assert.deepEqual(data.o.spec, graphqlSpec(kubectlSpec));
      assert.equal(data.o.status, null);
    }
    const missing = await gql(url, `{ o: ${names.get}(name: "no-such-cct") { metadata { name } } }`);
    assert.equal(missing.errors, undefined, missing.text);
    assert.deepEqual(missing.data, { o: null });
  });

  test('an object created through GraphQL is stored exactly (timeout as string and as integer, env, config)', async () => {
    for (const timeout of ['5m', 45]) {
      const name = uniqueName('cct-gql');
      const input = {
        metadata: { name, labels: { run } },
        spec: {
          cronSpec: '*/2 * * * *', timeout, env: { A: '1', 'b.c/d': 'e' },
          jvm_options: { _Xmx: '1g', dest_port: 9000 },
          config: kubectlSpec.config, concurrencyPolicy: 'Replace', targets: [{ name: 'x', weight: 5 }],
        },
      };
      const made = await gqlData(url, `mutation($in: ClusterCronTab_v1_stable_example_com_Input!) { o: createClusterCronTab_stable_example_com(input: $in) { ${CLUSTER_CRONTAB} } }`, { in: input });
      const seen = (await getC(name))!;
      const expected = {
        cronSpec: '*/2 * * * *', timeout, env: { A: '1', 'b.c/d': 'e' }, 'jvm-options': { '-Xmx': '1g', 'dest-port': 9000 },
        config: kubectlSpec.config, concurrencyPolicy: 'Replace', targets: [{ name: 'x', weight: 5 }],
        replicas: 1, // the CRD's default
      };
      assert.deepEqual(seen.spec, expected);
      assert.equal(typeof seen.spec.timeout, typeof timeout, 'int-or-string keeps its JSON type');
      assert.deepEqual(made.o.spec, graphqlSpec(seen.spec));
      assert.equal(made.o.metadata.resourceVersion, seen.metadata.resourceVersion);
    }
  });

  test('list, labelSelector, fieldSelector and pagination of a cluster-scoped resource', async () => {
    const batch = uniqueName('batch');
    const made = ['one', 'two', 'three', 'four', 'five'].map((n) => `cct-${batch}-${n}`);
    await kapply(made.map((n, i) => cct(n, { cronSpec: '0 0 * * *' }, { batch, odd: String(i % 2 === 1) })));
    const q = `query($sel: String, $fs: String, $n: Int, $c: String) { l: clusterCronTabList_stable_example_com(labelSelector: $sel, fieldSelector: $fs, first: $n, after: $c) {
      edges { cursor node { metadata { name } spec { cronSpec replicas concurrencyPolicy } } } pageInfo { hasNextPage endCursor } resourceVersion } }`;
    const all = await gqlData(url, q, { sel: `batch=${batch}` });
    assert.deepEqual(all.l.edges.map((e: { node: Obj }) => e.node.metadata.name).sort(), [...made].sort());
    assert.deepEqual(all.l.edges[0].node.spec, { cronSpec: '0 0 * * *', replicas: 1, concurrencyPolicy: 'Allow' }, 'CRD defaults are applied');
    assert.match(all.l.resourceVersion, /^\d+$/);
    const odd = await gqlData(url, q, { sel: `batch=${batch},odd=true` });
    assert.deepEqual(odd.l.edges.map((e: { node: Obj }) => e.node.metadata.name).sort(), [made[1], made[3]].sort());
    const byName = await gqlData(url, q, { sel: `batch=${batch}`, fs: `metadata.name=${made[2]}` });
    assert.deepEqual(byName.l.edges.map((e: { node: Obj }) => e.node.metadata.name), [made[2]]);

    const seen: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; ; page++) {
      assert.ok(page < 5, 'pagination does not end');
      const data: Obj = await gqlData(url, q, { sel: `batch=${batch}`, n: 2, c: cursor });
      seen.push(...data.l.edges.map((e: { node: Obj }) => e.node.metadata.name));
      if (!data.l.pageInfo.hasNextPage) break;
      cursor = data.l.pageInfo.endCursor;
    }
    assert.deepEqual(seen.sort(), [...made].sort());
  });

  test('create (dryRun), replace, MERGE/JSON/APPLY patches with mapped names, updateStatus, delete, deleteCollection', async () => {
    const name = uniqueName('cct-mut');
    const sel = CLUSTER_CRONTAB;
    const create = `mutation($in: ClusterCronTab_v1_stable_example_com_Input!, $dry: Boolean) { o: createClusterCronTab_v1_stable_example_com(input: $in, dryRun: $dry) { ${sel} } }`;
    const input = { metadata: { name, labels: { run, cct: 'mut' } }, spec: { cronSpec: '1 * * * *', jvm_options: { _Xmx: '256m' } } };
    await gqlData(url, create, { in: input, dry: true });
    assert.equal(await getC(name), undefined, 'dryRun create must not persist');
    const made = await gqlData(url, create, { in: input });
    assert.deepEqual((await getC(name))!.spec['jvm-options'], { '-Xmx': '256m' });

    const replace = `mutation($name: String!, $in: ClusterCronTab_v1_stable_example_com_Input!, $dry: Boolean) { o: replaceClusterCronTab_stable_example_com(name: $name, input: $in, dryRun: $dry) { ${sel} } }`;
    const replacement = { metadata: { name, resourceVersion: made.o.metadata.resourceVersion, labels: { run, cct: 'mut' } }, spec: { cronSpec: '2 * * * *', jvm_options: { dest_port: 7000 } } };
    await gqlData(url, replace, { name, in: replacement, dry: true });
    assert.equal((await getC(name))!.spec.cronSpec, '1 * * * *', 'dryRun replace must not persist');
    await gqlData(url, replace, { name, in: replacement });
    assert.deepEqual((await getC(name))!.spec['jvm-options'], { 'dest-port': 7000 });
    const stale = await gql(url, replace, { name, in: replacement });
    assert.equal(onlyError(stale, 'CONFLICT').extensions?.currentResourceVersion, (await getC(name))!.metadata.resourceVersion);

    const patch = `mutation($name: String!, $type: PatchType!, $p: ClusterCronTab_v1_stable_example_com_Input, $ops: [JsonPatchOperation!], $m: String, $force: Boolean, $dry: Boolean) {
      o: patchClusterCronTab_stable_example_com(name: $name, type: $type, patch: $p, jsonPatch: $ops, fieldManager: $m, force: $force, dryRun: $dry) { ${sel} } }`;
    const merged = await gqlData(url, patch, { name, type: 'MERGE', p: { spec: { jvm_options: { _Xmx: '2g' }, env: { K: 'v' }, timeout: '10s' } } });
    assert.deepEqual(merged.o.spec.jvm_options, { _Xmx: '2g', dest_port: 7000 });
    assert.deepEqual((await getC(name))!.spec['jvm-options'], { '-Xmx': '2g', 'dest-port': 7000 });
    assert.equal((await getC(name))!.spec.timeout, '10s');

    await gqlData(url, patch, { name, type: 'JSON', ops: [{ op: 'replace', path: '/spec/jvm-options/-Xmx', value: '3g' }], dry: true });
    assert.equal((await getC(name))!.spec['jvm-options']['-Xmx'], '2g', 'dryRun JSON patch must not persist');
    const jsonPatched = await gqlData(url, patch, { name, type: 'JSON', ops: [
      { op: 'replace', path: '/spec/jvm-options/-Xmx', value: '3g' },
      { op: 'add', path: '/spec/config', value: { raw: { keep: [1, 2] } } },
      { op: 'replace', path: '/spec/timeout', value: 90 },
    ] });
    assert.deepEqual(jsonPatched.o.spec.jvm_options, { _Xmx: '3g', dest_port: 7000 });
    assert.deepEqual(jsonPatched.o.spec.config, { raw: { keep: [1, 2] } });
    assert.equal(jsonPatched.o.spec.timeout, 90);
    assert.equal((await getC(name))!.spec.timeout, 90);

    const applied = await gqlData(url, patch, { name, type: 'APPLY', m: 'cct-applier', force: true, p: { spec: { cronSpec: '3 * * * *', jvm_options: { dest_port: 7001 } } } });
    assert.equal(applied.o.spec.jvm_options.dest_port, 7001);
    assert.equal((await getC(name))!.spec['jvm-options']['dest-port'], 7001);

    const status = `mutation($name: String!, $in: ClusterCronTab_v1_stable_example_com_Input!, $dry: Boolean) { o: updateClusterCronTabStatus_stable_example_com(name: $name, input: $in, dryRun: $dry) { spec { cronSpec } status { replicas lastScheduleTime conditions { type status reason } } } }`;
    const statusInput = { spec: { cronSpec: 'ignored' }, status: { replicas: 2, lastScheduleTime: '2024-02-29T12:34:56Z', conditions: [{ type: 'Ready', status: 'True', reason: 'Fine' }] } };
    await gqlData(url, status, { name, in: statusInput, dry: true });
    assert.equal((await getC(name))!.status, undefined, 'dryRun status update must not persist');
    const st = await gqlData(url, status, { name, in: statusInput });
    assert.deepEqual(st.o.status, { replicas: 2, lastScheduleTime: '2024-02-29T12:34:56Z', conditions: [{ type: 'Ready', status: 'True', reason: 'Fine' }] });
    const afterStatus = (await getC(name))!;
    assert.deepEqual(afterStatus.status, { replicas: 2, lastScheduleTime: '2024-02-29T12:34:56Z', conditions: [{ type: 'Ready', status: 'True', reason: 'Fine' }] });
    assert.equal(afterStatus.spec.cronSpec, '3 * * * *');

    const del = `mutation($name: String!, $pre: PreconditionsInput, $dry: Boolean) { d: deleteClusterCronTab_stable_example_com(name: $name, preconditions: $pre, dryRun: $dry) { object { metadata { name uid } } status { status details } } }`;
    onlyError(await gql(url, del, { name, pre: { uid: 'not-the-uid' } }), 'CONFLICT');
    await gqlData(url, del, { name, dry: true });
    assert.ok(await getC(name), 'dryRun delete must not delete');
    const deleted = await gqlData(url, del, { name, pre: { uid: afterStatus.metadata.uid } });
    assert.deepEqual(deleted.d, {
      object: null,
      status: { status: 'Success', details: { name, group: 'stable.example.com', kind: 'clustercrontabs', uid: afterStatus.metadata.uid } },
    });
    assert.equal(await getC(name), undefined);

    const batch = uniqueName('dc');
    await kapply([cct(`${batch}-a`, { cronSpec: 'x' }, { batch, doomed: 'yes' }), cct(`${batch}-b`, { cronSpec: 'x' }, { batch, doomed: 'no' })]);
    const dc = await gqlData(url, `mutation($sel: String) { d: deleteClusterCronTabList_stable_example_com(labelSelector: $sel) { metadata { name } } }`, { sel: `batch=${batch},doomed=yes` });
    assert.deepEqual(dc.d.map((o: Obj) => o.metadata.name), [`${batch}-a`]);
    assert.equal(await getC(`${batch}-a`), undefined);
    assert.ok(await getC(`${batch}-b`));
  });
});
