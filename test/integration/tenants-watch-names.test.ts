// A tenant whose right to watch CronTabs in a namespace is limited to resourceNames watches the
// one object it may see, as Kubernetes allows: a list or watch whose field selector pins
// metadata.name is authorized for that name (the apiserver's RequestInfo). On the real control
// plane: the apiserver's own impersonated watch first, then the gateway's shared watch over
// graphql-ws and SSE, which must deliver that object only, refuse every other watch as before,
// and end when the RoleBinding goes.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { createGateway, type Gateway } from '../../src/gateway.ts';
import { KubeClient, type Impersonation } from '../../src/kube/kube-client.ts';
import { loadTenantConfig } from '../../src/auth/tenant-config.ts';
import { hmacSecret, nowSeconds, signHs256, TenantsDir } from '../helpers/jwt-issuer.ts';
import { pollUntil } from '../helpers/poll-until.ts';
import { SseClient } from '../helpers/sse-client.ts';
import { openClient, Subscription, waitUntil } from '../helpers/subscription-client.ts';
import { rejectsWithStatus } from '../helpers/kube-status-assertions.ts';
import { kubeConfigFor, kubectl, uniqueName } from '../helpers/test-cluster.ts';

const run = uniqueName('pinw');
const group = `${run}-g`;
const ns = `${run}-n`;
// The tenant's own namespace, where it may watch every CronTab: without a general right somewhere
// its schema and the REST facade would not show CronTabs at all (a right on named objects only
// does not count there).
const own = `${run}-own`;
const issuer = 'https://issuer.crdgate.test/';
const audience = 'crdgate-test';
const user: Impersonation = { user: 'p:p-user', groups: [group] };
const forbiddenText = `crontabs.stable.example.com is forbidden: User "p:p-user" cannot watch resource "crontabs" in API group "stable.example.com" in the namespace "${ns}"`;

async function kubectlOk(args: string[], input?: string): Promise<string> {
  const r = await kubectl(args, input === undefined ? {} : { input });
  assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const crontab = (namespace: string, name: string) => `apiVersion: stable.example.com/v1
kind: CronTab
metadata: { name: ${name}, namespace: ${namespace} }
spec: { cronSpec: "* * * * */5", image: "image-0", replicas: 1 }
`;

const rbacYaml = () => `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: { name: ct-a-only, namespace: ${ns} }
rules:
- { apiGroups: [stable.example.com], resources: [crontabs], resourceNames: [ct-a], verbs: [get, list, watch] }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: ct-a-only, namespace: ${ns} }
subjects: [{ kind: Group, name: ${group}, apiGroup: rbac.authorization.k8s.io }]
roleRef: { kind: Role, name: ct-a-only, apiGroup: rbac.authorization.k8s.io }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: { name: crontab-reader, namespace: ${own} }
rules:
- { apiGroups: [stable.example.com], resources: [crontabs], verbs: [get, list, watch] }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: crontab-reader, namespace: ${own} }
subjects: [{ kind: Group, name: ${group}, apiGroup: rbac.authorization.k8s.io }]
roleRef: { kind: Role, name: crontab-reader, apiGroup: rbac.authorization.k8s.io }
`;

// A cluster-scoped kind: the tenant may get every Pin, and list and watch pin-a only.
const pinGroup = `${run}.example.com`;
const pinsYaml = () => `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: { name: pins.${pinGroup} }
spec:
  group: ${pinGroup}
  scope: Cluster
  names: { plural: pins, singular: pin, kind: Pin, listKind: PinList }
  versions:
  - name: v1
    served: true
    storage: true
    schema: { openAPIV3Schema: { type: object, properties: { spec: { type: object, properties: { size: { type: integer } } } } } }
`;
const pinRbacYaml = () => `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: ${run}-pins-get }
rules: [{ apiGroups: [${pinGroup}], resources: [pins], verbs: [get] }]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: ${run}-pins-get }
subjects: [{ kind: Group, name: ${group}, apiGroup: rbac.authorization.k8s.io }]
roleRef: { kind: ClusterRole, name: ${run}-pins-get, apiGroup: rbac.authorization.k8s.io }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: ${run}-pin-a }
rules: [{ apiGroups: [${pinGroup}], resources: [pins], resourceNames: [pin-a], verbs: [list, watch] }]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: ${run}-pin-a }
subjects: [{ kind: Group, name: ${group}, apiGroup: rbac.authorization.k8s.io }]
roleRef: { kind: ClusterRole, name: ${run}-pin-a, apiGroup: rbac.authorization.k8s.io }
`;
const pin = (name: string) => `{ apiVersion: ${pinGroup}/v1, kind: Pin, metadata: { name: ${name} }, spec: { size: 1 } }`;

const patchImage = (name: string, image: string) =>
  kubectlOk(['patch', 'crontabs.stable.example.com', name, '-n', ns, '--type=merge', '-p', JSON.stringify({ spec: { image } })]);

/** A subscription's events without the bookmarks that may come between them. */
const changes = (sub: Subscription) => sub.summary().filter((e) => e !== 'BOOKMARK');
const waitForChanges = (sub: Subscription, n: number) =>
  waitUntil(() => changes(sub).length >= n || sub.ended, 10_000, `${n} events`, () => `${changes(sub).join(', ')}; ${JSON.stringify(sub.error)}`);

const watchQ = (args: string) => `subscription { watchCronTab_stable_example_com(namespace: "${ns}", ${args}) {
  type resourceVersion object { metadata { name namespace } spec { image } } } }`;

describe('a watch pinned by fieldSelector=metadata.name, for a tenant limited to resourceNames', () => {
  const dir = new TenantsDir();
  const secret = hmacSecret();
  const admin = new KubeClient(kubeConfigFor('admin'));
  let gateway: Gateway;
  let base = '';
  let tenantsFile = '';
  const token = () => signHs256(secret, { iss: issuer, aud: audience, sub: 'p-user', tenant: 'p', iat: nowSeconds(), exp: nowSeconds() + 600 });
  const auth = () => ({ authorization: `Bearer ${token()}` });
  const sseUrl = (query: string) => `${base}/rest/stable.example.com/v1/namespaces/${ns}/crontabs?watch=true${query}`;
  const closers: (() => void)[] = [];

  /** The apiserver's own watch as the tenant, for a second: the events it sent, or its refusal. */
  const ownWatch = async (fieldSelector?: string) => {
    const events: string[] = [];
    await admin.watch(`/apis/stable.example.com/v1/namespaces/${ns}/crontabs`, {
      query: { timeoutSeconds: 1, ...(fieldSelector ? { fieldSelector } : {}) },
      impersonate: user,
      onEvent: (e) => void events.push(`${e.type} ${(e.object.metadata as { name?: string } | undefined)?.name}`),
    });
    return events;
  };

  before(async () => {
    dir.write('hs.secret', secret);
    const file = dir.writeConfig('tenants.yaml', {
      auth: { issuer, audience, algorithms: ['HS256'], secretFile: 'hs.secret' },
      tenants: [{ name: 'p', match: { tenant: 'p' }, user: 'p:{sub}', groups: [group] }],
    });
    tenantsFile = file;
    for (const n of [ns, own]) await kubectlOk(['create', 'namespace', n]);
    await kubectlOk(['apply', '-f', '-'], rbacYaml());
    for (const name of ['ct-a', 'ct-b']) await kubectlOk(['create', '-f', '-'], crontab(ns, name));
    await kubectlOk(['apply', '-f', '-'], pinsYaml());
    await kubectlOk(['wait', '--for=condition=Established', `crd/pins.${pinGroup}`, '--timeout=30s']);
    await kubectlOk(['apply', '-f', '-'], pinRbacYaml());
    for (const name of ['pin-a', 'pin-b']) await kubectlOk(['create', '-f', '-'], pin(name));
    gateway = await createGateway({ client: new KubeClient(kubeConfigFor('admin')), tenants: loadTenantConfig(file), explorer: false });
    base = `http://127.0.0.1:${((await gateway.listen(0)).address() as AddressInfo).port}`;
    // RBAC reaches the apiserver's authorizer after a short delay.
    await pollUntil('the tenant to get pin-a', async () => (await fetch(`${base}/rest/${pinGroup}/v1/pins/pin-a`, { headers: auth() })).status === 200,
      { timeoutMs: 30_000, intervalMs: 100 });
    await pollUntil('the tenant to get ct-a', async () => (await fetch(`${base}/rest/stable.example.com/v1/namespaces/${ns}/crontabs/ct-a`, { headers: auth() })).status === 200,
      { timeoutMs: 15_000, intervalMs: 100 });
  });

  after(async () => {
    for (const close of closers) close();
    await gateway?.stop();
    dir.remove();
    await kubectl(['delete', 'namespace', ns, own, '--wait=false', '--ignore-not-found']);
    await kubectl(['delete', 'crd', `pins.${pinGroup}`, '--wait=false', '--ignore-not-found']);
    for (const name of [`${run}-pins-get`, `${run}-pin-a`, `${run}-ct-c`]) await kubectl(['delete', 'clusterrole,clusterrolebinding', name, '--ignore-not-found']);
  });

  it('the apiserver itself lets the tenant watch with fieldSelector metadata.name=ct-a, and refuses it without or with another name', async () => {
    assert.deepEqual(await ownWatch('metadata.name=ct-a'), ['ADDED ct-a']);
    assert.deepEqual(await ownWatch('metadata.name==ct-a,metadata.namespace=' + ns), ['ADDED ct-a']);
    for (const selector of [undefined, 'metadata.name=ct-b', 'metadata.name!=ct-b']) {
      const status = await rejectsWithStatus(ownWatch(selector), 403, 'Forbidden');
      assert.match(String(status.message), /cannot watch resource "crontabs"/);
    }
  });

  it('GraphQL: the pinned subscription gets ct-a\'s initial state and changes, never ct-b\'s, from the shared watch and on resuming from its window', async () => {
    const client = openClient(base, { connectionParams: auth() });
    closers.push(() => void client.dispose());
    const sub = new Subscription(client, watchQ('fieldSelector: "metadata.name=ct-a", sendInitialEvents: true'));
    await waitForChanges(sub, 2);
    assert.deepEqual(changes(sub), ['ADDED ct-a', 'INITIAL_STATE_DONE']);
    // ct-b changes first: on the shared watch, in order, it would have come before ct-a's change.
    await patchImage('ct-b', 'image-b1');
    await patchImage('ct-a', 'image-a1');
    await waitForChanges(sub, 3);
    assert.deepEqual(changes(sub).slice(2), ['MODIFIED ct-a']);
    assert.equal(sub.events.at(-1)!.object?.spec?.['image'], 'image-a1');
    // Resumed from the end of the initial state: the window replays ct-b's change too.
    const from = sub.events.find((e) => e.type === 'INITIAL_STATE_DONE')!.resourceVersion!;
    const resumed = new Subscription(client, watchQ(`fieldSelector: "metadata.name=ct-a", resourceVersion: "${from}"`));
    await waitForChanges(resumed, 1);
    await patchImage('ct-b', 'image-b2');
    await patchImage('ct-a', 'image-a2');
    await waitForChanges(sub, 4);
    await waitForChanges(resumed, 2);
    assert.deepEqual(changes(sub).slice(3), ['MODIFIED ct-a']);
    assert.deepEqual(changes(resumed), ['MODIFIED ct-a', 'MODIFIED ct-a'], `${from}: ${JSON.stringify(resumed.error)}`);
    assert.equal(sub.error, undefined);
    assert.equal(resumed.error, undefined);
    sub.unsubscribe();
    resumed.unsubscribe();
  });

  it('REST SSE: ?watch=true&fieldSelector=metadata.name%3Dct-a streams ct-a only', async () => {
    const sse = await new SseClient(sseUrl('&fieldSelector=metadata.name%3Dct-a'), auth()).open();
    closers.push(() => sse.close());
    assert.equal(sse.status, 200);
    await sse.waitFor('ct-a\'s current state', (es) => es.some((e) => e.event === 'ADDED' && e.json?.object?.metadata?.name === 'ct-a'));
    await patchImage('ct-b', 'image-b3');
    await patchImage('ct-a', 'image-a3');
    await sse.waitFor('ct-a\'s change', (es) => es.some((e) => e.event === 'MODIFIED' && e.json?.object?.spec?.image === 'image-a3'));
    const names = sse.events.filter((e) => e.json?.object?.metadata?.name).map((e) => `${e.event} ${e.json.object.metadata.name}`);
    assert.deepEqual(names, ['ADDED ct-a', 'MODIFIED ct-a']);
    sse.close();
  });

  it('without the pinned name, or pinning another one: FORBIDDEN as before, over graphql-ws and SSE', async () => {
    const client = openClient(base, { connectionParams: auth() });
    closers.push(() => void client.dispose());
    for (const args of ['sendInitialEvents: true', 'fieldSelector: "metadata.name=ct-b", sendInitialEvents: true', 'fieldSelector: "metadata.name!=ct-b"']) {
      const sub = new Subscription(client, watchQ(args));
      await sub.waitForEnd();
      assert.equal(sub.errorCode, 'FORBIDDEN', `${args}: ${JSON.stringify(sub.error)}`);
      assert.equal(sub.error![0]!.message, forbiddenText);
      assert.deepEqual(sub.events, []);
    }
    for (const query of ['', '&fieldSelector=metadata.name%3Dct-b', '&fieldSelector=metadata.name%3Dct%2Fa']) {
      const r = await fetch(sseUrl(query), { headers: auth() });
      const body = (await r.json()) as { detail?: string; code?: string };
      assert.equal(r.status, 403, `${query}: ${JSON.stringify(body)}`);
      assert.equal(body.code, 'FORBIDDEN');
      assert.equal(body.detail, forbiddenText);
    }
  });

  it('resuming from before a fresh gateway\'s shared watch: a direct watch as the tenant, pinned, ct-a\'s changes only', async () => {
    const from = await kubectlOk(['get', 'crontabs.stable.example.com', 'ct-a', '-n', ns, '-o', 'jsonpath={.metadata.resourceVersion}']);
    await patchImage('ct-b', 'image-b4');
    await patchImage('ct-a', 'image-a4');
    const fresh = await createGateway({ client: new KubeClient(kubeConfigFor('admin')), tenants: loadTenantConfig(tenantsFile), explorer: false });
    try {
      const freshBase = `http://127.0.0.1:${((await fresh.listen(0)).address() as AddressInfo).port}`;
      const client = openClient(freshBase, { connectionParams: auth() });
      closers.push(() => void client.dispose());
      const sub = new Subscription(client, watchQ(`fieldSelector: "metadata.name=ct-a", resourceVersion: "${from}"`));
      await waitForChanges(sub, 1);
      assert.equal(fresh.operations.hub.stats().fallbackSubscribers, 1, 'served by a direct watch');
      assert.deepEqual(changes(sub), ['MODIFIED ct-a'], JSON.stringify(sub.error));
      assert.equal(sub.events.find((e) => e.type === 'MODIFIED')!.object?.spec?.['image'], 'image-a4');
      sub.unsubscribe();
      await client.dispose();
    } finally {
      await fresh.stop();
    }
  });

  it('a cluster-scoped kind: a watch pinned to the name a ClusterRole lists is allowed (SSE), other watches FORBIDDEN as before, and it ends when the binding goes', async () => {
    const pinsUrl = (query: string) => `${base}/rest/${pinGroup}/v1/pins?watch=true${query}`;
    const refusedText = `pins.${pinGroup} is forbidden: User "p:p-user" cannot watch resource "pins" in API group "${pinGroup}" at the cluster scope`;
    for (const query of ['', '&fieldSelector=metadata.name%3Dpin-b']) {
      const r = await fetch(pinsUrl(query), { headers: auth() });
      const body = (await r.json()) as { detail?: string };
      assert.equal(r.status, 403, `${query}: ${JSON.stringify(body)}`);
      assert.equal(body.detail, refusedText);
    }
    const sse = await new SseClient(pinsUrl('&fieldSelector=metadata.name%3Dpin-a'), auth()).open();
    closers.push(() => sse.close());
    assert.equal(sse.status, 200);
    await sse.waitFor('pin-a\'s current state', (es) => es.some((e) => e.event === 'ADDED' && e.json?.object?.metadata?.name === 'pin-a'));
    for (const name of ['pin-b', 'pin-a']) await kubectlOk(['patch', `pins.${pinGroup}`, name, '--type=merge', '-p', '{"spec":{"size":2}}']);
    await sse.waitFor('pin-a\'s change', (es) => es.some((e) => e.event === 'MODIFIED'));
    const names = sse.events.filter((e) => e.json?.object?.metadata?.name).map((e) => `${e.event} ${e.json.object.metadata.name}`);
    assert.deepEqual(names, ['ADDED pin-a', 'MODIFIED pin-a']);
    await kubectlOk(['delete', 'clusterrolebinding', `${run}-pin-a`]);
    const [ended] = await sse.waitForCount(1, ['ERROR'], 30_000);
    assert.equal(ended!.json.object.code, 'FORBIDDEN', JSON.stringify(ended!.json));
    sse.close();
  });

  it('a ClusterRole limited to one name: the list across all namespaces pinned to it passes, as Kubernetes\' own, then the pinned watch (an informer\'s list and watch)', async () => {
    await kubectlOk(['apply', '-f', '-'], `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: ${run}-ct-c }
rules: [{ apiGroups: [stable.example.com], resources: [crontabs], resourceNames: [ct-c], verbs: [list, watch] }]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: ${run}-ct-c }
subjects: [{ kind: Group, name: ${group}, apiGroup: rbac.authorization.k8s.io }]
roleRef: { kind: ClusterRole, name: ${run}-ct-c, apiGroup: rbac.authorization.k8s.io }
`);
    await kubectlOk(['create', '-f', '-'], crontab(ns, 'ct-c'));
    const all = '/apis/stable.example.com/v1/crontabs';
    await pollUntil('the apiserver to let the tenant list ct-c across all namespaces', async () => {
      try {
        return (await admin.request<{ items: unknown[] }>('GET', all, { query: { fieldSelector: 'metadata.name=ct-c' }, impersonate: user })).items.length === 1 ? true : undefined;
      } catch {
        return undefined;
      }
    }, { timeoutMs: 15_000, intervalMs: 100 });
    await rejectsWithStatus(admin.request('GET', all, { impersonate: user }), 403, 'Forbidden');

    const rest = await fetch(`${base}/rest/stable.example.com/v1/crontabs?fieldSelector=metadata.name%3Dct-c`, { headers: auth() });
    const listed = (await rest.json()) as { items?: { metadata: { name: string; namespace: string } }[] };
    assert.equal(rest.status, 200, JSON.stringify(listed));
    assert.deepEqual(listed.items!.map((o) => `${o.metadata.namespace}/${o.metadata.name}`), [`${ns}/ct-c`]);
    const gql = await fetch(`${base}/graphql`, {
      method: 'POST', headers: { ...auth(), 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ cronTabList_stable_example_com(fieldSelector: "metadata.name=ct-c") { edges { node { metadata { name } } } } }' }),
    });
    const answer = (await gql.json()) as { data?: { cronTabList_stable_example_com: { edges: { node: { metadata: { name: string } } }[] } }; errors?: unknown };
    assert.deepEqual(answer.data?.cronTabList_stable_example_com.edges.map((e) => e.node.metadata.name), ['ct-c'], JSON.stringify(answer.errors));
    // Unpinned: the namespaces the tenant may list in general, as before (not ct-c's).
    const general = (await (await fetch(`${base}/rest/stable.example.com/v1/crontabs`, { headers: auth() })).json()) as { items: { metadata: { namespace: string } }[] };
    assert.ok(general.items.every((o) => o.metadata.namespace === own), JSON.stringify(general.items.map((o) => o.metadata)));

    const watch = await new SseClient(`${base}/rest/stable.example.com/v1/crontabs?watch=true&fieldSelector=metadata.name%3Dct-c`, auth()).open();
    closers.push(() => watch.close());
    assert.equal(watch.status, 200);
    await watch.waitFor('ct-c\'s current state', (es) => es.some((e) => e.event === 'ADDED' && e.json?.object?.metadata?.name === 'ct-c'));
    watch.close();
  });

  it('deleting the RoleBinding ends the live pinned subscription and SSE watch with FORBIDDEN', async () => {
    const client = openClient(base, { connectionParams: auth() });
    closers.push(() => void client.dispose());
    const sub = new Subscription(client, watchQ('fieldSelector: "metadata.name=ct-a", sendInitialEvents: true'));
    const sse = await new SseClient(sseUrl('&fieldSelector=metadata.name%3Dct-a'), auth()).open();
    closers.push(() => sse.close());
    await waitForChanges(sub, 2);
    await sse.waitFor('ct-a\'s current state', (es) => es.some((e) => e.json?.object?.metadata?.name === 'ct-a'));
    const t0 = Date.now();
    await kubectlOk(['delete', 'rolebinding', 'ct-a-only', '-n', ns]);
    await sub.waitForEnd(30_000);
    const [sseError] = await sse.waitForCount(1, ['ERROR'], 30_000);
    console.log(`pinned watch revoked: graphql-ws ended after ${Date.now() - t0} ms`);
    assert.equal(sub.errorCode, 'FORBIDDEN', JSON.stringify(sub.error));
    assert.equal(sseError!.json.object.code, 'FORBIDDEN');
    assert.deepEqual(changes(sub), ['ADDED ct-a', 'INITIAL_STATE_DONE']);
    sse.close();
  });
});
