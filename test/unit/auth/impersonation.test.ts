// What the gateway sends Kubernetes to act as a caller: impersonationHeaders, and the header lines
// as they leave the process through KubeClient (a local HTTP server records the raw lines).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { impersonationHeaders, KubeClient, type Impersonation } from '../../../src/kube/kube-client.ts';

/** [name, value] pairs of the Impersonate-* header lines, lower-cased names, in order. */
type Lines = [string, string][];

describe('impersonation headers', () => {
  let server: Server;
  let client: KubeClient;
  let last: { impersonate: Lines; authorization: string | undefined } = { impersonate: [], authorization: undefined };

  before(async () => {
    server = createServer((req, res) => {
      const impersonate: Lines = [];
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        const name = req.rawHeaders[i]!.toLowerCase();
        if (name.startsWith('impersonate-')) impersonate.push([name, req.rawHeaders[i + 1]!]);
      }
      last = { impersonate, authorization: req.headers.authorization };
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true }],
      users: [{ name: 'u', token: 'gateway-token' }],
      contexts: [{ name: 'c', cluster: 'c', user: 'u' }],
      currentContext: 'c',
    });
    client = new KubeClient(kc);
  });
  after(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });

  async function sent(who: Impersonation | undefined, headers?: Record<string, string>, body?: unknown): Promise<Lines> {
    await client.request(body === undefined ? 'GET' : 'POST', '/api', { impersonate: who, headers, body });
    return last.impersonate;
  }

  it('impersonationHeaders: the user, one value per group and per extra value, uid, percent-encoded extra keys', () => {
    assert.deepEqual(impersonationHeaders({ user: 'a:alice', groups: ['g1', 'g2'], uid: '42', extra: { 'crdgate.io/tenant': ['a', 'b'], scopes: ['read'], empty: [] } }), {
      'Impersonate-User': 'a:alice',
      'Impersonate-Group': ['g1', 'g2'],
      'Impersonate-Uid': '42',
      'Impersonate-Extra-crdgate.io%2Ftenant': ['a', 'b'],
      'Impersonate-Extra-scopes': ['read'],
    });
    assert.deepEqual(impersonationHeaders({ user: 'u' }), { 'Impersonate-User': 'u' });
  });

  it('on the wire: two groups are two Impersonate-Group lines, each extra value its own line, the gateway\'s token kept', async () => {
    const lines = await sent({ user: 'a:alice', groups: ['g1', 'g2'], extra: { 'crdgate.io/tenant': ['a', 'b'] } });
    assert.deepEqual(lines, [
      ['impersonate-user', 'a:alice'],
      ['impersonate-group', 'g1'], ['impersonate-group', 'g2'],
      ['impersonate-extra-crdgate.io%2ftenant', 'a'], ['impersonate-extra-crdgate.io%2ftenant', 'b'],
    ]);
    assert.equal(last.authorization, 'Bearer gateway-token');
  });

  it('on the wire: a group containing a comma stays one group on one line', async () => {
    const lines = await sent({ user: 'u', groups: ['g1,g2'] });
    assert.deepEqual(lines, [['impersonate-user', 'u'], ['impersonate-group', 'g1,g2']]);
  });

  it('on the wire: an Impersonate-* header given with the request is replaced by the caller\'s identity', async () => {
    const lines = await sent({ user: 'a:alice', groups: ['g1'] }, { 'Impersonate-User': 'system:admin', 'Impersonate-Group': 'system:masters' });
    assert.deepEqual(lines, [['impersonate-user', 'a:alice'], ['impersonate-group', 'g1']]);
  });

  it('on the wire: Impersonate-* headers given with the request are removed whatever their case', async () => {
    const lines = await sent({ user: 'a:alice' }, { 'impersonate-user': 'system:admin', 'impersonate-group': 'system:masters', 'Impersonate-Extra-Scopes': 'all' });
    assert.deepEqual(lines, [['impersonate-user', 'a:alice']]);
    assert.deepEqual(await sent(undefined, { 'Impersonate-Group': 'system:masters' }), []);
  });

  it('an identity HTTP would change (blanks around a value, control characters) is refused before anything is sent', async () => {
    // HTTP drops blanks around header values: " system:masters" would reach Kubernetes as system:masters.
    for (const who of [{ user: 'a:alice', groups: [' system:masters'] }, { user: 'system:admin\t' }, { user: 'a:alice', extra: { k: ['v\r\n'] } }]) {
      last = { impersonate: [], authorization: undefined };
      await assert.rejects(sent(who), /refusing to impersonate with the value/, JSON.stringify(who));
      assert.equal(last.authorization, undefined, `nothing reached the server for ${JSON.stringify(who)}`);
    }
  });

  it('extra keys with bytes outside HTTP token characters are percent-encoded', async () => {
    assert.deepEqual(impersonationHeaders({ user: 'u', extra: { 'scope(read)': ['x'] } }), { 'Impersonate-User': 'u', 'Impersonate-Extra-scope%28read%29': ['x'] });
    assert.deepEqual(await sent({ user: 'u', extra: { 'scope(read)': ['x'] } }), [['impersonate-user', 'u'], ['impersonate-extra-scope%28read%29', 'x']]);
  });

  it('on the wire: names outside ASCII arrive as their UTF-8 bytes with a body or without; a name spelled as another\'s UTF-8 bytes stays itself', async () => {
    // Node's server reads header bytes as Latin-1: this is what Kubernetes reads as UTF-8.
    const asKubernetesReads = (lines: Lines) => lines.map(([name, v]) => [name, Buffer.from(v, 'latin1').toString('utf8')]);
    const who = { user: 'josé', groups: ['équipe', '团队', 'josÃ©'], uid: 'ü', extra: { 'tenant/名': ['ñ'] } };
    for (const body of [undefined, { kind: 'Body', text: 'é' }]) {
      assert.deepEqual(asKubernetesReads(await sent(who, undefined, body)), [
        ['impersonate-user', 'josé'],
        ['impersonate-group', 'équipe'], ['impersonate-group', '团队'], ['impersonate-group', 'josÃ©'],
        ['impersonate-uid', 'ü'],
        ['impersonate-extra-tenant%2f%e5%90%8d', 'ñ'],
      ], body === undefined ? 'GET' : 'POST with a body');
    }
  });

  it('an unpaired surrogate (no UTF-8 bytes of its own, it would arrive as U+FFFD) is refused before anything is sent', async () => {
    const identities: Impersonation[] = [{ user: 'x\ud800' }, { user: 'u', groups: ['\udfffg'] }, { user: 'u', extra: { k: ['\ud83d'] } }, { user: 'u', extra: { 'k\ud800': ['v'] } }];
    for (const who of identities) {
      last = { impersonate: [], authorization: undefined };
      await assert.rejects(sent(who), /refusing to impersonate with the (value|extra key)/, JSON.stringify(who));
      assert.equal(last.authorization, undefined, `nothing reached the server for ${JSON.stringify(who)}`);
    }
  });
});
