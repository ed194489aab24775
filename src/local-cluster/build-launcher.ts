// Builds the local control plane (kube-apiserver + etcd + kube-controller-manager + kubectl in one
// binary) from the Go module in test/cluster. Go's build cache makes a rebuild with no change take
// seconds, so this runs before every test run and every local `npm start`.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, lstatSync, unlinkSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CrdgateError } from '../errors.ts';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const launcherModuleDir = join(repoRoot, 'test', 'cluster');
export const launcherBinDir = join(launcherModuleDir, 'bin');
export const launcherPath = join(launcherBinDir, 'crdgate-cluster');
export const kubectlPath = join(launcherBinDir, 'kubectl');

/** The Kubernetes release the launcher is built from, read from its go.mod. */
export function kubernetesVersion(): string {
  const gomod = readFileSync(join(launcherModuleDir, 'go.mod'), 'utf8');
  const m = /^\s*k8s\.io\/kubernetes\s+(v\d+\.\d+\.\d+)\s*$/m.exec(gomod);
  if (!m?.[1]) throw new CrdgateError('LOCAL_CLUSTER_BUILD', 'test/cluster/go.mod does not require k8s.io/kubernetes');
  return m[1];
}

export interface BuildResult {
  binary: string;
  kubectl: string;
  seconds: number;
}

export async function buildLauncher(opts: { log?: (line: string) => void } = {}): Promise<BuildResult> {
  const log = opts.log ?? (() => {});
  const go = await findGo();
  const version = kubernetesVersion();
  const [, major, minor] = /^v(\d+)\.(\d+)/.exec(version) ?? [];
  // /version must report the real release: component-base and client-go read these at link time.
  const ldflags = ['-s', '-w'];
  for (const pkg of ['k8s.io/component-base/version', 'k8s.io/client-go/pkg/version']) {
    ldflags.push(`-X ${pkg}.gitVersion=${version}`, `-X ${pkg}.gitMajor=${major}`, `-X ${pkg}.gitMinor=${minor}`,
      `-X ${pkg}.gitTreeState=clean`);
  }
  mkdirSync(launcherBinDir, { recursive: true });
  const started = performance.now();
  log(`building the local control plane (Kubernetes ${version}) with ${go}; the first build takes several minutes`);
  await run(go, ['build', '-trimpath', '-ldflags', ldflags.join(' '), '-o', launcherPath, '.'], {
    cwd: launcherModuleDir,
    // The module's go.mod names the language version it needs; never let the go command fetch
    // another toolchain behind the user's back.
    env: { ...process.env, GOTOOLCHAIN: process.env.GOTOOLCHAIN ?? 'local', GOFLAGS: process.env.GOFLAGS ?? '-buildvcs=false' },
  });
  ensureKubectlLink();
  return { binary: launcherPath, kubectl: kubectlPath, seconds: (performance.now() - started) / 1000 };
}

// kubectl is the same binary: it dispatches on argv[0].
function ensureKubectlLink(): void {
  try {
    if (lstatSync(kubectlPath).isSymbolicLink()) return;
    unlinkSync(kubectlPath);
  } catch {
    // absent: create it below
  }
  symlinkSync('crdgate-cluster', kubectlPath);
}

export async function findGo(): Promise<string> {
  // GO names the toolchain explicitly; otherwise PATH, then Go's default install location.
  const candidates = process.env.GO ? [process.env.GO] : ['go', '/usr/local/go/bin/go'];
  for (const c of candidates) {
    if (c.includes('/') ? existsSync(c) : await commandExists(c)) return c;
  }
  throw new CrdgateError('LOCAL_CLUSTER_BUILD',
    'the Go toolchain (go 1.26 or newer) is needed to build the local Kubernetes control plane, and `go` was not found; install Go, or point crdgate at an existing cluster with KUBECONFIG');
}

function commandExists(cmd: string): Promise<boolean> {
  return new Promise((resolveExists) => {
    const p = spawn(cmd, ['version'], { stdio: 'ignore' });
    p.on('error', () => resolveExists(false));
    p.on('exit', (code) => resolveExists(code === 0));
  });
}

function run(cmd: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv }): Promise<void> {
  return new Promise((resolveRun, reject) => {
    const p = spawn(cmd, args, { ...opts, stdio: ['ignore', 'inherit', 'pipe'] });
    let errText = '';
    p.stderr.on('data', (d: Buffer) => {
      errText += d.toString();
      if (errText.length > 64_000) errText = errText.slice(-32_000);
    });
    p.on('error', (err) => reject(new CrdgateError('LOCAL_CLUSTER_BUILD', `cannot run ${cmd}: ${err.message}`)));
    p.on('exit', (code) => {
      if (code === 0) resolveRun();
      else reject(new CrdgateError('LOCAL_CLUSTER_BUILD', `building the local control plane failed (go build exited ${code}):\n${errText.trim().split('\n').slice(-15).join('\n')}`));
    });
  });
}
