// A PermissionSet answers "allowed anywhere" and the fingerprint from one mask per resource,
// worked out once: the answers must be those of the question asked one by one, cluster-wide
// answer first, then each namespace's rules.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PermissionSet } from '../../../src/auth/permissions.ts';
import type { ResourceRef, Verb } from '../../../src/contract/access.ts';

const verbs: Verb[] = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection'];
const pairs: [Verb, string | undefined][] = [
  ['get', undefined], ['list', undefined], ['watch', undefined], ['create', undefined], ['update', undefined],
  ['patch', undefined], ['delete', undefined], ['deletecollection', undefined], ['update', 'status'], ['get', 'scale'], ['update', 'scale'],
];
const groups = ['a.example.com', 'b.example.com', ''];
const plurals = ['widgets', 'gadgets'];

const rule = fc.record({
  verbs: fc.subarray([...verbs, '*']),
  apiGroups: fc.option(fc.subarray([...groups, '*']), { nil: undefined }),
  resources: fc.option(fc.subarray([...plurals, '*', '*/status', '*/scale', 'widgets/status', 'gadgets/scale']), { nil: undefined }),
  resourceNames: fc.option(fc.constantFrom<string[]>([], ['one']), { nil: undefined }),
});
const ref = fc.record({ group: fc.constantFrom(...groups), plural: fc.constantFrom(...plurals), namespaced: fc.boolean() });
const clusterKey = (verb: string, r: ResourceRef, sub?: string) => `${verb}|${r.group}|${r.plural}|${sub ?? ''}`;

/** The answer asked one by one, as the set answers it for any other pair. */
function expected(set: PermissionSet, verb: Verb, r: ResourceRef, sub: string | undefined): boolean {
  return set.clusterWide(verb, r, sub) || (r.namespaced && set.namespacesWhere(verb, r, sub).length > 0);
}

describe('PermissionSet', () => {
  it('answers anywhere() and the fingerprint as each question asked on its own would', () => {
    fc.assert(fc.property(
      fc.array(fc.array(rule, { maxLength: 3 }), { maxLength: 3 }),
      fc.array(fc.tuple(fc.constantFrom(...pairs), ref, fc.boolean()), { maxLength: 12 }),
      fc.array(ref, { minLength: 1, maxLength: 6 }),
      (namespaceRules, answers, refs) => {
        const rules = new Map(namespaceRules.map((list, i) => [`ns-${i}`, list]));
        // Two namespaces sharing one rules list, as namespaces without bindings of their own do.
        if (namespaceRules[0]) rules.set('shared', namespaceRules[0]);
        const cluster = new Map(answers.map(([[verb, sub], r, ok]) => [clusterKey(verb, r, sub), ok]));
        const set = new PermissionSet({ user: 'u' }, rules, cluster);
        const reference = new PermissionSet({ user: 'u' }, rules, cluster);
        let bitsExpected = '';
        for (const r of refs) {
          for (const [verb, sub] of pairs) assert.equal(set.anywhere(verb, r, sub), expected(reference, verb, r, sub), `${verb} ${sub} ${JSON.stringify(r)}`);
          // A pair outside the fingerprint's is asked one by one.
          assert.equal(set.anywhere('list', r, 'status'), expected(reference, 'list', r, 'status'));
          bitsExpected += (bitsExpected ? '.' : '') + pairs.map(([verb, sub]) => (expected(reference, verb, r, sub) ? '1' : '0')).join('');
        }
        assert.equal(set.fingerprint(refs), bitsExpected);
        assert.equal(new PermissionSet({ user: 'u' }, rules, cluster).fingerprint([...refs]), bitsExpected);
      },
    ), { numRuns: 300 });
  });

  it('gives the same fingerprint again for the same list of resources, and a new one for another list', () => {
    const rules = new Map([['team', [{ verbs: ['get'], apiGroups: ['a.example.com'], resources: ['*'] }]]]);
    const set = new PermissionSet({ user: 'u' }, rules, new Map());
    const refs = [{ group: 'a.example.com', plural: 'widgets', namespaced: true }];
    assert.equal(set.fingerprint(refs), '10000000010');
    assert.equal(set.fingerprint(refs), '10000000010');
    assert.equal(set.fingerprint([...refs, { group: 'b.example.com', plural: 'widgets', namespaced: true }]), '10000000010.00000000000');
  });
});

describe('PermissionSet, for one object by name (a watch pinned by metadata.name)', () => {
  const crontabs = { group: 'stable.example.com', plural: 'crontabs', namespaced: true };
  const rules = new Map([
    ['team', [{ verbs: ['get', 'list', 'watch'], apiGroups: ['stable.example.com'], resources: ['crontabs'], resourceNames: ['ct-a'] }]],
    ['open', [{ verbs: ['list', 'watch'], apiGroups: ['stable.example.com'], resources: ['crontabs'], resourceNames: [] }]],
  ]);
  const cluster = new Map([['watch|stable.example.com|crontabs||ct-a', true], ['list|stable.example.com|crontabs||ct-a', true]]);
  const set = new PermissionSet({ user: 'u' }, rules, cluster);

  it('honours a rule limited to resourceNames for a name it lists, and only then', () => {
    const a = { ...crontabs, name: 'ct-a' };
    for (const verb of ['list', 'watch'] as const) {
      assert.equal(set.allowedIn(verb, a, 'team'), true, verb);
      assert.equal(set.rulesAllowIn(verb, a, 'team'), true, verb);
      assert.equal(set.allowedIn(verb, crontabs, 'team'), false, `${verb} in general`);
      assert.equal(set.allowedIn(verb, { ...crontabs, name: 'ct-b' }, 'team'), false, `${verb} another name`);
    }
    assert.deepEqual(set.namespacesWhere('watch', a), ['open', 'team']);
    assert.deepEqual(set.namespacesWhere('watch', crontabs), ['open'], 'an empty resourceNames is no limit');
    assert.deepEqual(set.namespacesWhere('watch', { ...crontabs, name: 'ct-b' }), ['open']);
  });

  it('reads cluster-wide answers about a name apart from those about the resource', () => {
    assert.equal(set.clusterWide('watch', { ...crontabs, name: 'ct-a' }), true);
    assert.equal(set.clusterWide('watch', crontabs), false);
    assert.equal(set.clusterWide('watch', { ...crontabs, name: 'ct-b' }), false);
    // A right on one object is no right on the resource: the schema does not count it.
    assert.equal(new PermissionSet({ user: 'u' }, new Map(), cluster).fingerprint([{ ...crontabs, namespaced: false }]), '00000000000');
  });
});
