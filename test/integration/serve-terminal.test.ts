// `crdgate serve` as a person at a terminal sees it, and as a log collector does: a real process
// on the real cluster, under a pseudo-terminal (readable lines, the start-up block) and with
// pipes (JSON lines only; the block on stderr in local mode, absent in production mode).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../../src/local-cluster/build-launcher.ts';
import { pollUntil } from '../helpers/poll-until.ts';
import { testCluster } from '../helpers/test-cluster.ts';
import { spawnInTerminal, spawnPiped, type RecordedProcess } from '../helpers/terminal.ts';

const bin = join(repoRoot, 'bin', 'crdgate.js');
const home = mkdtempSync(join(tmpdir(), 'crdgate-terminal-test-'));
const env = { PATH: process.env.PATH, HOME: home };
after(() => rmSync(home, { recursive: true, force: true }));

// A real cluster is served without authentication only when asked for (--tenants none).
const serveArgs = (...extra: string[]) => [process.execPath, bin, 'serve', '--port', '0', '--metrics-port', '0', '--kubeconfig', testCluster().kubeconfig, '--tenants', 'none', ...extra];

/** Waits for the line naming the GraphQL URL (pretty or JSON), then runs a named query. */
async function serveAndQuery(p: RecordedProcess): Promise<string> {
  const [, base] = await p.waitFor(/GraphQL API at (http:\/\/\S+)\/graphql/);
  const res = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: 'query Kinds { apiResources { kind } }', operationName: 'Kinds' }),
  });
  assert.equal(res.status, 200);
  return base!;
}

async function stop(p: RecordedProcess): Promise<void> {
  p.interrupt();
  assert.equal(await p.exited, 0, p.output() + p.stderr());
}

test('on a terminal: readable log lines, a request as one line, and the start-up block at the end', async () => {
  const p = spawnInTerminal(serveArgs(), { env });
  try {
    const base = await serveAndQuery(p);
    await p.waitFor(/POST \/graphql query Kinds → 200 ok [\d.]+ ms \[[^\]]+\]/);
    const out = p.output();
    assert.doesNotMatch(out, /^\{/m, `no JSON line on a terminal:\n${out}`);
    assert.match(out, /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: \d+ custom resource definition\(s\) discovered$/m);
    const block = out.slice(out.indexOf('crdgate is ready'));
    assert.match(block, new RegExp(`Explorer +${base}/\\n`));
    assert.match(block, new RegExp(`REST reference +${base}/docs/rest\\n`));
    assert.match(block, new RegExp(`kubectl +kubectl --kubeconfig ${testCluster().kubeconfig} get crd\\n`));
    assert.match(block, /Authentication: off/);
    assert.ok(out.indexOf('crdgate is ready') > out.indexOf('GraphQL API at'), 'the block comes once it serves');
    await stop(p);
    assert.match(p.output(), /INFO: SIGINT: shutting down/);
  } finally {
    p.child.kill('SIGKILL');
  }
});

test('piped (production mode): JSON lines only, with the request fields unchanged, and no block', async () => {
  const p = spawnPiped(serveArgs(), { env });
  try {
    await serveAndQuery(p);
    const request = await p.waitFor(/^\{.*"msg":"request".*\}$/m);
    assert.deepEqual(Object.keys(JSON.parse(request[0]) as object).sort(),
      ['code', 'durationMs', 'level', 'method', 'msg', 'name', 'operation', 'path', 'requestId', 'status', 'time', 'type'].sort());
    await stop(p);
    for (const line of p.output().trim().split('\n')) assert.doesNotThrow(() => JSON.parse(line), `not JSON: ${line}`);
    assert.doesNotMatch(p.output() + p.stderr(), /crdgate is ready/);
  } finally {
    p.child.kill('SIGKILL');
  }
});

test('piped in local mode: stdout stays JSON, the block goes to stderr', async () => {
  const p = spawnPiped(serveArgs('--mode', 'local'), { env });
  try {
    await serveAndQuery(p);
    await stopWhen(p, () => p.stderr().includes('Ctrl-C stops crdgate.'));
    for (const line of p.output().trim().split('\n')) assert.doesNotThrow(() => JSON.parse(line), `not JSON: ${line}`);
    assert.match(p.stderr(), /crdgate is ready[\s\S]*Explorer +http:\/\/127\.0\.0\.1:\d+\//);
  } finally {
    p.child.kill('SIGKILL');
  }
});

test('the flag wins: JSON on a terminal, readable lines into a pipe', async () => {
  const json = spawnInTerminal(serveArgs('--log-format', 'json'), { env });
  const pretty = spawnPiped(serveArgs('--log-format', 'pretty'), { env });
  try {
    await Promise.all([serveAndQuery(json), serveAndQuery(pretty)]);
    await pretty.waitFor(/INFO: POST \/graphql query Kinds → 200 ok/);
    await json.waitFor(/^\{.*"msg":"request".*\}$/m);
    await Promise.all([stop(json), stop(pretty)]);
    for (const line of json.output().trim().split('\n')) assert.doesNotThrow(() => JSON.parse(line), `not JSON: ${line}`);
    assert.doesNotMatch(pretty.output(), /^\{/m);
    assert.match(pretty.output(), /crdgate is ready/);
  } finally {
    json.child.kill('SIGKILL');
    pretty.child.kill('SIGKILL');
  }
});

/** Polls until ready() (the start-up block has been written), then stops the process. */
async function stopWhen(p: RecordedProcess, ready: () => boolean): Promise<void> {
  await pollUntil('the start-up block', () => ready(), { timeoutMs: 30_000 });
  await stop(p);
}
