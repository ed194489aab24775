// Gateway settings from flags, CRDGATE_* environment variables, a YAML config file and defaults,
// in that order of precedence (PORT and KUBECONFIG are honoured after their CRDGATE_ forms because
// platforms and kubectl users set them). The file's keys are the flags' names; a key it does not
// know is refused, since a misspelt setting silently left at its default is worse than no start.
// Every problem is reported, one line each, before anything starts.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { CrdgateError } from '../errors.ts';
import { logFormats, logLevels, type LogFormat, type LogLevel } from '../logging.ts';
import { defaultQueryLimits, type GatewayMode, type QueryLimits } from '../plugins/query-limits.ts';
import { defaultRateLimits, type RateLimits } from '../plugins/rate-limits.ts';

export interface GatewayConfig {
  host: string;
  port: number;
  /** An explicit kubeconfig path; when absent, the usual lookup applies (see kube-config.ts). */
  kubeconfig: string | undefined;
  /** auto: start the local control plane only when no cluster is configured. */
  localCluster: 'auto' | 'always' | 'never';
  /** Where the local control plane keeps its data between runs. */
  stateDir: string;
  /** Port for the local control plane (0: keep the last one, else a free one). */
  localClusterPort: number;
  installExamples: boolean;
  /** Upper bound for each call to the Kubernetes API. */
  kubeTimeoutMs: number;
  /**
   * The tenants file (authentication and tenant rules). 'none': no authentication, every caller
   * acts as the gateway. Absent: demo tenants with the local cluster; refused with any other.
   */
  tenants: string | undefined;
  /** How long the RBAC view may be stale before live subscriptions are re-checked by SubjectAccessReview. */
  rbacStaleAfterMs: number;
  /**
   * production: no introspection, no "Did you mean" suggestions; local: both on. Absent:
   * production, except with the bundled local control plane, which is local.
   */
  mode: GatewayMode | undefined;
  /** What one GraphQL document may ask for (src/plugins/query-limits.ts). */
  limits: QueryLimits;
  /** Per-tenant budgets and the apiserver 429 retries (src/plugins/rate-limits.ts). */
  rateLimits: RateLimits;
  /** Port of the separate /metrics listener; 0: no listener. */
  metricsPort: number;
  /** Address of the /metrics listener; 'main': serve /metrics on the API port instead. */
  metricsHost: string;
  logLevel: LogLevel;
  /** pretty: readable lines; json: one JSON object per line; auto: pretty when stdout is a terminal. */
  logFormat: LogFormat;
  /** How long in-flight requests may take to finish after SIGTERM. */
  shutdownTimeoutMs: number;
  /** How long /readyz answers 503 after SIGTERM before the gateway stops accepting. */
  shutdownDelayMs: number;
  /** The config file read, if any. */
  configFile: string | undefined;
  /** Persisted operations (src/plugins/persisted-operations.ts): APQ, or an allow-list from a manifest. */
  persistedOperations: { mode: 'apq' | 'allow-list'; file: string | undefined; cacheSize: number };
  /**
   * OpenTelemetry traces (src/plugins/tracing.ts). endpoint: the OTLP/HTTP collector's base URL;
   * absent: the exporter's own default. serviceName: OTEL_SERVICE_NAME, else crdgate.
   */
  tracing: { exporter: 'otlp' | 'none'; endpoint: string | undefined; serviceName: string; sampleRatio: number };
  /** The shared cache behind filtered and sorted lists (src/service/query-cache.ts). */
  queryCache: { maxBytes: number; idleMs: number; maxScan: number };
  /**
   * Redis for state the replicas share (per-tenant budgets, APQ documents); absent: each process
   * keeps its own.
   */
  redisUrl: string | undefined;
}

export const defaultMetricsPort = 9464;

const options = {
  host: { type: 'string' },
  port: { type: 'string', short: 'p' },
  kubeconfig: { type: 'string' },
  'local-cluster': { type: 'string' },
  'state-dir': { type: 'string' },
  'local-cluster-port': { type: 'string' },
  'install-examples': { type: 'string' },
  'kube-timeout': { type: 'string' },
  tenants: { type: 'string' },
  'rbac-stale-after': { type: 'string' },
  mode: { type: 'string' },
  'max-depth': { type: 'string' },
  'max-aliases': { type: 'string' },
  'max-directives': { type: 'string' },
  'max-tokens': { type: 'string' },
  'max-cost': { type: 'string' },
  'default-page-size': { type: 'string' },
  'subscription-cost-factor': { type: 'string' },
  'rate-limit': { type: 'string' },
  'rate-burst': { type: 'string' },
  'max-concurrent-calls': { type: 'string' },
  'max-watches': { type: 'string' },
  'kube-retries': { type: 'string' },
  'kube-retry-max-delay': { type: 'string' },
  'metrics-port': { type: 'string' },
  'metrics-host': { type: 'string' },
  'log-level': { type: 'string' },
  'log-format': { type: 'string' },
  'persisted-operations': { type: 'string' },
  'persisted-operations-mode': { type: 'string' },
  'apq-cache-size': { type: 'string' },
  'shutdown-timeout': { type: 'string' },
  'shutdown-delay': { type: 'string' },
  tracing: { type: 'string' },
  'otlp-endpoint': { type: 'string' },
  'trace-sample-ratio': { type: 'string' },
  'query-cache-max-bytes': { type: 'string' },
  'query-cache-idle': { type: 'string' },
  'query-max-scan': { type: 'string' },
  'redis-url': { type: 'string' },
  config: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** The keys a config file may have: every setting's flag name. */
export const fileKeys: readonly string[] = Object.keys(options).filter((k) => k !== 'help' && k !== 'config');

export const configHelp = `usage: crdgate [serve] [options]

  --port, -p N              listen port (env CRDGATE_PORT, PORT; default 4000)
  --host ADDR               listen address (env CRDGATE_HOST; default 127.0.0.1)
  --kubeconfig PATH         kubeconfig to use (env CRDGATE_KUBECONFIG, KUBECONFIG; default
                            ~/.kube/config, then in-cluster config)
  --local-cluster MODE      auto | always | never (env CRDGATE_LOCAL_CLUSTER; default auto:
                            start the bundled local control plane when no cluster is configured)
  --state-dir PATH          local control plane data (env CRDGATE_STATE_DIR; default .state)
  --local-cluster-port N    local kube-apiserver port (env CRDGATE_LOCAL_CLUSTER_PORT; default 0 = free)
  --install-examples BOOL   install deploy/examples into the local cluster (env
                            CRDGATE_INSTALL_EXAMPLES; default true)
  --kube-timeout MS         deadline of each Kubernetes API call (env CRDGATE_KUBE_TIMEOUT; default 30000)
  --tenants FILE|none       tenants file: how callers authenticate (JWT or Kubernetes TokenReview)
                            and which Kubernetes identity each gets (env CRDGATE_TENANTS). Required
                            with a kubeconfig or in-cluster config; none: no authentication, every
                            caller acts as the gateway (a warning unless --host is loopback). The
                            local cluster uses demo tenants whose tokens are printed at start
  --rbac-stale-after MS     when the gateway's watch of RBAC objects has been failing this long,
                            live subscriptions are re-checked with SubjectAccessReviews every second
                            until it recovers (env CRDGATE_RBAC_STALE_AFTER; default 2000)
  --mode MODE               production | local (env CRDGATE_MODE; default production, local with
                            the bundled control plane): local allows introspection and suggestions

  GraphQL limits (a document over any of them is refused with BAD_REQUEST naming the limit):
  --max-depth N             selection depth (env CRDGATE_MAX_DEPTH; default ${defaultQueryLimits.maxDepth})
  --max-aliases N           aliases (env CRDGATE_MAX_ALIASES; default ${defaultQueryLimits.maxAliases})
  --max-directives N        directives (env CRDGATE_MAX_DIRECTIVES; default ${defaultQueryLimits.maxDirectives})
  --max-tokens N            lexical tokens (env CRDGATE_MAX_TOKENS; default ${defaultQueryLimits.maxTokens})
  --max-cost N              operation cost: 1 per field, times the page size below a list field
                            (env CRDGATE_MAX_COST; default ${defaultQueryLimits.maxCost})
  --default-page-size N     page assumed for a list without limit/first (env
                            CRDGATE_DEFAULT_PAGE_SIZE; default ${defaultQueryLimits.defaultPageSize})
  --subscription-cost-factor N  a subscription's cost multiplier (env
                            CRDGATE_SUBSCRIPTION_COST_FACTOR; default ${defaultQueryLimits.subscriptionCostFactor})

  Budgets per tenant (excess: TOO_MANY_REQUESTS / 429 with Retry-After; 0 = unlimited):
  --rate-limit N            requests per second (env CRDGATE_RATE_LIMIT; default ${defaultRateLimits.requestsPerSecond})
  --rate-burst N            requests at once after a quiet spell (env CRDGATE_RATE_BURST; default ${defaultRateLimits.burst})
  --max-concurrent-calls N  Kubernetes operations in flight (env CRDGATE_MAX_CONCURRENT_CALLS; default ${defaultRateLimits.maxConcurrentCalls})
  --max-watches N           open subscriptions and SSE watches (env CRDGATE_MAX_WATCHES; default ${defaultRateLimits.maxWatches})
  --kube-retries N          retries of a call the apiserver refused with 429 (env CRDGATE_KUBE_RETRIES; default ${defaultRateLimits.kubeRetries})
  --kube-retry-max-delay MS longest wait before such a retry (env CRDGATE_KUBE_RETRY_MAX_DELAY; default ${defaultRateLimits.kubeRetryMaxDelayMs})

  Operations:
  --metrics-port N          port of the Prometheus /metrics listener (env CRDGATE_METRICS_PORT;
                            default ${defaultMetricsPort}; 0 = off). Metrics are cluster-wide, so by default
                            they are not on the API port that tenants reach
  --metrics-host ADDR|main  address of that listener (env CRDGATE_METRICS_HOST; default 127.0.0.1);
                            main: serve /metrics on the API port instead (every caller can read it)
  --log-level LEVEL         fatal | error | warn | info | debug | trace (env CRDGATE_LOG_LEVEL;
                            default info); logs go to stdout, one line per request
  --log-format FORMAT       auto | pretty | json (env CRDGATE_LOG_FORMAT; default auto: pretty
                            when stdout is a terminal, else JSON lines; use json in production)
  --shutdown-timeout MS     after SIGTERM, how long in-flight requests may take (env
                            CRDGATE_SHUTDOWN_TIMEOUT; default 25000)
  --shutdown-delay MS       after SIGTERM, how long /readyz answers 503 before the gateway stops
                            accepting (env CRDGATE_SHUTDOWN_DELAY; default 0)
  --persisted-operations FILE  an Apollo persisted-query manifest; with it only registered
                            operations run (env CRDGATE_PERSISTED_OPERATIONS)
  --persisted-operations-mode apq|allow-list  automatic persisted queries only, or the allow-list
                            (env CRDGATE_PERSISTED_OPERATIONS_MODE; default allow-list with a file)
  --apq-cache-size BYTES    memory for remembered queries (env CRDGATE_APQ_CACHE_SIZE; default 4 MiB)
  --tracing otlp|none       OpenTelemetry traces of requests, GraphQL operations and Kubernetes calls
                            (env CRDGATE_TRACING; default none); service name from OTEL_SERVICE_NAME
                            (default crdgate)
  --otlp-endpoint URL       OTLP/HTTP collector base URL, /v1/traces is added (env
                            CRDGATE_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_ENDPOINT; default
                            http://localhost:4318)
  --trace-sample-ratio R    share of requests traced, 0 to 1 (env CRDGATE_TRACE_SAMPLE_RATIO;
                            default 1); a caller's sampled or unsampled traceparent decides for its
                            request
  --redis-url URL           redis:// or rediss:// URL of a Redis that the replicas share (env
                            CRDGATE_REDIS_URL; default none): per-tenant budgets and APQ documents
                            live there instead of in each process; while it is unreachable,
                            budgeted requests are refused with 503 UNAVAILABLE

  Filtered and sorted lists (where, orderBy):
  --query-cache-max-bytes N estimated JSON bytes the shared query cache may hold for all resources
                            together (env CRDGATE_QUERY_CACHE_MAX_BYTES; default 268435456 = 256 MiB;
                            0 = no cache: every filtered list is read from the apiserver)
  --query-cache-idle MS     a resource's cache unused this long is stopped (env
                            CRDGATE_QUERY_CACHE_IDLE; default 300000)
  --query-max-scan N        objects a filtered list may read from the apiserver (consistency STRONG,
                            or callers the cache cannot serve) before it is refused (env
                            CRDGATE_QUERY_MAX_SCAN; default 20000)

  --config FILE             a YAML file of settings, keys named like the flags (env CRDGATE_CONFIG);
                            flags win over the environment, which wins over the file
`;

export function loadConfig(argv: string[], env: NodeJS.ProcessEnv, defaults: { stateDir: string }): GatewayConfig | 'help' {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: false, strict: true });
  } catch (err) {
    throw new CrdgateError('CONFIG_INVALID', `${(err as Error).message} (see crdgate --help)`);
  }
  const v = parsed.values;
  if (v.help) return 'help';
  const problems: string[] = [];
  const configFile = v.config ?? (env.CRDGATE_CONFIG || undefined);
  const file = configFile === undefined ? {} : readConfigFile(configFile, problems);
  const pick = (flag: string | undefined, ...envNames: string[]): [string | undefined, string] => {
    if (flag !== undefined) return [flag, 'flag'];
    for (const name of envNames) {
      const value = env[name];
      if (value !== undefined && value !== '') return [value, name];
    }
    // The file's key is the flag's name, derived from the CRDGATE_ variable's.
    const key = envNames[0]?.replace(/^CRDGATE_/, '').toLowerCase().replace(/_/g, '-');
    if (key !== undefined && file[key] !== undefined) return [file[key], configFile!];
    return [undefined, ''];
  };
  const int = (label: string, [raw, source]: [string | undefined, string], dflt: number, min: number, max: number): number => {
    if (raw === undefined) return dflt;
    const n = Number(raw);
    if (!/^\d+$/.test(raw.trim()) || !Number.isInteger(n) || n < min || n > max) {
      problems.push(`${label} from ${source}: "${raw}" is not a whole number from ${min} to ${max}`);
      return dflt;
    }
    return n;
  };
  const bool = (label: string, [raw, source]: [string | undefined, string], dflt: boolean): boolean => {
    if (raw === undefined) return dflt;
    if (/^(true|1|yes)$/i.test(raw)) return true;
    if (/^(false|0|no)$/i.test(raw)) return false;
    problems.push(`${label} from ${source}: "${raw}" is not true or false`);
    return dflt;
  };

  const port = int('port', pick(v.port, 'CRDGATE_PORT', 'PORT'), 4000, 0, 65535);
  const [host] = pick(v.host, 'CRDGATE_HOST');
  const [kubeconfig] = pick(v.kubeconfig, 'CRDGATE_KUBECONFIG', 'KUBECONFIG');
  const [modeRaw, modeSource] = pick(v['local-cluster'], 'CRDGATE_LOCAL_CLUSTER');
  let localCluster: GatewayConfig['localCluster'] = 'auto';
  if (modeRaw !== undefined) {
    if (modeRaw === 'auto' || modeRaw === 'always' || modeRaw === 'never') localCluster = modeRaw;
    else problems.push(`local-cluster from ${modeSource}: "${modeRaw}" is not one of auto, always, never`);
  }
  const [stateDir] = pick(v['state-dir'], 'CRDGATE_STATE_DIR');
  const localClusterPort = int('local-cluster-port', pick(v['local-cluster-port'], 'CRDGATE_LOCAL_CLUSTER_PORT'), 0, 0, 65535);
  const installExamples = bool('install-examples', pick(v['install-examples'], 'CRDGATE_INSTALL_EXAMPLES'), true);
  const kubeTimeoutMs = int('kube-timeout', pick(v['kube-timeout'], 'CRDGATE_KUBE_TIMEOUT'), 30_000, 100, 600_000);
  const [tenants] = pick(v.tenants, 'CRDGATE_TENANTS');
  const rbacStaleAfterMs = int('rbac-stale-after', pick(v['rbac-stale-after'], 'CRDGATE_RBAC_STALE_AFTER'), 2000, 100, 600_000);
  const [modeValue, modeFrom] = pick(v.mode, 'CRDGATE_MODE');
  let mode: GatewayMode | undefined;
  if (modeValue !== undefined) {
    if (modeValue === 'production' || modeValue === 'local') mode = modeValue;
    else problems.push(`mode from ${modeFrom}: "${modeValue}" is not one of production, local`);
  }
  const limit = (name: keyof typeof v & string, key: keyof QueryLimits, max: number) =>
    int(name, pick(v[name] as string | undefined, `CRDGATE_${name.toUpperCase().replace(/-/g, '_')}`), defaultQueryLimits[key], 1, max);
  const limits: QueryLimits = {
    maxDepth: limit('max-depth', 'maxDepth', 1000),
    maxAliases: limit('max-aliases', 'maxAliases', 100_000),
    maxDirectives: limit('max-directives', 'maxDirectives', 100_000),
    maxTokens: limit('max-tokens', 'maxTokens', 10_000_000),
    maxCost: limit('max-cost', 'maxCost', 1_000_000_000),
    defaultPageSize: limit('default-page-size', 'defaultPageSize', 1_000_000),
    subscriptionCostFactor: limit('subscription-cost-factor', 'subscriptionCostFactor', 1_000_000),
  };
  const budget = (name: keyof typeof v & string, dflt: number, max: number) =>
    int(name, pick(v[name] as string | undefined, `CRDGATE_${name.toUpperCase().replace(/-/g, '_')}`), dflt, 0, max);
  const rateLimits: RateLimits = {
    ...defaultRateLimits,
    requestsPerSecond: budget('rate-limit', defaultRateLimits.requestsPerSecond, 1_000_000),
    burst: budget('rate-burst', defaultRateLimits.burst, 1_000_000),
    maxConcurrentCalls: budget('max-concurrent-calls', defaultRateLimits.maxConcurrentCalls, 100_000),
    maxWatches: budget('max-watches', defaultRateLimits.maxWatches, 1_000_000),
    kubeRetries: budget('kube-retries', defaultRateLimits.kubeRetries, 10),
    kubeRetryMaxDelayMs: budget('kube-retry-max-delay', defaultRateLimits.kubeRetryMaxDelayMs, 60_000),
  };

  const metricsPort = int('metrics-port', pick(v['metrics-port'], 'CRDGATE_METRICS_PORT'), defaultMetricsPort, 0, 65535);
  const [metricsHost] = pick(v['metrics-host'], 'CRDGATE_METRICS_HOST');
  const [levelRaw, levelFrom] = pick(v['log-level'], 'CRDGATE_LOG_LEVEL');
  let logLevel: LogLevel = 'info';
  if (levelRaw !== undefined) {
    if ((logLevels as readonly string[]).includes(levelRaw)) logLevel = levelRaw as LogLevel;
    else problems.push(`log-level from ${levelFrom}: "${levelRaw}" is not one of ${logLevels.join(', ')}`);
  }
  const [formatRaw, formatFrom] = pick(v['log-format'], 'CRDGATE_LOG_FORMAT');
  let logFormat: LogFormat = 'auto';
  if (formatRaw !== undefined) {
    if ((logFormats as readonly string[]).includes(formatRaw)) logFormat = formatRaw as LogFormat;
    else problems.push(`log-format from ${formatFrom}: "${formatRaw}" is not one of ${logFormats.join(', ')}`);
  }
  const shutdownTimeoutMs = int('shutdown-timeout', pick(v['shutdown-timeout'], 'CRDGATE_SHUTDOWN_TIMEOUT'), 25_000, 0, 3_600_000);
  const shutdownDelayMs = int('shutdown-delay', pick(v['shutdown-delay'], 'CRDGATE_SHUTDOWN_DELAY'), 0, 0, 600_000);
  const [poFile] = pick(v['persisted-operations'], 'CRDGATE_PERSISTED_OPERATIONS');
  const [poModeRaw, poModeFrom] = pick(v['persisted-operations-mode'], 'CRDGATE_PERSISTED_OPERATIONS_MODE');
  let poMode: 'apq' | 'allow-list' = poFile ? 'allow-list' : 'apq';
  if (poModeRaw !== undefined) {
    if (poModeRaw === 'apq' || poModeRaw === 'allow-list') poMode = poModeRaw;
    else problems.push(`persisted-operations-mode from ${poModeFrom}: "${poModeRaw}" is not one of apq, allow-list`);
  }
  if (poMode === 'allow-list' && !poFile) problems.push('persisted-operations-mode allow-list needs --persisted-operations <manifest file>');
  const apqCacheSize = int('apq-cache-size', pick(v['apq-cache-size'], 'CRDGATE_APQ_CACHE_SIZE'), 4 << 20, 1024, 1 << 30);

  const [tracingRaw, tracingFrom] = pick(v.tracing, 'CRDGATE_TRACING');
  let tracingExporter: 'otlp' | 'none' = 'none';
  if (tracingRaw !== undefined) {
    if (tracingRaw === 'otlp' || tracingRaw === 'none') tracingExporter = tracingRaw;
    else problems.push(`tracing from ${tracingFrom}: "${tracingRaw}" is not one of otlp, none`);
  }
  // OTEL_EXPORTER_OTLP_ENDPOINT is honoured after CRDGATE_OTLP_ENDPOINT, like PORT after CRDGATE_PORT.
  const [otlpRaw, otlpFrom] = pick(v['otlp-endpoint'], 'CRDGATE_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_ENDPOINT');
  let otlpEndpoint: string | undefined;
  // Another program's junk in the OTEL_ variable stops crdgate only when crdgate would use it.
  if (otlpRaw !== undefined && (tracingExporter === 'otlp' || otlpFrom !== 'OTEL_EXPORTER_OTLP_ENDPOINT')) {
    if (URL.canParse(otlpRaw) && /^https?:$/.test(new URL(otlpRaw).protocol)) otlpEndpoint = otlpRaw;
    else problems.push(`otlp-endpoint from ${otlpFrom}: "${otlpRaw}" is not an http:// or https:// URL`);
  }

  const [ratioRaw, ratioFrom] = pick(v['trace-sample-ratio'], 'CRDGATE_TRACE_SAMPLE_RATIO');
  let sampleRatio = 1;
  if (ratioRaw !== undefined) {
    const r = Number(ratioRaw);
    if (/^\s*(\d+(\.\d*)?|\.\d+)\s*$/.test(ratioRaw) && r >= 0 && r <= 1) sampleRatio = r;
    else problems.push(`trace-sample-ratio from ${ratioFrom}: "${ratioRaw}" is not a number from 0 to 1`);
  }

  const queryCache = {
    maxBytes: int('query-cache-max-bytes', pick(v['query-cache-max-bytes'], 'CRDGATE_QUERY_CACHE_MAX_BYTES'), 256 * 2 ** 20, 0, 2 ** 45),
    idleMs: int('query-cache-idle', pick(v['query-cache-idle'], 'CRDGATE_QUERY_CACHE_IDLE'), 300_000, 1000, 86_400_000),
    maxScan: int('query-max-scan', pick(v['query-max-scan'], 'CRDGATE_QUERY_MAX_SCAN'), 20_000, 1, 10_000_000),
  };
  const [redisRaw, redisFrom] = pick(v['redis-url'], 'CRDGATE_REDIS_URL');
  let redisUrl: string | undefined;
  if (redisRaw !== undefined) {
    // The value may hold a password: the problem names the scheme, never echoes the URL.
    if (URL.canParse(redisRaw) && /^rediss?:$/.test(new URL(redisRaw).protocol) && new URL(redisRaw).hostname) redisUrl = redisRaw;
    else problems.push(`redis-url from ${redisFrom}: not a redis:// or rediss:// URL with a host`);
  }

  if (problems.length) throw new CrdgateError('CONFIG_INVALID', problems.join('\n'));
  return {
    host: host ?? '127.0.0.1',
    port,
    kubeconfig,
    localCluster,
    stateDir: stateDir ?? defaults.stateDir,
    localClusterPort,
    installExamples,
    kubeTimeoutMs,
    tenants,
    rbacStaleAfterMs,
    mode,
    limits,
    rateLimits,
    metricsPort,
    metricsHost: metricsHost ?? '127.0.0.1',
    logLevel,
    logFormat,
    shutdownTimeoutMs,
    shutdownDelayMs,
    configFile,
    persistedOperations: { mode: poMode, file: poFile, cacheSize: apqCacheSize },
    tracing: { exporter: tracingExporter, endpoint: otlpEndpoint, serviceName: env.OTEL_SERVICE_NAME || 'crdgate', sampleRatio },
    queryCache,
    redisUrl,
  };
}

/** The settings of a YAML file, as strings (validated like flags); problems are added one line each. */
function readConfigFile(path: string, problems: string[]): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    problems.push(`config file ${path} cannot be read: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'it does not exist' : (err as Error).message}`);
    return {};
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    problems.push(`config file ${path} is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
    return {};
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    problems.push(`config file ${path} must be a mapping of settings (keys named like the flags: port, max-depth, ...)`);
    return {};
  }
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(doc as Record<string, unknown>)) {
    if (!fileKeys.includes(key)) {
      problems.push(`config file ${path}: unknown key "${key}"`);
    } else if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
      out[key] = String(value);
    } else {
      problems.push(`config file ${path}: ${key} must be a single value, not ${value === null ? 'empty' : Array.isArray(value) ? 'a list' : 'a mapping'}`);
    }
  }
  return out;
}

/** 127.0.0.0/8, ::1 and localhost: addresses only this machine reaches. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  const v4 = /^(?:::ffff:)?(\d{1,3})\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.exec(h);
  return v4 !== null && isIP(h.replace(/^::ffff:/, '')) === 4 && v4[1] === '127';
}
