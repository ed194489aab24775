// A headless Chromium for the browser tests (the explorer and the REST reference page), with a
// record of everything the page does that a test must judge: every request it makes (WebSockets
// included), and its problems (console errors, which include CSP violations; uncaught errors;
// failed requests; HTTP errors). Requests that would leave localhost are aborted at once, so a page
// that reaches for a CDN fails fast on machines without a network; they are still recorded.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
export const BROWSER_TIMEOUT = 30_000;

export interface BrowserSession {
  readonly context: BrowserContext;
  readonly page: Page;
  /** Every URL the page requested, in order. */
  readonly requested: string[];
  /** Console errors, page errors, failed requests and HTTP errors, as lines. */
  readonly problems: string[];
  /** Console warnings: shown by the tests, not failures. */
  readonly warnings: string[];
  close(): Promise<void>;
}

/** Whether a URL stays on this machine (or in the page: data:, blob:, about:). */
export function isLocal(url: string): boolean {
  const u = new URL(url);
  if (u.protocol === 'data:' || u.protocol === 'blob:' || u.protocol === 'about:') return true;
  return u.hostname === '127.0.0.1' || u.hostname === 'localhost' || u.hostname === '[::1]';
}

export async function openBrowser(opts: { viewport: { width: number; height: number } }): Promise<BrowserSession> {
  assert.ok(existsSync(CHROMIUM), `the browser tests need Chromium at ${CHROMIUM}; install it with `
    + '`scripts/ensure-chromium.sh` (or `sudo apt-get install -y chromium` on Debian/Ubuntu)');
  const profileDir = mkdtempSync(join(tmpdir(), 'crdgate-chromium-'));
  const requested: string[] = [];
  const problems: string[] = [];
  const warnings: string[] = [];
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: opts.viewport,
      timeout: BROWSER_TIMEOUT,
    });
  } catch (err) {
    rmSync(profileDir, { recursive: true, force: true });
    throw err;
  }
  context.setDefaultTimeout(BROWSER_TIMEOUT);
  context.on('request', (r) => requested.push(r.url()));
  await context.route((url) => !isLocal(url.href), (route) => route.abort('blockedbyclient'));
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
    if (m.type() === 'warning') warnings.push(m.text());
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('websocket', (ws) => requested.push(ws.url()));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} (${r.failure()?.errorText})`));
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()} for ${r.url()}`);
  });
  return {
    context, page, requested, problems, warnings,
    async close() {
      await context.close();
      rmSync(profileDir, { recursive: true, force: true });
    },
  };
}
