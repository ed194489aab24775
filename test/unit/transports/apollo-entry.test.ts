// What a GraphQL client gets from the Apollo entry over HTTP, byte for byte: CSRF prevention of
// simple requests, the answer's content type as negotiated from Accept (application/json or
// application/graphql-response+json, 406 when neither), GET queries, refusals and errors with their
// status and code, the answer's framing. The table is what Apollo Server answers on its own (but
// for a bearer token, which the gateway takes as a sign of a preflight too): the
// gateway's shortcuts around it (its CSRF check, content-type choice, answer writing) must give
// the same, over a real socket, so that every header is seen as sent.
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { GraphQLObjectType, GraphQLSchema, GraphQLString } from 'graphql';
import { createApp, finalHandlers, type App } from '../../../src/transports/create-app.ts';
import { SchemaGateway } from '../../../src/transports/schema-gateway.ts';
import { ApiError } from '../../../src/api-errors.ts';
import { Writable } from 'node:stream';
import { ExportResultCode } from '@opentelemetry/core';
import { pluginAppOptions } from '../../../src/gateway.ts';
import { createLogger } from '../../../src/logging.ts';
import type { GatewayPlugin } from '../../../src/plugins/gateway-plugin.ts';
import { metrics } from '../../../src/plugins/metrics.ts';
import { persistedOperations } from '../../../src/plugins/persisted-operations.ts';
import { queryLimits } from '../../../src/plugins/query-limits.ts';
import { rateLimits } from '../../../src/plugins/rate-limits.ts';
import { requestLogging } from '../../../src/plugins/request-logging.ts';
import { tracing } from '../../../src/plugins/tracing.ts';

const schema = new GraphQLSchema({
  query: new GraphQLObjectType({
    name: 'Query',
    fields: { hello: { type: GraphQLString, args: { name: { type: GraphQLString } }, resolve: (_s, a: { name?: string }) => `hi ${a.name ?? 'world'}` } },
  }),
});

const hello = JSON.stringify({ query: '{ hello }' });
const json = 'application/json; charset=utf-8';
const graphqlResponse = 'application/graphql-response+json; charset=utf-8';
const answer = (value: unknown) => `${JSON.stringify(value)}\n`;
const error = (message: string, code = 'BAD_REQUEST') => answer({ errors: [{ message, extensions: { code } }] });
const csrfRefusal = error("This operation has been blocked as a potential Cross-Site Request Forgery (CSRF). Please either specify a 'content-type' header (with a type that is not one of application/x-www-form-urlencoded, multipart/form-data, text/plain) or provide a non-empty value for one of the following headers: x-apollo-operation-name, apollo-require-preflight\n");
const noBody = error('POST body missing, invalid Content-Type, or JSON object has no keys.');
const hi = answer({ data: { hello: 'hi world' } });
const get = '/graphql?query=%7Bhello%7D';

interface Expected { status: number; type: string; body: string; allow?: string; /** A HEAD answer: the GET's headers, no body. */ noBody?: boolean }
type Case = [name: string, method: string, path: string, headers: Record<string, string>, body: string | undefined, expected: Expected];

const cases: Case[] = [
  ['POST application/json', 'POST', '/graphql', { 'content-type': 'application/json' }, hello, { status: 200, type: json, body: hi }],
  ['POST application/json with a charset', 'POST', '/graphql', { 'content-type': 'application/json; charset=utf-8' }, hello, { status: 200, type: json, body: hi }],
  ['POST Application/JSON', 'POST', '/graphql', { 'content-type': 'Application/JSON' }, hello, { status: 200, type: json, body: hi }],
  ['POST application/json with spaces', 'POST', '/graphql', { 'content-type': 'application/json ; charset=UTF-8' }, hello, { status: 200, type: json, body: hi }],
  ['POST text/plain', 'POST', '/graphql', { 'content-type': 'text/plain' }, hello, { status: 400, type: json, body: csrfRefusal }],
  ['POST Text/Plain with a charset', 'POST', '/graphql', { 'content-type': 'Text/Plain; charset=utf-8' }, hello, { status: 400, type: json, body: csrfRefusal }],
  ['POST text/plain with apollo-require-preflight', 'POST', '/graphql', { 'content-type': 'text/plain', 'apollo-require-preflight': 'true' }, hello, { status: 400, type: json, body: noBody }],
  ['POST text/plain with an empty x-apollo-operation-name', 'POST', '/graphql', { 'content-type': 'text/plain', 'x-apollo-operation-name': '' }, hello, { status: 400, type: json, body: csrfRefusal }],
  ['POST text/plain with x-apollo-operation-name', 'POST', '/graphql', { 'content-type': 'text/plain', 'x-apollo-operation-name': 'Q' }, hello, { status: 400, type: json, body: noBody }],
  ['POST a form', 'POST', '/graphql', { 'content-type': 'application/x-www-form-urlencoded' }, 'query=%7Bhello%7D', { status: 400, type: json, body: csrfRefusal }],
  ['POST multipart/form-data', 'POST', '/graphql', { 'content-type': 'multipart/form-data; boundary=x' }, '--x--', { status: 400, type: json, body: csrfRefusal }],
  ['POST without a content type', 'POST', '/graphql', {}, hello, { status: 400, type: json, body: csrfRefusal }],
  ['POST application/graphql', 'POST', '/graphql', { 'content-type': 'application/graphql' }, '{ hello }', { status: 400, type: json, body: noBody }],
  ['POST a content type that does not parse', 'POST', '/graphql', { 'content-type': 'not a mime type' }, hello, { status: 400, type: json, body: noBody }],
  ['GET without headers', 'GET', get, {}, undefined, { status: 400, type: json, body: csrfRefusal }],
  ['GET with apollo-require-preflight', 'GET', get, { 'apollo-require-preflight': 'x' }, undefined, { status: 200, type: json, body: hi }],
  // Beyond Apollo: a bearer token is a sign of a preflight too (csrf-prevention.ts); Basic is not.
  ['GET with a bearer token', 'GET', get, { authorization: 'Bearer abc' }, undefined, { status: 200, type: json, body: hi }],
  ['GET with Basic authorization', 'GET', get, { authorization: 'Basic dTpw' }, undefined, { status: 400, type: json, body: csrfRefusal }],
  ['GET with application/json', 'GET', get, { 'content-type': 'application/json' }, undefined, { status: 200, type: json, body: hi }],
  ['GET with text/plain and apollo-require-preflight', 'GET', get, { 'content-type': 'text/plain', 'apollo-require-preflight': 'x' }, undefined,
    { status: 415, type: json, body: error('GET requests may not have a content-type header other than application/json.') }],
  ['GET with variables', 'GET', '/graphql?query=query(%24n%3AString)%7Bhello(name%3A%24n)%7D&variables=%7B%22n%22%3A%22you%22%7D', { 'content-type': 'application/json' }, undefined,
    { status: 200, type: json, body: answer({ data: { hello: 'hi you' } }) }],
  ['GET with the query twice', 'GET', `${get}&query=%7Bhello%7D`, { 'content-type': 'application/json' }, undefined,
    { status: 400, type: json, body: error("The 'query' search parameter may only be specified once.") }],
  ['Accept application/graphql-response+json', 'POST', '/graphql', { 'content-type': 'application/json', accept: 'application/graphql-response+json' }, hello, { status: 200, type: graphqlResponse, body: hi }],
  ["Accept as Apollo Client sends it", 'POST', '/graphql', { 'content-type': 'application/json', accept: 'application/graphql-response+json,application/json;q=0.9' }, hello, { status: 200, type: graphqlResponse, body: hi }],
  ['Accept application/json first', 'POST', '/graphql', { 'content-type': 'application/json', accept: 'application/json, application/graphql-response+json' }, hello, { status: 200, type: json, body: hi }],
  ['Accept */*', 'POST', '/graphql', { 'content-type': 'application/json', accept: '*/*' }, hello, { status: 200, type: json, body: hi }],
  ['Accept application/*', 'POST', '/graphql', { 'content-type': 'application/json', accept: 'application/*' }, hello, { status: 200, type: json, body: hi }],
  ['Accept in capitals', 'POST', '/graphql', { 'content-type': 'application/json', accept: 'APPLICATION/GRAPHQL-RESPONSE+JSON' }, hello, { status: 200, type: graphqlResponse, body: hi }],
  ['Accept with callbackSpec', 'POST', '/graphql', { 'content-type': 'application/json', accept: 'application/json; callbackSpec=1.0' }, hello,
    { status: 200, type: 'application/json; callbackSpec=1.0; charset=utf-8', body: hi }],
  ["Accept as a browser sends it", 'POST', '/graphql', { 'content-type': 'application/json', accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' }, hello, { status: 200, type: json, body: hi }],
  ['Accept multipart/mixed and application/json', 'POST', '/graphql', { 'content-type': 'application/json', accept: 'multipart/mixed; deferSpec=20220824, application/json' }, hello, { status: 200, type: json, body: hi }],
  ['an empty Accept', 'POST', '/graphql', { 'content-type': 'application/json', accept: '' }, hello, { status: 200, type: json, body: hi }],
  ['a validation error', 'POST', '/graphql', { 'content-type': 'application/json' }, JSON.stringify({ query: '{ nope }' }),
    { status: 400, type: json, body: answer({ errors: [{ message: 'Cannot query field "nope" on type "Query".', locations: [{ line: 1, column: 3 }], extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }] }) }],
  ['a validation error as application/graphql-response+json', 'POST', '/graphql', { 'content-type': 'application/json', accept: 'application/graphql-response+json' }, JSON.stringify({ query: '{ nope }' }),
    { status: 400, type: graphqlResponse, body: answer({ errors: [{ message: 'Cannot query field "nope" on type "Query".', locations: [{ line: 1, column: 3 }], extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }] }) }],
  ['a syntax error', 'POST', '/graphql', { 'content-type': 'application/json' }, JSON.stringify({ query: '{ hello' }),
    { status: 400, type: json, body: answer({ errors: [{ message: 'Syntax Error: Expected Name, found <EOF>.', locations: [{ line: 1, column: 8 }], extensions: { code: 'GRAPHQL_PARSE_FAILED' } }] }) }],
  ['a variable missing', 'POST', '/graphql', { 'content-type': 'application/json', accept: 'application/graphql-response+json' }, JSON.stringify({ query: 'query($n: String!) { hello(name: $n) }', variables: {} }),
    { status: 400, type: graphqlResponse, body: answer({ errors: [{ message: 'Variable "$n" of required type "String!" was not provided.', locations: [{ line: 1, column: 7 }], extensions: { code: 'BAD_USER_INPUT' } }] }) }],
  ['a CSRF refusal as application/graphql-response+json', 'POST', '/graphql', { 'content-type': 'text/plain', accept: 'application/graphql-response+json' }, hello, { status: 400, type: graphqlResponse, body: csrfRefusal }],
  // An Accept that allows no JSON type is the gateway's own 406, before Apollo: graphql-sse-refusal.test.ts.
  ['a CSRF refusal for Accept text/html', 'POST', '/graphql', { 'content-type': 'text/plain', accept: 'text/html' }, hello, { status: 400, type: json, body: csrfRefusal }],
  ['a batch', 'POST', '/graphql', { 'content-type': 'application/json' }, JSON.stringify([{ query: '{ hello }' }]), { status: 400, type: json, body: error('Operation batching disabled.') }],
  ['no query', 'POST', '/graphql', { 'content-type': 'application/json' }, JSON.stringify({ variables: {} }),
    { status: 400, type: json, body: error('GraphQL operations must contain a non-empty `query` or a `persistedQuery` extension.') }],
  ['an unknown operation name', 'POST', '/graphql', { 'content-type': 'application/json' }, JSON.stringify({ query: '{ hello }', operationName: 'X' }),
    { status: 400, type: json, body: error('Unknown operation named "X".', 'OPERATION_RESOLUTION_FAILURE') }],
  // HEAD is GET without the body (RFC 9110): the same refusals and answers, headers only.
  ['HEAD without headers', 'HEAD', get, {}, undefined, { status: 400, type: json, body: csrfRefusal, noBody: true }],
  ['HEAD with apollo-require-preflight', 'HEAD', get, { 'apollo-require-preflight': 'x' }, undefined, { status: 200, type: json, body: hi, noBody: true }],
  ['HEAD with a bearer token', 'HEAD', get, { authorization: 'Bearer abc' }, undefined, { status: 200, type: json, body: hi, noBody: true }],
  ['PUT', 'PUT', '/graphql', { 'content-type': 'application/json' }, hello, { status: 405, type: json, body: error('Apollo Server supports only GET/POST requests.'), allow: 'GET, POST' }],
];

let port: number;

/**
 * The gateway alone, and with the production plugins (as scripts/bench-gateway.ts composes them,
 * no request sampled for tracing): their requests take the direct path too, and must be answered
 * the same.
 */
const gateways: [name: string, plugins: () => GatewayPlugin[]][] = [
  ['the gateway alone', () => []],
  ['the gateway with the production plugins', () => [
    metrics({ processMetrics: false }),
    tracing({ sampleRatio: 0, exporter: { export: (_spans, done) => done({ code: ExportResultCode.SUCCESS }), shutdown: async () => {} } }),
    requestLogging({ logger: createLogger({ destination: new Writable({ write: (_chunk, _enc, cb) => cb() }) }) }),
    persistedOperations({ mode: 'apq' }),
    queryLimits({ mode: 'production' }),
    rateLimits({ limits: { requestsPerSecond: 1e6, burst: 1e6 } }),
  ]],
];

/** One request with exactly these headers (no client adds any of its own but Host and Connection). */
function send(method: string, path: string, headers: Record<string, string>, body?: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
  return new Promise((resolve, reject) => {
    const all = body === undefined ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) };
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers: all }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

for (const [gatewayName, plugins] of gateways) {
  describe(`the Apollo entry over HTTP answers as Apollo Server does: ${gatewayName}`, () => {
    let app: App;
    let close: () => Promise<void>;
    before(async () => {
      app = await createApp({ gateway: new SchemaGateway(schema), readiness: () => ({ ready: true, reasons: [] }), explorer: false, ...pluginAppOptions(plugins()) });
      const server = app.app.listen(0, '127.0.0.1');
      await new Promise((resolve) => server.once('listening', resolve));
      port = (server.address() as AddressInfo).port;
      close = () => new Promise((resolve) => server.close(() => resolve()));
    });
    after(async () => {
      await close();
      await app.stop();
    });

    for (const [name, method, path, headers, body, expected] of cases) {
      it(name, async () => {
        for (let round = 0; round < 3; round++) {
          // Three times: a first sighting, a kept document, and anything remembered per header value.
          const res = await send(method, path, headers, body);
          assert.equal(res.status, expected.status);
          assert.equal(res.headers['content-type'], expected.type);
          assert.equal(res.text, expected.noBody ? '' : expected.body);
          assert.equal(res.headers['content-length'], String(Buffer.byteLength(expected.body)));
          assert.equal(res.headers['transfer-encoding'], undefined);
          assert.equal(res.headers['allow'], expected.allow);
          assert.deepEqual(Object.keys(res.headers).filter((h) => h !== 'date' && h !== 'x-request-id').sort(),
            [...(expected.allow ? ['allow'] : []), 'connection', 'content-length', 'content-type', 'keep-alive']);
          assert.match(String(res.headers['x-request-id']), /./);
        }
      });
    }
  });
}

describe("the gateway's hooks in Apollo's pipeline", () => {
  it('a refused operation still reaches the hooks of the plugins after the pipeline, and the context is the caller\'s', async () => {
    const seen: string[] = [];
    const contexts: unknown[] = [];
    const { app: refusing, stop } = await createApp({
      gateway: new SchemaGateway(schema), readiness: () => ({ ready: true, reasons: [] }), explorer: false,
      context: async (_req, res) => ({ signal: new AbortController().signal, requestId: String(res.getHeader('x-request-id')) }),
      apollo: {
        plugins: [{
          requestDidStart: async () => ({
            didResolveOperation: async () => { seen.push('didResolveOperation'); },
            didEncounterErrors: async (rc) => { seen.push(`didEncounterErrors ${rc.errors[0]?.extensions?.code as string}`); },
            willSendResponse: async (rc) => { seen.push('willSendResponse'); contexts.push(rc.contextValue); },
          }),
        }],
      },
    });
    const server = refusing.listen(0, '127.0.0.1');
    try {
      await new Promise((resolve) => server.once('listening', resolve));
      const at = (server.address() as AddressInfo).port;
      const post = (query: string) => fetch(`http://127.0.0.1:${at}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': 'r-1' }, body: JSON.stringify({ query }) });
      // Refused by the pipeline's validation in didResolveOperation: the next plugin's hook runs all the same.
      const refused = await post('{ nope }');
      assert.equal(refused.status, 400);
      assert.deepEqual(seen, ['didResolveOperation', 'didEncounterErrors GRAPHQL_VALIDATION_FAILED', 'willSendResponse']);
      seen.length = 0;
      const ok = await post('{ hello }');
      assert.equal(await ok.text(), hi);
      assert.deepEqual(seen, ['didResolveOperation', 'willSendResponse']);
      // The context the caller's context function made (asynchronously here), as the operation saw it.
      assert.equal((contexts.at(-1) as { requestId?: string }).requestId, 'r-1');
    } finally {
      await new Promise((resolve) => server.close(resolve));
      await stop();
    }
  });
});

describe("the gateway's own refusals before Apollo answer in the media type the client accepts", () => {
  // Over its budget (the API gate), a body that is not JSON or too large (the body parser), a document
  // nested too deep: refused before Apollo sees the request. Apollo Client 4 reads the errors of a
  // non-2xx answer only as application/graphql-response+json; as application/json it reports a bare
  // ServerError, and the catalog's code never reaches the application.
  let gated: App;
  let gatedPort: number;
  let closeGated: () => Promise<void>;
  let overBudget = false;
  before(async () => {
    gated = await createApp({
      gateway: new SchemaGateway(schema), readiness: () => ({ ready: true, reasons: [] }), explorer: false, bodyLimit: '1kb',
      admit: () => {
        if (overBudget) throw new ApiError('TOO_MANY_REQUESTS', 'over budget', { reason: 'TooManyRequests', retryAfterSeconds: 1 });
      },
      apollo: { maxNesting: 5 },
    });
    // As the gateway completes the app (gateway.ts): the answers to errors that escaped a route.
    gated.app.use(...finalHandlers());
    const server = gated.app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    gatedPort = (server.address() as AddressInfo).port;
    closeGated = () => new Promise((resolve) => server.close(() => resolve()));
  });
  after(async () => {
    await closeGated();
    await gated.stop();
  });

  const refusals: [name: string, body: () => string, status: number, code: string][] = [
    ['a body that is not JSON', () => '{"query":', 400, 'BAD_REQUEST'],
    ['a body over the limit', () => JSON.stringify({ query: '{ hello }', pad: 'x'.repeat(2048) }), 413, 'BAD_REQUEST'],
    ['a document nested too deep', () => JSON.stringify({ query: `{ ${'a { '.repeat(200)}${'}'.repeat(200)} }` }), 400, 'BAD_REQUEST'],
    ['a tenant over its budget', () => { overBudget = true; return hello; }, 429, 'TOO_MANY_REQUESTS'],
  ];
  for (const [name, body, status, code] of refusals) {
    it(name, async () => {
      try {
        for (const [accept, type] of [
          ['application/graphql-response+json,application/json;q=0.9', graphqlResponse],
          ['application/json', json],
          [undefined, json],
        ] as const) {
          const res = await new Promise<{ status: number; type?: string; text: string }>((resolve, reject) => {
            const text = body();
            const req = httpRequest({ host: '127.0.0.1', port: gatedPort, method: 'POST', path: '/graphql', headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...(accept ? { accept } : {}) } }, (r) => {
              let out = '';
              r.setEncoding('utf8').on('data', (c: string) => (out += c)).on('end', () => resolve({ status: r.statusCode!, type: r.headers['content-type'], text: out }));
            });
            req.on('error', reject);
            req.end(text);
          });
          assert.equal(res.status, status, res.text);
          assert.equal(res.type, type, `Accept: ${accept}`);
          assert.equal((JSON.parse(res.text) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code, code);
        }
      } finally {
        overBudget = false;
      }
    });
  }
});
