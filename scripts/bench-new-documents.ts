// Benchmark (not a test): the gateway's CPU per request for a new document (a create with its
// values inline, a different text each request, as many clients write them) against the same
// create with variables (a cached document), and for a get, without a control plane, so that it
// can be measured on a busy machine. The gateway runs in a process of its own, as users run it
// (bench-gateway.ts' plugins: none or production), on the example and corpus CRDs, with a
// Kubernetes client that answers at once: from the CRDs for the catalog's list, and by echoing
// the object of a create (written and read as JSON, as the real client does) or a stored CronTab
// for a get, or a list of the first `limit` of 500 stored CronTabs. This process sends the GraphQL requests over HTTP keep-alive; the gateway's CPU time
// is read before and after each batch (bench-ipc.ts). Batches alternate between the cases, each
// sequential and from --concurrency loops; every figure is the median of the rounds, with the
// spread. Prints a markdown table; results are not appended anywhere.
//
// With `--plugins none,production` one gateway of each kind runs (each in its own process, idle
// while the other is measured) and each case's batches alternate between them within a round, so
// the plugins' cost is read in one run: the second table gives, per case, the production gateway's
// CPU and bytes per request over the plain one's (median of the per-round ratios, with the spread).
// A kind `production-no-NAME` is the production gateway without the plugin named NAME (e.g.
// `--plugins none,production,production-no-tracing`): what that plugin costs over HTTP. A kind
// `production-log-delay-MS` writes the request lines with a flush delay of MS ms (--log-flush-delay).
//
//   node scripts/bench-new-documents.ts [--rounds 7] [--requests 2000] [--list-requests 200] [--plugins none|production|none,production[,production-no-NAME][,production-log-delay-MS]]
//                                       [--cases create,createInline,get,list100,list500] [--corpus DIR] [--profile DIR]
//                                       [--accept 'application/graphql-response+json,application/json;q=0.9']
//   --accept VALUE: send this Accept header (as GraphQL clients do; none by default).
//   --profile DIR: a CPU profile and an allocation profile (heap sampling, collected objects
//                  included) of the gateway over the last round, per case (and per gateway with
//                  several), and the CPU profile's summary.
//   --heap-sampling no: the CPU profile only (heap sampling costs more CPU than the gateway's own work).
//   BENCH_GATEWAY_ARGS (environment): more Node.js options for the gateway process (e.g. --trace-gc).
//
// Run as a child of itself (`--serve KIND CORPUS`), it is the gateway.
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { constants, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Session } from 'node:inspector/promises';
import { GCProfiler } from 'node:v8';
import { Agent, request } from 'undici';
import { parse } from 'yaml';
import { createGateway } from '../src/gateway.ts';
import type { KubeCallObserver, KubeClient } from '../src/kube/kube-client.ts';
import type { GatewayPlugin } from '../src/plugins/gateway-plugin.ts';
import { parseKubernetesJson, stringifyJson } from '../src/kube/lossless-json.ts';
import { repoRoot } from '../src/local-cluster/build-launcher.ts';
import { crdFiles } from '../test/helpers/crd-corpus.ts';
import { productionPlugins } from './bench-gateway.ts';
import { answerBenchCommands } from './bench-ipc.ts';
import { machine, median, runConcurrently, shippedNodeOptions, summarizeProfile } from './bench-common.ts';

const { values: flags } = parseArgs({
  options: {
    rounds: { type: 'string', default: '7' },
    requests: { type: 'string', default: '2000' },
    'list-requests': { type: 'string', default: '200' },
    concurrency: { type: 'string', default: '16' },
    plugins: { type: 'string', default: 'none' },
    cases: { type: 'string', default: 'create,createInline,get' },
    corpus: { type: 'string', default: join(repoRoot, '..', 'shared', 'crds') },
    profile: { type: 'string' },
    'heap-sampling': { type: 'string', default: 'yes' },
    accept: { type: 'string' },
    serve: { type: 'string' },
  },
});

type Crd = { kind?: string; metadata: { name: string }; spec: { names: unknown }; status?: unknown };

/** The example CRDs and the corpus', as the apiserver lists them: Established, one of each name. */
export function crdObjects(corpus: string): Crd[] {
  const files = [join(repoRoot, 'deploy/examples/crontab-crd.yaml'), join(repoRoot, 'deploy/examples/clustercrontab-crd.yaml'), ...(existsSync(corpus) ? crdFiles(corpus) : [])];
  const byName = new Map<string, Crd>();
  for (const file of files) {
    for (const doc of readFileSync(file, 'utf8').split(/^---\s*$/m)) {
      const crd = parse(doc) as Crd | null;
      if (crd?.kind !== 'CustomResourceDefinition' || byName.has(crd.metadata.name)) continue;
      byName.set(crd.metadata.name, { ...crd, metadata: { ...crd.metadata, resourceVersion: '1' } as Crd['metadata'], status: { acceptedNames: crd.spec.names, conditions: [{ type: 'Established', status: 'True' }] } });
    }
  }
  return [...byName.values()];
}

/** A Kubernetes client that answers at once, through JSON text both ways as the real one. */
export function answeringClient(crds: Crd[]): KubeClient {
  let uid = 0;
  const crdList = stringifyJson({ kind: 'CustomResourceDefinitionList', apiVersion: 'apiextensions.k8s.io/v1', metadata: { resourceVersion: '1' }, items: crds });
  const stored = (name: string, namespace: string) => ({
    apiVersion: 'stable.example.com/v1', kind: 'CronTab',
    metadata: { name, namespace, uid: `uid-${name}`, resourceVersion: '1000', generation: 1, labels: { app: 'bench' }, creationTimestamp: '2026-12-04T00:00:00Z' },
    spec: { cronSpec: '*/5 * * * *', image: 'example/bench:1', replicas: 1 },
  });
  // The list's text per limit, made once: the real client reads the apiserver's text each time.
  const lists = new Map<number, string>();
  const listText = (namespace: string, limit: number) => {
    let text = lists.get(limit);
    if (text === undefined) {
      const items = Array.from({ length: Math.min(limit, 500) }, (_, i) => stored(`ct-${i}`, namespace));
      text = stringifyJson({ kind: 'CronTabList', apiVersion: 'stable.example.com/v1', metadata: { resourceVersion: '1000' }, items });
      lists.set(limit, text);
    }
    return text;
  };
  const answerOf = (method: string, path: string, opts: { body?: unknown; query?: { limit?: number } } = {}): unknown => {
    if (path.endsWith('/customresourcedefinitions')) return parseKubernetesJson(crdList);
    const m = /\/namespaces\/([^/]+)\/crontabs(?:\/([^/]+))?$/.exec(path);
    if (!m) throw new Error(`the benchmark's client cannot answer ${method} ${path}`);
    if (method === 'GET' && m[2]) return parseKubernetesJson(stringifyJson(stored(m[2], m[1]!)));
    if (method === 'GET') return parseKubernetesJson(listText(m[1]!, Number(opts.query?.limit ?? 500)));
    if (method === 'POST') {
      const body = parseKubernetesJson(stringifyJson(opts.body)) as { metadata: Record<string, unknown> };
      Object.assign(body.metadata, { namespace: m[1], uid: `uid-${++uid}`, resourceVersion: String(2000 + uid), generation: 1, creationTimestamp: '2026-12-04T00:00:00Z' });
      return parseKubernetesJson(stringifyJson(body));
    }
    throw new Error(`the benchmark's client cannot answer ${method} ${path}`);
  };
  const watch = (_path: string, opts: { signal?: AbortSignal }) => new Promise<void>((resolve) => opts.signal?.addEventListener('abort', () => resolve(), { once: true }));
  // Observers (KubeClient.observedBy) told in the call's own frame, as the real client tells them.
  const client = (observer: KubeCallObserver | undefined): KubeClient => {
    const request = async (method: string, path: string, opts?: { body?: unknown; query?: { limit?: number } }): Promise<unknown> => {
      const started = observer?.started(method, path);
      let body: unknown;
      try {
        body = answerOf(method, path, opts);
      } catch (err) {
        observer?.settled(started, method, err);
        throw err;
      }
      observer?.settled(started, method, undefined);
      return body;
    };
    const observedBy = (o: KubeCallObserver) => client(observer ? { started: (m: string, p: string) => [observer.started(m, p), o.started(m, p)], settled: (s: unknown[], m: string, e: unknown) => { observer.settled(s[0], m, e); o.settled(s[1], m, e); } } as KubeCallObserver : o);
    return { server: 'https://127.0.0.1:6443', request, watch, observedBy, close: async () => {} } as unknown as KubeClient;
  };
  return client(undefined);
}

/**
 * none: no plugins; production: bench-gateway's; production-no-NAME: those but the plugin named
 * NAME (its share); production-log-delay-MS: those with request lines written MS ms after the first
 * of a batch (--log-flush-delay).
 */
function pluginsOf(kind: string): GatewayPlugin[] {
  if (kind === 'none') return [];
  const without = /^production(?:-no-(.+)|-log-delay-(\d+))?$/.exec(kind);
  if (!without) throw new Error(`unknown gateway kind ${kind}: none, production, production-no-PLUGIN or production-log-delay-MS`);
  const plugins = productionPlugins(0.1, without[2] === undefined ? undefined : Number(without[2]));
  if (without[1] && !plugins.some((p) => p.name === without[1])) throw new Error(`no production plugin is named ${without[1]}`);
  return plugins.filter((p) => p.name !== without[1]);
}

async function serve(kind: string, corpus: string): Promise<void> {
  process.env.NODE_ENV = 'production';
  const gateway = await createGateway({ client: answeringClient(crdObjects(corpus)), explorer: false, plugins: pluginsOf(kind) });
  const server = await gateway.listen(0, '127.0.0.1');
  // Garbage collections, for the GC time per request (read with the CPU time).
  const gc = { ms: 0, major: 0 };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gc.ms += e.duration;
      if ((e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) gc.major++;
    }
  }).observe({ entryTypes: ['gc'] });
  // Bytes allocated over a batch: the heap's growth between collections, from V8's GC profiler.
  let profiler: GCProfiler | undefined;
  let session: Session | undefined;
  let heapAtStart = 0;
  process.on('message', (m: { id: number; cmd: string }) => {
    if (m.cmd === 'gc') process.send!({ id: m.id, value: { ...gc } });
    if (m.cmd === 'heap-sample-start') {
      void (async () => {
        session = new Session();
        session.connect();
        await session.post('HeapProfiler.startSampling', { samplingInterval: 512, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
        process.send!({ id: m.id, value: true });
      })();
    }
    if (m.cmd === 'heap-sample-stop') {
      void (async () => {
        const { profile } = await session!.post('HeapProfiler.stopSampling');
        session!.disconnect();
        writeFileSync((m as unknown as { file: string }).file, JSON.stringify(profile));
        process.send!({ id: m.id, value: true });
      })();
    }
    if (m.cmd === 'alloc-start') {
      heapAtStart = process.memoryUsage().heapUsed;
      (profiler = new GCProfiler()).start();
      process.send!({ id: m.id, value: true });
    }
    if (m.cmd === 'alloc-stop') {
      const heapAtEnd = process.memoryUsage().heapUsed;
      let allocated = 0;
      let after = heapAtStart;
      for (const s of profiler!.stop()?.statistics ?? []) {
        allocated += s.beforeGC.heapStatistics.usedHeapSize - after;
        after = s.afterGC.heapStatistics.usedHeapSize;
      }
      process.send!({ id: m.id, value: allocated + heapAtEnd - after });
    }
  });
  answerBenchCommands((server.address() as { port: number }).port, () => gateway.stop({ timeoutMs: 1000 }));
}

interface Gateway {
  url: string;
  child: ChildProcess;
  ask(cmd: string, extra?: Record<string, unknown>): Promise<unknown>;
}

async function startGateway(kind: string, corpus: string): Promise<Gateway> {
  const child = fork(new URL(import.meta.url).pathname, ['--serve', kind, '--corpus', corpus], {
    execArgv: ['--disable-warning=ExperimentalWarning', ...shippedNodeOptions(), ...(process.env.BENCH_GATEWAY_ARGS?.split(' ').filter(Boolean) ?? [])],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const waiting = new Map<number, (v: unknown) => void>();
  child.on('message', (m: { id: number; value: unknown }) => {
    waiting.get(m.id)?.(m.value);
    waiting.delete(m.id);
  });
  let ids = 0;
  const ask = (cmd: string, extra: Record<string, unknown> = {}) => new Promise<unknown>((resolve) => {
    const id = ++ids;
    waiting.set(id, resolve);
    child.send({ id, cmd, ...extra });
  });
  const { port } = await new Promise<{ port: number }>((resolve, reject) => {
    waiting.set(0, (v) => resolve(v as { port: number }));
    child.once('exit', (code) => reject(new Error(`the gateway exited (${code}) before serving`)));
  });
  // The work deferred after start (the type map's collection, the next change's preparation) runs
  // when the gateway is idle: measured batches start once it has used < 2% of a core for a second.
  for (let before = (await ask('cpu')) as number; ;) {
    await new Promise((r) => setTimeout(r, 1000));
    const now = (await ask('cpu')) as number;
    if (now - before < 20_000) break;
    before = now;
  }
  return { url: `http://127.0.0.1:${port}/graphql`, child, ask };
}

const selection = 'apiVersion kind metadata { name namespace uid resourceVersion generation labels creationTimestamp } spec { cronSpec image replicas }';
const spec = (i: number) => ({ cronSpec: '*/5 * * * *', image: `example/bench:${i}`, replicas: i % 5 });

/** One request of each case; `n` numbers the requests of the whole run (every inline text differs). */
const requests: Record<string, (n: number) => { query: string; variables?: Record<string, unknown>; check: (data: any) => boolean }> = {
  create: (n) => ({
    query: `mutation Create($input: CronTab_v1_stable_example_com_Input!) { createCronTab_stable_example_com(namespace: "bench-writes", input: $input) { ${selection} } }`,
    variables: { input: { metadata: { name: `w-${n}` }, spec: spec(n) } },
    check: (d) => d.createCronTab_stable_example_com?.metadata.name === `w-${n}`,
  }),
  createInline: (n) => {
    const s = spec(n);
    return {
      query: `mutation { createCronTab_stable_example_com(namespace: "bench-writes", input: { metadata: { name: ${JSON.stringify(`i-${n}`)} }, spec: { cronSpec: ${JSON.stringify(s.cronSpec)}, image: ${JSON.stringify(s.image)}, replicas: ${s.replicas} } }) { ${selection} } }`,
      check: (d) => d.createCronTab_stable_example_com?.metadata.name === `i-${n}`,
    };
  },
  get: (n) => ({
    query: `query Get($name: String!) { cronTab_stable_example_com(namespace: "bench", name: $name) { ${selection} } }`,
    variables: { name: `ct-${n % 500}` },
    check: (d) => d.cronTab_stable_example_com?.metadata.name === `ct-${n % 500}`,
  }),
  list100: () => list(100),
  list500: () => list(500),
};

function list(size: number): { query: string; check: (data: any) => boolean } {
  return {
    query: `{ cronTabList_stable_example_com(namespace: "bench", first: ${size}) { edges { node { ${selection} } } resourceVersion } }`,
    check: (d) => d.cronTabList_stable_example_com?.edges.length === size,
  };
}

interface Sample { cpuUs: number; gcUs: number; majorGcs: number; kbAllocated: number; rps: number; p50Ms: number }
interface GcCounts { ms: number; major: number }

async function main(): Promise<void> {
  const ROUNDS = Number(flags.rounds);
  const requestsOf = (name: string) => Number(name.startsWith('list') ? flags['list-requests'] : flags.requests);
  const CONCURRENCY = Number(flags.concurrency);
  const caseNames = flags.cases.split(',');
  for (const c of caseNames) if (!requests[c]) throw new Error(`no case ${c}; cases: ${Object.keys(requests).join(', ')}`);
  const kinds = flags.plugins.split(',');
  const gateways = new Map<string, Gateway>();
  try {
    for (const kind of kinds) gateways.set(kind, await startGateway(kind, flags.corpus));
  } catch (err) {
    // A gateway that did not start (an unknown kind): the ones already started would keep this process alive.
    for (const gateway of gateways.values()) gateway.child.kill();
    throw err;
  }
  const agent = new Agent({ connections: CONCURRENCY * 2 * kinds.length, keepAliveTimeout: 30_000 });
  let n = 0;
  const headers: Record<string, string> = { 'content-type': 'application/json', ...(flags.accept ? { accept: flags.accept } : {}) };
  const send = async (gateway: Gateway, name: string) => {
    const r = requests[name]!(n++);
    const res = await request(gateway.url, { method: 'POST', dispatcher: agent, headers, body: JSON.stringify({ query: r.query, variables: r.variables }) });
    const body = (await res.body.json()) as { data?: unknown; errors?: unknown };
    if (body.errors || !r.check(body.data)) throw new Error(`the gateway answered ${JSON.stringify(body).slice(0, 300)}`);
  };
  const results = new Map<string, Sample[]>();
  const modes = [1, CONCURRENCY];
  for (const gateway of gateways.values()) for (const name of caseNames) for (let i = 0; i < 300; i++) await send(gateway, name);
  for (let round = 0; round < ROUNDS; round++) {
    const profiling = flags.profile !== undefined && round === ROUNDS - 1;
    const order = round % 2 ? [...caseNames].reverse() : caseNames;
    // Which gateway goes first alternates too: neither always runs right after the other.
    const kindOrder = round % 2 ? [...kinds].reverse() : kinds;
    for (const conc of modes) {
      for (const name of order) {
        for (const kind of kindOrder) {
          const sample = await batch(gateways.get(kind)!, requestsOf(name), conc, () => send(gateways.get(kind)!, name),
            profiling ? join(flags.profile!, `${name}-c${conc}${kinds.length > 1 ? `-${kind}` : ''}`) : undefined);
          const key = `${name}|${conc}|${kind}`;
          results.set(key, [...(results.get(key) ?? []), sample]);
        }
      }
    }
    console.error(`[bench] round ${round + 1}/${ROUNDS} (load average ${loadavg().map((l) => l.toFixed(1)).join(' ')})`);
  }
  for (const gateway of gateways.values()) {
    await Promise.race([gateway.ask('stop'), new Promise((r) => setTimeout(r, 5000))]);
    gateway.child.kill();
  }
  await agent.close();
  console.log(report(caseNames, modes, kinds, results, ROUNDS));
  if (flags.profile) printProfiles(flags.profile, caseNames, modes, kinds);
}

/** One measured batch of N requests from `conc` loops: the gateway's CPU, GC and bytes per request; profiles into `profile`.* when given. */
async function batch(gateway: Gateway, N: number, conc: number, send: () => Promise<void>, profile: string | undefined): Promise<Sample> {
  if (profile) await gateway.ask('profile-start');
  // Sampling every 512 bytes records a stack ~100 times a request: the CPU profile is then mostly its own cost.
  const heapSampling = profile !== undefined && flags['heap-sampling'] !== 'no';
  if (heapSampling) await gateway.ask('heap-sample-start');
  const cpu0 = (await gateway.ask('cpu')) as number;
  const gc0 = (await gateway.ask('gc')) as GcCounts;
  await gateway.ask('alloc-start');
  const { wallMs, latencies } = await runConcurrently(N, conc, send);
  const cpu = (await gateway.ask('cpu')) as number - cpu0;
  const allocated = (await gateway.ask('alloc-stop')) as number;
  const gc1 = (await gateway.ask('gc')) as GcCounts;
  if (profile) {
    mkdirSync(flags.profile!, { recursive: true });
    await gateway.ask('profile-stop', { file: `${profile}.cpuprofile` });
    if (heapSampling) await gateway.ask('heap-sample-stop', { file: `${profile}.heapprofile` });
  }
  return { cpuUs: cpu / N, gcUs: ((gc1.ms - gc0.ms) * 1000) / N, majorGcs: gc1.major - gc0.major, kbAllocated: allocated / 1024 / N, rps: (N / wallMs) * 1000, p50Ms: median(latencies) };
}

function report(caseNames: string[], modes: number[], kinds: string[], results: Map<string, Sample[]>, rounds: number): string {
  const spread = (xs: number[], digits: number) => `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})`;
  const modeName = (conc: number) => (conc === 1 ? 'sequential' : `concurrency ${conc}`);
  const rows = modes.flatMap((conc) => caseNames.flatMap((name) => kinds.map((kind) => {
    const s = results.get(`${name}|${conc}|${kind}`)!;
    return `| ${name} |${kinds.length > 1 ? ` ${kind} |` : ''} ${modeName(conc)} | ${spread(s.map((x) => x.cpuUs), 0)} | ${spread(s.map((x) => x.gcUs), 0)} | ${spread(s.map((x) => x.majorGcs), 0)} | ${spread(s.map((x) => x.kbAllocated), 1)} | ${spread(s.map((x) => x.rps), 0)} | ${spread(s.map((x) => x.p50Ms), 3)} |`;
  })));
  const accept = flags.accept ? ` --accept '${flags.accept}'` : '';
  const table = `Gateway CPU per request, no control plane (\`node scripts/bench-new-documents.ts --plugins ${flags.plugins} --rounds ${rounds} --requests ${flags.requests} --list-requests ${flags['list-requests']}${accept}\`); ${machine()}; load average at the end ${loadavg().map((l) => l.toFixed(1)).join(' ')}. Median of ${rounds} rounds (lowest–highest).

| case |${kinds.length > 1 ? ' plugins |' : ''} mode | gateway CPU µs/req | GC µs/req (wall) | major GCs per batch | KiB allocated/req | req/s | p50 ms |
| --- |${kinds.length > 1 ? ' --- |' : ''} --- | ---: | ---: | ---: | ---: | ---: | ---: |
${rows.join('\n')}
`;
  return kinds.length > 1 ? `${table}\n${costReport(caseNames, modes, kinds, results)}` : table;
}

/** Each further kind against the first (none): per round, its CPU, bytes and throughput over the first's, as a cost in percent. */
function costReport(caseNames: string[], modes: number[], kinds: string[], results: Map<string, Sample[]>): string {
  const pct = (xs: number[]) => `${median(xs).toFixed(1)}% (${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)})`;
  const [base, ...others] = kinds;
  const rows = others.flatMap((kind) => modes.flatMap((conc) => caseNames.map((name) => {
    const b = results.get(`${name}|${conc}|${base}`)!;
    const o = results.get(`${name}|${conc}|${kind}`)!;
    const per = (f: (s: Sample) => number) => o.map((s, i) => (f(s) / f(b[i]!) - 1) * 100);
    const cpuUs = o.map((s, i) => s.cpuUs - b[i]!.cpuUs);
    return `| ${name} | ${kind} | ${conc === 1 ? 'sequential' : `concurrency ${conc}`} | ${median(cpuUs).toFixed(1)} (${Math.min(...cpuUs).toFixed(1)}–${Math.max(...cpuUs).toFixed(1)}) | ${pct(per((s) => s.cpuUs))} | ${pct(per((s) => s.kbAllocated))} | ${pct(b.map((s, i) => (s.rps / o[i]!.rps - 1) * 100))} | ${pct(per((s) => s.p50Ms))} |`;
  })));
  return `Cost of the plugins against \`${base}\`, per round (the two batches of a round run back to back), median of the rounds (lowest–highest):

| case | plugins | mode | extra CPU µs/req | CPU per request | bytes per request | throughput (${base}/x − 1) | p50 |
| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |
${rows.join('\n')}
`;
}

function printProfiles(dir: string, caseNames: string[], modes: number[], kinds: string[]): void {
  for (const conc of modes) {
    for (const name of caseNames) {
      for (const kind of kinds) {
        const base = join(dir, `${name}-c${conc}${kinds.length > 1 ? `-${kind}` : ''}`);
        const { functions, packages } = summarizeProfile(JSON.parse(readFileSync(`${base}.cpuprofile`, 'utf8')), 25);
        const lines = [`### ${name}${kinds.length > 1 ? `, ${kind}` : ''}, concurrency ${conc}`, '', ...functions.map(([k, p]) => `- ${(p * 100).toFixed(1)}% ${k}`), '', ...packages.map(([k, p]) => `- ${(p * 100).toFixed(1)}% ${k}`), ''];
        writeFileSync(`${base}.txt`, lines.join('\n'));
      }
    }
  }
  console.log(`profiles and their summaries in ${dir}`);
}

if (import.meta.main) {
  if (flags.serve) await serve(flags.serve, flags.corpus);
  else await main();
}
