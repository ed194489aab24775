// Benchmark (not a test): the cost of the production plugins on the get-by-name path. Four
// gateways on the same control plane in the same process: one without plugins, one with every
// production plugin but tracing, one tracing a share of the requests, one tracing all. The
// plugins: metrics, tracing (spans batched to an exporter that drops them: the OTLP encoding and
// send happen off the request path), request logging (JSON lines written to /dev/null), query
// limits and rate limits (budgets set high enough never to refuse, so every check runs). They are
// driven in rounds whose order rotates so drift hits all alike. Prints a markdown table and
// appends it to BENCHMARKS.md.
//
//   node scripts/bench-plugins.ts [--requests N] [--rounds R] [--concurrency C] [--sample-ratio S] [--no-append]
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { ExportResultCode } from '@opentelemetry/core';
import { Agent, fetch } from 'undici';
import { createGateway, type Gateway } from '../src/gateway.ts';
import { KubeClient } from '../src/kube/kube-client.ts';
import { buildLauncher, repoRoot } from '../src/local-cluster/build-launcher.ts';
import { installExampleCrds } from '../src/local-cluster/install-examples.ts';
import { launchCluster } from '../src/local-cluster/launch-cluster.ts';
import type { GatewayPlugin } from '../src/plugins/gateway-plugin.ts';
import { queryLimits } from '../src/plugins/query-limits.ts';
import { rateLimits } from '../src/plugins/rate-limits.ts';
import { metrics } from '../src/plugins/metrics.ts';
import { tracing } from '../src/plugins/tracing.ts';
import { requestLogging } from '../src/plugins/request-logging.ts';
import { createLogger } from '../src/logging.ts';
import { pino } from 'pino';
import { machine, runConcurrently, stats } from './bench-common.ts';

const { values: flags } = parseArgs({
  options: {
    requests: { type: 'string', default: '2000' },
    rounds: { type: 'string', default: '6' },
    concurrency: { type: 'string', default: '16' },
    'sample-ratio': { type: 'string', default: '0.1' },
    'no-append': { type: 'boolean', default: false },
  },
});
const N = Number(flags.requests);
const ROUNDS = Number(flags.rounds);
const CONCURRENCY = Number(flags.concurrency);
const SAMPLED = Number(flags['sample-ratio']);
const ns = 'bench-plugins';
const say = (m: string) => console.error(`[bench] ${m}`);

const stateDir = mkdtempSync(join(tmpdir(), 'crdgate-bench-plugins-'));
const build = await buildLauncher({ log: say });
say(`control plane built in ${build.seconds.toFixed(1)} s`);
const cluster = await launchCluster({ dataDir: join(stateDir, 'cluster'), logFile: join(stateDir, 'cluster.log') });
const gateways: Gateway[] = [];
try {
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.info.kubeconfig);
  await installExampleCrds(kc);
  const direct = new KubeClient(kc);
  await direct.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } } });
  await direct.request('POST', `/apis/stable.example.com/v1/namespaces/${ns}/crontabs`, {
    body: { apiVersion: 'stable.example.com/v1', kind: 'CronTab', metadata: { name: 'one' }, spec: { cronSpec: '* * * * *', image: 'img', replicas: 1 } },
  });

  const start = async (plugins: GatewayPlugin[]) => {
    const g = await createGateway({ client: new KubeClient(kc), explorer: false, plugins });
    gateways.push(g);
    const server = await g.listen(0);
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
  };
  const production = (sampleRatio: number | undefined) => [
    metrics(),
    ...(sampleRatio === undefined ? [] : [
      tracing({ sampleRatio, exporter: { export: (_spans, done) => done({ code: ExportResultCode.SUCCESS }), shutdown: async () => {} } }),
    ]),
    // Every request's line is formatted and written, as in production; only the file is a sink.
    requestLogging({ logger: createLogger({ destination: pino.destination('/dev/null') }) }),
    queryLimits({ mode: 'production' }),
    rateLimits({ limits: { requestsPerSecond: 1e6, burst: 1e6, maxConcurrentCalls: 1e5, maxWatches: 1e5 } }),
  ];
  // "untraced": the plugins without tracing; "sampled": tracing a share of the requests; "on":
  // tracing every request.
  const variants = {
    off: await start([]),
    untraced: await start(production(undefined)),
    sampled: await start(production(SAMPLED)),
    on: await start(production(1)),
  };
  type Variant = keyof typeof variants;
  const names = Object.keys(variants) as Variant[];
  const dispatcher = new Agent({ connections: CONCURRENCY * 2, pipelining: 1 });
  const body = JSON.stringify({ query: `{ cronTab_stable_example_com(namespace: "${ns}", name: "one") { metadata { name resourceVersion } spec { cronSpec image replicas } } }` });
  const get = async (url: string) => {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body, dispatcher });
    const text = await res.text();
    if (res.status !== 200 || !text.includes('"one"')) throw new Error(`unexpected answer ${res.status}: ${text.slice(0, 200)}`);
  };
  const run = (url: string, n: number) => runConcurrently(n, CONCURRENCY, () => get(url));
  say('warm-up');
  for (const v of names) await run(variants[v], 300);
  const all = Object.fromEntries(names.map((v) => [v, { lat: [] as number[], wallMs: 0 }])) as Record<Variant, { lat: number[]; wallMs: number }>;
  for (let r = 0; r < ROUNDS; r++) {
    // Each round in another order, so drift hits every variant alike.
    for (const v of names.map((_, i) => names[(i + r) % names.length]!)) {
      const x = await run(variants[v], N);
      all[v].lat.push(...x.latencies);
      all[v].wallMs += x.wallMs;
    }
    say(`round ${r + 1}/${ROUNDS}`);
  }
  const summary = (v: Variant) => stats(all[v].lat, all[v].wallMs);
  const off = summary('off');
  const untraced = summary('untraced');
  const sampled = summary('sampled');
  const on = summary('on');
  const pct = (a: number, b: number) => `${(((a / b) - 1) * 100).toFixed(1)}%`;
  const row = (name: string, s: typeof off) => `| ${name} | ${s.n} | ${s.p50.toFixed(2)} | ${s.p99.toFixed(2)} | ${s.rps.toFixed(0)}`;
  const section = `
## Production plugins on the get path (${new Date().toISOString().slice(0, 10)})

\`node scripts/bench-plugins.ts --requests ${N} --rounds ${ROUNDS} --concurrency ${CONCURRENCY} --sample-ratio ${SAMPLED}\`; ${machine()}. Four in-process gateways on one
control plane, GraphQL get-by-name over HTTP, rounds in rotating order. "on": metrics (prom-client:
request and Kubernetes call histograms), tracing (OpenTelemetry spans for the request, the
operation and the Kubernetes call, batched to an exporter that drops them), request logging (one
pino JSON line per request, written to /dev/null), query limits (depth, aliases, directives, tokens, cost) and rate limits (token
bucket, call slots; budgets high enough never to refuse).

| plugins | requests | p50 ms | p99 ms | req/s | throughput overhead (off/x − 1) | p50 overhead (x/off − 1) |
| --- | --- | --- | --- | --- | --- | --- |
${row('off', off)} | | |
${row('on, no tracing', untraced)} | ${pct(off.rps, untraced.rps)} | ${pct(untraced.p50, off.p50)} |
${row(`on, ${SAMPLED * 100}% traced`, sampled)} | ${pct(off.rps, sampled.rps)} | ${pct(sampled.p50, off.p50)} |
${row('on, every request traced', on)} | ${pct(off.rps, on.rps)} | ${pct(on.p50, off.p50)} |

Target: ≤5% for limits, metrics and tracing together.
`;
  process.stdout.write(section);
  if (!flags['no-append']) appendFileSync(join(repoRoot, 'BENCHMARKS.md'), section);
  await dispatcher.close();
  await direct.close();
} finally {
  for (const g of gateways) await g.stop();
  await cluster.stop();
  rmSync(stateDir, { recursive: true, force: true });
}
