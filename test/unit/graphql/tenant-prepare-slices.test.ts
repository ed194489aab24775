// The lookups tenant views share are prepared after a schema change a slice at a time, so that the
// walk of every type (most of a second at 1,000 CRDs) never holds the event loop in one piece; a
// caller that needs them early finishes the rest, and a schema replaced meanwhile is dropped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import type { AccessRights } from '../../../src/contract/access.ts';
import { createSchemaBuilder } from '../../../src/graphql/schema-builder.ts';
import { prepareTenantViews, prepareTenantViewsInSlices, TenantSchemaCache } from '../../../src/graphql/tenant-schema.ts';
import { crdToModel } from '../../../src/model/crd-to-model.ts';
import { InMemoryOperations } from '../in-memory-operations.ts';

const dir = fileURLToPath(new URL('../../../deploy/examples/', import.meta.url));
const models = readdirSync(dir).filter((f) => f.endsWith('-crd.yaml')).map((f) => crdToModel(parse(readFileSync(dir + f, 'utf8'))));
const everything: AccessRights = { anywhere: () => true, fingerprint: () => 'all' };

function build() {
  return createSchemaBuilder({ operations: new InMemoryOperations() }).build(models);
}

/** A scheduler that runs nothing until asked, and a clock that moves only when told. */
function manual() {
  const queue: (() => void)[] = [];
  let t = 0;
  return {
    schedule: (next: () => void) => queue.push(next),
    now: () => t,
    advance: (ms: number) => (t += ms),
    runOne: () => queue.shift()?.(),
    pending: () => queue.length,
  };
}

test('with no time left in a slice, each slice walks one group and yields to the event loop', () => {
  const full = build();
  const m = manual();
  // The clock passes the budget at every reading after the first: one step per slice.
  prepareTenantViewsInSlices(full.schema, { sliceMs: 5, now: () => m.advance(10), schedule: m.schedule });
  let slices = 0;
  while (m.pending()) {
    m.runOne();
    slices++;
  }
  assert.ok(slices > models.length, `${slices} slices for ${models.length} CRDs`);
  // Prepared: asking again is a lookup, and gives the same object.
  assert.equal(prepareTenantViews(full.schema), prepareTenantViews(full.schema));
});

test('a caller that needs the lookups before the last slice finishes them, and the slices stop', () => {
  const full = build();
  const m = manual();
  prepareTenantViewsInSlices(full.schema, { sliceMs: 5, now: () => m.advance(10), schedule: m.schedule });
  m.runOne();
  assert.equal(m.pending(), 1);
  const tenant = new TenantSchemaCache().get(full.schema, full.resources, everything).schema;
  assert.ok(tenant.getQueryType());
  const prep = prepareTenantViews(full.schema);
  m.runOne();
  assert.equal(m.pending(), 0, 'no slice scheduled after the caller finished the preparation');
  assert.equal(prepareTenantViews(full.schema), prep);
});

test('a schema no longer wanted is not prepared further; a later caller prepares it whole', () => {
  const full = build();
  const m = manual();
  let wanted = true;
  prepareTenantViewsInSlices(full.schema, { sliceMs: 5, now: () => m.advance(10), schedule: m.schedule, wanted: () => wanted });
  m.runOne();
  wanted = false;
  m.runOne();
  assert.equal(m.pending(), 0);
  // Dropped, not half-kept: its tenant views answer as those of the same schema prepared in one go.
  const tenant = new TenantSchemaCache().get(full.schema, full.resources, everything).schema;
  const whole = build();
  const reference = new TenantSchemaCache().get(whole.schema, whole.resources, everything).schema;
  let reached = 0;
  for (const name of Object.keys(whole.schema.getTypeMap())) {
    assert.equal(Boolean(tenant.getType(name)), Boolean(reference.getType(name)), name);
    if (reference.getType(name)) reached++;
  }
  assert.ok(reached > 50, `${reached} types reached`);
});

test('within the budget a slice walks every group at once', () => {
  const full = build();
  const m = manual();
  prepareTenantViewsInSlices(full.schema, { sliceMs: 5, now: m.now, schedule: m.schedule });
  m.runOne();
  assert.equal(m.pending(), 0);
});
