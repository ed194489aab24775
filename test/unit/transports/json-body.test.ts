import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import express from 'express';
import request from 'supertest';
import { losslessJsonBody } from '../../../src/transports/json-body.ts';
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

describe('the GraphQL JSON body parser', () => {
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
    assert.match(infinite.body.errors[0].message, /beyond the range of a 64-bit float/);
  });
});
