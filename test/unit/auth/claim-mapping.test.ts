// Claims → tenant → Kubernetes identity: the first rule whose every match entry holds decides;
// {claim} templates fill in the user and groups; claims never reach system: identities.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mapClaims } from '../../../src/auth/authenticate.ts';
import type { TenantRule } from '../../../src/auth/tenant-config.ts';
import { ApiError } from '../../../src/api-errors.ts';
import { isOrdinarySystemName, mapReviewedUser, unverifiedExpiry } from '../../../src/auth/token-review.ts';

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

  it('reads claims whose names hold dots, as identity providers namespace custom claims', () => {
    const ns = [rule({ name: 'ns', match: { 'https://example.com/tenant': 'n' }, user: '{https://example.com/user}', groups: ['x:{https://example.com/groups}', '{org.https://example.com/team}'] })];
    const c = mapClaims({ sub: 's', 'https://example.com/tenant': 'n', 'https://example.com/user': 'nina', 'https://example.com/groups': ['dev', 'ops'], org: { 'https://example.com/team': 'blue' } }, ns);
    assert.equal(c.tenant, 'ns');
    assert.deepEqual(c.identity, { user: 'nina', groups: ['x:dev', 'x:ops', 'blue'], extra: {} });
    // The longest claim name wins; the nested reading is still there when no such name exists.
    const both = [rule({ name: 'both', match: { 'a.b': 'flat' }, user: '{a.b}' })];
    assert.equal(mapClaims({ sub: 's', 'a.b': 'flat', a: { b: 'nested' } }, both).identity.user, 'flat');
    assert.equal(mapClaims({ sub: 's', a: { b: 'flat' } }, both).identity.user, 'flat');
  });

  it('never reads what a claim object inherits', () => {
    const inherited = [rule({ name: 'i', match: { tenant: 'i' }, user: 'u:{sub}', groups: ['{constructor}', '{org.__proto__}', '{toString}'] })];
    assert.deepEqual(mapClaims({ tenant: 'i', sub: 's', org: {} }, inherited).identity.groups, []);
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

describe('claims → identity: templates with prefixes, allow-lists, bounds', () => {
  const oidc: TenantRule[] = [
    rule({ name: 'oidc', match: { tenant: 'o' }, user: 'oidc:{sub}', groups: ['oidc:{groups}', 'team-{dept}'] }),
    rule({ name: 'allowed', match: { tenant: 'l' }, groups: ['{groups}'], allowGroups: /^(?:(dev|ops)-[a-z]+)$/u }),
    rule({ name: 'two-lists', match: { tenant: 't' }, groups: ['{groups}-{roles}'] }),
  ];
  const reason = (claims: Record<string, unknown>, rules: TenantRule[], code: string, authReason: string, message: RegExp, bounds = { maxGroups: 256 }) => {
    assert.throws(() => mapClaims(claims, rules, bounds), (err: unknown) => {
      assert.ok(err instanceof ApiError, String(err));
      assert.equal(err.code, code);
      assert.equal(err.details.authReason, authReason);
      assert.match(err.message, message);
      return true;
    });
  };

  it('a prefix applies to every element of a list claim; an absent claim gives no group', () => {
    assert.deepEqual(mapClaims({ tenant: 'o', sub: 's', groups: ['dev', 'ops'], dept: 'blue' }, oidc).identity.groups, ['oidc:dev', 'oidc:ops', 'team-blue']);
    assert.deepEqual(mapClaims({ tenant: 'o', sub: 's' }, oidc).identity.groups, []);
    // Prefixed, a claim that says system:masters is an ordinary, harmless group name.
    assert.deepEqual(mapClaims({ tenant: 'o', sub: 's', groups: ['system:masters'] }, oidc).identity.groups, ['oidc:system:masters']);
  });

  it('allowGroups keeps only claim values that match it whole', () => {
    const c = mapClaims({ tenant: 'l', sub: 's', groups: ['dev-a', 'ops-b', 'dev-a-extra!', 'admins', 'xdev-a'] }, oidc);
    assert.deepEqual(c.identity.groups, ['dev-a', 'ops-b']);
  });

  it('system:masters in any spelling, with blanks, in a list or alone: 403 SYSTEM_IDENTITY', () => {
    for (const g of ['system:masters', ' system:masters', 'system:masters\t', 'SYSTEM:MASTERS', 'System:Masters', ' SYSTEM:masters ']) {
      reason({ tenant: 'raw', sub: 'eve', groups: ['dev', g] }, rules, 'FORBIDDEN', 'SYSTEM_IDENTITY', /system:masters/i);
      reason({ tenant: 'raw', sub: 'eve', groups: g }, rules, 'FORBIDDEN', 'SYSTEM_IDENTITY', /system:masters/i);
    }
    reason({ tenant: 'raw', sub: 'SYSTEM:ADMIN' }, rules, 'FORBIDDEN', 'SYSTEM_IDENTITY', /system: user/);
    // allowGroups does not make a system: group acceptable: it never matches one here, and the
    // check on what is impersonated comes after.
    reason({ tenant: 'raw', sub: 'eve', groups: ['system:nodes'] }, rules, 'FORBIDDEN', 'SYSTEM_IDENTITY', /system:nodes/);
  });

  it('a groups claim of 10,000 elements is refused before any per-element work: 403 TOO_MANY_GROUPS', () => {
    const huge = Array.from({ length: 10_000 }, (_, i) => `g${i}`);
    reason({ tenant: 'raw', sub: 'eve', groups: huge }, rules, 'FORBIDDEN', 'TOO_MANY_GROUPS', /10000 or more groups; at most 256/);
    reason({ tenant: 'raw', sub: 'eve', groups: huge.slice(0, 11) }, rules, 'FORBIDDEN', 'TOO_MANY_GROUPS', /at most 10/, { maxGroups: 10 });
    assert.equal(mapClaims({ tenant: 'raw', sub: 'eve', groups: huge.slice(0, 10) }, rules, { maxGroups: 10 }).identity.groups?.length, 10);
  });

  it('two list claims in one template, or a claim that is an object: 401 CLAIM_INVALID', () => {
    reason({ tenant: 't', sub: 's', groups: ['a'], roles: ['b'] }, oidc, 'UNAUTHENTICATED', 'CLAIM_INVALID', /combines two list claims/);
    reason({ tenant: 'o', sub: 's', groups: { admin: true } }, oidc, 'UNAUTHENTICATED', 'CLAIM_INVALID', /neither a string nor a list/);
    assert.deepEqual(mapClaims({ tenant: 't', sub: 's', groups: ['a', 'b'], roles: 'r' }, oidc).identity.groups, ['a-r', 'b-r']);
  });

  it('names over 1024 characters or with control characters: 403 UNSAFE_IDENTITY', () => {
    reason({ tenant: 'raw', sub: 'eve', groups: ['x'.repeat(1025)] }, rules, 'FORBIDDEN', 'UNSAFE_IDENTITY', /more than 1024 characters/);
    reason({ tenant: 'raw', sub: 'eve', groups: ['dev\u0000ops'] }, rules, 'FORBIDDEN', 'UNSAFE_IDENTITY', /control characters/);
  });

  it('no matching rule: 403 NO_TENANT; a missing user claim: 401 CLAIM_MISSING', () => {
    reason({ tenant: 'nobody', sub: 's' }, rules, 'FORBIDDEN', 'NO_TENANT', /no tenant rule matches/);
    reason({ tenant: 'a' }, rules, 'UNAUTHENTICATED', 'CLAIM_MISSING', /lacks the claim sub/);
  });
});

describe('TokenReview: the reviewed user → tenant and identity', () => {
  const trRules: TenantRule[] = [
    { name: 'alice-only', match: { user: 'alice' }, user: '', groups: [], extra: {} },
    { name: 'by-group', match: { groups: 'tenant-b' }, user: '', groups: [], extra: {} },
    { name: 'by-extra', match: { 'extra.example.com/team': 'red' }, user: '', groups: [], extra: {} },
    { name: 'everyone', match: { groups: 'system:authenticated' }, user: '', groups: [], extra: {} },
  ];
  const cfg = { maxGroups: 256, allowSystemIdentities: [] as string[] };
  const refusedReview = (u: Parameters<typeof mapReviewedUser>[0], authReason: string, c = cfg) => assert.throws(() => mapReviewedUser(u, trRules, c), (err: unknown) => {
    assert.ok(err instanceof ApiError);
    assert.equal(err.code, 'FORBIDDEN');
    assert.equal(err.details.authReason, authReason);
    return true;
  });

  it('matches user, groups and extra; impersonates user, uid, groups and extra as reviewed', () => {
    const a = mapReviewedUser({ username: 'alice', uid: 'u-1', groups: ['tenant-a', 'system:authenticated'], extra: { scopes: ['x'] }, expiresAt: 5 }, trRules, cfg);
    assert.deepEqual(a, { tenant: 'alice-only', identity: { user: 'alice', uid: 'u-1', groups: ['tenant-a', 'system:authenticated'], extra: { scopes: ['x'] } }, subject: 'alice', expiresAt: 5 });
    assert.equal(mapReviewedUser({ username: 'bob', groups: ['tenant-b', 'system:authenticated'], extra: {} }, trRules, cfg).tenant, 'by-group');
    assert.equal(mapReviewedUser({ username: 'x', groups: [], extra: { 'example.com/team': ['red'] } }, trRules, cfg).tenant, 'by-extra');
    assert.throws(() => mapReviewedUser({ username: 'x', groups: [], extra: {} }, trRules, cfg), /no tenant rule matches its user/);
  });

  it('reviewed extra keys are impersonated and checked in lower case, as Kubernetes reads them from header names', () => {
    const u = mapReviewedUser({ username: 'x', groups: [], extra: { 'Example.com/Team': ['red'], 'example.com/team': ['blue'], scopes: ['s'] } }, trRules, cfg);
    assert.equal(u.tenant, 'by-extra');
    assert.deepEqual(u.identity.extra, { 'example.com/team': ['red', 'blue'], scopes: ['s'] });
  });

  it('the system: names Kubernetes gives everyone pass; a service account is itself', () => {
    const sa = mapReviewedUser({ username: 'system:serviceaccount:apps:builder', groups: ['system:serviceaccounts', 'system:serviceaccounts:apps', 'system:authenticated'], extra: {} }, trRules, cfg);
    assert.equal(sa.identity.user, 'system:serviceaccount:apps:builder');
    for (const [name, what, ok] of [['system:authenticated', 'group', true], ['system:serviceaccounts:x', 'group', true], ['system:serviceaccount:x:y', 'user', true],
      ['system:masters', 'group', false], ['system:nodes', 'group', false], ['system:serviceaccount:x', 'user', false], ['system:admin', 'user', false], ['system:serviceaccounts:a:b', 'group', false]] as const) {
      assert.equal(isOrdinarySystemName(name, what), ok, name);
    }
  });

  it('a system:masters member, a node or a control-plane user is refused unless the tenants file allows it', () => {
    const admin = { username: 'admin', groups: ['system:masters', 'system:authenticated'], extra: {} };
    refusedReview(admin, 'SYSTEM_IDENTITY');
    refusedReview({ username: 'system:node:n1', groups: ['system:nodes', 'system:authenticated'], extra: {} }, 'SYSTEM_IDENTITY');
    refusedReview({ username: 'system:kube-controller-manager', groups: ['system:authenticated'], extra: {} }, 'SYSTEM_IDENTITY');
    // A spelling Kubernetes would not take for system:masters is refused all the same.
    refusedReview({ username: 'eve', groups: ['SYSTEM:MASTERS', 'system:authenticated'], extra: {} }, 'SYSTEM_IDENTITY');
    refusedReview({ username: 'eve', groups: ['system:authenticated', ...Array.from({ length: 300 }, (_, i) => `g${i}`)], extra: {} }, 'TOO_MANY_GROUPS');
    const allowed = mapReviewedUser(admin, trRules, { ...cfg, allowSystemIdentities: ['system:masters'] });
    assert.deepEqual(allowed.identity.groups, ['system:masters', 'system:authenticated']);
  });

  it('a reviewed uid or extra value HTTP would change or cannot carry (blanks at the ends, control characters, empty): 403 UNSAFE_IDENTITY', () => {
    const base = { username: 'alice', groups: ['tenant-a'], extra: {} };
    refusedReview({ ...base, uid: 'u-1\n' }, 'UNSAFE_IDENTITY');
    refusedReview({ ...base, extra: { scopes: ['read', ' write'] } }, 'UNSAFE_IDENTITY');
    refusedReview({ ...base, extra: { scopes: [''] } }, 'UNSAFE_IDENTITY');
    refusedReview({ ...base, extra: { 'k\ud800': ['v'] } }, 'UNSAFE_IDENTITY');
    assert.deepEqual(mapReviewedUser({ ...base, uid: 'ü-1', extra: { 'example.com/team': ['rot', 'grün'] } }, trRules, cfg).identity.extra, { 'example.com/team': ['rot', 'grün'] });
  });

  it('reads the exp of a JWT-shaped token without trusting it, and nothing from an opaque one', () => {
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    assert.equal(unverifiedExpiry(`${b64({ alg: 'RS256' })}.${b64({ exp: 1_700_000_000 })}.sig`), 1_700_000_000_000);
    assert.equal(unverifiedExpiry(`${b64({ alg: 'RS256' })}.${b64({ sub: 'x' })}.sig`), undefined);
    assert.equal(unverifiedExpiry('0123456789abcdef'), undefined);
    assert.equal(unverifiedExpiry('a.!!!.c'), undefined);
  });
});
