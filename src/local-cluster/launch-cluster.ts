// Starts and stops the local control plane built by build-launcher.ts. Used by `npm start` (a
// persistent state dir) and by the test harness (a temp dir, one cluster per test run).
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { CrdgateError } from '../errors.ts';
import { launcherPath } from './build-launcher.ts';

export interface ClusterUser {
  name: string;
  token: string;
  groups: string[] | null;
}

/** What the launcher writes to cluster.json beside the kubeconfig. */
export interface ClusterInfo {
  server: string;
  caFile: string;
  kubeconfig: string;
  adminToken: string;
  users: ClusterUser[];
  version: string;
  pid: number;
}

export interface LocalCluster {
  info: ClusterInfo;
  infoPath: string;
  logFile: string;
  /** Resolves when the launcher has exited, with its exit code. */
  exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL after the grace period. Safe to call more than once. */
  stop(graceMs?: number): Promise<void>;
}

export interface LaunchOptions {
  dataDir: string;
  logFile: string;
  port?: number;
  readyTimeoutMs?: number;
  extraApiServerFlags?: string[];
}

const readyLine = /ready at (https:\/\/\S+) \(kubeconfig (.+)\)$/;

// The launcher picks a free port and kube-apiserver binds it seconds later; on a busy machine
// another process can take the port in between. With no port asked for, try again on a new one.
const portRaceAttempts = 3;

export async function launchCluster(opts: LaunchOptions): Promise<LocalCluster> {
  for (let attempt = 1; ; attempt++) {
    const logStart = fileSize(opts.logFile);
    try {
      return await launchOnce(opts);
    } catch (err) {
      if (opts.port || attempt >= portRaceAttempts || !lostPortRace(opts.logFile, logStart)) throw err;
    }
  }
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/** Whether the log written since `from` shows kube-apiserver losing its port to another process. */
export function lostPortRace(logFile: string, from: number): boolean {
  let log: Buffer;
  try {
    log = readFileSync(logFile);
  } catch {
    return false;
  }
  return /bind: address already in use/.test(log.subarray(from).toString());
}

async function launchOnce(opts: LaunchOptions): Promise<LocalCluster> {
  const args = ['--data-dir', opts.dataDir, '--log-file', opts.logFile, '--exit-on-stdin-close'];
  if (opts.port) args.push('--port', String(opts.port));
  if (opts.extraApiServerFlags?.length) args.push('--', ...opts.extraApiServerFlags);
  // stdin stays an open pipe: when this process dies, the pipe closes and the launcher shuts
  // itself down, so a killed test run leaves no apiserver behind.
  const child = spawn(launcherPath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolveExit) => {
    child.on('exit', (code) => resolveExit(code));
    child.on('error', () => resolveExit(null));
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const stop = stopper(child, exited);

  const timeoutMs = opts.readyTimeoutMs ?? 180_000;
  const kubeconfig = await new Promise<string>((resolveReady, reject) => {
    const timer = setTimeout(() => {
      reject(new CrdgateError('LOCAL_CLUSTER_START', `the local control plane was not ready within ${timeoutMs / 1000}s; see ${opts.logFile}`));
    }, timeoutMs);
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      const m = readyLine.exec(line);
      if (m?.[2]) {
        clearTimeout(timer);
        resolveReady(m[2]);
      }
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new CrdgateError('LOCAL_CLUSTER_START', `cannot run the local control plane (${launcherPath}): ${err.message}`));
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new CrdgateError('LOCAL_CLUSTER_START', `the local control plane exited (code ${code}) before it was ready: ${stderr.trim() || `see ${opts.logFile}`}`));
    });
  }).catch(async (err: unknown) => {
    await stop();
    throw err;
  });
  // Drain stdout after the ready line so the child never blocks on a full pipe.
  child.stdout!.resume();

  const infoPath = join(kubeconfig, '..', 'cluster.json');
  const info = JSON.parse(readFileSync(infoPath, 'utf8')) as ClusterInfo;
  return { info, infoPath, logFile: opts.logFile, exited, stop };
}

function stopper(child: ChildProcess, exited: Promise<number | null>): (graceMs?: number) => Promise<void> {
  let stopping: Promise<void> | undefined;
  return (graceMs = 30_000) => {
    stopping ??= (async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    })();
    return stopping;
  };
}
