// Benchmark (not a test): the cost of the apiserver client alone, in this process, against the
// local control plane. N gets of one CronTab by name through each transport, sequential and from
// 16 concurrent loops, the transports alternated within a run and their order rotated between
// runs. Each call does the whole of what KubeClient.request does around the transport (a deadline
// and cancellation in one controller, the kubeconfig's headers, the body read as text, lossless
// JSON parsing), so the figures are what the gateway would pay per call:
//   kube-client     KubeClient of this checkout;
//   baseline        KubeClient of another checkout (--baseline DIR: a worktree at another commit),
//                   to compare two versions of the client in one process, alternated;
//   undici-request  an undici Pool (HTTP/1.1, one request per connection at a time), request() and
//                   the body read with text();
//   undici-dispatch the same Pool, dispatch() with a handler that keeps the chunks (no body stream);
//   undici-h2       dispatch() over HTTP/2 (ALPN h2, which the apiserver offers; undici's default).
// Per batch: CPU µs per request of this process (user + system), p50 and p99, and the bytes this
// process read and wrote per request (/proc/self/io: TLS records, headers and body).
//
//   node scripts/bench-kube-client.ts [--runs 5] [--requests 2000] [--concurrency 16] [--warmup 200]
//                                     [--variants kube-client,undici-request,...] [--baseline DIR] [--profile DIR]
//   --profile DIR: a CPU profile of this process per variant, over the batches of the last run.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { RequestOptions as HttpsRequestOptions } from 'node:https';
import { Session } from 'node:inspector/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { buildConnector, Pool, type Dispatcher } from 'undici';
import { KubeClient } from '../src/kube/kube-client.ts';
import { loadFile } from '../src/kube/kube-config.ts';
import { parseKubernetesJson } from '../src/kube/lossless-json.ts';
import { buildLauncher } from '../src/local-cluster/build-launcher.ts';
import { installExampleCrds } from '../src/local-cluster/install-examples.ts';
import { launchCluster } from '../src/local-cluster/launch-cluster.ts';
import { machine, median, runConcurrently, stats, summarizeProfile } from './bench-common.ts';

const { values: flags } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    requests: { type: 'string', default: '2000' },
    concurrency: { type: 'string', default: '16' },
    warmup: { type: 'string', default: '200' },
    variants: { type: 'string' },
    baseline: { type: 'string' },
    profile: { type: 'string' },
  },
});
const RUNS = Number(flags.runs);
const N = Number(flags.requests);
const CONCURRENCY = Number(flags.concurrency);
const WARMUP = Number(flags.warmup);
const OBJECTS = 100;
const ns = 'bench-client';
const base = `/apis/stable.example.com/v1/namespaces/${ns}/crontabs`;
const nameOf = (i: number) => `ct-${String(i % OBJECTS).padStart(4, '0')}`;
const say = (m: string) => console.error(`[bench] ${m}`);

/** One GET as the gateway makes it: path, answer parsed. */
type Get = (path: string) => Promise<unknown>;

interface Tls {
  origin: string;
  headers: Record<string, string>;
  connect: HttpsRequestOptions;
}

async function tlsOf(kc: ReturnType<typeof loadFile>): Promise<Tls> {
  const o: HttpsRequestOptions = {};
  await kc.applyToHTTPSOptions(o);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(o.headers ?? {})) headers[k] = String(v);
  return { origin: new URL(kc.getCurrentCluster()!.server).origin, headers, connect: { ca: o.ca, cert: o.cert, key: o.key, servername: o.servername } };
}

function undiciPool(tls: Tls, allowH2: boolean): Pool {
  const connector = buildConnector({ ...(tls.connect as object), allowH2 } as buildConnector.BuildOptions);
  return new Pool(tls.origin, { connections: 256, keepAliveTimeout: 30_000, allowH2, connect: connector });
}

/** What KubeClient.request does around its transport: one controller for the deadline and the caller's signal, one timer. */
async function withDeadline<T>(fn: (signal: AbortSignal) => Promise<T>, timeoutMs = 30_000): Promise<T> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new DOMException('timeout', 'TimeoutError')), timeoutMs);
  timer.unref();
  try {
    return await fn(controller.signal);
  } finally {
    clearTimeout(timer);
  }
}

function requestHeaders(tls: Tls): Record<string, string> {
  return { ...tls.headers, accept: 'application/json', 'user-agent': 'crdgate' };
}

function undiciRequestGet(pool: Pool, tls: Tls): Get {
  return (path) => withDeadline(async (signal) => {
    const res = await pool.request({ method: 'GET', path, headers: requestHeaders(tls), signal });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}`);
    return parseKubernetesJson(text);
  });
}

/** A dispatch() handler that keeps the answer's chunks and resolves with its status and text. */
function dispatchText(pool: Dispatcher, opts: Dispatcher.DispatchOptions, signal: AbortSignal): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let status = 0;
    let controller: Dispatcher.DispatchController | undefined;
    const onAbort = () => controller?.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    const done = () => signal.removeEventListener('abort', onAbort);
    pool.dispatch(opts, {
      onRequestStart(c) {
        controller = c;
        if (signal.aborted) c.abort(signal.reason);
      },
      onResponseStart(_c, statusCode) {
        status = statusCode;
      },
      onResponseData(_c, chunk) {
        chunks.push(chunk);
      },
      onResponseEnd() {
        done();
        resolve({ status, text: Buffer.concat(chunks).toString('utf8') });
      },
      onResponseError(_c, err) {
        done();
        reject(err);
      },
    });
  });
}

function undiciDispatchGet(pool: Pool, tls: Tls): Get {
  return (path) => withDeadline(async (signal) => {
    const res = await dispatchText(pool, { method: 'GET', path, headers: requestHeaders(tls) }, signal);
    if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
    return parseKubernetesJson(res.text);
  });
}

/** Bytes this process read and wrote so far (every read and write system call: here, the sockets). */
function ioBytes(): number {
  const io = readFileSync('/proc/self/io', 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(io)?.[1] ?? 0);
  return field('rchar') + field('wchar');
}

interface Sample { p50: number; p99: number; rps: number; cpuUs: number; bytes: number }

async function measure(get: Get, conc: number): Promise<Sample> {
  let i = 0;
  const one = async () => {
    const name = nameOf(i++);
    const o = await get(`${base}/${name}`) as { metadata?: { name?: string } };
    if (o?.metadata?.name !== name) throw new Error('wrong object');
  };
  for (let w = 0; w < WARMUP; w++) await one();
  const io0 = ioBytes();
  const cpu0 = process.cpuUsage();
  const { latencies, wallMs } = await runConcurrently(N, conc, one);
  const cpu = process.cpuUsage(cpu0);
  const bytes = ioBytes() - io0;
  const s = stats(latencies, wallMs);
  return { p50: s.p50, p99: s.p99, rps: s.rps, cpuUs: (cpu.user + cpu.system) / N, bytes: bytes / N };
}

const stateDir = mkdtempSync(join(tmpdir(), 'crdgate-bench-client-'));
await buildLauncher({ log: say });
const cluster = await launchCluster({ dataDir: join(stateDir, 'cluster'), logFile: join(stateDir, 'cluster.log') });
let exitCode = 0;
const closers: (() => Promise<void>)[] = [];
try {
  const kc = loadFile(cluster.info.kubeconfig);
  await installExampleCrds(kc);
  const direct = new KubeClient(kc);
  closers.push(() => direct.close());
  await direct.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } } });
  await Promise.all(Array.from({ length: OBJECTS }, (_, i) => direct.request('POST', base, {
    body: { apiVersion: 'stable.example.com/v1', kind: 'CronTab', metadata: { name: nameOf(i), labels: { app: 'bench' } }, spec: { cronSpec: '*/5 * * * *', image: `example/bench:${i}`, replicas: i % 5 } },
  })));
  const tls = await tlsOf(kc);
  const h1 = undiciPool(tls, false);
  const h2 = undiciPool(tls, true);
  closers.push(() => h1.close(), () => h2.close());
  const all: Record<string, Get> = {
    'kube-client': (path) => direct.request('GET', path),
    'undici-request': undiciRequestGet(h1, tls),
    'undici-dispatch': undiciDispatchGet(h1, tls),
    'undici-h2': undiciDispatchGet(h2, tls),
  };
  if (flags.baseline) {
    const { KubeClient: Baseline } = await import(pathToFileURL(join(resolve(flags.baseline), 'src', 'kube', 'kube-client.ts')).href) as typeof import('../src/kube/kube-client.ts');
    const baseline = new Baseline(kc);
    closers.push(() => baseline.close());
    all['baseline'] = (path) => baseline.request('GET', path);
  }
  const variants = (flags.variants ?? `${flags.baseline ? 'baseline,' : ''}kube-client,undici-request,undici-dispatch,undici-h2`).split(',');
  for (const v of variants) if (!all[v]) throw new Error(`no variant ${v}; variants: ${Object.keys(all).join(', ')}`);
  const modes = [['sequential', 1], [`concurrency ${CONCURRENCY}`, CONCURRENCY]] as const;
  const results = new Map<string, Sample[]>();
  const session = new Session();
  if (flags.profile) {
    session.connect();
    await session.post('Profiler.enable');
    mkdirSync(flags.profile, { recursive: true });
  }
  for (let run = 0; run < RUNS; run++) {
    const profiling = flags.profile !== undefined && run === RUNS - 1;
    for (const [mode, conc] of modes) {
      for (const v of variants.map((_, k) => variants[(k + run) % variants.length]!)) {
        if (profiling) await session.post('Profiler.start');
        const s = await measure(all[v]!, conc);
        if (profiling) {
          const { profile } = await session.post('Profiler.stop');
          writeFileSync(join(flags.profile!, `${v}-${conc}.cpuprofile`), JSON.stringify(profile));
        }
        results.set(`${mode}|${v}`, [...(results.get(`${mode}|${v}`) ?? []), s]);
      }
    }
    say(`run ${run + 1}/${RUNS} done (load average ${loadavg().map((l) => l.toFixed(1)).join(' ')})`);
  }
  console.log(report(variants, modes.map(([m]) => m), results));
  if (flags.profile) {
    for (const v of variants) {
      for (const [, conc] of modes) {
        const s = summarizeProfile(JSON.parse(readFileSync(join(flags.profile, `${v}-${conc}.cpuprofile`), 'utf8')), 12);
        console.log(`\nProfile ${v}, concurrency ${conc} (busy ${(s.busy * 100).toFixed(0)}%):\n${s.functions.map(([k, x]) => `- ${(x * 100).toFixed(1)}% ${k}`).join('\n')}\nBy package or file:\n${s.packages.map(([k, x]) => `- ${(x * 100).toFixed(1)}% ${k}`).join('\n')}`);
      }
    }
  }
} catch (err) {
  console.error(`[bench] failed: ${(err as Error).stack ?? err}`);
  exitCode = 1;
} finally {
  for (const close of closers) await close().catch(() => {});
  await cluster.stop();
  rmSync(stateDir, { recursive: true, force: true });
}
process.exit(exitCode);

function report(variants: string[], modes: string[], results: Map<string, Sample[]>): string {
  const f = (n: number, d = 2) => n.toFixed(d);
  const cell = (xs: number[], d = 2) => `${f(median(xs), d)} (${f(Math.min(...xs), d)}–${f(Math.max(...xs), d)})`;
  const rows: string[] = [];
  for (const mode of modes) {
    const refName = variants[0]!;
    const ref = results.get(`${mode}|${refName}`)!;
    for (const v of variants) {
      const s = results.get(`${mode}|${v}`)!;
      // CPU against the first variant in the same run: each run's variants ran back to back.
      const ratio = v !== refName ? cell(s.map((x, i) => x.cpuUs / ref[i]!.cpuUs)) : '';
      rows.push(`| ${mode} | ${v} | ${cell(s.map((x) => x.cpuUs), 1)} | ${ratio} | ${cell(s.map((x) => x.p50))} | ${f(median(s.map((x) => x.p99)))} | ${cell(s.map((x) => x.rps), 0)} | ${f(median(s.map((x) => x.bytes)), 0)} |`);
    }
  }
  return `\`node scripts/bench-kube-client.ts ${process.argv.slice(2).join(' ')}\`; ${machine()}; load average at the end ${loadavg().map((l) => l.toFixed(1)).join(' ')}.
${N} gets of a CronTab per batch after ${WARMUP} of warm-up; median of ${RUNS} runs, lowest–highest in brackets.

| mode | client | CPU µs/req | CPU vs ${variants[0]} | p50 ms | p99 ms | req/s | bytes/req |
| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |
${rows.join('\n')}
`;
}
