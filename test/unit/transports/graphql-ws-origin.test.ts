// Without tenants a WebSocket acts as the gateway's own identity, and CORS does not cover
// WebSockets: an upgrade from a page of another origin is refused (403 with a typed body) unless
// --cors-origins names it; the gateway's own pages, clients without Origin and every socket of a
// gateway with tenants (they need a token) are accepted.
import assert from 'node:assert/strict';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { buildSchema } from 'graphql';
import { attachWebSocket, type WebSocketHandle } from '../../../src/transports/graphql-ws-server.ts';
import type { Caller } from '../../../src/auth/authenticate.ts';

const schema = buildSchema('type Query { a: Int } type Subscription { b: Int }');

/** The status and body of a graphql-transport-ws upgrade with the given headers. */
function upgrade(port: number, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ port, host: '127.0.0.1', path: '/graphql', headers: {
      Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
      'Sec-WebSocket-Protocol': 'graphql-transport-ws', ...headers,
    } });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode!, body: '' });
    });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

for (const tenants of [false, true]) {
  describe(`graphql-ws upgrades and their Origin, ${tenants ? 'with' : 'without'} tenants`, () => {
    const server = createServer();
    let ws: WebSocketHandle;
    let port: number;
    before(async () => {
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      port = (server.address() as AddressInfo).port;
      ws = attachWebSocket(server, {
        path: '/graphql', schema: () => schema, corsOrigins: ['https://app.example.com'],
        ...(tenants ? { authenticate: async () => ({ tenant: 'a', identity: { user: 'a', groups: [] } }) as unknown as Caller, schemaFor: async () => ({ schema }) } : {}),
      });
    });
    after(async () => {
      await ws.close();
      server.close();
    });

    it('accepts clients without Origin, the gateway\'s own pages and listed origins', async () => {
      assert.equal((await upgrade(port, {})).status, 101);
      assert.equal((await upgrade(port, { Origin: `http://127.0.0.1:${port}` })).status, 101);
      assert.equal((await upgrade(port, { Origin: 'https://app.example.com' })).status, 101);
    });

    it(tenants ? 'accepts other origins: a socket still needs a token' : 'refuses pages of other origins with a typed 403', async () => {
      for (const origin of ['https://evil.example', 'null', `http://127.0.0.1:${port + 1}`, 'https://app.example.com.evil.example']) {
        const answer = await upgrade(port, { Origin: origin });
        if (tenants) {
          assert.equal(answer.status, 101, origin);
          continue;
        }
        assert.equal(answer.status, 403, origin);
        const body = JSON.parse(answer.body) as { errors: { message: string; extensions: { code: string } }[] };
        assert.equal(body.errors[0]!.extensions.code, 'FORBIDDEN');
        assert.match(body.errors[0]!.message, /--cors-origins/);
      }
    });
  });
}
