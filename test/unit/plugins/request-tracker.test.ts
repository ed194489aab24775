// The request tracker: what it reads of a request as it comes in, and what it records as it closes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import express, { type Request } from 'express';
import { request } from 'node:http';
import { requestPath, requestTracker, type RequestRecord } from '../../../src/plugins/request-tracker.ts';

test('a request\'s path is Express\' req.path for every kind of URL, without parsing the plain ones', () => {
  const app = express();
  const urls = [
    '/graphql', '/graphql?x=1', '/graphql/', '/', '/?', '/rest/a/b?c?d', '/rest/a%20b?q=%3F', '/a;b?c=d&e',
    '/a#frag', '/a?b#c', '/a b', '/a?b c', '/a\tb', '/a\u00a0b', '/a?\ufeff', '/caf\u00e9?x', '//double//slash?x',
    'http://host:8080/graphql?x=1', '*', 'graphql', '',
  ];
  for (const url of urls) {
    const req = Object.create(app.request) as Request;
    req.url = url;
    const expressPath = req.path;
    const fresh = Object.create(app.request) as Request;
    fresh.url = url;
    assert.equal(requestPath(fresh), expressPath, JSON.stringify(url));
  }
});

test('a request closed before any answer was sent is recorded with status 0, not the 200 a response holds by default', async () => {
  const records: RequestRecord[] = [];
  const app = express();
  app.use(requestTracker((r) => records.push(r)));
  app.post('/never', () => {});
  app.get('/ok', (_req, res) => void res.json({}));
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const port = (server.address() as { port: number }).port;
  const req = request({ port, path: '/never', method: 'POST' });
  req.on('error', () => {});
  req.write('{');
  setTimeout(() => req.destroy(), 50);
  await fetch(`http://127.0.0.1:${port}/ok`);
  while (records.length < 2) await new Promise((r) => setTimeout(r, 10));
  server.close();
  const byPath = Object.fromEntries(records.map((r) => [r.path, [r.status, r.code, r.aborted]]));
  assert.deepEqual(byPath, { '/never': [0, 'CANCELLED', true], '/ok': [200, 'ok', false] });
});
