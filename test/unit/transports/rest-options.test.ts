// OPTIONS on a REST facade path, without CORS: 204 with the methods that path offers (as its
// OpenAPI operations list them, HEAD with GET), and the same 404 as a GET for a resource, version
// or subresource that does not exist. HEAD is a GET without the body.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import express from 'express';
import request from 'supertest';
import { crdToModel } from '../../../src/model/crd-to-model.ts';
import { restRouter } from '../../../src/transports/rest-router.ts';
import { makeCrd } from '../crd-fixtures.ts';
import { InMemoryOperations } from '../in-memory-operations.ts';

const widgets = crdToModel(makeCrd({ group: 'stable.example.com', kind: 'Widget', versions: [{ name: 'v1', subresources: { status: {} } }] }));
const vaults = crdToModel(makeCrd({ group: 'stable.example.com', kind: 'Vault', scope: 'Cluster' }));

function app() {
  const a = express();
  a.use('/rest', restRouter({ operations: new InMemoryOperations(), resources: () => [widgets, vaults] }));
  return a;
}

describe('OPTIONS on REST facade paths', () => {
  const offered: [string, string][] = [
    ['/rest/stable.example.com/v1/namespaces/a/widgets', 'GET, HEAD, POST, DELETE'],
    ['/rest/stable.example.com/v1/widgets', 'GET, HEAD'],
    ['/rest/stable.example.com/v1/namespaces/a/widgets/w', 'GET, HEAD, PUT, PATCH, DELETE'],
    ['/rest/stable.example.com/v1/namespaces/a/widgets/w/status', 'GET, HEAD, PUT, PATCH'],
    ['/rest/stable.example.com/v1/vaults', 'GET, HEAD, POST, DELETE'],
    ['/rest/stable.example.com/v1/vaults/v', 'GET, HEAD, PUT, PATCH, DELETE'],
  ];
  for (const [path, allow] of offered) {
    it(`${path}: 204, Allow: ${allow}`, async () => {
      const res = await request(app()).options(path);
      assert.equal(res.status, 204, res.text);
      assert.equal(res.headers['allow'], allow);
      assert.equal(res.text, '');
    });
  }

  for (const path of [
    '/rest/stable.example.com/v1/nothings', '/rest/stable.example.com/v9/namespaces/a/widgets',
    '/rest/stable.example.com/v1/namespaces/a/widgets/w/scale', '/rest/stable.example.com/v1/namespaces/a/vaults',
  ]) {
    it(`${path}: 404 as GET answers`, async () => {
      const [options, get] = [await request(app()).options(path), await request(app()).get(path)];
      assert.equal(options.status, 404);
      assert.equal(options.headers['content-type'], 'application/problem+json; charset=utf-8');
      assert.equal((options.body as { detail?: string }).detail, (get.body as { detail?: string }).detail);
    });
  }

  it('HEAD is GET without the body', async () => {
    const path = '/rest/stable.example.com/v1/namespaces/a/widgets';
    const [head, get] = [await request(app()).head(path), await request(app()).get(path)];
    assert.equal(head.status, get.status);
    assert.equal(head.headers['content-type'], get.headers['content-type']);
    assert.equal(head.text, undefined);
  });
});
