// RBAC on the real control plane is what crdgate delegates every authorization decision to: the
// users' own tokens, the admin impersonating them, and (Self)SubjectAccessReviews must all agree.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AuthorizationV1Api, RbacAuthorizationV1Api, type RbacV1Subject } from '@kubernetes/client-node';
import { fromKubeError } from '../../src/api-errors.ts';
import { KubeApiError, KubeClient, type Impersonation } from '../../src/kube/kube-client.ts';
import { httpStatusOf, rejectsWithStatus } from '../helpers/kube-status-assertions.ts';
import { requestWithHeaderLines } from '../helpers/header-lines-request.ts';
import { pollUntil } from '../helpers/poll-until.ts';
import { kubeConfigFor } from '../helpers/test-cluster.ts';
import { testNamespaces } from '../helpers/test-namespaces.ts';

const group = 'stable.example.com';
const plural = 'crontabs';
// RBAC's authorizer reads Roles and RoleBindings from an informer, so a new grant takes effect
// after a short, unspecified delay.
const rbacPropagation = { timeoutMs: 5_000, intervalMs: 50 };

describe('RBAC on custom resources', () => {
  const adminKc = kubeConfigFor('admin');
  const admin = new KubeClient(adminKc);
  const carol = new KubeClient(kubeConfigFor('carol'));
  const rbac = adminKc.makeApiClient(RbacAuthorizationV1Api);
  const namespaces = testNamespaces(adminKc);
  let nsA = '';
  let nsB = '';

  const crontabs = (ns: string) => `/apis/${group}/v1/namespaces/${ns}/${plural}`;
  const listAs = (client: KubeClient, ns: string, impersonate?: Impersonation) =>
    httpStatusOf(client.request('GET', crontabs(ns), { impersonate }));

  async function grantCronTabAccess(ns: string, subject: RbacV1Subject, name: string): Promise<void> {
    await rbac.createNamespacedRole({
      namespace: ns,
      body: {
        metadata: { name },
        rules: [{ apiGroups: [group], resources: [plural], verbs: ['get', 'list', 'watch', 'create'] }],
      },
    });
    await rbac.createNamespacedRoleBinding({
      namespace: ns,
      body: {
        metadata: { name },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
        subjects: [subject],
      },
    });
  }

  before(async () => {
    nsA = await namespaces.create('cluster-rbac-a');
    nsB = await namespaces.create('cluster-rbac-b');
  });
  after(() => namespaces.deleteAll());

  it('carol, with no binding, is forbidden to list crontabs', async () => {
    const status = await rejectsWithStatus(carol.request('GET', crontabs(nsA)), 403, 'Forbidden');
    assert.match(status.message ?? '', new RegExp(`User "carol" cannot list resource "crontabs" in API group "${group.replace(/\./g, '\\.')}" in the namespace "${nsA}"`));
    assert.equal(status.details?.kind, plural);
  });

  it('after a Role and RoleBinding in namespace A, carol may list there and only there', async () => {
    await grantCronTabAccess(nsA, { kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'carol' }, 'carol-crontabs');
    await pollUntil('carol to be allowed to list crontabs in A', async () => (await listAs(carol, nsA)) === 200, rbacPropagation);
    assert.equal(await listAs(carol, nsB), 403);
    // The grant is per verb: create is in the Role, delete is not.
    const created = await carol.request<{ metadata: { name: string } }>('POST', crontabs(nsA), {
      body: { apiVersion: `${group}/v1`, kind: 'CronTab', metadata: { name: 'by-carol' }, spec: { replicas: 1 } },
    });
    assert.equal(created.metadata.name, 'by-carol');
    await rejectsWithStatus(carol.request('DELETE', `${crontabs(nsA)}/by-carol`), 403, 'Forbidden');
  });

  it('the admin impersonating carol gets the same answers as carol', async () => {
    assert.equal(await listAs(admin, nsA, { user: 'carol' }), 200);
    assert.equal(await listAs(admin, nsB, { user: 'carol' }), 403);
    await rejectsWithStatus(admin.request('DELETE', `${crontabs(nsA)}/by-carol`, { impersonate: { user: 'carol' } }), 403, 'Forbidden');
    // The admin itself (system:masters) is not restricted, so the 403s above come from impersonation.
    assert.equal(await listAs(admin, nsB), 200);
  });

  describe('impersonated groups', () => {
    before(async () => {
      await grantCronTabAccess(nsA, { kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: 'g2' }, 'g2-crontabs');
    });

    const selfSubjectReview = '/apis/authentication.k8s.io/v1/selfsubjectreviews';
    const reviewBody = { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' };
    type Review = { status: { userInfo: { username: string; groups: string[] } } };
    const ownGroups = (r: Review) => r.status.userInfo.groups.filter((g) => !g.startsWith('system:'));
    const impersonating = (groups: string[]) => ({ 'Impersonate-User': 'dave', 'Impersonate-Group': groups });

    it('two Impersonate-Group header lines are two groups, and a group binding applies to them', async () => {
      const listA = () => requestWithHeaderLines('GET', crontabs(nsA), { headers: impersonating(['g1', 'g2']) });
      await pollUntil('dave in g1 and g2 to be allowed in A', async () => (await listA()).status === 200, rbacPropagation);
      assert.equal((await requestWithHeaderLines('GET', crontabs(nsA), { headers: impersonating(['g1']) })).status, 403);
      assert.equal((await requestWithHeaderLines('GET', crontabs(nsB), { headers: impersonating(['g1', 'g2']) })).status, 403);

      const review = await requestWithHeaderLines<Review>('POST', selfSubjectReview, { body: reviewBody, headers: impersonating(['g1', 'g2']) });
      assert.equal(review.status, 201);
      assert.equal(review.body.status.userInfo.username, 'dave');
      assert.deepEqual(ownGroups(review.body), ['g1', 'g2']);
    });

    it('one Impersonate-Group line with a comma is one group named "g1,g2", which no binding matches', async () => {
      const review = await requestWithHeaderLines<Review>('POST', selfSubjectReview, { body: reviewBody, headers: impersonating(['g1,g2']) });
      assert.deepEqual(ownGroups(review.body), ['g1,g2']);
      assert.equal((await requestWithHeaderLines('GET', crontabs(nsA), { headers: impersonating(['g1,g2']) })).status, 403);
    });

    it('KubeClient impersonating {user: dave, groups: [g1, g2]} is allowed in A and not with [g1]', async () => {
      const review = await admin.request<Review>('POST', selfSubjectReview, { body: reviewBody, impersonate: { user: 'dave', groups: ['g1', 'g2'] } });
      assert.deepEqual(ownGroups(review), ['g1', 'g2']);
      assert.equal(await listAs(admin, nsA, { user: 'dave', groups: ['g1', 'g2'] }), 200);
      assert.equal(await listAs(admin, nsA, { user: 'dave', groups: ['g1'] }), 403);
    });

    it('every refusal of an impersonation, as Kubernetes words and details it, is the gateway\'s UNAVAILABLE; carol\'s own 403 stays FORBIDDEN', async () => {
      const refusal = async (call: Promise<unknown>) => fromKubeError(await call.then(() => assert.fail('allowed'), (e: unknown) => e));
      const dave = { user: 'dave', groups: ['g2'] };
      const sa = { user: `system:serviceaccount:${nsB}:default` };
      // No grant at all: the target check refuses, naming crontabs (as carol's own 403 would).
      assert.equal((await refusal(carol.request('GET', crontabs(nsB), { impersonate: dave }))).code, 'UNAVAILABLE');
      // Allowed to impersonate on crontabs, not to impersonate the identity: the Status names the identity.
      await rbac.createNamespacedRole({ namespace: nsB, body: { metadata: { name: 'impersonate-on' }, rules: [{ apiGroups: [group], resources: [plural], verbs: ['impersonate-on:user-info:list', 'impersonate-on:serviceaccount:list'] }] } });
      await rbac.createNamespacedRoleBinding({ namespace: nsB, body: { metadata: { name: 'impersonate-on' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'impersonate-on' }, subjects: [{ kind: 'User', name: 'carol', apiGroup: 'rbac.authorization.k8s.io' }] } });
      const identityRefused = await pollUntil('the impersonate-on grant to take effect', async () => {
        const e: unknown = await carol.request('GET', crontabs(nsB), { impersonate: dave }).catch((err: unknown) => err);
        return e instanceof KubeApiError && e.status.details?.kind === 'users' ? e : undefined;
      }, rbacPropagation);
      assert.deepEqual(identityRefused.status.details, { name: 'dave', group: 'authentication.k8s.io', kind: 'users' });
      assert.equal(fromKubeError(identityRefused).code, 'UNAVAILABLE');
      const saRefused = await carol.request('GET', crontabs(nsB), { impersonate: sa }).then(() => assert.fail('allowed'), (err: unknown) => err);
      assert.ok(saRefused instanceof KubeApiError);
      assert.deepEqual(saRefused.status.details, { name: 'default', group: 'authentication.k8s.io', kind: 'serviceaccounts' });
      assert.equal(fromKubeError(saRefused).code, 'UNAVAILABLE');
      // Carol's own requests: FORBIDDEN, service accounts included.
      assert.equal((await refusal(carol.request('GET', crontabs(nsB)))).code, 'FORBIDDEN');
      assert.equal((await refusal(carol.request('GET', `/api/v1/namespaces/${nsA}/serviceaccounts/default`))).code, 'FORBIDDEN');
    });

    it('carol cannot impersonate: impersonation needs its own permission', async () => {
      const status = await rejectsWithStatus(carol.request('GET', crontabs(nsA), { impersonate: { user: 'dave', groups: ['g2'] } }), 403, 'Forbidden');
      // Kubernetes 1.37 names the constrained-impersonation verb it checked, e.g.
      // 'User "carol" cannot impersonate-on:user-info:list resource "crontabs" ...'.
      assert.match(status.message ?? '', /User "carol" cannot impersonate/);
    });
  });

  describe('access reviews agree with the answers above', () => {
    const authz = adminKc.makeApiClient(AuthorizationV1Api);

    async function sar(who: { user: string; groups?: string[] }, ns: string, verb = 'list'): Promise<{ allowed: boolean; reason?: string }> {
      const review = await authz.createSubjectAccessReview({
        body: {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SubjectAccessReview',
          spec: { user: who.user, groups: who.groups, resourceAttributes: { group, resource: plural, namespace: ns, verb } },
        },
      });
      assert.ok(review.status, 'a SubjectAccessReview without status');
      return { allowed: review.status.allowed, reason: review.status.reason };
    }

    it('a SubjectAccessReview by the admin', async () => {
      const carolA = await sar({ user: 'carol' }, nsA);
      assert.equal(carolA.allowed, true);
      assert.match(carolA.reason ?? '', /RoleBinding "carol-crontabs/);
      assert.equal((await sar({ user: 'carol' }, nsB)).allowed, false);
      assert.equal((await sar({ user: 'carol' }, nsA, 'delete')).allowed, false);
      assert.equal((await sar({ user: 'carol' }, nsA, 'create')).allowed, true);
      const daveBoth = await sar({ user: 'dave', groups: ['g1', 'g2'] }, nsA);
      assert.equal(daveBoth.allowed, true);
      assert.match(daveBoth.reason ?? '', /RoleBinding "g2-crontabs/);
      assert.equal((await sar({ user: 'dave', groups: ['g1'] }, nsA)).allowed, false);
      assert.equal((await sar({ user: 'dave', groups: ['g1,g2'] }, nsA)).allowed, false);
    });

    it('a SelfSubjectAccessReview made as carol', async () => {
      const carolAuthz = kubeConfigFor('carol').makeApiClient(AuthorizationV1Api);
      const self = async (ns: string, verb = 'list') => {
        const review = await carolAuthz.createSelfSubjectAccessReview({
          body: {
            apiVersion: 'authorization.k8s.io/v1',
            kind: 'SelfSubjectAccessReview',
            spec: { resourceAttributes: { group, resource: plural, namespace: ns, verb } },
          },
        });
        return review.status?.allowed;
      };
      assert.equal(await self(nsA), true);
      assert.equal(await self(nsA, 'watch'), true);
      assert.equal(await self(nsB), false);
      assert.equal(await self(nsA, 'delete'), false);
    });
  });
});
