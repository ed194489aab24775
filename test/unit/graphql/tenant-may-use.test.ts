// mayUseResource decides which resources the REST facade serves a tenant; allowedRootFields which
// CRDs its GraphQL schema and OpenAPI document show. The two must agree for every single right
// (each verb and subresource a root field needs, and ones no root field needs), or REST would hide
// or show a resource the other two do not.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AccessRights, ResourceRef, Verb } from '../../../src/contract/access.ts';
import { crdToModel } from '../../../src/model/crd-to-model.ts';
import { allowedRootFields, fieldVerbs, mayUseResource, refOf } from '../../../src/graphql/tenant-schema.ts';
import { makeCrd } from '../crd-fixtures.ts';

const scaled = crdToModel(makeCrd({ kind: 'Widget', versions: [{ name: 'v1', subresources: { status: {}, scale: { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas' } } }] }));

/** Rights holding one grant "verb" or "verb/subresource", on every resource. */
function only(grant: string | undefined): AccessRights {
  return {
    anywhere: (verb: Verb, _ref: ResourceRef, sub?: string) => grant === (sub === undefined ? verb : `${verb}/${sub}`),
    fingerprint: () => grant ?? '',
  };
}

describe('mayUseResource', () => {
  const grants = [undefined, 'get/status', 'patch/status', 'impersonate',
    ...Object.values(fieldVerbs).map(([verb, sub]) => (sub === undefined ? verb : `${verb}/${sub}`))];
  for (const grant of grants) {
    it(`agrees with the tenant schema's CRDs for the grant ${grant ?? '(none)'}`, () => {
      const rights = only(grant);
      const inSchema = allowedRootFields([scaled], rights).crds.has(scaled.crdName);
      assert.equal(mayUseResource(rights, refOf(scaled)), inSchema);
      assert.equal(inSchema, grant !== undefined && Object.values(fieldVerbs).some(([v, s]) => grant === (s === undefined ? v : `${v}/${s}`)));
    });
  }
});
