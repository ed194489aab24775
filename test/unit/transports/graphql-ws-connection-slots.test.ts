// A connection's id (which begins the request id of each of its operations in the gateway's log)
// is told to its client. Each accepted WebSocket connection holds a slot of its tenant's connection budget until it closes:
// refused (none free) it closes with 1013 so that graphql-ws' client comes back later; a slot lost
// later (a shared lease Redis no longer has) closes it the same way; a socket gone while its slot
// was being taken gives the slot back.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { buildSchema } from 'graphql';
import WebSocket from 'ws';
import { attachWebSocket, type WebSocketHandle } from '../../../src/transports/graphql-ws-server.ts';
import { bearerToken, type Caller } from '../../../src/auth/authenticate.ts';
import { tooMany } from '../../../src/plugins/rate-limits.ts';
import type { SlotRelease } from '../../../src/plugins/gateway-plugin.ts';
import { waitUntil, wsUrl } from '../../helpers/subscription-client.ts';

const schema = buildSchema('type Query { a: Int }');

async function authenticate(authorization: string | undefined): Promise<Caller> {
  return { tenant: bearerToken(authorization), identity: { user: 'u', groups: [] } } as unknown as Caller;
}

/** Slots by tenant: "full" has none free; "slow" answers after 200 ms. */
const held = new Map<string, number>();
const losers: AbortController[] = [];
async function openConnection(tenant: string): Promise<SlotRelease> {
  if (tenant === 'full') throw tooMany('tenant "full" has 0 open WebSocket connections, its limit', 5);
  if (tenant === 'slow') await new Promise((r) => setTimeout(r, 200));
  held.set(tenant, (held.get(tenant) ?? 0) + 1);
  const lost = new AbortController();
  losers.push(lost);
  let released = false;
  return Object.assign(() => {
    if (released) return;
    released = true;
    held.set(tenant, held.get(tenant)! - 1);
  }, { lost: lost.signal });
}

function connect(url: string, token: string): { ws: WebSocket; outcome: Promise<'ack' | { code: number; reason: string }> } {
  const ws = new WebSocket(wsUrl(url), 'graphql-transport-ws');
  ws.on('error', () => {});
  const outcome = new Promise<'ack' | { code: number; reason: string }>((resolve) => {
    ws.once('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } })));
    ws.on('message', (data) => {
      if ((JSON.parse(String(data)) as { type: string }).type === 'connection_ack') resolve('ack');
    });
    ws.once('close', (code, reason) => resolve({ code, reason: String(reason) }));
  });
  return { ws, outcome };
}

describe('graphql-ws: the connection budget', () => {
  const server = createServer();
  let handle: WebSocketHandle;
  let url: string;
  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    handle = attachWebSocket(server, { path: '/graphql', schema: () => schema, authenticate, schemaFor: async () => ({ schema }), openConnection });
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await handle.close(100);
    server.close();
  });

  it('holds a slot while the connection is open and gives it back when it closes', async () => {
    const c = connect(url, 'a');
    assert.equal(await c.outcome, 'ack');
    assert.equal(held.get('a'), 1);
    c.ws.terminate();
    await waitUntil(() => held.get('a') === 0, 5000, 'the slot given back');
  });

  it('closes a connection refused a slot with 1013 and the refusal\'s words', async () => {
    const refused = await connect(url, 'full').outcome;
    assert.deepEqual(refused, { code: 1013, reason: 'tenant "full" has 0 open WebSocket connections, its limit' });
  });

  it('closes a connection whose slot is lost with 1013', async () => {
    const c = connect(url, 'b');
    assert.equal(await c.outcome, 'ack');
    const closed = new Promise<number>((resolve) => c.ws.once('close', (code) => resolve(code)));
    losers.at(-1)!.abort();
    assert.equal(await closed, 1013);
    await waitUntil(() => held.get('b') === 0, 5000, 'the lost slot released too');
  });

  it('tells the client its connection id: its own X-Request-Id when valid, in the 101 and in connection_ack', async () => {
    const idOf = (headers: Record<string, string>) => new Promise<{ upgrade: string | undefined; ack: unknown }>((resolve) => {
      const ws = new WebSocket(wsUrl(url), 'graphql-transport-ws', { headers });
      let upgrade: string | undefined;
      ws.on('upgrade', (res) => (upgrade = res.headers['x-request-id'] as string | undefined));
      ws.once('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: 'Bearer a' } })));
      ws.on('message', (data) => {
        const m = JSON.parse(String(data)) as { type: string; payload?: { connectionId?: string } };
        if (m.type !== 'connection_ack') return;
        ws.close();
        resolve({ upgrade, ack: m.payload?.connectionId });
      });
    });
    assert.deepEqual(await idOf({ 'X-Request-Id': 'my-conn-1' }), { upgrade: 'my-conn-1', ack: 'my-conn-1' });
    const made = await idOf({ 'X-Request-Id': 'not valid!' });
    assert.match(made.upgrade ?? '', /^[0-9a-f-]{36}$/);
    assert.equal(made.ack, made.upgrade);
  });

  it('gives back the slot of a socket that left while it was being taken', async () => {
    const c = connect(url, 'slow');
    c.ws.once('open', () => setTimeout(() => c.ws.terminate(), 50));
    await c.outcome;
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(held.get('slow'), 0);
  });
});
