// The JSON body parser of the GraphQL endpoint: express.json's behaviour (a JSON object or array
// in a UTF charset, an empty body read as {}, body-parser's error types), with the lossless parse
// of lossless-json.ts. body-parser's own JSON.parse would round 9223372036854775807 in variables
// to 9223372036854775808 before any scalar could see it.
//
// What nearly every client sends (Content-Type application/json, no charset or UTF-8, no
// Content-Encoding) is read here directly as UTF-8, with raw-body's limits and typed errors;
// everything else (other UTF charsets, compressed bodies, media type parameters) goes through
// body-parser as before. body-parser's path costs each request a media type parse (type-is,
// content-type), an iconv decoder, an async resource and its debug calls.
import { AsyncResource } from 'node:async_hooks';
import type { IncomingMessage } from 'node:http';
import express from 'express';
import { exactNumbersOrMarked, firstUnrepresentable, parseJson, UnrepresentableNumberError } from '../kube/lossless-json.ts';

/** Marks an error the way body-parser does, so the final error handler answers it as the client's mistake. */
function bodyError(error: Error, status: number, type: string, fields: Record<string, unknown> = {}): Error {
  return Object.assign(error, { status, statusCode: status, type, expose: true }, fields);
}

/** A size as body-parser reads its `limit` option (the bytes package: b, kb, mb, gb, tb, pb, 1024-based). */
export function byteLimit(limit: string): number | null {
  const units: Record<string, number> = { b: 1, kb: 2 ** 10, mb: 2 ** 20, gb: 2 ** 30, tb: 2 ** 40, pb: 2 ** 50 };
  const m = /^((-|\+)?(\d+(?:\.\d+)?)) *(kb|mb|gb|tb|pb)$/i.exec(limit);
  const value = m ? parseFloat(m[1]!) : parseInt(limit, 10);
  if (Number.isNaN(value)) return null;
  return Math.floor(units[m ? m[4]!.toLowerCase() : 'b']! * value);
}

/** The media types the direct reader takes; anything else is body-parser's. */
const plainJson = /^application\/json(?:\s*;\s*charset\s*=\s*(?:utf-8|"utf-8"))?$/i;

/**
 * Reads a request body as UTF-8 text as raw-body would for body-parser (limit checked against
 * Content-Length first, then against the bytes received; a short body or an aborted request is a
 * 400; a leading byte order mark dropped, as iconv-lite's decoder does), then calls done. After an
 * error the rest of the request is read off before done is called, as body-parser does.
 */
function readUtf8(req: IncomingMessage, limit: number, done: (err: Error | null, text?: string) => void): void {
  const header = req.headers['content-length'];
  const length = header !== undefined && !Number.isNaN(Number(header)) ? parseInt(header, 10) : null;
  const fail = (err: Error) => {
    cleanup();
    req.unpipe();
    req.pause();
    // Read off the rest of the request, then answer (once, whether it ends or closes).
    if (req.complete) return done(err);
    let answered = false;
    const answer = () => {
      if (answered) return;
      answered = true;
      done(err);
    };
    req.once('end', answer);
    req.once('close', answer);
    req.resume();
  };
  const chunks: Buffer[] = [];
  let received = 0;
  let finished = false;
  const onData = (chunk: Buffer) => {
    if (finished) return;
    received += chunk.length;
    if (received > limit) {
      finished = true;
      fail(bodyError(new Error('request entity too large'), 413, 'entity.too.large', { limit, received }));
    } else chunks.push(chunk);
  };
  const onEnd = () => {
    if (finished) return;
    finished = true;
    cleanup();
    if (length !== null && received !== length) {
      return done(bodyError(new Error('request size did not match content length'), 400, 'request.size.invalid', { expected: length, length, received }));
    }
    const text = (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received)).toString('utf8');
    done(null, text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  };
  const onAborted = () => {
    if (finished) return;
    finished = true;
    fail(bodyError(Object.assign(new Error('request aborted'), { code: 'ECONNABORTED' }), 400, 'request.aborted', { expected: length, length, received }));
  };
  const onError = (err: Error) => {
    if (finished) return;
    finished = true;
    fail(bodyError(err, 400, (err as { type?: string }).type ?? 'request.error'));
  };
  function cleanup() {
    req.off('data', onData);
    req.off('end', onEnd);
    req.off('aborted', onAborted);
    req.off('error', onError);
    req.off('close', cleanup);
  }
  if (length !== null && length > limit) {
    process.nextTick(fail, bodyError(new Error('request entity too large'), 413, 'entity.too.large', { expected: length, length, limit }));
    return;
  }
  req.on('data', onData);
  req.on('end', onEnd);
  req.on('aborted', onAborted);
  req.on('error', onError);
  req.on('close', cleanup);
}

export function losslessJsonBody(limit: string): express.RequestHandler[] {
  const readText = express.text({ type: 'application/json', limit });
  const checkCharset: express.RequestHandler = (req, _res, next) => {
    // RFC 8259: JSON is UTF-8 (body-parser also reads UTF-16 and UTF-32); anything else is refused.
    const charset = /;\s*charset\s*=\s*"?([^";\s]*)/i.exec(req.get('content-type') ?? '')?.[1]?.toLowerCase();
    if (charset !== undefined && !charset.startsWith('utf-') && req.is('application/json')) {
      return next(bodyError(new Error(`unsupported charset "${charset.toUpperCase()}"`), 415, 'charset.unsupported'));
    }
    next();
  };
  const bytes = byteLimit(limit);
  const read: express.RequestHandler = (req, res, next) => {
    const type = req.headers['content-type'];
    const encoding = req.headers['content-encoding'];
    const direct = bytes !== null && type !== undefined && plainJson.test(type) && (encoding === undefined || encoding.toLowerCase() === 'identity')
      // body-parser's own conditions for reading at all: a body announced, not read already.
      && (req.headers['transfer-encoding'] !== undefined || !Number.isNaN(Number(req.headers['content-length'])))
      && !req.readableEnded;
    if (!direct) return checkCharset(req, res, (err?: unknown) => (err ? next(err) : readText(req, res, next)));
    // Run in the caller's async context, as raw-body runs its callback: the stream's events run
    // in the socket's context, and the handlers after this one (tracing's active span, the
    // request's context) must run in the request's. AsyncResource.bind would do the same, but
    // also defines two deprecated accessors on each bound function (~0.8 KiB per request).
    const resource = new AsyncResource('crdgate.json-body');
    readUtf8(req, bytes, (err: Error | null, text?: string) => resource.runInAsyncScope(() => {
      if (err) return next(err);
      req.body = text;
      next();
    }));
  };
  const parse: express.RequestHandler = (req, _res, next) => {
    if (typeof req.body !== 'string') return next();
    const text = req.body;
    if (text.length === 0) {
      req.body = {};
      return next();
    }
    const first = /^[\x20\x09\x0a\x0d]*(.?)/.exec(text)![1];
    if (first !== '{' && first !== '[') {
      return next(bodyError(new SyntaxError('a GraphQL request body is a JSON object'), 400, 'entity.parse.failed'));
    }
    try {
      req.body = parseJson(text);
    } catch (err) {
      return next(bodyError(withPlace(text, err instanceof Error ? err : new SyntaxError(String(err))), 400, 'entity.parse.failed'));
    }
    next();
  };
  return [read, parse];
}

/**
 * A number a double cannot hold, with where it is in the body (`variables.n`), as graphql-ws says
 * for the same number in a subscribe message. Read again only on this refusal: the parse that
 * refused stops at the number, without its path.
 */
export function withPlace(text: string, err: Error): Error {
  if (!(err instanceof UnrepresentableNumberError)) return err;
  let found: ReturnType<typeof firstUnrepresentable>;
  try {
    found = firstUnrepresentable(JSON.parse(text, exactNumbersOrMarked as (key: string, value: unknown) => unknown));
  } catch {
    return err;
  }
  return found?.path ? new SyntaxError(`${err.message} (at ${found.path})`) : err;
}
