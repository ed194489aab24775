// Subscription fan-out against the limit of this machine's socket layer, in one run and three
// processes: this one (a local kube-apiserver as its child, and the producer that patches
// CronTabs at a target rate), the server (bench-subscriptions-gateway.ts: the gateway, and a plain
// `ws` server as the baseline), and the clients (bench-subscriptions-client.ts: N WebSockets).
//
// The baseline broadcasts one pre-serialized frame per event, the size of the gateway's `next`
// frame, to N sockets of the same client process: what Node and the machine can do at best. First
// the loads (sockets × events/s) where the baseline keeps p99 ≤ 100 ms are found; at those loads
// the gateway is measured against it (messages/s, p50/p99, delivered), alternating, median of the
// rounds. A second baseline runs the same broadcast fed by a plain watch of the apiserver while the
// producer writes, so that the machine's load and the events' timing are the gateway's; beyond them the gateway must shed slow consumers rather than grow. Latency: from the
// moment the server has the event (the gateway: its upstream watch delivered it; the baseline: it
// made the frame) to its arrival in the client process. CPU of every process per phase, memory per
// idle subscriber, upstream watch count. Prints markdown and appends it to BENCHMARKS.md.
//
//   node scripts/bench-subscriptions.ts [--sockets 1000,10000] [--rates 1000:10,25,50/10000:1,3,5]
//     [--rounds 3] [--seconds 4] [--no-write]
import { fork, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { KubeClient } from '../src/kube/kube-client.ts';
import { loadFile } from '../src/kube/kube-config.ts';
import { buildLauncher, repoRoot } from '../src/local-cluster/build-launcher.ts';
import { launchCluster } from '../src/local-cluster/launch-cluster.ts';
import { installExampleCrds } from '../src/local-cluster/install-examples.ts';
import { machine, shippedNodeOptions } from './bench-common.ts';
import { summarizeProfile, type CpuProfile } from './bench-profile.ts';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : fallback;
};
const socketCounts = arg('sockets', '1000,10000').split(',').map(Number);
const ratesFor = new Map(arg('rates', '1000:10,25,50/10000:1,3,5').split('/').map((part) => {
  const [n, rates] = part.split(':');
  return [Number(n), rates!.split(',').map(Number)] as const;
}));
const rounds = Number(arg('rounds', '3'));
const phaseSeconds = Number(arg('seconds', '4'));
const write = !process.argv.includes('--no-write');
const say = (m: string) => console.error(`[bench] ${m}`);

const OBJECTS = 20;
const ns = 'bench';
const SENT = 'bench.crdgate.io/sent';
const PHASE = 'bench.crdgate.io/phase';
const P99_BOUND_MS = 100;

// --- set-up: the control plane, the objects, the two other processes ---

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

function ipc(child: ChildProcess): (cmd: string, args?: Record<string, unknown>) => Promise<any> {
  const pending = new Map<number, (v: unknown) => void>();
  let nextId = 1;
  child.on('message', (m: { id: number; value: unknown }) => {
    pending.get(m.id)?.(m.value);
    pending.delete(m.id);
  });
  return (cmd, args) => new Promise((resolve) => {
    const id = nextId++;
    pending.set(id, resolve);
    child.send({ id, cmd, args });
  });
}

const server = fork(join(repoRoot, 'scripts', 'bench-subscriptions-gateway.ts'), [cluster.info.kubeconfig, ns], { execArgv: [...process.execArgv, ...shippedNodeOptions()], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
const started = await new Promise<{ port: number; baselinePort: number }>((resolve) => server.once('message', (m: { value: { port: number; baselinePort: number } }) => resolve(m.value)));
const gw = ipc(server);
const gatewayUrl = `ws://127.0.0.1:${started.port}/graphql`;
const baselineUrl = `ws://127.0.0.1:${started.baselinePort}/`;

const clients = fork(join(repoRoot, 'scripts', 'bench-subscriptions-client.ts'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
const replies: ((m: any) => void)[] = [];
clients.on('message', (m) => replies.shift()?.(m));
const ask = (msg?: object): Promise<any> => new Promise((resolve) => {
  replies.push(resolve);
  if (msg) clients.send(msg);
});
await ask(); // started

async function waitFor(cond: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const t0 = performance.now();
  while (!(await cond())) {
    if (performance.now() - t0 > timeoutMs) throw new Error(`${what} not within ${timeoutMs} ms: ${JSON.stringify(await gw('stats'))}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// --- measurements ---

/** CPU time (ms) of the apiserver process, from /proc. */
function apiserverCpuMs(): number {
  const fields = readFileSync(`/proc/${cluster.info.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

let phaseId = 0;

/** Patches at `rate` per second for `seconds` (≤64 in flight); each carries its phase and send time. */
async function produce(rate: number, phase: number, seconds: number): Promise<number> {
  let total = Math.round(rate * seconds);
  let inFlight = 0;
  let sent = 0;
  let finished = 0;
  const t0 = performance.now();
  await new Promise<void>((done) => {
    const tick = () => {
      const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate) + 1);
      while (sent < due && inFlight < 64) {
        const i = sent++;
        inFlight++;
        const annotations = { [SENT]: String(performance.timeOrigin + performance.now()), [PHASE]: String(phase) };
        void kube.request('PATCH', path(`o${i % OBJECTS}`), { body: { metadata: { annotations } }, contentType: 'application/merge-patch+json' })
          .catch((err: unknown) => say(`patch failed: ${(err as Error).message}`))
          .finally(() => {
            inFlight--;
            if (++finished === total) done();
          });
      }
      // An overloaded apiserver cannot keep the rate: stop issuing after twice the planned time.
      if (sent < total && performance.now() - t0 > 2000 * seconds) {
        total = sent;
        if (finished === total) done();
      }
      if (sent < total) setTimeout(tick, 1);
    };
    tick();
  });
  return total;
}

interface Phase {
  kind: 'baseline' | 'baseline-watch' | 'gateway';
  sockets: number;
  rate: number;
  events: number;
  received: number;
  msgsPerSec: number;
  p50: number;
  p99: number;
  delivered: number;
  /** Of the events produced, the share the gateway's upstream watch got (the baseline makes its own). */
  upstream: number;
  slow: number;
  errors: Record<string, number>;
  /** CPU per process, % of one core over the phase. */
  cpu: { apiserver: number; producer: number; server: number; clients: number };
}

async function runPhase(kind: Phase['kind'], sockets: number, rate: number, frameBytes: number, seconds = phaseSeconds): Promise<Phase> {
  const phase = ++phaseId;
  await ask({ cmd: 'phase', phase });
  await ask({ cmd: 'cpu-mark' });
  await gw('cpu-mark', { phase });
  const slowBefore = (await gw('stats')).slowConsumers as number;
  const self0 = process.cpuUsage();
  const api0 = apiserverCpuMs();
  const t0 = performance.now();
  if (kind === 'baseline-watch') await gw('watch-feed-start', { phase, bytes: frameBytes });
  const events = kind === 'baseline'
    ? await gw('broadcast', { rate, seconds, bytes: frameBytes, phase }) as number
    : await produce(rate, phase, seconds);
  const expected = events * sockets;
  // Drain: until every message arrived, or nothing more for 3 s once the gateway has every event
  // from the apiserver (a busy apiserver's watch can lag its writes by seconds), at most a minute.
  let last = -1;
  let still = 0;
  let r: { received: number } = { received: 0 };
  const upstreamAll = async () => kind !== 'gateway' || (await gw('phase-events')) >= events;
  for (;;) {
    r = await ask({ cmd: 'count' });
    if (r.received >= expected) break;
    still = r.received === last ? still + 1 : 0;
    if ((still >= 15 && (await upstreamAll())) || performance.now() - t0 > 60_000 + seconds * 2000) break;
    last = r.received;
    await new Promise((res) => setTimeout(res, 200));
  }
  const wallMs = performance.now() - t0;
  if (kind === 'baseline-watch') await gw('watch-feed-stop');
  const upstream = kind !== 'gateway' ? events : await gw('phase-events') as number;
  const report = kind === 'gateway' ? await ask({ cmd: 'report', receipts: await gw('receipts') }) : await ask({ cmd: 'report' });
  const self = process.cpuUsage(self0);
  const pct = (ms: number) => (100 * ms) / wallMs;
  const cpu = {
    apiserver: pct(apiserverCpuMs() - api0),
    producer: pct((self.user + self.system) / 1000),
    server: pct(await gw('cpu')),
    clients: pct((await ask({ cmd: 'cpu' })).ms),
  };
  const span = Math.max(seconds * 1000, report.last - report.first);
  return {
    kind, sockets, rate, events, received: report.received, msgsPerSec: (1000 * report.received) / span, p50: report.p50, p99: report.p99,
    delivered: expected ? report.received / expected : 0, upstream: events ? upstream / events : 0, slow: ((await gw('stats')).slowConsumers as number) - slowBefore, errors: report.errors, cpu,
  };
}

/** The size of the gateway's `next` frame for one patch of the benchmark. */
async function gatewayFrameBytes(): Promise<number> {
  const ws = new WebSocket(gatewayUrl, 'graphql-transport-ws');
  const frames: Buffer[] = [];
  ws.on('message', (d: Buffer) => frames.push(d));
  await new Promise((resolve) => ws.once('open', resolve));
  ws.send(JSON.stringify({ type: 'connection_init' }));
  await waitFor(async () => frames.length > 0, 10_000, 'connection_ack');
  ws.send(JSON.stringify({ id: '00000000-0000-4000-8000-000000000000', type: 'subscribe', payload: { query: 'subscription($ns: String) { watchCronTab_stable_example_com(namespace: $ns) { type resourceVersion object { metadata { name annotations } } } }', variables: { ns } } }));
  await waitFor(async () => (await gw('stats')).subscribers === 1, 10_000, 'the probe subscriber');
  const annotations = { [SENT]: String(performance.timeOrigin + performance.now()), [PHASE]: '0' };
  await kube.request('PATCH', path('o0'), { body: { metadata: { annotations } }, contentType: 'application/merge-patch+json' });
  await waitFor(async () => frames.length > 1, 10_000, 'the probe event');
  ws.terminate();
  return frames[1]!.length;
}

async function connect(mode: 'baseline' | 'gateway', sockets: number): Promise<void> {
  const t0 = performance.now();
  await ask({ cmd: 'connect', url: mode === 'gateway' ? gatewayUrl : baselineUrl, mode, sockets, namespace: ns });
  if (mode === 'gateway') await waitFor(async () => (await gw('stats')).subscribers === sockets, 600_000, `${sockets} subscribers`);
  else await waitFor(async () => (await gw('baseline-sockets')) === sockets, 600_000, `${sockets} baseline sockets`);
  say(`${sockets} ${mode} sockets in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

async function disconnect(mode: 'baseline' | 'gateway'): Promise<void> {
  await ask({ cmd: 'disconnect' });
  if (mode === 'gateway') await waitFor(async () => (await gw('stats')).subscribers === 0, 60_000, 'the subscribers to leave');
  else await waitFor(async () => (await gw('baseline-sockets')) === 0, 60_000, 'the baseline sockets to close');
}

const median = (xs: number[]) => {
  const s = [...xs].filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)]! : NaN;
};

// --- the run ---

const phases: Phase[] = [];
const memory: { sockets: number; heapPerSub: number; rssPerSub: number }[] = [];
let upstreams = 0;
let profileText = '';
let frameBytes = 0;

async function memoryPerIdleSubscriber(sockets: number): Promise<void> {
  const before = await gw('memory');
  await connect('gateway', sockets);
  await new Promise((r) => setTimeout(r, 1000));
  const after = await gw('memory');
  memory.push({ sockets, heapPerSub: (after.heap - before.heap) / sockets, rssPerSub: (after.rss - before.rss) / sockets });
  upstreams = Math.max(upstreams, (await gw('stats')).upstreams);
  await disconnect('gateway');
}

try {
  frameBytes = await gatewayFrameBytes();
  say(`gateway next frame: ${frameBytes} bytes; the baseline's frames are as long`);
  for (const sockets of socketCounts) {
    const rates = ratesFor.get(sockets) ?? [10];
    await memoryPerIdleSubscriber(sockets);
    for (let round = 1; round <= rounds; round++) {
      for (const mode of ['baseline', 'gateway'] as const) {
        await connect(mode, sockets);
        const kinds = mode === 'baseline' ? (['baseline', 'baseline-watch'] as const) : (['gateway'] as const);
        // Unmeasured: the first events on fresh sockets pay for compilation and allocation.
        for (const kind of kinds) await runPhase(kind, sockets, rates[0]!, frameBytes, 1);
        for (const rate of rates) {
          for (const kind of kinds) {
            const p = await runPhase(kind, sockets, rate, frameBytes);
            phases.push(p);
            say(`round ${round} ${JSON.stringify(p)}`);
          }
        }
        await disconnect(mode);
      }
    }
  }
  profileText = await profileWorstLoad();
} finally {
  clients.kill();
  await gw('stop').catch(() => {});
  server.kill();
  await cluster.stop();
  rmSync(scratch, { recursive: true, force: true });
}

interface Load {
  sockets: number;
  rate: number;
  baseline: Summary;
  /** The baseline fed by a plain watch of the apiserver while the producer writes, as the gateway is. */
  watchFed: Summary;
  gateway: Summary;
}

interface Summary {
  msgsPerSec: number;
  p50: number;
  p99: number;
  delivered: number;
  slow: number;
  cpu: Phase['cpu'];
}

function summarize(ps: Phase[]): Summary {
  return {
    msgsPerSec: median(ps.map((p) => p.msgsPerSec)), p50: median(ps.map((p) => p.p50)), p99: median(ps.map((p) => p.p99)),
    delivered: Math.min(...ps.map((p) => p.delivered)), slow: Math.max(...ps.map((p) => p.slow)),
    cpu: {
      apiserver: median(ps.map((p) => p.cpu.apiserver)), producer: median(ps.map((p) => p.cpu.producer)),
      server: median(ps.map((p) => p.cpu.server)), clients: median(ps.map((p) => p.cpu.clients)),
    },
  };
}

function loads(): Load[] {
  const out: Load[] = [];
  for (const sockets of socketCounts) {
    for (const rate of ratesFor.get(sockets) ?? []) {
      const of = (kind: Phase['kind']) => phases.filter((p) => p.kind === kind && p.sockets === sockets && p.rate === rate);
      if (of('baseline').length && of('gateway').length) out.push({ sockets, rate, baseline: summarize(of('baseline')), watchFed: summarize(of('baseline-watch')), gateway: summarize(of('gateway')) });
    }
  }
  return out;
}

function withinBound(l: Load, base = l.baseline): boolean {
  return base.p99 <= P99_BOUND_MS;
}

function meets(l: Load, base = l.baseline): boolean {
  return l.gateway.msgsPerSec >= 0.5 * base.msgsPerSec && l.gateway.p99 <= 2 * base.p99 && l.gateway.delivered >= 1;
}

/** A CPU profile of the gateway at the heaviest load inside the baseline's bound where it missed a target. */
async function profileWorstLoad(): Promise<string> {
  const heaviest = (ls: Load[]) => ls.sort((a, b) => b.sockets * b.rate - a.sockets * a.rate)[0];
  // With no load inside the bound (a machine too busy for its own baseline) there is nothing to
  // miss; the heaviest load below the targets' ratios is profiled instead, for the reason.
  const inside = heaviest(loads().filter((l) => withinBound(l) && !meets(l)));
  const missed = inside ?? heaviest(loads().filter((l) => !meets(l)));
  if (!missed) return '';
  await connect('gateway', missed.sockets);
  await gw('profile-start');
  try {
    await runPhase('gateway', missed.sockets, missed.rate, frameBytes);
  } finally {
    const profile = (await gw('profile-stop')) as CpuProfile;
    await disconnect('gateway');
    return `CPU profile of the server process, gateway at ${missed.sockets} sockets × ${missed.rate} events/s (${inside ? 'a target missed there' : 'outside the baseline\'s bound, below the targets\' ratios'}):\n\n${summarizeProfile(profile)}`;
  }
}

const f = (x: number, d = 1) => (Number.isNaN(x) ? '-' : x.toFixed(d));
const k = (x: number) => (Number.isNaN(x) ? '-' : x >= 10_000 ? `${(x / 1000).toFixed(0)}k` : x.toFixed(0));
const all = loads();
const table = [
  '| sockets | events/s | messages/s wanted | baseline msg/s | gateway msg/s | gateway ÷ baseline | baseline p50 / p99 ms | gateway p50 / p99 ms | p99 ÷ baseline | gateway delivered | slow consumers shed | within baseline bound | targets |',
  '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |',
  ...all.map((l) => `| ${l.sockets} | ${l.rate} | ${k(l.sockets * l.rate)} | ${k(l.baseline.msgsPerSec)} | ${k(l.gateway.msgsPerSec)} | ${f(l.gateway.msgsPerSec / l.baseline.msgsPerSec, 2)} | ${f(l.baseline.p50)} / ${f(l.baseline.p99)} | ${f(l.gateway.p50)} / ${f(l.gateway.p99)} | ${f(l.gateway.p99 / l.baseline.p99, 2)} | ${f(100 * l.gateway.delivered, 1)}% | ${l.gateway.slow} | ${withinBound(l) ? 'yes' : `no (p99 > ${P99_BOUND_MS} ms)`} | ${withinBound(l) ? (meets(l) ? 'met' : '**missed**') : '-'} |`),
].join('\n');
const watchFedTable = [
  '| sockets | events/s | watch-fed baseline msg/s | gateway ÷ it | watch-fed baseline p50 / p99 ms | gateway p50 / p99 ms | p99 ÷ watch-fed baseline | within its bound | targets against it |',
  '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |',
  ...all.map((l) => `| ${l.sockets} | ${l.rate} | ${k(l.watchFed.msgsPerSec)} | ${f(l.gateway.msgsPerSec / l.watchFed.msgsPerSec, 2)} | ${f(l.watchFed.p50)} / ${f(l.watchFed.p99)} | ${f(l.gateway.p50)} / ${f(l.gateway.p99)} | ${f(l.gateway.p99 / l.watchFed.p99, 2)} | ${withinBound(l, l.watchFed) ? 'yes' : `no (p99 > ${P99_BOUND_MS} ms)`} | ${withinBound(l, l.watchFed) ? (meets(l, l.watchFed) ? 'met' : '**missed**') : '-'} |`),
].join('\n');
const cpuTable = [
  '| sockets | events/s | run | apiserver % | producer % | server % | clients % |',
  '| ---: | ---: | --- | ---: | ---: | ---: | ---: |',
  ...all.flatMap((l) => (['baseline', 'watchFed', 'gateway'] as const).map((kind) => {
    const c = l[kind].cpu;
    return `| ${l.sockets} | ${l.rate} | ${kind === 'watchFed' ? 'baseline fed by a watch' : kind} | ${f(c.apiserver, 0)} | ${f(c.producer, 0)} | ${f(c.server, 0)} | ${f(c.clients, 0)} |`;
  })),
].join('\n');
const memoryLines = memory.map((m) => `${m.sockets} idle subscribers: ${f(m.heapPerSub / 1024, 1)} KB heap and ${f(m.rssPerSub / 1024, 1)} KB RSS each`).join('; ');

const section = `
## Subscriptions fan-out against a plain ws broadcast — ${new Date().toISOString().slice(0, 10)}

Machine: ${machine()}. \`node scripts/bench-subscriptions.ts ${process.argv.slice(2).join(' ')}\` (rounds: ${rounds}, ${phaseSeconds} s per phase; the
figures are medians of the rounds, delivered is the worst round). Three processes: the
apiserver (a local kube-apiserver v1.37 with etcd, its own process) with the producer beside it
(patches of ${OBJECTS} CronTabs at the target rate, one upstream event each); the server process
(the gateway; the baseline \`ws\` server lives there too and runs only while the gateway is
idle); the clients (one process, one WebSocket per subscriber, graphql-transport-ws to the
gateway, JSON.parse of every message on both). The baseline broadcasts one pre-serialized frame
of the gateway's \`next\` frame size (${frameBytes} bytes) per event to every socket. Latency: from the
moment the server has the event (gateway: its upstream watch delivered it; baseline: the frame was
made) to its arrival in the client process. Targets at loads where the baseline keeps p99 ≤ ${P99_BOUND_MS} ms:
gateway messages/s ≥ 0.5 × baseline, p99 ≤ 2 × baseline, 100% delivered. CPU is % of one core over
each phase (production and drain).

${table}

The same loads against a second baseline, measured in the same rounds on the same sockets: the
\`ws\` server fed by a plain watch of the same CronTabs (the gateway's client class, no hub) while
the producer patches at the same rate, broadcasting one pre-serialized frame of the same size per
event as it arrives. The apiserver and the producer then load the machine as they do in the
gateway's phase, and the events arrive with the upstream's timing; latency is measured from the
watch's delivery of the event, as for the gateway.

${watchFedTable}

${cpuTable}

Memory per idle subscriber (server process, after GC, one socket each): ${memoryLines}. Upstream
watches for all subscribers of the resource: ${upstreams}.

${profileText}`;
console.log(section);
if (write) {
  const file = join(repoRoot, 'BENCHMARKS.md');
  appendFileSync(file, `${existsSync(file) ? '' : '# Benchmarks\n'}${section}`);
  say(`appended to ${file}`);
}
process.exit(0);
