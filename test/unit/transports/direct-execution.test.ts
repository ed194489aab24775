// The direct path (src/transports/direct-execution.ts): a kept, valid query or mutation on a server
// whose only request plugin is the gateway's pipeline is executed without Apollo's request pipeline.
// What the client gets must be what Apollo answers (apollo-entry.test.ts runs its table three times,
// the third through this path); here: that it is taken at all, that an operation with errors is
// executed once and answered by Apollo as before, and that everything the path leaves out (other
// request plugins, plugin checks, a failing context, a stopped server) still reaches Apollo.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { GraphQLObjectType, GraphQLScalarType, GraphQLSchema, GraphQLString } from 'graphql';
import { ApiError } from '../../../src/api-errors.ts';
import type { CallerContext } from '../../../src/contract/caller-context.ts';
import { createApp, type AppOptions } from '../../../src/transports/create-app.ts';
import { SchemaGateway } from '../../../src/transports/schema-gateway.ts';

const calls = { hello: 0, fail: 0, write: 0 };
/** A value that serializes for GraphQL but not as JSON text. */
const Unwritable = new GraphQLScalarType({ name: 'Unwritable', serialize: () => ({ toJSON: () => { throw new Error('no JSON for this'); } }) });
const schema = new GraphQLSchema({
  query: new GraphQLObjectType({
    name: 'Query',
    fields: {
      hello: { type: GraphQLString, resolve: () => `hi ${++calls.hello}` },
      fail: { type: GraphQLString, resolve: () => { calls.fail++; throw new ApiError('NOT_FOUND', 'nothing here', { reason: 'NotFound' }); } },
      unwritable: { type: Unwritable, resolve: () => 'x' },
    },
  }),
  mutation: new GraphQLObjectType({
    name: 'Mutation',
    fields: { write: { type: GraphQLString, resolve: () => { calls.write++; throw new ApiError('CONFLICT', 'changed meanwhile', { reason: 'Conflict' }); } } },
  }),
});

interface Answer { status: number; type: string | null; text: string }

// Parsed documents are kept process-wide: each test sends sources of its own (a comment differs).
let sources = 0;
const fresh = (query: string) => `${query} # ${++sources}`;

/** An app on a socket; `apolloCalls` counts the requests Apollo's pipeline ran. */
async function serve(extra: Partial<AppOptions> = {}): Promise<{ post: (query: string, headers?: Record<string, string>, extensions?: Record<string, unknown>) => Promise<Answer>; apolloCalls: () => number; stopApollo: () => Promise<void>; close: () => Promise<void> }> {
  const app = await createApp({ gateway: new SchemaGateway(schema), readiness: () => ({ ready: true, reasons: [] }), explorer: false, ...extra });
  let apolloCalls = 0;
  const execute = app.apollo.executeHTTPGraphQLRequest.bind(app.apollo);
  app.apollo.executeHTTPGraphQLRequest = (args) => {
    apolloCalls++;
    return execute(args);
  };
  const server = app.app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    post: async (query, headers = {}, extensions?: Record<string, unknown>) => {
      const res = await fetch(`http://127.0.0.1:${port}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query, extensions }) });
      return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
    },
    apolloCalls: () => apolloCalls,
    stopApollo: () => app.apollo.stop(),
    close: async () => {
      await new Promise((resolve) => server.close(resolve));
      await app.stop().catch(() => {});
    },
  };
}

describe('the direct path', () => {
  it('answers a kept document without Apollo, as Apollo answered it', async () => {
    const s = await serve();
    try {
      calls.hello = 0;
      const answers = [];
      const query = fresh('{ hello }');
      for (let i = 0; i < 4; i++) answers.push(await s.post(query, { accept: 'application/graphql-response+json,application/json;q=0.9' }));
      // The first two sightings go through Apollo (the second keeps the document), the others not.
      assert.equal(s.apolloCalls(), 2);
      for (const [i, a] of answers.entries()) assert.deepEqual(a, { status: 200, type: 'application/graphql-response+json; charset=utf-8', text: `{"data":{"hello":"hi ${i + 1}"}}\n` });
    } finally {
      await s.close();
    }
  });

  it('takes a request with extensions other than a persisted query (Apollo Client sends clientLibrary)', async () => {
    const s = await serve();
    try {
      calls.hello = 0;
      const query = fresh('{ hello }');
      const clientLibrary = { clientLibrary: { name: '@apollo/client', version: '4.0.0' } };
      for (let i = 0; i < 4; i++) assert.equal((await s.post(query, {}, clientLibrary)).text, `{"data":{"hello":"hi ${i + 1}"}}\n`);
      assert.equal(s.apolloCalls(), 2);
      // A persisted query is Apollo's to answer (here: its hash does not match the query).
      const persisted = await s.post(query, {}, { persistedQuery: { version: 1, sha256Hash: 'abc' } });
      assert.equal(persisted.status, 400);
      assert.match(persisted.text, /provided sha does not match query/);
      assert.equal(s.apolloCalls(), 3);
    } finally {
      await s.close();
    }
  });

  it('executes an operation whose result has errors once, and Apollo answers it as before', async () => {
    const s = await serve();
    try {
      for (const [query, counter] of [[fresh('{ fail }'), 'fail'], [fresh('mutation { write }'), 'write']] as const) {
        calls[counter] = 0;
        const answers = [];
        for (let i = 0; i < 4; i++) answers.push(await s.post(query));
        assert.equal(calls[counter], 4, `${query}: executed once per request`);
        for (const a of answers.slice(1)) assert.deepEqual(a, answers[0], query);
        assert.match(answers[0]!.text, counter === 'fail' ? /"code":"NOT_FOUND"/ : /"code":"CONFLICT"/);
      }
      // Every request with errors reached Apollo, which formatted them.
      assert.equal(s.apolloCalls(), 8);
    } finally {
      await s.close();
    }
  });

  it('is not taken when another plugin hooks requests or checks operations', async () => {
    let started = 0;
    let checked = 0;
    for (const extra of [
      { apollo: { plugins: [{ requestDidStart: async () => { started++; } }] } },
      { checkOperation: () => { checked++; } },
    ] satisfies Partial<AppOptions>[]) {
      const s = await serve(extra);
      const query = fresh('{ hello }');
      try {
        for (let i = 0; i < 4; i++) assert.equal((await s.post(query)).status, 200);
        assert.equal(s.apolloCalls(), 4);
      } finally {
        await s.close();
      }
    }
    assert.equal(started, 4);
    assert.equal(checked, 4);
  });

  it('hands a context that fails to Apollo, which answers as when it made the context itself', async () => {
    const failing = () => { throw new ApiError('UNAUTHENTICATED', 'no such token', { reason: 'Unauthorized' }); };
    let made = 0;
    // Two contexts made, so that the document is kept; the third fails on the direct path.
    const direct = await serve({ context: (): CallerContext => (++made > 2 ? failing() : { signal: new AbortController().signal, requestId: 'r' }) });
    // The same failure through Apollo alone (a check turns the direct path off).
    const alone = await serve({ context: failing, checkOperation: () => {} });
    const query = fresh('{ hello }');
    try {
      for (let i = 0; i < 3; i++) await direct.post(query);
      const expected = await alone.post(query);
      assert.notEqual(expected.status, 200);
      assert.deepEqual(await direct.post(query), expected);
      assert.equal(direct.apolloCalls(), 4);
    } finally {
      await direct.close();
      await alone.close();
    }
  });

  it('hands a result that does not serialize to Apollo, which answers as it always did', async () => {
    const direct = await serve();
    const alone = await serve({ checkOperation: () => {} });
    const query = fresh('{ unwritable }');
    try {
      const expected = await alone.post(query);
      assert.equal(expected.status, 500);
      for (let i = 0; i < 4; i++) assert.deepEqual(await direct.post(query), expected);
      assert.equal(direct.apolloCalls(), 4);
    } finally {
      await direct.close();
      await alone.close();
    }
  });

  it('leaves a stopped server to Apollo', async () => {
    const s = await serve();
    const query = fresh('{ hello }');
    try {
      for (let i = 0; i < 3; i++) await s.post(query);
      const before = s.apolloCalls();
      await s.stopApollo();
      const after = await s.post(query);
      assert.equal(s.apolloCalls(), before + 1);
      assert.notEqual(after.status, 200);
    } finally {
      await s.close();
    }
  });
});
