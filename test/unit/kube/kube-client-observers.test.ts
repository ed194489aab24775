// KubeClient's call observers (observedBy), against a plain HTTP server: each call is told to its
// observers once as it starts and once as it settles, with the error its caller gets; watches are
// not; a view shares the client's connections and leaves the client itself unobserved.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { KubeApiError, KubeClient, type KubeCallObserver, type KubeCredentials } from '../../../src/kube/kube-client.ts';

describe('KubeClient call observers', () => {
  let server: Server;
  let client: KubeClient;
  let port = 0;
  const sockets = new Set<unknown>();

  before(async () => {
    server = createServer((req, res) => {
      sockets.add(req.socket);
      if (req.url === '/missing') {
        res.writeHead(404, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ kind: 'Status', code: 404, reason: 'NotFound', message: 'not there' }));
        return;
      }
      if (req.url === '/garbled') {
        res.end('not json');
        return;
      }
      if (req.url === '/empty') {
        res.writeHead(200).end();
        return;
      }
      if (req.url?.startsWith('/watch')) {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end('{"type":"ADDED","object":{}}\n');
        return;
      }
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ kind: 'Thing', path: req.url }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
    client = new KubeClient(credentialsFor(`http://127.0.0.1:${port}`), { timeoutMs: 5_000 });
  });

  after(async () => {
    await client.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const credentialsFor = (server: string): KubeCredentials => ({ getCurrentCluster: () => ({ name: 'test', server }), applyToHTTPSOptions: async () => {} });

  /** An observer that notes what it is told, tagged. */
  function noting(tag: string, told: string[]): KubeCallObserver<string> {
    return {
      started: (method, path) => {
        told.push(`${tag} started ${method} ${path}`);
        return `${tag}:${method}:${path}`;
      },
      settled: (started, method, err) => {
        told.push(`${tag} settled ${started} ${method} ${err === undefined ? 'ok' : err instanceof KubeApiError ? err.httpStatus : 'other'}`);
      },
    };
  }

  it('tells each call as it starts and as it settles, successes and every kind of failure alike', async () => {
    const told: string[] = [];
    const observed = client.observedBy(noting('a', told));
    assert.deepEqual(await observed.request('GET', '/thing'), { kind: 'Thing', path: '/thing' });
    assert.equal(await observed.request('DELETE', '/empty'), undefined);
    const missing = await observed.request('GET', '/missing').catch((e: unknown) => e);
    assert.ok(missing instanceof KubeApiError && missing.httpStatus === 404);
    const garbled = await observed.request('GET', '/garbled').catch((e: unknown) => e);
    assert.ok(garbled instanceof KubeApiError && garbled.httpStatus === 200);
    const bigint = await observed.request('POST', '/thing', { body: { n: 1n << 70n } });
    assert.ok(bigint);
    assert.deepEqual(told, [
      'a started GET /thing', 'a settled a:GET:/thing GET ok',
      'a started DELETE /empty', 'a settled a:DELETE:/empty DELETE ok',
      'a started GET /missing', 'a settled a:GET:/missing GET 404',
      'a started GET /garbled', 'a settled a:GET:/garbled GET 200',
      'a started POST /thing', 'a settled a:POST:/thing POST ok',
    ]);
  });

  it('tells an unreachable apiserver (code 0) and a body that cannot be sent', async () => {
    const told: string[] = [];
    const closed = new Server0();
    const nowhere = new KubeClient(credentialsFor(`http://127.0.0.1:${await closed.port()}`)).observedBy(noting('n', told));
    const err = await nowhere.request('GET', '/x').catch((e: unknown) => e);
    assert.ok(err instanceof KubeApiError && err.httpStatus === 0);
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    const unsendable = await client.observedBy(noting('b', told)).request('POST', '/x', { body: circular }).catch((e: unknown) => e);
    assert.ok(unsendable instanceof Error && !(unsendable instanceof KubeApiError), String(unsendable));
    assert.deepEqual(told, ['n started GET /x', 'n settled n:GET:/x GET 0', 'b started POST /x', 'b settled b:POST:/x POST other']);
  });

  it('never lets an observer that throws change a call\'s result, tells the others, and reports its first failure only', async () => {
    const told: string[] = [];
    const reported: unknown[] = [];
    const broken = (where: 'started' | 'settled'): KubeCallObserver<string> => ({
      started: (method, path) => {
        if (where === 'started') throw new Error(`${where} broke`);
        return `${method} ${path}`;
      },
      settled: () => {
        throw new Error(`${where} broke`);
      },
    });
    for (const where of ['started', 'settled'] as const) {
      told.length = 0;
      reported.length = 0;
      const view = client.observedBy(broken(where), (err) => reported.push(err)).observedBy(noting('after', told));
      assert.deepEqual(await view.request('GET', '/thing'), { kind: 'Thing', path: '/thing' });
      const missing = await view.request('GET', '/missing').catch((e: unknown) => e);
      assert.ok(missing instanceof KubeApiError && missing.httpStatus === 404, `${where}: ${String(missing)}`);
      assert.deepEqual(told, ['after started GET /thing', 'after settled after:GET:/thing GET ok', 'after started GET /missing', 'after settled after:GET:/missing GET 404']);
      assert.equal(reported.length, 1, `${where}: reported once`);
      assert.match(String(reported[0]), new RegExp(`${where} broke`));
    }
  });

  it('settles the observation of a call whose caller\'s onStatus throws, with that error', async () => {
    const told: string[] = [];
    const err = await client.observedBy(noting('s', told)).request('GET', '/thing', { onStatus: () => { throw new Error('caller broke'); } }).catch((e: unknown) => e);
    assert.match(String(err), /caller broke/);
    assert.deepEqual(told, ['s started GET /thing', 's settled s:GET:/thing GET other']);
  });

  it('views add observers in order, share the connections, and leave the client and watches unobserved', async () => {
    const told: string[] = [];
    const first = client.observedBy(noting('1', told));
    const both = first.observedBy(noting('2', told));
    await both.request('GET', '/a');
    await first.request('GET', '/b');
    await client.request('GET', '/c');
    await both.watch('/watch', { onEvent: () => {} });
    assert.deepEqual(told, [
      '1 started GET /a', '2 started GET /a', '1 settled 1:GET:/a GET ok', '2 settled 2:GET:/a GET ok',
      '1 started GET /b', '1 settled 1:GET:/b GET ok',
    ]);
    // A new client's views first, one call after the other: as many sockets as the same calls
    // through the client alone make (the pool may open a second one while the first is being
    // released), when the views use the client's pool (its first call through a view makes it).
    const alone = new KubeClient(credentialsFor(`http://127.0.0.1:${port}`));
    sockets.clear();
    for (const path of ['/d', '/e', '/f', '/g']) await alone.request('GET', path);
    const byOnePool = sockets.size;
    await alone.close();
    const fresh = new KubeClient(credentialsFor(`http://127.0.0.1:${port}`));
    const view = fresh.observedBy(noting('3', told)).observedBy(noting('4', told));
    sockets.clear();
    await view.request('GET', '/d');
    await fresh.observedBy(noting('5', told)).request('GET', '/e');
    await fresh.request('GET', '/f');
    await view.request('GET', '/g');
    assert.equal(sockets.size, byOnePool, 'one pool for the client and its views');
    await view.close();
    assert.equal(both.server, client.server);
  });
});

/** A port nothing listens on: a server started and closed. */
class Server0 {
  async port(): Promise<number> {
    const s = createServer();
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    const { port } = s.address() as AddressInfo;
    await new Promise((resolve) => s.close(resolve));
    return port;
  }
}
