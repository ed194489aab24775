import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import express, { type RequestHandler } from 'express';
import request from 'supertest';
import { buildSchema } from 'graphql';
import { serveWithoutRouter } from '../../../src/transports/direct-route.ts';
import { createApp, finalHandlers } from '../../../src/transports/create-app.ts';
import { losslessJsonBody } from '../../../src/transports/json-body.ts';
import { SchemaGateway } from '../../../src/transports/schema-gateway.ts';
import { ApiError } from '../../../src/api-errors.ts';

/** Counts the requests that reach the app's router. */
function countRouted(app: express.Express): { count: number } {
  const counter = { count: 0 };
  const router = (app as unknown as { router: { handle: (...args: unknown[]) => unknown } }).router;
  const handle = router.handle.bind(router);
  router.handle = (...args: unknown[]) => {
    counter.count++;
    return handle(...args);
  };
  return counter;
}

/**
 * The same handlers behind the router alone, and served without it: a middleware that records the
 * order, one that fails when asked to (thrown, rejected, passed to next), the body reader, and a
 * last handler that answers (or passes the request on when asked to).
 */
function apps(): { routed: express.Express; direct: express.Express; seen: string[] } {
  const seen: string[] = [];
  const record: RequestHandler = (req, res, next) => {
    seen.push(`${req.method} ${req.url} ${req.baseUrl}`);
    res.setHeader('X-Seen', String(seen.length));
    next();
  };
  const fail: RequestHandler = async (req, _res, next) => {
    const how = req.get('x-fail');
    if (how === 'throw') throw new ApiError('FORBIDDEN', 'thrown', { reason: 'Forbidden' });
    if (how === 'reject') return Promise.reject(new Error('rejected')) as never;
    if (how === 'next') return next(new ApiError('CONFLICT', 'passed on', { reason: 'Conflict' }));
    next();
  };
  const answer: RequestHandler = (req, res, next) => {
    if (req.get('x-pass') === 'yes') return next();
    res.json({ body: req.body as unknown, url: req.url, baseUrl: req.baseUrl, originalUrl: req.originalUrl });
  };
  const route = [record, ...losslessJsonBody('100b'), answer];
  const make = (direct: boolean) => {
    const app = express();
    app.disable('x-powered-by');
    if (direct) serveWithoutRouter(app, 'POST', '/graphql', { app: [record, fail], route });
    app.use(record, fail);
    app.get('/healthz', (_req, res) => void res.json({ ok: true }));
    app.use('/graphql', ...route);
    app.use(...finalHandlers());
    return app;
  };
  return { routed: make(false), direct: make(true), seen };
}

describe('POST /graphql without the router', () => {
  const cases: { name: string; path?: string; method?: 'post' | 'get' | 'put'; headers?: Record<string, string>; body?: string; direct: boolean }[] = [
    { name: 'an answer', body: '{"query":"{a}"}', direct: true },
    { name: 'a query string', path: '/graphql?x=1', body: '{"query":"{a}"}', direct: true },
    { name: 'a body over the limit', body: JSON.stringify({ query: 'x'.repeat(200) }), direct: true },
    { name: 'a body that is not JSON', body: '{"query":', direct: true },
    { name: 'an empty body', body: '', direct: true },
    { name: 'a thrown error', headers: { 'x-fail': 'throw' }, body: '{}', direct: true },
    { name: 'a rejected promise', headers: { 'x-fail': 'reject' }, body: '{}', direct: true },
    { name: 'an error passed to next', headers: { 'x-fail': 'next' }, body: '{}', direct: true },
    { name: 'a trailing slash', path: '/graphql/', body: '{}', direct: false },
    { name: 'another case', path: '/GraphQL', body: '{}', direct: false },
    { name: 'a longer path', path: '/graphqlx', body: '{}', direct: false },
    { name: 'a GET', method: 'get', path: '/graphql?query=%7Ba%7D', direct: false },
    { name: 'a PUT', method: 'put', body: '{}', direct: false },
    { name: 'another route', method: 'get', path: '/healthz', direct: false },
  ];
  for (const c of cases) {
    it(`answers ${c.name} as the router does${c.direct ? ', without it' : ', through it'}`, async () => {
      const { routed, direct, seen } = apps();
      const counted = countRouted(direct);
      const send = async (app: express.Express) => {
        let r = request(app)[c.method ?? 'post'](c.path ?? '/graphql');
        for (const [k, v] of Object.entries({ 'content-type': 'application/json', ...c.headers })) r = r.set(k, v);
        const res = c.body === undefined ? await r : await r.send(c.body);
        return { status: res.status, type: res.headers['content-type'], seen: res.headers['x-seen'], text: res.text };
      };
      const before = await send(routed);
      const seenRouted = seen.splice(0);
      const after = await send(direct);
      assert.deepEqual(after, before);
      assert.deepEqual(seen, seenRouted);
      const failed = c.headers?.['x-fail'] !== undefined || before.status >= 400;
      // A direct request reaches the router only to be answered by its error handlers.
      assert.equal(counted.count, c.direct ? (failed ? 1 : 0) : 1);
    });
  }

  it('hands a request that the last handler passed on to the router as an internal error', async () => {
    const { direct } = apps();
    const res = await request(direct).post('/graphql').set('content-type', 'application/json').set('x-pass', 'yes').send('{}');
    assert.equal(res.status, 500);
    assert.deepEqual(res.body.errors[0].extensions, { code: 'INTERNAL', httpStatus: 500 });
  });
});

describe('createApp', () => {
  it('serves GraphQL POSTs without the router, and GETs through it', async () => {
    const schema = buildSchema('type Query { hello: String }');
    const { app, stop } = await createApp({ gateway: new SchemaGateway(schema), readiness: () => ({ ready: true, reasons: [] }), explorer: false });
    try {
      const counted = countRouted(app);
      const post = await request(app).post('/graphql').set('content-type', 'application/json').send({ query: '{ __typename }' });
      assert.equal(post.status, 200);
      assert.deepEqual(post.body, { data: { __typename: 'Query' } });
      assert.match(post.headers['x-request-id']!, /./);
      assert.equal(counted.count, 0);
      const get = await request(app).get('/graphql?query=%7B__typename%7D').set('apollo-require-preflight', 'yes');
      assert.equal(get.status, 200);
      assert.equal(counted.count, 1);
    } finally {
      await stop();
    }
  });
});
