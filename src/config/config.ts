// Gateway settings from flags, CRDGATE_* environment variables, a YAML config file and defaults,
// in that order of precedence (PORT and KUBECONFIG are honoured after their CRDGATE_ forms because
// platforms and kubectl users set them). Each setting is declared once, in flags.ts. The file's
// keys are the flags' names; a key it does not know is refused, since a misspelt setting silently
// left at its default is worse than no start. Every problem is reported, one line each, before
// anything starts.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { CrdgateError } from '../errors.ts';
import type { LogFormat, LogLevel } from '../logging.ts';
import type { LogWrites } from '../log-writes.ts';
import type { GatewayMode, QueryLimits } from '../plugins/query-limits.ts';
import { defaultRateLimits, type RateLimits } from '../plugins/rate-limits.ts';
import { renderHelp } from './flag-docs.ts';
import { didYouMean } from './nearest-name.ts';
import { envNamesOf, fileKeys, flagNames, flagTable, type FlagName, type FlagSpec, type FlagValues } from './flags.ts';

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
  /** Browser origins allowed to call the APIs cross-origin (CORS); empty: same origin only. */
  corsOrigins: readonly string[];
  /** Flow control and memory of subscriptions (src/service/watch-hub.ts). */
  watch: { bufferBytes: number; windowBytes: number; unavailableAfterMs: number };
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
  /** async: JSON lines queued and written a burst at a time; sync: each line written at once. */
  logWrites: LogWrites;
  /** With async writes: how long the first queued line waits for others, in ms. */
  logFlushDelayMs: number;
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
  /**
   * Redis for state the replicas share (per-tenant budgets, APQ documents); absent: each process
   * keeps its own.
   */
  redisUrl: string | undefined;
  /** The shared cache behind filtered and sorted lists (src/service/query-cache.ts). */
  queryCache: { maxBytes: number; maxStores: number; idleMs: number; maxScan: number };
}

export { defaultMetricsPort, fileKeys } from './flags.ts';

export const configHelp = renderHelp();

const parseArgsOptions = Object.fromEntries([
  ...flagNames.map((n) => [n, { type: 'string', ...(flagTable[n].short ? { short: flagTable[n].short } : {}) }]),
  ['help', { type: 'boolean', short: 'h' }],
]) as Record<string, { type: 'string' | 'boolean'; short?: string }>;

interface Setting<T> {
  value: T;
  raw?: string;
  /** 'flag', the environment variable, or the config file's path. */
  source: string;
  problem?: string;
}

export function loadConfig(argv: string[], env: NodeJS.ProcessEnv, defaults: { stateDir: string }): GatewayConfig | 'help' {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: parseArgsOptions, allowPositionals: false, strict: true });
  } catch (err) {
    throw new CrdgateError('CONFIG_INVALID', argumentProblem(err as NodeJS.ErrnoException));
  }
  const flagValues = parsed.values as Record<string, string | boolean | undefined>;
  if (flagValues.help) return 'help';
  const problems: string[] = [];
  const configFile = (flagValues.config as string | undefined) ?? (env.CRDGATE_CONFIG || undefined);
  const file = configFile === undefined ? {} : readConfigFile(configFile, problems);
  const settings = {} as { [K in FlagName]: Setting<FlagValues[K]> };
  for (const name of flagNames) {
    (settings as Record<FlagName, Setting<unknown>>)[name] = readSetting(name, flagValues[name] as string | undefined, env, file, configFile);
  }
  const config = assemble(settings, env, defaults, configFile);
  problems.push(...settingProblems(settings, config), ...crossProblems(config));
  if (problems.length) throw new CrdgateError('CONFIG_INVALID', problems.join('\n'));
  return config;
}

/** An unknown flag names the nearest known one; any other argument problem keeps parseArgs' words. */
function argumentProblem(err: NodeJS.ErrnoException): string {
  const unknown = err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? /^Unknown option '(-{1,2})([^']*)'/.exec(err.message) : null;
  const ambiguous = err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' ? /^Option '(-{1,2}[^' ]*)[^']*' argument is ambiguous/.exec(err.message) : null;
  if (ambiguous) return `${ambiguous[1]} is followed by a value that starts with a dash: write it ${ambiguous[1]}=<value> (see crdgate --help)`;
  if (!unknown) return `${err.message.split('\n')[0]} (see crdgate --help)`;
  const [, dashes, name] = unknown;
  // One letter is too little to guess from: a short flag gets only the pointer to --help.
  const near = dashes === '--' ? didYouMean(name!.split('=')[0]!, [...flagNames, 'help'], (n) => `--${n}`) : '';
  return `unknown flag ${dashes}${name}${near} (see crdgate --help)`;
}

/**
 * One setting: from its flag, else its environment variables in order, else the config file, else
 * its default. Only the value in use is read: a variable a flag overrides may be anything, as
 * Kubernetes' service links make CRDGATE_PORT "tcp://10.96.0.12:80" in a pod beside a Service
 * named crdgate, whose chart sets --port.
 */
function readSetting<K extends FlagName>(name: K, fromFlag: string | undefined, env: NodeJS.ProcessEnv, file: Record<string, string>,
  configFile: string | undefined): Setting<FlagValues[K]> {
  const spec = flagTable[name] as FlagSpec<FlagValues[K]>;
  let raw = fromFlag;
  let source = 'flag';
  if (raw === undefined) {
    const envName = envNamesOf(name).find((e) => env[e] !== undefined && env[e] !== '');
    if (envName !== undefined) [raw, source] = [env[envName], envName];
    else if (!spec.notInFile && file[name] !== undefined) [raw, source] = [file[name], configFile!];
  }
  if (raw === undefined) return { value: spec.default, source: 'default' };
  const read = spec.parse.read(raw);
  if (read.ok) return { value: read.value, raw, source };
  // A value that may hold a password is not echoed: the problem says what it should be.
  const given = spec.secret ? '' : ` "${raw}" is`;
  return { value: spec.default, raw, source, problem: `${name} from ${source}:${given} not ${spec.parse.expected}` };
}

function assemble(s: { [K in FlagName]: Setting<FlagValues[K]> }, env: NodeJS.ProcessEnv, defaults: { stateDir: string },
  configFile: string | undefined): GatewayConfig {
  const poFile = s['persisted-operations'].value;
  const tracing = s.tracing.value;
  return {
    host: s.host.value,
    port: s.port.value,
    kubeconfig: s.kubeconfig.value,
    localCluster: s['local-cluster'].value,
    stateDir: s['state-dir'].value ?? defaults.stateDir,
    localClusterPort: s['local-cluster-port'].value,
    installExamples: s['install-examples'].value,
    kubeTimeoutMs: s['kube-timeout'].value,
    tenants: s.tenants.value,
    rbacStaleAfterMs: s['rbac-stale-after'].value,
    mode: s.mode.value,
    corsOrigins: s['cors-origins'].value,
    watch: {
      bufferBytes: s['watch-buffer-bytes'].value,
      windowBytes: s['watch-window-bytes'].value,
      unavailableAfterMs: s['watch-unavailable-after'].value,
    },
    limits: {
      maxDepth: s['max-depth'].value,
      maxAliases: s['max-aliases'].value,
      maxDirectives: s['max-directives'].value,
      maxTokens: s['max-tokens'].value,
      maxCost: s['max-cost'].value,
      defaultPageSize: s['default-page-size'].value,
      subscriptionCostFactor: s['subscription-cost-factor'].value,
    },
    rateLimits: {
      ...defaultRateLimits,
      requestsPerSecond: s['rate-limit'].value,
      burst: s['rate-burst'].value,
      maxConcurrentCalls: s['max-concurrent-calls'].value,
      maxWatches: s['max-watches'].value,
      maxConnections: s['max-connections'].value,
      kubeRetries: s['kube-retries'].value,
      kubeRetryMaxDelayMs: s['kube-retry-max-delay'].value,
    },
    metricsPort: s['metrics-port'].value,
    metricsHost: s['metrics-host'].value,
    logLevel: s['log-level'].value,
    logFormat: s['log-format'].value,
    logWrites: s['log-writes'].value,
    logFlushDelayMs: s['log-flush-delay'].value,
    shutdownTimeoutMs: s['shutdown-timeout'].value,
    shutdownDelayMs: s['shutdown-delay'].value,
    configFile,
    persistedOperations: { mode: s['persisted-operations-mode'].value ?? (poFile ? 'allow-list' : 'apq'), file: poFile, cacheSize: s['apq-cache-size'].value },
    tracing: {
      exporter: tracing,
      endpoint: ignoredOtelEndpoint(s['otlp-endpoint'], tracing) ? undefined : s['otlp-endpoint'].value,
      serviceName: env.OTEL_SERVICE_NAME || 'crdgate',
      sampleRatio: s['trace-sample-ratio'].value,
    },
    redisUrl: s['redis-url'].value,
    queryCache: { maxBytes: s['query-cache-max-bytes'].value, maxStores: s['query-cache-max-stores'].value, idleMs: s['query-cache-idle'].value, maxScan: s['query-max-scan'].value },
  };
}

/**
 * OTEL_EXPORTER_OTLP_ENDPOINT belongs to every OpenTelemetry program on the machine: crdgate reads
 * it only when it traces, so another program's setting neither stops nor steers it otherwise.
 */
function ignoredOtelEndpoint(endpoint: Setting<string | undefined>, tracing: 'otlp' | 'none'): boolean {
  return endpoint.source === 'OTEL_EXPORTER_OTLP_ENDPOINT' && tracing !== 'otlp';
}

function settingProblems(s: { [K in FlagName]: Setting<FlagValues[K]> }, config: GatewayConfig): string[] {
  return flagNames.filter((n) => s[n].problem !== undefined && !(n === 'otlp-endpoint' && ignoredOtelEndpoint(s[n], config.tracing.exporter)))
    .map((n) => s[n].problem!);
}

/** Settings that are fine alone but not together. */
function crossProblems(config: GatewayConfig): string[] {
  const out: string[] = [];
  if (config.persistedOperations.mode === 'allow-list' && !config.persistedOperations.file) {
    out.push('persisted-operations-mode allow-list needs --persisted-operations <manifest file>');
  }
  if (metricsShareApiPort(config)) {
    out.push(`metrics-port ${config.metricsPort} is also the API port (--port) on an address they share; choose another --metrics-port, 0 to turn the metrics listener off, or --metrics-host main to serve /metrics on the API port`);
  }
  return out;
}

/**
 * Whether the metrics listener would bind the API listener's port on an address the API listener
 * also holds: the second bind would fail only after the gateway had started serving, with "port in
 * use" pointing at some other program. A wildcard address (0.0.0.0, ::) overlaps every address.
 */
function metricsShareApiPort(config: GatewayConfig): boolean {
  if (!config.metricsPort || config.metricsHost === 'main' || config.metricsPort !== config.port) return false;
  const norm = (h: string) => {
    const bare = h.replace(/^\[|\]$/g, '').toLowerCase();
    return bare === 'localhost' ? '127.0.0.1' : bare === '0:0:0:0:0:0:0:1' ? '::1' : bare;
  };
  const wildcard = (h: string) => h === '' || h === '0.0.0.0' || h === '::' || h === '0:0:0:0:0:0:0:0';
  const [api, metrics] = [norm(config.host), norm(config.metricsHost)];
  return api === metrics || wildcard(api) || wildcard(metrics);
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
      problems.push(`config file ${path}: unknown key "${key}"${didYouMean(key, fileKeys, (k) => `"${k}"`)}`);
    } else if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
      out[key] = String(value);
    } else if (Array.isArray(value) && flagTable[key as FlagName].list && value.every((v) => typeof v === 'string')) {
      out[key] = value.join(',');
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
