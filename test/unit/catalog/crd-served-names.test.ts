// A CRD is modelled under the names the apiserver serves it under (status.acceptedNames): a change
// of spec.names the apiserver refused does not reach the schema.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withServedNames, type CrdObject } from '../../../src/catalog/crd-catalog.ts';

const crd = (names: CrdObject['spec']['names'], acceptedNames?: Partial<CrdObject['spec']['names']>): CrdObject => ({
  metadata: { name: 'widgets.g.example.com', resourceVersion: '5' },
  spec: { group: 'g.example.com', scope: 'Namespaced', names, versions: [{ name: 'v1', served: true, storage: true }] },
  ...(acceptedNames ? { status: { acceptedNames } } : {}),
});

test('names accepted as they are asked, or no status (files): the CRD itself', () => {
  const names = { plural: 'widgets', singular: 'widget', kind: 'Widget', listKind: 'WidgetList' };
  const same = crd(names, { ...names });
  assert.equal(withServedNames(same), same);
  const file = crd(names);
  assert.equal(withServedNames(file), file);
});

test('a refused listKind or kind: the accepted names, in a copy made once, the CRD itself untouched', () => {
  const refused = crd({ plural: 'widgets', singular: 'widget', kind: 'Widget', listKind: 'GadgetList' }, { plural: 'widgets', singular: 'widget', kind: 'Widget', listKind: 'WidgetList', shortNames: ['wd'] });
  const served = withServedNames(refused);
  assert.deepEqual(served.spec.names, { kind: 'Widget', plural: 'widgets', singular: 'widget', listKind: 'WidgetList', shortNames: ['wd'] });
  assert.equal(refused.spec.names.listKind, 'GadgetList');
  assert.equal(withServedNames(refused), served);
  assert.equal(served.spec.versions, refused.spec.versions);
  const renamed = crd({ plural: 'widgets', kind: 'Gadget' }, { plural: 'widgets', kind: 'Widget' });
  assert.equal(withServedNames(renamed).spec.names.kind, 'Widget');
});
