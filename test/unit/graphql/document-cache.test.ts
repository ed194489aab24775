// Parsed documents: kept from a source's second sighting, bounded by source length, and handed to
// Apollo Server so that it parses a document sent again neither again nor into a store of its own.
import assert from 'node:assert/strict';
import { randomUUID, createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import type { ApolloServerPlugin } from '@apollo/server';
import { buildSchema, print, type DocumentNode } from 'graphql';
import request from 'supertest';
import { DocumentCache } from '../../../src/graphql/document-cache.ts';
import { createApp } from '../../../src/transports/create-app.ts';
import { SchemaGateway } from '../../../src/transports/schema-gateway.ts';

describe('document cache', () => {
  it('keeps a document from its second sighting on, as the same object', () => {
    const cache = new DocumentCache();
    const source = '{ a }';
    assert.equal(cache.get(source), undefined);
    assert.equal(cache.size, 0);
    const second = cache.get(source);
    assert.ok(second);
    assert.equal(print(second), '{\n  a\n}');
    assert.equal(cache.get(source), second);
    assert.equal(cache.size, 1);
  });

  it('keeps no document seen once, whatever the number of such documents', () => {
    const cache = new DocumentCache(undefined, { seenSlots: 64 });
    for (let i = 0; i < 10_000; i++) assert.equal(cache.get(`{ a(id: ${i}) }`), undefined);
    assert.equal(cache.size, 0);
  });

  it('keeps a document on its second sighting with other new sources seen in between', () => {
    const cache = new DocumentCache();
    assert.equal(cache.get('{ a(id: "kept") }'), undefined);
    for (let i = 0; i < 100; i++) cache.get(`{ a(id: ${i}) }`);
    assert.ok(cache.get('{ a(id: "kept") }'));
    assert.equal(cache.size, 1);
    assert.throws(() => new DocumentCache(undefined, { seenSlots: 100 }), /power of two/);
  });

  it('leaves a source that does not parse to the caller, each time', () => {
    const cache = new DocumentCache();
    for (let i = 0; i < 4; i++) assert.equal(cache.get('{ a '), undefined);
    assert.equal(cache.size, 0);
  });

  it('is bounded by the length of the kept sources, least recently used out first', () => {
    const cache = new DocumentCache(undefined, { maxSourceChars: 100, seenSlots: 64, maxEntryChars: 50 });
    const sources = Array.from({ length: 20 }, (_, i) => `{ field${String(i).padStart(3, '0')} }`); // 12 characters each
    for (const s of sources) {
      cache.get(s);
      assert.ok(cache.get(s));
    }
    assert.equal(cache.size, Math.floor(100 / 12));
    assert.equal(cache.get(sources[0]!), undefined, 'the oldest was dropped (and is now only seen once)');
    assert.ok(cache.get(sources[19]!));
  });

  it('never keeps a source longer than the entry bound', () => {
    const cache = new DocumentCache(undefined, { maxEntryChars: 20 });
    const long = `{ ${'a '.repeat(20)}}`;
    for (let i = 0; i < 3; i++) assert.equal(cache.get(long), undefined);
    assert.equal(cache.size, 0);
  });

  it('parses with the given options', () => {
    const cache = new DocumentCache({ noLocation: true });
    cache.get('{ a }');
    assert.equal(cache.get('{ a }')?.loc, undefined);
    const withLocations = new DocumentCache();
    withLocations.get('{ a }');
    assert.ok(withLocations.get('{ a }')?.loc);
  });
});

describe('documents through Apollo Server', () => {
  const schema = buildSchema('type Query { hello(name: String): String }');
  (schema.getQueryType()!.getFields()['hello']!).resolve = (_s, args: { name?: string }) => `hello ${args.name ?? 'world'}`;

  async function appWithCounters() {
    const parsed: string[] = [];
    const operated: DocumentNode[] = [];
    const counter: ApolloServerPlugin = {
      requestDidStart: async () => ({
        parsingDidStart: async (rc) => void parsed.push(rc.source),
        didResolveOperation: async (rc) => void operated.push(rc.document),
      }),
    };
    const { app, stop } = await createApp({
      gateway: new SchemaGateway(schema), readiness: () => ({ ready: true, reasons: [] }), explorer: false,
      apollo: { plugins: [counter] },
    });
    return { app, stop, parsed, operated };
  }

  it('parses a document sent again no more, and executes the kept one', async () => {
    const { app, stop, parsed, operated } = await appWithCounters();
    try {
      const query = `{ hello(name: "again") } # ${randomUUID()}`;
      for (let i = 0; i < 4; i++) {
        const res = await request(app).post('/graphql').send({ query });
        assert.equal(res.status, 200);
        assert.deepEqual(res.body, { data: { hello: 'hello again' } });
      }
      assert.equal(parsed.length, 1, 'Apollo parsed the first sighting only');
      assert.equal(operated.length, 4);
      assert.equal(operated[2], operated[1]);
      assert.equal(operated[3], operated[1]);
      assert.notEqual(operated[0], operated[1]);
    } finally {
      await stop();
    }
  });

  it('parses each new document once and keeps none of them', async () => {
    const { app, stop, parsed, operated } = await appWithCounters();
    try {
      for (let i = 0; i < 5; i++) {
        const res = await request(app).post('/graphql').send({ query: `{ hello(name: "${randomUUID()}") }` });
        assert.equal(res.status, 200);
      }
      assert.equal(parsed.length, 5);
      assert.equal(new Set(operated).size, 5);
    } finally {
      await stop();
    }
  });

  it('answers a syntax error and a validation error the same way each time', async () => {
    const { app, stop } = await appWithCounters();
    try {
      const broken = `{ hello( # ${randomUUID()}`;
      const invalid = `{ nope } # ${randomUUID()}`;
      for (let i = 0; i < 3; i++) {
        const a = await request(app).post('/graphql').send({ query: broken });
        assert.equal(a.status, 400);
        assert.equal(a.body.errors[0].extensions.code, 'GRAPHQL_PARSE_FAILED');
        const b = await request(app).post('/graphql').send({ query: invalid });
        assert.equal(b.status, 400);
        assert.equal(b.body.errors[0].extensions.code, 'GRAPHQL_VALIDATION_FAILED');
        assert.match(b.body.errors[0].message, /Cannot query field "nope"/);
      }
    } finally {
      await stop();
    }
  });

  it('serves persisted queries (APQ) from their hash, with the kept document', async () => {
    const { app, stop, parsed } = await appWithCounters();
    try {
      const query = `{ hello(name: "persisted") } # ${randomUUID()}`;
      const sha256Hash = createHash('sha256').update(query).digest('hex');
      const extensions = { persistedQuery: { version: 1, sha256Hash } };
      const missing = await request(app).post('/graphql').send({ extensions });
      assert.equal(missing.body.errors[0].extensions.code, 'PERSISTED_QUERY_NOT_FOUND');
      const registered = await request(app).post('/graphql').send({ query, extensions });
      assert.deepEqual(registered.body, { data: { hello: 'hello persisted' } });
      for (let i = 0; i < 3; i++) {
        const res = await request(app).post('/graphql').send({ extensions });
        assert.deepEqual(res.body, { data: { hello: 'hello persisted' } });
      }
      assert.equal(parsed.length, 1);
    } finally {
      await stop();
    }
  });
});
