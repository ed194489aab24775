// Claims → tenant → Kubernetes identity: the first rule whose every match entry holds decides;
// {claim} templates fill in the user and groups; claims never reach system: identities.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mapClaims } from '../../../src/auth/authenticate.ts';
import type { TenantRule } from '../../../src/auth/tenant-config.ts';
import { ApiError } from '../../../src/api-errors.ts';

const rule = (r: Partial<TenantRule> & { name: string }): TenantRule => ({ match: { tenant: r.name }, user: `${r.name}:{sub}`, groups: [], extra: {}, ...r });

const rules: TenantRule[] = [
  rule({ name: 'a', groups: ['tenant-a', '{groups}'], extra: { 'crdgate.io/tenant': ['a'] } }),
  rule({ name: 'b', user: 'b:{org.id}:{sub}', match: { 'org.tenant': 'b' }, groups: ['team-{org.team}'] }),
  rule({ name: 'roles', match: { roles: 'admin', level: '3' }, user: 'admin:{sub}', groups: ['admins'] }),
  rule({ name: 'raw', match: { tenant: 'raw' }, user: '{sub}', groups: ['{groups}'] }),
];

function refused(claims: Record<string, unknown>, code: 'FORBIDDEN' | 'UNAUTHENTICATED', message: RegExp): void {
  assert.throws(() => mapClaims(claims, rules), (err: unknown) => {
    assert.ok(err instanceof ApiError, String(err));
    assert.equal(err.code, code);
    assert.match(err.message, message);
    return true;
  });
}

describe('claim mapping', () => {
  it('fills templates and expands a list claim into one group per element', () => {
    const c = mapClaims({ tenant: 'a', sub: 'alice', groups: ['dev', 'ops', 'dev', 7, ''], exp: 2_000_000_000 }, rules);
    assert.equal(c.tenant, 'a');
    assert.equal(c.subject, 'alice');
    assert.equal(c.expiresAt, 2_000_000_000_000);
    // Duplicates collapse; non-strings and empty strings in the list are dropped.
    assert.deepEqual(c.identity, { user: 'a:alice', groups: ['tenant-a', 'dev', 'ops'], extra: { 'crdgate.io/tenant': ['a'] } });
  });

  it('a missing list claim gives no group; a string claim gives one', () => {
    assert.deepEqual(mapClaims({ tenant: 'a', sub: 'alice' }, rules).identity.groups, ['tenant-a']);
    assert.deepEqual(mapClaims({ tenant: 'a', sub: 'alice', groups: 'dev' }, rules).identity.groups, ['tenant-a', 'dev']);
  });

  it('reads nested claims with a.b paths, in match and in templates', () => {
    const c = mapClaims({ sub: 'bob', org: { tenant: 'b', id: 42, team: 'blue' } }, rules);
    assert.equal(c.tenant, 'b');
    assert.deepEqual(c.identity, { user: 'b:42:bob', groups: ['team-blue'], extra: {} });
  });

  it('matches a list claim that contains the value, numbers as strings, and needs every entry', () => {
    assert.equal(mapClaims({ sub: 's', roles: ['viewer', 'admin'], level: 3 }, rules).tenant, 'roles');
    refused({ sub: 's', roles: ['viewer'], level: 3 }, 'FORBIDDEN', /no tenant rule matches/);
    refused({ sub: 's', roles: ['admin'] }, 'FORBIDDEN', /no tenant rule matches/);
    refused({ sub: 's', roles: 'administrator', level: 3 }, 'FORBIDDEN', /no tenant rule matches/);
  });

  it('the first matching rule wins', () => {
    const both = [rule({ name: 'first', match: { tenant: 'x' } }), rule({ name: 'second', match: { tenant: 'x' } })];
    assert.equal(mapClaims({ tenant: 'x', sub: 's' }, both).tenant, 'first');
  });

  it('claims that match no rule: FORBIDDEN', () => {
    refused({ tenant: 'z', sub: 's' }, 'FORBIDDEN', /no tenant rule matches its claims/);
    refused({ sub: 's' }, 'FORBIDDEN', /no tenant rule matches/);
    refused({ tenant: null, sub: 's' }, 'FORBIDDEN', /no tenant rule matches/);
  });

  it('a claim the user template needs but the token lacks: UNAUTHENTICATED, naming the claim', () => {
    refused({ tenant: 'a' }, 'UNAUTHENTICATED', /lacks the claim sub that tenant a needs for its user/);
    refused({ sub: 'bob', org: { tenant: 'b', team: 'blue' } }, 'UNAUTHENTICATED', /lacks the claim org\.id/);
    refused({ tenant: 'a', sub: { nested: 'object' } }, 'UNAUTHENTICATED', /lacks the claim sub/);
  });

  it('claims that map to system: users or groups: FORBIDDEN', () => {
    refused({ tenant: 'raw', sub: 'system:admin' }, 'FORBIDDEN', /maps to a system: user/);
    refused({ tenant: 'raw', sub: 'system:serviceaccount:kube-system:default' }, 'FORBIDDEN', /maps to a system: user/);
    refused({ tenant: 'raw', sub: 'eve', groups: ['dev', 'system:masters'] }, 'FORBIDDEN', /the group system:masters/);
    refused({ tenant: 'raw', sub: 'eve', groups: 'system:masters' }, 'FORBIDDEN', /the group system:masters/);
    refused({ tenant: 'raw', sub: 'eve', groups: ['system:authenticated'] }, 'FORBIDDEN', /the group system:authenticated/);
  });

  it('claims that become system: identities once HTTP trims them: FORBIDDEN', () => {
    refused({ tenant: 'raw', sub: 'eve', groups: [' system:masters'] }, 'FORBIDDEN', /system:masters/);
    refused({ tenant: 'raw', sub: 'eve', groups: ['system:masters\t'] }, 'FORBIDDEN', /system:masters/);
    refused({ tenant: 'raw', sub: ' system:admin' }, 'FORBIDDEN', /system: user/);
  });
});
