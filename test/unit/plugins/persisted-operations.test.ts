import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApolloServer, HeaderMap } from '@apollo/server';
import { buildSchema } from 'graphql';
import { mergeApolloExtras } from '../../../src/plugins/gateway-plugin.ts';
import {
  BoundedLruCache, loadManifest, parseManifest, persistedOperations, persistedOperationsFromEnv, resolvePersisted, sha256Hex,
  type PersistedQueryManifest,
} from '../../../src/plugins/persisted-operations.ts';

const hello = 'query Hello { hello }';
const manifest: PersistedQueryManifest = {
  format: 'apollo-persisted-query-manifest', version: 1,
  operations: [{ id: sha256Hex(hello), name: 'Hello', type: 'query', body: hello }],
};

test('the cache keeps at most its size, dropping the least recently used first, and refuses an entry over a quarter of it', () => {
  const c = new BoundedLruCache(100);
  c.set('a', 'x'.repeat(19)); // 20
  c.set('b', 'x'.repeat(19));
  c.set('c', 'x'.repeat(19));
  c.set('d', 'x'.repeat(19));
  assert.equal(c.totalSize, 80);
  assert.ok(c.get('a')); // a is now the most recent
  c.set('e', 'x'.repeat(24)); // 105 > 100: b goes
  assert.equal(c.get('b'), undefined);
  assert.ok(c.get('a'));
  assert.ok(c.totalSize <= 100, String(c.totalSize));
  c.set('huge', 'x'.repeat(30));
  assert.equal(c.get('huge'), undefined);
  c.set('a', 'y');
  assert.equal(c.get('a'), 'y');
  assert.equal(c.totalSize, [...['a', 'c', 'd', 'e']].reduce((t, k) => t + k.length + (c.get(k)?.length ?? 0), 0));
  // Many registrations never grow it past its size; the latest stay.
  const big = new BoundedLruCache(1000);
  for (let i = 0; i < 10_000; i++) big.set(sha256Hex(String(i)), `query Q${i} { hello }`);
  assert.ok(big.totalSize <= 1000 && big.count <= 12 && big.count >= 10, `${big.totalSize} in ${big.count}`);
  assert.equal(big.get(sha256Hex('9999')), 'query Q9999 { hello }');
  assert.equal(big.get(sha256Hex('0')), undefined);
});

test('a manifest is checked: format, version, ids that are the sha256 of their bodies, types', () => {
  assert.deepEqual(parseManifest(JSON.parse(JSON.stringify(manifest))), manifest);
  assert.throws(() => parseManifest({ ...manifest, format: 'x' }, 'm.json'), /m\.json: format must be "apollo-persisted-query-manifest"/);
  assert.throws(() => parseManifest({ ...manifest, version: 2 }), /version must be 1/);
  assert.throws(() => parseManifest({ ...manifest, operations: [{ ...manifest.operations[0], id: sha256Hex('other') }] }), /operation 0 \(Hello\): id .* is not the sha256 of its body/);
  assert.throws(() => parseManifest({ ...manifest, operations: [{ ...manifest.operations[0], type: 'fragment' }] }), /type must be query, mutation or subscription/);
  assert.throws(() => parseManifest({ ...manifest, operations: [{ id: 'abc', type: 'query', body: 'q' }] }), /64 lowercase hex/);
  const dir = mkdtempSync(join(tmpdir(), 'crdgate-pq-'));
  try {
    writeFileSync(join(dir, 'ok.json'), JSON.stringify(manifest));
    assert.equal(loadManifest(join(dir, 'ok.json')).operations.length, 1);
    writeFileSync(join(dir, 'bad.json'), '{');
    assert.throws(() => loadManifest(join(dir, 'bad.json')), /bad\.json: not valid JSON/);
    assert.throws(() => loadManifest(join(dir, 'missing.json')), /cannot read the persisted operations file .*missing\.json/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('resolvePersisted: APQ registers and serves by hash; allow-list serves only the manifest', async () => {
  const byId = new Map(manifest.operations.map((o) => [o.id, o]));
  const bodies = new Set([hello]);
  const apq = { mode: 'apq' as const, byId, bodies, cache: new BoundedLruCache(1 << 20) };
  const q = '{ other }';
  const ext = (hash: string) => ({ persistedQuery: { version: 1, sha256Hash: hash }, other: 1 });
  assert.deepEqual((await resolvePersisted({ extensions: ext(sha256Hex(q)) }, apq)), {}); // unknown: Apollo says PERSISTED_QUERY_NOT_FOUND
  assert.deepEqual((await resolvePersisted({ query: q, extensions: ext(sha256Hex(q)) }, apq)), { extensions: { other: 1 } });
  assert.deepEqual((await resolvePersisted({ extensions: ext(sha256Hex(q)) }, apq)), { query: q, extensions: { other: 1 } });
  assert.deepEqual((await resolvePersisted({ extensions: ext(manifest.operations[0]!.id) }, apq)), { query: hello, extensions: { other: 1 } });
  assert.deepEqual((await resolvePersisted({ query: q, extensions: ext(sha256Hex('x')) }, apq)), {}); // mismatch: Apollo's 400
  assert.deepEqual((await resolvePersisted({ query: q }, apq)), {});
  // Per tenant: another tenant's registration is not found (it would tell that someone sent that
  // exact document), the manifest's operations are everyone's.
  const t = '{ theirs(name: "secret-project") }';
  assert.deepEqual((await resolvePersisted({ query: t, extensions: ext(sha256Hex(t)) }, apq, 'a')), { extensions: { other: 1 } });
  assert.deepEqual((await resolvePersisted({ extensions: ext(sha256Hex(t)) }, apq, 'a')), { query: t, extensions: { other: 1 } });
  assert.deepEqual((await resolvePersisted({ extensions: ext(sha256Hex(t)) }, apq, 'b')), {});
  assert.deepEqual((await resolvePersisted({ extensions: ext(sha256Hex(t)) }, apq)), {});
  assert.deepEqual((await resolvePersisted({ extensions: ext(manifest.operations[0]!.id) }, apq, 'b')), { query: hello, extensions: { other: 1 } });
  // A "hash" with a '/' cannot reach another tenant's key (tenant a, hash x/<hex> is not tenant a/x's).
  const x = '{ x }';
  await resolvePersisted({ query: x, extensions: ext(sha256Hex(x)) }, apq, 'a/x');
  assert.deepEqual((await resolvePersisted({ extensions: ext(sha256Hex(x)) }, apq, 'a/x')), { query: x, extensions: { other: 1 } });
  assert.deepEqual((await resolvePersisted({ extensions: ext(`x/${sha256Hex(x)}`) }, apq, 'a')), {});

  const list = { ...apq, mode: 'allow-list' as const, cache: new BoundedLruCache(1 << 20) };
  assert.equal((await resolvePersisted({ query: q }, list)).refuse?.code, 'FORBIDDEN');
  assert.deepEqual((await resolvePersisted({ query: hello }, list)), {});
  assert.deepEqual((await resolvePersisted({ extensions: ext(manifest.operations[0]!.id) }, list)), { query: hello, extensions: { other: 1 } });
  assert.equal((await resolvePersisted({ extensions: ext(sha256Hex(q)) }, list)).refuse?.details.reason, 'OperationNotRegistered');
  // Registering by hash does not work around the list.
  assert.equal((await resolvePersisted({ query: q, extensions: ext(sha256Hex(q)) }, list)).refuse?.code, 'FORBIDDEN');
  assert.equal(list.cache.count, 0);
  assert.equal((await resolvePersisted({ query: `${hello} ` }, list)).refuse?.code, 'FORBIDDEN'); // exact documents only
});

async function server(plugin: ReturnType<typeof persistedOperations>) {
  const extras = mergeApolloExtras([plugin]);
  const s = new ApolloServer({ typeDefs: 'type Query { hello: String other: String }', resolvers: { Query: { hello: () => 'hi', other: () => 'o' } }, plugins: extras.plugins, formatError: extras.formatError });
  await s.start();
  return s;
}

const single = (r: Awaited<ReturnType<ApolloServer['executeOperation']>>) => {
  assert.equal(r.body.kind, 'single');
  const result = (r.body as { singleResult: { data?: any; errors?: any[] } }).singleResult;
  return { ...result, data: result.data ? { ...result.data } : result.data };
};

test('through Apollo: an APQ miss asks for the document, the document registers it, the hash then runs it', async () => {
  const plugin = persistedOperations();
  const s = await server(plugin);
  try {
    const query = '{ other }';
    const persistedQuery = { version: 1, sha256Hash: sha256Hex(query) };
    const miss = single(await s.executeOperation({ extensions: { persistedQuery } } as never));
    assert.equal(miss.errors?.[0]?.extensions?.code, 'PERSISTED_QUERY_NOT_FOUND');
    assert.deepEqual(single(await s.executeOperation({ query, extensions: { persistedQuery } })).data, { other: 'o' });
    assert.deepEqual(single(await s.executeOperation({ extensions: { persistedQuery } } as never)).data, { other: 'o' });
    assert.equal(plugin.cache.count, 1);
    const wrong = await s.executeOperation({ query, extensions: { persistedQuery: { version: 1, sha256Hash: sha256Hex('x') } } });
    assert.equal(wrong.http.status, 400);
  } finally {
    await s.stop();
  }
});

test('through Apollo: in allow-list mode an unregistered document is FORBIDDEN (403) before it is parsed', async () => {
  const s = await server(persistedOperations({ mode: 'allow-list', manifest }));
  try {
    assert.deepEqual(single(await s.executeOperation({ query: hello })).data, { hello: 'hi' });
    assert.deepEqual(single(await s.executeOperation({ extensions: { persistedQuery: { version: 1, sha256Hash: manifest.operations[0]!.id } } } as never)).data, { hello: 'hi' });
    for (const query of ['{ other }', '{ not valid']) {
      // Over HTTP, as the gateway serves it (executeOperation rethrows what requestDidStart throws).
      const r = await s.executeHTTPGraphQLRequest({
        httpGraphQLRequest: { method: 'POST', headers: new HeaderMap([['content-type', 'application/json']]), body: { query }, search: '' },
        context: async () => ({}),
      });
      assert.equal(r.status, 403);
      assert.equal(r.body.kind, 'complete');
      const e = JSON.parse((r.body as { string: string }).string).errors?.[0];
      assert.equal(e?.extensions?.code, 'FORBIDDEN');
      assert.equal(e?.extensions?.reason, 'OperationNotRegistered');
      assert.match(e?.message, /only registered operations may run/);
    }
  } finally {
    await s.stop();
  }
});

test('options from the environment', () => {
  assert.deepEqual(persistedOperationsFromEnv({}), { mode: 'apq' });
  assert.deepEqual(persistedOperationsFromEnv({ CRDGATE_PERSISTED_OPERATIONS: 'ops.json' }), { mode: 'allow-list', file: 'ops.json' });
  assert.deepEqual(persistedOperationsFromEnv({ CRDGATE_PERSISTED_OPERATIONS: 'ops.json', CRDGATE_PERSISTED_OPERATIONS_MODE: 'apq', CRDGATE_APQ_CACHE_SIZE: '1000' }), { mode: 'apq', file: 'ops.json', cacheSize: 1000 });
  assert.throws(() => persistedOperationsFromEnv({ CRDGATE_PERSISTED_OPERATIONS_MODE: 'strict' }), /must be apq or allow-list/);
  assert.throws(() => persistedOperationsFromEnv({ CRDGATE_APQ_CACHE_SIZE: '1MB' }), /whole number/);
  assert.throws(() => persistedOperations({ mode: 'allow-list' }), /need a manifest file/);
});
