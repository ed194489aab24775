// The calls of KubeClient.request (get, list, create, update, patch, delete: not watches) over an
// undici Pool instead of node:https. Per call the gateway's own CPU for the apiserver client is
// about a third lower (scripts/bench-kube-client.ts): no ClientRequest and IncomingMessage
// streams, no per-request agent bookkeeping, the answer's bytes handed to a callback. The
// connections are what node:https made: HTTP/1.1 (undici would otherwise offer HTTP/2 to the
// apiserver), TLS with the kubeconfig's CA, client certificate and key, server name and
// verification, keep-alive, at most 256 of them, one request at a time on each, and no timeout
// of their own: the call's deadline (KubeClient.request) is the only one, as it was.
//
// Only the Pool is loaded, not undici's index, which brings fetch, WebSocket, caches and mocks
// (about 12 MiB more of RSS for the life of the process).
import type { ConnectionOptions } from 'node:tls';
import type { Dispatcher } from 'undici';
import Pool from 'undici/lib/dispatcher/pool.js';
import symbols from 'undici/lib/core/symbols.js';

/** The option through which undici's pool hands a queued call the means to leave its queue. */
const kQueuedAbort: symbol = (symbols as { kQueuedAbort: symbol }).kQueuedAbort;
if (typeof kQueuedAbort !== 'symbol') throw new Error('undici: kQueuedAbort is missing; the pinned version is expected');

export type ApiPool = Pool;

/** The TLS options of the kubeconfig that a connection to the apiserver uses. */
export type PoolTls = Pick<ConnectionOptions, 'ca' | 'cert' | 'key' | 'pfx' | 'passphrase' | 'rejectUnauthorized' | 'servername'>;

/**
 * Below the apiserver's own idle timeout (90 s): the pool closes an idle connection before the
 * server does, so a call is never sent on one the server is closing.
 */
const idleMs = 60_000;

export function newApiPool(origin: string, tls: PoolTls): ApiPool {
  return new Pool(origin, {
    connections: 256,
    pipelining: 1,
    allowH2: false,
    keepAliveTimeout: idleMs,
    connectTimeout: 0,
    headersTimeout: 0,
    bodyTimeout: 0,
    connect: { ...tls } as Pool.Options['connect'],
  });
}

export interface PooledAnswer {
  status: number;
  text: string;
  retryAfter: string | null;
  /** The answer's Warning headers (deprecated versions, unknown fields dropped), if any. */
  warnings?: string[];
}

/**
 * One call: resolves with the answer's status, its body as text and its Retry-After once the
 * body is in; rejects with the transport's error, or with the signal's reason as soon as it is
 * aborted (a call still waiting for a connection is then never sent; one in flight has its
 * connection closed).
 */
export function sendPooled(pool: ApiPool, options: Dispatcher.DispatchOptions, signal: AbortSignal): Promise<PooledAnswer> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const chunks: Buffer[] = [];
    let answer: Omit<PooledAnswer, 'text'> | undefined;
    let controller: Dispatcher.DispatchController | undefined;
    let settled = false;
    const settle = (err: unknown, value?: PooledAnswer) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      if (value) resolve(value);
      else reject(err);
    };
    // While the call waits for a connection the pool can take it out of its queue; aborting it
    // once it starts would close the connection it was given, unused.
    let leaveQueue: ((reason: unknown) => void) | undefined;
    const onAbort = () => {
      if (controller) controller.abort(signal.reason);
      else leaveQueue?.(signal.reason);
      settle(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    const queued = { [kQueuedAbort]: (cancel: (reason: unknown) => void) => { leaveQueue = cancel; } };
    pool.dispatch({ ...options, ...queued } as Dispatcher.DispatchOptions, {
      onRequestStart(c) {
        controller = c;
        leaveQueue = undefined;
        if (signal.aborted) c.abort(signal.reason);
      },
      onResponseStart(_c, status, headers) {
        const v = headers['retry-after'];
        const w = headers['warning'];
        answer = { status, retryAfter: (Array.isArray(v) ? v[0] : v) ?? null, ...(w !== undefined ? { warnings: Array.isArray(w) ? w : [w] } : {}) };
      },
      onResponseData(_c, chunk) {
        chunks.push(chunk);
      },
      onResponseEnd() {
        settle(undefined, { ...answer!, text: Buffer.concat(chunks).toString('utf8') });
      },
      onResponseError(_c, err) {
        settle(asNodeError(err, answer !== undefined));
      },
    });
  });
}

/**
 * undici's own errors as node:https reported the same failures, so that a failed call says what it
 * said before (transportError in kube-client.ts puts the code in the Status message, never the
 * error's message, which may name the apiserver's address): the connection closed before an
 * answer (by the server, or by the client closing under its calls) is ECONNRESET (Node's "socket
 * hang up"), closed while the body was coming a cut-short answer, a connection not made in time
 * ETIMEDOUT, an answer that is not HTTP or whose headers are too large Node's parser error, and an
 * answer not in time a TimeoutError, told as the call's deadline is. The Pool's options
 * (newApiPool) turn undici's timeouts off; they are mapped all the same. undici's other errors are
 * of a request the gateway built wrong (UND_ERR_INVALID_ARG...) or of what it does not use
 * (proxies, redirects, retries, size limits): they keep their code, as Node's ERR_INVALID_CHAR did.
 */
export function asNodeError(err: Error, answered: boolean): Error {
  const code = (err as { code?: string }).code;
  switch (code) {
    case 'UND_ERR_SOCKET':
    case 'UND_ERR_CLOSED':
    case 'UND_ERR_DESTROYED':
    case 'UND_ERR_INFO':
    case 'UND_ERR_ABORTED':
    case 'UND_ERR_ABORT':
      return answered ? uncoded('the response was cut short') : coded('socket hang up', 'ECONNRESET', err);
    case 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH':
      return uncoded('the response does not match its Content-Length');
    case 'UND_ERR_CONNECT_TIMEOUT':
      return coded('connect ETIMEDOUT', 'ETIMEDOUT', err);
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
      return new DOMException(`the Kubernetes API did not send its ${code === 'UND_ERR_HEADERS_TIMEOUT' ? 'headers' : 'body'} in time`, 'TimeoutError');
    case 'UND_ERR_HEADERS_OVERFLOW':
      return coded('Header overflow', 'HPE_HEADER_OVERFLOW', err);
    default:
      // undici's HTTPParserError mostly lacks llhttp's code (HPE_INVALID_CONSTANT...), which Node's parser gave.
      if (err.name === 'HTTPParserError') return code ? coded('Parse Error', code, err) : uncoded('Parse Error: the answer is not HTTP/1.1');
      return err;
  }
}

function coded(message: string, code: string, cause: Error): Error {
  return Object.assign(new Error(message, { cause }), { code });
}

/** Without undici's error as its cause: transportError would read undici's code from it. */
function uncoded(message: string): Error {
  return new Error(message);
}
