// Delivery of `next` messages for subscriptions backed by a feed (the watch hub's): graphql-ws
// keeps the protocol (connection_init/ack, ping/pong, subscribe, complete, error, close codes),
// and the events of such a subscription are written here, synchronously, as the hub pushes them.
// A frame is the subscription's own prefix — `{"id":<its id, JSON-escaped once>,"type":"next",
// "payload":` — then the payload its group serialized once for every member, then `}`: nothing
// is rewritten after serialization, and no byte of one subscriber's frame comes from another's.
import type { WebSocket } from 'ws';
import type { Feed, FeedSink } from '../streams/feed.ts';
import type { SharedSelection } from '../graphql/shared-subscription-results.ts';

const suffix = Buffer.from('}');

interface TcpSocket {
  cork(): void;
  uncork(): void;
  once(event: 'drain' | 'close', fn: () => void): unknown;
  readonly destroyed: boolean;
}

/**
 * The writes to one WebSocket: frames written in the same tick (an event for several of its
 * subscriptions, a page of a backlog) leave in one write, the TCP socket being corked until the
 * tick ends; buffered() and onDrain() give the feeds their flow control.
 */
export class ConnectionWriter {
  private readonly socket: WebSocket;
  private readonly tcp: TcpSocket | undefined;
  private corked = false;
  private drainWaiters: (() => void)[] = [];
  private readonly uncork = () => {
    this.corked = false;
    if (this.tcp && !this.tcp.destroyed) this.tcp.uncork();
  };

  constructor(socket: WebSocket) {
    this.socket = socket;
    // ws exposes no drain event and no cork: both are the TCP socket's, underneath.
    this.tcp = (socket as unknown as { _socket?: TcpSocket })._socket;
    this.tcp?.once('close', () => this.flushDrainWaiters());
  }

  /** Writes one text frame made of these parts. */
  write(prefix: Buffer, payload: Buffer): void {
    if (this.socket.readyState !== this.socket.OPEN) return;
    if (this.tcp && !this.corked) {
      this.corked = true;
      this.tcp.cork();
      process.nextTick(this.uncork);
    }
    this.socket.send(Buffer.concat([prefix, payload, suffix], prefix.length + payload.length + 1), { binary: false });
  }

  buffered(): number {
    return this.socket.readyState === this.socket.OPEN ? this.socket.bufferedAmount : 0;
  }

  onDrain(fn: () => void): void {
    if (this.socket.readyState !== this.socket.OPEN || !this.tcp) {
      queueMicrotask(fn);
      return;
    }
    this.drainWaiters.push(fn);
    if (this.drainWaiters.length === 1) this.tcp.once('drain', () => this.flushDrainWaiters());
  }

  private flushDrainWaiters(): void {
    const fns = this.drainWaiters;
    this.drainWaiters = [];
    for (const fn of fns) fn();
  }
}

/**
 * A subscription whose events the feed pushes straight into the connection. To graphql-ws it is
 * an async iterator that yields nothing: it settles when the feed ends (done, or the error
 * graphql-ws then sends as the subscription's `error` message), and return() — the client's
 * `complete` or a closed socket — cancels the feed. The feed starts on the first next(), when
 * graphql-ws has registered the subscription, so no frame precedes that.
 */
export function pushedSubscription(writer: ConnectionWriter, id: string, group: SharedSelection, feed: Feed<object>): AsyncIterableIterator<never> {
  const prefix = Buffer.from(`{"id":${JSON.stringify(id)},"type":"next","payload":`);
  let started = false;
  let outcome: { error?: unknown } | undefined;
  let waiter: { resolve(r: IteratorResult<never>): void; reject(err: unknown): void } | undefined;
  // A payload that is still being computed (an async resolver) holds the frames after it, in order.
  let pending: Promise<void> | undefined;
  const write = (payload: Buffer) => writer.write(prefix, payload);
  const settle = () => {
    const w = waiter;
    if (!w || !outcome || pending) return;
    waiter = undefined;
    if (outcome.error !== undefined) w.reject(outcome.error);
    else w.resolve({ value: undefined as never, done: true });
  };
  feed.onClose(() => group.leave());
  const sink: FeedSink<object> = {
    next(event) {
      const payload = group.payloadOf(event);
      if (!pending && !(payload instanceof Promise)) {
        write(payload);
        return;
      }
      const previous = pending ?? Promise.resolve();
      const current: Promise<void> = previous.then(() => payload).then(write, (err: unknown) => feed.fail(err)).finally(() => {
        if (pending === current) pending = undefined;
        settle();
      });
      pending = current;
    },
    end(error) {
      outcome = error === undefined ? {} : { error };
      settle();
    },
    buffered: () => writer.buffered(),
    onDrain: (fn) => writer.onDrain(fn),
  };
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    next() {
      if (!started) {
        started = true;
        feed.start(sink);
        // A feed closed without an end (cancelled from elsewhere) ends the subscription quietly.
        feed.onClose(() => {
          outcome ??= {};
          settle();
        });
      }
      return new Promise<IteratorResult<never>>((resolve, reject) => {
        waiter = { resolve, reject };
        settle();
      });
    },
    return() {
      feed.cancel();
      outcome ??= {};
      const w = waiter;
      waiter = undefined;
      w?.resolve({ value: undefined as never, done: true });
      return Promise.resolve({ value: undefined as never, done: true });
    },
    throw(err?: unknown) {
      feed.cancel();
      return Promise.reject(err);
    },
  };
}
