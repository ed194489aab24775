import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { Writable } from 'node:stream';
import WebSocket, { WebSocketServer } from 'ws';
import { ConnectionWriter, framesOf, pushedSubscription } from '../../../src/transports/graphql-ws-push.ts';
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
    const frame = framesOf([p, payload]);
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

test('frames follow each other in one buffer that holds only its own memory, so a frame kept by a slow socket pins no pool slab', () => {
  const a = Buffer.from('{"id":"1","type":"next","payload":');
  const b = Buffer.from('{"id":"2","type":"next","payload":');
  const payload = Buffer.from('{"data":{}}');
  const frames = framesOf([a, payload, b, payload]);
  assert.equal(frames.byteOffset, 0);
  assert.equal(frames.buffer.byteLength, frames.length);
  const one = framesOf([a, payload]);
  assert.equal(frames.length, 2 * one.length);
  assert.equal(frames.subarray(0, one.length).toString('latin1'), one.toString('latin1'));
  assert.equal(frames.subarray(one.length + 2).toString(), `${b}${payload}}`);
});

test('frames reach a ws client whole and in order, interleaved with ws\'s own messages and pings, at every length class', async (t) => {
  const c = await pair();
  t.after(() => c.close());
  const viaWs: unknown[] = [];
  const send = c.server.send.bind(c.server);
  c.server.send = ((data: unknown, ...rest: unknown[]) => {
    if (Buffer.isBuffer(data)) viaWs.push(data);
    return (send as (...a: unknown[]) => void)(data, ...rest);
  }) as typeof c.server.send;
  // After the spy, so that the writer's own way through ws is spied on too.
  const writer = new ConnectionWriter(c.server);
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

/** Counts the writes Node's net.Socket hands to its handle (every write or writev goes through _writeGeneric). */
function countWrites(s: Socket): () => number {
  let n = 0;
  const handle = s as unknown as { _writeGeneric: (...args: unknown[]) => unknown };
  const write = handle._writeGeneric.bind(s);
  handle._writeGeneric = (...args: unknown[]) => {
    n++;
    return write(...args);
  };
  return () => n;
}

test('the frames of one turn of the event loop leave together in one write when it ends, and count as buffered meanwhile', async (t) => {
  const c = await pair();
  t.after(() => c.close());
  const writer = new ConnectionWriter(c.server);
  const writes = countWrites(c.tcp);
  const payload = Buffer.from('{"data":{}}');
  writer.write(prefix('a'), payload);
  writer.write(prefix('b'), payload);
  writer.write(prefix('c'), payload);
  const frame = framesOf([prefix('a'), payload]).length;
  assert.equal(writer.buffered(), 3 * frame, 'the waiting frames are bytes the connection holds');
  await Promise.resolve();
  assert.equal(writes(), 0, 'a microtask is still the same turn');
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(writes(), 1, 'one write when the turn ends');
  writer.write(prefix('d'), payload);
  await c.until(4);
  assert.equal(writes(), 2, 'the next turn writes again');
  assert.equal(c.tcp.writableCorked, 0, 'the socket is never corked');
  assert.deepEqual(c.received.map((m) => JSON.parse(m).id), ['a', 'b', 'c', 'd']);
});

test('a close in the same turn goes out after the frames written before it', async (t) => {
  const c = await pair();
  t.after(() => c.close());
  const writer = new ConnectionWriter(c.server);
  const payload = Buffer.from('{"data":{"last":true}}');
  writer.write(prefix('1'), payload);
  writer.write(prefix('2'), payload);
  c.server.close(4409, 'Subscriber for 2 already exists');
  const [code] = (await once(c.client, 'close')) as [number];
  assert.equal(code, 4409);
  assert.deepEqual(c.received.map((m) => JSON.parse(m).id), ['1', '2']);
});

test('events handled one per microtask (as the lines of one read of the watch stream are) share one write per connection', async (t) => {
  const c = await pair();
  t.after(() => c.close());
  const writer = new ConnectionWriter(c.server);
  const other = await pair();
  t.after(() => other.close());
  const otherWriter = new ConnectionWriter(other.server);
  const payload = Buffer.from('{"data":{}}');
  const count = countWrites(c.tcp);
  const otherCount = countWrites(other.tcp);
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
  assert.equal(otherCount(), 1, 'every connection that wrote in the turn is written');
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
  // Until the kernel takes no more and Node holds bytes of the connection.
  const fill = () => {
    while (c.tcp.writableLength === 0) {
      writer.write(prefix('big'), big);
      writer.flush();
    }
  };
  for (let round = 0; round < 3; round++) {
    fill();
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
  fill();
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

test('a drain waiter runs once what was written before it has left, below the high-water mark and with ws writing after it', async () => {
  // A TCP stand-in whose writes complete when the test says so (the kernel's buffer is full until then).
  const done: (() => void)[] = [];
  const tcp = new Writable({ highWaterMark: 64 << 10, write(_chunk, _encoding, cb) { done.push(() => cb()); } });
  const ws = {
    OPEN: 1, readyState: 1, _socket: tcp, _sender: { _state: 0 }, _extensions: {},
    get bufferedAmount() { return tcp.writableLength; },
    send(data: unknown, _opts?: unknown, cb?: () => void) { tcp.write(Buffer.from(String(data)), cb); },
    close() {},
    ping() { tcp.write(Buffer.from([0x89, 0])); },
  };
  const writer = new ConnectionWriter(ws as unknown as WebSocket);
  writer.write(prefix('1'), Buffer.alloc(20_000, 'x'));
  let drained = 0;
  writer.onDrain(() => drained++);
  assert.equal(tcp.writableNeedDrain, false, 'a page below the high-water mark: Node will emit no drain');
  ws.ping();
  done.shift()!();
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(drained, 0, 'the page is written, but not yet what came before the marker');
  while (done.length) {
    done.shift()!();
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.equal(drained, 1);
  assert.equal(tcp.listenerCount('drain'), 0);
  assert.equal(tcp.listenerCount('close'), 0);
});

test('a backed-up socket gets frames in memory of their own; one that keeps up, a pooled buffer it takes at once', async () => {
  const done: (() => void)[] = [];
  const chunks: Buffer[] = [];
  const tcp = new Writable({ highWaterMark: 64 << 10, write(chunk: Buffer, _encoding, cb) { chunks.push(chunk); done.push(() => cb()); } });
  const ws = {
    OPEN: 1, readyState: 1, _socket: tcp, _sender: { _state: 0 }, _extensions: {},
    get bufferedAmount() { return tcp.writableLength; },
    send() {}, close() {},
  };
  const writer = new ConnectionWriter(ws as unknown as WebSocket);
  const payload = Buffer.from('{"data":{}}');
  writer.write(prefix('1'), payload);
  writer.flush();
  assert.notEqual(chunks[0]!.buffer.byteLength, chunks[0]!.length, 'taken at once: a slice of the pool');
  // The first write has not completed: the socket is backed up and keeps what it is given.
  writer.write(prefix('2'), payload);
  writer.flush();
  done.shift()!();
  assert.equal(chunks.length, 2);
  assert.equal(chunks[1]!.byteOffset, 0);
  assert.equal(chunks[1]!.buffer.byteLength, chunks[1]!.length, 'kept: memory of its own');
  while (done.length) done.shift()!();
});

test('frames still waiting for an async payload count as buffered, 1 KiB each, and a drain waits for them', async () => {
  const written: string[] = [];
  const writerDrains: (() => void)[] = [];
  const writer = { write: (p: Buffer, payload: Buffer) => written.push(`${p}${payload}`), buffered: () => 0, onDrain: (fn: () => void) => writerDrains.push(fn) } as unknown as ConnectionWriter;
  const answers: (() => void)[] = [];
  const payload = Buffer.from('{"data":{"w":{"name":"x"}}}');
  const group = { leave() {}, payloadOf: () => new Promise<Buffer>((resolve) => answers.push(() => resolve(payload))) } as unknown as SharedSelection;
  let sink!: { next(e: object): void; buffered(): number; onDrain(fn: () => void): void };
  const feed = { start: (s: typeof sink) => (sink = s), cancel() {}, fail() {}, onClose() {} } as unknown as Feed<object>;
  void pushedSubscription(writer, '1', group, feed).next();
  for (let i = 0; i < 3; i++) sink.next({});
  assert.equal(sink.buffered(), 3 * 1024, 'three frames waiting');
  let drained = false;
  sink.onDrain(() => (drained = true));
  answers.shift()!();
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(written.length, 1);
  assert.equal(sink.buffered(), 2 * 1024, 'two frames waiting, whatever the size of the one written');
  assert.equal(writerDrains.length, 0, 'the drain waits for the frames still computed');
  for (const answer of answers.splice(0)) answer();
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(written.length, 3);
  assert.equal(sink.buffered(), 0);
  assert.equal(writerDrains.length, 1);
  assert.equal(drained, false);
  writerDrains[0]!();
  assert.equal(drained, true);
});

test('an initial state whose selection resolves asynchronously (a relation) is paged like any other: no execution runs far ahead of a connection that does not drain', async () => {
  const { GraphQLObjectType, GraphQLSchema, GraphQLString, parse } = await import('graphql');
  const { SharedSelections, sharedResultStats } = await import('../../../src/graphql/shared-subscription-results.ts');
  const event = new GraphQLObjectType({ name: 'E', fields: {
    type: { type: GraphQLString },
    name: { type: GraphQLString, resolve: (e: { object: { metadata: { name: string } } }) => new Promise((r) => setTimeout(() => r(e.object.metadata.name), 1)) },
  } });
  const schema = new GraphQLSchema({
    query: new GraphQLObjectType({ name: 'Q', fields: { x: { type: GraphQLString } } }),
    subscription: new GraphQLObjectType({ name: 'S', fields: { w: { type: event, resolve: (root: unknown) => root } } }),
  });
  const items = Array.from({ length: 10_000 }, (_, i) => ({ metadata: { name: `o${i}`, namespace: 'ns', resourceVersion: String(i + 2) } }));
  const hub = new WatchHub({
    sourceFor: () => ({
      list: async () => ({ items, resourceVersion: '10001' }),
      watch: (_rv, _t, _onEvent, signal, onOpen) => {
        onOpen?.();
        return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      },
    }),
    maxBufferedBytes: 1 << 20,
  });
  // A socket whose reader stopped: what is written stays buffered.
  let held = 0;
  const writer = { write: (p: Buffer, payload: Buffer) => (held += p.length + payload.length), buffered: () => held, onDrain() {} } as unknown as ConnectionWriter;
  const source = 'subscription { w { type name } }';
  const group = new SharedSelections().join({ schema, document: parse(source) }, source);
  const before = sharedResultStats.executed;
  const feed = hub.subscribe({ group: 'stable.example.com', version: 'v1', plural: 'crontabs', namespace: 'ns' }, { sendInitialEvents: true });
  // Ended by the hub's stop below.
  const ended = pushedSubscription(writer, '1', group, feed as Feed<object>).next().catch(() => {});
  await new Promise((resolve) => setTimeout(resolve, 300));
  const executed = sharedResultStats.executed - before;
  assert.ok(executed > 0 && executed < 1_000, `${executed} executions for a connection that holds ${held} bytes and never drains`);
  await hub.stop();
  await ended;
});
