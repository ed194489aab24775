// `npm start` on a machine without a cluster, as its user sees it in a terminal: crdgate builds
// (the build cache is warm here) and starts its own control plane beside the test run's, installs
// the examples, and ends its start-up with the block: URLs, a kubectl command that works as
// printed, and the demo tenants with tokens that work. The tokens are nowhere else in the output,
// and the explorer's tenant picker gets the same tenants from the gateway.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../../src/local-cluster/build-launcher.ts';
import { spawnInTerminal } from '../helpers/terminal.ts';

const scratch = mkdtempSync(join(tmpdir(), 'crdgate-local-start-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** The user's environment (Go's caches live under HOME) without the test run's cluster. */
function localEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of Object.keys(env)) if (name === 'KUBECONFIG' || name.startsWith('CRDGATE_')) delete env[name];
  return env;
}

function sh(command: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('sh', ['-c', command], { cwd: repoRoot }, (err, stdout, stderr) => resolve({ code: err ? 1 : 0, stdout, stderr }));
  });
}

async function kinds(base: string, token: string): Promise<string[]> {
  const res = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: 'query Kinds { apiResources { kind } }', operationName: 'Kinds' }),
  });
  assert.equal(res.status, 200);
  const body = await res.json() as { data: { apiResources: { kind: string }[] } };
  return body.data.apiResources.map((r) => r.kind).sort();
}

test('the local start ends with a block whose kubectl command and demo tokens work, and tokens appear nowhere else', async () => {
  const p = spawnInTerminal([process.execPath, join(repoRoot, 'bin', 'crdgate.js'), 'serve', '--local-cluster', 'always',
    '--state-dir', join(scratch, 'state'), '--port', '0', '--metrics-port', '0'], { env: localEnv(), cwd: repoRoot });
  try {
    await p.waitFor(/Ctrl-C stops crdgate and the local control plane\./, 170_000);
    const out = p.output();
    assert.match(out, /INFO: building the local control plane/);
    assert.match(out, /INFO: installed example CRDs/);
    const base = /^ {2}Explorer +(http:\/\/127\.0\.0\.1:\d+)\/$/m.exec(out)?.[1];
    assert.ok(base, out);
    assert.match(out, new RegExp(`^ {2}REST reference +${base}/docs/rest$`, 'm'));

    const kubectlLine = /^ {2}kubectl +(test\/cluster\/bin\/kubectl --kubeconfig \S+ get crontabs -A)$/m.exec(out)?.[1];
    assert.ok(kubectlLine, out);
    const listed = await sh(kubectlLine);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /tenant-a +cache-warmer/);

    const tokens = Object.fromEntries([...out.matchAll(/^ {4}(tenant-[ab]) +Authorization: Bearer (\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
    assert.deepEqual(Object.keys(tokens), ['tenant-a', 'tenant-b']);
    // deploy/examples/tenants-rbac.yaml: A also reads ClusterCronTabs, B does not.
    assert.deepEqual(await kinds(base, tokens['tenant-a']!), ['ClusterCronTab', 'CronTab']);
    assert.deepEqual(await kinds(base, tokens['tenant-b']!), ['CronTab']);
    await p.waitFor(/INFO: POST \/graphql query Kinds tenant tenant-b → 200 ok/);

    // The explorer's picker gets the demo tenants (fresh tokens that work as well).
    const demo = await fetch(`${base}/explorer/demo-tenants`);
    assert.equal(demo.status, 200);
    const { tenants } = await demo.json() as { tenants: { name: string; token: string }[] };
    assert.deepEqual(tenants.map((t) => t.name), ['tenant-a', 'tenant-b']);
    assert.deepEqual(await kinds(base, tenants[1]!.token), ['CronTab']);

    p.interrupt();
    assert.equal(await p.exited, 0);
    const all = p.output();
    const block = all.slice(all.indexOf('  crdgate is ready'), all.indexOf('Ctrl-C stops crdgate'));
    const rest = all.replace(block, '');
    for (const token of [...Object.values(tokens), ...tenants.map((t) => t.token)]) {
      assert.ok(!rest.includes(token.split('.')[2]!), 'a token outside the start-up block');
    }
  } finally {
    p.child.kill('SIGKILL');
  }
});
