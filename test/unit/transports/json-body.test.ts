import assert from 'node:assert/strict';
import { AsyncLocalStorage } from 'node:async_hooks';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import express from 'express';
import request from 'supertest';
import { byteLimit, losslessJsonBody } from '../../../src/transports/json-body.ts';
import { finalHandlers } from '../../../src/transports/create-app.ts';
import { stringifyJson } from '../../../src/kube/lossless-json.ts';

/** An app that echoes the parsed body back, with every digit. */
function echo() {
  const app = express();
  app.use('/graphql', ...losslessJsonBody('1kb'), (req, res) => {
    res.type('application/json').send(stringifyJson({ body: req.body ?? null, bigint: typeof (req.body as { variables?: { n?: unknown } })?.variables?.n === 'bigint' }));
  });
  app.use(...finalHandlers());
  return app;
}

/** Raw requests (supertest would serialize a Buffer body as JSON): each chunk written as given. */
async function rawPost(app: express.Express, headers: Record<string, string>, chunks: (string | Buffer)[]): Promise<{ status: number; text: string }> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  try {
    return await new Promise((resolve, reject) => {
      const req = httpRequest({ port: (server.address() as AddressInfo).port, host: '127.0.0.1', method: 'POST', path: '/graphql', headers: { 'content-type': 'application/json', ...headers } }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (c: string) => (text += c)).on('end', () => resolve({ status: res.statusCode!, text }));
      });
      req.on('error', reject);
      for (const c of chunks) req.write(c);
      req.end();
    });
  } finally {
    server.close();
  }
}

describe('the GraphQL JSON body parser', () => {
  it('runs the handlers after it in the request\'s async context (tracing\'s active span lives there)', async () => {
    const requestContext = new AsyncLocalStorage<string>();
    const app = express();
    app.use((req, _res, next) => requestContext.run(String(req.headers['x-request']), next));
    app.use('/graphql', ...losslessJsonBody('1kb'), (_req, res) => {
      res.type('text/plain').send(requestContext.getStore() ?? 'no context');
    });
    for (const [type, id] of [['application/json', 'a'], ['application/json; charset=utf-16le', 'b']] as const) {
      const body = type.includes('16le') ? Buffer.from('{"query":"q"}', 'utf16le') : '{"query":"q"}';
      const r = await rawPost(app, { 'content-type': type, 'x-request': id }, [body]);
      assert.equal(r.text, id, type);
    }
  });

  it('keeps every digit of the variables', async () => {
    const r = await request(echo()).post('/graphql').set('content-type', 'application/json')
      .send('{"query":"q","variables":{"n":9223372036854775807,"f":0.1,"l":[9007199254740993]}}');
    assert.equal(r.status, 200);
    assert.equal(r.text, '{"body":{"query":"q","variables":{"n":9223372036854775807,"f":0.1,"l":[9007199254740993]}},"bigint":true}');
  });

  it('behaves like express.json otherwise: empty is {}, other types are left alone', async () => {
    assert.equal((await request(echo()).post('/graphql').set('content-type', 'application/json').send('')).text, '{"body":{},"bigint":false}');
    assert.equal((await request(echo()).post('/graphql').set('content-type', 'text/plain').send('{"a":1}')).text, '{"body":null,"bigint":false}');
  });

  it('refuses what express.json refuses, with the same answers', async () => {
    const notJson = await request(echo()).post('/graphql').set('content-type', 'application/json').send('{"query":');
    assert.equal(notJson.status, 400);
    assert.match(notJson.body.errors[0].message, /^the request body is not valid JSON/);
    const scalar = await request(echo()).post('/graphql').set('content-type', 'application/json').send('"query"');
    assert.equal(scalar.status, 400);
    assert.match(scalar.body.errors[0].message, /a GraphQL request body is a JSON object/);
    const latin1 = await request(echo()).post('/graphql').set('content-type', 'application/json; charset=latin1').send('{}');
    assert.equal(latin1.status, 415);
    assert.equal(latin1.body.errors[0].extensions.code, 'UNSUPPORTED_MEDIA_TYPE');
    const big = await request(echo()).post('/graphql').set('content-type', 'application/json').send(`{"query":"${'x'.repeat(2000)}"}`);
    assert.equal(big.status, 413);
    const infinite = await request(echo()).post('/graphql').set('content-type', 'application/json').send('{"variables":{"n":1e400}}');
    assert.equal(infinite.status, 400);
    // Where the number is, as graphql-ws says it for the same number in a subscribe message.
    assert.equal(infinite.body.errors[0].message, 'the request body is not valid JSON: the number 1e400 is beyond the range of a 64-bit float (at variables.n)');
    const nested = await request(echo()).post('/graphql').set('content-type', 'application/json').send('{"variables":{"o":{"list":[1,-2E+999]}}}');
    assert.equal(nested.body.errors[0].message, 'the request body is not valid JSON: the number -2E+999 is beyond the range of a 64-bit float (at variables.o.list[1])');
  });

  it('reads UTF-8 itself and leaves other charsets and compressed bodies to body-parser, with the same results', async () => {
    const body = '{"query":"q","variables":{"s":"h\u00e9 \u2603"}}';
    const expected = '{"body":{"query":"q","variables":{"s":"h\u00e9 \u2603"}},"bigint":false}';
    for (const type of ['application/json', 'application/json; charset=utf-8', 'application/json;charset="UTF-8"', 'Application/JSON']) {
      assert.equal((await request(echo()).post('/graphql').set('content-type', type).send(body)).text, expected, type);
    }
    const gzipped = await rawPost(echo(), { 'content-encoding': 'gzip' }, [gzipSync(body)]);
    assert.equal(gzipped.text, expected);
    const utf16 = await rawPost(echo(), { 'content-type': 'application/json; charset=utf-16le' }, [Buffer.from(body, 'utf16le')]);
    assert.equal(utf16.text, expected);
    // A byte order mark is dropped, as body-parser's decoder does.
    assert.equal((await request(echo()).post('/graphql').set('content-type', 'application/json').send(`\ufeff${body}`)).text, expected);
  });

  it('applies the limit to the announced length and to the bytes of a chunked body, and reads off the rest', async () => {
    const app = echo();
    const chunked = await rawPost(app, { 'transfer-encoding': 'chunked' }, [`{"query":"${'x'.repeat(600)}`, `${'y'.repeat(600)}"}`]);
    assert.equal(chunked.status, 413);
    assert.match(JSON.parse(chunked.text).errors[0].message, /larger than the limit \(1024 bytes\)/);
    const announced = await rawPost(app, { 'content-length': '1500' }, [`{"query":"${'x'.repeat(1488)}"}`]);
    assert.equal(announced.status, 413);
    assert.match(JSON.parse(announced.text).errors[0].message, /larger than the limit \(1024 bytes\)/);
    const ok = await rawPost(app, { 'transfer-encoding': 'chunked' }, ['{"query":', '"q"}']);
    assert.equal(ok.text, '{"body":{"query":"q"},"bigint":false}');
  });

  it('reads limits as body-parser does', () => {
    assert.equal(byteLimit('1mb'), 1048576);
    assert.equal(byteLimit('1kb'), 1024);
    assert.equal(byteLimit('1.5KB'), 1536);
    assert.equal(byteLimit('100'), 100);
    assert.equal(byteLimit('lots'), null);
  });
});
