// `crdgate serve` as a user runs it: a real process, real signals, the real cluster.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect as connectTcp, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { configHelp } from '../../src/config/config.ts';
import { flagGroups, flagNames } from '../../src/config/flags.ts';
import { repoRoot } from '../../src/local-cluster/build-launcher.ts';
import { pollUntil } from '../helpers/poll-until.ts';
import { startRedis } from '../helpers/redis-server.ts';
import { testCluster } from '../helpers/test-cluster.ts';

const bin = join(repoRoot, 'bin', 'crdgate.js');
const scratch = mkdtempSync(join(tmpdir(), 'crdgate-serve-test-'));

/** Runs crdgate to completion (for start-up failures). */
function runToExit(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [bin, ...args], {
      env: { PATH: process.env.PATH, HOME: scratch, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), 60_000);
    p.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function assertOneLine(stderr: string, pattern: RegExp) {
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${stderr}`);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(stderr, /^\s+at /m, 'no stack trace');
}

test('a broken kubeconfig: one line, non-zero exit', async () => {
  const path = join(scratch, 'broken.yaml');
  writeFileSync(path, 'apiVersion: v1\nkind: Config\nclusters: [ this is not yaml');
  const r = await runToExit(['serve', '--kubeconfig', path, '--port', '0']);
  assert.equal(r.code, 1);
  assertOneLine(r.stderr, /^crdgate: kubeconfig .*broken\.yaml is not valid: /);
});

test('a kubeconfig path that does not exist: one line, non-zero exit', async () => {
  const r = await runToExit(['serve', '--port', '0'], { KUBECONFIG: join(scratch, 'nope.yaml') });
  assert.equal(r.code, 1);
  assertOneLine(r.stderr, /^crdgate: kubeconfig .*nope\.yaml does not exist; /);
});

test('an unreachable cluster: one line naming the server, non-zero exit', async () => {
  const path = join(scratch, 'unreachable.yaml');
  const closed = createServer().listen(0, '127.0.0.1');
  await new Promise((r) => closed.once('listening', r));
  const port = (closed.address() as { port: number }).port;
  await new Promise((r) => closed.close(r));
  writeFileSync(path, `apiVersion: v1
kind: Config
clusters: [{ name: c, cluster: { server: "https://127.0.0.1:${port}" } }]
users: [{ name: u, user: { token: t } }]
contexts: [{ name: x, context: { cluster: c, user: u } }]
current-context: x
`);
  const r = await runToExit(['serve', '--kubeconfig', path, '--port', '0', '--tenants', 'none']);
  assert.equal(r.code, 1);
  assertOneLine(r.stderr, new RegExp(`^crdgate: cannot reach the Kubernetes API at https://127\\.0\\.0\\.1:${port}: ECONNREFUSED; check that the cluster is running`));
});

test('a kubeconfig without the cluster\'s CA: one line that points at the certificate, not at a cluster that is down', async () => {
  const path = join(scratch, 'no-ca.yaml');
  writeFileSync(path, readFileSync(testCluster().kubeconfig, 'utf8').split('\n').filter((l) => !l.includes('certificate-authority')).join('\n'));
  const r = await runToExit(['serve', '--kubeconfig', path, '--port', '0', '--tenants', 'none']);
  assert.equal(r.code, 1);
  assertOneLine(r.stderr, /^crdgate: cannot reach the Kubernetes API at https:\/\/127\.0\.0\.1:\d+: [A-Z_]+; the API server answered, but its certificate failed the TLS check: check the kubeconfig's certificate-authority \(or certificate-authority-data\) and tls-server-name, and the certificate's dates$/);
});

test('a Redis that refuses the URL\'s credentials: one line without the password, exit code 2', async () => {
  const redis = await startRedis();
  try {
    // Ask for a password from now on, as a Redis with requirepass (or an ACL user) does.
    await new Promise<void>((resolve, reject) => {
      const socket = connectTcp(redis.port, '127.0.0.1', () => socket.write('CONFIG SET requirepass s3cret-pw\r\n'));
      socket.once('data', (d) => {
        socket.end();
        if (String(d).startsWith('+OK')) resolve();
        else reject(new Error(String(d)));
      });
      socket.once('error', reject);
    });
    for (const url of [redis.url, `redis://:not-it@127.0.0.1:${redis.port}/3`]) {
      const r = await runToExit(['serve', '--kubeconfig', testCluster().kubeconfig, '--port', '0', '--metrics-port', '0', '--tenants', 'none', '--redis-url', url]);
      assert.equal(r.code, 2, r.stderr);
      assertOneLine(r.stderr, new RegExp(`^crdgate: Redis at redis://127\\.0\\.0\\.1:${redis.port}(/3)? refused crdgate's credentials \\((NOAUTH|WRONGPASS) [^)]*\\); fix the user and password of --redis-url \\(CRDGATE_REDIS_URL\\)$`));
      assert.doesNotMatch(r.stderr + r.stdout, /not-it|s3cret-pw/);
    }
  } finally {
    await redis.dispose();
  }
});

test('a Redis database the server does not have: one line, exit code 2 (not served from database 0)', async () => {
  const redis = await startRedis();
  try {
    const r = await runToExit(['serve', '--kubeconfig', testCluster().kubeconfig, '--port', '0', '--metrics-port', '0', '--tenants', 'none', '--redis-url', `${redis.url}/99`]);
    assert.equal(r.code, 2, r.stderr);
    assertOneLine(r.stderr, new RegExp(`^crdgate: Redis at redis://127\\.0\\.0\\.1:${redis.port}/99 has no such database \\(ERR [^)]*DB index[^)]*\\); use one of its databases in the path of --redis-url \\(CRDGATE_REDIS_URL\\)$`));
  } finally {
    await redis.dispose();
  }
});

test('SIGTERM while the start waits for the CRD list: stops at once, exit 0, no error line', async () => {
  // A user that may not list CRDs: the catalog retries for up to 30 s before the start fails.
  const info = testCluster();
  const carol = info.users.find((u) => u.name === 'carol')!;
  const path = join(scratch, 'carol.yaml');
  writeFileSync(path, `apiVersion: v1
kind: Config
clusters: [{ name: c, cluster: { server: "${info.server}", certificate-authority: "${info.caFile}" } }]
users: [{ name: carol, user: { token: "${carol.token}" } }]
contexts: [{ name: x, context: { cluster: c, user: carol } }]
current-context: x
`);
  const p = spawn(process.execPath, [bin, 'serve', '--kubeconfig', path, '--port', '0', '--metrics-port', '0', '--tenants', 'none', '--log-format', 'json'], {
    env: { PATH: process.env.PATH, HOME: scratch }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  p.stdout.on('data', (d) => (stdout += d));
  p.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => p.on('exit', resolve));
  try {
    await pollUntil('the catalog to retry the forbidden CRD list', () => stdout.includes('watching CRDs failed'), { timeoutMs: 20_000 });
    const signalled = performance.now();
    p.kill('SIGTERM');
    const code = await exited;
    assert.equal(code, 0, stderr);
    assert.ok(performance.now() - signalled < 5_000, `exited ${Math.round(performance.now() - signalled)} ms after SIGTERM`);
    assert.equal(stderr, '', 'no start-up error: the stop was asked for');
  } finally {
    p.kill('SIGKILL');
  }
});

test('a kubeconfig without a tenants file: refused in one line, exit code 2, before any cluster call', async () => {
  for (const env of [{}, { CRDGATE_TENANTS: '' }]) {
    const r = await runToExit(['serve', '--kubeconfig', testCluster().kubeconfig, '--port', '0'], env);
    assert.equal(r.code, 2, r.stderr);
    assertOneLine(r.stderr, /^crdgate: no tenants file: pass --tenants FILE to authenticate callers, or --tenants none to let every caller act as the gateway's own Kubernetes identity$/);
    assert.doesNotMatch(r.stdout, /GraphQL API at/);
  }
});

test('a port in use: one line, non-zero exit, before any cluster work', async () => {
  const blocker = createServer().listen(0, '127.0.0.1');
  await new Promise((r) => blocker.once('listening', r));
  const port = (blocker.address() as { port: number }).port;
  try {
    const r = await runToExit(['serve', '--port', String(port), '--kubeconfig', testCluster().kubeconfig]);
    assert.equal(r.code, 1);
    assertOneLine(r.stderr, new RegExp(`^crdgate: port ${port} on 127\\.0\\.0\\.1 is already in use; `));
  } finally {
    blocker.close();
  }
});

test('the metrics port set to the API port: one line, exit code 2, before any cluster call', async () => {
  const r = await runToExit(['serve', '--port', '47123', '--metrics-port', '47123', '--host', '0.0.0.0', '--kubeconfig', join(scratch, 'no-cluster.yaml')]);
  assert.equal(r.code, 2, r.stderr);
  assertOneLine(r.stderr, /^crdgate: metrics-port 47123 is also the API port \(--port\) on an address they share; /);
});

test('an address it cannot listen on, with a port picked at listen time: one line, exit code 2', async () => {
  // --port 0 skips the early port check: the listen itself fails, after the cluster is connected.
  const r = await runToExit(['serve', '--port', '0', '--metrics-port', '0', '--host', 'no-such-host.invalid', '--kubeconfig', testCluster().kubeconfig, '--tenants', 'none']);
  assert.equal(r.code, 2);
  assertOneLine(r.stderr, /^crdgate: cannot listen on no-such-host\.invalid:0: getaddrinfo ENOTFOUND no-such-host\.invalid$/);
});

test('no Go toolchain for the local cluster: one line, non-zero exit', async () => {
  const r = await runToExit(['serve', '--local-cluster', 'always', '--port', '0', '--state-dir', join(scratch, 'state')], { GO: join(scratch, 'no-go-here') });
  assert.equal(r.code, 1);
  assertOneLine(r.stderr, /^crdgate: the Go toolchain .* was not found; install Go, or point crdgate at an existing cluster with KUBECONFIG$/);
});

test('invalid settings: one line each, exit code 2', async () => {
  const r = await runToExit(['serve', '--port', 'eighty'], { CRDGATE_LOCAL_CLUSTER: 'sometimes' });
  assert.equal(r.code, 2);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 2, r.stderr);
  assert.match(r.stderr, /port from flag: "eighty"/);
  assert.match(r.stderr, /local-cluster from CRDGATE_LOCAL_CLUSTER: "sometimes"/);
});

test('crdgate --help and crdgate serve --help list every flag, grouped as in the README; exit 0', async () => {
  for (const args of [['--help'], ['serve', '--help'], ['help'], ['serve', '-h']]) {
    const r = await runToExit(args);
    assert.equal(r.code, 0, args.join(' '));
    assert.equal(r.stderr, '');
    assert.equal(r.stdout, configHelp, `${args.join(' ')} prints the help rendered from the flag table`);
  }
  for (const name of flagNames) assert.match(configHelp, new RegExp(`^  --${name}\\b`, 'm'));
  for (const g of flagGroups) assert.ok(configHelp.includes(`  ${g.title}:`));
});

test('an unknown flag or command names the nearest one, in one line, exit code 2', async () => {
  const flagTypo = await runToExit(['serve', '--max-dept', '3']);
  assert.equal(flagTypo.code, 2);
  assertOneLine(flagTypo.stderr, /^crdgate: unknown flag --max-dept; did you mean --max-depth\? \(see crdgate --help\)$/);
  const commandTypo = await runToExit(['serv']);
  assert.equal(commandTypo.code, 2);
  assertOneLine(commandTypo.stderr, /^crdgate: unknown command "serv"; did you mean serve\? Commands: /);
});

test('--tenants none on an address other than loopback: a warning line; on loopback: none', async () => {
  for (const [host, warned] of [['0.0.0.0', true], ['127.0.0.1', false]] as const) {
    const p = spawn(process.execPath, [bin, 'serve', '--port', '0', '--host', host, '--metrics-port', '0', '--tenants', 'none', '--kubeconfig', testCluster().kubeconfig], {
      env: { PATH: process.env.PATH, HOME: scratch },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((r) => p.on('exit', (code) => r(code)));
    try {
      const lines: string[] = [];
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no listening line within 30 s: ${lines.join('\n')}`)), 30_000);
        createInterface({ input: p.stdout }).on('line', (line) => {
          lines.push(line);
          if (/GraphQL API at/.test(line)) {
            clearTimeout(timer);
            resolve();
          }
        });
        void exited.then((code) => reject(new Error(`crdgate exited with ${code}`)));
      });
      const warnings = lines.map((l) => JSON.parse(l) as { level: string; msg: string }).filter((l) => l.level === 'warn');
      if (warned) {
        assert.equal(warnings.length, 1, lines.join('\n'));
        assert.match(warnings[0]!.msg, /^authentication is off \(--tenants none\) and the gateway listens on 0\.0\.0\.0: anyone who reaches it acts as the gateway's own Kubernetes identity$/);
      } else {
        assert.deepEqual(warnings, [], lines.join('\n'));
      }
      p.kill('SIGINT');
      assert.equal(await exited, 0);
    } finally {
      p.kill('SIGKILL');
    }
  }
});

test('serves /healthz, /readyz and the apiResources query on the real cluster, CORS for --cors-origins, and stops on SIGINT', async () => {
  const page = 'https://app.example.com';
  const p = spawn(process.execPath, [bin, 'serve', '--port', '0', '--tenants', 'none', '--kubeconfig', testCluster().kubeconfig, '--cors-origins', page], {
    env: { PATH: process.env.PATH, HOME: scratch },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  p.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((r) => p.on('exit', (code) => r(code)));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no listening line within 30 s; stderr: ${stderr}`)), 30_000);
      createInterface({ input: p.stdout }).on('line', (line) => {
        const m = /GraphQL API at (http:\/\/\S+)\/graphql/.exec(line);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
      void exited.then((code) => reject(new Error(`crdgate exited with ${code}: ${stderr}`)));
    });
    assert.deepEqual(await (await fetch(`${url}/healthz`)).json(), { status: 'ok' });
    const ready = await fetch(`${url}/readyz`);
    assert.equal(ready.status, 200);
    const res = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ apiResources { crdName group kind plural namespaced defaultVersion shortNames versions { name served storage } } }' }),
    });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { data: { apiResources: Record<string, unknown>[] } };
    const crontab = body.data.apiResources.find((r) => r.crdName === 'crontabs.stable.example.com');
    assert.deepEqual(crontab, {
      crdName: 'crontabs.stable.example.com', group: 'stable.example.com', kind: 'CronTab', plural: 'crontabs',
      namespaced: true, defaultVersion: 'v1', shortNames: ['ct'],
      versions: [{ name: 'v1', served: true, storage: true }, { name: 'v2', served: true, storage: false }],
    });
    await assertCrossOrigin(url, page);
    p.kill('SIGINT');
    assert.equal(await exited, 0);
  } finally {
    p.kill('SIGKILL');
  }
});

/** What a browser page of an allowed origin gets from a running gateway: preflights, the OpenAPI document, an SSE watch. */
async function assertCrossOrigin(url: string, page: string): Promise<void> {
  const watchPath = '/rest/stable.example.com/v1/crontabs?watch=true';
  for (const [path, method] of [['/graphql', 'POST'], [watchPath, 'GET'], ['/rest/stable.example.com/v1/namespaces/default/crontabs/x', 'PATCH']] as const) {
    const pre = await fetch(`${url}${path}`, {
      method: 'OPTIONS', headers: { origin: page, 'access-control-request-method': method, 'access-control-request-headers': 'authorization,content-type' },
    });
    assert.equal(pre.status, 204, `${method} ${path}`);
    assert.equal(pre.headers.get('access-control-allow-origin'), page, `${method} ${path}`);
  }
  const doc = await fetch(`${url}/openapi.json`, { headers: { origin: page } });
  assert.equal(doc.status, 200);
  assert.equal(doc.headers.get('access-control-allow-origin'), page);
  await doc.arrayBuffer();
  const stream = new AbortController();
  const watch = await fetch(`${url}${watchPath}`, { headers: { origin: page, accept: 'text/event-stream' }, signal: stream.signal });
  assert.equal(watch.headers.get('content-type')?.split(';')[0], 'text/event-stream');
  assert.equal(watch.headers.get('access-control-allow-origin'), page);
  stream.abort();
  const other = await fetch(`${url}/openapi.json`, { headers: { origin: 'https://other.example' } });
  assert.equal(other.status, 200);
  assert.equal(other.headers.get('access-control-allow-origin'), null);
  await other.arrayBuffer();
}
