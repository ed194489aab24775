// With tenants, the REST facade answers a path naming a resource the caller may not use exactly as
// one naming a resource that does not exist: nothing about the hidden resource (that it exists, its
// versions, scope, subresources or fields) shows in the answer, and nothing is asked of the
// operations. Kubernetes gives an unauthorized caller the same answer for both too (it authorizes
// before it looks the resource up); the gateway's answer is its own 404, as its GraphQL schema and
// OpenAPI document for the tenant leave the resource out.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import express from 'express';
import request from 'supertest';
import { ApiError } from '../../../src/api-errors.ts';
import type { Caller } from '../../../src/auth/authenticate.ts';
import { crdToModel } from '../../../src/model/crd-to-model.ts';
import type { ResourceModel } from '../../../src/model/resource-model.ts';
import { restRouter } from '../../../src/transports/rest-router.ts';
import { makeCrd } from '../crd-fixtures.ts';
import { InMemoryOperations } from '../in-memory-operations.ts';

const widgets = crdToModel(makeCrd({ group: 'stable.example.com', kind: 'Widget' }));
// Hidden from the tenant: cluster-scoped, two versions, a status subresource and an enum field.
const vaults = crdToModel(makeCrd({
  group: 'secret.example.com', kind: 'Vault', scope: 'Cluster',
  versions: [{ name: 'v1', subresources: { status: {} } }, { name: 'v2' }],
  spec: { type: 'object', properties: { tier: { type: 'string', enum: ['gold', 'platinum'] }, keyRing: { type: 'string' } } },
}));

const caller: Caller = { tenant: 'a', identity: { user: 'alice', groups: [] } };

function app(withTenants: boolean) {
  const ops = new InMemoryOperations();
  const a = express();
  a.use('/rest', restRouter({
    operations: ops,
    resources: () => [widgets, vaults],
    ...(withTenants ? {
      authenticate: async (authorization: string | undefined) => {
        if (authorization !== 'Bearer a') throw new ApiError('UNAUTHENTICATED', 'no token', { reason: 'Unauthorized' });
        return caller;
      },
      mayUse: async (c: Caller, r: ResourceModel) => c === caller && r === widgets,
    } : {}),
  }));
  return { app: a, ops };
}

/** The answer's status and detail, with the path's plural and group put back to compare two answers. */
async function answer(a: express.Express, path: string, plural: string, group: string): Promise<{ status: number; detail: string }> {
  const res = await request(a).get(path).set('authorization', 'Bearer a');
  const detail = String((res.body as { detail?: unknown }).detail ?? '').replaceAll(`${plural}.${group}`, 'PLURAL.GROUP');
  return { status: res.status, detail };
}

describe('REST facade with tenants: resources the caller may not use', () => {
  const hidden: [string, string][] = [
    // [path to the hidden resource, same path to a resource that does not exist]
    ['/rest/secret.example.com/v1/vaults', '/rest/secret.example.com/v1/nothings'],
    ['/rest/secret.example.com/v1/vaults/main', '/rest/secret.example.com/v1/nothings/main'],
    // Old code: "has no served version v9", "is cluster-scoped: use …", "has no status subresource".
    ['/rest/secret.example.com/v9/vaults', '/rest/secret.example.com/v9/nothings'],
    ['/rest/secret.example.com/v1/namespaces/x/vaults', '/rest/secret.example.com/v1/namespaces/x/nothings'],
    ['/rest/secret.example.com/v2/vaults/main/status', '/rest/secret.example.com/v2/nothings/main/status'],
    ['/rest/secret.example.com/v1/vaults/main/scale', '/rest/secret.example.com/v1/nothings/main/scale'],
    // Old code: the where clause was checked against the hidden schema (naming its fields and enum values).
    [`/rest/secret.example.com/v1/vaults?where=${encodeURIComponent('{"spec":{"tier":{"eq":"silver"}}}')}`,
      `/rest/secret.example.com/v1/nothings?where=${encodeURIComponent('{"spec":{"tier":{"eq":"silver"}}}')}`],
    [`/rest/secret.example.com/v1/vaults?orderBy=spec.nope`, `/rest/secret.example.com/v1/nothings?orderBy=spec.nope`],
  ];
  for (const [path, missing] of hidden) {
    it(`GET ${path} is answered as GET ${missing}`, async () => {
      const { app: a, ops } = app(true);
      const got = await answer(a, path, 'vaults', 'secret.example.com');
      const none = await answer(a, missing, 'nothings', 'secret.example.com');
      assert.deepEqual(got, none);
      assert.equal(got.status, 404);
      assert.doesNotMatch(got.detail, /v2|cluster|status|tier|gold|platinum|keyRing/);
      assert.equal(ops.calls.length, 0, 'nothing is asked of the operations');
    });
  }

  it('writes to a hidden resource are answered as to a missing one, and never reach the operations', async () => {
    const { app: a, ops } = app(true);
    const res = await request(a).post('/rest/secret.example.com/v1/vaults').set('authorization', 'Bearer a').send({ metadata: { name: 'x' } });
    const none = await request(a).post('/rest/secret.example.com/v1/nothings').set('authorization', 'Bearer a').send({ metadata: { name: 'x' } });
    assert.equal(res.status, 404);
    assert.equal(res.body.detail, String(none.body.detail).replace('nothings', 'vaults'));
    assert.equal(ops.calls.length, 0);
  });

  it('a resource the caller may use is served as before', async () => {
    const { app: a, ops } = app(true);
    const res = await request(a).get('/rest/stable.example.com/v1/namespaces/x/widgets').set('authorization', 'Bearer a');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(ops.lastCall().operation, 'list');
    const bad = await request(a).get('/rest/stable.example.com/v9/namespaces/x/widgets').set('authorization', 'Bearer a');
    assert.equal(bad.status, 404);
    assert.match(bad.body.detail, /widgets\.stable\.example\.com has no served version v9/);
  });

  it('without tenants every served resource is answered in full', async () => {
    const { app: a } = app(false);
    const res = await request(a).get('/rest/secret.example.com/v9/vaults');
    assert.equal(res.status, 404);
    assert.match(res.body.detail, /vaults\.secret\.example\.com has no served version v9/);
    const list = await request(a).get('/rest/secret.example.com/v1/vaults');
    assert.equal(list.status, 200);
  });
});
