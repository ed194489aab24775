// A call that its caller gives up on while it waits for a connection leaves the pool's queue: it
// never reaches the server and never costs the connection it would have been given.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Pool from 'undici/lib/dispatcher/pool.js';
import { asNodeError, sendPooled } from '../../../src/kube/pooled-request.ts';

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

test('every undici error a call can end with reaches its caller typed as node:https told it: UNAVAILABLE or TIMEOUT, no address', async () => {
  const errors = (await import('undici/lib/core/errors.js')).default as Record<string, new (...args: any[]) => Error>;
  const { transportError } = await import('../../../src/kube/kube-client.ts');
  const { fromKubeError } = await import('../../../src/api-errors.ts');
  const socket = { localAddress: '10.1.2.3', localPort: 40000, remoteAddress: '10.9.8.7', remotePort: 6443 };
  const cases: [Error, boolean, string, string][] = [
    [new errors.SocketError!('other side closed', socket), false, 'UNAVAILABLE', 'cannot reach the Kubernetes API: ECONNRESET'],
    [new errors.SocketError!('other side closed', socket), true, 'UNAVAILABLE', 'cannot reach the Kubernetes API'],
    [new errors.ClientClosedError!(), false, 'UNAVAILABLE', 'cannot reach the Kubernetes API: ECONNRESET'],
    [new errors.ClientDestroyedError!(), false, 'UNAVAILABLE', 'cannot reach the Kubernetes API: ECONNRESET'],
    [new errors.InformationalError!('reset'), false, 'UNAVAILABLE', 'cannot reach the Kubernetes API: ECONNRESET'],
    [new errors.RequestAbortedError!(), false, 'UNAVAILABLE', 'cannot reach the Kubernetes API: ECONNRESET'],
    [new errors.ConnectTimeoutError!('Connect Timeout Error (attempted address: 10.9.8.7:6443, timeout: 10000ms)'), false, 'UNAVAILABLE', 'cannot reach the Kubernetes API: ETIMEDOUT'],
    [new errors.HeadersTimeoutError!(), false, 'TIMEOUT', 'the Kubernetes API did not send its headers in time'],
    [new errors.BodyTimeoutError!(), true, 'TIMEOUT', 'the Kubernetes API did not send its body in time'],
    [new errors.HeadersOverflowError!(), false, 'UNAVAILABLE', 'cannot reach the Kubernetes API: HPE_HEADER_OVERFLOW'],
    [new errors.ResponseContentLengthMismatchError!(), true, 'UNAVAILABLE', 'cannot reach the Kubernetes API'],
    [new errors.HTTPParserError!('Response does not match the HTTP/1.1 protocol (Expected HTTP/)', undefined, 'junk from 10.9.8.7'), false, 'UNAVAILABLE', 'cannot reach the Kubernetes API'],
  ];
  const server = 'https://10.9.8.7:6443';
  for (const [err, answered, code, message] of cases) {
    const failed = transportError(server, asNodeError(err, answered), new AbortController().signal, 30_000, undefined);
    const caller = fromKubeError(failed);
    assert.deepEqual([caller.code, caller.message], [code, message], `${err.name} (answered: ${answered})`);
    assert.doesNotMatch(JSON.stringify(caller.extensions), /10\.9\.8\.7|10\.1\.2\.3/, err.name);
    assert.match(failed.message, /10\.9\.8\.7:6443/, 'the log message says where');
  }
});

test('a call whose answer has headers too large, or is not HTTP, or whose client closes under it, is told as node:https told it', async () => {
  const { KubeClient, KubeApiError } = await import('../../../src/kube/kube-client.ts');
  const { createServer: rawServer } = await import('node:net');
  const raw = rawServer((s) => {
    s.on('error', () => {});
    s.once('data', (d) => {
      const path = d.toString().split(' ')[1];
      if (path === '/big-headers') s.end(`HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(70_000)}\r\nContent-Length: 2\r\n\r\n{}`);
      else if (path === '/not-http') s.end('SSH-2.0-OpenSSH\r\n\r\n');
      // '/slow' never answers.
    });
  });
  await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(raw.address() as AddressInfo).port}`;
  const client = new KubeClient({ getCurrentCluster: () => ({ name: 'c', server: url }), applyToHTTPSOptions: async () => {} }, { timeoutMs: 5_000 });
  const statusOf = async (call: Promise<unknown>) => {
    const err = await call.then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof KubeApiError, String(err));
    return `${err.status.reason}: ${err.status.message}`;
  };
  try {
    assert.equal(await statusOf(client.request('GET', '/big-headers')), 'ServiceUnavailable: cannot reach the Kubernetes API: HPE_HEADER_OVERFLOW');
    assert.equal(await statusOf(client.request('GET', '/not-http')), 'ServiceUnavailable: cannot reach the Kubernetes API');
    const slow = statusOf(client.request('GET', '/slow'));
    await new Promise((resolve) => setTimeout(resolve, 50));
    await client.close();
    assert.equal(await slow, 'ServiceUnavailable: cannot reach the Kubernetes API: ECONNRESET');
  } finally {
    await client.close();
    raw.close();
  }
});
