// A number a double cannot hold (1e400) in a subscribe message refuses that operation with a typed
// error naming where it was, as the same number refuses an HTTP request body; the connection and
// its other operations go on (graphql-ws would close it with 4400 on a reviver's error).
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { buildSchema } from 'graphql';
import { WebSocket } from 'ws';
import { attachWebSocket } from '../../../src/transports/graphql-ws-server.ts';

const schema = buildSchema('type Query { a: Int } type Subscription { twice(n: Float, list: [Float]): Float }');
(schema.getSubscriptionType()!.getFields()['twice']!).subscribe = async function* (_s: unknown, args: { n?: number }) {
  yield { twice: (args.n ?? 0) * 2 };
};

test('1e400 in a subscribe message gets an error for that operation naming the variable; the connection stays open', async () => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const ws = attachWebSocket(server, { path: '/graphql', schema: () => schema });
  const socket = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`, 'graphql-transport-ws');
  const messages: Record<string, unknown>[] = [];
  let closed: { code: number; reason: string } | undefined;
  socket.on('message', (data) => messages.push(JSON.parse(String(data))));
  socket.on('close', (code, reason) => { closed = { code, reason: String(reason) }; });
  const next = async (type: string, id?: string) => {
    for (let i = 0; i < 200; i++) {
      const found = messages.find((m) => m.type === type && (id === undefined || m.id === id));
      if (found) return found;
      if (closed) assert.fail(`closed ${JSON.stringify(closed)} before a ${type} message`);
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.fail(`no ${type} message`);
  };
  try {
    await new Promise((resolve) => socket.once('open', resolve));
    socket.send('{"type":"connection_init"}');
    await next('connection_ack');
    const query = 'subscription S($n: Float, $l: [Float]) { twice(n: $n, list: $l) }';
    socket.send(`{"type":"subscribe","id":"1","payload":{"query":${JSON.stringify(query)},"variables":{"n":1e400}}}`);
    const error = await next('error', '1') as { payload: { message: string; extensions: { code: string } }[] };
    assert.equal(error.payload.length, 1);
    assert.equal(error.payload[0]!.message, 'the subscribe message is not valid JSON: the number 1e400 is beyond the range of a 64-bit float (at payload.variables.n)');
    assert.equal(error.payload[0]!.extensions.code, 'BAD_REQUEST');
    socket.send(`{"type":"subscribe","id":"2","payload":{"query":${JSON.stringify(query)},"variables":{"n":1,"l":[1,-2E+999]}}}`);
    const listError = await next('error', '2') as { payload: { message: string }[] };
    assert.match(listError.payload[0]!.message, /the number -2E\+999 is beyond the range of a 64-bit float \(at payload\.variables\.l\[1\]\)$/);
    // The connection goes on: a ping's payload comes back as sent, and the next operation runs.
    socket.send('{"type":"ping","payload":{"x":1e400}}');
    socket.send(`{"type":"subscribe","id":"3","payload":{"query":${JSON.stringify(query)},"variables":{"n":1.5}}}`);
    assert.deepEqual((await next('next', '3')).payload, { data: { twice: 3 } });
    assert.equal(messages.some((m) => m.type === 'pong'), true);
    assert.equal(closed, undefined);
  } finally {
    socket.close();
    await ws.close();
    server.close();
  }
});
