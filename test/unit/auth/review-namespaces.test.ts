// Which namespaces get a rules review of their own for an identity: those where a RoleBinding may
// name it; one more namespace stands for all the others (their rules are the cluster-wide ones).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { planNamespaces, subjectMayName, type RoleBindingLike } from '../../../src/auth/review-namespaces.ts';

const rb = (namespace: string, ...subjects: { kind: string; name: string; namespace?: string }[]): RoleBindingLike => ({ metadata: { namespace }, subjects });
const alice = { user: 'alice', groups: ['team-a', 'oidc:dev'] };

describe('namespaces to review', () => {
  it('a cluster of 5,000 namespaces: the two bound ones, plus one that stands for the rest', () => {
    const namespaces = Array.from({ length: 5000 }, (_, i) => `ns-${String(i).padStart(4, '0')}`);
    const bindings = [
      rb('ns-0042', { kind: 'Group', name: 'team-a' }),
      rb('ns-4000', { kind: 'User', name: 'alice' }),
      rb('ns-0100', { kind: 'Group', name: 'team-b' }),
      rb('ns-0200', { kind: 'User', name: 'alice2' }),
    ];
    assert.deepEqual(planNamespaces(namespaces, bindings, alice), { own: ['ns-0042', 'ns-4000'], representative: 'ns-0000' });
  });

  it('every namespace bound: no representative', () => {
    assert.deepEqual(planNamespaces(['a', 'b'], [rb('a', { kind: 'User', name: 'alice' }), rb('b', { kind: 'Group', name: 'oidc:dev' })], alice), { own: ['a', 'b'] });
  });

  it('no binding at all: one review stands for every namespace', () => {
    assert.deepEqual(planNamespaces(['z', 'y'], [], alice), { own: [], representative: 'y' });
    assert.deepEqual(planNamespaces([], [], alice), { own: [] });
  });

  it('system: groups are always taken to match (Kubernetes adds some itself), unknown kinds too', () => {
    assert.equal(subjectMayName({ kind: 'Group', name: 'system:authenticated' }, alice, 'x'), true);
    assert.equal(subjectMayName({ kind: 'Group', name: 'system:serviceaccounts:x' }, alice, 'x'), true);
    assert.equal(subjectMayName({ kind: 'Robot', name: 'r2' }, alice, 'x'), true);
    assert.equal(subjectMayName({ kind: 'Group', name: 'team-b' }, alice, 'x'), false);
    assert.equal(subjectMayName({ kind: 'User', name: 'Alice' }, alice, 'x'), false);
  });

  it('service-account subjects match the service account user, in the binding\'s namespace by default', () => {
    const sa = { user: 'system:serviceaccount:apps:builder', groups: [] };
    assert.equal(subjectMayName({ kind: 'ServiceAccount', name: 'builder' }, sa, 'apps'), true);
    assert.equal(subjectMayName({ kind: 'ServiceAccount', name: 'builder', namespace: 'apps' }, sa, 'other'), true);
    assert.equal(subjectMayName({ kind: 'ServiceAccount', name: 'builder' }, sa, 'other'), false);
    assert.deepEqual(planNamespaces(['apps', 'other'], [rb('apps', { kind: 'ServiceAccount', name: 'builder' })], sa), { own: ['apps'], representative: 'other' });
  });

  it('bindings without subjects or namespace are skipped', () => {
    assert.deepEqual(planNamespaces(['a'], [{ metadata: { namespace: 'a' }, subjects: null }, { subjects: [{ kind: 'User', name: 'alice' }] }], alice), { own: [], representative: 'a' });
  });
});
