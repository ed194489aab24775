// What a client gets when Node's HTTP parser refuses its request before the app sees it (a URL or
// headers over the size limit, a malformed request line, a request that took too long to arrive):
// the same status Node would answer, as an RFC 9457 problem document of the error catalog instead
// of an empty body, so a client that built a long URL (a REST `where`, say) is told why. Each
// refusal has a request id (in the answer's X-Request-Id) and a record for the logs and metrics,
// as the app's own answers do.
import { randomUUID } from 'node:crypto';
import { maxHeaderSize, STATUS_CODES, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { ApiError, toProblem } from '../api-errors.ts';
import { apiTypeOf, type RequestRecord } from '../plugins/request-tracker.ts';

/** What Node's parser refused, as the catalog's error (whose status is Node's own answer). */
function refusalOf(code: string | undefined): ApiError {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return new ApiError('BAD_REQUEST', `the request line and headers are larger than the gateway's limit (${maxHeaderSize} bytes); a long filter or selector can go in fewer characters, or in a GraphQL request body`,
        { reason: 'RequestHeaderFieldsTooLarge' });
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return new ApiError('BAD_REQUEST', 'the chunk extensions of the request body are larger than the limit', { reason: 'RequestEntityTooLarge' });
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new ApiError('BAD_REQUEST', 'the request did not arrive in time', { reason: 'RequestTimeout' });
    default:
      return new ApiError('BAD_REQUEST', 'the request is not valid HTTP/1.1', { reason: 'BadRequest' });
  }
}

/**
 * Answers the parser's refusals as Node's own handler would (only when no answer of a request on
 * the connection has started, then the connection is closed), with a problem document; `onRefused`
 * gets the record of each answered refusal.
 */
export function answerClientErrors(server: Server, onRefused?: (record: RequestRecord) => void): void {
  server.on('clientError', (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Socket) => {
    const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (err.code !== 'ECONNRESET' && socket.writable && !inFlight?.headersSent) {
      const refusal = refusalOf(err.code);
      const status = refusal.httpStatus;
      const body = JSON.stringify(toProblem(refusal));
      const requestId = randomUUID();
      socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nX-Request-Id: ${requestId}\r\nConnection: close\r\n\r\n${body}`);
      onRefused?.(refusalRecord(err.rawPacket, status, requestId));
    }
    socket.destroySoon();
  });
}

/** The record of a refused request: its method and path as far as its first line can be read (the path cut at 200 characters, without its query). */
function refusalRecord(raw: Buffer | undefined, status: number, requestId: string): RequestRecord {
  // Printable ASCII only (no '?'): the path goes into log lines as it is.
  const line = /^([A-Z]{1,20}) (\/[!->@-~]{0,200})/.exec(raw?.subarray(0, 256).toString('latin1') ?? '');
  const path = line?.[2] ?? '';
  return {
    method: line?.[1] ?? '', path, type: apiTypeOf(path), operationName: undefined, code: 'BAD_REQUEST', status,
    durationMs: 0, tenant: undefined, requestId, aborted: false,
  };
}
