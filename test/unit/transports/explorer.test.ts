// The explorer page and its assets over HTTP, in-process, with a trivial schema: what browsers
// get, and that GraphQL clients on the same URL still get GraphQL.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { GraphQLObjectType, GraphQLSchema, GraphQLString, parse } from 'graphql';
import request from 'supertest';
import { createApp, type App } from '../../../src/transports/create-app.ts';
import { SchemaGateway } from '../../../src/transports/schema-gateway.ts';
import { isLoopbackAddress, isLoopbackHost } from '../../../src/transports/explorer.ts';

const schema = new GraphQLSchema({
  query: new GraphQLObjectType({
    name: 'Query',
    fields: { hello: { type: GraphQLString, resolve: () => 'world' } },
  }),
});
const readiness = () => ({ ready: true, reasons: [] });
const browserAccept = 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8';

let app: App;
before(async () => {
  app = await createApp({ gateway: new SchemaGateway(schema), readiness });
});
after(async () => {
  await app.stop();
});

/** The URLs of every script and stylesheet the page loads. */
function referencedAssets(html: string): string[] {
  const scripts = [...html.matchAll(/<script\b[^>]*\bsrc="([^"]+)"/g)].map((m) => m[1]!);
  const links = [...html.matchAll(/<link\b[^>]*\brel="stylesheet"[^>]*\bhref="([^"]+)"/g)].map((m) => m[1]!);
  return [...scripts, ...links];
}

function parseCsp(header: string): Map<string, string[]> {
  return new Map(header.split(';').map((d) => d.trim().split(/\s+/)).map(([name, ...values]) => [name!, values]));
}

test('GET / serves the explorer page with a strict Content-Security-Policy', async () => {
  const res = await request(app.app).get('/').set('Accept', browserAccept);
  assert.equal(res.status, 200);
  assert.match(res.headers['content-type']!, /^text\/html; charset=utf-8/);
  assert.equal(res.headers['cache-control'], 'no-store');
  assert.equal(res.headers['x-content-type-options'], 'nosniff');

  const csp = parseCsp(res.headers['content-security-policy']!);
  assert.deepEqual(csp.get('default-src'), ["'none'"]);
  assert.deepEqual(csp.get('script-src'), ["'self'"]);
  assert.deepEqual(csp.get('connect-src'), ["'self'"]);
  assert.deepEqual(csp.get('frame-ancestors'), ["'none'"]);
  const styleSrc = csp.get('style-src')!;
  assert.equal(styleSrc[0], "'self'");
  assert.match(styleSrc[1]!, /^'nonce-[A-Za-z0-9+/=]{20,}'$/);
  assert.equal(styleSrc.length, 2);
  assert.doesNotMatch(res.headers['content-security-policy']!, /unsafe|\*|https?:/);

  // The nonce the page hands to GraphiQL is the one the policy admits.
  assert.ok(res.text.includes(`data-style-nonce="${styleSrc[1]!.slice("'nonce-".length, -1)}"`));
  assert.ok(res.text.includes('data-endpoint="/graphql"'));
  // The CSP forbids inline code, so the page must not contain any.
  assert.doesNotMatch(res.text, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script');
  assert.doesNotMatch(res.text, /<style\b|\sstyle=/, 'no inline style');
  assert.doesNotMatch(res.text, /(src|href)="(https?:)?\/\//, 'nothing from another origin');
});

test('every response carries a fresh nonce', async () => {
  const a = await request(app.app).get('/');
  const b = await request(app.app).get('/');
  assert.notEqual(a.headers['content-security-policy'], b.headers['content-security-policy']);
});

test('the default query is a runnable example, HTML-escaped into the page', async () => {
  const res = await request(app.app).get('/');
  const m = /data-default-query="([^"]*)"/.exec(res.text);
  assert.ok(m, 'the page carries a default query');
  const query = m[1]!.replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code)));
  assert.equal(parse(query).definitions[0]?.kind, 'OperationDefinition');
  assert.match(query, /apiResources\s*\{/);
  assert.match(query, /Authorization/, 'the example tells tenants where their token goes');
});

test('every asset the page references is served with its content type and a long cache lifetime', async () => {
  const page = await request(app.app).get('/');
  const urls = referencedAssets(page.text);
  assert.equal(urls.length, 6, `scripts and stylesheets: ${urls.join(', ')}`);
  for (const url of urls) {
    assert.match(url, /^\/explorer\/assets\/[0-9a-f]{16}\/[\w.-]+$/);
    const res = await request(app.app).get(url).set('Accept-Encoding', 'identity');
    assert.equal(res.status, 200, url);
    const expected = url.endsWith('.js') ? /^text\/javascript; charset=utf-8$/ : /^text\/css; charset=utf-8$/;
    assert.match(res.headers['content-type']!, expected, url);
    assert.equal(res.headers['cache-control'], 'public, max-age=31536000, immutable', url);
    assert.equal(res.headers['x-content-type-options'], 'nosniff', url);
    assert.equal(res.headers['content-encoding'], undefined, url);
    const size = Number(res.headers['content-length']);
    assert.ok(size > 40, `${url} is ${size} bytes`);
  }
  const graphiql = urls.find((u) => u.endsWith('/graphiql.js'))!;
  const body = (await request(app.app).get(graphiql).set('Accept-Encoding', 'identity')).text;
  assert.match(body, /GraphiQL/);
  assert.match(body, /\/\/# sourceMappingURL=graphiql\.js\.map\s*$/);
  const map = await request(app.app).get(graphiql.replace(/\.js$/, '.js.map'));
  assert.equal(map.status, 200);
  assert.match(map.headers['content-type']!, /^application\/json/);
});

test('assets are gzipped for clients that accept it', async () => {
  const page = await request(app.app).get('/');
  const graphiql = referencedAssets(page.text).find((u) => u.endsWith('/graphiql.js'))!;
  const plain = await request(app.app).get(graphiql).set('Accept-Encoding', 'identity');
  const gzipped = await request(app.app).get(graphiql).set('Accept-Encoding', 'gzip, deflate, br');
  assert.equal(gzipped.status, 200);
  assert.equal(gzipped.headers['content-encoding'], 'gzip');
  assert.match(gzipped.headers['vary']!, /Accept-Encoding/);
  assert.ok(Number(gzipped.headers['content-length']) < Number(plain.headers['content-length']) / 2);
  assert.equal(gzipped.text, plain.text, 'the same content once decompressed');
});

test('unknown assets and stale asset paths are 404', async () => {
  const page = await request(app.app).get('/');
  const graphiql = referencedAssets(page.text).find((u) => u.endsWith('/graphiql.js'))!;
  assert.equal((await request(app.app).get(graphiql.replace(/\/[0-9a-f]{16}\//, '/0000000000000000/'))).status, 404);
  assert.equal((await request(app.app).get(graphiql.replace(/graphiql\.js$/, 'package.json'))).status, 404);
});

test('GET /graphql from a browser gets the explorer', async () => {
  const res = await request(app.app).get('/graphql').set('Accept', browserAccept);
  assert.equal(res.status, 200);
  assert.match(res.headers['content-type']!, /^text\/html/);
  assert.ok(res.headers['content-security-policy']);
  assert.match(res.headers['vary']!, /Accept/);
  assert.ok(res.text.includes('id="graphiql"'));
});

test('GET /graphql?query= from a GraphQL client still executes, with CSRF prevention on', async () => {
  const ok = await request(app.app)
    .get('/graphql')
    .query({ query: '{ __typename hello }' })
    .set('Accept', 'application/json')
    .set('Apollo-Require-Preflight', 'true');
  assert.equal(ok.status, 200);
  assert.match(ok.headers['content-type']!, /^application\/json/);
  assert.deepEqual(ok.body, { data: { __typename: 'Query', hello: 'world' } });

  // A client that accepts anything is a GraphQL client, not a browser navigating.
  const any = await request(app.app).get('/graphql').query({ query: '{ hello }' }).set('Accept', '*/*').set('Apollo-Require-Preflight', 'true');
  assert.deepEqual(any.body, { data: { hello: 'world' } });

  // A simple cross-site GET (no preflight header, no JSON content type) stays refused by Apollo.
  const csrf = await request(app.app).get('/graphql').query({ query: '{ hello }' }).set('Accept', 'application/json');
  assert.equal(csrf.status, 400);
  assert.match(csrf.text, /CSRF/);
});

test('POST /graphql is untouched', async () => {
  const res = await request(app.app)
    .post('/graphql')
    .set('Accept', browserAccept)
    .send({ query: 'query Hello { hello }', operationName: 'Hello' });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { data: { hello: 'world' } });
});

test('a custom default query, and the explorer turned off', async () => {
  const custom = await createApp({ gateway: new SchemaGateway(schema), readiness, explorer: { defaultQuery: '{ hello } # <b>&"' } });
  const off = await createApp({ gateway: new SchemaGateway(schema), readiness, explorer: false });
  try {
    const page = await request(custom.app).get('/');
    assert.ok(page.text.includes('data-default-query="{ hello } # &#60;b&#62;&#38;&#34;"'));
    assert.equal((await request(off.app).get('/')).status, 404);
    const html = await request(off.app).get('/graphql').set('Accept', browserAccept);
    assert.doesNotMatch(html.headers['content-type'] ?? '', /text\/html/);
  } finally {
    await custom.stop();
    await off.stop();
  }
});

test('the page tells the browser script whether calls need a token and whether introspection is on', async () => {
  const open = await request(app.app).get('/');
  assert.ok(open.text.includes('data-auth="none" data-introspection="on"'));
  assert.doesNotMatch(open.text, /data-demo-tenants/);
  const tenants = { authenticate: async () => { throw new Error('not called'); }, schemaFor: async () => ({ key: 'all', schema }) };
  const locked = await createApp({ gateway: new SchemaGateway(schema), readiness, tenants, apollo: { introspection: false } });
  try {
    const page = await request(locked.app).get('/');
    assert.ok(page.text.includes('data-auth="token" data-introspection="off"'));
    assert.equal((await request(locked.app).get('/explorer/demo-tenants')).status, 404, 'no demo tenants, no endpoint');
  } finally {
    await locked.stop();
  }
});

test('demo tenants: their tokens only for a same-origin browser on this machine, never in the page', async () => {
  let minted = 0;
  const demoTenants = () => {
    minted++;
    return [{ name: 'tenant-a', token: `token-a-${minted}` }, { name: 'tenant-b', token: `token-b-${minted}` }];
  };
  const local = await createApp({ gateway: new SchemaGateway(schema), readiness, explorer: { demoTenants } });
  try {
    const page = await request(local.app).get('/');
    assert.ok(page.text.includes('data-demo-tenants="/explorer/demo-tenants"'));
    assert.doesNotMatch(page.text, /token-a/);
    assert.equal(minted, 0);

    // supertest connects over loopback and names 127.0.0.1:<port> as the host.
    const ok = await request(local.app).get('/explorer/demo-tenants').set('Sec-Fetch-Site', 'same-origin');
    assert.equal(ok.status, 200);
    assert.equal(ok.headers['cache-control'], 'no-store');
    assert.equal(ok.headers['access-control-allow-origin'], undefined);
    assert.deepEqual(ok.body, { tenants: [{ name: 'tenant-a', token: 'token-a-1' }, { name: 'tenant-b', token: 'token-b-1' }] });
    for (const host of ['localhost:4000', '[::1]:4000', '127.0.0.1']) {
      assert.equal((await request(local.app).get('/explorer/demo-tenants').set('Host', host)).status, 200, host);
    }

    // A name of another site pointed at 127.0.0.1 (DNS rebinding), and a request another origin made.
    for (const [header, value] of [['Host', 'attacker.example:4000'], ['Host', '127.0.0.1.attacker.example'], ['Host', 'localhost.attacker.example'], ['Sec-Fetch-Site', 'cross-site'], ['Sec-Fetch-Site', 'same-site']] as const) {
      const refused = await request(local.app).get('/explorer/demo-tenants').set(header, value);
      assert.equal(refused.status, 403, `${header}: ${value}`);
      assert.match(refused.headers['content-type']!, /^application\/problem\+json/);
      assert.equal(JSON.parse(refused.text).code, 'FORBIDDEN');
      assert.doesNotMatch(refused.text, /token-/);
    }
    assert.equal(minted, 4, 'tokens are minted only for the requests that get them');
  } finally {
    await local.stop();
  }
});

test('loopback peers and hosts', () => {
  for (const a of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1']) assert.ok(isLoopbackAddress(a), a);
  for (const a of ['10.0.0.1', '::ffff:192.168.1.5', 'fe80::1', '', undefined, '127.0.0.1.example']) assert.ok(!isLoopbackAddress(a), String(a));
  for (const h of ['localhost', 'localhost:4000', '127.0.0.1:80', '[::1]:4000', '[::1]']) assert.ok(isLoopbackHost(h), h);
  for (const h of ['example.com', 'localhost.example.com', '127.0.0.1.nip.io:4000', '[::2]:4000', '', undefined]) assert.ok(!isLoopbackHost(h), String(h));
});
