// KubeClient's calls over TLS as a kubeconfig describes it, against a local HTTPS server that
// demands a client certificate: the server verified with the kubeconfig's CA under its
// tls-server-name, the client certificate presented, credentials read again after a 401,
// impersonation headers one value per line as UTF-8 bytes, Status errors and Retry-After, answers
// with big integers and multi-byte text across chunks, and connections that close early.
// (The certificates in tls-fixtures are valid until 2126; the CA's key was not kept.)
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { KubeApiError, KubeClient, type KubeCredentials } from '../../../src/kube/kube-client.ts';
import { KubeConfig } from '../../../src/kube/kubeconfig.ts';

const fixture = (name: string) => readFileSync(new URL(`tls-fixtures/${name}`, import.meta.url));
const b64 = (name: string) => fixture(name).toString('base64');

interface Seen { url: string; method: string; rawHeaders: string[]; body: string; clientCn: string | undefined }

function kubeconfig(port: number, cluster: Record<string, unknown>): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(JSON.stringify({
    clusters: [{ name: 'c', cluster: { server: `https://127.0.0.1:${port}`, ...cluster } }],
    users: [{ name: 'u', user: { 'client-certificate-data': b64('client.crt'), 'client-key-data': b64('client.key') } }],
    contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
    'current-context': 'x',
  }));
  return kc;
}

/** The header lines of one name, in order (Node keeps the bytes of a value as Latin-1 characters). */
function lines(seen: Seen, name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < seen.rawHeaders.length; i += 2) if (seen.rawHeaders[i]!.toLowerCase() === name) out.push(seen.rawHeaders[i + 1]!);
  return out;
}

describe('KubeClient over TLS with a client certificate', () => {
  let server: Server;
  let port: number;
  const seen: Seen[] = [];
  const answers = new Map<string, (req: IncomingMessage, res: ServerResponse) => void>();

  before(async () => {
    server = createServer({ key: fixture('server.key'), cert: fixture('server.crt'), ca: fixture('ca.crt'), requestCert: true, rejectUnauthorized: true }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const peer = (req.socket as TLSSocket).getPeerCertificate();
        seen.push({ url: req.url ?? '', method: req.method ?? '', rawHeaders: req.rawHeaders, body: Buffer.concat(chunks).toString('utf8'), clientCn: peer.subject?.CN as string | undefined });
        const answer = answers.get(new URL(req.url ?? '/', 'https://x').pathname);
        if (answer) return answer(req, res);
        res.setHeader('Content-Type', 'application/json');
        res.end('{"kind":"Thing","metadata":{"name":"a"},"spec":{"big":123456789012345678901234567890}}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const withClient = async <T>(kc: KubeCredentials, fn: (client: KubeClient) => Promise<T>): Promise<T> => {
    const client = new KubeClient(kc, { timeoutMs: 5_000 });
    try {
      return await fn(client);
    } finally {
      await client.close();
    }
  };

  it('verifies the server with the kubeconfig\'s CA under its tls-server-name, presents the client certificate, and keeps big integers', async () => {
    const kc = kubeconfig(port, { 'certificate-authority-data': b64('ca.crt'), 'tls-server-name': 'apiserver.internal' });
    const answer = await withClient(kc, (c) => c.request<{ spec: { big: unknown } }>('GET', '/apis/g/v1/things/a', { query: { labelSelector: 'app in (a,b)', limit: 5, empty: '', none: undefined } }));
    assert.equal(answer.spec.big, 123456789012345678901234567890n);
    const last = seen.at(-1)!;
    assert.equal(last.clientCn, 'crdgate-client');
    assert.equal(last.url, '/apis/g/v1/things/a?labelSelector=app+in+%28a%2Cb%29&limit=5');
    assert.deepEqual(lines(last, 'accept'), ['application/json']);
    assert.deepEqual(lines(last, 'user-agent'), ['crdgate']);
  });

  it('refuses a server whose certificate its CA did not sign, and one whose name is not the server name asked for', async () => {
    const before = seen.length;
    for (const cluster of [{ 'certificate-authority-data': b64('other-ca.crt'), 'tls-server-name': 'apiserver.internal' }, { 'certificate-authority-data': b64('ca.crt') }]) {
      const err = await withClient(kubeconfig(port, cluster), (c) => c.request('GET', '/x')).catch((e: unknown) => e);
      assert.ok(err instanceof KubeApiError, String(err));
      assert.equal(err.httpStatus, 0);
      assert.equal(err.status.reason, 'ServiceUnavailable');
      assert.match(err.status.message!, /^cannot reach the Kubernetes API: [A-Z][A-Z0-9_]+$/);
    }
    assert.equal(seen.length, before, 'a request reached the server');
  });

  const trusted = () => kubeconfig(port, { 'certificate-authority-data': b64('ca.crt'), 'tls-server-name': 'apiserver.internal' });

  it('sends each impersonated group and extra value as a line of its own, as UTF-8 bytes, with and without a body', async () => {
    const impersonate = { user: 'josé', groups: ['g1, g2', 'devs'], extra: { 'scopes.example.com/π': ['a', 'ü'] }, uid: 'u-1' };
    await withClient(trusted(), async (c) => {
      await c.request('GET', '/imp', { impersonate, headers: { 'impersonate-user': 'system:admin', 'Audit-ID': 'req-1' } });
      await c.request('POST', '/imp', { impersonate, body: { name: 'ñ' } });
    });
    for (const s of seen.slice(-2)) {
      assert.deepEqual(lines(s, 'impersonate-user'), [Buffer.from('josé').toString('latin1')]);
      assert.deepEqual(lines(s, 'impersonate-group'), ['g1, g2', 'devs']);
      assert.deepEqual(lines(s, 'impersonate-uid'), ['u-1']);
      assert.deepEqual(lines(s, 'impersonate-extra-scopes.example.com%2f%cf%80'), ['a', Buffer.from('ü').toString('latin1')]);
    }
    const [get, post] = seen.slice(-2) as [Seen, Seen];
    assert.deepEqual(lines(get, 'audit-id'), ['req-1']);
    assert.equal(post.body, '{"name":"ñ"}');
    assert.deepEqual(lines(post, 'content-type'), ['application/json']);
    assert.deepEqual(lines(post, 'content-length'), [String(Buffer.byteLength('{"name":"ñ"}'))]);
  });

  it('lets a caller\'s header replace the client\'s of the same name, whatever its case', async () => {
    await withClient(trusted(), (c) => c.request('GET', '/h', { headers: { ACCEPT: 'application/json;as=Table;v=v1;g=meta.k8s.io' } }));
    assert.deepEqual(lines(seen.at(-1)!, 'accept'), ['application/json;as=Table;v=v1;g=meta.k8s.io']);
  });

  it('reads its credentials again after a 401 and repeats the call once with the new ones', async () => {
    let reads = 0;
    const creds: KubeCredentials = {
      getCurrentCluster: () => ({ name: 'c', server: `https://127.0.0.1:${port}` }),
      applyToHTTPSOptions: async (o) => {
        reads++;
        Object.assign(o, { ca: fixture('ca.crt'), servername: 'apiserver.internal', cert: fixture('client.crt'), key: fixture('client.key'), headers: { Authorization: `Bearer token-${reads}` } });
      },
    };
    answers.set('/auth', (req, res) => {
      res.writeHead(req.headers.authorization === 'Bearer token-1' ? 401 : 200, { 'Content-Type': 'application/json' });
      res.end(req.headers.authorization === 'Bearer token-1' ? '{"kind":"Status","code":401,"reason":"Unauthorized","message":"Unauthorized"}' : '{"ok":true}');
    });
    const answer = await withClient(creds, async (c) => {
      await c.request('GET', '/warm');
      // A refresh is at most once a second.
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      return c.request<{ ok: boolean }>('GET', '/auth');
    });
    assert.deepEqual(answer, { ok: true });
    assert.equal(reads, 2);
    assert.deepEqual(seen.slice(-2).map((s) => lines(s, 'authorization')), [['Bearer token-1'], ['Bearer token-2']]);
  });

  it('answers calls refused 401 together after one reading of the credentials, none failing on a retired pool', async () => {
    let reads = 0;
    const creds: KubeCredentials = {
      getCurrentCluster: () => ({ name: 'c', server: `https://127.0.0.1:${port}` }),
      applyToHTTPSOptions: async (o) => {
        reads++;
        // A slow exec plugin: the refused calls all arrive while the first reading runs.
        if (reads > 1) await new Promise((resolve) => setTimeout(resolve, 50));
        Object.assign(o, { ca: fixture('ca.crt'), servername: 'apiserver.internal', cert: fixture('client.crt'), key: fixture('client.key'), headers: { Authorization: `Bearer token-${reads}` } });
      },
    };
    answers.set('/together', (req, res) => {
      const old = req.headers.authorization === 'Bearer token-1';
      // Answered late, so that every call is in flight before the first 401 arrives.
      setTimeout(() => {
        res.writeHead(old ? 401 : 200, { 'Content-Type': 'application/json' });
        res.end(old ? '{"kind":"Status","code":401,"reason":"Unauthorized","message":"Unauthorized"}' : '{"ok":true}');
      }, old ? 20 : 0);
    });
    const answers_ = await withClient(creds, async (c) => {
      await c.request('GET', '/warm');
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      return Promise.all(Array.from({ length: 6 }, () => c.request<{ ok: boolean }>('GET', '/together').catch((e: unknown) => e)));
    });
    assert.deepEqual(answers_, Array.from({ length: 6 }, () => ({ ok: true })));
    assert.equal(reads, 2, 'one reading for all the refused calls');
  });

  it('gives the Status of an error answer with its Retry-After, and a reason from the code for one without a Status', async () => {
    answers.set('/busy', (_req, res) => {
      res.writeHead(429, { 'Content-Type': 'application/json', 'Retry-After': '3' });
      res.end('{"kind":"Status","status":"Failure","code":429,"reason":"TooManyRequests","message":"slow down"}');
    });
    answers.set('/plain', (_req, res) => {
      res.writeHead(503, { 'Content-Type': 'text/plain' });
      res.end('the apiserver is shutting down\n');
    });
    await withClient(trusted(), async (c) => {
      const busy = await c.request('GET', '/busy').catch((e: unknown) => e);
      assert.ok(busy instanceof KubeApiError);
      assert.equal(busy.httpStatus, 429);
      assert.equal(busy.reason, 'TooManyRequests');
      assert.equal(busy.status.message, 'slow down');
      assert.equal(busy.retryAfterSeconds, 3);
      const plain = await c.request('GET', '/plain').catch((e: unknown) => e);
      assert.ok(plain instanceof KubeApiError);
      assert.equal(plain.httpStatus, 503);
      assert.equal(plain.reason, 'ServiceUnavailable');
      assert.equal(plain.status.message, 'the apiserver is shutting down');
    });
  });

  it('reads a large answer whose multi-byte characters fall across chunks', async () => {
    const text = 'é€𝄞'.repeat(40_000);
    answers.set('/large', (_req, res) => {
      const body = Buffer.from(JSON.stringify({ text }));
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': body.length });
      // Odd-sized writes: the characters' bytes are split between writes.
      for (let i = 0; i < body.length; i += 1_001) res.write(body.subarray(i, i + 1_001));
      res.end();
    });
    const answer = await withClient(trusted(), (c) => c.request<{ text: string }>('GET', '/large'));
    assert.equal(answer.text, text);
  });

  it('maps a connection closed before the answer to ECONNRESET, and one closed during the body to a cut-short answer', async () => {
    answers.set('/hangup', (req) => req.socket.destroy());
    answers.set('/cut', (req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': '100' });
      res.write('{"kind":', () => setTimeout(() => req.socket.destroy(), 20));
    });
    await withClient(trusted(), async (c) => {
      const hangup = await c.request('GET', '/hangup').catch((e: unknown) => e);
      assert.ok(hangup instanceof KubeApiError);
      assert.equal(hangup.status.reason, 'ServiceUnavailable');
      assert.equal(hangup.status.message, 'cannot reach the Kubernetes API: ECONNRESET');
      const cut = await c.request('GET', '/cut').catch((e: unknown) => e);
      assert.ok(cut instanceof KubeApiError);
      assert.equal(cut.status.reason, 'ServiceUnavailable');
      assert.equal(cut.status.message, 'cannot reach the Kubernetes API');
      // The pool still serves calls after both.
      assert.equal((await c.request<{ kind: string }>('GET', '/after')).kind, 'Thing');
    });
  });
});
