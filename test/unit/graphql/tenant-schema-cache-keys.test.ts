// TenantSchemaCache keeps the key it made for a caller's rights (a fingerprint is 11 characters per
// resource) instead of making it again on every request. The key kept must be the one a new
// computation would make: rights that changed, or a new full schema, must not find the old entry.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import type { AccessRights, ResourceRef, Verb } from '../../../src/contract/access.ts';
import { createSchemaBuilder } from '../../../src/graphql/schema-builder.ts';
import { TenantSchemaCache } from '../../../src/graphql/tenant-schema.ts';
import { crdToModel } from '../../../src/model/crd-to-model.ts';

const crd = (file: string) => crdToModel(parse(readFileSync(fileURLToPath(new URL(`../../../deploy/examples/${file}`, import.meta.url)), 'utf8')));
const models = [crd('crontab-crd.yaml'), crd('clustercrontab-crd.yaml')];
const build = () => createSchemaBuilder({}).build(models);

/** Rights that can change, as a caller's do when RBAC changes: "verb plural" grants, anywhere. */
function rights(...grants: string[]): AccessRights & { grants: string[] } {
  const r = {
    grants,
    anywhere: (verb: Verb, ref: ResourceRef, sub?: string) => sub === undefined && r.grants.includes(`${verb} ${ref.plural}`),
    fingerprint: () => r.grants.join(','),
  };
  return r;
}

const queryFields = (s: { getQueryType(): { getFields(): Record<string, unknown> } | null | undefined }) => Object.keys(s.getQueryType()?.getFields() ?? {}).sort();

test('the same rights find their entry again; other rights do not', () => {
  const full = build();
  const cache = new TenantSchemaCache();
  const reader = rights('get crontabs');
  const first = cache.get(full.schema, full.resources, reader);
  assert.equal(cache.get(full.schema, full.resources, reader), first);
  assert.equal(cache.get(full.schema, full.resources, rights('get crontabs')), first, 'equal rights share a schema');
  const other = cache.get(full.schema, full.resources, rights('get clustercrontabs'));
  assert.notEqual(other.key, first.key);
  assert.notDeepEqual(queryFields(other.schema), queryFields(first.schema));
});

test('rights that changed get the schema of their new fingerprint, not the kept key', () => {
  const full = build();
  const cache = new TenantSchemaCache();
  const caller = rights('get crontabs');
  const before = cache.get(full.schema, full.resources, caller);
  caller.grants = ['get clustercrontabs'];
  const after = cache.get(full.schema, full.resources, caller);
  assert.notEqual(after.key, before.key);
  assert.deepEqual(queryFields(after.schema), queryFields(cache.get(full.schema, full.resources, rights('get clustercrontabs')).schema));
});

test('a new full schema: the same rights get a new entry made from it', () => {
  const cache = new TenantSchemaCache();
  const caller = rights('get crontabs', 'list crontabs');
  const old = build();
  const before = cache.get(old.schema, old.resources, caller);
  const next = build();
  const after = cache.get(next.schema, next.resources, caller);
  assert.notEqual(after.key, before.key);
  assert.notEqual(after.schema, before.schema);
  assert.equal(cache.get(old.schema, old.resources, caller).schema === before.schema, false, 'the old schema\'s entries are gone');
});
