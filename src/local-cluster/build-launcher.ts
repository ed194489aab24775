// Builds the local control plane (kube-apiserver + etcd + kube-controller-manager + kubectl in one
// binary) from the Go module in test/cluster. Go's build cache makes a rebuild with no change take
// seconds, so this runs before every test run and every local `npm start`.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, lstatSync, unlinkSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { CrdgateError } from '../errors.ts';
import { BuildProgress } from './build-progress.ts';
import { showProgress, type DisplayOptions, type ProgressTarget } from './progress-display.ts';

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

export interface BuildOptions {
  /** Messages (what is built, with what). */
  log?: (line: string) => void;
  /** Where progress shows while the build runs; default: lines through log. */
  progress?: ProgressTarget;
  /** Injected for tests of the display; real time otherwise. */
  display?: DisplayOptions;
}

export async function buildLauncher(opts: BuildOptions = {}): Promise<BuildResult> {
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
  const env = goEnv();
  log(`building the local control plane (Kubernetes ${version}) with ${go}; the first build takes several minutes`);
  const progress = new BuildProgress(() => performance.now(), await missingModules(go, env));
  const display = showProgress(() => progress.status(), opts.progress ?? { lines: log }, opts.display);
  try {
    await compile(go, env, ['-trimpath', '-ldflags', ldflags.join(' '), '-o', launcherPath, '.'], progress);
  } finally {
    display.stop();
  }
  progress.finish();
  ensureKubectlLink();
  return { binary: launcherPath, kubectl: kubectlPath, seconds: (performance.now() - started) / 1000 };
}

function goEnv(): NodeJS.ProcessEnv {
  // The module's go.mod names the language version it needs; never let the go command fetch
  // another toolchain behind the user's back.
  return { ...process.env, GOTOOLCHAIN: process.env.GOTOOLCHAIN ?? 'local', GOFLAGS: process.env.GOFLAGS ?? '-buildvcs=false' };
}

/**
 * Downloads the modules first (its own phase, with its own count), then builds. `go build -n`
 * with the same flags runs beside the build only to count the packages it will compile: its
 * failure costs the bar its total, never the build.
 */
async function compile(go: string, env: NodeJS.ProcessEnv, buildArgs: string[], progress: BuildProgress): Promise<void> {
  const cwd = launcherModuleDir;
  await run(go, ['mod', 'download', '-x'], { cwd, env, onStderr: (l) => progress.downloadLine(l) }).catch((err: unknown) => {
    throw new CrdgateError('LOCAL_CLUSTER_BUILD', `downloading the Go modules of the local control plane failed; check the network and GOPROXY:\n${tail((err as RunFailure).stderr.filter((l) => !l.startsWith('# get ')))}`);
  });
  progress.startCompiling();
  const plan = spawnLines(go, ['build', '-n', ...buildArgs], { cwd, env, onStderr: (l) => progress.planLine(l) });
  void plan.done.then(() => progress.planDone(), () => {});
  try {
    await run(go, ['build', '-v', '-json', ...buildArgs], { cwd, env, onStdout: (l) => progress.buildLine(l) });
  } catch (err) {
    const stderr = (err as RunFailure).stderr ?? [];
    throw new CrdgateError('LOCAL_CLUSTER_BUILD', `building the local control plane failed (${(err as Error).message}):\n${tail([...progress.diagnostics().split('\n'), ...stderr])}`);
  } finally {
    plan.kill();
  }
}

const tail = (lines: string[]) => lines.filter((l) => l.trim()).slice(-15).join('\n');

/**
 * How many required modules (go.mod's require list, after its replace directives: what `go mod
 * download` fetches) are not in the module cache yet. Unknown counts as 0: the phase then shows no
 * total, and the download runs all the same.
 */
async function missingModules(go: string, env: NodeJS.ProcessEnv): Promise<number> {
  try {
    const [editJson, modcache] = await Promise.all([
      output(go, ['mod', 'edit', '-json'], env),
      output(go, ['env', 'GOMODCACHE'], env),
    ]);
    return moduleZips(JSON.parse(editJson) as GoModJson).filter((zip) => !existsSync(join(modcache.trim(), 'cache', 'download', zip))).length;
  } catch {
    return 0;
  }
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

interface GoModJson {
  Require?: { Path: string; Version: string }[];
  Replace?: { Old: { Path: string; Version?: string }; New: { Path: string; Version?: string } }[];
}

/** The module cache's zip path (below cache/download) of each module go.mod requires; replaced by a directory: none. */
export function moduleZips(gomod: GoModJson): string[] {
  const zips: string[] = [];
  for (const req of gomod.Require ?? []) {
    const rep = gomod.Replace?.find((r) => r.Old.Path === req.Path && (!r.Old.Version || r.Old.Version === req.Version));
    const mod = rep ? rep.New : req;
    if (!mod.Version) continue;
    zips.push(`${escapeModulePath(mod.Path)}/@v/${escapeModulePath(mod.Version)}.zip`);
  }
  return zips;
}

// The module cache spells capitals as "!" and the lower-case letter (golang.org/x/mod/module.EscapePath).
const escapeModulePath = (p: string) => p.replace(/[A-Z]/g, (c) => `!${c.toLowerCase()}`);

interface RunFailure extends Error {
  stderr: string[];
}

interface RunOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  onStdout?: (line: string) => void;
  onStderr?: (line: string) => void;
}

/** Runs a command, handing over its output line by line; the last stderr lines go into a failure. */
function spawnLines(cmd: string, args: string[], opts: RunOptions): { done: Promise<void>; kill(): void } {
  const p = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const stderr: string[] = [];
  createInterface({ input: p.stdout }).on('line', (l) => opts.onStdout?.(l));
  createInterface({ input: p.stderr }).on('line', (l) => {
    opts.onStderr?.(l);
    stderr.push(l);
    if (stderr.length > 400) stderr.splice(0, 200);
  });
  const done = new Promise<void>((resolveRun, reject) => {
    p.on('error', (err) => reject(Object.assign(new Error(`cannot run ${cmd}: ${err.message}`), { stderr })));
    p.on('close', (code) => {
      if (code === 0) resolveRun();
      else reject(Object.assign(new Error(`${cmd} ${args[0]} exited ${code}`), { stderr }));
    });
  });
  return { done, kill: () => p.kill() };
}

const run = (cmd: string, args: string[], opts: RunOptions) => spawnLines(cmd, args, opts).done;

async function output(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  let out = '';
  await run(cmd, args, { cwd: launcherModuleDir, env, onStdout: (l) => (out += `${l}\n`) });
  return out;
}
