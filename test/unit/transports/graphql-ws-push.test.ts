import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { ConnectionWriter, nextFrame, pushedSubscription } from '../../../src/transports/graphql-ws-push.ts';
import { ApiError } from '../../../src/api-errors.ts';
import type { SharedSelection } from '../../../src/graphql/shared-subscription-results.ts';
import { WatchHub } from '../../../src/service/watch-hub.ts';
import type { Feed } from '../../../src/streams/feed.ts';

/** A ws server and one client connected to it; the server's side of the connection. */
async function pair(perMessageDeflate = false) {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate });
  await once(wss, 'listening');
  const accepted = once(wss, 'connection');
  const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as { port: number }).port}`, { perMessageDeflate });
  const received: string[] = [];
  client.on('message', (data, isBinary) => received.push(isBinary ? '<binary>' : String(data)));
  await once(client, 'open');
  const [server] = (await accepted) as [WebSocket];
  return {
    server, client, received,
    tcp: (server as unknown as { _socket: Socket })._socket,
    async until(n: number) {
      while (received.length < n) await new Promise((r) => setTimeout(r, 5));
    },
    async close() {
      client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

const prefix = (id: string) => Buffer.from(`{"id":${JSON.stringify(id)},"type":"next","payload":`);

test('a next frame is one unmasked FIN text frame with the length in 7, 16 or 64 bits, as RFC 6455 sets it', () => {
  for (const length of [0, 1, 124, 125, 126, 127, 65535, 65536, 70_000]) {
    const p = Buffer.from('{"id":"1","type":"next","payload":');
    const payloadLength = Math.max(0, length - p.length - 1);
    const payload = Buffer.alloc(payloadLength, 'x');
    const total = p.length + payloadLength + 1;
    const frame = nextFrame(p, payload);
    assert.equal(frame[0], 0x81, 'FIN and text');
    const head = total <= 125 ? 2 : total <= 65535 ? 4 : 10;
    assert.equal(frame.length, head + total);
    if (head === 2) assert.equal(frame[1], total);
    else if (head === 4) {
      assert.equal(frame[1], 126);
      assert.equal(frame.readUInt16BE(2), total);
    } else {
      assert.equal(frame[1], 127);
      assert.equal(Number(frame.readBigUInt64BE(2)), total);
    }
    assert.equal(frame.subarray(head).toString(), `${p}${payload}}`);
  }
});

test('a frame holds only its own memory: a frame kept by a slow or corked socket pins no pool slab', () => {
  const frame = nextFrame(Buffer.from('{"id":"1","type":"next","payload":'), Buffer.from('{"data":{}}'));
  assert.equal(frame.byteOffset, 0);
  assert.equal(frame.buffer.byteLength, frame.length);
});

test('frames reach a ws client whole and in order, interleaved with ws\'s own messages and pings, at every length class', async (t) => {
  const c = await pair();
  t.after(() => c.close());
  const writer = new ConnectionWriter(c.server);
  const viaWs: unknown[] = [];
  const send = c.server.send.bind(c.server);
  c.server.send = ((data: unknown, ...rest: unknown[]) => {
    if (Buffer.isBuffer(data)) viaWs.push(data);
    return (send as (...a: unknown[]) => void)(data, ...rest);
  }) as typeof c.server.send;
  const pings: string[] = [];
  c.client.on('ping', (data) => pings.push(String(data)));
  const expected: string[] = [];
  for (const [i, size] of [10, 125, 126, 65535, 65536, 200_000].entries()) {
    const payload = Buffer.from(JSON.stringify({ data: { n: i, pad: 'é'.repeat(size) } }));
    writer.write(prefix(`s${i}`), payload);
    expected.push(`{"id":"s${i}","type":"next","payload":${payload}}`);
    // graphql-ws writes its own messages through ws: they keep their place among ours.
    c.server.send(`{"type":"pong","n":${i}}`);
    expected.push(`{"type":"pong","n":${i}}`);
    c.server.ping(String(i));
  }
  await c.until(expected.length);
  assert.deepEqual(c.received, expected);
  assert.equal(viaWs.length, 0, 'without an extension the frames are written whole to the TCP socket, not through ws.send');
  while (pings.length < 6) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(pings, ['0', '1', '2', '3', '4', '5']);
});

test('the frames of one turn of the event loop are corked and leave together when it ends', async (t) => {
  const c = await pair();
  t.after(() => c.close());
  const writer = new ConnectionWriter(c.server);
  const payload = Buffer.from('{"data":{}}');
  writer.write(prefix('a'), payload);
  assert.equal(c.tcp.writableCorked, 1, 'corked from the first frame');
  writer.write(prefix('b'), payload);
  writer.write(prefix('c'), payload);
  assert.equal(c.tcp.writableCorked, 1, 'one cork per turn, whatever the number of frames');
  await Promise.resolve();
  assert.equal(c.tcp.writableCorked, 1, 'a microtask is still the same turn');
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(c.tcp.writableCorked, 0, 'uncorked when the turn ends');
  // The next turn corks again.
  writer.write(prefix('d'), payload);
  assert.equal(c.tcp.writableCorked, 1);
  await c.until(4);
  assert.equal(c.tcp.writableCorked, 0);
  assert.deepEqual(c.received.map((m) => JSON.parse(m).id), ['a', 'b', 'c', 'd']);
});

test('events handled one per microtask (as the lines of one read of the watch stream are) share one write per connection', async (t) => {
  const c = await pair();
  t.after(() => c.close());
  const writer = new ConnectionWriter(c.server);
  const other = await pair();
  t.after(() => other.close());
  const otherWriter = new ConnectionWriter(other.server);
  const payload = Buffer.from('{"data":{}}');
  // Node's net.Socket hands every write or writev to the handle through _writeGeneric.
  const writes = (s: Socket) => {
    let n = 0;
    const handle = s as unknown as { _writeGeneric: (...args: unknown[]) => unknown };
    const write = handle._writeGeneric.bind(s);
    handle._writeGeneric = (...args: unknown[]) => {
      n++;
      return write(...args);
    };
    return () => n;
  };
  const count = writes(c.tcp);
  const otherCount = writes(other.tcp);
  async function* lines() {
    for (let i = 0; i < 3; i++) yield i;
  }
  for await (const i of lines()) {
    writer.write(prefix(`e${i}`), payload);
    writer.write(prefix(`e${i}-again`), payload);
    otherWriter.write(prefix(`e${i}`), payload);
  }
  await c.until(6);
  await other.until(3);
  assert.equal(count(), 1, 'six frames, one write');
  assert.equal(otherCount(), 1, 'every connection that corked is uncorked');
  assert.deepEqual(c.received.map((m) => JSON.parse(m).id), ['e0', 'e0-again', 'e1', 'e1-again', 'e2', 'e2-again']);
});

test('with permessage-deflate negotiated, the frames and ws\'s compressed messages keep their order', async (t) => {
  const c = await pair({ threshold: 0 } as unknown as boolean);
  t.after(() => c.close());
  assert.ok(c.server.extensions.includes('permessage-deflate'), 'the extension was negotiated');
  const writer = new ConnectionWriter(c.server);
  let viaWs = 0;
  const send = c.server.send.bind(c.server);
  c.server.send = ((data: unknown, ...rest: unknown[]) => {
    if (Buffer.isBuffer(data)) viaWs++;
    return (send as (...a: unknown[]) => void)(data, ...rest);
  }) as typeof c.server.send;
  const expected: string[] = [];
  for (let i = 0; i < 20; i++) {
    const payload = Buffer.from(JSON.stringify({ data: { i, text: 'abc'.repeat(100) } }));
    writer.write(prefix(String(i)), payload);
    expected.push(`{"id":"${i}","type":"next","payload":${payload}}`);
    if (i % 3 === 0) {
      c.server.send(`{"type":"complete","id":"x${i}"}`);
      expected.push(`{"type":"complete","id":"x${i}"}`);
    }
  }
  await c.until(expected.length);
  assert.deepEqual(c.received, expected);
  assert.equal(viaWs, 20, 'every frame went through ws, which compresses it');
});

test('nothing is written once the socket closes, and drain waiters run on close without leaving listeners behind', async (t) => {
  const c = await pair();
  t.after(() => c.close());
  const writer = new ConnectionWriter(c.server);
  const closeListeners = c.tcp.listenerCount('close');
  // Fill the socket until it buffers, then wait for drains several times.
  c.client.pause();
  const big = Buffer.alloc(1 << 20, 'x');
  for (let round = 0; round < 3; round++) {
    while (writer.buffered() === 0) writer.write(prefix('big'), big);
    let drained = false;
    writer.onDrain(() => {
      drained = true;
    });
    c.client.resume();
    while (!drained) await new Promise((r) => setTimeout(r, 5));
    c.client.pause();
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.equal(c.tcp.listenerCount('close'), closeListeners, 'no listener left per wait');
  assert.equal(c.tcp.listenerCount('drain'), 0);
  while (writer.buffered() === 0) writer.write(prefix('big'), big);
  let called = false;
  writer.onDrain(() => {
    called = true;
  });
  c.client.terminate();
  await once(c.server, 'close');
  while (!called) await new Promise((r) => setTimeout(r, 5));
  assert.equal(writer.buffered(), 0);
  writer.write(prefix('late'), Buffer.from('{}'));
  let after = false;
  writer.onDrain(() => {
    after = true;
  });
  await new Promise((r) => setTimeout(r, 0));
  assert.ok(after, 'a closed connection has nothing to drain');
});

test('a subscription the hub refuses at admission (its schema changed meanwhile) ends with its SCHEMA_CHANGED error, not quietly', async () => {
  const hub = new WatchHub({ sourceFor: () => { throw new Error('a refused subscriber opens no watch'); } });
  hub.admitWith(() => new ApiError('SCHEMA_CHANGED', 'crontabs.stable.example.com v1 is no longer served; subscribe again against the current schema'));
  const feed = hub.subscribe({ group: 'stable.example.com', version: 'v1', plural: 'crontabs', namespace: 'ns' }, {});
  const written: unknown[] = [];
  const writer = { write: (...frame: unknown[]) => written.push(frame), buffered: () => 0, onDrain() {} } as unknown as ConnectionWriter;
  let left = 0;
  const group = { leave: () => left++, payloadOf: () => Buffer.from('{}') } as unknown as SharedSelection;
  // graphql-ws sends a rejected next() as the subscription's `error` message; a resolved one as `complete`.
  const subscription = pushedSubscription(writer, '1', group, feed as Feed<object>);
  await assert.rejects(subscription.next(), (err: ApiError) => err.code === 'SCHEMA_CHANGED' && /no longer served/.test(err.message));
  assert.deepEqual(written, []);
  assert.equal(left, 1);
  await hub.stop();
});
