// The JSON body parser of the GraphQL endpoint: express.json's behaviour (a JSON object or array
// in a UTF charset, an empty body read as {}, body-parser's error types), with the lossless parse
// of lossless-json.ts. body-parser's own JSON.parse would round 9223372036854775807 in variables
// to 9223372036854775808 before any scalar could see it.
import express from 'express';
import { parseJson } from '../kube/lossless-json.ts';

/** Marks an error the way body-parser does, so the final error handler answers it as the client's mistake. */
function bodyError(error: Error, status: number, type: string): Error {
  return Object.assign(error, { status, statusCode: status, type, expose: true });
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
      return next(bodyError(err instanceof Error ? err : new SyntaxError(String(err)), 400, 'entity.parse.failed'));
    }
    next();
  };
  return [checkCharset, readText, parse];
}
