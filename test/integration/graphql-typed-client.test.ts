// Typed GraphQL clients end to end, as most users will write them: GraphQL Code Generator's client
// preset reads the committed SDL (schema/examples.graphql) and the operations a small client
// declares with graphql(`...`) (get, list with label and field selectors, a list with where,
// orderBy and totalCount, create, patch, watch),
// and generates typed documents; tsc type-checks the client against them (its @ts-expect-error
// lines prove the types are not `any`, and a field the operation did not select is refused); then
// the same client runs every operation against the live gateway on the real cluster, queries and
// mutations over HTTP, the watch over graphql-ws.
//
// More operations are one more graphql(`...`) in OPERATIONS and a use of it in RUN. The generated code goes to a temporary directory: the committed contract is the SDL.
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { generate } from '@graphql-codegen/cli';
import { createGateway, type Gateway } from '../../src/gateway.ts';
import { KubeClient } from '../../src/kube/kube-client.ts';
import { repoRoot } from '../../src/local-cluster/build-launcher.ts';
import { kubeConfigFor } from '../helpers/test-cluster.ts';
import { testNamespaces } from '../helpers/test-namespaces.ts';

const namespaces = testNamespaces();
let gateway: Gateway;
let base: string;
let dir: string;

const OPERATIONS = `import { graphql } from './gql/index.ts';

export const GetCronTab = graphql(\`
  query GetCronTab($namespace: String!, $name: String!) {
    cronTab_stable_example_com(namespace: $namespace, name: $name) {
      metadata { name uid resourceVersion labels }
      spec { cronSpec image replicas }
    }
  }
\`);

export const ListCronTabs = graphql(\`
  query ListCronTabs($namespace: String, $labelSelector: String, $fieldSelector: String, $first: Int) {
    cronTabList_stable_example_com(namespace: $namespace, labelSelector: $labelSelector, fieldSelector: $fieldSelector, first: $first) {
      edges { node { metadata { name labels } spec { image } } }
      pageInfo { hasNextPage endCursor }
    }
  }
\`);

export const FilteredCronTabs = graphql(\`
  query FilteredCronTabs($namespace: String, $where: CronTab_v1_stable_example_com_Where, $orderBy: [CronTab_v1_stable_example_com_OrderBy!], $resourceVersion: String) {
    cronTabList_stable_example_com(namespace: $namespace, where: $where, orderBy: $orderBy, first: 10, resourceVersion: $resourceVersion) {
      totalCount
      edges { cursor node { metadata { name } spec { replicas } } }
    }
  }
\`);

export const CreateCronTab = graphql(\`
  mutation CreateCronTab($namespace: String!, $input: CronTab_v1_stable_example_com_Input!) {
    createCronTab_stable_example_com(namespace: $namespace, input: $input, fieldManager: "typed-client") {
      metadata { name uid resourceVersion }
      spec { image replicas }
    }
  }
\`);

export const PatchCronTab = graphql(\`
  mutation PatchCronTab($namespace: String!, $name: String!, $patch: CronTab_v1_stable_example_com_Input!) {
    patchCronTab_stable_example_com(namespace: $namespace, name: $name, type: MERGE, patch: $patch) {
      metadata { resourceVersion }
      spec { image replicas }
    }
  }
\`);

export const WatchCronTabs = graphql(\`
  subscription WatchCronTabs($namespace: String!, $labelSelector: String) {
    watchCronTab_stable_example_com(namespace: $namespace, labelSelector: $labelSelector, sendInitialEvents: true) {
      type
      object { metadata { name } spec { image } }
    }
  }
\`);
`;

const RUN = `import { print } from 'graphql';
import { createClient } from 'graphql-ws';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { CreateCronTab, FilteredCronTabs, GetCronTab, ListCronTabs, PatchCronTab, WatchCronTabs } from './operations.ts';
import type { WatchCronTabsSubscription } from './gql/graphql.ts';

/** One operation over HTTP: the document's types give the variables and the answer. */
async function execute<R, V>(url: string, document: TypedDocumentNode<R, V>, variables: V): Promise<R> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: print(document), variables }),
  });
  const body = await res.json() as { data?: R; errors?: { message: string }[] };
  if (body.errors?.length || !body.data) throw new Error(\`\${res.status}: \${JSON.stringify(body.errors)}\`);
  return body.data;
}

/** Never called: what the compiler must refuse. */
export function refusedByTheTypes(url: string, namespace: string) {
  // @ts-expect-error input is required
  void execute(url, CreateCronTab, { namespace });
  // @ts-expect-error namespace is a String
  void execute(url, GetCronTab, { namespace: 1, name: 'typed' });
  // @ts-expect-error replicas is an Int64: a number or a decimal string
  void execute(url, PatchCronTab, { namespace, name: 'typed', patch: { spec: { replicas: true } } });
  // @ts-expect-error an order field the type does not have
  void execute(url, FilteredCronTabs, { namespace, orderBy: [{ field: 'spec_imageName' }] });
}

export async function run(baseUrl: string, namespace: string) {
  const url = \`\${baseUrl}/graphql\`;
  const ws = createClient({ url: url.replace(/^http/, 'ws'), lazy: true });
  const events: WatchCronTabsSubscription['watchCronTab_stable_example_com'][] = [];
  const watch = ws.iterate({ query: print(WatchCronTabs), variables: { namespace, labelSelector: 'app=typed' } });
  const next = async () => {
    const r = await watch.next();
    if (r.done) throw new Error('the watch ended');
    if (r.value.errors?.length) throw new Error(JSON.stringify(r.value.errors));
    const event = (r.value.data as WatchCronTabsSubscription).watchCronTab_stable_example_com;
    events.push(event);
    return event;
  };
  try {
    // The watch is open (its initial state, empty, is done) before anything is created.
    if ((await next()).type !== 'INITIAL_STATE_DONE') throw new Error('expected INITIAL_STATE_DONE first');

    const created = await execute(url, CreateCronTab, { namespace, input: {
      metadata: { name: 'typed', labels: { app: 'typed' } },
      spec: { cronSpec: '@daily', image: 'typed:1', replicas: 1 },
    } });
    const uid: string | null | undefined = created.createCronTab_stable_example_com.metadata?.uid;
    await execute(url, CreateCronTab, { namespace, input: { metadata: { name: 'other', labels: { app: 'other' } }, spec: { cronSpec: '@hourly', image: 'other:1' } } });

    const got = await execute(url, GetCronTab, { namespace, name: 'typed' });
    const image: string | null | undefined = got.cronTab_stable_example_com?.spec?.image;
    const labels: Record<string, string> | null | undefined = got.cronTab_stable_example_com?.metadata?.labels;

    const byLabel = await execute(url, ListCronTabs, { namespace, labelSelector: 'app=typed', first: 10 });
    const byField = await execute(url, ListCronTabs, { namespace, fieldSelector: 'metadata.name=other' });
    const names = (list: typeof byLabel) => list.cronTabList_stable_example_com.edges.map((e) => e.node.metadata?.name);

    const big = await execute(url, CreateCronTab, { namespace, input: { metadata: { name: 'big' }, spec: { cronSpec: '@weekly', image: 'big:1', replicas: 7 } } });
    // A filtered list is answered from the gateway's cache: at least as recent as the last write.
    const filtered = await execute(url, FilteredCronTabs, {
      namespace,
      resourceVersion: big.createCronTab_stable_example_com.metadata?.resourceVersion,
      where: { spec: { replicas: { gte: 1 } }, metadata: { name: { ne: 'other' } } },
      orderBy: [{ field: 'spec_replicas', direction: 'DESC' }],
    });
    const total: number | null | undefined = filtered.cronTabList_stable_example_com.totalCount;
    const ordered = filtered.cronTabList_stable_example_com.edges.map((e) => [e.node.metadata?.name, e.node.spec?.replicas]);

    const patched = await execute(url, PatchCronTab, { namespace, name: 'typed', patch: { spec: { image: 'typed:2', replicas: 3 } } });
    const replicas: number | string | null | undefined = patched.patchCronTab_stable_example_com.spec?.replicas;

    const added = await next();
    const modified = await next();
    return {
      uid, image, labels, replicas,
      byLabel: names(byLabel), byField: names(byField), total, ordered,
      watched: [added, modified].map((e) => ({ type: e.type, name: e.object?.metadata?.name, image: e.object?.spec?.image })),
      eventCount: events.length,
    };
  } finally {
    await watch.return?.();
    await ws.dispose();
  }
}
`;

/** Scalars as the API documents them (schema/examples.graphql); one the test does not know is unknown. */
const scalars = {
  JSON: 'unknown',
  StringMap: 'Record<string, string>',
  IntOrString: 'number | string',
  DateTime: 'string',
  Int64: { input: 'number | string', output: 'number | string' },
};

async function codegen(): Promise<void> {
  await generate({
    schema: join(repoRoot, 'schema', 'examples.graphql'),
    documents: [join(dir, 'operations.ts')],
    generates: {
      [`${join(dir, 'gql')}/`]: {
        preset: 'client',
        presetConfig: { fragmentMasking: false },
        // String unions instead of TypeScript enums, which Node's type stripping cannot run.
        config: { scalars, defaultScalarType: 'unknown', enumsAsTypes: true, useTypeImports: true },
      },
    },
    // Node runs TypeScript only with explicit file extensions in imports.
    importExtension: '.ts',
    silent: true,
  }, true);
}

function tsc(cwd: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '--noEmit', '-p', cwd], { cwd }, (err, stdout, stderr) => {
      resolve({ code: err ? 1 : 0, out: stdout + stderr });
    });
  });
}

before(async () => {
  gateway = await createGateway({ client: new KubeClient(kubeConfigFor('admin')), explorer: false });
  const server = await gateway.listen(0);
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  dir = mkdtempSync(join(tmpdir(), 'crdgate-graphql-client-'));
  // graphql, graphql-ws and the type-checker resolve from the project's node_modules.
  symlinkSync(join(repoRoot, 'node_modules'), join(dir, 'node_modules'), 'dir');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      target: 'es2022', module: 'nodenext', moduleResolution: 'nodenext', strict: true, noEmit: true,
      allowImportingTsExtensions: true, verbatimModuleSyntax: true, erasableSyntaxOnly: true, skipLibCheck: true, types: [],
      lib: ['es2022', 'dom'],
    },
    files: ['run.ts'],
  }));
  writeFileSync(join(dir, 'operations.ts'), OPERATIONS);
  writeFileSync(join(dir, 'run.ts'), RUN);
});

after(async () => {
  await gateway?.stop();
  await namespaces.deleteAll();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it('generates typed documents from schema/ and the operations, and the client type-checks against them', async () => {
  await codegen();
  const generated = readFileSync(join(dir, 'gql', 'graphql.ts'), 'utf8');
  assert.match(generated, /export type GetCronTabQuery = /);
  assert.match(generated, /export const WatchCronTabsDocument = /);
  const checked = await tsc(dir);
  assert.equal(checked.code, 0, `tsc --noEmit on the typed client:\n${checked.out}`);

  // The check can fail: a field the operation did not select is refused.
  writeFileSync(join(dir, 'run.ts'), RUN.replace('got.cronTab_stable_example_com?.spec?.image;', 'got.cronTab_stable_example_com?.status?.replicas;'));
  const broken = await tsc(dir);
  writeFileSync(join(dir, 'run.ts'), RUN);
  assert.equal(broken.code, 1);
  assert.match(broken.out, /Property 'status' does not exist/);
});

it('refuses an operation the schema does not allow', async () => {
  writeFileSync(join(dir, 'operations.ts'), OPERATIONS.replace('spec { cronSpec image replicas }', 'spec { cronSpec imageName }'));
  try {
    await assert.rejects(codegen(), /imageName/);
  } finally {
    writeFileSync(join(dir, 'operations.ts'), OPERATIONS);
    await codegen();
  }
});

it('runs get, list with selectors, a filtered and sorted list, create, patch over HTTP and the watch over graphql-ws against the live gateway', async () => {
  const ns = await namespaces.create('gql-typed');
  const { run } = await import(pathToFileURL(join(dir, 'run.ts')).href) as { run: (b: string, ns: string) => Promise<Record<string, unknown>> };
  const r = await run(base, ns);
  assert.equal(typeof r.uid, 'string');
  assert.equal(r.image, 'typed:1');
  assert.deepEqual(r.labels, { app: 'typed' });
  assert.equal(r.replicas, 3);
  assert.deepEqual(r.byLabel, ['typed']);
  assert.deepEqual(r.byField, ['other']);
  // where (replicas ≥ 1, not "other") and orderBy (replicas, largest first), counted.
  assert.equal(r.total, 2);
  assert.deepEqual(r.ordered, [['big', 7], ['typed', 1]]);
  // The watch's label selector keeps "other" out; it sees the creation and the patch.
  assert.deepEqual(r.watched, [{ type: 'ADDED', name: 'typed', image: 'typed:1' }, { type: 'MODIFIED', name: 'typed', image: 'typed:2' }]);
  assert.equal(r.eventCount, 3);
});
