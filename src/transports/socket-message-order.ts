// graphql-ws forgets an operation's id as soon as its client completes it, but goes on running the
// operation it named until that operation's last message is out: a `subscribe` that reuses the id
// meanwhile (legal once the id is completed) meets the old operation's end, which sends its answer
// or `complete` under the id and deletes the new operation's entry. The new one then gets the old
// one's answer, or runs as a stream nothing but the connection's close can stop.
//
// So the messages of a connection reach graphql-ws in order per id: a `subscribe` whose id names an
// operation that is over (completed by its client, or ended by the server) but still running waits
// until it has finished (as long as a Kubernetes call may take, then the connection closes with
// 4409, as for an id in use); a `complete` for a waiting `subscribe` drops it, and so does the
// connection's close. A `subscribe` for an id that is still live, or already waiting, closes the
// connection (4409), as the protocol says (graphql-ws does so itself for a live one).
import type { WebSocket } from 'ws';
import { maxClientNesting, nestedDeeperThan } from '../kube/lossless-json.ts';
import { tooDeepMarker } from './socket-operations.ts';

/** What the orderer reads of a message: its type and id, when it has them. */
function peek(text: string): { type: string; id: string } | undefined {
  try {
    const m = JSON.parse(text) as { type?: unknown; id?: unknown } | null;
    return m && typeof m.type === 'string' && typeof m.id === 'string' ? { type: m.type, id: m.id } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A subscribe message nested deeper than client JSON may be (its variables, say), as a message
 * graphql-ws can read: graphql-ws parses every message with a reviver, which recurses and, thousands
 * of levels deep, fails the whole connection (4400). Its query stays; its variables and extensions
 * give way to a mark, by which the operation alone is refused (refusals in socket-operations.ts).
 */
function withinNesting(data: unknown, text: string): unknown {
  if (!nestedDeeperThan(text, maxClientNesting)) return data;
  const { id, payload } = JSON.parse(text) as { id: string; payload?: { query?: unknown; operationName?: unknown } | null };
  const query = typeof payload?.query === 'string' ? payload.query : '';
  const operationName = typeof payload?.operationName === 'string' ? payload.operationName : undefined;
  return JSON.stringify({ id, type: 'subscribe', payload: { query, operationName, extensions: { [tooDeepMarker]: true } } });
}

interface Running {
  /** Settles when graphql-ws has finished with the operation (its handler's last step). */
  settled: Promise<unknown>;
  /** Its client completed it, or the server sent its end: its id may be used again once it settles. */
  over: boolean;
}

type Listener = (data: unknown) => unknown;

export class MessageOrder {
  private readonly running = new Map<string, Running>();
  /** Made when a `subscribe` first has to wait (rarely): one map less per connection. */
  private waiting: Map<string, { dropped: boolean }> | undefined;
  private readonly socket: WebSocket;
  private readonly maxWaitMs: number;

  /** Puts itself in front of the first 'message' listener added to `socket` (graphql-ws'). */
  constructor(socket: WebSocket, maxWaitMs = 30_000) {
    this.socket = socket;
    this.maxWaitMs = maxWaitMs;
    const on = socket.on;
    socket.on = ((event: string, listener: Listener) => {
      if (event !== 'message') return on.call(socket, event, listener);
      socket.on = on;
      return on.call(socket, 'message', (data: unknown) => this.handle(listener, data));
    }) as WebSocket['on'];
  }

  /** The server sent the end of the operation with this id (its `complete` or `error`). */
  ended(id: string): void {
    const r = this.running.get(id);
    if (r) r.over = true;
  }

  private handle(listener: Listener, received: unknown): unknown {
    const text = String(received);
    const m = peek(text);
    const data = m?.type === 'subscribe' ? withinNesting(received, text) : received;
    if (m?.type === 'complete') {
      this.ended(m.id);
      const w = this.waiting?.get(m.id);
      if (w) {
        w.dropped = true;
        this.waiting!.delete(m.id);
      }
      return listener(data);
    }
    if (m?.type !== 'subscribe') return listener(data);
    const previous = this.running.get(m.id);
    if (this.waiting?.has(m.id)) {
      this.socket.close(4409, 'Subscriber already exists');
      return undefined;
    }
    if (!previous?.over) return this.start(listener, data, m.id);
    return this.after(previous, listener, data, m.id);
  }

  private start(listener: Listener, data: unknown, id: string): Promise<unknown> {
    const r: Running = { settled: Promise.resolve(), over: false };
    r.settled = Promise.resolve(listener(data)).finally(() => {
      if (this.running.get(id) === r) this.running.delete(id);
    });
    this.running.set(id, r);
    return r.settled;
  }

  /** Starts the `subscribe` once `previous` has settled; one still running after maxWaitMs closes the connection, as an id in use does. */
  private async after(previous: Running, listener: Listener, data: unknown, id: string): Promise<unknown> {
    const w = { dropped: false };
    const waiting = (this.waiting ??= new Map());
    waiting.set(id, w);
    let timer: NodeJS.Timeout | undefined;
    const late = await Promise.race([
      previous.settled.then(() => false, () => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), this.maxWaitMs);
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
    if (w.dropped || waiting.get(id) !== w) return undefined;
    waiting.delete(id);
    // graphql-ws has let the connection go: what started now would run with nothing to end it.
    if (this.socket.readyState !== this.socket.OPEN) return undefined;
    if (late) {
      this.socket.close(4409, 'Subscriber already exists');
      return undefined;
    }
    return this.start(listener, data, id);
  }
}
