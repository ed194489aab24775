// Swapping the schema while an operation runs: the running operation finishes on the schema it
// started with; the next one is validated against the new schema.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { GraphQLObjectType, GraphQLSchema, GraphQLString } from 'graphql';
import { createApp } from '../../../src/transports/create-app.ts';
import { SchemaGateway } from '../../../src/transports/schema-gateway.ts';

function schemaWith(field: string, resolve: () => unknown): GraphQLSchema {
  return new GraphQLSchema({ query: new GraphQLObjectType({ name: 'Query', fields: { [field]: { type: GraphQLString, resolve } } }) });
}

test('an operation in flight finishes on its schema; later ones use the new one', async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let started!: () => void;
  const inFlight = new Promise<void>((r) => (started = r));
  const gateway = new SchemaGateway(schemaWith('old', async () => {
    started();
    await gate;
    return 'from the old schema';
  }));
  const { app, stop } = await createApp({ gateway, readiness: () => ({ ready: true, reasons: [] }), explorer: false });
  try {
    const slow = request(app).post('/graphql').send({ query: '{ old }' }).then((r) => r);
    await inFlight;
    gateway.update(schemaWith('fresh', () => 'from the new schema'));
    const fresh = await request(app).post('/graphql').send({ query: '{ fresh }' });
    assert.deepEqual(fresh.body, { data: { fresh: 'from the new schema' } });
    const oldAgain = await request(app).post('/graphql').send({ query: '{ old }' });
    assert.equal(oldAgain.status, 400);
    assert.match(oldAgain.body.errors[0].message, /Cannot query field "old"/);
    release();
    const finished = await slow;
    assert.deepEqual(finished.body, { data: { old: 'from the old schema' } });
  } finally {
    release();
    await stop();
  }
});
