// The REST API reference page (/docs/rest, Swagger UI served by the gateway) in a real headless
// Chromium, on the real test cluster, as explorer-browser.test.ts does for GraphiQL: it loads
// only from the gateway under its CSP with a clean console, lists every operation the live
// document has for CronTab, and, with tenants on (the dev tenants config and the example RBAC),
// a tenant authorizes with its token in the Authorize dialog and runs "Try it out" on the CronTab
// list, which answers 200 in the page.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Page } from 'playwright-core';
import { createGateway, type Gateway } from '../../src/gateway.ts';
import { KubeClient } from '../../src/kube/kube-client.ts';
import { ensureDevTenants, mintDevToken } from '../../src/local-cluster/dev-tenants.ts';
import { examplesDir, readManifests } from '../../src/local-cluster/install-examples.ts';
import { BROWSER_TIMEOUT as TIMEOUT, isLocal, openBrowser, type BrowserSession } from '../helpers/browser.ts';
import { pollUntil } from '../helpers/poll-until.ts';
import { kubeConfigFor, kubectl, uniqueName } from '../helpers/test-cluster.ts';

const G = 'stable.example.com';

const run = uniqueName('docs');
/** The example tenants' namespaces, renamed so that parallel test files never share them. */
const nsA = `${run}-a`;
const nsB = `${run}-b`;
const marker = `docs-page-${run}`;

let tmpDir: string;
let browser: BrowserSession | undefined;
let page: Page;
let requested: string[] = [];
let problems: string[] = [];
let warnings: string[] = [];
const cleanups: (() => Promise<unknown>)[] = [];

async function kubectlOk(args: string[], input?: string): Promise<string> {
  const r = await kubectl(args, input === undefined ? {} : { input });
  assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

async function startGateway(opts: { tenants?: ReturnType<typeof ensureDevTenants> } = {}): Promise<{ gateway: Gateway; base: string }> {
  const gateway = await createGateway({ client: new KubeClient(kubeConfigFor('admin')), explorer: false, ...opts });
  cleanups.push(() => gateway.stop());
  const server = await gateway.listen(0, '127.0.0.1');
  return { gateway, base: `http://127.0.0.1:${(server.address() as { port: number }).port}` };
}

/**
 * deploy/examples/tenants-rbac.yaml with its namespaces and object names made unique to this run;
 * the subjects (the groups tenant-a and tenant-b the dev tenants map to) are kept.
 */
function exampleRbac(): KubernetesObject[] {
  const objects = readManifests(examplesDir, (f) => f === 'tenants-rbac.yaml');
  assert.ok(objects.length >= 4, 'the example RBAC is there');
  const namespaces: Record<string, string> = { 'tenant-a': nsA, 'tenant-b': nsB };
  const rename = (name: string) => `${name}-${run}`;
  return objects.map((o) => {
    const copy = structuredClone(o) as KubernetesObject & { roleRef?: { kind: string; name: string } };
    copy.metadata = { ...copy.metadata, name: rename(copy.metadata!.name!) };
    if (copy.metadata.namespace) copy.metadata.namespace = namespaces[copy.metadata.namespace] ?? assert.fail(`unexpected namespace ${copy.metadata.namespace}`);
    if (copy.roleRef?.kind === 'ClusterRole') copy.roleRef = { ...copy.roleRef, name: rename(copy.roleRef.name) };
    return copy;
  });
}

before(async () => {
  tmpDir = mkdtempSync(join(tmpdir(), 'crdgate-docs-page-'));
  browser = await openBrowser({ viewport: { width: 1280, height: 900 } });
  ({ page, requested, problems, warnings } = browser);
});

after(async () => {
  await browser?.close();
  for (const c of cleanups.reverse()) await c().catch(() => {});
  await kubectl(['delete', 'namespace', nsA, nsB, '--wait=false', '--ignore-not-found']);
  if (tmpDir) rmSync(tmpDir, { recursive: true, force: true });
});

/** The operations (METHOD path) the page lists whose path is one of CronTab's. */
async function listedCronTabOperations(): Promise<string[]> {
  const blocks = page.locator('.opblock');
  const out: string[] = [];
  for (const block of await blocks.all()) {
    const path = await block.locator('.opblock-summary-path').first().getAttribute('data-path');
    const method = (await block.locator('.opblock-summary-method').first().textContent())?.trim();
    if (path && /\/crontabs(\/|$)/.test(path)) out.push(`${method} ${path}`);
  }
  return out.sort();
}

describe('without tenants', () => {
  let base: string;
  before(async () => {
    ({ base } = await startGateway());
  });

  test('the page loads Swagger UI and the live document from the gateway, under its CSP', async () => {
    const spec = page.waitForResponse((r) => r.url() === `${base}/openapi.json`);
    const res = await page.goto(`${base}/docs/rest`);
    assert.equal(res?.status(), 200);
    const csp = res!.headers()['content-security-policy'] ?? '';
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /connect-src 'self'/);
    assert.equal((await spec).status(), 200);
    await page.locator('.swagger-ui .info .title').first().waitFor();
    assert.equal(await page.title(), 'crdgate REST API');
  });

  test('every CronTab operation of the live document is listed', async () => {
    const doc = await (await fetch(`${base}/openapi.json`)).json() as { paths: Record<string, Record<string, unknown>> };
    const expected = Object.entries(doc.paths).filter(([p]) => /\/crontabs(\/|$)/.test(p))
      .flatMap(([p, item]) => ['get', 'put', 'post', 'delete', 'patch'].filter((m) => m in item).map((m) => `${m.toUpperCase()} ${p}`)).sort();
    assert.ok(expected.includes(`GET /rest/${G}/v1/namespaces/{namespace}/crontabs`), expected.join('\n'));
    assert.ok(expected.length >= 10, `CronTab has collection, item, status and scale operations: ${expected.join(', ')}`);
    await page.locator(`.opblock-summary-path[data-path="/rest/${G}/v1/namespaces/{namespace}/crontabs"]`).first().waitFor();
    assert.deepEqual(await listedCronTabOperations(), expected);
  });

  test('nothing was requested from outside the gateway, and the console stayed clean', (t) => {
    for (const w of warnings) t.diagnostic(`console warning: ${w}`);
    assert.ok(requested.some((u) => u === `${base}/docs/rest/assets/swagger-ui-bundle.js`), requested.join('\n'));
    assert.deepEqual(requested.filter((u) => !isLocal(u)), [], 'requests that left localhost');
    assert.deepEqual(requested.filter((u) => !u.startsWith(`${base}/`)), [], 'every request goes to the gateway');
    assert.deepEqual(problems, []);
  });
});

describe('with tenants: Authorize, then "Try it out" on the CronTab list', () => {
  let base: string;
  let token: string;
  const seen = { requests: 0, problems: 0 };
  before(async () => {
    seen.requests = requested.length;
    seen.problems = problems.length;
    await kubectlOk(['create', 'namespace', nsA]);
    await kubectlOk(['create', 'namespace', nsB]);
    const rbac = exampleRbac();
    await kubectlOk(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: rbac }));
    cleanups.push(() => kubectl(['delete', 'clusterrole,clusterrolebinding', ...rbac.filter((o) => !o.metadata?.namespace).map((o) => o.metadata!.name!), '--ignore-not-found']));
    await kubectlOk(['apply', '-f', '-'], JSON.stringify({
      apiVersion: `${G}/v1`, kind: 'CronTab', metadata: { name: 'in-a', namespace: nsA }, spec: { cronSpec: '* * * * *', image: marker, replicas: 1 },
    }));
    ({ base } = await startGateway({ tenants: ensureDevTenants(join(tmpDir, 'state')) }));
    token = mintDevToken(join(tmpDir, 'state'), 'a', 1);
    // The facade itself serves the tenant once the gateway has seen the RBAC.
    await pollUntil('tenant a to list its crontabs through the facade', async () => {
      const r = await fetch(`${base}/rest/${G}/v1/namespaces/${nsA}/crontabs`, { headers: { authorization: `Bearer ${token}` } });
      return r.status === 200 && (await r.text()).includes(marker);
    }, { timeoutMs: 30_000 });
    const anonymous = await fetch(`${base}/rest/${G}/v1/namespaces/${nsA}/crontabs`);
    assert.equal(anonymous.status, 401, 'without a token the facade refuses');
  });

  // Without a token the gateway serves the generic description of the facade, which carries
  // the security scheme: the page loads it and offers Authorize.
  test('the page loads the document and offers Authorize before any token is given', async () => {
    const spec = page.waitForResponse((r) => r.url() === `${base}/openapi.json`);
    const res = await page.goto(`${base}/docs/rest`);
    assert.equal(res?.status(), 200);
    const specRes = await spec;
    const specBody = await specRes.text();
    await page.locator('.swagger-ui .info, .swagger-ui .errors-wrapper').first().waitFor();
    const shown = (await page.locator('#swagger-ui').innerText()).slice(0, 400);
    assert.equal(specRes.status(), 200, `the page fetched /openapi.json without a token and got ${specRes.status()} ${specBody.slice(0, 300)}; Swagger UI shows: ${shown}`);
    await page.locator('.swagger-ui .auth-wrapper button.authorize').waitFor({ timeout: 5_000 });
  });

  test('authorizing with a tenant token and trying out the CronTab list shows 200 and the tenant\'s object', async () => {
    // Everything here is the page's own: it loads the generic document, the user authorizes, and
    // the page asks for the document again with the token, getting the tenant's resources.
    seen.requests = requested.length;
    seen.problems = problems.length;
    const withToken: string[] = [];
    const onRequest = (r: import('playwright-core').Request) => {
      if (r.url() === `${base}/openapi.json` && r.headers()['authorization'] === `Bearer ${token}`) withToken.push(r.url());
    };
    page.on('request', onRequest);
    cleanups.push(async () => page.off('request', onRequest));
    const res = await page.goto(`${base}/docs/rest`);
    assert.equal(res?.status(), 200);
    await page.locator('.swagger-ui .info .title').first().waitFor();
    await page.locator('.swagger-ui .auth-wrapper button.authorize').click();
    const dialog = page.locator('.swagger-ui .modal-ux');
    await dialog.waitFor();
    await dialog.locator('input[type="text"], input[type="password"]').first().fill(token);
    await dialog.locator('.auth-btn-wrapper button.authorize').click();
    // Authorized: the dialog offers Logout instead.
    await dialog.locator('.auth-btn-wrapper button.logout, .auth-btn-wrapper button:has-text("Logout")').first().waitFor();
    await dialog.locator('button.btn-done, button.close-modal').first().click();
    await dialog.waitFor({ state: 'detached' });
    await pollUntil('the page to fetch the tenant\'s document with the token', async () => withToken.length > 0, { timeoutMs: 10_000 });

    const path = `/rest/${G}/v1/namespaces/{namespace}/crontabs`;
    const block = page.locator('.opblock.opblock-get', { has: page.locator(`.opblock-summary-path[data-path="${path}"]`) }).first();
    await block.locator('.opblock-summary-control').first().click();
    await block.locator('button.try-out__btn').click();
    await block.locator('tr[data-param-name="namespace"] input').fill(nsA);
    // Swagger UI fills in documented defaults (allowWatchBookmarks=true), so match the path only.
    const isList = (url: string) => url.split('?')[0] === `${base}/rest/${G}/v1/namespaces/${nsA}/crontabs`;
    const sent = page.waitForRequest((r) => isList(r.url()) && r.method() === 'GET');
    const answered = page.waitForResponse((r) => isList(r.url()));
    sent.catch(() => {});
    answered.catch(() => {});
    await block.locator('button.execute').click();
    const request = await sent;
    assert.equal(request.headers()['authorization'], `Bearer ${token}`, 'the token goes out with the call');
    assert.equal(new URL(request.url()).searchParams.get('watch'), null, 'a list, not a watch');
    assert.equal((await answered).status(), 200);
    const live = block.locator('.live-responses-table');
    await live.locator('tbody tr.response .response-col_status').first().waitFor();
    let status = '';
    let body = '';
    await pollUntil('the page to show the answer', async () => {
      status = (await live.locator('tbody tr.response .response-col_status').first().textContent())?.trim() ?? '';
      body = (await live.locator('tbody tr.response .response-col_description').first().textContent()) ?? '';
      return status === '200' && body.includes(marker);
    }, { timeoutMs: TIMEOUT }).catch(() => undefined);
    assert.equal(status, '200', `the page shows the status: ${body.slice(0, 500)}`);
    assert.ok(body.includes(marker), `the page shows the tenant's CronTab: ${body.slice(0, 500)}`);
    assert.ok(body.includes('CronTabList'), body.slice(0, 500));

    const shot = join(tmpDir, 'rest-docs.png');
    await page.screenshot({ path: shot, fullPage: false });
    const size = statSync(shot).size;
    assert.ok(size > 20_000, `the screenshot is only ${size} bytes`);
  });

  test('with tenants too, nothing left localhost and the console stayed clean', (t) => {
    for (const w of warnings) t.diagnostic(`console warning: ${w}`);
    const mine = requested.slice(seen.requests);
    assert.ok(mine.some((u) => u.startsWith(`${base}/rest/`)), mine.join('\n'));
    assert.deepEqual(mine.filter((u) => !isLocal(u)), [], 'requests that left localhost');
    assert.deepEqual(mine.filter((u) => !u.startsWith(`${base}/`)), [], 'every request goes to the gateway');
    assert.deepEqual(problems.slice(seen.problems), []);
  });
});
