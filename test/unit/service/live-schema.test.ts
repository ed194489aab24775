import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { LiveSchema } from '../../../src/service/live-schema.ts';
import { notImplementedOperations } from '../../../src/graphql/not-implemented-operations.ts';
import type { CrdObject, CrdSnapshot } from '../../../src/catalog/crd-catalog.ts';

const crontab = parse(readFileSync(new URL('../../../deploy/examples/crontab-crd.yaml', import.meta.url), 'utf8')) as CrdObject;
const snap = (generation: number, crds: CrdObject[]): CrdSnapshot => ({ generation, crds });
const withRv = (crd: CrdObject, rv: string, patch: (c: CrdObject) => void = () => {}): CrdObject => {
  const c = structuredClone(crd);
  c.metadata.resourceVersion = rv;
  patch(c);
  return c;
};

test('a CRD update that leaves the API as it is (status only) keeps the schema; a spec change rebuilds it', () => {
  const warnings: string[] = [];
  const live = new LiveSchema({ operations: notImplementedOperations, log: { info: () => {}, warn: (m) => warnings.push(m) } });
  const first = live.rebuild(snap(1, [withRv(crontab, '1')]));
  const statusOnly = live.rebuild(snap(2, [withRv(crontab, '2', (c) => (c.status = { conditions: [{ type: 'Established', status: 'True' }] }))]));
  assert.equal(statusOnly, first, 'same schema object');
  assert.equal(live.stats.rebuilds, 1);
  assert.equal(live.stats.unchanged, 1);
  const changed = live.rebuild(snap(3, [withRv(crontab, '3', (c) => {
    (c.spec.versions[0] as unknown as { schema: { openAPIV3Schema: { properties: Record<string, unknown> } } }).schema.openAPIV3Schema.properties.extra = { type: 'string' };
  })]));
  assert.notEqual(changed, first);
  assert.equal(live.stats.rebuilds, 2);
});
