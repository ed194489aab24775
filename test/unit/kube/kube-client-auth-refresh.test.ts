// A gateway in a pod authenticates with its projected service-account token, which the kubelet
// rotates; an exec plugin's token expires. After the apiserver stops taking the old token (401),
// the client reads its credentials again and retries once: for a watch as for a request. A watch
// that kept the old token would be refused for good (a reflector re-watches after an error and
// lists again only after 410), and the CRD catalog's watch failing makes /readyz answer 503, so
// no request would ever come to refresh it.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { KubeApiError, KubeClient, type KubeCredentials } from '../../../src/kube/kube-client.ts';

let server: Server;
let client: KubeClient;
/** The token the apiserver accepts now, and the one the credentials give when read. */
let accepted = 'old';
let onFile = 'old';
const seen: string[] = [];

before(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    seen.push(`${req.url?.includes('watch=true') ? 'WATCH' : 'GET'} ${req.headers.authorization}`);
    if (req.headers.authorization !== `Bearer ${accepted}`) {
      res.writeHead(401, { 'Content-Type': 'application/json' }).end(JSON.stringify({ kind: 'Status', code: 401, reason: 'Unauthorized', message: 'Unauthorized' }));
      return;
    }
    res.setHeader('Content-Type', 'application/json');
    if (!req.url?.includes('watch=true')) return res.end(JSON.stringify({ kind: 'Thing' }));
    res.write(`${JSON.stringify({ type: 'ADDED', object: { kind: 'Thing', metadata: { name: 'a', resourceVersion: '2' } } })}\n`);
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const kc: KubeCredentials = {
    getCurrentCluster: () => ({ name: 'test', server: `http://127.0.0.1:${port}` }),
    applyToHTTPSOptions: async (opts) => {
      opts.headers = { ...(opts.headers as Record<string, string> | undefined), Authorization: `Bearer ${onFile}` };
    },
  };
  client = new KubeClient(kc, { timeoutMs: 5_000 });
});

after(async () => {
  await client.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

test('a watch refused 401 after the token rotated reads the credentials again and opens with the new token', async () => {
  assert.deepEqual(await client.request('GET', '/apis/x/v1/things'), { kind: 'Thing' });
  // The kubelet wrote a new token, and the apiserver no longer takes the old one (a second later:
  // credentials are not read again more often than once a second).
  await sleep(1_100);
  onFile = 'new';
  accepted = 'new';
  seen.length = 0;
  const events: string[] = [];
  await client.watch<{ metadata: { name: string } }>('/apis/x/v1/things', { onEvent: (e) => void events.push(`${e.type} ${e.object.metadata.name}`) });
  assert.deepEqual(events, ['ADDED a']);
  assert.deepEqual(seen, ['WATCH Bearer old', 'WATCH Bearer new']);
});

test('a watch refused 401 with credentials that did not change is refused, once', async () => {
  await sleep(1_100);
  accepted = 'newer';
  seen.length = 0;
  const err = await client.watch('/apis/x/v1/things', { onEvent: () => {} }).catch((e: unknown) => e);
  assert.ok(err instanceof KubeApiError, String(err));
  assert.equal(err.httpStatus, 401);
  assert.deepEqual(seen, ['WATCH Bearer new'], 'the same token is not sent again');
});
