// Benchmark (not a test): the request path, in one run on one control plane. Four paths:
//   direct      the apiserver, with the client class and agent the gateway uses (JSON parsed);
//   node proxy  the floor: a plain Node.js HTTP server in its own process that makes the same
//               single apiserver call with the same client and wraps its answer as GraphQL data,
//               without GraphQL (scripts/bench-node-proxy.ts): one more Node.js HTTP hop;
//   crdgate     the gateway without plugins, in its own process (scripts/bench-gateway.ts);
//   production  the gateway with the production plugins, in its own process;
// five operations (get by name, list of 100, list of 500, create, merge patch), each sequential
// and from 16 concurrent loops, repeated for --runs runs. Within a run, each case's batch is cut
// into --slices slices and the paths take turns slice by slice (in rotating order).
// Every figure is the median of the runs, with the spread (lowest–highest) beside it. Prints a
// markdown section and appends it to BENCHMARKS.md.
//
//   node scripts/bench-operations.ts [--runs 5] [--requests 1000] [--list-requests 200] [--concurrency 16] [--slices 10]
//                                    [--profile DIR] [--cases get,list100,...] [--corpus DIR] [--no-append]
//   --profile DIR: a CPU profile of each gateway process (and of the node proxy) over the measured
//                  requests of the last run.
//   --corpus DIR: also install every CRD of the real-CRD corpus in DIR before the gateways start,
//                 so that they serve (and validate against) a schema of that size.
//   Case createInline: the create mutation with its values inline in the document (a new document
//   for every request, as many clients write them) instead of variables.
import { fork, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { Agent, request } from 'undici';
import { KubeClient } from '../src/kube/kube-client.ts';
import { buildLauncher, repoRoot } from '../src/local-cluster/build-launcher.ts';
import { installExampleCrds, readManifests, waitForCrdsEstablished } from '../src/local-cluster/install-examples.ts';
import { launchCluster } from '../src/local-cluster/launch-cluster.ts';
import { machine, median, runConcurrently, shippedNodeOptions, stats, summarizeProfile, type Stats } from './bench-common.ts';

const { values: flags } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    requests: { type: 'string', default: '1000' },
    'list-requests': { type: 'string', default: '200' },
    concurrency: { type: 'string', default: '16' },
    warmup: { type: 'string', default: '100' },
    slices: { type: 'string', default: '10' },
    cases: { type: 'string', default: 'get,list100,list500,create,patch' },
    profile: { type: 'string' },
    'no-append': { type: 'boolean', default: false },
    corpus: { type: 'string' },
  },
});
const RUNS = Number(flags.runs);
const CONCURRENCY = Number(flags.concurrency);
const WARMUP = Number(flags.warmup);
const SLICES = Number(flags.slices);
const OBJECTS = 500;
const ns = 'bench';
const writeNs = 'bench-writes';
const say = (m: string) => console.error(`[bench] ${m}`);

type PathName = 'direct' | 'node proxy' | 'crdgate' | 'production';
const pathNames: readonly PathName[] = ['direct', 'node proxy', 'crdgate', 'production'];
type Mode = 'sequential' | `concurrency ${number}`;
const modes: readonly Mode[] = ['sequential', `concurrency ${CONCURRENCY}`];

interface Case {
  readonly label: string;
  readonly n: number;
  /** One request along a path; `i` numbers the requests of a batch. */
  run(path: PathName, i: number): Promise<void>;
  /** Untimed, after each batch (writes remove what they created). */
  reset?(): Promise<void>;
  /** The node proxy cannot answer it (values inline in the document would need a GraphQL parser). */
  noProxy?: boolean;
}

interface GatewayProcess {
  url: string;
  child: ChildProcess;
  ask(cmd: string, extra?: Record<string, unknown>): Promise<unknown>;
}

async function startGateway(kubeconfig: string, plugins: 'none' | 'production' | 'node proxy'): Promise<GatewayProcess> {
  // Production mode, as bin/crdgate.js sets it: graphql-js and Express take their fast paths. The
  // young generation capped as npm start, the Helm chart and the kustomize base run the gateway.
  // (This process runs the TypeScript sources through Node.js' type stripping, about 28 MiB of RSS
  // that a built crdgate does not carry.) The node proxy runs with the same settings.
  const script = plugins === 'node proxy' ? 'bench-node-proxy.ts' : 'bench-gateway.ts';
  const child = fork(join(repoRoot, 'scripts', script), plugins === 'node proxy' ? [kubeconfig] : [kubeconfig, '--plugins', plugins], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: { ...process.env, NODE_ENV: 'production' },
    execArgv: [...process.execArgv, ...shippedNodeOptions()],
  });
  const waiting = new Map<number, (v: unknown) => void>();
  let next = 1;
  const port = await new Promise<number>((resolve, reject) => {
    child.on('message', (m: { id: number; value: unknown }) => {
      if (m.id === 0) resolve((m.value as { port: number }).port);
      waiting.get(m.id)?.(m.value);
      waiting.delete(m.id);
    });
    child.once('exit', (code) => reject(new Error(`the ${plugins} gateway exited with ${code}`)));
  });
  const ask = (cmd: string, extra: Record<string, unknown> = {}) => new Promise<unknown>((resolve) => {
    const id = next++;
    waiting.set(id, resolve);
    child.send({ id, cmd, ...extra });
  });
  return { url: `http://127.0.0.1:${port}/graphql`, child, ask };
}

const objectSelection = 'apiVersion kind metadata { name namespace uid resourceVersion generation labels creationTimestamp } spec { cronSpec image replicas }';
const base = `/apis/stable.example.com/v1/namespaces/${ns}/crontabs`;
const writeBase = `/apis/stable.example.com/v1/namespaces/${writeNs}/crontabs`;
const nameOf = (i: number) => `ct-${String(i % OBJECTS).padStart(4, '0')}`;
const spec = (i: number) => ({ cronSpec: '*/5 * * * *', image: `example/bench:${i}`, replicas: i % 5 });

function cases(direct: KubeClient, graphql: (path: PathName, query: string, variables?: Record<string, unknown>) => Promise<any>): Record<string, Case> {
  const N = Number(flags.requests);
  const NL = Number(flags['list-requests']);
  let batch = 0;
  const list = (size: number, n: number): Case => ({
    label: `list of ${size}`, n,
    run: async (path) => {
      const items = path === 'direct'
        ? (await direct.request<{ items: unknown[] }>('GET', base, { query: { limit: size } })).items
        : (await graphql(path, `{ cronTabList_stable_example_com(namespace: "${ns}", first: ${size}) { edges { node { ${objectSelection} } } resourceVersion } }`)).cronTabList_stable_example_com.edges;
      if (items.length !== size) throw new Error(`short list: ${items.length}`);
    },
  });
  return {
    get: {
      label: 'get', n: N,
      run: async (path, i) => {
        const o = path === 'direct'
          ? await direct.request<{ metadata: { name: string } }>('GET', `${base}/${nameOf(i)}`)
          : (await graphql(path, `query Get($name: String!) { cronTab_stable_example_com(namespace: "${ns}", name: $name) { ${objectSelection} } }`, { name: nameOf(i) })).cronTab_stable_example_com;
        if (o?.metadata.name !== nameOf(i)) throw new Error('wrong object');
      },
    },
    list100: list(100, NL),
    list500: list(500, Math.ceil(NL / 2)),
    create: {
      label: 'create', n: Math.ceil(N / 2),
      run: async (path, i) => {
        const name = `w${batch}-${i}`;
        const o = path === 'direct'
          ? await direct.request<{ metadata: { name: string } }>('POST', writeBase, { body: { apiVersion: 'stable.example.com/v1', kind: 'CronTab', metadata: { name }, spec: spec(i) } })
          : (await graphql(path, `mutation Create($input: CronTab_v1_stable_example_com_Input!) { createCronTab_stable_example_com(namespace: "${writeNs}", input: $input) { ${objectSelection} } }`,
            { input: { metadata: { name }, spec: spec(i) } })).createCronTab_stable_example_com;
        if (o?.metadata.name !== name) throw new Error('wrong object');
      },
      reset: async () => {
        batch++;
        await direct.request('DELETE', writeBase);
      },
    },
    createInline: {
      label: 'create, values inline', n: Math.ceil(N / 2),
      run: async (path, i) => {
        const name = `i${batch}-${i}`;
        const s = spec(i);
        const o = path === 'direct'
          ? await direct.request<{ metadata: { name: string } }>('POST', writeBase, { body: { apiVersion: 'stable.example.com/v1', kind: 'CronTab', metadata: { name }, spec: s } })
          : (await graphql(path, `mutation { createCronTab_stable_example_com(namespace: "${writeNs}", input: { metadata: { name: ${JSON.stringify(name)} }, spec: { cronSpec: ${JSON.stringify(s.cronSpec)}, image: ${JSON.stringify(s.image)}, replicas: ${s.replicas} } }) { ${objectSelection} } }`))
            .createCronTab_stable_example_com;
        if (o?.metadata.name !== name) throw new Error('wrong object');
      },
      reset: async () => {
        batch++;
        await direct.request('DELETE', writeBase);
      },
      noProxy: true,
    },
    patch: {
      label: 'merge patch', n: Math.ceil(N / 2),
      run: async (path, i) => {
        const patch = { spec: { replicas: (i * 7 + batch) % 10 } };
        const o = path === 'direct'
          ? await direct.request<{ spec: { replicas: number } }>('PATCH', `${base}/${nameOf(i)}`, { body: patch, contentType: 'application/merge-patch+json' })
          : (await graphql(path, `mutation Patch($name: String!, $patch: CronTab_v1_stable_example_com_Input!) { patchCronTab_stable_example_com(namespace: "${ns}", name: $name, type: MERGE, patch: $patch) { ${objectSelection} } }`,
            { name: nameOf(i), patch })).patchCronTab_stable_example_com;
        if (o?.spec.replicas !== patch.spec.replicas) throw new Error('patch not applied');
      },
      reset: async () => {
        batch++;
      },
    },
  };
}

/** A batch's latencies and throughput, and the CPU time per request of each process involved. */
interface Sample extends Stats {
  /** ms of CPU per request: the gateway process (none on the direct path), the apiserver, this process (the client). */
  cpu: { gateway: number; apiserver: number; client: number };
}

/** CPU time of the control plane process (apiserver and etcd), in ms. */
function apiserverCpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  // utime and stime (fields 14 and 15 of stat; 12 and 13 after the command) are in clock ticks of 10 ms.
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** One path's share of a batch so far: its latencies, wall time and CPU (ms) of each process. */
interface Tally { latencies: number[]; wallMs: number; gateway: number; apiserver: number; client: number; next: number }

/**
 * A case in one mode along every path, the batch cut into --slices slices that take turns (the
 * paths' order rotating from slice to slice), so that what else the machine does in those seconds
 * falls on every path alike: a path measured as one block of a few seconds after another caught
 * other work on the machine for itself, by far the largest part of a run's spread.
 */
async function measurePaths(c: Case, mode: Mode, paths: readonly PathName[], processOf: (p: PathName) => GatewayProcess | undefined, apiserverPid: number): Promise<Map<PathName, Sample>> {
  const tallies = new Map<PathName, Tally>(paths.map((p) => [p, { latencies: [], wallMs: 0, gateway: 0, apiserver: 0, client: 0, next: 0 }]));
  for (const path of paths) {
    const t = tallies.get(path)!;
    for (let w = 0; w < Math.min(WARMUP, c.n); w++) await c.run(path, t.next++);
    await c.reset?.();
  }
  const slices = Math.max(1, Math.min(SLICES, c.n));
  for (let s = 0; s < slices; s++) {
    const size = Math.floor((c.n * (s + 1)) / slices) - Math.floor((c.n * s) / slices);
    for (let k = 0; k < paths.length; k++) {
      const path = paths[(k + s) % paths.length]!;
      await measureSlice(c, path, mode, size, tallies.get(path)!, processOf(path), apiserverPid);
    }
  }
  return new Map([...tallies].map(([p, t]) => [p, {
    ...stats(t.latencies, t.wallMs),
    cpu: { gateway: t.gateway / c.n, apiserver: t.apiserver / c.n, client: t.client / c.n },
  }]));
}

async function measureSlice(c: Case, path: PathName, mode: Mode, n: number, t: Tally, gateway: GatewayProcess | undefined, apiserverPid: number): Promise<void> {
  const conc = Math.min(n, mode === 'sequential' ? 1 : CONCURRENCY);
  const gw0 = gateway ? (await gateway.ask('cpu')) as number : 0;
  const api0 = apiserverCpuMs(apiserverPid);
  const client0 = process.cpuUsage();
  const { latencies, wallMs } = await runConcurrently(n, conc, () => c.run(path, t.next++));
  const client = process.cpuUsage(client0);
  t.apiserver += apiserverCpuMs(apiserverPid) - api0;
  t.gateway += gateway ? ((await gateway.ask('cpu')) as number - gw0) / 1000 : 0;
  t.client += (client.user + client.system) / 1000;
  for (const l of latencies) t.latencies.push(l);
  t.wallMs += wallMs;
  await c.reset?.();
}

/** Every CRD under dir (server-side apply, a later file of the same name replacing an earlier one), once Established. */
async function installCorpus(kc: KubeConfig, dir: string): Promise<number> {
  const client = new KubeClient(kc);
  const files = (readdirSync(dir, { recursive: true }) as string[]).filter((f) => /\.ya?ml$/.test(f)).sort();
  const names = new Set<string>();
  for (const file of files) {
    const full = join(dir, file);
    for (const crd of readManifests(dirname(full), (f) => f === basename(full)).filter((o) => o.kind === 'CustomResourceDefinition')) {
      const name = crd.metadata!.name!;
      try {
        await client.request('PATCH', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`, {
          query: { fieldManager: 'crdgate-bench', force: true }, body: crd, contentType: 'application/apply-patch+yaml',
        });
        names.add(name);
      } catch (err) {
        say(`${file}: ${name} not installed: ${(err as Error).message}`);
      }
    }
  }
  await waitForCrdsEstablished(kc, [...names], 120_000);
  return names.size;
}

type Results = Map<string, Sample[]>;
const keyOf = (label: string, mode: Mode, path: PathName) => `${label}|${mode}|${path}`;

const stateDir = mkdtempSync(join(tmpdir(), 'crdgate-bench-'));
const build = await buildLauncher({ log: say });
say(`control plane built in ${build.seconds.toFixed(1)} s`);
const cluster = await launchCluster({ dataDir: join(stateDir, 'cluster'), logFile: join(stateDir, 'cluster.log') });
const gateways: GatewayProcess[] = [];
let exitCode = 0;
let corpusCount = 0;
try {
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.info.kubeconfig);
  await installExampleCrds(kc);
  if (flags.corpus) {
    corpusCount = await installCorpus(kc, flags.corpus);
    say(`${corpusCount} corpus CRDs installed`);
  }
  const direct = new KubeClient(kc);
  for (const name of [ns, writeNs]) await direct.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name } } });
  for (let i = 0; i < OBJECTS; i += 50) {
    await Promise.all(Array.from({ length: Math.min(50, OBJECTS - i) }, (_, j) => direct.request('POST', base, {
      body: { apiVersion: 'stable.example.com/v1', kind: 'CronTab', metadata: { name: nameOf(i + j), labels: { app: 'bench', shard: String((i + j) % 8) } }, spec: spec(i + j) },
    })));
  }
  say(`${OBJECTS} CronTabs created in namespace ${ns}`);
  const plain = await startGateway(cluster.info.kubeconfig, 'none');
  const production = await startGateway(cluster.info.kubeconfig, 'production');
  const proxy = await startGateway(cluster.info.kubeconfig, 'node proxy');
  gateways.push(plain, production, proxy);
  const memory: Memory = { idle: await memoryOf(gateways.slice(0, 2)), loaded: [] };
  const urls: Record<Exclude<PathName, 'direct'>, string> = { 'node proxy': proxy.url, crdgate: plain.url, production: production.url };
  const processOf: Record<Exclude<PathName, 'direct'>, GatewayProcess> = { 'node proxy': proxy, crdgate: plain, production };
  // Keep-alive to the gateway, like the gateway's own client to the apiserver.
  const agent = new Agent({ connections: CONCURRENCY * 2, keepAliveTimeout: 30_000 });
  const graphql = async (path: PathName, query: string, variables?: Record<string, unknown>) => {
    // undici's request rather than fetch: the lightest HTTP client at hand, as the direct path's is.
    const res = await request(urls[path as keyof typeof urls], { method: 'POST', dispatcher: agent, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
    const body = (await res.body.json()) as { data?: Record<string, any>; errors?: unknown[] };
    if (body.errors || !body.data) throw new Error(`gateway answered ${JSON.stringify(body).slice(0, 300)}`);
    return body.data;
  };
  const all = cases(direct, graphql);
  const chosen = flags.cases.split(',').map((k) => {
    if (!all[k]) throw new Error(`no case ${k}; cases: ${Object.keys(all).join(', ')}`);
    return all[k];
  });
  const results: Results = new Map();
  for (let run = 0; run < RUNS; run++) {
    const profiling = flags.profile !== undefined && run === RUNS - 1;
    if (profiling) for (const g of gateways) await g.ask('profile-start');
    for (const c of chosen) {
      for (const mode of modes) {
        // Each run starts with another path, so drift over a run hits every path alike.
        const paths = pathNames.map((_, k) => pathNames[(k + run) % pathNames.length]!).filter((p) => !(p === 'node proxy' && c.noProxy));
        const samples = await measurePaths(c, mode, paths, (p) => (p === 'direct' ? undefined : processOf[p]), cluster.info.pid);
        for (const [path, s] of samples) {
          const key = keyOf(c.label, mode, path);
          results.set(key, [...(results.get(key) ?? []), s]);
        }
      }
    }
    if (profiling) {
      mkdirSync(flags.profile!, { recursive: true });
      for (const [name, g] of [['crdgate', plain], ['production', production], ['node-proxy', proxy]] as const) await g.ask('profile-stop', { file: join(flags.profile!, `${name}.cpuprofile`) });
    }
    say(`run ${run + 1}/${RUNS} done (load average ${loadavg().map((l) => l.toFixed(1)).join(' ')})`);
  }
  memory.loaded = await memoryOf(gateways.slice(0, 2));
  const section = report(chosen, results, flags.profile, memory);
  console.log(section);
  if (!flags['no-append']) {
    appendFileSync(join(repoRoot, 'BENCHMARKS.md'), section);
    say('appended to BENCHMARKS.md');
  }
  await agent.close();
  await direct.close();
} catch (err) {
  console.error(`[bench] failed: ${(err as Error).stack ?? err}`);
  exitCode = 1;
} finally {
  for (const g of gateways) {
    await Promise.race([g.ask('stop'), new Promise((r) => setTimeout(r, 5000))]);
    g.child.kill();
  }
  await cluster.stop();
  rmSync(stateDir, { recursive: true, force: true });
}
process.exit(exitCode);

interface Memory {
  /** Heap and RSS of each gateway (crdgate, production) after start and a full GC, before any request. */
  idle: { heap: number; rss: number }[];
  /** The same after every run. */
  loaded: { heap: number; rss: number }[];
}

async function memoryOf(gateways: readonly GatewayProcess[]): Promise<Memory['idle']> {
  return Promise.all(gateways.map(async (g) => (await g.ask('memory')) as { heap: number; rss: number }));
}

function memoryTable(m: Memory): string {
  const mib = (n: number) => (n / 2 ** 20).toFixed(1);
  return ['crdgate', 'production'].map((name, i) => `| ${name} | ${mib(m.idle[i]!.heap)} | ${mib(m.idle[i]!.rss)} | ${mib(m.loaded[i]!.heap)} | ${mib(m.loaded[i]!.rss)} |`).join('\n');
}

function report(chosen: readonly Case[], results: Results, profileDir: string | undefined, memory: Memory): string {
  const f = (n: number, d = 2) => n.toFixed(d);
  const spread = (xs: number[], d = 2) => `${f(Math.min(...xs), d)}–${f(Math.max(...xs), d)}`;
  const rows: string[] = [];
  const ratios: string[] = [];
  for (const c of chosen) {
    for (const mode of modes) {
      const of = (p: PathName) => results.get(keyOf(c.label, mode, p))!;
      for (const p of pathNames) {
        const s = of(p);
        if (!s) continue;
        const cpu = (k: keyof Sample['cpu']) => f(median(s.map((x) => x.cpu[k])));
        rows.push(`| ${c.label} | ${mode} | ${p} | ${s[0]!.n} | ${f(median(s.map((x) => x.p50)))} (${spread(s.map((x) => x.p50))}) | ${f(median(s.map((x) => x.p99)))} | ${f(median(s.map((x) => x.rps)), 0)} (${spread(s.map((x) => x.rps), 0)}) | ${p === 'direct' ? '' : cpu('gateway')} | ${cpu('apiserver')} | ${cpu('client')} |`);
      }
      // Ratios per run, then their median: each run's paths ran back to back.
      const per = (fn: (i: number) => number) => of('direct').map((_, i) => fn(i));
      const gwP50 = per((i) => of('crdgate')[i]!.p50 / of('direct')[i]!.p50);
      const gwTput = per((i) => of('direct')[i]!.rps / of('crdgate')[i]!.rps);
      const prP50 = per((i) => of('production')[i]!.p50 / of('direct')[i]!.p50);
      const prTput = per((i) => of('direct')[i]!.rps / of('production')[i]!.rps);
      const plugTput = per((i) => (of('crdgate')[i]!.rps / of('production')[i]!.rps - 1) * 100);
      const plugP50 = per((i) => (of('production')[i]!.p50 / of('crdgate')[i]!.p50 - 1) * 100);
      const plugCpu = per((i) => (of('production')[i]!.cpu.gateway / of('crdgate')[i]!.cpu.gateway - 1) * 100);
      const x = (r: number[]) => `${f(median(r))}× (${spread(r)})`;
      // The floor: the node proxy against direct, and crdgate against the node proxy (p50, time per request, gateway CPU).
      const floor = of('node proxy') ? [
        per((i) => of('node proxy')[i]!.p50 / of('direct')[i]!.p50), per((i) => of('direct')[i]!.rps / of('node proxy')[i]!.rps),
        per((i) => of('crdgate')[i]!.p50 / of('node proxy')[i]!.p50), per((i) => of('node proxy')[i]!.rps / of('crdgate')[i]!.rps),
        per((i) => of('crdgate')[i]!.cpu.gateway / of('node proxy')[i]!.cpu.gateway),
      ].map(x) : ['', '', '', '', ''];
      ratios.push(`| ${c.label} | ${mode} | ${x(gwP50)} | ${x(gwTput)} | ${x(prP50)} | ${x(prTput)} | ${f(median(plugTput), 1)}% (${spread(plugTput, 1)}) | ${f(median(plugP50), 1)}% (${spread(plugP50, 1)}) | ${f(median(plugCpu), 1)}% (${spread(plugCpu, 1)}) | ${floor.join(' | ')} |`);
    }
  }
  const inline = chosen.some((c) => c.label === 'create') && chosen.some((c) => c.label === 'create, values inline') ? modes.flatMap((mode) => (['crdgate', 'production'] as const).map((p) => {
    const withVariables = results.get(keyOf('create', mode, p))!;
    const r = results.get(keyOf('create, values inline', mode, p))!.map((s, i) => s.rps / withVariables[i]!.rps);
    return `| ${mode} | ${p} | ${f(median(r))}× (${spread(r)}) |`;
  })) : [];
  const profiles = profileDir ? ['crdgate', 'production', 'node-proxy'].map((name) => {
    const s = summarizeProfile(JSON.parse(readFileSync(join(profileDir, `${name}.cpuprofile`), 'utf8')));
    return `CPU profile of the ${name} gateway process over the last run (busy ${f(s.busy * 100, 0)}% of the time); self time:\n\n${s.functions.map(([k, x]) => `- ${f(x * 100, 1)}% ${k}`).join('\n')}\n\nBy package or file:\n\n${s.packages.map(([k, x]) => `- ${f(x * 100, 1)}% ${k}`).join('\n')}\n`;
  }).join('\n') : '';
  return `
## Operations: direct, a plain Node proxy, crdgate, crdgate with production plugins (${new Date().toISOString().slice(0, 10)})

\`node scripts/bench-operations.ts ${process.argv.slice(2).join(' ')}\`; ${machine()}; load average at the end ${loadavg().map((l) => l.toFixed(1)).join(' ')}.
kube-apiserver ${cluster.info.version.split(' ')[1] ?? cluster.info.version} (local control plane, embedded etcd), ${OBJECTS} CronTabs in one namespace${corpusCount ? `; the example CRDs and ${corpusCount} real CRDs of the corpus installed and served` : ''}. Direct: KubeClient (the gateway's
client class and agent), JSON parsed. Node proxy: the floor, a plain Node.js HTTP server in its own process making the same apiserver
call with the same client and answering its JSON as \`{"data":{...}}\` without GraphQL (scripts/bench-node-proxy.ts; not for values
inline). crdgate: the gateway in its own process without plugins; production: with metrics, tracing of 10%
of the requests, request logs, APQ, query limits and rate limits (scripts/bench-gateway.ts). GraphQL POST over HTTP keep-alive with
variables, selecting apiVersion, kind, metadata (name, namespace, uid, resourceVersion, generation, labels, creationTimestamp) and
spec. Warm-up ${WARMUP} requests per path; each batch is cut into ${SLICES} slices that the paths take in turns. Median of ${RUNS} runs, lowest–highest in brackets. CPU ms/req: CPU time (user + system) of
the gateway (or node proxy) process, the control plane process (apiserver and etcd, 10 ms ticks) and the load generator over the batch, per request;
steadier than latency on a shared machine.

| request | mode | path | requests/run | p50 ms | p99 ms | req/s | CPU ms/req: gateway | apiserver | client |
| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
${rows.join('\n')}

Ratios (median of the per-run ratios; targets: get ≤ 1.2×, list ≤ 1.3× in p50 and time per request; plugins ≤ 5%; the last five
columns: the node proxy against direct, and crdgate against the node proxy, the floor of any Node.js gateway):

| request | mode | crdgate/direct p50 | crdgate/direct time/req | production/direct p50 | production/direct time/req | plugins: throughput cost | plugins: p50 cost | plugins: gateway CPU cost | proxy/direct p50 | proxy/direct time/req | crdgate/proxy p50 | crdgate/proxy time/req | crdgate/proxy CPU |
| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
${ratios.join('\n')}
${inline.length ? `\nCreate with the values inline in the document (a new document each request) against the same with variables, gateway throughput (target ≥ 0.9×):\n\n| mode | path | inline/variables req/s |\n| --- | --- | ---: |\n${inline.join('\n')}\n` : ''}
Memory of each gateway process (MiB, after a full GC): idle after start (the CRDs served, no request yet), and after all runs.

| gateway | heap idle | RSS idle | heap after the runs | RSS after the runs |
| --- | ---: | ---: | ---: | ---: |
${memoryTable(memory)}
${profiles ? `\n${profiles}` : ''}`;
}
