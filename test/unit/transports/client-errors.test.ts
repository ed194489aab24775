// Requests Node's HTTP parser refuses before the app sees them get the status Node would answer,
// with a problem document that says why, and their connection is closed; an answer of an earlier
// request on the same connection is never broken into.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { answerClientErrors } from '../../../src/transports/client-errors.ts';
import type { RequestRecord } from '../../../src/plugins/request-tracker.ts';

let server: Server;
const records: RequestRecord[] = [];
let port: number;

before(async () => {
  server = createServer((_req, res) => res.end('ok'));
  answerClientErrors(server, (r) => records.push(r));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** Sends raw bytes, and reads until the server closes the connection. */
function exchange(raw: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(raw));
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => { text += d; });
    socket.on('error', reject);
    socket.on('close', () => resolve(text));
  });
}

function problemOf(text: string): { status: number; headers: string; body: Record<string, unknown> } {
  const m = /^HTTP\/1\.1 (\d{3}) [^\r]*\r\n([\s\S]*?)\r\n\r\n([\s\S]*)$/.exec(text);
  assert.ok(m, `not an HTTP answer: ${text.slice(0, 200)}`);
  return { status: Number(m[1]), headers: m[2]!, body: JSON.parse(m[3]!) as Record<string, unknown> };
}

test('a URL over the header limit gets 431 with a problem document naming the limit', async () => {
  const answer = problemOf(await exchange(`GET /rest/x?where=${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`));
  assert.equal(answer.status, 431);
  assert.match(answer.headers, /^Content-Type: application\/problem\+json$/im);
  assert.match(answer.headers, /^Connection: close$/im);
  assert.equal(answer.body.status, 431);
  assert.equal(answer.body.code, 'BAD_REQUEST');
  assert.match(String(answer.body.detail), /larger than the gateway's limit \(\d+ bytes\)/);
  // Logged and counted like the app's answers, with the request id the client got.
  const id = /^X-Request-Id: (\S+)$/im.exec(answer.headers)?.[1];
  assert.ok(id);
  const record = records.find((r) => r.requestId === id);
  assert.deepEqual(record && { method: record.method, path: record.path, type: record.type, status: record.status, code: record.code },
    { method: 'GET', path: '/rest/x', type: 'rest', status: 431, code: 'BAD_REQUEST' });
});

test('a malformed request line gets 400 with a problem document', async () => {
  const answer = problemOf(await exchange('BREW /graphql HTCPCP/1.0\r\n\r\n'));
  assert.equal(answer.status, 400);
  assert.equal(answer.body.code, 'BAD_REQUEST');
  assert.match(String(answer.body.detail), /not valid HTTP\/1\.1/);
});

test('a malformed request after an answered one on a kept-alive connection: the answer, then the refusal', async () => {
  const text = await new Promise<string>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    let received = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      if (received === '') socket.write('GET / HTTP/9 junk\r\n\r\n');
      received += d;
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(received));
  });
  const [first, second] = text.split(/(?=HTTP\/1\.1 )/);
  assert.match(first!, /^HTTP\/1\.1 200 OK[\s\S]*\r\n\r\nok$/);
  assert.equal(problemOf(second!).status, 400);
});

test('a request whose headers do not arrive in time gets 408 with a problem document', async () => {
  const slow = createServer({ connectionsCheckingInterval: 50, headersTimeout: 200, requestTimeout: 200 }, (_req, res) => res.end('ok'));
  answerClientErrors(slow);
  await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
  try {
    const text = await new Promise<string>((resolve, reject) => {
      const socket = connect((slow.address() as AddressInfo).port, '127.0.0.1', () => socket.write('GET / HTTP/1.1\r\nHost: x\r\n'));
      let received = '';
      socket.setEncoding('latin1');
      socket.on('data', (d: string) => (received += d));
      socket.on('error', reject);
      socket.on('close', () => resolve(received));
    });
    const answer = problemOf(text);
    assert.equal(answer.status, 408);
    assert.deepEqual([answer.body.status, answer.body.code, answer.body.reason], [408, 'BAD_REQUEST', 'RequestTimeout']);
  } finally {
    slow.closeAllConnections();
    await new Promise<void>((resolve) => slow.close(() => resolve()));
  }
});
