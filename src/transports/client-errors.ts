// What a client gets when Node's HTTP parser refuses its request before the app sees it (a URL or
// headers over the size limit, a malformed request line, a request that took too long to arrive):
// the same status Node would answer, as an RFC 9457 problem document of the error catalog instead
// of an empty body, so a client that built a long URL (a REST `where`, say) is told why.
import { maxHeaderSize, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { ApiError, toProblem } from '../api-errors.ts';

interface ParserRefusal {
  status: number;
  reason: string;
  detail: string;
}

function refusalOf(code: string | undefined): ParserRefusal {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, reason: 'Request Header Fields Too Large', detail: `the request line and headers are larger than the gateway's limit (${maxHeaderSize} bytes); a long filter or selector can go in fewer characters, or in a GraphQL request body` };
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return { status: 413, reason: 'Payload Too Large', detail: 'the chunk extensions of the request body are larger than the limit' };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, reason: 'Request Timeout', detail: 'the request did not arrive in time' };
    default:
      return { status: 400, reason: 'Bad Request', detail: 'the request is not valid HTTP/1.1' };
  }
}

/**
 * Answers the parser's refusals as Node's own handler would (only when no answer of a request on
 * the connection has started, then the connection is closed), with a problem document.
 */
export function answerClientErrors(server: Server): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (err.code !== 'ECONNRESET' && socket.writable && !inFlight?.headersSent) {
      const refusal = refusalOf(err.code);
      const problem = { ...toProblem(new ApiError('BAD_REQUEST', refusal.detail, { reason: 'BadRequest' })), status: refusal.status, title: refusal.reason };
      const body = JSON.stringify(problem);
      socket.write(`HTTP/1.1 ${refusal.status} ${refusal.reason}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    }
    socket.destroySoon();
  });
}
