// Equal sub-schemas share one converted node: within a version, across the versions of a CRD
// and across the CRDs converted in one synchronous run. A node is shared only with a sub-schema
// equal to its own as JSON; anything that differs, however little, gets its own node.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { CrdModelError } from '../../../src/model/crd-model-error.ts';
import { crdToModel } from '../../../src/model/crd-to-model.ts';
import type { ObjectNode, ResourceModel } from '../../../src/model/resource-model.ts';
import { makeCrd, nodeAt as at } from '../crd-fixtures.ts';


const specOf = (model: ResourceModel, version = 0) => at(model.versions[version]!.schema, 'spec');

const secretRef = () => ({
  description: 'A reference to a key of a Secret.',
  type: 'object',
  required: ['name'],
  properties: {
    name: { description: 'Name of the Secret.', type: 'string' },
    key: { description: 'The key of the entry.', type: 'string', default: 'password' },
    mode: { description: 'How the Secret is read.', type: 'string', enum: ['Read', 'Watch'] },
  },
});

const plain = () => ({ type: 'object', properties: { host: { type: 'string' }, port: { type: 'integer', format: 'int32' } } });

/** A CRD whose spec has the sub-schema under `a` and `b`, and a second served version like the first. */
function crdWith(a: unknown, b: unknown, kind = 'Widget'): Record<string, unknown> {
  const schema = () => ({ type: 'object', properties: { spec: { type: 'object', properties: { a: structuredClone(a), b: structuredClone(b) } } } });
  return makeCrd({ kind, versions: [{ name: 'v1', schema: schema() }, { name: 'v2', schema: schema() }] });
}

/** The same CRD converted in a run of its own: nothing to share with. */
async function alone(crd: Record<string, unknown>): Promise<ResourceModel> {
  await nextTurn();
  return crdToModel(structuredClone(crd));
}

describe('shared schema nodes', () => {
  it('gives equal sub-schemas one node, within a version and across versions', () => {
    const model = crdToModel(crdWith(secretRef(), secretRef()));
    assert.equal(at(specOf(model), 'a'), at(specOf(model), 'b'));
    assert.equal(specOf(model, 0), specOf(model, 1), 'v2 repeats the schema of v1');
    // Undocumented objects are found by their property names.
    const undocumented = crdToModel(crdWith(plain(), plain(), 'Plain'));
    assert.equal(at(specOf(undocumented), 'a'), at(specOf(undocumented), 'b'));
  });

  it('shares across the CRDs of one run, and a shared model equals the model made alone', async () => {
    const first = crdWith(secretRef(), plain());
    const second = makeCrd({ kind: 'Gadget', spec: { type: 'object', properties: { ref: secretRef() } } });
    const [one, two] = [crdToModel(structuredClone(first)), crdToModel(structuredClone(second))];
    assert.equal(at(specOf(two), 'ref'), at(specOf(one), 'a'));
    const later = crdToModel(structuredClone(second));
    assert.equal(at(specOf(later), 'ref'), at(specOf(one), 'a'));

    const [oneAlone, twoAlone] = [await alone(first), await alone(second)];
    assert.notEqual(at(specOf(twoAlone), 'ref'), at(specOf(one), 'a'), 'a later run starts with nothing shared');
    assert.deepStrictEqual(one, oneAlone);
    assert.deepStrictEqual(two, twoAlone);
  });

  it('never shares a node with a sub-schema that differs in any way', async () => {
    // [what, the first sub-schema, the second]: each pair differs in one place only.
    type Change = (s: Record<string, any>) => void;
    const same: Change = () => {};
    const variants: [string, Change, Change][] = [
      ['another default', same, (s) => (s.properties.key.default = 'token')],
      ['-0 against 0', (s) => (s.properties.key.default = 0), (s) => (s.properties.key.default = -0)],
      ['a bigint bound against a number', (s) => (s.properties.name.maxLength = 253), (s) => (s.properties.name.maxLength = 253n)],
      ['properties in another order', same, (s) => (s.properties = { key: s.properties.key, name: s.properties.name, mode: s.properties.mode })],
      ['another required list', same, (s) => (s.required = ['name', 'key'])],
      ['a list against an object', (s) => (s.properties.key.default = { 0: 'password' }), (s) => (s.properties.key.default = ['password'])],
      ['an enum in another order', same, (s) => (s.properties.mode.enum = ['Watch', 'Read'])],
      ['a map type', same, (s) => (s['x-kubernetes-map-type'] = 'atomic')],
      ['a combinator', same, (s) => (s.oneOf = [{ required: ['name'] }, { required: ['key'] }])],
    ];
    for (const [what, changeFirst, changeSecond] of variants) {
      const first = secretRef() as Record<string, any>;
      const second = secretRef() as Record<string, any>;
      changeFirst(first);
      changeSecond(second);
      const crd = crdWith(first, second);
      const model = crdToModel(structuredClone(crd));
      assert.notEqual(at(specOf(model), 'a'), at(specOf(model), 'b'), what);
      assert.deepStrictEqual(model, await alone(crd), what);
    }
  });

  it('still refuses a sub-schema whose description matches a converted one but whose content is wrong', () => {
    const bad = secretRef() as Record<string, any>;
    bad.properties.key.type = 'strin';
    assert.throws(
      () => crdToModel(crdWith(secretRef(), bad)),
      (error: unknown) =>
        error instanceof CrdModelError &&
        error.message.includes('spec.versions[0].schema.openAPIV3Schema.properties["spec"].properties["b"].properties["key"].type: unknown type "strin"'),
    );
  });
});
