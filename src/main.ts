// `crdgate serve`: configuration → cluster (the configured one, or the bundled local control
// plane) → CRD catalog → schema → HTTP. Ctrl-C / SIGTERM stop everything in reverse order, the
// gateway gracefully (see Gateway.stop). Logs go to stdout, readable lines on a terminal and JSON
// lines elsewhere (src/logging.ts); once it serves, a short block tells the person at the terminal
// where to go (src/startup-block.ts); a failure to start is one human line on stderr.
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { configHelp, isLoopback, loadConfig, type GatewayConfig } from './config/config.ts';
import { CrdgateError, describeError } from './errors.ts';
import { createGateway } from './gateway.ts';
import { loadTenantConfig, type TenantConfig } from './auth/tenant-config.ts';
import { KubeApiError, KubeClient } from './kube/kube-client.ts';
import { loadFile, resolveKubeConfig } from './kube/kube-config.ts';
import { buildLauncher, kubectlPath, repoRoot } from './local-cluster/build-launcher.ts';
import type { LocalCluster } from './local-cluster/launch-cluster.ts';
import type { KubeConfig } from './kube/kubeconfig.ts';
import { queryLimits } from './plugins/query-limits.ts';
import { rateLimits } from './plugins/rate-limits.ts';
import { persistedOperations } from './plugins/persisted-operations.ts';
import type { RedisConnection } from './plugins/redis-connection.ts';
import type { SharedTenantBudgets } from './plugins/shared-budgets.ts';
import type { SharedDocuments } from './plugins/shared-documents.ts';
import { metrics } from './plugins/metrics.ts';
import { requestLogging } from './plugins/request-logging.ts';
import type { GatewayPlugin } from './plugins/gateway-plugin.ts';
import { createLogger, messageLog, resolveLogFormat, type LogFormat, type Logger } from './logging.ts';
import { progressTargetFor, type ProgressTarget } from './local-cluster/progress-display.ts';
import { shellPath, startupBlock } from './startup-block.ts';

// Modules only some runs need are loaded when a run needs them (each costs megabytes of memory
// for as long as the process runs): the local control plane's launcher and demo tenants,
// OpenTelemetry (only with --tracing otlp), the Redis client (only with --redis-url).

/** The demo tenants' module, loaded when crdgate runs its local control plane. */
type DevTenants = typeof import('./local-cluster/dev-tenants.ts');

// Until the configuration is read, messages go at info level to stdout.
let logger: Logger = createLogger();
const log = (msg: string) => logger.info(msg);

interface Running {
  stop(): Promise<void>;
}

/** What serve() started, stopped in reverse order once, on a signal, a failure or the cluster's exit. */
class RunningStack {
  private readonly stack: Running[] = [];
  private stopping: Promise<void> | undefined;

  get isStopping(): boolean {
    return this.stopping !== undefined;
  }

  push(r: Running): void {
    this.stack.push(r);
  }

  stopAll(): Promise<void> {
    this.stopping ??= (async () => {
      for (const r of this.stack.reverse()) {
        try {
          await r.stop();
        } catch (err) {
          logger.error(`while stopping: ${describeError(err)}`);
        }
      }
    })();
    return this.stopping;
  }
}

export async function serve(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let config: GatewayConfig | 'help';
  try {
    config = loadConfig(argv, env, { stateDir: join(repoRoot, '.state') });
  } catch (err) {
    console.error(`crdgate: ${describeError(err)}`);
    return 2;
  }
  if (config === 'help') {
    process.stdout.write(configHelp);
    return 0;
  }
  const logFormat = resolveLogFormat(config.logFormat, Boolean(process.stdout.isTTY));
  logger = createLogger({ level: config.logLevel, format: logFormat, writes: config.logWrites, flushDelayMs: config.logFlushDelayMs });
  if (config.configFile) log(`settings from ${config.configFile}`);
  const running = new RunningStack();
  const done = stopOnSignals(running, config.shutdownTimeoutMs);
  try {
    // A signal during the start (a pod deleted while the CRD list is retried, Ctrl-C while the
    // local cluster starts) stops what has started and ends the process: the start is not waited
    // for (up to 30 s), nor is its failure, which the stop itself may cause, reported.
    const starting = start(config, env, running, logFormat);
    // Once a signal has ended the process's work, a start still under way may yet fail: not news.
    starting.catch(() => {});
    await Promise.race([starting, done]);
  } catch (err) {
    if (running.isStopping) return done;
    console.error(`crdgate: ${describeError(err)}`);
    await running.stopAll();
    return err instanceof CrdgateError && err.code === 'CONFIG_INVALID' ? 2 : 1;
  }
  return done;
}

/** Resolves with the exit code once SIGINT or SIGTERM has stopped everything. */
function stopOnSignals(running: RunningStack, shutdownTimeoutMs: number): Promise<number> {
  return new Promise<number>((resolve) => {
    for (const sig of ['SIGINT', 'SIGTERM'] as const) {
      process.once(sig, () => {
        const started = performance.now();
        log(`${sig}: shutting down (in-flight requests have ${shutdownTimeoutMs} ms to finish)`);
        void running.stopAll().then(() => {
          log(`stopped in ${Math.round(performance.now() - started)} ms`);
          resolve(0);
        });
      });
    }
  });
}

/** Cluster, gateway, listeners; everything started is on the stack before the next step can fail. */
async function start(config: GatewayConfig, env: NodeJS.ProcessEnv, running: RunningStack, logFormat: Exclude<LogFormat, 'auto'>): Promise<void> {
  // A bar redrawn in place only where a person reads readable lines; JSON logs get a line now and then.
  const progress: ProgressTarget = logFormat === 'pretty' ? progressTargetFor(process.stdout, log) : { lines: log };
  // Fail on a taken port before spending seconds on a cluster.
  await checkPortFree(config);
  if (config.metricsPort && config.metricsHost !== 'main') {
    await checkPortFree({ port: config.metricsPort, host: config.metricsHost }, '--metrics-port (0 turns the metrics listener off)');
  }
  const { kc, cluster } = await connect(config, env, progress);
  if (cluster) {
    running.push({ stop: () => cluster.stop() });
    void cluster.exited.then((code) => {
      if (running.isStopping) return;
      logger.fatal(`the local control plane exited unexpectedly (code ${code}); see ${cluster.logFile}`);
      void running.stopAll().then(() => process.exit(1));
    });
  }
  const devTenants = cluster ? await import('./local-cluster/dev-tenants.ts') : undefined;
  const tenants = tenantsOf(config, devTenants);
  const client = new KubeClient(kc, { timeoutMs: config.kubeTimeoutMs });
  await checkReachable(client);
  const shared = config.redisUrl ? await connectShared(config.redisUrl, config) : undefined;
  if (shared) running.push({ stop: () => shared.redis.close() });
  const metricsOnMain = config.metricsHost === 'main';
  const metricsPlugin = config.metricsPort || metricsOnMain ? metrics({ onMainPort: metricsOnMain }) : undefined;
  const mode = config.mode ?? (cluster ? 'local' : 'production');
  // The local cluster's demo tenants, when they are the ones served.
  const demo = tenants && !config.tenants ? devTenants : undefined;
  const gateway = await createGateway({
    client,
    tenants,
    subscriberBufferBytes: config.watch.bufferBytes,
    watchWindowBytes: config.watch.windowBytes,
    watchUnavailableAfterMs: config.watch.unavailableAfterMs,
    rbacStaleAfterMs: config.rbacStaleAfterMs,
    queryCache: config.queryCache,
    corsOrigins: config.corsOrigins,
    plugins: await gatewayPlugins(config, mode, metricsPlugin, shared),
    log: messageLog(logger),
    onInternalError: (requestId, cause, code) => logger.error({ requestId, err: cause, ...(code !== 'INTERNAL' ? { code } : {}) },
      code === 'INTERNAL' ? 'internal error' : 'an error whose Kubernetes message was cut for the client'),
    // The explorer's tenant picker; its tokens go only to browsers on this machine.
    explorer: demo ? { demoTenants: () => demoTenants(demo, config.stateDir) } : undefined,
  }).catch((err: unknown) => {
    throw new CrdgateError('CLUSTER_UNREACHABLE', describeError(err), { cause: err });
  });
  running.push({ stop: () => gateway.stop({ timeoutMs: config.shutdownTimeoutMs, drainDelayMs: config.shutdownDelayMs }) });
  log(`${gateway.catalog.current()!.crds.length} custom resource definition(s) discovered`);
  let server: Server;
  try {
    server = await gateway.listen(config.port, config.host);
  } catch (err) {
    throw listenError(err, config);
  }
  const base = baseUrl(config.host, server, config.port);
  log(`GraphQL API at ${base}/graphql (subscriptions: ws://${base.slice('http://'.length)}/graphql), explorer at ${base}/ (cluster ${client.server})`);
  await startMetrics(config, metricsPlugin, base);
  await logTracing(config);
  if (config.corsOrigins.length) log(`CORS: pages of ${config.corsOrigins.join(', ')} may call /graphql, /rest and the OpenAPI documents`);
  if (tenants) log(`authentication on: tenants from ${tenants.file}`);
  else log('authentication off: every caller acts as the gateway\'s own Kubernetes identity');
  // For the person at the terminal: with readable logs, or whenever crdgate runs locally (then,
  // with JSON logs, on stderr so that stdout stays JSON).
  if (logFormat === 'pretty' || mode === 'local') {
    const block = startupBlock({
      base,
      kubectl: kubectlCommand(config, cluster),
      auth: demo && tenants ? { kind: 'demo', tenants: demoTenants(demo, config.stateDir), validHours: demoTokenHours }
        : tenants ? { kind: 'tenants', file: tenants.file } : { kind: 'off' },
      localCluster: Boolean(cluster),
    });
    (logFormat === 'pretty' ? process.stdout : process.stderr).write(block);
  }
}

/** The tenants file, the local cluster's demo tenants (localCluster: their module, when crdgate runs one), or none when asked for in so many words. */
function tenantsOf(config: GatewayConfig, localCluster: DevTenants | undefined): TenantConfig | undefined {
  let tenants: TenantConfig | undefined;
  if (config.tenants && config.tenants !== 'none') tenants = loadTenantConfig(config.tenants);
  else if (localCluster && config.tenants !== 'none') tenants = localCluster.ensureDevTenants(config.stateDir);
  else if (!localCluster && config.tenants === undefined) {
    // Without tenants every caller acts as the gateway, which may be allowed to impersonate anyone: a real
    // cluster is only served that way when asked for in so many words.
    throw new CrdgateError('CONFIG_INVALID', 'no tenants file: pass --tenants FILE to authenticate callers, or --tenants none to let every caller act as the gateway\'s own Kubernetes identity');
  }
  if (!tenants && !isLoopback(config.host)) {
    logger.warn(`authentication is off (--tenants none) and the gateway listens on ${config.host}: anyone who reaches it acts as the gateway's own Kubernetes identity`);
  }
  return tenants;
}

const demoTokenHours = 12;

/** The local demo tenants, each with a fresh token. */
function demoTenants(devTenants: DevTenants, stateDir: string): { name: string; token: string }[] {
  return ['a', 'b'].map((t) => ({ name: `tenant-${t}`, token: devTenants.mintDevToken(stateDir, t, demoTokenHours) }));
}

/** A kubectl command for the cluster crdgate serves, as the user would type it. */
function kubectlCommand(config: GatewayConfig, cluster: LocalCluster | undefined): string {
  const cwd = process.cwd();
  if (cluster) {
    const what = config.installExamples ? 'get crontabs -A' : 'get crd';
    return `${shellPath(kubectlPath, cwd)} --kubeconfig ${shellPath(cluster.info.kubeconfig, cwd)} ${what}`;
  }
  return `kubectl${config.kubeconfig ? ` --kubeconfig ${shellPath(config.kubeconfig, cwd)}` : ''} get crd`;
}

async function gatewayPlugins(config: GatewayConfig, mode: 'local' | 'production', metricsPlugin: ReturnType<typeof metrics> | undefined,
  shared: SharedState | undefined): Promise<GatewayPlugin[]> {
  const tracingModule = config.tracing.exporter === 'otlp' ? await import('./plugins/tracing.ts') : undefined;
  // Metrics first: it wraps the raw client, so each retry of a 429 is timed as its own call.
  return [
    ...(metricsPlugin ? [metricsPlugin] : []),
    ...(tracingModule ? [tracingModule.tracing({
      exporter: tracingModule.otlpExporter(config.tracing.endpoint),
      serviceName: config.tracing.serviceName,
      sampleRatio: config.tracing.sampleRatio,
      onExportError: (err, failures) => logger.warn(`exporting traces failed ${failures} time(s) (${describeError(err)}); spans are dropped until the collector answers`),
    })] : []),
    requestLogging({ logger }),
    persistedOperations({
      ...(config.persistedOperations.file ? { mode: config.persistedOperations.mode, file: config.persistedOperations.file } : { mode: 'apq' }),
      cacheSize: config.persistedOperations.cacheSize,
      ...(shared ? { shared: shared.documents } : {}),
    }),
    queryLimits({ limits: config.limits, mode }),
    rateLimits({ limits: config.rateLimits, ...(shared ? { budgets: shared.budgets } : {}) }),
  ];
}

function baseUrl(host: string, server: Server, fallbackPort: number): string {
  const shown = host === '0.0.0.0' || host === '::' ? 'localhost' : host;
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : fallbackPort;
  return `http://${shown.includes(':') ? `[${shown}]` : shown}:${port}`;
}

async function startMetrics(config: GatewayConfig, metricsPlugin: ReturnType<typeof metrics> | undefined, base: string): Promise<void> {
  if (config.metricsHost === 'main') {
    log(`metrics at ${base}/metrics (on the API port: every caller can read them)`);
    return;
  }
  if (!metricsPlugin) return;
  let metricsServer: Server;
  try {
    metricsServer = await metricsPlugin.listen(config.metricsPort, config.metricsHost);
  } catch (err) {
    throw listenError(err, { ...config, port: config.metricsPort, host: config.metricsHost }, '--metrics-port (0 turns the metrics listener off)');
  }
  const m = metricsServer.address();
  log(`metrics at http://${config.metricsHost.includes(':') ? `[${config.metricsHost}]` : config.metricsHost}:${typeof m === 'object' && m ? m.port : config.metricsPort}/metrics`);
}

async function logTracing(config: GatewayConfig): Promise<void> {
  if (config.tracing.exporter !== 'otlp') return;
  const { otlpTracesUrl } = await import('./plugins/tracing.ts');
  // Only the origin and path: a URL's user info would be a credential.
  const url = config.tracing.endpoint ? new URL(otlpTracesUrl(config.tracing.endpoint)) : undefined;
  log(`traces (OTLP) to ${url ? url.origin + url.pathname : 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or http://localhost:4318/v1/traces'} as service ${config.tracing.serviceName}, sampling ${config.tracing.sampleRatio * 100}% of requests without a traceparent`);
}

/**
 * The Redis the replicas share. An unreachable one does not stop the start: the connection says
 * so once and keeps trying, and budgets fail closed until it answers.
 */
interface SharedState {
  redis: RedisConnection;
  documents: SharedDocuments;
  budgets: SharedTenantBudgets;
}

async function connectShared(url: string, config: GatewayConfig): Promise<SharedState> {
  const [{ connectRedis, refusedDatabase }, { SharedDocuments }, { SharedTenantBudgets }] = await Promise.all([
    import('./plugins/redis-connection.ts'), import('./plugins/shared-documents.ts'), import('./plugins/shared-budgets.ts'),
  ]);
  const redis = connectRedis(url, { log: { info: (m) => logger.info(m), warn: (m) => logger.warn(m) } });
  if (await redis.ready(5000)) log(`shared state in Redis at ${redis.where}: per-tenant budgets and APQ documents are shared with every replica using it`);
  else if (redis.refusal !== undefined) {
    // Down is an outage the gateway rides out; refused credentials are a setting no retry fixes, and
    // a gateway started with them would answer every request with 503 while it says it is ready.
    await redis.close();
    const said = redis.refusal.split('\n')[0]!.slice(0, 120);
    if (refusedDatabase(said)) {
      throw new CrdgateError('CONFIG_INVALID', `Redis at ${redis.where} has no such database (${said}); use one of its databases in the path of --redis-url (CRDGATE_REDIS_URL)`);
    }
    throw new CrdgateError('CONFIG_INVALID', `Redis at ${redis.where} refused crdgate's credentials (${said}); fix the user and password of --redis-url (CRDGATE_REDIS_URL)`);
  }
  return {
    redis,
    documents: new SharedDocuments(redis.client, config.persistedOperations.cacheSize),
    budgets: new SharedTenantBudgets(redis, config.rateLimits),
  };
}

async function connect(config: GatewayConfig, env: NodeJS.ProcessEnv, progress: ProgressTarget): Promise<{ kc: KubeConfig; cluster?: LocalCluster }> {
  if (config.localCluster !== 'always') {
    const resolved = resolveKubeConfig(config.kubeconfig, env);
    if (resolved) {
      log(`using kubeconfig ${resolved.source}`);
      return { kc: resolved.kc };
    }
    if (config.localCluster === 'never') {
      throw new CrdgateError('KUBECONFIG_INVALID', 'no cluster is configured (no --kubeconfig, KUBECONFIG, ~/.kube/config or in-cluster service account) and --local-cluster is never');
    }
  }
  log('no kubeconfig found: starting the local Kubernetes control plane');
  const built = await buildLauncher({ log, progress });
  log(`local control plane binary ready (${built.seconds.toFixed(1)} s)`);
  const dataDir = join(config.stateDir, 'cluster');
  const [{ launchCluster }, { installExampleCrds, installExampleObjects }] = await Promise.all([
    import('./local-cluster/launch-cluster.ts'), import('./local-cluster/install-examples.ts'),
  ]);
  const cluster = await launchCluster({ dataDir, logFile: join(config.stateDir, 'cluster.log'), port: config.localClusterPort || undefined });
  log(`local kube-apiserver at ${cluster.info.server}; kubeconfig ${cluster.info.kubeconfig} (use it with kubectl at ${built.kubectl})`);
  const kc = loadFile(cluster.info.kubeconfig);
  if (config.installExamples) {
    try {
      const crds = await installExampleCrds(kc);
      const objects = await installExampleObjects(kc);
      log(`installed example CRDs (${crds.join(', ')}) and ${objects} example object(s)`);
    } catch (err) {
      await cluster.stop();
      throw err;
    }
  }
  return { kc, cluster };
}

async function checkReachable(client: KubeClient): Promise<void> {
  try {
    await client.request('GET', '/version', { timeoutMs: 10_000 });
  } catch (err) {
    const answered = err instanceof KubeApiError && err.httpStatus > 0;
    throw new CrdgateError('CLUSTER_UNREACHABLE', answered
      ? `the Kubernetes API at ${client.server} refused crdgate (${err.httpStatus} ${err.reason ?? ''}: ${err.message}); check the kubeconfig's credentials`
      : `${describeError(err)}; ${tlsRefused(err)
        ? 'the API server answered, but its certificate failed the TLS check: check the kubeconfig\'s certificate-authority (or certificate-authority-data) and tls-server-name, and the certificate\'s dates'
        : 'check that the cluster is running and the kubeconfig points at it'}`, { cause: err });
  }
}

/** Whether a call failed on the TLS check of the server's certificate (Node's codes for it), not on reaching it. */
function tlsRefused(err: unknown): boolean {
  for (let e = err as { code?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 4; e = e.cause as typeof e, depth++) {
    if (typeof e.code === 'string' && /^(UNABLE_TO_|CERT_|DEPTH_ZERO_SELF_SIGNED_CERT$|SELF_SIGNED_CERT_IN_CHAIN$|ERR_TLS_CERT_ALTNAME_INVALID$)/.test(e.code)) return true;
  }
  return false;
}

async function listen(app: Parameters<typeof createServer>[1], config: Pick<GatewayConfig, 'port' | 'host'>, setting?: string): Promise<Server> {
  const server = createServer(app);
  server.listen(config.port, config.host);
  try {
    await Promise.race([once(server, 'listening'), once(server, 'error').then(([err]) => Promise.reject(err))]);
  } catch (err) {
    throw listenError(err, config, setting);
  }
  return server;
}

function listenError(err: unknown, config: Pick<GatewayConfig, 'port' | 'host'>, setting = '--port or PORT'): CrdgateError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') {
    return new CrdgateError('PORT_IN_USE', `port ${config.port} on ${config.host} is already in use; stop what uses it or choose another with ${setting}`);
  }
  if (code === 'EACCES') {
    return new CrdgateError('PORT_IN_USE', `not allowed to listen on ${config.host}:${config.port}; choose a port above 1023`);
  }
  return new CrdgateError('CONFIG_INVALID', `cannot listen on ${config.host}:${config.port}: ${(err as Error).message}`);
}

async function checkPortFree(config: Pick<GatewayConfig, 'port' | 'host'>, setting?: string): Promise<void> {
  if (config.port === 0) return;
  const server = await listen((_req, res) => res.end(), config, setting);
  await closeServer(server);
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
    setTimeout(() => server.closeAllConnections(), 5_000).unref();
  });
}
