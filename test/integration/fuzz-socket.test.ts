// Robustness over a real socket (a smaller run than the in-process files): raw HTTP/1.1 with
// malformed request lines, huge and duplicate headers (two Content-Types, two Content-Lengths),
// broken chunked bodies, truncated bodies and connections cut mid-request; and graphql-transport-ws
// sockets that send garbage frames, messages out of order, and random subscribe payloads. The
// process must see no unhandled rejection, every HTTP answer must be typed (or the HTTP parser's
// own bare 417 to an unknown Expect), no connection may stay open, and the heap must come back down.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import WebSocket from 'ws';
import { queryLimits } from '../../src/plugins/query-limits.ts';
import { rateLimits } from '../../src/plugins/rate-limits.ts';
import { gqlData, startGateway, type RunningGateway } from '../helpers/graphql-client.ts';
import { pollUntil } from '../helpers/poll-until.ts';
import { kubeConfigFor } from '../helpers/test-cluster.ts';
import { assertHeapBounded, assertTyped, crashTraps, describeInput, settledHeap, type Answer } from '../helpers/fuzz-answers.ts';
import { anyJson, garbageString, graphqlDocument } from '../helpers/fuzz-inputs.ts';

const traps = crashTraps();
let gw: RunningGateway;
let port: number;
const seed = Number(process.env.FUZZ_SEED ?? 20240611);

before(async () => {
  gw = await startGateway(kubeConfigFor('admin'), {}, undefined, {
    explorer: false, watchGraceMs: 200,
    plugins: [queryLimits({ mode: 'production' }), rateLimits({ limits: { requestsPerSecond: 0, maxConcurrentCalls: 0 } })],
  });
  port = (gw.server.address() as AddressInfo).port;
});

after(async () => {
  await gw?.stop();
  traps.remove();
});

/** Writes raw bytes, half-closes, and reads everything the server sends until it closes. */
function rawExchange(bytes: string | Buffer, opts: { cutAfterMs?: number } = {}): Promise<{ raw: string; error?: string }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let error: string | undefined;
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', (e) => (error = e.message));
    socket.on('close', () => resolve({ raw: Buffer.concat(chunks).toString('latin1'), error }));
    socket.setTimeout(10_000, () => socket.destroy());
    socket.write(bytes, () => {
      if (opts.cutAfterMs !== undefined) setTimeout(() => socket.destroy(), opts.cutAfterMs);
      else socket.end();
    });
  });
}

/** The first HTTP response in raw bytes (a keep-alive peer may send several). */
function firstResponse(raw: string): (Answer & { bare: boolean }) | undefined {
  const m = /^HTTP\/1\.1 (\d{3})[^\r\n]*\r\n([\s\S]*?)\r\n\r\n/.exec(raw);
  if (!m) return undefined;
  const head = m[2]!;
  const contentType = /^content-type: *(.*)$/im.exec(head)?.[1]?.trim() ?? '';
  const length = /^content-length: *(\d+)$/im.exec(head)?.[1];
  let body = raw.slice(m[0].length);
  if (length !== undefined) body = body.slice(0, Number(length));
  else if (/^transfer-encoding: *chunked/im.test(head)) {
    let out = '';
    let rest = body;
    for (;;) {
      const size = /^([0-9a-f]+)\r\n/i.exec(rest);
      if (!size || size[1] === '0') break;
      const n = parseInt(size[1]!, 16);
      out += rest.slice(size[0].length, size[0].length + n);
      rest = rest.slice(size[0].length + n + 2);
    }
    body = out;
  }
  const text = Buffer.from(body, 'latin1').toString('utf8');
  // Node's HTTP server answers an Expect it does not know (417) itself, with no body, before the
  // app sees it; what its parser refuses (400, 413, 431) is answered with a problem document.
  const bare = m[1] === '417' && text === '';
  return { status: Number(m[1]), contentType, text, bare };
}

const body = '{"query":"{ apiResources { kind } }"}';
const headerName = fc.constantFrom('Content-Type', 'Content-Length', 'Transfer-Encoding', 'Authorization', 'Host', 'Accept', 'X-Request-Id',
  'Content-Encoding', 'Expect', 'Connection', 'Upgrade', 'Impersonate-User', 'X-Forwarded-For', 'Apollo-Require-Preflight', 'Cookie');
const headerValue = fc.oneof(
  fc.constantFrom('application/json', 'text/plain', 'application/json; charset=utf-8', 'chunked', 'gzip', '100-continue', 'websocket', 'close',
    'Bearer x', '0', '-1', '99999999999', String(body.length), 'identity', 'application/yaml', ''),
  garbageString.map((s) => s.replace(/[\r\n]/g, '')),
  fc.nat({ max: 20_000 }).map((n) => 'x'.repeat(n)),
);

/** A raw request: a request line (sometimes broken), headers (duplicates allowed), a body (sometimes lying about its length). */
const rawRequest = fc.record({
  method: fc.constantFrom('POST', 'GET', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD', 'BREW', 'post', ''),
  target: fc.constantFrom('/graphql', '/graphql?query={__typename}', '/rest/stable.example.com/v1/crontabs', '/rest/stable.example.com/v1/namespaces/default/crontabs/x',
    '/healthz', '/readyz', '/openapi.json', '/nope', '*', 'http://evil/graphql', '/graphql%00', '/rest/%ED%A0%80/v1/crontabs', '/' + 'a'.repeat(20_000), ''),
  version: fc.constantFrom('HTTP/1.1', 'HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/1.1 extra', ''),
  headers: fc.array(fc.tuple(headerName, headerValue), { maxLength: 6 }),
  duplicateContentType: fc.boolean(),
  body: fc.oneof(fc.constant(body), garbageString, anyJson.map((v) => JSON.stringify(v) ?? ''), fc.constant('5\r\n{"que\r\nZZ\r\nbroken\r\n0\r\n\r\n')),
}).map((r) => {
  const lines = [`${r.method} ${r.target} ${r.version}`.trim(), 'Host: 127.0.0.1', 'Connection: close'];
  if (r.duplicateContentType) lines.push('Content-Type: application/json', 'Content-Type: text/plain; charset=latin1');
  for (const [k, v] of r.headers) lines.push(`${k}: ${v}`);
  if (!r.headers.some(([k]) => k === 'Content-Length' || k === 'Transfer-Encoding')) lines.push(`Content-Length: ${Buffer.byteLength(r.body)}`);
  if (!r.duplicateContentType && !r.headers.some(([k]) => k === 'Content-Type')) lines.push('Content-Type: application/json');
  return `${lines.join('\r\n')}\r\n\r\n${r.body}`;
});

test('raw HTTP requests with malformed lines, huge and duplicate headers and lying bodies get typed answers, the parser refusals included', async () => {
  const before = await settledHeap();
  await fc.assert(fc.asyncProperty(rawRequest, async (req) => {
    const { raw } = await rawExchange(req);
    const answer = firstResponse(raw);
    // No answer at all is acceptable only when the request never ended (a length it did not send).
    if (!answer) {
      assert.ok(raw === '', `an answer that is not HTTP for ${describeInput(req)}: ${raw.slice(0, 300)}`);
      return;
    }
    if (answer.bare) return;
    // A HEAD answer has no body to check: its status must not be a server error.
    if (/^HEAD /.test(req)) {
      assert.ok(answer.status < 500, `HEAD → ${answer.status} for ${describeInput(req)}`);
      return;
    }
    const kind = /^\S* (?:https?:\/\/[^/ ]*)?\/graphql/i.test(req) ? 'graphql' : 'rest';
    // OPTIONS /graphql says which methods it serves: 204 No Content (with Allow), nothing to type.
    if (kind === 'graphql' && /^OPTIONS /.test(req) && answer.status === 204) {
      assert.equal(answer.text, '', `OPTIONS → 204 with a body for ${describeInput(req)}`);
      return;
    }
    if (kind === 'graphql' && answer.contentType.startsWith('application/problem+json')) return assertTyped('rest', answer, req);
    // Health, OpenAPI and explorer routes answer in their own formats; only errors must be typed.
    if (kind === 'rest' && answer.status < 400) return;
    assertTyped(kind, answer, req);
  }), { numRuns: 300, seed });
  traps.assertNone();
  await pollUntil('every connection to close', () => new Promise<boolean>((resolve) => gw.server.getConnections((_e, n) => resolve(n === 0))), { timeoutMs: 10_000 });
  assertHeapBounded(before, await settledHeap(), 'after 300 raw requests');
});

test('connections cut mid-request (headers or body half sent) leave nothing behind', async () => {
  const partial = fc.tuple(fc.constantFrom('/graphql', `/rest/stable.example.com/v1/crontabs?watch=true`), fc.nat({ max: 200 }), fc.nat({ max: 50 }))
    .map(([target, cut, wait]) => {
      const full = `POST ${target} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length * 2}\r\n\r\n${body}`;
      return { bytes: full.slice(0, cut % full.length), wait };
    });
  await fc.assert(fc.asyncProperty(partial, async ({ bytes, wait }) => {
    await rawExchange(bytes, { cutAfterMs: wait });
  }), { numRuns: 60, seed });
  // A GET watch whose client goes away mid-stream ends its hub subscription too.
  await rawExchange(`GET /rest/stable.example.com/v1/crontabs?watch=true HTTP/1.1\r\nHost: x\r\n\r\n`, { cutAfterMs: 300 });
  traps.assertNone();
  await pollUntil('every connection to close', () => new Promise<boolean>((resolve) => gw.server.getConnections((_e, n) => resolve(n === 0))), { timeoutMs: 10_000 });
  await pollUntil('no subscriber left on the hub', () => gw.gateway.operations.hub.stats().subscribers === 0, { timeoutMs: 10_000 });
  await gqlData(gw.url, '{ apiResources { kind } }');
});

/** Frames a graphql-transport-ws client might send, from well-formed to nonsense. */
const wsMessage = fc.oneof(
  fc.constant(JSON.stringify({ type: 'connection_init' })),
  fc.record({ type: fc.constantFrom('connection_init', 'ping', 'pong', 'subscribe', 'complete', 'next', 'error', 'start', 'stop', '', 'connection_terminate'), id: fc.option(fc.oneof(garbageString, fc.integer()), { nil: undefined }), payload: fc.option(anyJson, { nil: undefined }) }, { requiredKeys: ['type'] })
    .map((m) => JSON.stringify(m)),
  fc.tuple(fc.string({ maxLength: 8 }), graphqlDocument, fc.option(anyJson, { nil: undefined })).map(([id, query, variables]) => JSON.stringify({ id, type: 'subscribe', payload: { query, variables } })),
  garbageString,
  anyJson.map((v) => JSON.stringify(v) ?? 'null'),
);

test('graphql-ws sockets that send garbage, out-of-order and random subscribe frames are closed or answered, never crash the gateway', async () => {
  const closeCodes = new Map<number, number>();
  await fc.assert(fc.asyncProperty(fc.array(wsMessage, { minLength: 1, maxLength: 8 }), fc.boolean(), fc.boolean(), async (messages, binary, destroy) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/graphql`, 'graphql-transport-ws');
    const closed = new Promise<number>((resolve) => {
      ws.on('close', (code) => resolve(code));
      ws.on('error', () => {});
    });
    ws.on('message', (data) => {
      // Whatever the server says is a protocol message: JSON with a type, errors with a code.
      const m = JSON.parse(String(data)) as { type?: string; payload?: unknown };
      assert.equal(typeof m.type, 'string', String(data));
      if (m.type === 'error') {
        for (const e of m.payload as { extensions?: { code?: string } }[]) assert.ok(e.extensions?.code, `an error without a code: ${String(data)}`);
      }
    });
    await new Promise<void>((resolve) => ws.once('open', () => resolve()).once('close', () => resolve()));
    for (const m of messages) if (ws.readyState === WebSocket.OPEN) ws.send(binary ? Buffer.from(m) : m);
    await new Promise((r) => setTimeout(r, 20));
    if (destroy) (ws as unknown as { _socket?: { destroy(): void } })._socket?.destroy();
    else ws.close();
    const code = await closed;
    closeCodes.set(code, (closeCodes.get(code) ?? 0) + 1);
  }), { numRuns: 150, seed });
  traps.assertNone();
  // The protocol errors were seen: 4400 (bad message) among the close codes.
  assert.ok(closeCodes.has(4400), `close codes: ${JSON.stringify([...closeCodes])}`);
  await pollUntil('no subscriber left on the hub', () => gw.gateway.operations.hub.stats().subscribers === 0, { timeoutMs: 10_000 });
  await pollUntil('every upstream watch to stop after the grace period', () => gw.gateway.operations.hub.stats().upstreams === 0, { timeoutMs: 10_000 });
  await pollUntil('every connection to close', () => new Promise<boolean>((resolve) => gw.server.getConnections((_e, n) => resolve(n === 0))), { timeoutMs: 10_000 });
  await gqlData(gw.url, '{ apiResources { kind } }');
});
