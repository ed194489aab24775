// The explorer page in a real headless Chromium against the gateway as `crdgate serve` builds it
// (createGateway), on the real test cluster: it loads only from the gateway, runs the example and
// a query, completes fields, shows docs, runs a subscription over WebSocket.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { createGateway, type Gateway } from '../../src/gateway.ts';
import { KubeClient } from '../../src/kube/kube-client.ts';
import { loadFile } from '../../src/kube/kube-config.ts';
import { repoRoot } from '../../src/local-cluster/build-launcher.ts';
import { isLocal, openBrowser, type BrowserSession } from '../helpers/browser.ts';
import { editor, graphiql } from '../helpers/graphiql.ts';
import { kubectl, testCluster, uniqueName } from '../helpers/test-cluster.ts';

/** The CronTab the test creates, the list query it runs in the editor, and what the result must contain. */
const NAMESPACE = uniqueName('explorer');
const CRONTAB = 'explorer-nightly';
const QUERY = `{ cronTabList_stable_example_com(namespace: "${NAMESPACE}") { edges { node { metadata { name } spec { cronSpec image } } } } }`;
const EXPECTED_IN_RESULT = CRONTAB;
/** A subscription that answers at once (the initial state, even of no objects), and its answer. */
// In the test's own namespace: events of other tests' namespaces (their clean-up) would replace
// the answer on the page.
const SUBSCRIPTION = `subscription { watchCronTab_stable_example_com(namespace: "${NAMESPACE}", sendInitialEvents: true) { type } }`;
const EXPECTED_IN_EVENT = 'INITIAL_STATE_DONE';
/** A Query field every gateway schema has: autocompletion and the docs must show it. */
const ROOT_FIELD = 'apiResources';

/** Set to 1 to refresh the README's screenshot (docs/explorer.png) from this run. */
const UPDATE_DOCS_SCREENSHOT = process.env.CRDGATE_UPDATE_EXPLORER_SCREENSHOT === '1';

let gateway: Gateway;
let base: string;
let shotDir: string;
let browser: BrowserSession | undefined;
let page: Page;
let requested: string[] = [];
let problems: string[] = [];
let warnings: string[] = [];

before(async () => {
  const admin = new KubeClient(loadFile(testCluster().kubeconfig));
  await admin.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE } } });
  await admin.request('POST', `/apis/stable.example.com/v1/namespaces/${NAMESPACE}/crontabs`, {
    body: { apiVersion: 'stable.example.com/v1', kind: 'CronTab', metadata: { name: CRONTAB }, spec: { cronSpec: '0 3 * * *', image: 'example/nightly:1' } },
  });
  gateway = await createGateway({ client: admin });
  const server = await gateway.listen(0, '127.0.0.1');
  const { port } = server.address() as { port: number };
  base = `http://127.0.0.1:${port}`;

  shotDir = mkdtempSync(join(tmpdir(), 'crdgate-explorer-shot-'));
  // GraphiQL 4's dialogs warn about a missing aria description, which is GraphiQL's to fix: the
  // warnings are shown, not failures.
  browser = await openBrowser({ viewport: { width: 1280, height: 720 } });
  ({ page, requested, problems, warnings } = browser);
});

after(async () => {
  await browser?.close();
  await gateway?.stop();
  await new KubeClient(loadFile(testCluster().kubeconfig)).request('DELETE', `/api/v1/namespaces/${NAMESPACE}`).catch(() => {});
  if (shotDir) rmSync(shotDir, { recursive: true, force: true });
});

// page is opened in before(); these follow it.
const queryEditor = () => graphiql(page).queryEditor();
const setQuery = (query: string) => graphiql(page).setQuery(query);
const waitForResult = (text: string) => graphiql(page).waitForResult(text);
const executeButton = () => graphiql(page).executeButton();

test('the explorer page loads GraphiQL and the schema, all from the gateway', async () => {
  const introspected = page.waitForResponse((r) => r.url() === `${base}/graphql` && r.request().method() === 'POST');
  const res = await page.goto(`${base}/`);
  assert.equal(res?.status(), 200);
  assert.match(res!.headers()['content-security-policy'] ?? '', /script-src 'self'/);
  await page.locator('.graphiql-container').waitFor();
  assert.equal((await introspected).status(), 200);
  assert.equal(await page.title(), 'crdgate explorer');
});

test('the default query is an example that runs without errors', async () => {
  const example = await queryEditor().get();
  assert.ok(example.includes(ROOT_FIELD), example);
  // Its second operation follows relations on a served resource (run as a tenant in explorer-tenants-browser.test.ts).
  assert.match(example, /query Relations \{\s+cronTabList_stable_example_com\(first: 5\)[\s\S]*owners \{[\s\S]*events\(limit: 3\)/, example);
  await graphiql(page).runOperation('ApiResources');
  const result = await waitForResult('"data"');
  assert.doesNotMatch(result, /"errors"/, result);
  // The default example lists the served custom resources.
  assert.ok(result.includes('crontabs.stable.example.com'), result);
});

test('autocompletion suggests fields of the live schema', async () => {
  await queryEditor().set('{\n  \n}');
  await queryEditor().focusAt(1, 2);
  await page.keyboard.type(ROOT_FIELD.slice(0, 4));
  await page.locator('.CodeMirror-hints .CodeMirror-hint', { hasText: ROOT_FIELD }).first().waitFor();
  await page.keyboard.press('Escape');
});

test('a header typed in the Headers tab goes out with the query, which the run button executes', async () => {
  await setQuery(QUERY);
  await page.locator('.graphiql-editor-tools button[data-name="headers"]').click();
  // Tenants will paste `{"Authorization": "Bearer <token>"}` here; a header the gateway ignores
  // proves the editor's headers are sent without depending on authentication.
  await editor(page.locator('.graphiql-editor-tool .graphiql-editor:not(.hidden)')).set('{"X-Explorer-Test": "from-the-header-editor"}');
  const sent = page.waitForRequest((r) => r.url() === `${base}/graphql` && (r.postData() ?? '').includes(JSON.stringify(QUERY)));
  await executeButton().click();
  const request = await sent;
  assert.equal(request.headers()['x-explorer-test'], 'from-the-header-editor');
  const result = await waitForResult(EXPECTED_IN_RESULT);
  assert.doesNotMatch(result, /"errors"/, result);
  assert.ok(JSON.parse(result).data, result);
});

test('Ctrl-Enter runs the query too', async () => {
  await setQuery('{ __typename }');
  await queryEditor().focusAt(0, 1);
  await page.keyboard.press('Control+Enter');
  await waitForResult('"__typename": "Query"');
  await setQuery(QUERY);
  await page.keyboard.press('Control+Enter');
  await waitForResult(EXPECTED_IN_RESULT);
});

test('an int64 beyond 2^53 shows with every digit (2^63-1 and -2^63 are not rounded)', async (t) => {
  // ClusterCronTab's target weights are int64; kubectl keeps the digits on the way in, and the
  // gateway sends them as JSON numbers.
  const name = `${NAMESPACE}-int64`;
  const applied = await kubectl(['apply', '--server-side', '-f', '-'], { input: `apiVersion: stable.example.com/v1
kind: ClusterCronTab
metadata: { name: ${name} }
spec:
  cronSpec: "0 3 * * *"
  image: example/int64:1
  targets: [{ name: max, weight: 9223372036854775807 }, { name: min, weight: -9223372036854775808 }]
` });
  assert.equal(applied.code, 0, applied.stderr);
  t.after(() => kubectl(['delete', 'clustercrontab', name, '--wait=false']));
  await setQuery(`{ clusterCronTab_stable_example_com(name: "${name}") { spec { targets { name weight } } } }`);
  await executeButton().click();
  const result = await waitForResult('"targets"');
  assert.match(result, /"weight": 9223372036854775807\n/, result);
  assert.match(result, /"weight": -9223372036854775808\n/, result);
  assert.doesNotMatch(result, /922337203685477[0-9]000|"errors"/, result);
});

test('a subscription runs over a WebSocket to the gateway', async () => {
  const socket = page.waitForEvent('websocket');
  await setQuery(SUBSCRIPTION);
  await executeButton().click();
  assert.equal((await socket).url(), `${base.replace(/^http/, 'ws')}/graphql`);
  const event = await waitForResult(EXPECTED_IN_EVENT);
  assert.doesNotMatch(event, /"errors"/, event);
  // The same button stops it.
  await page.locator('button.graphiql-execute-button[aria-label^="Stop"]').click();
  await page.locator('button.graphiql-execute-button[aria-label^="Execute"]').waitFor();
});

test('the docs explorer opens and shows the Query type', async () => {
  await page.locator('button[aria-label="Show Documentation Explorer"]').click();
  const docs = page.locator('.graphiql-doc-explorer');
  await docs.waitFor();
  await docs.locator('a.graphiql-doc-explorer-type-name', { hasText: /^Query$/ }).first().click();
  await docs.locator('.graphiql-doc-explorer-title', { hasText: /^Query$/ }).waitFor();
  await docs.locator('.graphiql-doc-explorer-field-name', { hasText: ROOT_FIELD }).first().waitFor();
});

test('dialogs open under the CSP (their scroll lock injects a style element with the nonce)', async () => {
  await page.locator('button[aria-label="Open settings dialog"]').click();
  const dialog = page.locator('[role="dialog"]');
  await dialog.waitFor();
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'detached' });
});

test('a screenshot of the explorer', async () => {
  // Staged for the README: the query and its result, prettified, and the header tenants send.
  await setQuery(QUERY);
  await executeButton().click();
  await waitForResult(EXPECTED_IN_RESULT);
  await page.locator('button[aria-label^="Prettify query"]').click();
  assert.ok((await queryEditor().get()).split('\n').length > 3, 'the prettify button reformats the query');
  await editor(page.locator('.graphiql-editor-tool .graphiql-editor:not(.hidden)')).set('{\n  "Authorization": "Bearer <token>"\n}');
  await page.locator('.graphiql-query-editor .CodeMirror').click();
  const path = join(shotDir, 'explorer.png');
  await page.screenshot({ path });
  assert.ok(existsSync(path));
  const size = statSync(path).size;
  assert.ok(size > 20_000, `the screenshot is only ${size} bytes`);
  if (UPDATE_DOCS_SCREENSHOT) {
    mkdirSync(join(repoRoot, 'docs'), { recursive: true });
    copyFileSync(path, join(repoRoot, 'docs', 'explorer.png'));
  }
});

test('nothing was requested from outside the gateway, and the console stayed clean', (t) => {
  for (const w of warnings) t.diagnostic(`console warning: ${w}`);
  assert.ok(requested.length >= 7, `the page, its assets and GraphQL requests: ${requested.join(', ')}`);
  assert.deepEqual(requested.filter((u) => !isLocal(u)), [], 'requests that left localhost');
  const wsBase = base.replace(/^http/, 'ws');
  assert.deepEqual(requested.filter((u) => !u.startsWith(`${base}/`) && !u.startsWith(`${wsBase}/`)), [], 'every request goes to the gateway');
  assert.deepEqual(problems, []);
});
