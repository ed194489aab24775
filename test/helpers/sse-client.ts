// A Server-Sent Events client on node:http, for tests: it records every event with its id and
// type, can stop reading (pause) to play a slow consumer, and reports how the stream ended.
// Waiting is always bounded by a deadline. Asked for JSON (an Accept header of its own), it reads
// an application/json answer as Kubernetes' watch stream: one event a line, its type as the
// event's name.
import { request, type IncomingMessage, type ClientRequest } from 'node:http';
import { parseSse, type SseEvent } from './openapi-validator.ts';

export interface ParsedEvent extends SseEvent {
  /** data parsed as JSON (undefined when it is not JSON). */
  json?: any;
}

export class SseClient {
  readonly events: ParsedEvent[] = [];
  /** Everything received, verbatim (for contract validation). */
  raw = '';
  status = 0;
  headers: Record<string, string | string[] | undefined> = {};
  /** Resolves when the stream ends, for whatever reason. */
  readonly ended: Promise<'end' | 'error'>;
  endedHow: 'end' | 'error' | undefined;
  private pending = '';
  private req!: ClientRequest;
  private res: IncomingMessage | undefined;
  private readonly listeners = new Set<() => void>();
  private readonly opened: Promise<void>;

  constructor(url: string, headers: Record<string, string> = {}) {
    let resolveEnded!: (how: 'end' | 'error') => void;
    this.ended = new Promise((r) => (resolveEnded = r));
    const finish = (how: 'end' | 'error') => {
      if (this.endedHow) return;
      this.endedHow = how;
      resolveEnded(how);
      this.notify();
    };
    this.opened = new Promise((resolveOpened, rejectOpened) => {
      this.req = request(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
        this.res = res;
        this.status = res.statusCode ?? 0;
        this.headers = res.headers;
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => this.onData(chunk));
        res.on('end', () => finish('end'));
        res.on('error', () => finish('error'));
        res.on('close', () => finish(res.complete ? 'end' : 'error'));
        resolveOpened();
      });
      this.req.on('error', (err) => {
        finish('error');
        rejectOpened(err);
      });
      this.req.end();
    });
    this.opened.catch(() => {});
  }

  /** Waits for the response headers. */
  async open(): Promise<this> {
    await this.opened;
    return this;
  }

  private onData(chunk: string): void {
    this.raw += chunk;
    this.pending += chunk;
    if (/^application\/json/.test(String(this.headers['content-type'] ?? ''))) {
      this.onLines();
      return;
    }
    const blocks = this.pending.split(/\r?\n\r?\n/);
    this.pending = blocks.pop()!;
    for (const e of parseSse(blocks.join('\n\n') + '\n\n')) {
      let json: unknown;
      try {
        json = JSON.parse(e.data);
      } catch {
        json = undefined;
      }
      this.events.push({ ...e, json });
    }
    this.notify();
  }

  private onLines(): void {
    const lines = this.pending.split('\n');
    this.pending = lines.pop()!;
    for (const line of lines) {
      if (!line.trim()) continue;
      const json = JSON.parse(line);
      this.events.push({ event: json.type, data: line, json });
    }
    this.notify();
  }

  private notify(): void {
    for (const l of [...this.listeners]) l();
  }

  /** Resolves when predicate(events) holds; rejects after timeoutMs with what was seen. */
  waitFor<T>(what: string, predicate: (events: ParsedEvent[]) => T | undefined | false, timeoutMs = 10_000): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const v = predicate(this.events);
        if (v !== undefined && v !== false) {
          cleanup();
          resolve(v);
        } else if (this.endedHow) {
          cleanup();
          reject(new Error(`stream ended (${this.endedHow}) before ${what}; events: ${this.describe()}`));
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; events: ${this.describe()}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.listeners.delete(check);
      };
      this.listeners.add(check);
      check();
    });
  }

  /** Waits for at least n events of the given types (all types when omitted). */
  waitForCount(n: number, types?: string[], timeoutMs?: number): Promise<ParsedEvent[]> {
    return this.waitFor(`${n} ${types?.join('/') ?? ''} events`, (es) => {
      const matching = types ? es.filter((e) => types.includes(e.event ?? '')) : es;
      return matching.length >= n ? matching : undefined;
    }, timeoutMs);
  }

  /** Resolves with how the stream ended; rejects when it is still open after timeoutMs. */
  async waitForEnd(timeoutMs = 10_000): Promise<'end' | 'error'> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        this.ended,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`the stream was still open after ${timeoutMs} ms; events: ${this.describe()}`)), timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops reading from the socket: the server's writes back up. */
  pause(): void {
    this.res?.pause();
  }

  resume(): void {
    this.res?.resume();
  }

  /** Goes away, as a browser tab closing. */
  close(): void {
    this.req.destroy();
    this.res?.destroy();
  }

  describe(): string {
    return JSON.stringify(this.events.map((e) => `${e.event}@${e.id ?? ''}`).slice(-20));
  }
}
