// CORS (--cors-origins): browser pages of the allowed origins may call /graphql, the REST facade and
// the OpenAPI documents; preflights allow the headers real clients send; every other origin gets no
// CORS header and its request runs as without CORS (never a 500).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { GraphQLObjectType, GraphQLSchema, GraphQLString } from 'graphql';
import { createApp, finalHandlers, type App } from '../../../src/transports/create-app.ts';
import { SchemaGateway } from '../../../src/transports/schema-gateway.ts';
import { loadConfig } from '../../../src/config/config.ts';

const schema = new GraphQLSchema({ query: new GraphQLObjectType({ name: 'Query', fields: { hello: { type: GraphQLString, resolve: () => 'world' } } }) });
const allowed = 'https://app.example.com';

async function appWith(corsOrigins: string[] | undefined): Promise<App> {
  const made = await createApp({ gateway: new SchemaGateway(schema), readiness: () => ({ ready: true, reasons: [] }), corsOrigins });
  // The routes gateway.ts mounts after createApp: the OpenAPI documents and the REST facade.
  made.app.get('/openapi.json', (_req, res) => { res.json({ openapi: '3.1.0' }); });
  made.app.get('/rest/stable.example.com/v1/crontabs', (_req, res) => { res.json({ items: [] }); });
  made.app.use(...finalHandlers());
  return made;
}

const corsHeaders = (headers: Record<string, string>) => Object.keys(headers).filter((h) => h.startsWith('access-control-'));

describe('CORS with --cors-origins', () => {
  let made: App;
  let plain: App;
  before(async () => {
    made = await appWith([allowed, 'http://localhost:5173']);
    plain = await appWith(undefined);
  });
  after(async () => {
    await made.stop();
    await plain.stop();
  });

  it('answers a POST /graphql from an allowed origin with its origin, exposed headers and no credentials', async () => {
    const r = await request(made.app).post('/graphql').set('Origin', allowed).send({ query: '{ hello }' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers['access-control-allow-origin'], allowed);
    assert.equal(r.headers['access-control-allow-credentials'], undefined);
    assert.match(r.headers['vary'] ?? '', /Origin/);
    for (const h of ['X-Request-Id', 'WWW-Authenticate', 'Retry-After', 'Warning']) assert.match(r.headers['access-control-expose-headers'] ?? '', new RegExp(h));
  });

  it('answers the preflights of Apollo Client, urql, REST patches and fetch-based SSE with 204 and every header they ask for', async () => {
    const preflights: [string, string, string][] = [
      ['/graphql', 'POST', 'authorization,content-type,apollo-require-preflight,x-apollo-operation-name'],
      ['/graphql', 'GET', 'authorization'],
      ['/rest/stable.example.com/v1/namespaces/a/crontabs/x', 'PATCH', 'authorization,content-type,x-request-id,traceparent'],
      ['/rest/stable.example.com/v1/crontabs', 'GET', 'authorization,last-event-id,accept'],
      ['/openapi.json', 'GET', 'authorization'],
      ['/openapi.yaml', 'GET', 'authorization'],
    ];
    for (const [path, method, headers] of preflights) {
      const r = await request(made.app).options(path).set('Origin', allowed).set('Access-Control-Request-Method', method).set('Access-Control-Request-Headers', headers);
      assert.equal(r.status, 204, `${method} ${path}`);
      assert.equal(r.headers['access-control-allow-origin'], allowed, path);
      assert.ok((r.headers['access-control-allow-methods'] ?? '').split(',').includes(method), `${method} ${path}`);
      const allowedHeaders = (r.headers['access-control-allow-headers'] ?? '').toLowerCase().split(',');
      for (const h of headers.split(',')) assert.ok(allowedHeaders.includes(h), `${h} allowed for ${path}`);
      assert.equal(r.headers['access-control-max-age'], '600');
    }
  });

  it('gives another origin no CORS header at all, and runs its request as without CORS', async () => {
    const post = await request(made.app).post('/graphql').set('Origin', 'https://evil.example').send({ query: '{ hello }' });
    assert.equal(post.status, 200);
    assert.deepEqual(corsHeaders(post.headers), []);
    assert.match(post.headers['vary'] ?? '', /Origin/, 'a shared cache keys the answer by Origin');
    for (const origin of ['https://evil.example', 'null', `${allowed}.evil.example`, 'https://APP.example.com', '']) {
      const pre = await request(made.app).options('/graphql').set('Origin', origin).set('Access-Control-Request-Method', 'POST');
      assert.ok(pre.status < 500, origin);
      assert.deepEqual(corsHeaders(pre.headers), [], origin);
    }
  });

  it('leaves the pages and probes alone, and is off without the flag', async () => {
    for (const path of ['/healthz', '/']) {
      const r = await request(made.app).get(path).set('Origin', allowed);
      assert.deepEqual(corsHeaders(r.headers), [], path);
    }
    const r = await request(plain.app).post('/graphql').set('Origin', allowed).send({ query: '{ hello }' });
    assert.deepEqual(corsHeaders(r.headers), []);
    const pre = await request(plain.app).options('/graphql').set('Origin', allowed).set('Access-Control-Request-Method', 'POST');
    assert.deepEqual(corsHeaders(pre.headers), []);
  });
});

describe('--cors-origins values', () => {
  const read = (raw: string) => {
    const c = loadConfig(['--cors-origins', raw], {}, { stateDir: '/s' });
    assert.ok(c !== 'help');
    return c.corsOrigins;
  };

  it('takes exact origins, comma-separated, and refuses a wildcard, a path, null and other schemes', () => {
    assert.deepEqual(read('https://a.example, http://localhost:3000,https://a.example'), ['https://a.example', 'http://localhost:3000']);
    assert.deepEqual(loadConfig([], {}, { stateDir: '/s' }) !== 'help' && (loadConfig([], {}, { stateDir: '/s' }) as { corsOrigins: unknown }).corsOrigins, []);
    for (const bad of ['*', 'https://a.example/', 'https://a.example/app', 'null', 'ftp://a.example', 'a.example', 'https://A.example', 'https://*.example.com']) {
      assert.throws(() => read(bad), /cors-origins from flag: .* not a comma-separated list of origins/, bad);
    }
  });
});

describe('OPTIONS /graphql', () => {
  it('says what /graphql serves, with or without the explorer, and with CORS for another origin', async () => {
    for (const [explorer, corsOrigins, origin] of [[undefined, undefined, undefined], [false, undefined, undefined], [undefined, [allowed], 'https://evil.example']] as const) {
      const made = await createApp({ gateway: new SchemaGateway(schema), readiness: () => ({ ready: true, reasons: [] }), explorer, corsOrigins: corsOrigins && [...corsOrigins] });
      made.app.use(...finalHandlers());
      try {
        const req = request(made.app).options('/graphql');
        const r = await (origin ? req.set('Origin', origin).set('Access-Control-Request-Method', 'POST') : req);
        assert.equal(r.status, 204, `explorer ${explorer}: ${r.text}`);
        assert.equal(r.headers['allow'], 'GET, POST', 'as Apollo\'s own 405 answer says');
        assert.deepEqual(corsHeaders(r.headers), []);
        const put = await request(made.app).put('/graphql').send({ query: '{ hello }' });
        assert.equal(put.headers['allow'], r.headers['allow']);
      } finally {
        await made.stop();
      }
    }
  });
});
