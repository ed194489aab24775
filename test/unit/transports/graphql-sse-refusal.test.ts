// A client that accepts no JSON answer (graphql-sse sends only Accept: text/event-stream) is told,
// in the gateway's typed error body and before anything runs, that GraphQL over SSE is not offered
// and what to use instead; Apollo alone answered a bare 406 after executing the operation.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { GraphQLObjectType, GraphQLSchema, GraphQLString } from 'graphql';
import { createApp, finalHandlers, type App } from '../../../src/transports/create-app.ts';
import { SchemaGateway } from '../../../src/transports/schema-gateway.ts';

let runs = 0;
const schema = new GraphQLSchema({
  query: new GraphQLObjectType({ name: 'Query', fields: { hello: { type: GraphQLString, resolve: () => 'world' } } }),
  mutation: new GraphQLObjectType({ name: 'Mutation', fields: { touch: { type: GraphQLString, resolve: () => String(++runs) } } }),
});

describe('a request that accepts no JSON answer', () => {
  let made: App;
  before(async () => {
    made = await createApp({ gateway: new SchemaGateway(schema), readiness: () => ({ ready: true, reasons: [] }), explorer: false });
    made.app.use(...finalHandlers());
  });
  after(() => made.stop());

  it('graphql-sse (Accept: text/event-stream): 406 with a typed error naming graphql-ws and the REST SSE watch', async () => {
    const r = await request(made.app).post('/graphql').set('Accept', 'text/event-stream').send({ query: 'subscription { x }' });
    assert.equal(r.status, 406);
    assert.match(r.headers['content-type'] ?? '', /^application\/json/);
    const e = (r.body as { errors: { message: string; extensions: Record<string, unknown> }[] }).errors[0]!;
    assert.deepEqual(e.extensions, { code: 'NOT_ACCEPTABLE', httpStatus: 406, reason: 'NotAcceptable' });
    assert.match(e.message, /^GraphQL over Server-Sent Events \(graphql-sse\) is not offered/);
    assert.match(e.message, /graphql-ws/);
    assert.match(e.message, /\?watch=true/);
  });

  it('any other Accept without JSON: 406 naming the types offered, and the operation does not run', async () => {
    const before = runs;
    const r = await request(made.app).post('/graphql').set('Accept', 'text/html').send({ query: 'mutation { touch }' });
    assert.equal(r.status, 406);
    const e = (r.body as { errors: { message: string; extensions: Record<string, unknown> }[] }).errors[0]!;
    assert.equal(e.extensions.code, 'NOT_ACCEPTABLE');
    assert.match(e.message, /application\/json or application\/graphql-response\+json/);
    assert.equal(runs, before, 'the mutation did not run');
  });

  it('the Accept values Apollo alone answered with its bare 406: the typed 406, whatever the operation', async () => {
    for (const accept of ['text/html', 'application/json;q=0, application/graphql-response+json;q=0', 'multipart/mixed; deferSpec=20220824']) {
      for (const query of ['{ hello }', '{ nope }']) {
        const r = await request(made.app).post('/graphql').set('Accept', accept).send({ query });
        assert.equal(r.status, 406, accept);
        assert.equal((r.body as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code, 'NOT_ACCEPTABLE', accept);
      }
    }
    const csrf = await request(made.app).post('/graphql').set('Accept', 'text/html').set('Content-Type', 'text/plain').send('{"query":"{ hello }"}');
    assert.equal(csrf.status, 400, 'CSRF prevention refuses first, as before');
  });

  it('JSON among the accepted types, or no Accept at all: answered as before', async () => {
    for (const accept of ['text/event-stream, application/json', '*/*', undefined]) {
      const req = request(made.app).post('/graphql');
      const r = await (accept ? req.set('Accept', accept) : req).send({ query: '{ hello }' });
      assert.equal(r.status, 200, `${accept}: ${r.text}`);
    }
  });
});
