// The explorer with authentication on, in a real headless Chromium against gateways on the real
// cluster, with two tenants whose RBAC differs as deploy/examples/tenants-rbac.yaml's do (A edits
// CronTabs in its namespace and reads ClusterCronTabs; B edits CronTabs in its own namespace only):
// - local development (demo tenants): the first load fetches the schema with the picked tenant's
//   token, shows no error, documents CronTab fields, runs the default query, a query and a
//   subscription; switching tenant changes what the docs show; "none" asks for a token;
// - outside local development: no schema fetch without a token (no red error), a note saying how
//   to give one, and the docs once the user has typed it;
// - introspection off (production mode): no schema fetch at all, and a note saying why.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Page, Request } from 'playwright-core';
import { createGateway, type Gateway } from '../../src/gateway.ts';
import { loadTenantConfig } from '../../src/auth/tenant-config.ts';
import { KubeClient } from '../../src/kube/kube-client.ts';
import { queryLimits } from '../../src/plugins/query-limits.ts';
import { openBrowser, type BrowserSession } from '../helpers/browser.ts';
import { graphiql } from '../helpers/graphiql.ts';
import { hmacSecret, nowSeconds, signHs256, TenantsDir } from '../helpers/jwt-issuer.ts';
import { pollUntil } from '../helpers/poll-until.ts';
import { kubeConfigFor, kubectl, uniqueName } from '../helpers/test-cluster.ts';

const run = uniqueName('explorer-tenants');
const [groupA, groupB, nsA, nsB] = [`${run}-ga`, `${run}-gb`, `${run}-a`, `${run}-b`];
const issuer = 'crdgate-explorer-test';
const audience = 'crdgate';
const secret = hmacSecret();
const token = (tenant: string) => signHs256(secret, { iss: issuer, aud: audience, sub: `demo-${tenant}`, tenant, exp: nowSeconds() + 3600 });
const tokens = { 'tenant-a': token('a'), 'tenant-b': token('b') };

const CLUSTER_FIELD = 'clusterCronTabList_stable_example_com';
const CRONTAB_FIELD = 'cronTabList_stable_example_com';
const listIn = (ns: string) => `{ ${CRONTAB_FIELD}(namespace: "${ns}") { edges { node { metadata { name } spec { cronSpec image } } } } }`;
const watchIn = (ns: string) => `subscription { watchCronTab_stable_example_com(namespace: "${ns}", sendInitialEvents: true) { type object { metadata { name } } } }`;

const rbac = `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: ${run}-editor }
rules:
- { apiGroups: [stable.example.com], resources: [crontabs], verbs: [get, list, watch, create, update, patch, delete] }
- { apiGroups: ["", events.k8s.io], resources: [events], verbs: [get, list, watch] }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: ${run}-cct-reader }
rules:
- { apiGroups: [stable.example.com], resources: [clustercrontabs], verbs: [get, list, watch] }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: ${run}-a-cct }
subjects: [{ kind: Group, name: ${groupA}, apiGroup: rbac.authorization.k8s.io }]
roleRef: { kind: ClusterRole, name: ${run}-cct-reader, apiGroup: rbac.authorization.k8s.io }
${[[nsA, groupA], [nsB, groupB]].map(([ns, g]) => `---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: editor, namespace: ${ns} }
subjects: [{ kind: Group, name: ${g}, apiGroup: rbac.authorization.k8s.io }]
roleRef: { kind: ClusterRole, name: ${run}-editor, apiGroup: rbac.authorization.k8s.io }
`).join('')}${[[nsA, 'a-nightly'], [nsB, 'b-nightly']].map(([ns, name]) => `---
apiVersion: stable.example.com/v1
kind: CronTab
metadata: { name: ${name}, namespace: ${ns} }
spec: { cronSpec: "0 3 * * *", image: "example/${name}:1" }
`).join('')}`;

async function kubectlOk(args: string[], input?: string): Promise<void> {
  const r = await kubectl(args, input === undefined ? {} : { input });
  assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
}

const dir = new TenantsDir();
const gateways: Gateway[] = [];
let browser: BrowserSession | undefined;

async function startGateway(opts: { demo: boolean; production?: boolean }): Promise<string> {
  const tenantsFile = dir.writeConfig('tenants.yaml', {
    auth: { issuer, audience, algorithms: ['HS256'], secretFile: 'hs.secret' },
    tenants: [
      { name: 'tenant-a', match: { tenant: 'a' }, user: 'tenant-a:{sub}', groups: [groupA] },
      { name: 'tenant-b', match: { tenant: 'b' }, user: 'tenant-b:{sub}', groups: [groupB] },
    ],
  });
  const gateway = await createGateway({
    client: new KubeClient(kubeConfigFor('admin')),
    tenants: loadTenantConfig(tenantsFile),
    plugins: opts.production ? [queryLimits({ mode: 'production' })] : [],
    explorer: opts.demo ? { demoTenants: () => Object.entries(tokens).map(([name, t]) => ({ name, token: t })) } : undefined,
  });
  gateways.push(gateway);
  const server = await gateway.listen(0, '127.0.0.1');
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

before(async () => {
  dir.write('hs.secret', secret);
  await kubectlOk(['create', 'namespace', nsA]);
  await kubectlOk(['create', 'namespace', nsB]);
  await kubectlOk(['apply', '-f', '-'], rbac);
  browser = await openBrowser({ viewport: { width: 1280, height: 800 } });
});

after(async () => {
  await browser?.close();
  for (const g of gateways) await g.stop();
  await kubectl(['delete', 'namespace', nsA, nsB, '--wait=false']);
  await kubectl(['delete', 'clusterrole', `${run}-editor`, `${run}-cct-reader`]);
  await kubectl(['delete', 'clusterrolebinding', `${run}-a-cct`]);
  dir.remove();
});

const isGraphQLPost = (base: string) => (r: Request) => r.url() === `${base}/graphql` && r.method() === 'POST';
const isIntrospection = (r: Request) => (r.postData() ?? '').includes('IntrospectionQuery');

/** The docs explorer's Query type: its field names. */
async function queryFieldsInDocs(page: Page): Promise<string[]> {
  const docs = page.locator('.graphiql-doc-explorer');
  if (!(await docs.isVisible())) await page.locator('button[aria-label="Show Documentation Explorer"]').click();
  // Back to the root of the docs when a type is open.
  const back = docs.locator('a.graphiql-doc-explorer-back');
  while (await back.count()) await back.first().click();
  await docs.locator('a.graphiql-doc-explorer-type-name', { hasText: /^Query$/ }).first().click();
  await docs.locator('.graphiql-doc-explorer-title', { hasText: /^Query$/ }).waitFor();
  await docs.locator('.graphiql-doc-explorer-field-name').first().waitFor();
  return docs.locator('.graphiql-doc-explorer-field-name').allTextContents();
}

describe('local development: the tenant picker', () => {
  let base: string;
  let page: Page;
  const problemsBefore = () => browser!.problems.length;

  before(async () => {
    base = await startGateway({ demo: true });
    page = browser!.page;
  });

  it('the first load fetches the schema as the first demo tenant and shows no error', async () => {
    const introspection = page.waitForRequest((r) => isGraphQLPost(base)(r) && isIntrospection(r));
    const res = await page.goto(`${base}/`);
    assert.equal(res?.status(), 200);
    const sent = await introspection;
    assert.equal(sent.headers()['authorization'], `Bearer ${tokens['tenant-a']}`);
    assert.equal((await sent.response())?.status(), 200);
    await page.locator('.graphiql-container').waitFor();
    assert.equal(await page.getByLabel('Tenant').inputValue(), 'tenant-a');
    // The Headers tab shows the header the calls carry.
    assert.deepEqual(JSON.parse(await graphiql(page).headersEditor().get()), { Authorization: `Bearer ${tokens['tenant-a']}` });
    assert.equal(await graphiql(page).resultPane().get(), '', 'no error where results go');
    assert.deepEqual(browser!.problems, []);
  });

  it('the docs list the CronTab fields, and tenant A\'s ClusterCronTab fields', async () => {
    const fields = await queryFieldsInDocs(page);
    assert.ok(fields.includes(CRONTAB_FIELD), fields.join(', '));
    assert.ok(fields.includes(CLUSTER_FIELD), fields.join(', '));
    const docs = page.locator('.graphiql-doc-explorer');
    await docs.locator('.graphiql-doc-explorer-field-name', { hasText: new RegExp(`^cronTab_stable_example_com$`) }).click();
    await docs.locator('a.graphiql-doc-explorer-type-name', { hasText: /^CronTab_v1_stable_example_com$/ }).first().click();
    await docs.locator('.graphiql-doc-explorer-title', { hasText: /^CronTab_v1_stable_example_com$/ }).waitFor();
    const typeFields = await docs.locator('.graphiql-doc-explorer-field-name').allTextContents();
    for (const f of ['metadata', 'spec']) assert.ok(typeFields.includes(f), typeFields.join(', '));
  });

  it('the default query runs as the tenant, its relations example too, then a list of its CronTabs', async () => {
    const gi = graphiql(page);
    await gi.runOperation('ApiResources');
    const result = await gi.waitForResult('"data"');
    assert.doesNotMatch(result, /"errors"/, result);
    assert.ok(result.includes('clustercrontabs.stable.example.com'), result);
    await gi.runOperation('Relations');
    const relations = await gi.waitForResult('"owners"');
    assert.doesNotMatch(relations, /"errors"/, relations);
    assert.deepEqual(JSON.parse(relations).data.cronTabList_stable_example_com.edges.map((e: any) => e.node), [
      { metadata: { namespace: nsA, name: 'a-nightly' }, owners: [], children: [], events: [] },
    ]);
    await gi.setQuery(listIn(nsA));
    await gi.executeButton().click();
    const list = await gi.waitForResult('a-nightly');
    assert.doesNotMatch(list, /"errors"/, list);
  });

  it('a subscription runs over the WebSocket with the tenant\'s token', async () => {
    const gi = graphiql(page);
    // The frame listener is attached as the socket opens, before its first frame.
    const init = new Promise<string>((resolve) => page.once('websocket', (ws) => ws.on('framesent', (f) => {
      if (String(f.payload).includes('connection_init')) resolve(String(f.payload));
    })));
    await gi.setQuery(watchIn(nsA));
    await gi.executeButton().click();
    assert.ok((await init).includes(tokens['tenant-a']), 'the token is in connection_init');
    const event = await gi.waitForResult('INITIAL_STATE_DONE');
    assert.doesNotMatch(event, /"errors"/, event);
    await page.locator('button.graphiql-execute-button[aria-label^="Stop"]').click();
    await page.locator('button.graphiql-execute-button[aria-label^="Execute"]').waitFor();
  });

  it('switching to tenant B refetches the schema as B: the docs lose the ClusterCronTab fields', async () => {
    const introspection = page.waitForRequest((r) => isGraphQLPost(base)(r) && isIntrospection(r));
    await page.getByLabel('Tenant').selectOption('tenant-b');
    assert.equal((await introspection).headers()['authorization'], `Bearer ${tokens['tenant-b']}`);
    await pollFields(page, (fields) => fields.includes(CRONTAB_FIELD) && !fields.includes(CLUSTER_FIELD));
    assert.deepEqual(JSON.parse(await graphiql(page).headersEditor().get()), { Authorization: `Bearer ${tokens['tenant-b']}` });
    const gi = graphiql(page);
    await gi.setQuery(listIn(nsB));
    await gi.executeButton().click();
    await gi.waitForResult('b-nightly');
    // B may not read A's namespace: RBAC answers, not the page.
    await gi.setQuery(listIn(nsA));
    await gi.executeButton().click();
    await gi.waitForResult('FORBIDDEN');
  });

  it('"none" sends no token and says how to give one, without an error', async () => {
    const before = problemsBefore();
    await page.getByLabel('Tenant').selectOption('');
    await page.locator('.crdgate-note-token').waitFor();
    assert.equal(await graphiql(page).headersEditor().get(), '{}');
    assert.deepEqual(browser!.problems.slice(before), []);
  });

  it('typing another token into the Headers tab makes the picker step aside', async () => {
    await page.getByLabel('Tenant').selectOption('tenant-a');
    await graphiql(page).headersEditor().set(JSON.stringify({ Authorization: `Bearer ${tokens['tenant-b']}` }));
    await pollValue(() => page.getByLabel('Tenant').inputValue(), '');
    const gi = graphiql(page);
    await gi.setQuery(listIn(nsB));
    const sent = page.waitForRequest((r) => isGraphQLPost(base)(r) && (r.postData() ?? '').includes(nsB));
    await gi.executeButton().click();
    assert.equal((await sent).headers()['authorization'], `Bearer ${tokens['tenant-b']}`);
    await gi.waitForResult('b-nightly');
  });
});

describe('outside local development: a token is needed', () => {
  let base: string;
  let page: Page;

  before(async () => {
    base = await startGateway({ demo: false });
    page = await browser!.context.newPage();
  });
  after(async () => page?.close());

  it('no schema fetch and no error on first load; the page says how to give a token', async () => {
    const graphqlRequests: Request[] = [];
    page.on('request', (r) => {
      if (isGraphQLPost(base)(r)) graphqlRequests.push(r);
    });
    const res = await page.goto(`${base}/`);
    assert.equal(res?.status(), 200);
    await page.locator('.graphiql-container').waitFor();
    const note = page.locator('.crdgate-note-token');
    await note.waitFor();
    assert.match(await note.textContent() ?? '', /needs a bearer token.*\{"Authorization": "Bearer <token>"\}/);
    assert.equal(await page.getByLabel('Tenant').count(), 0, 'no picker without demo tenants');
    assert.equal(await graphiql(page).resultPane().get(), '');
    // The page is settled (GraphiQL rendered, the note shown) and nothing went to /graphql.
    assert.deepEqual(graphqlRequests.map((r) => r.postData()), []);

    const introspection = page.waitForRequest((r) => isGraphQLPost(base)(r) && isIntrospection(r));
    await graphiql(page).headersEditor().set(JSON.stringify({ Authorization: `Bearer ${tokens['tenant-b']}` }));
    assert.equal((await introspection).headers()['authorization'], `Bearer ${tokens['tenant-b']}`);
    await note.waitFor({ state: 'detached' });
    await pollFields(page, (fields) => fields.includes(CRONTAB_FIELD) && !fields.includes(CLUSTER_FIELD));
  });
});

describe('production mode: introspection off', () => {
  it('no schema fetch, a note saying why, and operations still run', async () => {
    const base = await startGateway({ demo: false, production: true });
    const page = await browser!.context.newPage();
    try {
      const introspections: Request[] = [];
      page.on('request', (r) => {
        if (isGraphQLPost(base)(r) && isIntrospection(r)) introspections.push(r);
      });
      await page.goto(`${base}/`);
      await page.locator('.crdgate-note-introspection').waitFor();
      const gi = graphiql(page);
      await gi.headersEditor().set(JSON.stringify({ Authorization: `Bearer ${tokens['tenant-a']}` }));
      await gi.setQuery(listIn(nsA));
      await gi.executeButton().click();
      await gi.waitForResult('a-nightly');
      assert.equal(introspections.length, 0);
    } finally {
      await page.close();
    }
  });
});

/** Polls the docs' Query fields until they satisfy ok (a schema refetch takes a moment). */
async function pollFields(page: Page, ok: (fields: string[]) => boolean): Promise<void> {
  let fields: string[] = [];
  await pollUntil('the docs\' Query fields to change', async () => ok(fields = await queryFieldsInDocs(page)), { timeoutMs: 30_000 })
    .catch((err: Error) => assert.fail(`${err.message}; they are: ${fields.join(', ')}`));
}

async function pollValue(read: () => Promise<string>, expected: string): Promise<void> {
  await pollUntil(`the value ${JSON.stringify(expected)}`, async () => (await read()) === expected, { timeoutMs: 30_000 });
}
