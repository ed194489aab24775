// Every CRD of the real-CRD corpus installed into a real control plane, served by a live gateway:
// listed in apiResources, and for every served version one get and one list answered, through
// GraphQL and through the REST facade. The offline corpus test reads the files; this one reads
// the CRDs as the apiserver gives them back (its own JSON, its defaults, bounds such as
// maximum: 9223372036854775000 with every digit), which is what a gateway really serves.
//
// The corpus holds some CRDs twice (gateway-api's standard and experimental channels define the
// same names). A cluster holds one of each: the files are applied in corpus order, the first
// file of each name first, then each later file of the same name replaces it, as
// `kubectl apply --server-side --force-conflicts -f` of the files in that order would (for
// gateway-api: the standard channel, then the upgrade to experimental). Each copy is checked
// while it is the one installed.
//
// The CRDs go into a control plane of their own: 200 CRDs in the shared one would make every
// other test file's gateways build and watch them. Beside the corpus, two control CRDs that
// Kubernetes accepts but whose GraphQL names collide show that a CRD the gateway cannot serve is
// reported, with the reason, in the log and in crdgate_crds_not_served, never silently.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import { join, relative } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { createGateway, type Gateway } from '../../src/gateway.ts';
import { rootFieldNames } from '../../src/model/graphql-type-names.ts';
import { KubeClient } from '../../src/kube/kube-client.ts';
import { launchCluster, type LocalCluster } from '../../src/local-cluster/launch-cluster.ts';
import { parseJson, parseYaml } from '../../src/kube/lossless-json.ts';
import type { ResourceModel } from '../../src/model/resource-model.ts';
import { metrics, type MetricsPlugin } from '../../src/plugins/metrics.ts';
import { corpusAvailable, corpusDir, crdFiles } from '../helpers/crd-corpus.ts';
import { pollUntil } from '../helpers/poll-until.ts';
import { parseMetrics } from '../helpers/prometheus-text.ts';

interface CorpusCrd {
  file: string;
  name: string;
  object: Record<string, any>;
}

let dir: string | undefined;
let cluster: LocalCluster | undefined;
let client: KubeClient | undefined;
let gateway: Gateway | undefined;
let plugin: MetricsPlugin;
let origin: string;
const warnings: string[] = [];

/** The corpus as rounds: round 0 holds the first file of every CRD name, round n its (n+1)th file. */
function corpusRounds(): CorpusCrd[][] {
  const rounds: CorpusCrd[][] = [];
  const seen = new Map<string, number>();
  for (const path of crdFiles()) {
    const object = parseYaml(readFileSync(path, 'utf8')) as Record<string, any>;
    const name = object.metadata.name as string;
    const n = seen.get(name) ?? 0;
    seen.set(name, n + 1);
    (rounds[n] ??= []).push({ file: relative(corpusDir, path), name, object });
  }
  return rounds;
}

const controlGroup = 'names-collide.crdgate.test';
function controlCrd(kind: string, plural: string, singular: string): Record<string, unknown> {
  return {
    apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: `${plural}.${controlGroup}` },
    spec: {
      group: controlGroup, scope: 'Namespaced', names: { kind, plural, singular, listKind: `${kind}List` },
      versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } }],
    },
  };
}

/** Server-side apply with force: what `kubectl apply --server-side --force-conflicts` sends. Returns the resourceVersion. */
async function apply(crd: Record<string, any>): Promise<string> {
  const applied = await client!.request<{ metadata: { resourceVersion: string } }>('PATCH',
    `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}`,
    { body: crd, contentType: 'application/apply-patch+yaml', query: { fieldManager: 'corpus-test', force: true }, timeoutMs: 120_000 });
  return applied.metadata.resourceVersion;
}

/** Waits until the gateway's catalog holds each CRD established, at (at least) the resourceVersion it was applied with. */
async function caughtUp(applied: Map<string, string>): Promise<void> {
  let missing: readonly string[] = [];
  try {
    await pollUntil('the gateway to see the applied CRDs established', () => {
      const have = new Map(gateway!.catalog.current()?.crds.map((c) => [c.metadata.name, BigInt(c.metadata.resourceVersion ?? '0')]));
      const now: string[] = [...applied].filter(([name, rv]) => (have.get(name) ?? -1n) < BigInt(rv)).map(([name]) => name);
      missing = now;
      return missing.length === 0;
    }, { timeoutMs: 180_000, intervalMs: 500 });
  } catch (err) {
    throw new Error(`${(err as Error).message}; still missing: ${missing.join(', ')}`);
  }
}

/**
 * One call, repeated while the answer is TOO_MANY_REQUESTS, after the Retry-After it gives, as
 * client-go does: a CRD established a moment ago answers "storage is (re)initializing" until its
 * watch cache is ready.
 */
async function honouringRetryAfter(call: () => Promise<{ status: number; json: any }>): Promise<{ status: number; json: any }> {
  for (let attempt = 1; ; attempt++) {
    const answer = await call();
    const tooMany = answer.status === 429 ? answer.json : answer.json.errors?.find((e: any) => e.extensions?.code === 'TOO_MANY_REQUESTS')?.extensions;
    if (!tooMany || attempt === 10) return answer;
    await delay(Number(tooMany.retryAfterSeconds ?? 1) * 1000);
  }
}

async function get(path: string) {
  return honouringRetryAfter(async () => {
    const res = await fetch(`${origin}${path}`);
    return { status: res.status, json: await res.json() as any };
  });
}

async function post(path: string, body: unknown) {
  return honouringRetryAfter(async () => {
    const res = await fetch(`${origin}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, json: await res.json() as any };
  });
}

/** apiResources lists the CRD, and each served version answers a get and a list over GraphQL and REST. */
async function checkServed(model: ResourceModel, apiResources: Map<string, any>): Promise<string[]> {
  const problems: string[] = [];
  const listed = apiResources.get(model.crdName);
  if (!listed) return [`${model.crdName}: not in apiResources`];
  const namespaced = model.scope === 'Namespaced';
  for (const version of model.versions.filter((v) => v.served)) {
    const where = `${model.crdName} ${version.name}`;
    const names = rootFieldNames(model, version.name);
    if (listed.versions.find((v: any) => v.name === version.name)?.getField !== names.get) problems.push(`${where}: apiResources names no get field`);
    const ns = namespaced ? 'namespace: "default", ' : '';
    const r = await post('/graphql', {
      query: `{ one: ${names.get}(${ns}name: "corpus-absent") { metadata { name } } all: ${names.list}${namespaced ? '(namespace: "default")' : ''} { edges { cursor } resourceVersion } }`,
    });
    if (r.status !== 200 || r.json.errors || r.json.data?.one !== null || !Array.isArray(r.json.data?.all?.edges) || !r.json.data.all.resourceVersion) {
      problems.push(`${where}: GraphQL get and list answered ${r.status} ${JSON.stringify(r.json).slice(0, 300)}`);
    }
    const base = `/rest/${model.group}/${version.name}${namespaced ? '/namespaces/default' : ''}/${model.plural}`;
    const list = await get(base);
    if (list.status !== 200 || !Array.isArray(list.json.items)) problems.push(`${where}: REST list answered ${list.status} ${JSON.stringify(list.json).slice(0, 300)}`);
    const one = await get(`${base}/corpus-absent`);
    if (one.status !== 404 || one.json.code !== 'NOT_FOUND') problems.push(`${where}: REST get answered ${one.status} ${JSON.stringify(one.json).slice(0, 300)}`);
  }
  return problems;
}

async function apiResourcesByName(): Promise<Map<string, any>> {
  const r = await post('/graphql', { query: '{ apiResources { crdName versions { name served getField } } }' });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  return new Map(r.json.data.apiResources.map((a: any) => [a.crdName, a]));
}

async function notServedGauge(): Promise<number> {
  return parseMetrics(await plugin.registry.metrics()).get('crdgate_crds_not_served')!;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'crdgate-corpus-'));
});

after(async () => {
  await gateway?.stop();
  await client?.close();
  await cluster?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('every CRD of the corpus is served by a live gateway; one that cannot be is reported', { timeout: 900_000 }, async (t) => {
  if (!corpusAvailable(t)) return;
  const rounds = corpusRounds();
  cluster = await launchCluster({ dataDir: join(dir!, 'cluster'), logFile: join(dir!, 'cluster.log') });
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.info.kubeconfig);
  client = new KubeClient(kc);
  plugin = metrics({ processMetrics: false });
  gateway = await createGateway({ client: new KubeClient(kc, { timeoutMs: 120_000 }), plugins: [plugin], explorer: false,
    log: { info: () => {}, warn: (m) => warnings.push(m) } });
  origin = `http://127.0.0.1:${((await gateway.listen(0)).address() as AddressInfo).port}`;

  const control = new Map<string, string>();
  // The control pair: on a tie the gateway keeps the older CRD, then the first by name; this one
  // is both, so the second one is left out.
  control.set(`maps.${controlGroup}`, await apply(controlCrd('URLMap', 'maps', 'map')));
  control.set(`urlmaps.${controlGroup}`, await apply(controlCrd('UrlMap', 'urlmaps', 'urlmap')));

  let checkedVersions = 0;
  for (const [n, round] of rounds.entries()) {
    const applied = new Map(control);
    const started = performance.now();
    for (const crd of round) applied.set(crd.name, await apply(crd.object));
    const appliedMs = performance.now() - started;
    await caughtUp(applied);
    t.diagnostic(`round ${n + 1}: applied ${round.length} CRDs in ${(appliedMs / 1000).toFixed(1)} s, served ${((performance.now() - started - appliedMs) / 1000).toFixed(1)} s later`);
    const served = new Map<string, ResourceModel>(gateway.live.resources.map((m) => [m.crdName, m]));
    const missing: string[] = round.filter((c) => !served.has(c.name)).map((c) => `${c.file} (${c.name})`);
    assert.deepEqual(missing, [], `not served: ${missing.join(', ')}; the gateway logged: ${warnings.join(' | ')}`);
    const apiResources = await apiResourcesByName();
    const problems: string[] = [];
    for (const crd of round) {
      const model: ResourceModel = served.get(crd.name)!;
      // The copy installed is this round's file: its served versions are the ones in the schema.
      const want = (crd.object.spec.versions as { name: string; served: boolean }[]).filter((v) => v.served).map((v) => v.name).sort();
      const have = model.versions.filter((v) => v.served).map((v) => v.name).sort();
      if (want.join() !== have.join()) problems.push(`${crd.file}: serves ${have.join(', ')}, the file ${want.join(', ')}`);
      problems.push(...await checkServed(model, apiResources));
      checkedVersions += have.length;
    }
    assert.deepEqual(problems, [], `round ${n + 1}`);
  }
  t.diagnostic(`${rounds.flat().length} corpus files, ${checkedVersions} served versions answered a get and a list over GraphQL and REST`);

  // The live OpenAPI document describes them all, bounds such as 9223372036854775000 included.
  for (const doc of ['/openapi.json', '/openapi.yaml']) {
    const res = await fetch(`${origin}${doc}`);
    const text = await res.text();
    assert.equal(res.status, 200, `${doc}: ${text.slice(0, 300)}`);
    const parsed = (doc.endsWith('.json') ? parseJson(text) : parseYaml(text)) as { paths?: Record<string, unknown> };
    assert.ok(Object.keys(parsed.paths ?? {}).length >= gateway.live.resources.length, `${doc} has a path for every resource`);
  }

  // Never silently: the gauge counts the control CRD left out, the log says which and why.
  assert.equal(await notServedGauge(), 1);
  assert.ok(!gateway.live.resources.some((m) => m.crdName === `urlmaps.${controlGroup}`));
  const reported = warnings.filter((w) => /not served/.test(w));
  assert.equal(reported.length >= 1 && reported.every((w) => w.includes(`urlmaps.${controlGroup}`)), true, reported.join(' | '));
  const field = rootFieldNames({ kind: 'UrlMap', listKind: 'UrlMapList', group: controlGroup }, 'v1').get;
  assert.ok(reported[0]!.includes(`its root field Query.${field} is already used by CRD maps.${controlGroup}`), reported[0]);
});
