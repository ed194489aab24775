// A call that its caller gives up on while it waits for a connection leaves the pool's queue: it
// never reaches the server and never costs the connection it would have been given.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Pool from 'undici/lib/dispatcher/pool.js';
import { sendPooled } from '../../../src/kube/pooled-request.ts';

test('a call aborted while queued for a connection leaves the queue and the connection stays open', async () => {
  const sockets = new Set<unknown>();
  const seen: string[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    sockets.add(req.socket);
    seen.push(req.url!);
    const answer = () => res.end(JSON.stringify({ path: req.url }));
    if (req.url === '/slow') setTimeout(answer, 150);
    else answer();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const pool = new Pool(origin, { connections: 1, pipelining: 1 });
  try {
    const slow = sendPooled(pool, { method: 'GET', path: '/slow', headers: {} }, new AbortController().signal);
    const giveUp = new AbortController();
    const queued = sendPooled(pool, { method: 'GET', path: '/queued', headers: {} }, giveUp.signal);
    setTimeout(() => giveUp.abort(new Error('gone')), 20);
    await assert.rejects(queued, /gone/);
    assert.equal((await slow).status, 200);
    assert.equal((await sendPooled(pool, { method: 'GET', path: '/after', headers: {} }, new AbortController().signal)).status, 200);
    assert.deepEqual(seen, ['/slow', '/after'], 'the abandoned call never reached the server');
    assert.equal(sockets.size, 1, 'the connection was not closed for the abandoned call');
  } finally {
    await pool.destroy();
    server.close();
  }
});

test('a client closed and used again makes new connections instead of failing on its destroyed pool', async () => {
  const { KubeClient } = await import('../../../src/kube/kube-client.ts');
  const server = createServer((_req, res) => res.end('{"ok":true}'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new KubeClient({ getCurrentCluster: () => ({ name: 'c', server: url }), applyToHTTPSOptions: async () => {} });
  try {
    assert.deepEqual(await client.request('GET', '/a'), { ok: true });
    await client.close();
    assert.deepEqual(await client.request('GET', '/b'), { ok: true });
  } finally {
    await client.close();
    server.close();
  }
});
