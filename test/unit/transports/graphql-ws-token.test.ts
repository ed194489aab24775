// Where a graphql-ws client may put its token in connection_init: `authorization` / `Authorization`,
// `token`, or `headers.Authorization` / `headers.authorization` (as Apollo's and Hasura's docs show).
// Every place goes through the same authentication; two places with different tokens are refused,
// and a connection without any token is told where the token is looked for.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { buildSchema } from 'graphql';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { attachWebSocket, type WebSocketHandle } from '../../../src/transports/graphql-ws-server.ts';
import { bearerToken, type Caller } from '../../../src/auth/authenticate.ts';
import { ApiError } from '../../../src/api-errors.ts';
import { openClient, Subscription, waitUntil, wsUrl } from '../../helpers/subscription-client.ts';

const schema = buildSchema('type Query { a: Int } type Subscription { who: String }');
(schema.getSubscriptionType()!.getFields()['who']!).subscribe = async function* (_s: unknown, _a: unknown, context: { tenant?: string }) {
  yield { who: context.tenant ?? 'nobody' };
};

/** Refusals of "flaky" before it is accepted, as while the gateway cannot reach a token review or key set. */
let flakyRefusals = 0;

/**
 * Accepts the tokens "good-a" and "good-b" (tenant a, b) with the gateway's own header reading;
 * "busy" is always refused as the gateway refuses when it cannot authenticate for now (503),
 * "flaky" so once, then accepted (tenant f).
 */
async function authenticate(authorization: string | undefined): Promise<Caller> {
  const token = bearerToken(authorization);
  const unavailable = () => new ApiError('UNAVAILABLE', 'the gateway cannot check tokens now; retry shortly', { reason: 'ServiceUnavailable', retryAfterSeconds: 1 });
  if (token === 'busy') throw unavailable();
  if (token === 'flaky' && flakyRefusals++ === 0) throw unavailable();
  if (token === 'flaky') return { tenant: 'f', identity: { user: token, groups: [] } } as unknown as Caller;
  if (token !== 'good-a' && token !== 'good-b') throw new ApiError('UNAUTHENTICATED', 'the token is not valid', { authReason: 'TOKEN_INVALID' });
  return { tenant: token.slice(-1), identity: { user: token, groups: [] } } as unknown as Caller;
}

describe('graphql-ws: the token in connection_init', () => {
  const server = createServer();
  let ws: WebSocketHandle;
  let url: string;
  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    ws = attachWebSocket(server, { path: '/graphql', schema: () => schema, authenticate, schemaFor: async () => ({ schema }) });
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await ws.close();
    server.close();
  });

  async function tenantOf(connectionParams: Record<string, unknown>): Promise<string | undefined> {
    const client = openClient(url, { connectionParams });
    try {
      const sub = new Subscription(client, 'subscription { who }');
      await waitUntil(() => sub.events.length > 0 || sub.ended, 5000, `an answer for ${JSON.stringify(connectionParams)}`);
      return sub.events[0] as unknown as string | undefined;
    } finally {
      await client.dispose();
    }
  }

  async function refusal(connectionParams: Record<string, unknown>): Promise<{ code: number; reason: string }> {
    const client = openClient(url, { connectionParams });
    try {
      void new Subscription(client, 'subscription { who }');
      return await client.closed;
    } finally {
      await client.dispose();
    }
  }

  it('reads every place a client puts it', async () => {
    assert.equal(await tenantOf({ authorization: 'Bearer good-a' }), 'a');
    assert.equal(await tenantOf({ Authorization: 'Bearer good-b' }), 'b');
    assert.equal(await tenantOf({ token: 'good-a' }), 'a');
    assert.equal(await tenantOf({ headers: { Authorization: 'Bearer good-b' } }), 'b');
    assert.equal(await tenantOf({ headers: { authorization: 'Bearer good-a' } }), 'a');
    assert.equal(await tenantOf({ authorization: 'Bearer good-a', headers: { Authorization: 'Bearer  good-a' }, token: 'good-a' }), 'a', 'the same token in several places');
  });

  it('validates each place the same way', async () => {
    assert.deepEqual(await refusal({ headers: { Authorization: 'Bearer forged' } }), { code: 4401, reason: 'the token is not valid' });
    assert.deepEqual(await refusal({ headers: { authorization: 'Basic dXNlcjpwYXNz' } }), { code: 4401, reason: 'the Authorization header must be "Bearer <token>"' });
  });

  it('refuses different tokens in two places, naming them', async () => {
    const r = await refusal({ authorization: 'Bearer good-a', headers: { Authorization: 'Bearer good-b' } });
    assert.equal(r.code, 4401);
    assert.equal(r.reason, 'connection_init carries different tokens in authorization and headers.Authorization: send one');
    assert.ok(Buffer.byteLength(r.reason) <= 123);
  });

  it('the gateway unable to authenticate for now: 1013 (try again later), which graphql-ws\' client retries, not 4401', async () => {
    assert.deepEqual(await refusal({ authorization: 'Bearer busy' }), { code: 1013, reason: 'the gateway cannot check tokens now; retry shortly' });
    const client = createClient({ url: wsUrl(url), webSocketImpl: WebSocket, retryAttempts: 3, retryWait: async () => {},
      connectionParams: { authorization: 'Bearer flaky' } });
    try {
      const events: unknown[] = [];
      await new Promise<void>((resolve, reject) => {
        client.subscribe({ query: 'subscription { who }' }, { next: (r) => events.push(r.data), error: reject, complete: resolve });
      });
      assert.deepEqual(events, [{ who: 'f' }], 'the client connected again and subscribed');
      assert.equal(flakyRefusals, 2, 'refused once, accepted on the retry');
    } finally {
      await client.dispose();
    }
  });

  it('says where the token is looked for when there is none', async () => {
    for (const params of [{}, { headers: {} }, { authorization: '' }]) {
      const r = await refusal(params);
      assert.equal(r.code, 4401);
      assert.equal(r.reason, 'a bearer token is required in connection_init: authorization: "Bearer <token>", headers.Authorization or token');
      assert.ok(Buffer.byteLength(r.reason) <= 123, `${Buffer.byteLength(r.reason)} bytes`);
    }
  });
});
