import assert from 'node:assert/strict';
import { it } from 'node:test';
import request from 'supertest';
import { GraphQLObjectType, GraphQLSchema, GraphQLString } from 'graphql';
import { createApp } from '../../../src/transports/create-app.ts';
import { SchemaGateway } from '../../../src/transports/schema-gateway.ts';

it('writes small and large answers with the same framing: Content-Length in bytes, the JSON text and a newline', async () => {
  const text = (n: number) => `${'é✓x'.repeat(n)}"\\`;
  const schema = new GraphQLSchema({
    query: new GraphQLObjectType({ name: 'Query', fields: { text: { type: GraphQLString, args: { n: { type: GraphQLString } }, resolve: (_s, a: { n: string }) => text(Number(a.n)) } } }),
  });
  const { app, stop } = await createApp({ gateway: new SchemaGateway(schema), readiness: () => ({ ready: true, reasons: [] }), explorer: false });
  try {
    for (const n of [1, 5_000, 100_000]) {
      const res = await request(app).post('/graphql').set('content-type', 'application/json').send({ query: `{ text(n: "${n}") }` });
      assert.equal(res.status, 200);
      assert.equal(res.headers['transfer-encoding'], undefined);
      assert.equal(res.text, `${JSON.stringify({ data: { text: text(n) } })}\n`);
      assert.equal(Number(res.headers['content-length']), Buffer.byteLength(res.text));
      assert.match(res.headers['content-type']!, /^application\/json/);
    }
  } finally {
    await stop();
  }
});
