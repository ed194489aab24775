// The request tracker: what it reads of a request as it comes in.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import express, { type Request } from 'express';
import { requestPath } from '../../../src/plugins/request-tracker.ts';

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
