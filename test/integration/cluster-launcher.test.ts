// The local control plane launcher itself (test/cluster), started here as a second cluster beside
// the one the test run shares: readiness, persistence across restarts, a clean shutdown that leaves
// no process or scratch directory behind, and its two ways of refusing or ending a run.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { KubeClient } from '../../src/kube/kube-client.ts';
import { kubernetesVersion, launcherPath } from '../../src/local-cluster/build-launcher.ts';
import { launchCluster, type ClusterInfo, type LocalCluster } from '../../src/local-cluster/launch-cluster.ts';
import { pollUntil } from '../helpers/poll-until.ts';
import { freePort } from '../helpers/free-port.ts';

/** A process that exists and is not a zombie waiting to be reaped. */
function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** The pids whose parent is pid, with their command lines. */
function childrenOf(pid: number): { pid: number; cmdline: string }[] {
  const out: { pid: number; cmdline: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push({ pid: Number(entry), cmdline: readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ') });
    } catch {
      // the process ended while we looked
    }
  }
  return out;
}

async function controllerManagerOf(launcherPid: number): Promise<number> {
  const child = await pollUntil('the kube-controller-manager child of the launcher', () =>
    childrenOf(launcherPid).find((c) => c.cmdline.includes(' controller-manager ')), { timeoutMs: 10_000 });
  return child.pid;
}


const scratchDirs = (dir: string) => readdirSync(dir).filter((f) => f.startsWith('crdgate-cluster-run-'));

function exitOf(child: ChildProcess, timeoutMs: number): Promise<number | null> {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    const timer = setTimeout(() => reject(new Error(`the launcher did not exit within ${timeoutMs} ms`)), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

const release = () => kubernetesVersion();

describe('the local control plane launcher', () => {
  let root = '';
  let scratchParent = '';
  let dataDir = '';
  let port = 0;
  const clusters: LocalCluster[] = [];
  const children: ChildProcess[] = [];

  /** Launches with TMPDIR pointing at a directory of our own, so the scratch dir it makes is ours to find. */
  async function launch(): Promise<LocalCluster> {
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = scratchParent;
    try {
      const cluster = await launchCluster({ dataDir, logFile: join(root, 'cluster.log'), port, readyTimeoutMs: 60_000 });
      clusters.push(cluster);
      return cluster;
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
    }
  }

  function runLauncher(args: string[], name: string): ChildProcess {
    const tmp = join(root, `${name}-tmp`);
    mkdirSync(tmp, { recursive: true });
    const child = spawn(launcherPath, ['--data-dir', join(root, name), '--log-file', join(root, `${name}.log`), ...args], {
      env: { ...process.env, TMPDIR: tmp },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    children.push(child);
    return child;
  }

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'crdgate-launcher-test-'));
    scratchParent = join(root, 'tmp');
    mkdirSync(scratchParent);
    dataDir = join(root, 'data');
    port = await freePort();
  });

  after(async () => {
    await Promise.all(clusters.map((c) => c.stop(5_000)));
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(root, { recursive: true, force: true });
  });

  // One launch, its stop and a restart on the same data dir: the steps need each other's state,
  // so they are steps of one test (a failed step ends it) rather than tests that rely on their order.
  it('a launch, its stop, and a restart that keeps what the first launch stored', async (t) => {
    let firstInfo: ClusterInfo | undefined;
    let firstKc: KubeConfig | undefined;
    let survivorUid = '';

    await t.test('becomes ready on the requested port and /version reports the release it was built from', async () => {
      const cluster = await launch();
      firstInfo = cluster.info;
      assert.equal(cluster.info.server, `https://127.0.0.1:${port}`);
      assert.equal(cluster.info.version.split(' ')[1], release());

      firstKc = new KubeConfig();
      firstKc.loadFromFile(cluster.info.kubeconfig);
      const version = await new KubeClient(firstKc).request<{ gitVersion: string; major: string; minor: string }>('GET', '/version');
      assert.equal(version.gitVersion, release());
      assert.equal(`v${version.major}.${version.minor}`, release().replace(/\.\d+$/, ''));

      const created = await firstKc.makeApiClient(CoreV1Api).createNamespacedConfigMap({
        namespace: 'default',
        body: { metadata: { name: 'survivor' }, data: { written: 'before the restart' } },
      });
      survivorUid = created.metadata!.uid!;
    });

    await t.test('stop() ends the launcher and its controller-manager and removes its scratch dir', async () => {
      const cluster = clusters.at(-1)!;
      const pid = cluster.info.pid;
      assert.ok(isRunning(pid), `launcher ${pid} should be running`);
      const kcm = await controllerManagerOf(pid);
      assert.ok(isRunning(kcm));
      assert.equal(scratchDirs(scratchParent).length, 1, `one scratch dir in ${scratchParent}`);

      await cluster.stop();
      assert.equal(await cluster.exited, 0);
      assert.equal(isRunning(pid), false, `launcher ${pid} is still running`);
      // The launcher waits for its controller-manager before it exits, so nothing is left to poll for.
      assert.equal(isRunning(kcm), false, `controller-manager ${kcm} is still running`);
      assert.deepEqual(scratchDirs(scratchParent), []);
    });

    await t.test('keeps objects across a restart on the same data dir and port, and the kubeconfig\'s CA still verifies', async () => {
      assert.ok(firstInfo && firstKc && survivorUid);
      const caBefore = readFileSync(firstInfo.caFile, 'utf8');
      const cluster = await launch();
      assert.equal(cluster.info.server, firstInfo.server);
      assert.equal(cluster.info.adminToken, firstInfo.adminToken);
      assert.equal(readFileSync(cluster.info.caFile, 'utf8'), caBefore);

      // The kubeconfig loaded before the restart (its CA, its token) still verifies the new server.
      const kept = await firstKc.makeApiClient(CoreV1Api).readNamespacedConfigMap({ namespace: 'default', name: 'survivor' });
      assert.equal(kept.metadata?.uid, survivorUid);
      assert.deepEqual(kept.data, { written: 'before the restart' });
      // And so does the kubeconfig the restarted launcher wrote.
      const kc = new KubeConfig();
      kc.loadFromFile(cluster.info.kubeconfig);
      const again = await kc.makeApiClient(CoreV1Api).readNamespacedConfigMap({ namespace: 'default', name: 'survivor' });
      assert.equal(again.metadata?.uid, survivorUid);

      await cluster.stop();
      assert.equal(await cluster.exited, 0);
      assert.equal(isRunning(cluster.info.pid), false);
      assert.deepEqual(scratchDirs(scratchParent), []);
    });
  });

  it('exits non-zero with one line on stderr when --port is in use', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const busy = (blocker.address() as AddressInfo).port;
    try {
      const child = runLauncher(['--port', String(busy)], 'busy');
      let stderr = '';
      let stdout = '';
      child.stderr!.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      child.stdout!.on('data', (d: Buffer) => {
        stdout += d.toString();
      });
      const code = await exitOf(child, 30_000);
      assert.notEqual(code, 0);
      assert.equal(code, 2);
      const lines = stderr.trimEnd().split('\n');
      assert.equal(lines.length, 1, `stderr: ${stderr}`);
      assert.match(lines[0]!, new RegExp(`^crdgate-cluster: port ${busy} on 127\\.0\\.0\\.1 is in use`));
      assert.equal(stdout, '');
      assert.deepEqual(scratchDirs(join(root, 'busy-tmp')), []);
    } finally {
      blocker.close();
    }
  });

  it('shuts down cleanly when its standard input closes (--exit-on-stdin-close)', async () => {
    const child = runLauncher(['--exit-on-stdin-close'], 'stdin');
    const ready = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the launcher was not ready within 60 s')), 60_000);
      createInterface({ input: child.stdout! }).on('line', (line) => {
        const m = /ready at (https:\/\/\S+) \(kubeconfig (.+)\)$/.exec(line);
        if (m) {
          clearTimeout(timer);
          resolve(m[2]!);
        }
      });
      child.on('exit', (code) => reject(new Error(`the launcher exited (${code}) before it was ready`)));
    });
    const info = JSON.parse(readFileSync(join(ready, '..', 'cluster.json'), 'utf8')) as ClusterInfo;
    assert.equal(info.pid, child.pid);
    const kcm = await controllerManagerOf(info.pid);
    assert.ok(existsSync(join(root, 'stdin-tmp')) && scratchDirs(join(root, 'stdin-tmp')).length === 1);

    child.stdin!.end();
    assert.equal(await exitOf(child, 30_000), 0);
    assert.equal(isRunning(kcm), false, `controller-manager ${kcm} is still running`);
    assert.deepEqual(scratchDirs(join(root, 'stdin-tmp')), []);
  });
});
