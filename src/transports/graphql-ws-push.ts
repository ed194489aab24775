// Delivery of `next` messages for subscriptions backed by a feed (the watch hub's): graphql-ws
// keeps the protocol (connection_init/ack, ping/pong, subscribe, complete, error, close codes),
// and the events of such a subscription are written here, synchronously, as the hub pushes them.
// A frame is the subscription's own prefix — `{"id":<its id, JSON-escaped once>,"type":"next",
// "payload":` — then the payload its group serialized once for every member, then `}`: nothing
// is rewritten after serialization, and no byte of one subscriber's frame comes from another's.
//
// The frames a connection gets in one turn of the event loop are kept (prefix and payload, no
// copy) and leave together when the turn ends, built with their WebSocket headers into one
// buffer and handed to the TCP socket in one write: the write syscall is most of the
// cost of a fan-out (one per socket per write, waking the reader as well), so a gateway that falls
// behind catches up by writing the events that queued meanwhile together; a lone event waits only
// for its own fan-out to be built (a few µs per socket). That buffer is a slice of Node's shared
// pool only when the socket takes it at once; a buffer the socket keeps (it is backed up) owns its
// memory, since a kept slice keeps its whole 8 KiB slab alive, into the old generation once a
// scavenge has seen it. With permessage-deflate the frames go through ws, which compresses them.

import type { WebSocket } from 'ws';
import type { Feed, FeedSink } from '../streams/feed.ts';
import type { SharedSelection } from '../graphql/shared-subscription-results.ts';
import { ownedBytes } from '../owned-bytes.ts';

const suffix = Buffer.from('}');
const noBytes = Buffer.alloc(0);
const CLOSE_BRACE = 0x7d;
/** FIN and the text opcode: a whole text message in one frame (RFC 6455 §5.2). */
const FIN_TEXT = 0x81;

interface TcpSocket {
  readonly writableLength: number;
  write(chunk: Buffer, done?: () => void): boolean;
  prependListener(event: 'end', fn: () => void): unknown;
  readonly writableNeedDrain: boolean;
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

/** Bytes of the WebSocket header of a message of `length` bytes. */
function headLength(length: number): number {
  return length <= 125 ? 2 : length <= 0xffff ? 4 : 10;
}

/** Writes the frame of the text message prefix + payload + `}` at `at`; returns where it ends. */
function writeFrame(out: Buffer, at: number, prefix: Buffer, payload: Buffer): number {
  const length = prefix.length + payload.length + 1;
  const head = headLength(length);
  out[at] = FIN_TEXT;
  if (head === 2) out[at + 1] = length;
  else if (head === 4) {
    out[at + 1] = 126;
    out.writeUInt16BE(length, at + 2);
  } else {
    out[at + 1] = 127;
    out.writeUInt32BE(Math.floor(length / 0x1_0000_0000), at + 2);
    out.writeUInt32BE(length >>> 0, at + 6);
  }
  prefix.copy(out, at + head);
  payload.copy(out, at + head + prefix.length);
  out[at + head + length - 1] = CLOSE_BRACE;
  return at + head + length;
}

/** Bytes of the frame of the message prefix + payload + `}`, WebSocket header included. */
function frameLength(prefix: Buffer, payload: Buffer): number {
  const length = prefix.length + payload.length + 1;
  return headLength(length) + length;
}

/**
 * The whole WebSocket frames (unmasked, as a server sends) of the text messages prefix + payload
 * + `}` for each (prefix, payload) pair of `parts`, one after the other, in one buffer: one that
 * owns its memory, or a slice of Node's pool when `pooled` (only for a buffer that dies at once).
 */
export function framesOf(parts: readonly Buffer[], bytes?: number, pooled = false): Buffer {
  let total = bytes ?? 0;
  if (bytes === undefined) for (let i = 0; i < parts.length; i += 2) total += frameLength(parts[i]!, parts[i + 1]!);
  const out = pooled ? Buffer.allocUnsafe(total) : Buffer.allocUnsafeSlow(total);
  let at = 0;
  for (let i = 0; i < parts.length; i += 2) at = writeFrame(out, at, parts[i]!, parts[i + 1]!);
  return out;
}

/** The connections with frames written in this turn of the event loop; one setImmediate sends them all. */
let pendingThisTurn: ConnectionWriter[] = [];
let endOfTurnQueued = false;

function endOfTurn(): void {
  endOfTurnQueued = false;
  const writers = pendingThisTurn;
  pendingThisTurn = [];
  for (const w of writers) {
    try {
      w.flush();
    } catch {
      // A connection whose frames cannot be written is closed rather than left with a gap in its
      // stream; the others are written all the same.
      w.abandon();
    }
  }
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
  /** ws's own send, for frames that must go through ws. */
  private readonly sendThroughWs: WebSocket['send'];
  /** The prefix and payload of each frame written in this turn and not yet handed to the socket. */
  private pending: Buffer[] = [];
  /** Their bytes, WebSocket headers included. */
  private pendingBytes = 0;
  private drainWaiters: (() => void)[] | undefined;

  constructor(socket: WebSocket) {
    this.socket = socket;
    // ws exposes no drain event: it is the TCP socket's, underneath.
    const internals = socket as unknown as WsInternals;
    this.tcp = internals._socket;
    this.sender = internals._sender;
    // permessage-deflate (or any other extension) changes the frames: those go through ws, and so
    // does everything when ws's internals are not the ones known here.
    const extensions = internals._extensions;
    this.raw = this.tcp !== undefined && this.sender !== undefined && typeof this.sender._state === 'number'
      && typeof extensions === 'object' && extensions !== null && Object.keys(extensions).length === 0;
    this.sendThroughWs = socket.send.bind(socket);
    if (this.raw) this.keepOrderWithWs();
  }

  /**
   * graphql-ws's own messages (ack, pong, error, complete) and a close frame go out after the
   * frames written before them: ws writes those to the socket at once, ours wait for the turn's end.
   */
  private keepOrderWithWs(): void {
    const socket = this.socket;
    const send = this.sendThroughWs;
    const close = socket.close.bind(socket);
    socket.send = ((...args: Parameters<WebSocket['send']>) => {
      this.flush();
      return send(...args);
    }) as WebSocket['send'];
    socket.close = ((...args: Parameters<WebSocket['close']>) => {
      this.flush();
      return close(...args);
    }) as WebSocket['close'];
    // A client that half-closes gets what was written before: ws answers its FIN by ending the socket.
    this.tcp!.prependListener('end', () => this.flush());
  }

  /**
   * Writes one text message made of prefix, payload and `}`. Every frame a connection gets in one
   * turn of the event loop (the events of one read from the apiserver, however many, for every
   * subscription of the connection; a backlog page) leaves in one buffer and one write when the
   * turn ends: the write syscall is most of the cost of a fan-out, and a gateway that falls behind
   * catches up by sending what queued meanwhile together.
   */
  write(prefix: Buffer, payload: Buffer): void {
    if (this.socket.readyState !== this.socket.OPEN) return;
    const tcp = this.tcp;
    if (tcp?.destroyed) return;
    // ws's Sender is idle (its state 0) unless an extension or a Blob holds frames in its queue.
    if (this.raw && this.sender!._state === 0) {
      this.pending.push(prefix, payload);
      this.pendingBytes += frameLength(prefix, payload);
      if (this.pending.length === 2) {
        pendingThisTurn.push(this);
        if (!endOfTurnQueued) {
          endOfTurnQueued = true;
          setImmediate(endOfTurn);
        }
      }
      return;
    }
    this.socket.send(Buffer.concat([prefix, payload, suffix], prefix.length + payload.length + 1), { binary: false });
  }

  /** Drops the connection (its subscriptions end with it). */
  abandon(): void {
    this.pending = [];
    this.pendingBytes = 0;
    this.socket.terminate();
  }

  /** Hands the frames written so far to the socket, in one buffer and one write. */
  flush(): void {
    const parts = this.pending;
    if (parts.length === 0) return;
    const bytes = this.pendingBytes;
    this.pending = [];
    this.pendingBytes = 0;
    const tcp = this.tcp!;
    if (this.socket.readyState !== this.socket.OPEN || tcp.destroyed) return;
    if (this.sender!._state !== 0) {
      // ws queued frames of its own meanwhile: ours go behind them, through it.
      for (let i = 0; i < parts.length; i += 2) {
        const prefix = parts[i]!;
        const payload = parts[i + 1]!;
        this.sendThroughWs(Buffer.concat([prefix, payload, suffix], prefix.length + payload.length + 1), { binary: false });
      }
      return;
    }
    // A socket that keeps up takes the buffer whole in this write, so it can be a slice of Node's
    // pool (cheaper, and dead before any scavenge); one already backed up keeps it, so it gets
    // memory of its own (a kept slice would pin its slab).
    tcp.write(framesOf(parts, bytes, tcp.writableLength === 0));
  }

  buffered(): number {
    return this.socket.readyState === this.socket.OPEN ? this.socket.bufferedAmount + this.pendingBytes : 0;
  }

  onDrain(fn: () => void): void {
    const tcp = this.tcp;
    if (this.socket.readyState !== this.socket.OPEN || !tcp || tcp.destroyed) {
      queueMicrotask(fn);
      return;
    }
    // What waits for the turn's end is part of what has to drain.
    this.flush();
    // A write the kernel took whole leaves nothing to wait for.
    if (this.socket.bufferedAmount === 0) {
      setImmediate(fn);
      return;
    }
    if (this.drainWaiters) {
      this.drainWaiters.push(fn);
      return;
    }
    this.drainWaiters = [fn];
    // Whichever comes first: a drain, or a close (a closed socket never drains). Node emits a drain
    // only after a write that reached its high-water mark; below it, an empty write marks the end
    // of everything written before it (Writable runs writes in order).
    tcp.on('drain', this.release);
    tcp.on('close', this.release);
    if (!tcp.writableNeedDrain) tcp.write(noBytes, this.release);
  }

  /** Runs the drain waiters, once. */
  private readonly release = (): void => {
    const tcp = this.tcp!;
    const fns = this.drainWaiters;
    if (!fns) return;
    tcp.removeListener('drain', this.release);
    tcp.removeListener('close', this.release);
    this.drainWaiters = undefined;
    for (const f of fns) f();
  };
}

/** What a frame still waiting for its payload counts as (PushSink.buffered). */
const waitingFrameBytes = 1024;

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
  /** Frames whose payload is still being computed (each counted as waitingFrameBytes). */
  private waiting = 0;

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
    this.waiting++;
    const current: Promise<void> = previous.then(() => payload)
      .then((p) => this.writer.write(this.prefix, p), (err: unknown) => this.feed.fail(err))
      .finally(() => {
        this.waiting--;
        if (this.pending === current) this.pending = undefined;
        this.settle();
      });
    this.pending = current;
  }

  end(error?: unknown): void {
    this.outcome = error === undefined ? {} : { error };
    this.settle();
  }

  /**
   * What the connection holds unsent, and the frames still waiting for their payload (an async
   * resolver, such as a relation's Kubernetes read), each counted as waitingFrameBytes: without
   * them a backlog would start every execution at once, and a slow resolver would never make a
   * slow consumer. A fixed size, not the last frame's: one large frame would otherwise make a few
   * small ones waiting behind it look like a full connection.
   */
  buffered(): number {
    return this.writer.buffered() + this.waiting * waitingFrameBytes;
  }

  /** Once the frames waiting for their payload are written and the connection has drained. */
  onDrain(fn: () => void): void {
    const pending = this.pending;
    if (pending) void pending.then(() => this.onDrain(fn)).catch(fn);
    else this.writer.onDrain(fn);
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
