// Real subscription clients for integration tests: graphql-ws clients over a socket, and a raw
// graphql-transport-ws socket for what the library hides (keep-alive pings, a client that stops
// reading). Events are recorded as they arrive; tests wait on them with deadlines, never sleeps.
import type { Socket } from 'node:net';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { pollUntil } from './poll-until.ts';

export interface WatchEventRecord {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'INITIAL_STATE_DONE' | 'BOOKMARK';
  resourceVersion: string | null;
  object: { metadata?: { name?: string; resourceVersion?: string; labels?: Record<string, string> | null; annotations?: Record<string, string> | null }; spec?: Record<string, unknown> | null; status?: Record<string, unknown> | null } | null;
}

export interface GraphQLErrorRecord {
  message: string;
  extensions?: Record<string, unknown>;
}

/** Polls `cond` every `everyMs` until it holds; fails with `what` (and `detail()`) after `timeoutMs`. */
/** Polls cond (see pollUntil) and resolves with how long it took, in ms. */
export async function waitUntil(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string, detail?: () => string): Promise<number> {
  const started = performance.now();
  await pollUntil(what, cond, { timeoutMs, intervalMs: 20, detail });
  return performance.now() - started;
}

export function wsUrl(httpUrl: string): string {
  return `${httpUrl.replace(/^http/, 'ws')}/graphql`;
}

/** A graphql-ws client that connects at once and never retries, so a lost socket is visible. */
export function openClient(url: string, opts: { connectionParams?: Record<string, unknown> } = {}): Client & { closed: Promise<{ code: number; reason: string }> } {
  let onClosed!: (e: { code: number; reason: string }) => void;
  const closed = new Promise<{ code: number; reason: string }>((r) => (onClosed = r));
  const client = createClient({
    url: wsUrl(url),
    webSocketImpl: WebSocket,
    lazy: false,
    retryAttempts: 0,
    // The tests observe closes through `closed`; graphql-ws would also print them to the console.
    onNonLazyError: () => {},
    ...(opts.connectionParams ? { connectionParams: opts.connectionParams } : {}),
    on: { closed: (e) => onClosed({ code: (e as { code?: number }).code ?? 0, reason: String((e as { reason?: unknown }).reason ?? '') }) },
  });
  return Object.assign(client, { closed });
}

/** One subscription's record: every event in arrival order, the error that ended it, or completion. */
export class Subscription {
  readonly events: WatchEventRecord[] = [];
  error: GraphQLErrorRecord[] | undefined;
  completed = false;
  private readonly dispose: () => void;

  constructor(client: Client, query: string, variables: Record<string, unknown> = {}, field?: string) {
    this.dispose = client.subscribe<Record<string, WatchEventRecord>>({ query, variables }, {
      next: (r) => {
        if (r.errors?.length) {
          this.error = r.errors as unknown as GraphQLErrorRecord[];
          return;
        }
        const data = r.data ?? {};
        const e = field ? data[field] : Object.values(data)[0];
        if (e) this.events.push(e);
      },
      error: (err) => {
        this.error = Array.isArray(err) ? (err as GraphQLErrorRecord[]) : [{ message: err instanceof Error ? err.message : String((err as { reason?: string })?.reason ?? err) }];
      },
      complete: () => {
        this.completed = true;
      },
    });
  }

  get ended(): boolean {
    return this.completed || this.error !== undefined;
  }

  get errorCode(): unknown {
    return this.error?.[0]?.extensions?.['code'];
  }

  /** `type name` per event, e.g. "ADDED a": compact and readable in assertion diffs. */
  summary(from = 0): string[] {
    return this.events.slice(from).map((e) => `${e.type}${e.object?.metadata?.name ? ` ${e.object.metadata.name}` : ''}`);
  }

  waitForEvents(n: number, timeoutMs = 10_000): Promise<number> {
    return waitUntil(() => this.events.length >= n || this.ended, timeoutMs, `${n} events`, () => `got ${this.events.length}: ${this.summary().join(', ')}; error ${JSON.stringify(this.error)}`)
      .then((ms) => {
        if (this.events.length < n) throw new Error(`the subscription ended after ${this.events.length} of ${n} events: ${JSON.stringify(this.error) ?? 'completed'}`);
        return ms;
      });
  }

  waitForEnd(timeoutMs = 10_000): Promise<number> {
    return waitUntil(() => this.ended, timeoutMs, 'the subscription to end', () => `${this.events.length} events so far`);
  }

  unsubscribe(): void {
    this.dispose();
  }
}

interface RawMessage {
  type: string;
  id?: string;
  payload?: unknown;
}

/**
 * A WebSocket speaking graphql-transport-ws by hand: connection_init, one subscribe per call, and
 * access to the TCP socket underneath, so a test can stop reading (a slow consumer) or see pings.
 */
export class RawGraphQLSocket {
  readonly ws: WebSocket;
  readonly messages: RawMessage[] = [];
  /** Every message as the server wrote it (numbers with the digits they were sent with). */
  readonly texts: string[] = [];
  readonly pings: number[] = [];
  readonly opened = performance.now();
  closeCode: number | undefined;
  private nextId = 1;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data) => {
      this.texts.push(String(data));
      this.messages.push(JSON.parse(String(data)) as RawMessage);
    });
    ws.on('ping', () => this.pings.push(performance.now()));
    ws.on('close', (code) => (this.closeCode = code));
    ws.on('error', () => {});
  }

  static async connect(url: string): Promise<RawGraphQLSocket> {
    const ws = new WebSocket(wsUrl(url), 'graphql-transport-ws');
    const raw = new RawGraphQLSocket(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    ws.send(JSON.stringify({ type: 'connection_init', payload: {} }));
    await waitUntil(() => raw.messages.some((m) => m.type === 'connection_ack'), 5_000, 'connection_ack');
    return raw;
  }

  subscribe(query: string, variables: Record<string, unknown> = {}): string {
    const id = String(this.nextId++);
    this.ws.send(JSON.stringify({ id, type: 'subscribe', payload: { query, variables } }));
    return id;
  }

  /** Subscribes with a payload given as JSON text, so it can hold numbers JSON.stringify cannot write. */
  subscribeText(payloadText: string): string {
    const id = String(this.nextId++);
    this.ws.send(`{"id":${JSON.stringify(id)},"type":"subscribe","payload":${payloadText}}`);
    return id;
  }

  /** The texts of the messages of one operation. */
  textsOf(id: string): string[] {
    return this.texts.filter((_t, i) => this.messages[i]?.id === id);
  }

  /** The TCP socket under the WebSocket: pause() it and the server's writes back up. */
  get tcp(): Socket {
    return (this.ws as unknown as { _socket: Socket })._socket;
  }

  of(id: string, type?: string): RawMessage[] {
    return this.messages.filter((m) => m.id === id && (type === undefined || m.type === type));
  }

  close(): void {
    this.ws.close();
  }

  terminate(): void {
    this.ws.terminate();
  }
}

export interface FirstAnswer {
  errors?: GraphQLErrorRecord[];
  data?: unknown;
}

/**
 * The first thing that comes back for one operation sent over `client`: its first result, or the
 * error list of a refusal. A subscription is left running (until the client is disposed).
 */
export function firstAnswerOver(client: Client, payload: { query: string; operationName?: string; variables?: Record<string, unknown> }, timeoutMs = 10_000): Promise<FirstAnswer> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    const done = (v: FirstAnswer) => {
      clearTimeout(timer);
      resolve(v);
    };
    client.subscribe(payload, {
      next: (v) => done(v as FirstAnswer),
      error: (e) => done({ errors: Array.isArray(e) ? e : [{ message: String((e as Error)?.message ?? e) }] }),
      complete: () => {},
    });
  });
}

/**
 * Opens a graphql-ws connection to `wsUrlOfGraphQL` (a ws:// URL of the /graphql path), subscribes,
 * and resolves with the first thing that comes back: the first result, or the error list of a
 * refusal. The connection is closed afterwards.
 */
export function firstAnswer(wsUrlOfGraphQL: string, query: string, opts: { variables?: Record<string, unknown>; connectionParams?: Record<string, unknown>; timeoutMs?: number } = {}): Promise<FirstAnswer> {
  const client = createClient({
    url: wsUrlOfGraphQL, webSocketImpl: WebSocket, retryAttempts: 0, lazy: false, onNonLazyError: () => {},
    ...(opts.connectionParams ? { connectionParams: opts.connectionParams } : {}),
  });
  return firstAnswerOver(client, { query, ...(opts.variables ? { variables: opts.variables } : {}) }, opts.timeoutMs).finally(() => void client.dispose());
}
