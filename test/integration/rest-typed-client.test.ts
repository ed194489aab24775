// A typed client end to end: openapi-typescript turns the gateway's LIVE /openapi.json (the
// example CRDs on the real control plane) into TypeScript types, tsc type-checks a small client
// written against them with openapi-fetch (a schema that does not fit real code fails here, and
// the file's @ts-expect-error lines prove the types are not `any`), and the same file then
// creates, reads, patches, lists and deletes a CronTab through the running gateway.
//
// The generated types are written to a temporary directory, not committed: they are a product of
// whatever CRDs the cluster serves, and the committed contract is openapi.yaml.
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import openapiTS, { astToString } from 'openapi-typescript';
import { createGateway, type Gateway } from '../../src/gateway.ts';
import { KubeClient } from '../../src/kube/kube-client.ts';
import { kubeConfigFor } from '../helpers/test-cluster.ts';
import { testNamespaces } from '../helpers/test-namespaces.ts';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const namespaces = testNamespaces();
let gateway: Gateway;
let base: string;
let dir: string;

const CLIENT = `import createClient from 'openapi-fetch';
import type { components, paths } from './api.ts';

type CronTab = components['schemas']['com.example.stable.v1.CronTab'];
type Problem = components['schemas']['Problem'];
const collection = '/rest/stable.example.com/v1/namespaces/{namespace}/crontabs';
const item = '/rest/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}';

export async function run(baseUrl: string, namespace: string, name: string) {
  const client = createClient<paths>({ baseUrl });
  const body: CronTab = { apiVersion: 'stable.example.com/v1', kind: 'CronTab', metadata: { name }, spec: { cronSpec: '@daily', image: 'typed:1', replicas: 1 } };
  // @ts-expect-error replicas is an integer in the CRD schema
  const wrong: CronTab = { spec: { replicas: 'one' } };
  void wrong;
  const created = await client.POST(collection, { params: { path: { namespace }, query: { fieldManager: 'typed-client' } }, body });
  if (created.error) throw new Error(created.error.detail);
  const uid: string | undefined = created.data.metadata?.uid;

  const got = await client.GET(item, { params: { path: { namespace, name } } });
  if (got.error) throw new Error(got.error.detail);
  const image: string | undefined = got.data.spec?.image;

  const patched = await client.PATCH(item, {
    params: { path: { namespace, name } },
    body: { spec: { replicas: 3 } },
    headers: { 'Content-Type': 'application/merge-patch+json' },
  });
  if (patched.error) throw new Error(patched.error.detail);
  const replicas: number | undefined = patched.data.spec?.replicas;

  const list = await client.GET(collection, { params: { path: { namespace }, query: { labelSelector: '', limit: 10 } } });
  if (list.error) throw new Error(list.error.detail);
  // The same 200 is an event stream with watch=true: the type is a union, narrowed here.
  if (!('items' in list.data)) throw new Error('expected a list, not a watch event');
  const names: (string | undefined)[] = list.data.items.map((i) => i.metadata?.name);
  // @ts-expect-error limit is an integer
  void client.GET(collection, { params: { path: { namespace }, query: { limit: 'ten' } } });

  const deleted = await client.DELETE(item, { params: { path: { namespace, name } } });
  if (deleted.error) throw new Error(deleted.error.detail);
  const missing = await client.GET(item, { params: { path: { namespace, name } } });
  const problem: Problem | undefined = missing.error;
  return { uid, image, replicas, names, createdStatus: created.response.status, missingStatus: missing.response.status, problemCode: problem?.code };
}
`;

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
  dir = mkdtempSync(join(tmpdir(), 'crdgate-typed-client-'));
  // openapi-fetch and the type-checker resolve from the project's node_modules.
  symlinkSync(join(repoRoot, 'node_modules'), join(dir, 'node_modules'), 'dir');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      target: 'es2022', module: 'nodenext', moduleResolution: 'nodenext', strict: true, noEmit: true,
      allowImportingTsExtensions: true, verbatimModuleSyntax: true, skipLibCheck: true, types: [],
    },
    files: ['client.ts'],
  }));
});

after(async () => {
  await gateway?.stop();
  await namespaces.deleteAll();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it('generates types from the live document, type-checks a client against them, and runs it', async () => {
  const res = await fetch(`${base}/openapi.json`);
  assert.equal(res.status, 200);
  const types = astToString(await openapiTS(await res.json() as Parameters<typeof openapiTS>[0]));
  assert.match(types, /"com\.example\.stable\.v1\.CronTab": \{/);
  writeFileSync(join(dir, 'api.ts'), types);
  writeFileSync(join(dir, 'client.ts'), CLIENT);
  const checked = await tsc(dir);
  assert.equal(checked.code, 0, `tsc --noEmit on the typed client:\n${checked.out}`);

  // The check can fail: a client using a field the schema does not have is refused.
  writeFileSync(join(dir, 'client.ts'), CLIENT.replace("const image: string | undefined = got.data.spec?.image;", 'const image: string | undefined = got.data.spec?.imageName;'));
  const broken = await tsc(dir);
  assert.equal(broken.code, 1);
  assert.match(broken.out, /imageName/);
  writeFileSync(join(dir, 'client.ts'), CLIENT);

  const ns = await namespaces.create('typed');
  const { run } = await import(pathToFileURL(join(dir, 'client.ts')).href) as { run: (b: string, ns: string, n: string) => Promise<Record<string, unknown>> };
  const r = await run(base, ns, 'typed');
  assert.equal(r.createdStatus, 201);
  assert.equal(typeof r.uid, 'string');
  assert.equal(r.image, 'typed:1');
  assert.equal(r.replicas, 3);
  assert.deepEqual(r.names, ['typed']);
  assert.equal(r.missingStatus, 404);
  assert.equal(r.problemCode, 'NOT_FOUND');
});
