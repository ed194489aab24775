// Delivery of `next` messages for subscriptions backed by a feed (the watch hub's): graphql-ws
// keeps the protocol (connection_init/ack, ping/pong, subscribe, complete, error, close codes),
// and the events of such a subscription are written here, synchronously, as the hub pushes them.
// A frame is the subscription's own prefix — `{"id":<its id, JSON-escaped once>,"type":"next",
// "payload":` — then the payload its group serialized once for every member, then `}`: nothing
// is rewritten after serialization, and no byte of one subscriber's frame comes from another's.
//
// Each frame is built once, WebSocket header included, in one buffer, and written to the TCP
// socket, which stays corked for the rest of the turn of the event loop: everything the gateway
// writes to a connection in one turn (the events of one read from the apiserver, however many,
// for every subscription of the connection; a backlog page) leaves in one write, and one
// setImmediate uncorks every connection that corked. The write syscall is most of the cost of a
// fan-out (one per socket per write, waking the reader as well), so a gateway that falls behind
// catches up by writing the events that queued meanwhile together, instead of paying a write per
// socket per event; a lone event waits only for its own fan-out to be built (a few µs per socket).

import type { WebSocket } from 'ws';
import type { Feed, FeedSink } from '../streams/feed.ts';
import type { SharedSelection } from '../graphql/shared-subscription-results.ts';
import { ownedBytes } from '../owned-bytes.ts';

const suffix = Buffer.from('}');
const CLOSE_BRACE = 0x7d;
/** FIN and the text opcode: a whole text message in one frame (RFC 6455 §5.2). */
const FIN_TEXT = 0x81;

interface TcpSocket {
  cork(): void;
  uncork(): void;
  write(chunk: Buffer): boolean;
  on(event: 'drain' | 'close', fn: () => void): unknown;
  removeListener(event: 'drain' | 'close', fn: () => void): unknown;
  readonly destroyed: boolean;
}

/** What ws keeps of a connection (not part of its typed API). */
interface WsInternals {
  _socket?: TcpSocket;
  _sender?: { _state: number };
  _extensions?: Record<string, unknown>;
}

/** The whole WebSocket frame (unmasked, as a server sends) of the text message prefix + payload + `}`. */
export function nextFrame(prefix: Buffer, payload: Buffer): Buffer {
  const length = prefix.length + payload.length + 1;
  const head = length <= 125 ? 2 : length <= 0xffff ? 4 : 10;
  // Memory of its own, not a slice of Node's shared 8 KiB pool: a frame outlives a scavenge while
  // its socket is corked or slow, and a pooled one then keeps its whole slab alive into the old
  // generation — at 100k frames/s that was ~12 MB/s of slabs, a full GC every ~0.7 s (pauses of
  // 5–25 ms in the middle of fan-outs), and a slow consumer's queue holding up to 28× its bytes.
  const frame = Buffer.allocUnsafeSlow(head + length);
  frame[0] = FIN_TEXT;
  if (head === 2) frame[1] = length;
  else if (head === 4) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(Math.floor(length / 0x1_0000_0000), 2);
    frame.writeUInt32BE(length >>> 0, 6);
  }
  prefix.copy(frame, head);
  payload.copy(frame, head + prefix.length);
  frame[head + length - 1] = CLOSE_BRACE;
  return frame;
}

/** The connections that wrote in this turn of the event loop; one setImmediate uncorks them all. */
let corkedThisTurn: ConnectionWriter[] = [];
let endOfTurnQueued = false;

function endOfTurn(): void {
  endOfTurnQueued = false;
  const writers = corkedThisTurn;
  corkedThisTurn = [];
  for (const w of writers) w.endTurn();
}

/**
 * The writes to one WebSocket, and its flow control for the feeds: buffered() and onDrain().
 */
export class ConnectionWriter {
  private readonly socket: WebSocket;
  private readonly tcp: TcpSocket | undefined;
  /** ws's frame writer: while it is busy (compressing, reading a Blob) its frames wait in its queue, and ours go behind them. */
  private readonly sender: { _state: number } | undefined;
  /** Frames are written whole to the TCP socket, past ws's Sender, when no extension transforms them. */
  private readonly raw: boolean;
  /** Corked in this turn of the event loop (and listed in corkedThisTurn). */
  private corked = false;
  private drainWaiters: (() => void)[] | undefined;

  constructor(socket: WebSocket) {
    this.socket = socket;
    // ws exposes no drain event and no cork: both are the TCP socket's, underneath.
    const internals = socket as unknown as WsInternals;
    this.tcp = internals._socket;
    this.sender = internals._sender;
    // permessage-deflate (or any other extension) changes the frames: those go through ws, and so
    // does everything when ws's internals are not the ones known here.
    const extensions = internals._extensions;
    this.raw = this.tcp !== undefined && this.sender !== undefined && typeof this.sender._state === 'number'
      && typeof extensions === 'object' && extensions !== null && Object.keys(extensions).length === 0;
  }

  /** Writes one text message made of prefix, payload and `}`. */
  write(prefix: Buffer, payload: Buffer): void {
    if (this.socket.readyState !== this.socket.OPEN) return;
    const tcp = this.tcp;
    if (tcp) {
      if (tcp.destroyed) return;
      if (!this.corked) {
        this.corked = true;
        tcp.cork();
        corkedThisTurn.push(this);
        if (!endOfTurnQueued) {
          endOfTurnQueued = true;
          setImmediate(endOfTurn);
        }
      }
      // ws's Sender is idle (its state 0) unless an extension or a Blob holds frames in its queue.
      if (this.raw && this.sender!._state === 0) {
        tcp.write(nextFrame(prefix, payload));
        return;
      }
    }
    this.socket.send(Buffer.concat([prefix, payload, suffix], prefix.length + payload.length + 1), { binary: false });
  }

  /** The turn is over: what was corked leaves. */
  endTurn(): void {
    this.corked = false;
    if (this.tcp && !this.tcp.destroyed) this.tcp.uncork();
  }

  buffered(): number {
    return this.socket.readyState === this.socket.OPEN ? this.socket.bufferedAmount : 0;
  }

  onDrain(fn: () => void): void {
    const tcp = this.tcp;
    if (this.socket.readyState !== this.socket.OPEN || !tcp || tcp.destroyed) {
      queueMicrotask(fn);
      return;
    }
    if (this.drainWaiters) {
      this.drainWaiters.push(fn);
      return;
    }
    this.drainWaiters = [fn];
    // Whichever comes first: a closed socket never drains.
    const flush = () => {
      tcp.removeListener('drain', flush);
      tcp.removeListener('close', flush);
      const fns = this.drainWaiters ?? [];
      this.drainWaiters = undefined;
      for (const f of fns) f();
    };
    tcp.on('drain', flush);
    tcp.on('close', flush);
  }
}

/**
 * A subscription's sink: the feed pushes its events here, and each is written as a `next` frame
 * (its group's payload after this subscription's prefix). A payload that is still being computed
 * (an async resolver) holds the frames after it, in order.
 */
class PushSink implements FeedSink<object> {
  readonly writer: ConnectionWriter;
  readonly prefix: Buffer;
  readonly group: SharedSelection;
  readonly feed: Feed<object>;
  outcome: { error?: unknown } | undefined;
  waiter: { resolve(r: IteratorResult<never>): void; reject(err: unknown): void } | undefined;
  pending: Promise<void> | undefined;

  constructor(writer: ConnectionWriter, prefix: Buffer, group: SharedSelection, feed: Feed<object>) {
    this.writer = writer;
    this.prefix = prefix;
    this.group = group;
    this.feed = feed;
  }

  next(event: object): void {
    const payload = this.group.payloadOf(event);
    if (!this.pending && !(payload instanceof Promise)) {
      this.writer.write(this.prefix, payload);
      return;
    }
    const previous = this.pending ?? Promise.resolve();
    const current: Promise<void> = previous.then(() => payload)
      .then((p) => this.writer.write(this.prefix, p), (err: unknown) => this.feed.fail(err))
      .finally(() => {
        if (this.pending === current) this.pending = undefined;
        this.settle();
      });
    this.pending = current;
  }

  end(error?: unknown): void {
    this.outcome = error === undefined ? {} : { error };
    this.settle();
  }

  buffered(): number {
    return this.writer.buffered();
  }

  onDrain(fn: () => void): void {
    this.writer.onDrain(fn);
  }

  /** The feed closed: the group loses a member; without an end (cancelled from elsewhere) the subscription ends quietly. */
  closed(): void {
    this.group.leave();
    this.outcome ??= {};
    this.settle();
  }

  settle(): void {
    const w = this.waiter;
    if (!w || !this.outcome || this.pending) return;
    this.waiter = undefined;
    if (this.outcome.error !== undefined) w.reject(this.outcome.error);
    else w.resolve({ value: undefined as never, done: true });
  }
}

/**
 * To graphql-ws, a pushed subscription is an async iterator that yields nothing: it settles when
 * the feed ends (done, or the error graphql-ws then sends as the subscription's `error` message),
 * and return() — the client's `complete` or a closed socket — cancels the feed. The feed starts on
 * the first next(), when graphql-ws has registered the subscription, so no frame precedes that.
 */
class PushedSubscription implements AsyncIterableIterator<never> {
  private readonly sink: PushSink;
  private started = false;

  constructor(sink: PushSink) {
    this.sink = sink;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<never>> {
    const sink = this.sink;
    if (!this.started) {
      this.started = true;
      sink.feed.start(sink);
    }
    return new Promise<IteratorResult<never>>((resolve, reject) => {
      sink.waiter = { resolve, reject };
      sink.settle();
    });
  }

  return(): Promise<IteratorResult<never>> {
    const sink = this.sink;
    sink.feed.cancel();
    sink.outcome ??= {};
    const w = sink.waiter;
    sink.waiter = undefined;
    w?.resolve({ value: undefined as never, done: true });
    return Promise.resolve({ value: undefined as never, done: true });
  }

  throw(err?: unknown): Promise<IteratorResult<never>> {
    this.sink.feed.cancel();
    return Promise.reject(err);
  }
}

/** A subscription whose events the feed pushes straight into the connection (see PushedSubscription). */
export function pushedSubscription(writer: ConnectionWriter, id: string, group: SharedSelection, feed: Feed<object>): AsyncIterableIterator<never> {
  const sink = new PushSink(writer, ownedBytes(`{"id":${JSON.stringify(id)},"type":"next","payload":`), group, feed);
  feed.onClose(() => sink.closed());
  return new PushedSubscription(sink);
}
