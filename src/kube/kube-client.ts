// The dynamic (unstructured) Kubernetes client: JSON in, JSON out, on any path. Authentication and
// TLS come from the kubeconfig (src/kube/kubeconfig.ts: tokens, client certificates, exec plugins), so
// this file only adds what crdgate needs on top: one keep-alive connection pool, a deadline on
// every call, cancellation, a typed error carrying the apiserver's Status, impersonation headers
// sent one value per line, and watches that report how they ended.
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest, type AgentOptions as HttpsAgentOptions, type RequestOptions as HttpsRequestOptions } from 'node:https';
import { createInterface } from 'node:readline';
import type { Dispatcher } from 'undici';
import { errorWithStack } from '../errors.ts';
import { parseKubernetesJson, stringifyJson } from './lossless-json.ts';
import { callerText } from './internal-addresses.ts';
import { newApiPool, sendPooled, type ApiPool, type PoolTls } from './pooled-request.ts';

/** A Kubernetes Status object as the apiserver returns it with an error. */
export interface KubeStatus {
  kind?: 'Status';
  apiVersion?: string;
  status?: 'Failure' | 'Success';
  message?: string;
  reason?: string;
  code?: number;
  details?: {
    name?: string;
    group?: string;
    kind?: string;
    uid?: string;
    retryAfterSeconds?: number;
    causes?: { reason?: string; message?: string; field?: string }[];
  };
}

/** An error answer from the apiserver, or a failure to reach it (code 0). */
export class KubeApiError extends Error {
  readonly status: KubeStatus;
  readonly httpStatus: number;
  readonly retryAfterSeconds: number | undefined;

  /**
   * logMessage: the error's own message, for the gateway's log, when it says more than the Status
   * callers get (where the gateway connects to: an internal URL is no business of its callers).
   */
  constructor(httpStatus: number, status: KubeStatus, retryAfterSeconds?: number, options?: { cause?: unknown; logMessage?: string }) {
    super(options?.logMessage ?? status.message ?? `Kubernetes API answered ${httpStatus}`, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'KubeApiError';
    this.httpStatus = httpStatus;
    this.status = status;
    this.retryAfterSeconds = retryAfterSeconds ?? status.details?.retryAfterSeconds;
  }

  get reason(): string | undefined {
    return this.status.reason;
  }
}

export interface Impersonation {
  user: string;
  groups?: string[];
  extra?: Record<string, string[]>;
  uid?: string;
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
  timeoutMs?: number;
  impersonate?: Impersonation;
  headers?: Record<string, string>;
  /** Told the HTTP status of a successful answer (201 when a write created the object). */
  onStatus?: (httpStatus: number) => void;
  /** Told each Warning header of the answer (RFC 7234 form, as the apiserver sends it: `299 - "text"`). */
  onWarning?: (warning: string) => void;
}

export interface WatchEvent<T = Record<string, unknown>> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

/** Called per watch event with the size of its JSON line; a returned promise pauses the stream until it settles. */
export type WatchEventHandler<T> = (e: WatchEvent<T>, bytes: number) => void | Promise<void>;

/**
 * Told of every call `request` makes (not watches), synchronously, as it starts and as it settles:
 * what a plugin would otherwise learn by wrapping each call's promise (a promise, its handlers and
 * their closures per call). `started` returns what `settled` is given back.
 */
export interface KubeCallObserver<S = unknown> {
  started(method: string, path: string): S;
  /** err: why the call failed (a KubeApiError, as the caller gets it); undefined for a success. */
  settled(started: S, method: string, err: unknown): void;
}

export interface KubeClientOptions {
  /** Deadline of every non-watch call. */
  timeoutMs?: number;
}

/**
 * What the client needs of a kubeconfig: the gateway's KubeConfig (src/kube/kubeconfig.ts) and
 * @kubernetes/client-node's both provide it.
 */
export interface KubeCredentials {
  getCurrentCluster(): { readonly name: string; readonly server: string } | null;
  applyToHTTPSOptions(opts: HttpsRequestOptions): Promise<void>;
}

export class KubeClient {
  readonly kc: KubeCredentials;
  readonly server: string;
  private readonly timeoutMs: number;
  private readonly url: URL;
  private transportState: Promise<Transport> | undefined;
  private refreshing: Promise<boolean> | undefined;
  private authAt = 0;
  /** The client views (observedBy) share: the one that holds the pool and the credentials. */
  private readonly root: KubeClient = this;
  private observer: KubeCallObserver | undefined;

  constructor(kc: KubeCredentials, opts: KubeClientOptions = {}) {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    this.kc = kc;
    this.server = cluster.server.replace(/\/+$/, '');
    this.url = new URL(this.server);
    this.timeoutMs = opts.timeoutMs ?? 30_000;
  }

  request<T = unknown>(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, opts: RequestOptions = {}): Promise<T> {
    return this.root.exchange<T>(method, path, opts, this.observer);
  }

  /**
   * This client with its calls also told to `observer` (after the observers it already has): the
   * same connection pool and credentials, without a promise of its own around each call. An
   * observer that throws changes nothing of the call or of the other observers: its first failure
   * goes to onFailure (by default a process warning), the rest are dropped, so a broken metric does
   * not write a line per call.
   */
  observedBy(observer: KubeCallObserver, onFailure: (err: unknown) => void = warnObserverFailure): KubeClient {
    const root = this.root;
    const view = Object.create(this) as KubeClient;
    const guarded = guardedObserver(observer, onFailure);
    view.observer = this.observer ? bothObservers(this.observer, guarded) : guarded;
    // Everything but request runs on the client itself: one pool, one set of credentials.
    view.watch = root.watch.bind(root);
    view.close = root.close.bind(root);
    return view;
  }

  private async exchange<T>(method: string, path: string, opts: RequestOptions, observer: KubeCallObserver | undefined): Promise<T> {
    const observed = observer?.started(method, path);
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    let body: string | undefined;
    if (opts.body !== undefined) {
      // Integers beyond 2^53 travel as bigint and leave as JSON numbers with every digit.
      try {
        body = typeof opts.body === 'string' ? opts.body : stringifyJson(opts.body);
      } catch (err) {
        observer?.settled(observed, method, err);
        throw err;
      }
    }
    // The call's deadline and the caller's cancellation, in one controller with one timer, cleared
    // when the answer is in. AbortSignal.any over AbortSignal.timeout did the same with a composite
    // signal (weak references, a finalization registry) and a timer left running for the full
    // timeout after every call: several µs of the gateway's CPU per call, and garbage.
    const controller = new AbortController();
    const signal = controller.signal;
    const outer = opts.signal;
    const onOuterAbort = () => controller.abort(outer?.reason);
    if (outer?.aborted) onOuterAbort();
    else outer?.addEventListener('abort', onOuterAbort, { once: true });
    const timer = setTimeout(() => controller.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')), timeoutMs);
    timer.unref();
    let res: RawResponse;
    try {
      res = await this.send(method, path, opts, body, signal);
      if (res.status === 401 && (await this.refreshAuth())) res = await this.send(method, path, opts, body, signal);
    } catch (err) {
      const failed = transportError(this.server, err, signal, timeoutMs, outer);
      observer?.settled(observed, method, failed);
      throw failed;
    } finally {
      clearTimeout(timer);
      outer?.removeEventListener('abort', onOuterAbort);
    }
    if (res.status < 200 || res.status >= 300) {
      const failed = statusError(res.status, res.text, res.retryAfter);
      observer?.settled(observed, method, failed);
      throw failed;
    }
    let answer: T;
    try {
      // The caller's own callbacks: should one throw, the call fails with its error, observed as such.
      if (res.warnings && opts.onWarning) for (const w of res.warnings) opts.onWarning(w);
      opts.onStatus?.(res.status);
      answer = answerOf<T>(res);
    } catch (err) {
      observer?.settled(observed, method, err);
      throw err;
    }
    observer?.settled(observed, method, undefined);
    return answer;
  }

  /**
   * Opens a watch and calls onEvent for each event, in order. Resolves when the server ends the
   * watch normally (timeoutSeconds elapsed); rejects with KubeApiError when it cannot be opened or
   * the server sends an ERROR event (e.g. 410 Gone), or with code 0 on a broken connection or one
   * silent for idleTimeoutMs (time onEvent holds the stream aside).
   */
  async watch<T = Record<string, unknown>>(path: string, opts: RequestOptions & { onEvent: WatchEventHandler<T>; onOpen?: () => void; idleTimeoutMs?: number }): Promise<void> {
    const controller = new AbortController();
    const onOuterAbort = () => controller.abort(opts.signal?.reason);
    if (opts.signal?.aborted) controller.abort(opts.signal.reason);
    opts.signal?.addEventListener('abort', onOuterAbort, { once: true });
    // A watch with no bytes for this long is considered dead (a half-open TCP connection would
    // otherwise hang forever). Bookmarks and the server's own timeout keep healthy watches talking.
    // Time a handler holds the stream (its reader's connection is full) is not the server's silence.
    const idleMs = opts.idleTimeoutMs ?? 0;
    let idleTimer: NodeJS.Timeout | undefined;
    let armed = false;
    let idle = false;
    // One timer per watch, pushed back on every line (refresh) instead of a new timer per event.
    const touch = () => {
      if (!idleMs) return;
      if (armed) {
        idleTimer!.refresh();
        return;
      }
      armed = true;
      idleTimer = setTimeout(() => {
        idle = true;
        controller.abort(new Error('watch idle timeout'));
      }, idleMs);
      idleTimer.unref();
    };
    const pause = () => {
      clearTimeout(idleTimer);
      armed = false;
    };
    const failed = (err: unknown) => (idle && !opts.signal?.aborted ? silentWatch(this.server, err, idleMs) : transportError(this.server, err, controller.signal, idleMs, opts.signal));
    let response: IncomingMessage | undefined;
    try {
      touch();
      const watchOpts = { ...opts, query: { ...opts.query, watch: true } };
      try {
        response = await this.open('GET', path, watchOpts, undefined, controller.signal);
        // As for a request: a rotated token file or an exec plugin's expired token is read again.
        // Without this a watch refused 401 would be retried with the same token for as long as no
        // other call happened to refresh it (a reflector relists only after 410).
        if (response.statusCode === 401 && (await this.refreshAuth())) {
          response.destroy();
          response = await this.open('GET', path, watchOpts, undefined, controller.signal);
        }
      } catch (err) {
        throw failed(err);
      }
      const status = response.statusCode ?? 0;
      if (status < 200 || status >= 300) {
        const text = await readAll(response).catch(() => '');
        throw statusError(status, text, headerOf(response, 'retry-after'));
      }
      opts.onOpen?.();
      const lines = createInterface({ input: response, crlfDelay: Infinity });
      // Errors surface through the async iterator below; this listener only keeps an abort during
      // teardown from becoming an unhandled 'error' event.
      lines.on('error', () => {});
      try {
        for await (const line of lines) {
          touch();
          if (!line) continue;
          let event: WatchEvent<T>;
          try {
            event = parseKubernetesJson(line) as WatchEvent<T>;
          } catch {
            throw new KubeApiError(0, { code: 0, reason: 'InternalError', message: 'the Kubernetes API sent a watch event that is not JSON' });
          }
          if (event.type === 'ERROR') {
            const st = event.object as KubeStatus;
            throw new KubeApiError(st.code ?? 500, st);
          }
          // A handler that returns a promise holds the stream until it settles: the apiserver's
          // writes back up over TCP instead of piling up here.
          const held = opts.onEvent(event, Buffer.byteLength(line));
          if (held) {
            pause();
            await held;
            touch();
          }
        }
        // A response cut short (the connection dropped) ends like a normal close in readline.
        if (!response.complete) throw new Error('the watch connection was closed before the server ended it');
      } catch (err) {
        if (err instanceof KubeApiError) throw err;
        throw failed(err);
      } finally {
        lines.close();
      }
    } finally {
      pause();
      opts.signal?.removeEventListener('abort', onOuterAbort);
      response?.destroy();
      controller.abort();
    }
  }

  /** Releases pooled connections. */
  async close(): Promise<void> {
    const state = this.transportState;
    // A call after close makes new connections, as it did with node:https' agent alone.
    this.transportState = undefined;
    const t = await state?.catch(() => undefined);
    t?.agent.destroy();
    await t?.pool.destroy();
  }

  /**
   * The transport to send on now: one retired by a credentials refresh between our asking and
   * getting it (its pool closed, its headers old) is replaced by the new one.
   */
  private async liveTransport(): Promise<Transport> {
    const t = await this.transport();
    return t.pool.closed || t.pool.destroyed ? this.transport() : t;
  }

  /** A call other than a watch: over the pool (pooled-request.ts), the answer read whole. */
  private async send(method: string, path: string, opts: RequestOptions, body: string | undefined, signal: AbortSignal): Promise<RawResponse> {
    const t = await this.liveTransport();
    const url = this.urlOf(path, opts);
    const bytes = body === undefined ? undefined : Buffer.from(body, 'utf8');
    const headers = this.headersOf(t, opts, bytes);
    return sendPooled(t.pool, { method: method as Dispatcher.HttpMethod, path: url.pathname + url.search, headers, body: bytes ?? null }, signal);
  }

  /** A watch: over node:https, whose response streams the events line by line. */
  private async open(method: string, path: string, opts: RequestOptions, body: string | undefined, signal: AbortSignal): Promise<IncomingMessage> {
    const t = await this.liveTransport();
    const url = this.urlOf(path, opts);
    const bytes = body === undefined ? undefined : Buffer.from(body, 'utf8');
    const headers = this.headersOf(t, opts, bytes);
    const requestFn = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise<IncomingMessage>((resolve, reject) => {
      const req = requestFn(url, { method, headers, agent: t.agent, signal }, resolve);
      req.on('error', reject);
      req.end(bytes);
    });
  }

  private urlOf(path: string, opts: RequestOptions): URL {
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) {
      if (v !== undefined && v !== '') url.searchParams.set(k, String(v));
    }
    return url;
  }

  /**
   * The headers of a call, named in lower case: a caller's header replaces one of the same name
   * whatever its case (node:https did that by itself; undici would send both).
   */
  private headersOf(t: Transport, opts: RequestOptions, bytes: Buffer | undefined): Record<string, string | string[]> {
    // The apiserver's audit log names the client by its User-Agent (and so would managedFields,
    // were a write sent without a fieldManager); Node's http client sends none.
    const headers: Record<string, string | string[]> = { ...t.headers, accept: 'application/json', 'user-agent': 'crdgate' };
    for (const [k, v] of Object.entries(opts.headers ?? {})) {
      // Impersonation is decided here, from the caller's verified identity, and nowhere else.
      if (!/^impersonate-/i.test(k)) headers[k.toLowerCase()] = v;
    }
    // The body goes as bytes: with a string body Node writes the header block as UTF-8 along with
    // it, without one as Latin-1, and impersonation headers must reach Kubernetes as the same bytes
    // whatever the method (see impersonationHeaders). undici writes it as Latin-1 always.
    if (bytes !== undefined) {
      headers['content-type'] = opts.contentType ?? 'application/json';
      headers['content-length'] = String(bytes.length);
    }
    if (opts.impersonate) {
      for (const [k, v] of Object.entries(impersonationHeaders(opts.impersonate))) headers[k.toLowerCase()] = v;
    }
    return headers;
  }

  /**
   * TLS material and credentials from the kubeconfig, read once; one keep-alive pool for the calls
   * (pooled-request.ts) and one for the watches, with the same TLS options.
   */
  private transport(): Promise<Transport> {
    this.transportState ??= (async () => {
      const o: HttpsRequestOptions = {};
      await this.kc.applyToHTTPSOptions(o);
      // client-node's applyToHTTPSOptions also sets an agent; ours is shared and keeps connections.
      (o.agent as HttpsAgent | undefined)?.destroy?.();
      const tls: PoolTls = {
        ca: o.ca, cert: o.cert, key: o.key, pfx: o.pfx, passphrase: o.passphrase,
        ...(o.rejectUnauthorized !== undefined ? { rejectUnauthorized: o.rejectUnauthorized } : {}),
        ...(o.servername ? { servername: o.servername } : {}),
      };
      const https = this.url.protocol === 'https:';
      // No maxSockets: a watch holds its socket as long as it runs, and one past a cap would wait
      // in the agent's queue, unsent, with nothing said (its subscribers and caches silent). How
      // many watches there are is bounded where they are made (budgets, the query cache's stores).
      const agent = https ? new ServerAgent({ keepAlive: true, ...tls } as HttpsAgentOptions) : new HttpAgent({ keepAlive: true });
      const pool = newApiPool(this.url.origin, https ? tls : {});
      const headers: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(o.headers ?? {})) {
        if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.map(String) : String(v);
      }
      if (o.auth) headers.authorization = `Basic ${Buffer.from(o.auth).toString('base64')}`;
      this.authAt = Date.now();
      return { agent, pool, headers };
    })();
    this.transportState.catch(() => (this.transportState = undefined));
    return this.transportState;
  }

  /**
   * A 401 may mean an expired token from an exec plugin or a rotated token file: read them again.
   * Calls refused together share one reading; the old pool is closed, not destroyed, so that the
   * calls still on it (and their repeats, made on the new one) are answered.
   */
  private refreshAuth(): Promise<boolean> {
    return (this.refreshing ??= this.readAuthAgain().finally(() => {
      this.refreshing = undefined;
    }));
  }

  private async readAuthAgain(): Promise<boolean> {
    if (Date.now() - this.authAt < 1_000) return false;
    const old = await this.transportState?.catch(() => undefined);
    this.transportState = undefined;
    const fresh = await this.transport();
    old?.agent.destroy();
    old?.pool.close().catch(() => {});
    return JSON.stringify(fresh.headers) !== JSON.stringify(old?.headers);
  }
}

/** The body of a 2xx answer, read as Kubernetes JSON (undefined when empty). */
function answerOf<T>(res: RawResponse): T {
  try {
    return (res.text ? parseKubernetesJson(res.text) : undefined) as T;
  } catch {
    throw new KubeApiError(res.status, { code: res.status, reason: 'InternalError', message: 'the Kubernetes API answered with a body that is not JSON' });
  }
}

/** What a guarded observer's settled is given for a call its started threw on: nothing to settle. */
const notStarted: unique symbol = Symbol('not started');

/**
 * An observer that never throws: a failure of `observer` goes to onFailure the first time only;
 * a call its started threw on is never settled (it holds nothing of it).
 */
export function guardedObserver<S>(observer: KubeCallObserver<S>, onFailure: (err: unknown) => void): KubeCallObserver<S | typeof notStarted> {
  let failed = false;
  const report = (err: unknown) => {
    if (failed) return;
    failed = true;
    try {
      onFailure(err);
    } catch {
      // A reporter that fails has nowhere left to report to; the call goes on all the same.
    }
  };
  return {
    started(method, path) {
      try {
        return observer.started(method, path);
      } catch (err) {
        report(err);
        return notStarted;
      }
    },
    settled(started, method, err) {
      if (started === notStarted) return;
      try {
        observer.settled(started, method, err);
      } catch (e) {
        report(e);
      }
    },
  };
}

/** The default report of an observer's first failure: a process warning. */
export function warnObserverFailure(err: unknown): void {
  process.emitWarning(`an observer of Kubernetes calls failed; its later failures are not reported: ${errorWithStack(err)}`);
}

/** Two observers as one, told in order. */
function bothObservers(first: KubeCallObserver, second: KubeCallObserver): KubeCallObserver<[unknown, unknown]> {
  return {
    started: (method, path) => [first.started(method, path), second.started(method, path)],
    settled: (started, method, err) => {
      first.settled(started[0], method, err);
      second.settled(started[1], method, err);
    },
  };
}

/**
 * The keep-alive pool of one KubeClient: one server, one set of TLS options, fixed when it is made.
 * Node's https Agent names each request's pool from the host and port plus every TLS option of the
 * request merged with the agent's (the CA, the client certificate and key as text): for each
 * request it turns those into a string of several KB and looks the pool up by it, a few percent of
 * the gateway's CPU per get. Here the TLS options cannot differ between requests, so the name is
 * the host, port and address family alone (what the plain http Agent uses).
 */
class ServerAgent extends HttpsAgent {
  override getName(options?: HttpsRequestOptions): string {
    return HttpAgent.prototype.getName.call(this, options);
  }
}

interface Transport {
  /** The watches' connections. */
  agent: HttpsAgent | HttpAgent;
  /** Every other call's connections. */
  pool: ApiPool;
  /** The kubeconfig's headers (credentials), named in lower case. */
  headers: Record<string, string | string[]>;
}

interface RawResponse {
  status: number;
  text: string;
  retryAfter: string | null;
  warnings?: string[];
}

function readAll(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
    res.on('aborted', () => reject(new Error('the response was cut short')));
  });
}

function headerOf(res: IncomingMessage, name: string): string | null {
  const v = res.headers[name];
  return Array.isArray(v) ? (v[0] ?? null) : (v ?? null);
}

/**
 * Impersonation headers. Each group and each extra value is a header line of its own: Kubernetes
 * reads one value per line, so "g1, g2" on one line would name a single group called "g1, g2".
 * Node's http client sends an array value as repeated lines; fetch would join them.
 *
 * Kubernetes reads header values as UTF-8 bytes; Node's http client writes each character of a
 * header value as one byte (Latin-1, when the body is bytes or absent: KubeClient sends it so) and
 * refuses characters beyond U+00FF. So each value is given to it as its UTF-8 bytes, one character
 * per byte: "josé" arrives as josé, and "josÃ©" (another name, whose characters are josé's UTF-8
 * bytes) arrives as itself, not as josé.
 */
export function impersonationHeaders(who: Impersonation): Record<string, string | string[]> {
  // HTTP drops blanks around header values: " system:masters" would reach Kubernetes as
  // system:masters. Such values never come from a verified identity; refuse them here too, and
  // unpaired surrogates, which have no UTF-8 bytes of their own (they would arrive as U+FFFD).
  const check = (v: string) => {
    if (!isSafeIdentityValue(v)) throw new Error(`refusing to impersonate with the value ${JSON.stringify(v)}`);
    return utf8Bytes(v);
  };
  const headers: Record<string, string | string[]> = { 'Impersonate-User': check(who.user) };
  if (who.groups?.length) headers['Impersonate-Group'] = who.groups.map(check);
  if (who.uid) headers['Impersonate-Uid'] = check(who.uid);
  for (const [key, values] of Object.entries(who.extra ?? {})) {
    if (!key.isWellFormed()) throw new Error(`refusing to impersonate with the extra key ${JSON.stringify(key)}`);
    if (values.length) headers[`Impersonate-Extra-${escapeHeaderKey(key)}`] = values.map(check);
  }
  return headers;
}

/**
 * A user, group, uid or extra value that reaches Kubernetes exactly as written: not empty, no
 * blanks at the ends (HTTP drops them), no control characters, and well-formed UTF-16 (an unpaired
 * surrogate has no UTF-8 spelling: it would reach Kubernetes as U+FFFD, the name of whoever is
 * called that).
 */
export function isSafeIdentityValue(v: string): boolean {
  // eslint-disable-next-line no-control-regex
  return v.length > 0 && v === v.trim() && !/[\u0000-\u001f\u007f]/.test(v) && v.isWellFormed();
}

/** A string's UTF-8 bytes as a string of one character per byte (ASCII comes back as it is). */
function utf8Bytes(v: string): string {
  // eslint-disable-next-line no-control-regex
  return /^[\u0000-\u007f]*$/.test(v) ? v : Buffer.from(v, 'utf8').toString('latin1');
}

/**
 * Extra keys travel in header names, which allow only token characters and are case-insensitive:
 * like client-go, every other byte is percent-encoded (the apiserver decodes them).
 */
export function escapeHeaderKey(key: string): string {
  let out = '';
  for (const byte of Buffer.from(key, 'utf8')) {
    const ch = String.fromCharCode(byte);
    out += /[!#$&'*+\-.^_`|~0-9A-Za-z]/.test(ch) && ch !== '%' ? ch : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function statusError(httpStatus: number, text: string, retryAfter: string | null): KubeApiError {
  let status: KubeStatus | undefined;
  try {
    const parsed = JSON.parse(text) as KubeStatus;
    if (parsed && typeof parsed === 'object' && parsed.kind === 'Status') status = parsed;
  } catch {
    // not a Status: handled below
  }
  // Some answers are not a Status (API Priority and Fairness rejects with plain text): like
  // client-go's NewGenericServerResponse, derive the reason from the HTTP code.
  status ??= { code: httpStatus, reason: reasonForCode(httpStatus), message: text.trim().slice(0, 500) || `HTTP ${httpStatus}` };
  status.code ??= httpStatus;
  const seconds = retryAfter && /^\d+$/.test(retryAfter) ? Number(retryAfter) : undefined;
  return new KubeApiError(httpStatus, status, seconds);
}

function reasonForCode(code: number): string | undefined {
  const reasons: Record<number, string> = {
    400: 'BadRequest', 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound', 405: 'MethodNotAllowed', 409: 'Conflict',
    410: 'Gone', 413: 'RequestEntityTooLarge', 415: 'UnsupportedMediaType', 422: 'Invalid', 429: 'TooManyRequests',
    500: 'InternalError', 503: 'ServiceUnavailable', 504: 'Timeout',
  };
  return reasons[code];
}

/** Why a call got no answer, as the Status its caller gets; where the gateway connects to only in the log message. */
export function transportError(server: string, err: unknown, signal: AbortSignal, timeoutMs: number, callerSignal: AbortSignal | undefined): KubeApiError {
  if (callerSignal?.aborted) {
    return new KubeApiError(0, { code: 0, reason: 'Canceled', message: 'the request was cancelled' }, undefined, { cause: err });
  }
  // The apiserver's address goes to the log only (the error's message); callers get the Status.
  if (!signal.aborted && (err as Error)?.name === 'TimeoutError') {
    const said = (err as Error).message;
    return new KubeApiError(504, { code: 504, reason: 'Timeout', message: said }, undefined, { cause: err, logMessage: `${said} (${server})` });
  }
  if (signal.aborted) {
    return new KubeApiError(504, { code: 504, reason: 'Timeout', message: `the Kubernetes API did not answer within ${timeoutMs} ms` }, undefined,
      { cause: err, logMessage: `the Kubernetes API at ${server} did not answer within ${timeoutMs} ms` });
  }
  const detail = (err as { cause?: { code?: string; message?: string } })?.cause;
  const code = (err as NodeJS.ErrnoException)?.code ?? detail?.code;
  const why = code ?? detail?.message ?? (err as Error)?.message ?? String(err);
  // An error code (ECONNREFUSED, CERT_HAS_EXPIRED) names no host; a message may (ENOTFOUND's does).
  const said = code && /^[A-Z][A-Z0-9_]*$/.test(code) ? `: ${code}` : '';
  return new KubeApiError(0, { code: 0, reason: 'ServiceUnavailable', message: `cannot reach the Kubernetes API${said}` }, undefined,
    { cause: err, logMessage: `cannot reach the Kubernetes API at ${server}: ${why}` });
}

/** A watch the server sent nothing on for its idle bound: a lost connection, as one that broke. */
function silentWatch(server: string, err: unknown, idleMs: number): KubeApiError {
  const seconds = Math.round(idleMs / 100) / 10;
  return new KubeApiError(0, { code: 0, reason: 'ServiceUnavailable', message: `the Kubernetes API sent nothing on the watch for ${seconds} s` }, undefined,
    { cause: err, logMessage: `the Kubernetes API at ${server} sent nothing on the watch for ${seconds} s` });
}

/**
 * What a caller of the gateway may read of a failed Kubernetes call: the Status message, never the
 * error's own message, which may name where the gateway connects to (see transportError), and
 * without where the apiserver's own calls failed (internal-addresses.ts).
 */
export function callerMessageOf(err: unknown): string | undefined {
  if (!(err instanceof KubeApiError) || err.status.message === undefined) return undefined;
  return callerText(err.status.message, err.httpStatus || err.status.code || 0);
}
