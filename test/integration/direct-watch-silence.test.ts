// A direct watch (a resume older than the hub's window, served by the apiserver as the caller)
// whose connection goes silent, on the real control plane: the gateway's client reaches the
// apiserver through a TCP proxy in this process that, when told, forwards nothing more in either
// direction and keeps its connections open, as a dead network path would. While events flow the
// watch lives on past its idle bound; once silent it ends with UNAVAILABLE and the resourceVersion
// of the last event it delivered, within the bound (a short one here, set through the hub).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { ApiError } from '../../src/api-errors.ts';
import { KubeClient } from '../../src/kube/kube-client.ts';
import { createHubOperations, type HubOperations } from '../../src/service/hub-operations.ts';
import type { HubEvent } from '../../src/service/watch-hub.ts';
import { feedIterable } from '../../src/streams/feed.ts';
import { pollUntil } from '../helpers/poll-until.ts';
import { kubeConfigFor, testCluster, uniqueName } from '../helpers/test-cluster.ts';

const admin = new KubeClient(kubeConfigFor('admin'));
const idleMs = 1_500;
let proxy: Server;
const sockets = new Set<Socket>();
let silent = false;
let ops: HubOperations;
let ns = '';

/** A TCP proxy to the apiserver that drops every byte once `silent` is set. */
async function startProxy(target: URL): Promise<number> {
  proxy = createServer((down) => {
    const up = connect(Number(target.port), target.hostname);
    for (const s of [down, up]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => {
        sockets.delete(s);
        down.destroy();
        up.destroy();
      });
    }
    down.on('data', (bytes: Buffer) => void (silent || up.write(bytes)));
    up.on('data', (bytes: Buffer) => void (silent || down.write(bytes)));
  });
  await new Promise<void>((resolve) => proxy.listen(0, target.hostname, resolve));
  return (proxy.address() as { port: number }).port;
}

const create = (name: string) => admin.request<{ metadata: { resourceVersion: string } }>('POST', `/apis/stable.example.com/v1/namespaces/${ns}/crontabs`, {
  body: { apiVersion: 'stable.example.com/v1', kind: 'CronTab', metadata: { name }, spec: { cronSpec: '* * * * *', image: 'x', replicas: 1 } },
});

before(async () => {
  const info = testCluster();
  const target = new URL(info.server);
  const port = await startProxy(target);
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'proxied', server: `https://${target.hostname}:${port}`, caFile: info.caFile, skipTLSVerify: false }],
    users: [{ name: 'admin', token: info.adminToken }],
    contexts: [{ name: 'proxied', cluster: 'proxied', user: 'admin' }],
    currentContext: 'proxied',
  });
  ops = createHubOperations(new KubeClient(kc), { hub: { directWatchIdleMs: idleMs, graceMs: 100 } });
  ns = uniqueName('silence');
  await admin.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } } });
});

after(async () => {
  await ops?.hub.stop();
  for (const s of sockets) s.destroy();
  await new Promise((resolve) => proxy.close(resolve));
  await admin.request('DELETE', `/api/v1/namespaces/${ns}`).catch(() => {});
});

describe('a direct watch whose connection goes silent', () => {
  it('lives while events flow, then ends with UNAVAILABLE and the last resourceVersion within its idle bound', async () => {
    const first = await create('one');
    await create('two');
    const events: HubEvent[] = [];
    let error: unknown;
    let ended = false;
    const feed = ops.hub.subscribe({ group: 'stable.example.com', version: 'v1', plural: 'crontabs', namespace: ns }, { resourceVersion: first.metadata.resourceVersion });
    void (async () => {
      try {
        for await (const e of feedIterable(feed)) events.push(e);
      } catch (err) {
        error = err;
      } finally {
        ended = true;
      }
    })();
    const names = () => events.filter((e) => e.type !== 'BOOKMARK').map((e) => (e.object.metadata as { name: string }).name);
    await pollUntil('the resumed event', async () => names().includes('two') || undefined, { timeoutMs: 15_000, intervalMs: 20 });
    assert.equal(ops.hub.stats().fallbackSubscribers, 1, 'served by a direct watch');

    // Events for longer than the bound: each one tells the client the connection is alive.
    for (let i = 0; i < 6; i++) {
      await create(`alive-${i}`);
      await new Promise((resolve) => setTimeout(resolve, 400));
    }
    await pollUntil('the events made meanwhile', async () => names().includes('alive-5') || undefined, { timeoutMs: 10_000, intervalMs: 20 });
    assert.equal(ended, false, `ended while events flowed: ${String(error)}`);

    silent = true;
    const silentAt = performance.now();
    await create('unseen');
    await pollUntil('the end', async () => ended || undefined, { timeoutMs: 10_000, intervalMs: 20 });
    const took = performance.now() - silentAt;
    console.log(`silent for ${Math.round(took)} ms: ${String(error)}`);
    assert.ok(error instanceof ApiError, String(error));
    assert.equal(error.code, 'UNAVAILABLE');
    assert.equal(error.details.resourceVersion, events.at(-1)!.resourceVersion, 'the last resourceVersion delivered');
    assert.ok(!names().includes('unseen'));
    assert.ok(took <= idleMs + 1_000, `ended ${Math.round(took)} ms after the silence began (bound ${idleMs} ms)`);
  });
});
