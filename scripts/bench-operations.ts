// Benchmark (not a test): get-by-name and a list of 500 CronTabs through the gateway (GraphQL over
// HTTP) against the same request sent straight to the apiserver with the same client (KubeClient,
// same agent), in the same run on the same machine. Starts its own control plane, prints a
// markdown table and appends it to BENCHMARKS.md.
//
//   node scripts/bench-operations.ts [--requests N] [--list-requests N] [--concurrency C]
//   node --cpu-prof --cpu-prof-dir=.state/prof scripts/bench-operations.ts   (where the time goes)
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { Agent } from 'undici';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { KubeClient } from '../src/kube/kube-client.ts';
import { buildLauncher, repoRoot } from '../src/local-cluster/build-launcher.ts';
import { installExampleCrds } from '../src/local-cluster/install-examples.ts';
import { launchCluster } from '../src/local-cluster/launch-cluster.ts';
import { machine, runConcurrently, stats, type Stats } from './bench-common.ts';

const { values: flags } = parseArgs({
  options: {
    requests: { type: 'string', default: '2000' },
    'list-requests': { type: 'string', default: '200' },
    concurrency: { type: 'string', default: '16' },
    warmup: { type: 'string', default: '200' },
    'no-append': { type: 'boolean', default: false },
  },
});
const N_GET = Number(flags.requests);
const N_LIST = Number(flags['list-requests']);
const CONCURRENCY = Number(flags.concurrency);
const WARMUP = Number(flags.warmup);
const OBJECTS = 500;
const ns = 'bench';
const say = (m: string) => console.error(`[bench] ${m}`);

async function sequential(n: number, fn: () => Promise<void>): Promise<Stats> {
  const lat: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const s = performance.now();
    await fn();
    lat.push(performance.now() - s);
  }
  return stats(lat, performance.now() - t0);
}

async function concurrent(n: number, c: number, fn: () => Promise<void>): Promise<Stats> {
  const { latencies, wallMs } = await runConcurrently(n, c, fn);
  return stats(latencies, wallMs);
}

const stateDir = mkdtempSync(join(tmpdir(), 'crdgate-bench-'));
const build = await buildLauncher({ log: say });
say(`control plane built in ${build.seconds.toFixed(1)} s`);
const cluster = await launchCluster({ dataDir: join(stateDir, 'cluster'), logFile: join(stateDir, 'cluster.log') });
let exitCode = 0;
let gatewayProcess: ChildProcess | undefined;
try {
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.info.kubeconfig);
  await installExampleCrds(kc);
  const direct = new KubeClient(kc);
  await direct.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } } });
  const base = `/apis/stable.example.com/v1/namespaces/${ns}/crontabs`;
  for (let i = 0; i < OBJECTS; i += 50) {
    await Promise.all(Array.from({ length: Math.min(50, OBJECTS - i) }, (_, j) => direct.request('POST', base, {
      body: { apiVersion: 'stable.example.com/v1', kind: 'CronTab', metadata: { name: `ct-${String(i + j).padStart(4, '0')}`, labels: { app: 'bench', shard: String((i + j) % 8) } },
        spec: { cronSpec: '*/5 * * * *', image: `example/bench:${i + j}`, replicas: (i + j) % 5 } },
    })));
  }
  say(`${OBJECTS} CronTabs created in namespace ${ns}`);

  // The gateway runs as users run it: its own process (production mode, no tenants), so its work
  // and the load generator's do not share one event loop.
  gatewayProcess = spawn(process.execPath, [join(repoRoot, 'bin', 'crdgate.js'), 'serve', '--kubeconfig', cluster.info.kubeconfig, '--port', '0', '--tenants', 'none'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: gatewayProcess!.stdout! }).on('line', (line) => {
      const m = /GraphQL API at (http:\/\/\S+\/graphql)/.exec(line);
      if (m) resolve(m[1]!);
    });
    gatewayProcess!.on('exit', (code) => reject(new Error(`the gateway exited with ${code}`)));
  });
  // Keep-alive to the gateway, like the gateway's own client to the apiserver.
  const agent = new Agent({ connections: CONCURRENCY * 2, keepAliveTimeout: 30_000 });
  const { fetch: ufetch } = await import('undici');

  const objectSelection = 'apiVersion kind metadata { name namespace uid resourceVersion generation labels creationTimestamp } spec { cronSpec image replicas }';
  const getQuery = `query($name: String!) { cronTab_stable_example_com(namespace: "${ns}", name: $name) { ${objectSelection} } }`;
  const listQuery = `{ cronTabList_stable_example_com(namespace: "${ns}", first: ${OBJECTS}) { edges { node { ${objectSelection} } } resourceVersion } }`;
  const graphql = async (query: string, variables?: Record<string, unknown>, expectItems?: number) => {
    const res = await ufetch(url, { method: 'POST', dispatcher: agent, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
    const body = (await res.json()) as { data?: Record<string, any>; errors?: unknown[] };
    if (body.errors || !body.data) throw new Error(`gateway answered ${JSON.stringify(body).slice(0, 300)}`);
    if (expectItems !== undefined && body.data.cronTabList_stable_example_com.edges.length !== expectItems) throw new Error('short list');
  };
  let k = 0;
  const name = () => `ct-${String(k++ % OBJECTS).padStart(4, '0')}`;
  const cases = {
    get: {
      gateway: () => graphql(getQuery, { name: name() }),
      direct: async () => {
        const o = await direct.request<{ metadata: { name: string } }>('GET', `${base}/${name()}`);
        if (!o.metadata.name) throw new Error('no object');
      },
      n: N_GET,
    },
    [`list of ${OBJECTS}`]: {
      gateway: () => graphql(listQuery, undefined, OBJECTS),
      direct: async () => {
        const l = await direct.request<{ items: unknown[] }>('GET', base);
        if (l.items.length !== OBJECTS) throw new Error('short list');
      },
      n: N_LIST,
    },
  };

  const rows: string[] = [];
  const summary: string[] = [];
  for (const [label, c] of Object.entries(cases)) {
    for (const [who, fn] of [['direct', c.direct], ['gateway', c.gateway]] as const) {
      for (let i = 0; i < Math.min(WARMUP, c.n); i++) await fn();
      say(`${label}: ${who} warmed up`);
    }
    const seq = { direct: await sequential(c.n, c.direct), gateway: await sequential(c.n, c.gateway) };
    const par = { direct: await concurrent(c.n, CONCURRENCY, c.direct), gateway: await concurrent(c.n, CONCURRENCY, c.gateway) };
    for (const [mode, r] of [['sequential', seq], [`concurrency ${CONCURRENCY}`, par]] as const) {
      const ratio = r.gateway.p50 / r.direct.p50;
      const ratio99 = r.gateway.p99 / r.direct.p99;
      const tput = r.direct.rps / r.gateway.rps;
      for (const who of ['direct', 'gateway'] as const) {
        const s = r[who];
        rows.push(`| ${label} | ${mode} | ${who} | ${s.n} | ${s.p50.toFixed(2)} | ${s.p99.toFixed(2)} | ${s.rps.toFixed(0)} | ${who === 'gateway' ? `${ratio.toFixed(2)}× p50, ${ratio99.toFixed(2)}× p99, ${tput.toFixed(2)}× time/req` : ''} |`);
      }
      summary.push(`${label} ${mode}: gateway/direct p50 ${ratio.toFixed(2)}×`);
    }
  }
  const table = [
    '| request | mode | path | requests | p50 ms | p99 ms | req/s | gateway/direct |',
    '| --- | --- | --- | ---: | ---: | ---: | ---: | --- |',
    ...rows,
  ].join('\n');
  const section = `\n## Operations: gateway vs direct (${new Date().toISOString().slice(0, 10)})\n\n`
    + `Machine: ${machine()}. kube-apiserver ${cluster.info.version.split(' ')[1] ?? cluster.info.version} (local control plane, embedded etcd), `
    + `${OBJECTS} CronTabs in one namespace; warmup ${WARMUP}, then sequential and concurrency-${CONCURRENCY} runs. `
    + 'Direct: KubeClient GET (same client class and agent the gateway uses), JSON parsed. Gateway: `crdgate serve` in its own process (production mode, no tenants), GraphQL POST over HTTP keep-alive, '
    + 'selecting apiVersion, kind, metadata (name, namespace, uid, resourceVersion, generation, labels, creationTimestamp) and spec. '
    + 'Targets: get ≤ 1.2×, list ≤ 1.3×.\n\n'
    + `${table}\n`;
  console.log(section);
  for (const s of summary) say(s);
  if (!flags['no-append']) {
    appendFileSync(join(repoRoot, 'BENCHMARKS.md'), section);
    say('appended to BENCHMARKS.md');
  }
  await agent.close();
} catch (err) {
  console.error(`[bench] failed: ${(err as Error).stack ?? err}`);
  exitCode = 1;
} finally {
  gatewayProcess?.kill('SIGTERM');
  await cluster.stop();
  rmSync(stateDir, { recursive: true, force: true });
}
process.exit(exitCode);
