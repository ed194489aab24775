// What the benchmarks share: the machine they ran on, and latency figures of a request loop.
import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { repoRoot } from '../src/local-cluster/build-launcher.ts';
import { GCProfiler } from 'node:v8';

/** CPU model, cores, memory and Node version, for the heading of a result. */
export function machine(): string {
  let model = cpus()[0]?.model.trim() || 'unknown CPU';
  try {
    model = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? model;
  } catch {
    // not Linux: os.cpus() names the model
  }
  return `${model}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}`;
}

export interface Stats { p50: number; p99: number; rps: number; n: number }

export function stats(latencies: number[], wallMs: number): Stats {
  const sorted = [...latencies].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { p50: at(0.5), p99: at(0.99), rps: (latencies.length / wallMs) * 1000, n: latencies.length };
}

/** Runs fn n times from c concurrent loops; the latency of each call and the wall time of all. */
export async function runConcurrently(n: number, c: number, fn: () => Promise<void>): Promise<{ latencies: number[]; wallMs: number }> {
  const latencies: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: c }, async () => {
    while (next++ < n) {
      const s = performance.now();
      await fn();
      latencies.push(performance.now() - s);
    }
  }));
  return { latencies, wallMs: performance.now() - t0 };
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

interface ProfileNode { id: number; callFrame: { url: string; functionName: string; lineNumber: number }; hitCount?: number; children?: number[] }

/**
 * Where a CPU profile's time goes: the functions with the most self time, and the time per
 * package (node_modules), source file (src/, scripts/) or V8 category (GC, idle, program).
 */
export function summarizeProfile(profile: { nodes: ProfileNode[] }, top = 15): { functions: [string, number][]; packages: [string, number][]; busy: number } {
  const self = new Map<string, number>();
  const byPackage = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    if (!hits) continue;
    const f = node.callFrame;
    const file = f.url.replace(/^.*\/node_modules\//, '').replace(/^file:\/\/.*\/(src|scripts)\//, '$1/');
    const key = `${f.functionName || '(anonymous)'} ${file}${f.url ? `:${f.lineNumber + 1}` : ''}`;
    self.set(key, (self.get(key) ?? 0) + hits);
    const pkg = /^(src|scripts)\//.test(file) ? file : !file ? f.functionName
      : file.startsWith('node:') ? 'node' : file.startsWith('@') ? file.split('/').slice(0, 2).join('/') : file.split('/')[0]!;
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + hits);
    total += hits;
    if (f.functionName === '(idle)') idle += hits;
  }
  const share = (entries: Iterable<[string, number]>) => [...entries].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, n]) => [k, n / total] as [string, number]);
  return { functions: share(self), packages: share(byPackage), busy: (total - idle) / total };
}

/**
 * The CPU time (µs) and the bytes allocated while `run` runs: the heap's growth between V8's
 * collections (its GC profiler's statistics) plus its growth after the last one. No collection is
 * forced: V8 sweeps a large heap after one on other threads, and the process' CPU time would count
 * that sweep.
 */
export async function cpuAndAllocation(run: () => Promise<void>): Promise<{ cpuUs: number; bytes: number }> {
  const heapAtStart = process.memoryUsage().heapUsed;
  const profiler = new GCProfiler();
  profiler.start();
  const cpu = process.cpuUsage();
  await run();
  const used = process.cpuUsage(cpu);
  const heapAtEnd = process.memoryUsage().heapUsed;
  let allocated = 0;
  let after = heapAtStart;
  for (const s of profiler.stop()?.statistics ?? []) {
    allocated += s.beforeGC.heapStatistics.usedHeapSize - after;
    after = s.afterGC.heapStatistics.usedHeapSize;
  }
  return { cpuUs: used.user + used.system, bytes: allocated + heapAtEnd - after };
}

/**
 * The NODE_OPTIONS the gateway ships with (the chart's nodeOptions, which the kustomize base and
 * `npm start` repeat): every benchmark runs its gateway process with them, as deployed.
 */
export function shippedNodeOptions(): string[] {
  const values = parse(readFileSync(join(repoRoot, 'deploy', 'helm', 'crdgate', 'values.yaml'), 'utf8')) as { nodeOptions?: string };
  return (values.nodeOptions ?? '').split(' ').filter(Boolean);
}
