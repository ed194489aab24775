// The gateway's kubeconfig must apply exactly what @kubernetes/client-node's KubeConfig applies
// (differentially, on every kind of kubeconfig entry), without loading the package's generated
// API client.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { RequestOptions } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { KubeConfig as ClientNodeKubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { loadFile } from '../../../src/kube/kube-config.ts';
import { KubeClient } from '../../../src/kube/kube-client.ts';
import { KubeConfig } from '../../../src/kube/kubeconfig.ts';

const dir = mkdtempSync(join(tmpdir(), 'crdgate-kubeconfig-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const b64 = (s: string) => Buffer.from(s).toString('base64');

const caFile = file('ca.crt', 'CA FROM FILE');
const certFile = file('client.crt', 'CERT FROM FILE');
const keyFile = file('client.key', 'KEY FROM FILE');
const tokenFile = file('token', 'token-from-file');
const execCount = join(dir, 'exec-count');
// An exec credential plugin (client.authentication.k8s.io): a token, a client certificate and key,
// an expiry in the future (so it is cached), and a count of its runs.
const execPlugin = file('exec-plugin.mjs', `
import { appendFileSync } from 'node:fs';
appendFileSync(${JSON.stringify(execCount)}, 'x');
process.stdout.write(JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential',
  status: { token: 'token-from-exec-' + (process.env.EXEC_SUFFIX ?? ''), clientCertificateData: 'EXEC CERT', clientKeyData: 'EXEC KEY', expirationTimestamp: '2999-01-01T00:00:00Z' } }));
`);
const futureJwt = `${b64('{"alg":"none"}')}.${b64(JSON.stringify({ exp: 32503680000 }))}.sig`;

const clusters = [
  { name: 'ca-data', cluster: { server: 'https://ca-data.example:6443/', 'certificate-authority-data': b64('CA DATA') } },
  { name: 'ca-file', cluster: { server: 'https://ca-file.example:6443', 'certificate-authority': caFile, 'tls-server-name': 'api.internal' } },
  { name: 'insecure', cluster: { server: 'https://insecure.example', 'insecure-skip-tls-verify': true } },
  { name: 'plain-http', cluster: { server: 'http://plain.example:8080', 'insecure-skip-tls-verify': true } },
  { name: 'plain-http-verified', cluster: { server: 'http://plain.example:8080' } },
];
const users = [
  { name: 'token', user: { token: 'static-token' } },
  { name: 'token-file', user: { 'token-file': tokenFile } },
  { name: 'cert-data', user: { 'client-certificate-data': b64('CERT DATA'), 'client-key-data': b64('KEY DATA') } },
  { name: 'cert-files', user: { 'client-certificate': certFile, 'client-key': keyFile } },
  { name: 'basic', user: { username: 'alice', password: 's3cret' } },
  { name: 'impersonating', user: { token: 'admin-token', as: 'bob' } },
  { name: 'exec', user: { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: process.execPath, args: [execPlugin], env: [{ name: 'EXEC_SUFFIX', value: 'env' }] } } },
  { name: 'auth-provider-token-file', user: { 'auth-provider': { name: 'tokenFile', config: { tokenFile } } } },
  { name: 'azure', user: { 'auth-provider': { name: 'azure', config: { 'access-token': 'azure-token', expiry: '2999-01-01T00:00:00Z' } } } },
  { name: 'gcp', user: { 'auth-provider': { name: 'gcp', config: { 'access-token': 'gcp-token', expiry: '2999-01-01T00:00:00Z' } } } },
  { name: 'oidc', user: { 'auth-provider': { name: 'oidc', config: { 'id-token': futureJwt, 'client-id': 'crdgate' } } } },
  { name: 'nothing', user: {} },
];
const contexts = clusters.flatMap((c) => users.map((u) => ({ name: `${c.name}/${u.name}`, context: { cluster: c.name, user: u.name, namespace: 'ns1' } })));

function kubeconfigText(currentContext: string): string {
  return stringify({ apiVersion: 'v1', kind: 'Config', clusters, users, contexts, 'current-context': currentContext });
}

/** What each applies, as plain data (the agent client-node also sets is the caller's business). */
async function applied(kc: { applyToHTTPSOptions(o: RequestOptions): Promise<void> }): Promise<unknown> {
  const o: RequestOptions = {};
  try {
    await kc.applyToHTTPSOptions(o);
  } catch (err) {
    return { error: (err as Error).message };
  }
  const { agent: _, ...rest } = o;
  const plain = (v: unknown) => (Buffer.isBuffer(v) ? `buffer:${v.toString()}` : v);
  return Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined).map(([k, v]) => [k, plain(v)]));
}

describe('kubeconfig', () => {
  for (const { name } of contexts) {
    it(`applies what client-node applies: ${name}`, async () => {
      const ours = new KubeConfig();
      ours.loadFromString(kubeconfigText(name));
      const theirs = new ClientNodeKubeConfig();
      theirs.loadFromString(kubeconfigText(name));
      assert.equal(ours.getCurrentContext(), theirs.getCurrentContext());
      assert.deepEqual(ours.getCurrentCluster(), theirs.getCurrentCluster());
      assert.deepEqual(ours.getCurrentUser(), theirs.getCurrentUser());
      const expected = await applied(theirs);
      assert.deepEqual(await applied(ours), expected);
      // Applied twice (a refresh after a 401): the same again.
      assert.deepEqual(await applied(ours), await applied(theirs));
    });
  }

  it('sets TLS material and credentials, with nothing left out', async () => {
    const kc = new KubeConfig();
    kc.loadFromString(kubeconfigText('ca-file/cert-files'));
    assert.deepEqual(await applied(kc), { ca: 'buffer:CA FROM FILE', cert: 'buffer:CERT FROM FILE', key: 'buffer:KEY FROM FILE', servername: 'api.internal', headers: {} });
    kc.setCurrentContext('insecure/impersonating');
    assert.deepEqual(await applied(kc), { rejectUnauthorized: false, headers: { 'Impersonate-User': 'bob', Authorization: 'Bearer admin-token' } });
    kc.setCurrentContext('ca-data/basic');
    assert.deepEqual(await applied(kc), { ca: 'buffer:CA DATA', auth: 'alice:s3cret', headers: {} });
    kc.setCurrentContext('ca-data/token-file');
    assert.deepEqual(await applied(kc), { ca: 'buffer:CA DATA', headers: { Authorization: 'Bearer token-from-file' } });
    kc.setCurrentContext('plain-http-verified/token');
    assert.deepEqual(await applied(kc), { error: 'HTTP protocol is not allowed when skipTLSVerify is not set or false' });
  });

  it('runs an exec plugin once while its credential is valid, with its environment', async () => {
    writeFileSync(execCount, '');
    const kc = new KubeConfig();
    kc.loadFromString(kubeconfigText('ca-data/exec'));
    const first = await applied(kc);
    assert.deepEqual(first, { ca: 'buffer:CA DATA', cert: 'EXEC CERT', key: 'EXEC KEY', headers: { Authorization: 'Bearer token-from-exec-env' } });
    assert.deepEqual(await applied(kc), first);
    assert.equal(readFileSync(execCount, 'utf8'), 'x');
  });

  it('reads the in-cluster service account as client-node does', async () => {
    const root = join(dir, 'pod');
    const sa = join(root, 'var/run/secrets/kubernetes.io/serviceaccount');
    mkdirSync(sa, { recursive: true });
    writeFileSync(join(sa, 'token'), 'sa-token');
    writeFileSync(join(sa, 'ca.crt'), 'SA CA');
    writeFileSync(join(sa, 'namespace'), 'apps');
    const saved = { host: process.env['KUBERNETES_SERVICE_HOST'], port: process.env['KUBERNETES_SERVICE_PORT'] };
    try {
      for (const [host, port] of [['10.0.0.1', '443'], ['fd00::1', '6443'], ['kubernetes', '8080']] as const) {
        process.env['KUBERNETES_SERVICE_HOST'] = host;
        process.env['KUBERNETES_SERVICE_PORT'] = port;
        const ours = new KubeConfig();
        ours.loadFromCluster(root);
        const theirs = new ClientNodeKubeConfig();
        theirs.loadFromCluster(root);
        assert.deepEqual(ours.getCurrentCluster(), theirs.getCurrentCluster());
        assert.deepEqual(ours.getContextObject(ours.getCurrentContext()), theirs.getContextObject(theirs.getCurrentContext()));
        assert.deepEqual(await applied(ours), await applied(theirs));
      }
      const kc = new KubeConfig();
      process.env['KUBERNETES_SERVICE_PORT'] = '443';
      kc.loadFromCluster(root);
      assert.equal(kc.getCurrentCluster()?.server, 'https://kubernetes:443');
      assert.deepEqual(await applied(kc), { ca: 'buffer:SA CA', headers: { Authorization: 'Bearer sa-token' } });
    } finally {
      for (const [k, v] of [['KUBERNETES_SERVICE_HOST', saved.host], ['KUBERNETES_SERVICE_PORT', saved.port]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  it('refuses the entries client-node refuses, with its messages', () => {
    const broken = [
      { clusters: [{ cluster: { server: 'https://x' } }] },
      { clusters: [{ name: 'c' }] },
      { clusters: [{ name: 'c', cluster: {} }] },
      { users: [{ user: { token: 't' } }] },
      { contexts: [{ context: { cluster: 'c', user: 'u' } }] },
      { contexts: [{ name: 'x' }] },
    ];
    for (const doc of broken) {
      const text = stringify(doc);
      let theirs: Error | undefined;
      try {
        new ClientNodeKubeConfig().loadFromString(text);
      } catch (err) {
        theirs = err as Error;
      }
      assert.ok(theirs, `client-node refuses ${text}`);
      assert.throws(() => new KubeConfig().loadFromString(text), { message: theirs.message });
    }
  });

  it('is what loadFile returns, with the same refusals of a broken kubeconfig', () => {
    const path = file('config', kubeconfigText('ca-data/token'));
    const kc = loadFile(path);
    assert.ok(kc instanceof KubeConfig);
    assert.equal(new KubeClient(kc).server, 'https://ca-data.example:6443');
    assert.throws(() => loadFile(file('no-context', stringify({ clusters, users, contexts }))), { code: 'KUBECONFIG_INVALID', message: /has no current context/ });
    assert.throws(() => loadFile(file('bad-yaml', 'clusters: [')), { code: 'KUBECONFIG_INVALID', message: /is not valid/ });
    assert.throws(() => loadFile(file('bad-server', stringify({ clusters: [{ name: 'c', cluster: { server: 'not a url' } }], users, contexts: [{ name: 'x', context: { cluster: 'c', user: 'token' } }], 'current-context': 'x' }))),
      { code: 'KUBECONFIG_INVALID', message: /no valid server URL/ });
    // A context whose user is not defined: kubectl refuses it; applied, it would drop the CA with the credentials.
    assert.throws(() => loadFile(file('no-user', stringify({ clusters, users, contexts: [{ name: 'x', context: { cluster: 'ca-data', user: 'nobody' } }], 'current-context': 'x' }))),
      { code: 'KUBECONFIG_INVALID', message: /: context x names the user nobody, which the kubeconfig does not define; fix the context's user$/ });
  });

  it('does not load client-node\'s generated API client into the gateway', () => {
    const probe = file('probe.mjs', `
      import { registerHooks } from 'node:module';
      const loaded = [];
      registerHooks({ resolve(s, c, next) { const r = next(s, c); loaded.push(r.url); return r; } });
      await import(${JSON.stringify(new URL('../../../src/main.ts', import.meta.url).href)});
      const kc = new (await import(${JSON.stringify(new URL('../../../src/kube/kubeconfig.ts', import.meta.url).href)})).KubeConfig();
      kc.loadFromString(${JSON.stringify(kubeconfigText('ca-data/exec'))});
      await kc.applyToHTTPSOptions({});
      console.log(JSON.stringify(loaded.filter((u) => u.includes('@kubernetes/client-node'))));
    `);
    chmodSync(probe, 0o644);
    const run = spawnSync(process.execPath, [probe], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    const loaded = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as string[];
    assert.ok(loaded.some((u) => u.endsWith('/dist/config_types.js')), 'the kubeconfig parsing of client-node is used');
    assert.ok(loaded.some((u) => u.endsWith('/dist/exec_auth.js')), 'the exec authenticator loads when a user needs it');
    assert.deepEqual(loaded.filter((u) => /\/dist\/(index|config|gen\/.*)\.js$/.test(u)), []);
  });
});
