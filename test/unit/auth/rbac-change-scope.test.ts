// Whom an RBAC change may concern: live subscriptions re-check only those identities. Too narrow a
// scope would leave a revoked subscriber watching, so anything unsure must concern everyone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { changeScope, concerns, joinScopes, type RbacObject } from '../../../src/auth/rbac-change-scope.ts';

const alice = { user: 'alice', groups: ['team-a'] };
const bob = { user: 'bob', groups: ['team-b'] };
const sa = { user: 'system:serviceaccount:ns1:robot', groups: ['system:serviceaccounts'] };
const binding = (ns: string | undefined, subjects: RbacObject['subjects'], roleRef = { kind: 'ClusterRole', name: 'editor' }): RbacObject =>
  ({ metadata: { name: 'b', ...(ns ? { namespace: ns } : {}) }, subjects, roleRef });
const none = { roleBindings: [], clusterRoleBindings: [] };

test('a binding concerns the subjects it names, before and after the change, and no one else', () => {
  const created = changeScope('rolebindings', [binding('ns1', [{ kind: 'Group', name: 'team-a' }])], none);
  assert.equal(concerns(created, alice), true);
  assert.equal(concerns(created, bob), false);
  const swapped = changeScope('rolebindings', [binding('ns1', [{ kind: 'User', name: 'bob' }]), binding('ns1', [{ kind: 'Group', name: 'team-a' }])], none);
  assert.equal(concerns(swapped, alice), true, 'the subject it named before');
  assert.equal(concerns(swapped, bob), true, 'the subject it names now');
  const robot = changeScope('rolebindings', [binding('ns1', [{ kind: 'ServiceAccount', name: 'robot' }])], none);
  assert.equal(concerns(robot, sa), true, 'a service account of the binding\'s namespace');
  assert.equal(concerns(robot, alice), false);
  assert.deepEqual(changeScope('clusterrolebindings', [binding(undefined, [])], none), [], 'naming nobody concerns nobody');
});

test('a Role concerns the subjects of the bindings referring to it in its namespace; a ClusterRole, of those anywhere', () => {
  const stores = {
    roleBindings: [
      binding('ns1', [{ kind: 'User', name: 'alice' }], { kind: 'Role', name: 'r' }),
      binding('ns2', [{ kind: 'User', name: 'bob' }], { kind: 'Role', name: 'r' }),
      binding('ns2', [{ kind: 'Group', name: 'team-b' }], { kind: 'ClusterRole', name: 'editor' }),
    ],
    clusterRoleBindings: [binding(undefined, [{ kind: 'User', name: 'alice' }], { kind: 'ClusterRole', name: 'editor' })],
  };
  const role = changeScope('roles', [{ metadata: { name: 'r', namespace: 'ns1' } }], stores);
  assert.equal(concerns(role, alice), true);
  assert.equal(concerns(role, bob), false, 'bob\'s binding to a Role of that name is in another namespace');
  const clusterRole = changeScope('clusterroles', [{ metadata: { name: 'editor' } }], stores);
  assert.equal(concerns(clusterRole, alice), true);
  assert.equal(concerns(clusterRole, bob), true);
  assert.deepEqual(changeScope('clusterroles', [{ metadata: { name: 'unused' } }], stores), []);
});

test('what is unsure concerns everyone: a system: group, a subject kind unknown here; scopes join without repeats', () => {
  assert.equal(changeScope('rolebindings', [binding('ns1', [{ kind: 'Group', name: 'system:authenticated' }])], none), 'everyone');
  assert.equal(changeScope('rolebindings', [binding('ns1', [{ kind: 'Robot', name: 'x' }])], none), 'everyone');
  const a = changeScope('rolebindings', [binding('ns1', [{ kind: 'User', name: 'alice' }])], none);
  assert.equal(joinScopes(a, 'everyone'), 'everyone');
  let churn = joinScopes(undefined, a);
  for (let i = 0; i < 100; i++) churn = joinScopes(churn, a);
  assert.deepEqual(churn, a, 'the same subject, changed 100 times, is one entry');
});
