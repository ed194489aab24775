// /readyz tells the truth about the apiserver when it stops answering without closing anything: a
// frozen apiserver (a stopped process, a half-open connection after a network partition) keeps
// the gateway's watches open and silent, so only asking shows it. The gateway reaches the real
// apiserver through a TCP proxy that can freeze: connections stay open, bytes stop flowing both
// ways, as they would for a partition.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Server as HttpServer } from 'node:http';
import { KubeConfig } from '@kubernetes/client-node';
import { createGateway, type Gateway } from '../../src/gateway.ts';
import { KubeClient } from '../../src/kube/kube-client.ts';
import { pollUntil } from '../helpers/poll-until.ts';
import { testCluster } from '../helpers/test-cluster.ts';

/** A TCP proxy to host:port whose connections can be frozen (no bytes either way, nothing closed) and thawed. */
class FreezingProxy {
  readonly server: Server;
  private readonly pairs = new Set<[Socket, Socket]>();
  private frozen = false;

  constructor(target: { host: string; port: number }) {
    this.server = createServer((client) => {
      const upstream = connect(target.port, target.host);
      const pair: [Socket, Socket] = [client, upstream];
      this.pairs.add(pair);
      client.pipe(upstream);
      upstream.pipe(client);
      if (this.frozen) this.pause(pair);
      const end = () => {
        this.pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      client.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as AddressInfo).port;
  }

  freeze(): void {
    this.frozen = true;
    for (const pair of this.pairs) this.pause(pair);
  }

  thaw(): void {
    this.frozen = false;
    for (const [client, upstream] of this.pairs) {
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
      upstream.resume();
    }
  }

  close(): void {
    for (const [client, upstream] of this.pairs) {
      client.destroy();
      upstream.destroy();
    }
    this.server.close();
  }

  private pause([client, upstream]: [Socket, Socket]): void {
    client.unpipe(upstream);
    upstream.unpipe(client);
    client.pause();
    upstream.pause();
  }
}

const info = testCluster();
const target = new URL(info.server);
const proxy = new FreezingProxy({ host: target.hostname, port: Number(target.port) });
let gateway: Gateway;
let server: HttpServer;
let base: string;
const logged: string[] = [];

before(async () => {
  const port = await proxy.listen();
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'proxied', server: `https://127.0.0.1:${port}`, caFile: info.caFile, skipTLSVerify: false }],
    users: [{ name: 'admin', token: info.adminToken }],
    contexts: [{ name: 'proxied', cluster: 'proxied', user: 'admin' }],
    currentContext: 'proxied',
  });
  gateway = await createGateway({
    client: new KubeClient(kc, { timeoutMs: 5_000 }),
    explorer: false,
    readinessCheck: { intervalMs: 500, timeoutMs: 1_000 },
    log: { info: (m) => logged.push(m), warn: (m) => logged.push(m) },
  });
  server = await gateway.listen(0);
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  proxy.thaw();
  await gateway?.stop({ timeoutMs: 2_000 });
  proxy.close();
});

async function readyz(): Promise<{ status: number; body: { status: string; reasons?: string[] } }> {
  const res = await fetch(`${base}/readyz`);
  return { status: res.status, body: await res.json() as { status: string; reasons?: string[] } };
}

test('a frozen apiserver: /readyz answers 503 within seconds, and 200 again once it answers', async () => {
  assert.equal((await readyz()).status, 200);
  proxy.freeze();
  const frozen = await pollUntil('/readyz to answer 503 while the apiserver is frozen', async () => {
    const r = await readyz();
    return r.status === 503 ? r : undefined;
  }, { timeoutMs: 15_000, intervalMs: 250 });
  assert.equal(frozen.body.status, 'not ready');
  assert.equal(frozen.body.reasons?.length, 1, JSON.stringify(frozen.body));
  assert.match(frozen.body.reasons![0]!, /^Kubernetes API not reachable: /);
  assert.doesNotMatch(frozen.body.reasons![0]!, /127\.0\.0\.1/, 'no internal address for whoever asks /readyz');
  assert.ok(logged.some((l) => /^the Kubernetes API did not answer GET \/version \(.+\): \/readyz answers 503 until it does$/.test(l)), logged.join('\n'));
  proxy.thaw();
  await pollUntil('/readyz to answer 200 once the apiserver answers', async () => (await readyz()).status === 200, { timeoutMs: 15_000, intervalMs: 250 });
  assert.ok(logged.includes('the Kubernetes API answers GET /version again'), logged.join('\n'));
});
