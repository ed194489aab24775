// What the benchmarks share: the machine they ran on, and latency figures of a request loop.
import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';

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
