// The apiserver's warnings reach a REST client as Warning headers: each once, however many calls
// of one request gave it (a list across namespaces makes one per namespace), at most 10, none over
// 1 KiB, so that no proxy refuses the answer for its headers.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import express from 'express';
import request from 'supertest';
import { crdToModel } from '../../../src/model/crd-to-model.ts';
import { restRouter } from '../../../src/transports/rest-router.ts';
import { makeCrd } from '../crd-fixtures.ts';
import { InMemoryOperations } from '../in-memory-operations.ts';
import type { CallerContext } from '../../../src/contract/caller-context.ts';

const widgets = crdToModel(makeCrd({ group: 'stable.example.com', kind: 'Widget' }));

test('warnings of a request: each once, at most 10, none longer than 1 KiB', async () => {
  const ops = new InMemoryOperations();
  const list = ops.list.bind(ops);
  ops.list = async (req) => {
    const warn = (req.context as CallerContext).onWarning!;
    for (let i = 0; i < 200; i++) warn('299 - "v1 Widget is deprecated"');
    for (let i = 0; i < 20; i++) warn(`299 - "unknown field \\"spec.f${i}\\""`);
    warn(`299 - "${'x'.repeat(2000)}"`);
    return list(req);
  };
  const app = express();
  app.use('/rest', restRouter({ operations: ops, resources: () => [widgets] }));
  const res = await request(app).get('/rest/stable.example.com/v1/namespaces/a/widgets');
  assert.equal(res.status, 200, res.text);
  const warnings = (res.headers['warning'] as string).split(/, (?=299)/);
  assert.equal(warnings.length, 10);
  assert.equal(warnings[0], '299 - "v1 Widget is deprecated"');
  assert.equal(warnings.filter((w) => w.includes('deprecated')).length, 1);
});
