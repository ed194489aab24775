// Restarting the control plane under a live subscription. A separate control plane (not the shared
// one of the test run) is stopped and started again on the same data dir and port: its watch cache
// starts at the current etcd revision, so the hub's re-watch from its old resourceVersion is
// answered with 410 Gone, and the hub's reflector relists and emits the difference. Changes made
// right after the restart must end up in the subscriber's view whether the hub reconnects before
// them (they arrive live) or after them (they arrive in the relist's diff): the view equals the
// final list, nothing is lost, no final state is delivered twice.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGateway, type Gateway } from '../../src/gateway.ts';
import { KubeClient } from '../../src/kube/kube-client.ts';
import { loadFile } from '../../src/kube/kube-config.ts';
import { launchCluster, type LocalCluster } from '../../src/local-cluster/launch-cluster.ts';
import { installExampleCrds } from '../../src/local-cluster/install-examples.ts';
import { openClient, Subscription, waitUntil, type WatchEventRecord } from '../helpers/subscription-client.ts';
import { freePort } from '../helpers/free-port.ts';

const scratch = mkdtempSync(join(tmpdir(), 'crdgate-restart-test-'));
const dataDir = join(scratch, 'cluster');
const ns = 'restart';
let port: number;
let cluster: LocalCluster;
let kube: KubeClient;
let gateway: Gateway | undefined;
let url: string;
const warnings: string[] = [];

const WATCH = `subscription($ns: String) {
  watchCronTab_stable_example_com(namespace: $ns, sendInitialEvents: true) {
    type resourceVersion object { metadata { name resourceVersion } spec { replicas } }
  }
}`;

type CronTab = { metadata: { name: string; resourceVersion: string }; spec?: { replicas?: number } };
const path = (name?: string) => `/apis/stable.example.com/v1/namespaces/${ns}/crontabs${name ? `/${name}` : ''}`;
const create = (name: string, replicas = 1) =>
  kube.request<CronTab>('POST', path(), { body: { apiVersion: 'stable.example.com/v1', kind: 'CronTab', metadata: { name }, spec: { cronSpec: '@hourly', replicas } } });
const scale = (name: string, replicas: number) =>
  kube.request<CronTab>('PATCH', path(name), { body: { spec: { replicas } }, contentType: 'application/merge-patch+json' });
const remove = (name: string) => kube.request<CronTab>('DELETE', path(name));


function start(): Promise<LocalCluster> {
  return launchCluster({ dataDir, logFile: join(scratch, 'cluster.log'), port });
}

/** What a client builds from the events: name → (resourceVersion, replicas). */
function view(events: WatchEventRecord[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const e of events) {
    const o = e.object;
    if (!o?.metadata?.name) continue;
    if (e.type === 'DELETED') m.delete(o.metadata.name);
    else m.set(o.metadata.name, `${o.metadata.resourceVersion} replicas=${o.spec?.['replicas']}`);
  }
  return m;
}

async function listed(): Promise<Map<string, string>> {
  const list = await kube.request<{ items: CronTab[] }>('GET', path());
  return new Map(list.items.map((o) => [o.metadata.name, `${o.metadata.resourceVersion} replicas=${o.spec?.replicas}`]));
}

const sorted = (m: Map<string, string>) => [...m.entries()].sort(([a], [b]) => a.localeCompare(b));

before(async () => {
  port = await freePort();
  cluster = await start();
  const kc = loadFile(cluster.info.kubeconfig);
  await installExampleCrds(kc);
  kube = new KubeClient(kc);
  await kube.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } } });
  gateway = await createGateway({
    client: new KubeClient(loadFile(cluster.info.kubeconfig)),
    watchGraceMs: 1000,
    log: { info: () => {}, warn: (m) => warnings.push(m) },
  });
  const server = await gateway.listen(0);
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

after(async () => {
  await gateway?.stop();
  await cluster?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

test('a subscription survives a control-plane restart: 410 → relist, final state exact, no duplicates', async (t) => {
  for (const name of ['keep', 'mod', 'del', 'twice']) await create(name);
  const client = openClient(url);
  const sub = new Subscription(client, WATCH, { ns });
  await waitUntil(() => sub.events.some((e) => e.type === 'INITIAL_STATE_DONE'), 15_000, 'the initial state');
  assert.deepEqual(sorted(view(sub.events)), sorted(await listed()));
  const beforeRestart = sub.events.length;
  const upstreamsStarted = gateway!.operations.hub.stats().upstreamsStarted;

  await cluster.stop();
  cluster = await start();
  // Right after the restart; the hub may still be backing off from the lost connection or not.
  const changes: string[] = [];
  const note = (what: string, o: CronTab) => changes.push(`${what} ${o.metadata.name} ${o.metadata.resourceVersion}`);
  // A delete without finalizers answers with a Status, not the object: note the name only.
  const noteDelete = async (name: string) => {
    await remove(name);
    changes.push(`DELETED ${name}`);
  };
  note('ADDED', await create('new'));
  note('MODIFIED', await scale('mod', 2));
  note('MODIFIED', await scale('mod', 3));
  await noteDelete('del');
  note('ADDED', await create('tmp'));
  await noteDelete('tmp');
  note('MODIFIED', await scale('twice', 5));
  const restartedAt = performance.now();

  const final = await listed();
  await waitUntil(() => JSON.stringify(sorted(view(sub.events))) === JSON.stringify(sorted(final)) || sub.ended, 45_000,
    'the subscriber\'s view to equal the list after the restart',
    () => `view ${JSON.stringify(sorted(view(sub.events)))} list ${JSON.stringify(sorted(final))}; warnings ${warnings.join(' | ')}`);
  const caughtUpMs = performance.now() - restartedAt;
  assert.equal(sub.ended, false, `the subscription ended: ${JSON.stringify(sub.error)}`);
  assert.deepEqual(sorted(view(sub.events)), sorted(final));
  assert.ok(warnings.some((w) => /too old|Expired|410|Gone/i.test(w)), `the hub's re-watch was answered 410 Gone: ${warnings.join(' | ')}`);
  assert.equal(gateway!.operations.hub.stats().upstreamsStarted, upstreamsStarted, 'the same upstream relisted; no new one');

  const afterRestart = sub.events.slice(beforeRestart);
  // The relist's synthetic diff is closed by a BOOKMARK at the list's resourceVersion. When the hub
  // reconnects before all the changes above are made, the relist sees only the first ones and the
  // rest arrive live after the BOOKMARK, each newer than it.
  const bookmarks = afterRestart.filter((e) => e.type === 'BOOKMARK');
  assert.equal(bookmarks.length, 1, `one BOOKMARK after the relist: ${JSON.stringify(afterRestart)}`);
  const relistRv = BigInt(bookmarks[0]!.resourceVersion!);
  const cut = afterRestart.indexOf(bookmarks[0]!);
  assert.ok(afterRestart.slice(0, cut).every((e) => BigInt(e.resourceVersion!) <= relistRv), 'the diff is at or before the relist');
  assert.ok(afterRestart.slice(cut + 1).every((e) => BigInt(e.resourceVersion!) > relistRv), 'live events are after the relist');
  const after = afterRestart.filter((e) => e.type !== 'BOOKMARK');
  const seen = after.map((e) => `${e.type} ${e.object?.metadata?.name} ${e.object?.metadata?.resourceVersion}`);
  // No final state twice, nothing for the object that did not change.
  assert.equal(new Set(seen).size, seen.length, `no event delivered twice: ${seen.join(', ')}`);
  assert.ok(!after.some((e) => e.object?.metadata?.name === 'keep'), `nothing for the unchanged object: ${seen.join(', ')}`);
  // Per object, what arrives is in the order the changes were made.
  for (const name of ['new', 'mod', 'del', 'twice', 'tmp']) {
    const rvs = after.filter((e) => e.object?.metadata?.name === name).map((e) => BigInt(e.object!.metadata!.resourceVersion!));
    for (let i = 1; i < rvs.length; i++) assert.ok(rvs[i]! > rvs[i - 1]!, `${name}: events in order (${rvs.join(', ')})`);
  }
  const intermediates = changes.filter((c) => !seen.some((s) => s === c || s.startsWith(`${c} `)));
  t.diagnostic(`caught up ${caughtUpMs.toFixed(0)} ms after the restart; made after the restart: ${changes.join(', ')}`);
  t.diagnostic(`the subscriber saw: ${seen.join(', ')} (${afterRestart.length - cut - 1} live after the relist)`);
  t.diagnostic(intermediates.length
    ? `net diff only (relist): ${intermediates.length} intermediate change(s) not delivered: ${intermediates.join(', ')}`
    : 'every intermediate change was delivered');

  // The relisted upstream keeps watching: a change now arrives live.
  const count = sub.events.length;
  const live = await scale('keep', 9);
  await sub.waitForEvents(count + 1, 15_000);
  assert.deepEqual(sub.summary(count), ['MODIFIED keep']);
  assert.equal(sub.events[count]!.resourceVersion, live.metadata.resourceVersion);
  await client.dispose();
});
