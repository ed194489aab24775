// The gateway of the operations benchmark, in a process of its own (as users run it), so that its
// work and the load generator's do not share one event loop. Driven over IPC by
// bench-operations.ts (bench-ipc.ts): it answers with its port once it serves, then with its
// memory, a CPU profile of a measured phase, or a heap snapshot when asked.
//
//   --plugins none         the gateway alone
//   --plugins production   what `crdgate serve` runs in production: metrics (prom-client, process
//                          metrics included), tracing of 10% of the requests (OpenTelemetry, spans
//                          batched to an exporter that drops them), request logging (pino JSON lines
//                          to /dev/null, written as `crdgate serve` writes them to stdout:
//                          in batches at most BENCH_LOG_FLUSH_DELAY ms (default: crdgate's) after their first line,
//                          or one write per line with BENCH_LOG_WRITES=sync), persisted operations (APQ), query limits and rate limits
//                          (budgets high enough never to refuse, so every check runs)
import { parseArgs } from 'node:util';
import { ExportResultCode } from '@opentelemetry/core';
import { createGateway } from '../src/gateway.ts';
import { KubeClient } from '../src/kube/kube-client.ts';
import { loadFile } from '../src/kube/kube-config.ts';
import { createLogger } from '../src/logging.ts';
import { defaultLogFlushDelayMs, logDestination } from '../src/log-writes.ts';
import type { GatewayPlugin } from '../src/plugins/gateway-plugin.ts';
import { metrics } from '../src/plugins/metrics.ts';
import { persistedOperations } from '../src/plugins/persisted-operations.ts';
import { queryLimits } from '../src/plugins/query-limits.ts';
import { rateLimits } from '../src/plugins/rate-limits.ts';
import { requestLogging } from '../src/plugins/request-logging.ts';
import { tracing } from '../src/plugins/tracing.ts';
import { answerBenchCommands } from './bench-ipc.ts';


export function productionPlugins(sampleRatio: number, logFlushDelayMs?: number): GatewayPlugin[] {
  return [
    metrics(),
    tracing({ sampleRatio, exporter: { export: (_spans, done) => done({ code: ExportResultCode.SUCCESS }), shutdown: async () => {} } }),
    // Every request's line is formatted and written, as in production; only the file is a sink.
    requestLogging({ logger: createLogger({ destination: benchLogDestination(logFlushDelayMs) }) }),
    persistedOperations({ mode: 'apq' }),
    queryLimits({ mode: 'production' }),
    rateLimits({ limits: { requestsPerSecond: 1e6, burst: 1e6, maxConcurrentCalls: 1e5, maxWatches: 1e5 } }),
  ];
}

/** /dev/null, written as `crdgate serve` writes stdout, or with the given flush delay, or as BENCH_LOG_WRITES and BENCH_LOG_FLUSH_DELAY say. */
function benchLogDestination(flushDelayMs?: number) {
  const delay = flushDelayMs ?? (process.env.BENCH_LOG_FLUSH_DELAY ? Number(process.env.BENCH_LOG_FLUSH_DELAY) : defaultLogFlushDelayMs);
  if (!Number.isInteger(delay) || delay < 0) throw new Error(`BENCH_LOG_FLUSH_DELAY: ${process.env.BENCH_LOG_FLUSH_DELAY} is not a whole number of ms`);
  return logDestination('/dev/null', process.env.BENCH_LOG_WRITES === 'sync' ? 'sync' : 'async', delay);
}

if (import.meta.main) {
  // Read here, not on import: other benchmarks import productionPlugins with their own arguments.
  const { values: flags, positionals } = parseArgs({
    allowPositionals: true,
    options: { plugins: { type: 'string', default: 'none' }, 'trace-sample-ratio': { type: 'string', default: '0.1' } },
  });
  const plugins = flags.plugins === 'production' ? productionPlugins(Number(flags['trace-sample-ratio'])) : [];
  const gateway = await createGateway({ client: new KubeClient(loadFile(positionals[0]!)), explorer: false, plugins });
  const server = await gateway.listen(0);
  answerBenchCommands((server.address() as { port: number }).port, () => gateway.stop({ timeoutMs: 1000 }));
}
