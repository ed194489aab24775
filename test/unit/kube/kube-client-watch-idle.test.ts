// KubeClient's idle bound of a watch, against a plain HTTP server that streams watch lines: a watch
// the server says nothing on for the bound is a lost connection (UNAVAILABLE, without the server's
// address), and the time a handler holds the stream (its reader's connection is full) is not the
// server's silence.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fromKubeError } from '../../../src/api-errors.ts';
import { callerMessageOf, KubeApiError, KubeClient, type KubeCredentials } from '../../../src/kube/kube-client.ts';

const line = (name: string) => `${JSON.stringify({ type: 'ADDED', object: { metadata: { name, resourceVersion: '1' } } })}\n`;

describe('KubeClient watch idle bound', () => {
  let server: Server;
  let client: KubeClient;

  before(async () => {
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.write(line('first'));
      // /silent: nothing more, the connection stays open. /held: the next event after the
      // reader's hold of the first one (longer than the bound) is over, then the end.
      if (req.url?.startsWith('/held')) {
        setTimeout(() => res.write(line('second')), 650).unref();
        setTimeout(() => res.end(), 750).unref();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const kc: KubeCredentials = { getCurrentCluster: () => ({ name: 'test', server: `http://127.0.0.1:${port}` }), applyToHTTPSOptions: async () => {} };
    client = new KubeClient(kc);
  });

  after(async () => {
    await client.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('ends a watch the server sends nothing on for the bound as a lost connection: UNAVAILABLE, the address only in the log', async () => {
    const events: string[] = [];
    const started = performance.now();
    const err = await client.watch('/silent', { idleTimeoutMs: 200, onEvent: (e) => void events.push((e.object as { metadata: { name: string } }).metadata.name) })
      .then(() => undefined, (e: unknown) => e);
    const took = performance.now() - started;
    assert.deepEqual(events, ['first']);
    assert.ok(err instanceof KubeApiError, String(err));
    assert.equal(err.status.reason, 'ServiceUnavailable');
    assert.equal(callerMessageOf(err), 'the Kubernetes API sent nothing on the watch for 0.2 s');
    assert.match(err.message, /at http:\/\/127\.0\.0\.1:\d+ sent nothing/, 'the log names the server');
    assert.equal(fromKubeError(err).code, 'UNAVAILABLE');
    assert.ok(took >= 190 && took < 2_000, `ended after ${took} ms`);
  });

  it('does not count the time a handler holds the stream', async () => {
    const events: string[] = [];
    await client.watch('/held', {
      idleTimeoutMs: 300,
      onEvent: (e) => {
        events.push((e.object as { metadata: { name: string } }).metadata.name);
        // The first event is held for longer than the bound, as a reader's full connection would.
        if (events.length === 1) return sleep(550);
      },
    });
    assert.deepEqual(events, ['first', 'second']);
  });

  it('a caller that cancels a silent watch gets Canceled, not a lost connection', async () => {
    const caller = new AbortController();
    setTimeout(() => caller.abort(), 50).unref();
    const err = await client.watch('/silent', { idleTimeoutMs: 5_000, signal: caller.signal, onEvent: () => {} }).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof KubeApiError, String(err));
    assert.equal(err.status.reason, 'Canceled');
  });
});
