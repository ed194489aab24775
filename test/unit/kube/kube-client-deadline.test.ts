// KubeClient's deadline and cancellation of a call, against a plain HTTP server that answers
// late or never: the deadline gives 504 Timeout, the caller's abort gives Canceled, and a call
// that is over leaves nothing behind on the caller's signal.
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { fromKubeError } from '../../../src/api-errors.ts';
import { callerMessageOf, KubeApiError, KubeClient, type KubeCredentials } from '../../../src/kube/kube-client.ts';

describe('KubeClient deadline and cancellation', () => {
  let server: Server;
  let client: KubeClient;
  const requests: string[] = [];
  const partialClosed: string[] = [];

  before(async () => {
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      requests.push(req.url ?? '');
      if (req.url?.startsWith('/slow')) return; // never answers
      if (req.url?.startsWith('/partial')) {
        // The status line, the headers and half of the body, then nothing.
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': '100' });
        res.write('{"kind":');
        req.socket.once('close', () => partialClosed.push(req.url ?? ''));
        return;
      }
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ kind: 'Thing' }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const kc: KubeCredentials = {
      getCurrentCluster: () => ({ name: 'test', server: `http://127.0.0.1:${port}` }),
      applyToHTTPSOptions: async () => {},
    };
    client = new KubeClient(kc, { timeoutMs: 5_000 });
  });

  after(async () => {
    await client.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('answers, and leaves no listener on the caller\'s signal', async () => {
    const caller = new AbortController();
    const answer = await client.request<{ kind: string }>('GET', '/fast', { signal: caller.signal });
    assert.equal(answer.kind, 'Thing');
    assert.equal(getEventListeners(caller.signal, 'abort').length, 0);
  });

  it('gives 504 Timeout when the server does not answer within the deadline', async () => {
    const started = performance.now();
    const err = await client.request('GET', '/slow/1', { timeoutMs: 150 }).catch((e: unknown) => e);
    assert.ok(err instanceof KubeApiError, String(err));
    assert.equal(err.httpStatus, 504);
    assert.equal(err.status.reason, 'Timeout');
    assert.match(err.message, /did not answer within 150 ms/);
    assert.ok(performance.now() - started < 3_000);
    // The apiserver's address is for the gateway's log (the error's message), not for its callers.
    assert.equal(err.status.message, 'the Kubernetes API did not answer within 150 ms');
    assert.equal(callerMessageOf(err), err.status.message);
    assert.equal(fromKubeError(err).message, 'the Kubernetes API did not answer within 150 ms');
    assert.equal(err.message, `the Kubernetes API at ${client.server} did not answer within 150 ms`);
  });

  it('gives 0 ServiceUnavailable for a refused connection, naming the address in its log message only', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    const down = new KubeClient({ getCurrentCluster: () => ({ name: 'down', server: `http://127.0.0.1:${port}` }), applyToHTTPSOptions: async () => {} });
    try {
      const err = await down.request('GET', '/x').catch((e: unknown) => e);
      assert.ok(err instanceof KubeApiError, String(err));
      assert.equal(err.status.reason, 'ServiceUnavailable');
      assert.equal(err.status.message, 'cannot reach the Kubernetes API: ECONNREFUSED');
      const answered = fromKubeError(err);
      assert.equal(answered.code, 'UNAVAILABLE');
      assert.equal(answered.message, 'cannot reach the Kubernetes API: ECONNREFUSED');
      assert.equal(err.message, `cannot reach the Kubernetes API at http://127.0.0.1:${port}: ECONNREFUSED`);
    } finally {
      await down.close();
    }
  });

  it('gives Canceled when the caller aborts, and removes its listener', async () => {
    const caller = new AbortController();
    const pending = client.request('GET', '/slow/2', { signal: caller.signal, timeoutMs: 5_000 }).catch((e: unknown) => e);
    setTimeout(() => caller.abort(new Error('the client went away')), 50);
    const err = await pending;
    assert.ok(err instanceof KubeApiError, String(err));
    assert.equal(err.httpStatus, 0);
    assert.equal(err.status.reason, 'Canceled');
    assert.equal(getEventListeners(caller.signal, 'abort').length, 0);
  });

  it('gives Canceled without sending when the caller\'s signal is already aborted', async () => {
    const caller = new AbortController();
    caller.abort(new Error('gone already'));
    const err = await client.request('GET', '/fast/never', { signal: caller.signal }).catch((e: unknown) => e);
    assert.ok(err instanceof KubeApiError, String(err));
    assert.equal(err.status.reason, 'Canceled');
    await new Promise((resolve) => setTimeout(resolve, 50));
    // By its path: on a loaded machine the server may see the previous test's request only now.
    assert.ok(!requests.includes('/fast/never'), 'the call was sent');
  });

  it('gives 504 Timeout when the body stops half-way, and closes that connection', async () => {
    const err = await client.request('GET', '/partial/1', { timeoutMs: 200 }).catch((e: unknown) => e);
    assert.ok(err instanceof KubeApiError, String(err));
    assert.equal(err.httpStatus, 504);
    assert.equal(err.status.reason, 'Timeout');
    const deadline = Date.now() + 2_000;
    while (!partialClosed.includes('/partial/1') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.deepEqual(partialClosed, ['/partial/1']);
    // The pool still serves calls after the connection it closed.
    assert.equal((await client.request<{ kind: string }>('GET', '/fast/after')).kind, 'Thing');
  });
});
