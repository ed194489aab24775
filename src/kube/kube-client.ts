// The dynamic (unstructured) Kubernetes client: JSON in, JSON out, on any path. Authentication and
// TLS come from @kubernetes/client-node's KubeConfig (tokens, client certificates, exec plugins), so
// this file only adds what crdgate needs on top: a deadline on every call, cancellation, a typed
// error carrying the apiserver's Status, and watches that report how they ended.
import { HttpMethod, RequestContext, type KubeConfig } from '@kubernetes/client-node';
import { fetch, Headers, type Dispatcher } from 'undici';
import { createInterface } from 'node:readline';
import { stringifyKubernetesJson } from '../model/kubernetes-json.ts';
import { Readable } from 'node:stream';

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
    causes?: { type?: string; message?: string; field?: string }[];
  };
}

/** An error answer from the apiserver, or a failure to reach it (code 0). */
export class KubeApiError extends Error {
  readonly status: KubeStatus;
  readonly httpStatus: number;
  readonly retryAfterSeconds: number | undefined;

  constructor(httpStatus: number, status: KubeStatus, retryAfterSeconds?: number, options?: { cause?: unknown }) {
    super(status.message ?? `Kubernetes API answered ${httpStatus}`, options);
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
}

export interface WatchEvent<T = Record<string, unknown>> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

export interface KubeClientOptions {
  /** Deadline of every non-watch call. */
  timeoutMs?: number;
}

export class KubeClient {
  readonly kc: KubeConfig;
  readonly server: string;
  private readonly timeoutMs: number;

  constructor(kc: KubeConfig, opts: KubeClientOptions = {}) {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    this.kc = kc;
    this.server = cluster.server.replace(/\/+$/, '');
    this.timeoutMs = opts.timeoutMs ?? 30_000;
  }

  async request<T = unknown>(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, opts: RequestOptions = {}): Promise<T> {
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    const signals = [AbortSignal.timeout(timeoutMs)];
    if (opts.signal) signals.push(opts.signal);
    const signal = AbortSignal.any(signals);
    const { url, headers, dispatcher } = await this.prepare(method, path, opts);
    let body: string | undefined;
    if (opts.body !== undefined) {
      // Int64 fields beyond 2^53 travel as bigint; JSON.stringify would throw on them.
      body = typeof opts.body === 'string' ? opts.body : stringifyBody(opts.body);
      headers.set('Content-Type', opts.contentType ?? 'application/json');
    }
    let response;
    try {
      response = await fetch(url, { method, headers, body, dispatcher, signal });
    } catch (err) {
      throw transportError(this.server, err, signal, timeoutMs, opts.signal);
    }
    let text: string;
    try {
      text = await response.text();
    } catch (err) {
      throw transportError(this.server, err, signal, timeoutMs, opts.signal);
    }
    if (!response.ok) throw statusError(response.status, text, response.headers.get('retry-after'));
    if (!text) return undefined as T;
    try {
      return parseKubernetesJson(text) as T;
    } catch {
      throw new KubeApiError(response.status, { code: response.status, reason: 'InternalError', message: 'the Kubernetes API answered with a body that is not JSON' });
    }
  }

  /**
   * Opens a watch and calls onEvent for each event, in order. Resolves when the server ends the
   * watch normally (timeoutSeconds elapsed); rejects with KubeApiError when it cannot be opened or
   * the server sends an ERROR event (e.g. 410 Gone), or with code 0 on a broken connection.
   */
  async watch<T = Record<string, unknown>>(path: string, opts: RequestOptions & { onEvent: (e: WatchEvent<T>) => void; onOpen?: () => void; idleTimeoutMs?: number }): Promise<void> {
    const controller = new AbortController();
    const onOuterAbort = () => controller.abort(opts.signal?.reason);
    opts.signal?.addEventListener('abort', onOuterAbort, { once: true });
    // A watch with no bytes for this long is considered dead (a half-open TCP connection would
    // otherwise hang forever). Bookmarks and the server's own timeout keep healthy watches talking.
    const idleMs = opts.idleTimeoutMs ?? 0;
    let idleTimer: NodeJS.Timeout | undefined;
    let teardown = () => {};
    const touch = () => {
      if (!idleMs) return;
      clearTimeout(idleTimer);
      idleTimer = setTimeout(() => controller.abort(new Error('watch idle timeout')), idleMs);
      idleTimer.unref();
    };
    try {
      const { url, headers, dispatcher } = await this.prepare('GET', path, { ...opts, query: { ...opts.query, watch: true } });
      touch();
      let response;
      try {
        response = await fetch(url, { method: 'GET', headers, dispatcher, signal: controller.signal });
      } catch (err) {
        throw transportError(this.server, err, controller.signal, idleMs, opts.signal);
      }
      if (!response.ok) {
        const text = await response.text().catch(() => '');
        throw statusError(response.status, text, response.headers.get('retry-after'));
      }
      opts.onOpen?.();
      if (!response.body) return;
      const body = Readable.fromWeb(response.body as import('node:stream/web').ReadableStream);
      const lines = createInterface({ input: body, crlfDelay: Infinity });
      // Errors surface through the async iterator below; these listeners only keep an abort during
      // teardown from becoming an unhandled 'error' event.
      body.on('error', () => {});
      lines.on('error', () => {});
      teardown = () => {
        lines.close();
        body.destroy();
      };
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
            const status = event.object as KubeStatus;
            throw new KubeApiError(status.code ?? 500, status);
          }
          onEvent(event);
        }
      } catch (err) {
        if (err instanceof KubeApiError) throw err;
        throw transportError(this.server, err, controller.signal, idleMs, opts.signal);
      }
    } finally {
      teardown();
      clearTimeout(idleTimer);
      opts.signal?.removeEventListener('abort', onOuterAbort);
      controller.abort();
    }

    function onEvent(e: WatchEvent<T>) {
      opts.onEvent(e);
    }
  }

  private async prepare(method: string, path: string, opts: RequestOptions): Promise<{ url: URL; headers: Headers; dispatcher: Dispatcher | undefined }> {
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) {
      if (v !== undefined && v !== '') url.searchParams.set(k, String(v));
    }
    const ctx = new RequestContext(url.toString(), method as HttpMethod);
    await this.kc.applySecurityAuthentication(ctx);
    const headers = new Headers(ctx.getHeaders() as unknown as Record<string, string>);
    headers.set('Accept', 'application/json');
    for (const [k, v] of Object.entries(opts.headers ?? {})) headers.set(k, v);
    if (opts.impersonate) applyImpersonation(headers, opts.impersonate);
    return { url, headers, dispatcher: ctx.getDispatcher() as Dispatcher | undefined };
  }
}

/** One Impersonate-Group header per group: joining them with commas would name one odd group. */
export function applyImpersonation(headers: Headers, who: Impersonation): void {
  for (const name of [...headers.keys()]) {
    if (name.toLowerCase().startsWith('impersonate-')) headers.delete(name);
  }
  headers.set('Impersonate-User', who.user);
  for (const g of who.groups ?? []) headers.append('Impersonate-Group', g);
  if (who.uid) headers.set('Impersonate-Uid', who.uid);
  for (const [key, values] of Object.entries(who.extra ?? {})) {
    // Header names are case-insensitive, so extra keys are percent-encoded as Kubernetes requires.
    const name = `Impersonate-Extra-${encodeURIComponent(key)}`;
    for (const v of values) headers.append(name, v);
  }
}

function stringifyBody(body: unknown): string {
  try {
    return JSON.stringify(body);
  } catch {
    return stringifyKubernetesJson(body);
  }
}

/**
 * JSON.parse, except that integers beyond 2^53 (int64 fields) keep every digit as bigint. The
 * reviver costs time, so it only runs when the text has a run of digits long enough to matter.
 */
export function parseKubernetesJson(text: string): unknown {
  if (!/\d{16}/.test(text)) return JSON.parse(text);
  return JSON.parse(text, (_key, value, context?: { source?: string }) => {
    if (typeof value === 'number' && !Number.isSafeInteger(value) && context?.source && /^-?\d+$/.test(context.source)) {
      return BigInt(context.source);
    }
    return value;
  });
}

function statusError(httpStatus: number, text: string, retryAfter: string | null): KubeApiError {
  let status: KubeStatus;
  try {
    const parsed = JSON.parse(text) as KubeStatus;
    status = parsed && typeof parsed === 'object' && parsed.kind === 'Status' ? parsed : { code: httpStatus, message: text.slice(0, 500) };
  } catch {
    status = { code: httpStatus, message: text.slice(0, 500) || `HTTP ${httpStatus}` };
  }
  status.code ??= httpStatus;
  const seconds = retryAfter && /^\d+$/.test(retryAfter) ? Number(retryAfter) : undefined;
  return new KubeApiError(httpStatus, status, seconds);
}

function transportError(server: string, err: unknown, signal: AbortSignal, timeoutMs: number, callerSignal: AbortSignal | undefined): KubeApiError {
  if (callerSignal?.aborted) {
    return new KubeApiError(0, { code: 0, reason: 'Canceled', message: 'the request was cancelled' }, undefined, { cause: err });
  }
  if (signal.aborted) {
    return new KubeApiError(504, { code: 504, reason: 'Timeout', message: `the Kubernetes API at ${server} did not answer within ${timeoutMs} ms` }, undefined, { cause: err });
  }
  const detail = (err as { cause?: { code?: string; message?: string } })?.cause;
  const why = detail?.code ?? detail?.message ?? (err as Error)?.message ?? String(err);
  return new KubeApiError(0, { code: 0, reason: 'ServiceUnavailable', message: `cannot reach the Kubernetes API at ${server}: ${why}` }, undefined, { cause: err });
}
