// Subscription fan-out: N graphql-ws subscribers (in a separate client process, over loopback) on
// one CRD and namespace, with this process patching objects at a target rate. Measures change →
// client latency (p50/p99; the send time travels in an annotation), gateway memory per idle
// subscriber (heap and RSS before/after connecting, after a GC), and the hub's upstream watch
// count. A single subscriber measured in the same run is the baseline. Starts its own control
// plane; prints a markdown table and appends it to BENCHMARKS.md.
//
//   node scripts/bench-subscriptions.ts [--counts 100,1000,10000] [--rates 100,1000] [--seconds 5] [--no-write]
import { fork, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { KubeClient } from '../src/kube/kube-client.ts';
import { loadFile } from '../src/kube/kube-config.ts';
import { buildLauncher, repoRoot } from '../src/local-cluster/build-launcher.ts';
import { launchCluster } from '../src/local-cluster/launch-cluster.ts';
import { installExampleCrds } from '../src/local-cluster/install-examples.ts';
import { machine } from './bench-common.ts';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : fallback;
};
const counts = arg('counts', '100,1000,10000').split(',').map(Number);
const rates = arg('rates', '100,1000').split(',').map(Number);
const seconds = Number(arg('seconds', '5'));
/** Sockets are capped here; beyond it subscriptions share sockets (round robin). */
const maxSockets = Number(arg('max-sockets', '2500'));
const write = !process.argv.includes('--no-write');
const say = (m: string) => console.error(`[bench] ${m}`);

const OBJECTS = 20;
const ns = 'bench';
const SENT = 'bench.crdgate.io/sent';
const PHASE = 'bench.crdgate.io/phase';

const scratch = mkdtempSync(join(tmpdir(), 'crdgate-bench-subs-'));
await buildLauncher({ log: say });
const cluster = await launchCluster({ dataDir: join(scratch, 'cluster'), logFile: join(scratch, 'cluster.log') });
const kc = loadFile(cluster.info.kubeconfig);
await installExampleCrds(kc);
const kube = new KubeClient(kc);
await kube.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } } });
const path = (name?: string) => `/apis/stable.example.com/v1/namespaces/${ns}/crontabs${name ? `/${name}` : ''}`;
for (let i = 0; i < OBJECTS; i++) {
  await kube.request('POST', path(), { body: { apiVersion: 'stable.example.com/v1', kind: 'CronTab', metadata: { name: `o${i}` }, spec: { cronSpec: '@hourly', replicas: 1 } } });
}

// The gateway runs in a process of its own: the producer (this process) and the clients (another
// one) must not compete with it for an event loop.
const gatewayProcess: ChildProcess = fork(join(repoRoot, 'scripts', 'bench-subscriptions-gateway.ts'), [cluster.info.kubeconfig], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
const pending = new Map<number, (v: any) => void>();
let nextId = 1;
gatewayProcess.on('message', (m: { id: number; value: unknown }) => {
  const r = pending.get(m.id);
  pending.delete(m.id);
  r?.(m.value);
});
const gw = (cmd: string): Promise<any> => new Promise((resolve) => {
  const id = nextId++;
  pending.set(id, resolve);
  gatewayProcess.send({ id, cmd });
});
const started = await new Promise<{ port: number }>((resolve) => pending.set(0, resolve as (v: any) => void));
const url = `ws://127.0.0.1:${started.port}/graphql`;
const hub = { stats: (): Promise<{ subscribers: number; upstreams: number; slowConsumers: number }> => gw('stats') };

const child: ChildProcess = fork(join(repoRoot, 'scripts', 'bench-subscriptions-client.ts'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
const replies: ((m: any) => void)[] = [];
child.on('message', (m) => replies.shift()?.(m));
const ask = (msg: unknown): Promise<any> => new Promise((resolve) => {
  replies.push(resolve);
  if (msg) child.send(msg as object);
});
await ask(undefined); // 'started'

async function waitFor(cond: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const t0 = performance.now();
  while (!(await cond())) {
    if (performance.now() - t0 > timeoutMs) throw new Error(`${what} not within ${timeoutMs} ms: ${JSON.stringify(await hub.stats())}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function memory(): Promise<{ heap: number; rss: number }> {
  return gw('memory');
}

/** Patches at `rate` per second for `seconds`; returns the achieved rate and patch latencies. */
async function produce(rate: number, phase: string): Promise<{ sent: number; achieved: number; patchP50: number; patchP99: number }> {
  let total = rate * seconds;
  const maxInFlight = 64;
  const patchMs: number[] = [];
  let inFlight = 0;
  let sent = 0;
  const t0 = performance.now();
  await new Promise<void>((done) => {
    let finished = 0;
    const tick = () => {
      const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate) + 1);
      while (sent < due && inFlight < maxInFlight) {
        const i = sent++;
        inFlight++;
        const started = performance.now();
        const annotations = { [SENT]: String(performance.timeOrigin + started), [PHASE]: phase };
        void kube.request('PATCH', path(`o${i % OBJECTS}`), { body: { metadata: { annotations } }, contentType: 'application/merge-patch+json' })
          .catch((err: unknown) => say(`patch failed: ${(err as Error).message}`))
          .finally(() => {
            patchMs.push(performance.now() - started);
            inFlight--;
            if (++finished === total) done();
          });
      }
      // An overloaded process cannot keep the rate: stop issuing after twice the planned time.
      if (sent < total && performance.now() - t0 > 2000 * seconds) {
        total = sent;
        if (finished === total) done();
      }
      if (sent < total) setTimeout(tick, 1);
    };
    tick();
  });
  const elapsed = (performance.now() - t0) / 1000;
  patchMs.sort((a, b) => a - b);
  return { sent: total, achieved: total / elapsed, patchP50: patchMs[Math.floor(patchMs.length / 2)]!, patchP99: patchMs[Math.floor(patchMs.length * 0.99)]! };
}

interface Row {
  subscribers: number;
  sockets: number;
  rate: number;
  achieved: number;
  p50: number;
  p99: number;
  max: number;
  delivered: string;
  patchP50: number;
  patchP99: number;
  errors: string;
  upstreams: number;
  heapPerSub?: number;
  rssPerSub?: number;
}
const rows: Row[] = [];
let profileSummary = '';

async function profile<T>(fn: () => Promise<T>): Promise<T> {
  await gw('profile-start');
  try {
    return await fn();
  } finally {
    const p = (await gw('profile-stop')) as { nodes: { callFrame: { url: string; functionName: string; lineNumber: number }; hitCount?: number }[] };
    const self = new Map<string, number>();
    let total = 0;
    for (const node of p.nodes) {
      const f = node.callFrame;
      const file = f.url.replace(/^.*\/node_modules\//, '').replace(/^file:\/\/.*\/(src|scripts)\//, '$1/');
      const key = `${f.functionName || '(anonymous)'} ${file}${f.url ? `:${f.lineNumber + 1}` : ''}`;
      self.set(key, (self.get(key) ?? 0) + (node.hitCount ?? 0));
      total += node.hitCount ?? 0;
    }
    const top = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 12);
    const byPackage = new Map<string, number>();
    for (const [k, n] of self) {
      const file = k.split(' ').slice(1).join(' ');
      const pkg = /^(src|scripts)\//.test(file) ? file.split(':')[0]! : file.startsWith('(') || !file ? k.split(' ')[0]! : file.split('/')[0]!.startsWith('@') ? file.split('/').slice(0, 2).join('/') : file.split('/')[0]!.split(':')[0]!;
      byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + n);
    }
    const pct = (n: number) => `${((100 * n) / total).toFixed(1)}%`;
    profileSummary = `Top self time (gateway process):\n\n${top.map(([k, n]) => `- ${pct(n)} ${k}`).join('\n')}\n\nBy package/file:\n\n${[...byPackage.entries()].sort((a, b) => b[1] - a[1]).slice(0, 10).map(([k, n]) => `- ${pct(n)} ${k}`).join('\n')}\n`;
  }
}

async function run(n: number, measureMemory: boolean): Promise<void> {
  const sockets = Math.min(n, maxSockets);
  await waitFor(async () => { const st = await hub.stats(); return st.subscribers === 0 && st.upstreams === 0; }, 30_000, 'an idle hub');
  const before = measureMemory ? await memory() : undefined;
  const t0 = performance.now();
  await ask({ cmd: 'connect', url, subscriptions: n, sockets, namespace: ns });
  await waitFor(async () => (await hub.stats()).subscribers === n, 300_000, `${n} subscribers`);
  say(`${n} subscribers on ${sockets} sockets attached in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  let heapPerSub: number | undefined;
  let rssPerSub: number | undefined;
  if (before) {
    await new Promise((r) => setTimeout(r, 1000));
    const afterConnect = await memory();
    heapPerSub = (afterConnect.heap - before.heap) / n;
    rssPerSub = (afterConnect.rss - before.rss) / n;
  }
  const upstreams = (await hub.stats()).upstreams;
  for (const rate of rates) {
    const phase = `${n}-${rate}`;
    await ask({ cmd: 'phase', phase });
    const slowBefore = (await hub.stats()).slowConsumers;
    const produceAndDrain = async () => {
      const p = await produce(rate, phase);
      // Drain: until every subscriber has every event, or nothing arrives for 5 s.
      let last = -1;
      let stable = 0;
      for (;;) {
        const r = await ask({ cmd: 'report' });
        if (r.received >= p.sent * (await hub.stats()).subscribers || (r.received === last && ++stable >= 10)) return { p, r };
        if (r.received !== last) stable = 0;
        last = r.received;
        await new Promise((res) => setTimeout(res, 500));
      }
    };
    const heavy = n >= 10_000 && rate === Math.max(...rates);
    const { p, r } = heavy ? await profile(produceAndDrain) : await produceAndDrain();
    const expected = p.sent * n;
    const slow = (await hub.stats()).slowConsumers - slowBefore;
    rows.push({
      subscribers: n, sockets, rate, achieved: p.achieved, p50: r.p50, p99: r.p99, max: r.max,
      delivered: `${((100 * r.received) / expected).toFixed(1)}%`, patchP50: p.patchP50, patchP99: p.patchP99,
      errors: [...Object.entries(r.errors as Record<string, number>).map(([k, v]) => `${k}×${v}`), slow ? `slowConsumers=${slow}` : ''].filter(Boolean).join(' ') || '-',
      upstreams, heapPerSub, rssPerSub,
    });
    say(JSON.stringify(rows.at(-1)));
    heapPerSub = undefined;
    rssPerSub = undefined;
  }
  await ask({ cmd: 'disconnect' });
  // Subscriptions a client abandons stay attached until the next event on their watch (see the
  // subscriptions integration test); one change lets them go.
  await kube.request('PATCH', path('o0'), { body: { metadata: { annotations: { [PHASE]: 'release' } } }, contentType: 'application/merge-patch+json' });
}

try {
  await run(1, false); // the baseline: one subscriber, same rates, same run
  for (const n of counts) await run(n, true);
} finally {
  child.kill();
  await gw('stop').catch(() => {});
  gatewayProcess.kill();
  await cluster.stop();
  rmSync(scratch, { recursive: true, force: true });
}

const f = (x: number | undefined, d = 1) => (x === undefined || Number.isNaN(x) ? '-' : x.toFixed(d));
const base = new Map(rows.filter((r) => r.subscribers === 1).map((r) => [r.rate, r]));
const table = [
  '| subscribers | sockets | target ev/s | achieved ev/s | p50 ms | p99 ms | max ms | p99 ÷ baseline p99 | delivered | errors | patch p50/p99 ms | upstream watches | heap KB/idle sub | RSS KB/idle sub |',
  '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |',
  ...rows.map((r) => `| ${r.subscribers} | ${r.sockets} | ${r.rate} | ${f(r.achieved, 0)} | ${f(r.p50)} | ${f(r.p99)} | ${f(r.max, 0)} | ${f(r.p99 / base.get(r.rate)!.p99, 1)} | ${r.delivered} | ${r.errors} | ${f(r.patchP50)}/${f(r.patchP99)} | ${r.upstreams} | ${f(r.heapPerSub === undefined ? undefined : r.heapPerSub / 1024, 2)} | ${f(r.rssPerSub === undefined ? undefined : r.rssPerSub / 1024, 2)} |`),
].join('\n');

const section = `
## Subscriptions fan-out — ${new Date().toISOString().slice(0, 10)}

Machine: ${machine()}. \`node scripts/bench-subscriptions.ts ${process.argv.slice(2).join(' ')}\`: a local kube-apiserver v1.37
(embedded etcd) on the same machine; the gateway in a process of its own, the patch loop in the benchmark process; the graphql-ws
clients in a second process (one subscription per socket up to ${maxSockets} sockets, then round
robin over ${maxSockets} sockets); ${OBJECTS} CronTabs in one namespace patched round robin for ${seconds} s per
rate (≤64 patches in flight). Latency = client receipt − patch send time (annotation), so it
includes the apiserver write (patch p50/p99 column). Baseline = 1 subscriber in the same run.
Memory = (heap, RSS) after connecting N idle subscribers minus before, after GC, ÷ N.

${table}

${profileSummary}`;
console.log(section);
if (write) {
  const file = join(repoRoot, 'BENCHMARKS.md');
  appendFileSync(file, `${existsSync(file) ? '' : '# Benchmarks\n'}${section}`);
  say(`appended to ${file}`);
}
process.exit(0);
