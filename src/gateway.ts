// The composition root: from a Kubernetes client to a running gateway. It wires the layers in
// the order the data flows (docs/architecture.md): catalog → live schema; service → auth →
// plugins (the operations every transport calls); tenant access; the HTTP app; on listen, the
// WebSocket server and the graceful close. main.ts adds configuration and process lifecycle;
// tests build the same gateway in-process.
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { Express, RequestHandler } from 'express';
import type { GraphQLSchema } from 'graphql';
import { Authenticator, type Caller } from './auth/authenticate.ts';
import { ApiReachability, type ApiReachabilityOptions } from './kube/api-reachability.ts';
import { Permissions } from './auth/permissions.ts';
import { rbacOperations, type RbacOperations } from './auth/rbac-operations.ts';
import { checkTokenReviewGrant, TokenReviewer } from './auth/token-review.ts';
import type { TenantConfig } from './auth/tenant-config.ts';
import { FallbackExpired } from './auth/verification-keys.ts';
import { CrdCatalog, crdReader, type CrdSnapshot } from './catalog/crd-catalog.ts';
import { describeError, errorWithStack } from './errors.ts';
import { internalErrorReporter, type ApiErrorCode, type InternalErrorReporter } from './api-errors.ts';
import { allowedRootFields, mayUseResource, prepareTenantViewsInSlices, refOf, refsOf, TenantSchemaCache } from './graphql/tenant-schema.ts';
import { callerMessageOf, type KubeClient } from './kube/kube-client.ts';
import type { ResourceModel } from './model/resource-model.ts';
import { mergeApolloExtras, pluginClient, socketOperations, type ApolloExtras, type GatewayPlugin, type OperationCheck, type SlotRelease } from './plugins/gateway-plugin.ts';
import { requestTracker, type RequestRecord, type RequestStart, type SubscriptionEndRecord } from './plugins/request-tracker.ts';
import { createHubOperations, type GatewayOperations, type HubOperationsOptions } from './service/hub-operations.ts';
import { LiveSchema, type LiveSchemaLog } from './service/live-schema.ts';
import { createApp, finalHandlers, type AppOptions, type Readiness, type TenantHooks } from './transports/create-app.ts';
import { answerClientErrors } from './transports/client-errors.ts';
import { gracefulClose, type GracefulClose } from './transports/graceful-close.ts';
import type { ExplorerSettings } from './transports/explorer.ts';
import { defaultExplorerQuery } from './transports/explorer-page.ts';
import { relationsExample } from './graphql/relations-example.ts';
import { attachWebSocket, type WebSocketHandle } from './transports/graphql-ws-server.ts';
import { openApiRoutes } from './transports/openapi-routes.ts';
import { restRouter } from './transports/rest-router.ts';
import { SchemaGateway } from './transports/schema-gateway.ts';

export interface GatewayOptions {
  client: KubeClient;
  log?: LiveSchemaLog;
  /** How long to wait for the first list of CRDs. */
  syncTimeoutMs?: number;
  catalogDebounceMs?: number;
  /** Grace period of an upstream watch after its last subscriber leaves. */
  watchGraceMs?: number;
  /** Bytes a subscriber's connection may hold unsent before it counts as a slow consumer. */
  subscriberBufferBytes?: number;
  /** Bytes of recent events each upstream watch keeps for resuming subscribers. */
  watchWindowBytes?: number;
  /** How long an upstream watch may keep failing before its subscribers get UNAVAILABLE. */
  watchUnavailableAfterMs?: number;
  explorer?: ExplorerSettings | false;
  /** Browser origins allowed to call the APIs cross-origin (CORS, see cross-origin.ts); absent or empty: none. */
  corsOrigins?: readonly string[];
  /** Authentication and tenant mapping; absent: every caller acts as the gateway's identity. */
  tenants?: TenantConfig;
  /** How long RBAC answers are cached (they are also dropped when RBAC objects change). */
  rbacCacheMs?: number;
  /** How long the watch of RBAC objects may fail before live subscriptions are re-checked by SubjectAccessReview. */
  rbacStaleAfterMs?: number;
  /** How often they are re-checked then (default 1 s). */
  rbacStaleCheckMs?: number;
  /** How /readyz asks whether the apiserver answers (see api-reachability.ts); default: every 5 s, 5 s to answer. */
  readinessCheck?: Pick<ApiReachabilityOptions, 'intervalMs' | 'timeoutMs'>;
  /** The shared cache behind filtered and sorted lists: memory bound, idle time, scan bound (see hub-operations.ts). */
  queryCache?: HubOperationsOptions['queryCache'];
  /** Production behaviour (limits, rate limits, metrics, logs), applied in order; see src/plugins. */
  plugins?: GatewayPlugin[];
  /**
   * Where the cause of each internal error goes, once, with its request id (clients only see
   * "internal error"), and of each error whose Kubernetes message was cut for the client (where a
   * webhook call failed: see src/kube/internal-addresses.ts), with its code. Default: a warning
   * through log.
   */
  onInternalError?: (requestId: string | undefined, cause: unknown, code: ApiErrorCode) => void;
}

export interface Gateway {
  readonly app: Express;
  readonly catalog: CrdCatalog;
  readonly live: LiveSchema;
  readonly schema: SchemaGateway;
  readonly operations: GatewayOperations;
  /** Listens on host:port (0: a free port) with HTTP and WebSocket on the same port. */
  listen(port: number, host?: string): Promise<Server>;
  /**
   * Graceful stop: /readyz answers 503 at once (and for drainDelayMs the server still accepts, so
   * load balancers notice), then the listeners stop accepting, WebSockets close with 1001, SSE
   * streams and upstream watches end, and in-flight HTTP requests get until timeoutMs (default
   * 25 s) to finish before their connections are cut. Safe to call twice.
   */
  stop(opts?: StopOptions): Promise<void>;
}

export interface StopOptions {
  /** How long in-flight HTTP requests may take to finish. */
  timeoutMs?: number;
  /** How long /readyz answers 503 before the listeners stop accepting. */
  drainDelayMs?: number;
}

/** The parts behind the transports, started in order and stopped in reverse. */
interface Core {
  readonly catalog: CrdCatalog;
  readonly permissions?: Permissions;
  /** The RBAC layer of the operations, with tenants: its re-check timers stop with the gateway. */
  readonly rbac?: RbacOperations;
  readonly operations: GatewayOperations;
  readonly live: LiveSchema;
  readonly schema: SchemaGateway;
  readonly plugins: readonly GatewayPlugin[];
}

/** Tenant access: the caller of a token, its schema, and the resources it may see. */
interface TenantAccess extends TenantHooks {
  visibleResources(caller: Caller): Promise<readonly ResourceModel[]>;
  /**
   * Whether the caller may use one resource (it is among its visible resources). `signal`: the
   * request's, so that its reviews are dropped if the client leaves first.
   */
  mayUse(caller: Caller, resource: ResourceModel, signal?: AbortSignal): Promise<boolean>;
}

interface Listener {
  server: Server;
  ws: WebSocketHandle;
  graceful: GracefulClose;
}

export async function createGateway(opts: GatewayOptions): Promise<Gateway> {
  const plugins = opts.plugins ?? [];
  const client = pluginClient(plugins, opts.client, opts.log);
  const catalog = await startCatalog(client, opts);
  const core = await startCore(client, catalog, opts, plugins);
  const access = opts.tenants && core.permissions ? tenantAccess(opts.tenants, core.permissions, core, client, opts.log) : undefined;
  const apollo = mergeApolloExtras(plugins);
  const reportInternal = internalErrorReporter(opts.onInternalError
    ?? ((requestId, cause, code) => opts.log?.warn(`${code === 'INTERNAL' ? 'internal error' : `${code}, its Kubernetes message cut for the client`}${requestId ? ` (request ${requestId})` : ''}: ${errorWithStack(cause)}`)));
  const state: { stopping?: Promise<void> } = {};
  const api = apiReachability(opts);
  let web: { app: Express; stop(): Promise<void> };
  try {
    web = await createWebApp(core, access, apollo, { explorer: opts.explorer, reportInternal, corsOrigins: opts.corsOrigins }, () => readiness(catalog, api, state.stopping !== undefined));
  } catch (err) {
    // Nothing is listening yet, but the catalog, RBAC and CRD watches and the plugins are running.
    await stopCore(core);
    throw err;
  }
  const listeners: Listener[] = [];
  return {
    app: web.app,
    catalog,
    live: core.live,
    schema: core.schema,
    operations: core.operations,
    async listen(port, host = '127.0.0.1') {
      const listener = await listen(web.app, port, host, { ...webSocketOptions(core, access, apollo), reportInternal, corsOrigins: opts.corsOrigins });
      listeners.push(listener);
      return listener.server;
    },
    stop(stopOpts = {}) {
      state.stopping ??= stopGateway(core, web, listeners, stopOpts);
      return state.stopping;
    },
  };
}

async function startCatalog(client: KubeClient, opts: GatewayOptions): Promise<CrdCatalog> {
  const catalog = CrdCatalog.forCluster(client, {
    debounceMs: opts.catalogDebounceMs,
    onError: (err, retryInMs) => opts.log?.warn(`watching CRDs failed (${describeError(err)}); retrying in ${Math.round(retryInMs)} ms`),
  });
  catalog.start();
  const timeoutMs = opts.syncTimeoutMs ?? 30_000;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      catalog.waitForFirstSnapshot(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(
          `could not list CustomResourceDefinitions at ${client.server} within ${timeoutMs / 1000} s: ${describeError(catalog.lastError)}`)), timeoutMs);
      }),
    ]);
  } catch (err) {
    await catalog.stop();
    throw err;
  } finally {
    clearTimeout(timer);
  }
  return catalog;
}

/** RBAC, the operations (service → auth → plugins) and the live schema that calls them; on failure, nothing is left running. */
async function startCore(client: KubeClient, catalog: CrdCatalog, opts: GatewayOptions, plugins: readonly GatewayPlugin[]): Promise<Core> {
  const permissions = opts.tenants
    ? new Permissions(client, { ttlMs: opts.rbacCacheMs, staleAfterMs: opts.rbacStaleAfterMs, staleCheckMs: opts.rbacStaleCheckMs, log: opts.log })
    : undefined;
  permissions?.start();
  try {
    return wireOperations(client, catalog, permissions, opts, plugins);
  } catch (err) {
    await permissions?.stop();
    await catalog.stop();
    throw err;
  }
}

function wireOperations(client: KubeClient, catalog: CrdCatalog, permissions: Permissions | undefined, opts: GatewayOptions,
  plugins: readonly GatewayPlugin[]): Core {
  const log = opts.log;
  const hubOperations = createHubOperations(client, {
    hub: {
      graceMs: opts.watchGraceMs,
      maxBufferedBytes: opts.subscriberBufferBytes,
      windowBytes: opts.watchWindowBytes,
      unavailableAfterMs: opts.watchUnavailableAfterMs,
      onUpstreamError: (k, err, ms) => log?.warn(`watch of ${k.plural}.${k.group}/${k.version} failed (${describeError(err)}); retrying in ${Math.round(ms)} ms`),
      onDirectWatchRefused: (k, err) => log?.warn(`a subscriber's direct watch of ${k.plural}.${k.group}/${k.version}, as the gateway, failed (${describeError(err)})`),
    },
    queryCache: { ...(log ? { log } : {}), ...opts.queryCache },
  });
  const rbac = permissions ? rbacOperations(hubOperations, permissions, { customResource: crdNamesOf(catalog) }) : undefined;
  const operations = plugins.reduce<GatewayOperations>((o, p) => p.wrapOperations?.(o) ?? o, rbac ?? hubOperations);
  const live = new LiveSchema({ operations, hub: operations.hub, log, crdOf: crdReader(client) });
  const schema = new SchemaGateway(live.rebuild(catalog.current()!));
  live.follow(catalog, schema);
  for (const p of plugins) p.attach?.({ tenants: opts.tenants, catalog, live, operations });
  return { catalog, permissions, rbac, operations, live, schema, plugins };
}

/** Whether group/plural is a CRD of the cluster, from the catalog's newest snapshot (one set per snapshot). */
function crdNamesOf(catalog: CrdCatalog): (group: string, plural: string) => boolean {
  let names: { snapshot: CrdSnapshot | undefined; set: Set<string> } = { snapshot: undefined, set: new Set() };
  return (group, plural) => {
    const snapshot = catalog.current();
    if (names.snapshot !== snapshot) names = { snapshot, set: new Set(snapshot?.crds.map((c) => `${c.spec.names.plural}.${c.spec.group}`)) };
    return names.set.has(`${plural}.${group}`);
  };
}

function tenantAccess(config: TenantConfig, permissions: Permissions, core: Core, client: KubeClient, log: LiveSchemaLog | undefined): TenantAccess {
  const auth = config.auth;
  const tokenReviewer = auth.mode === 'tokenReview'
    ? new TokenReviewer(client, auth, { limited: (review) => permissions.reviewer.limited(review) })
    : undefined;
  if (tokenReviewer) void checkTokenReviewGrant(client, log);
  const authenticator = new Authenticator(config, {
    tokenReviewer,
    // Every token is refused after these two; StaleKeySet and UnknownKidDuringOutage say what still passes.
    onKeySetError: (err) => log?.warn(err.name === 'KeySetUnavailable' || err instanceof FallbackExpired ? `${err.message}; tokens are refused with 503 UNAVAILABLE until the issuer's key set answers` : err.message),
  });
  const cache = new TenantSchemaCache();
  // What every tenant's view of a schema looks up is prepared after each change, not by the first
  // caller (a walk of every type: most of a second at 1,000 CRDs), in slices between requests.
  const prepare = (schema: GraphQLSchema) => prepareTenantViewsInSlices(schema, { wanted: () => core.schema.current === schema, resources: core.live.resources });
  prepare(core.schema.current);
  core.live.onChange(prepare);
  return {
    authenticate: (authorization) => authenticator.authenticate(authorization),
    schemaFor: async (caller: Caller, signal?: AbortSignal) => {
      const resources = core.live.resources;
      const perms = await permissions.of(caller.identity, refsOf(resources), 'caller', signal);
      return cache.get(core.schema.current, resources, perms);
    },
    visibleResources: async (caller) => {
      const resources = core.live.resources;
      const perms = await permissions.of(caller.identity, refsOf(resources));
      const { crds } = allowedRootFields(resources, perms);
      return resources.filter((r) => crds.has(r.crdName));
    },
    mayUse: async (caller, resource, signal) => {
      // The rights on every served resource, as schemaFor asks for them: one cached answer per caller.
      const perms = await permissions.of(caller.identity, refsOf(core.live.resources), 'caller', signal);
      return mayUseResource(perms, refOf(resource));
    },
  };
}

/** What the plugins give the HTTP app: Apollo settings, admission, operation checks, one request tracker and their middleware. */
export function pluginAppOptions(plugins: readonly GatewayPlugin[], apollo: ApolloExtras = mergeApolloExtras(plugins)): Pick<AppOptions, 'apollo' | 'admit' | 'checkOperation' | 'middleware'> {
  return {
    apollo,
    admit: admission(plugins),
    checkOperation: operationChecks(plugins),
    middleware: [...requestTracking(plugins), ...plugins.flatMap((p) => p.middleware ?? [])],
  };
}

/** One request tracker for every plugin that reads request records (logs, metrics); none when no plugin does. */
function requestTracking(plugins: readonly GatewayPlugin[]): RequestHandler[] {
  const onStart = everyPlugin(plugins, (p) => p.onRequestStart);
  const onDone = requestReaders(plugins);
  if (!onDone && !onStart) return [];
  return [requestTracker(onDone ?? (() => {}), onStart)];
}

/** Every plugin's onRequestDone as one, in plugin order; undefined when no plugin reads request records. */
function requestReaders(plugins: readonly GatewayPlugin[]): ((r: RequestRecord) => void) | undefined {
  return everyPlugin(plugins, (p) => p.onRequestDone);
}

/** Every plugin's onSubscriptionEnd as one, in plugin order; undefined when no plugin reads them. */
function subscriptionEndReaders(plugins: readonly GatewayPlugin[]): ((r: SubscriptionEndRecord) => void) | undefined {
  return everyPlugin(plugins, (p) => p.onSubscriptionEnd);
}

/**
 * The hook `of` each plugin as one function that calls them in plugin order, each as its plugin's
 * method; the one hook itself when only one plugin has it (the per-request path); undefined when none has.
 */
function everyPlugin<R>(plugins: readonly GatewayPlugin[], of: (p: GatewayPlugin) => ((r: R) => void) | undefined): ((r: R) => void) | undefined {
  const hooks = plugins.flatMap((p) => {
    const hook = of(p);
    return hook ? [hook.bind(p)] : [];
  });
  if (hooks.length <= 1) return hooks[0];
  return (r) => {
    for (const hook of hooks) hook(r);
  };
}

/** Every plugin's check of an operation, in plugin order; undefined when no plugin checks. */
function operationChecks(plugins: readonly GatewayPlugin[]): OperationCheck | undefined {
  const checks = plugins.flatMap((p) => (p.checkOperation ? [p.checkOperation] : []));
  if (!checks.length) return undefined;
  if (checks.length === 1) return checks[0];
  return (args) => {
    for (const check of checks) check(args);
  };
}

/** Admission of API requests (rate limits) by every plugin that admits; undefined when none does. */
function admission(plugins: readonly GatewayPlugin[]): ((tenant: string) => void | Promise<void>) | undefined {
  const admitters = plugins.filter((p) => p.admit);
  if (!admitters.length) return undefined;
  // One admitter (the rate limits): called as it is, without a wrapper per request.
  if (admitters.length === 1) return admitters[0]!.admit!.bind(admitters[0]);
  return async (tenant) => {
    for (const p of admitters) await p.admit!(tenant);
  };
}

/** The slot of a WebSocket connection in every plugin that counts them, taken in plugin order; undefined when none does. */
function connectionSlots(plugins: readonly GatewayPlugin[]): ((tenant: string) => Promise<SlotRelease>) | undefined {
  const counters = plugins.filter((p) => p.openConnection);
  if (!counters.length) return undefined;
  return async (tenant) => {
    const held: SlotRelease[] = [];
    try {
      for (const p of counters) held.push(await p.openConnection!(tenant));
    } catch (err) {
      for (const release of held) release();
      throw err;
    }
    if (held.length === 1) return held[0]!;
    const lost = AbortSignal.any(held.flatMap((r) => (r.lost ? [r.lost] : [])));
    return Object.assign(() => {
      for (const release of held) release();
    }, { lost });
  };
}

function readiness(catalog: CrdCatalog, api: ApiReachability, stopping: boolean): Readiness {
  const reasons: string[] = [];
  if (stopping) reasons.push('shutting down');
  if (!catalog.current()) reasons.push('CustomResourceDefinitions not discovered yet');
  // Asked every time, so that the checks go on; a failing CRD watch already says the same.
  const answer = api.current();
  // Anyone may ask /readyz: the reason as a caller would read it (no internal address); the log has the rest.
  const unreachable = !catalog.healthy ? catalog.lastError : !answer.reachable ? answer.error : undefined;
  if (!catalog.healthy || !answer.reachable) reasons.push(`Kubernetes API not reachable: ${callerMessageOf(unreachable) ?? 'see the gateway\'s log'}`);
  return { ready: reasons.length === 0, reasons };
}

/** The apiserver's answers for /readyz, through the client as given (its checks are no API calls to count or trace). */
function apiReachability(opts: GatewayOptions): ApiReachability {
  return new ApiReachability(opts.client, {
    ...opts.readinessCheck,
    onChange: (reachable, err) => {
      if (reachable) opts.log?.info('the Kubernetes API answers GET /version again');
      else opts.log?.warn(`the Kubernetes API did not answer GET /version (${describeError(err)}): /readyz answers 503 until it does`);
    },
  });
}

/**
 * The explorer's first query. Its second operation follows relations on a resource served now;
 * with tenants (other than the local demo ones) it is left out, as the page is served before
 * anyone authenticates and would name a resource to every visitor, whatever its rights.
 */
export function explorerDefaultQuery(resources: readonly ResourceModel[], opts: { tenants: boolean; demoTenants: boolean }): string {
  return opts.tenants && !opts.demoTenants ? defaultExplorerQuery : defaultExplorerQuery + relationsExample(resources);
}

/** The HTTP app: health, explorer and GraphQL (createApp), then OpenAPI documents, REST, and the final handlers. */
async function createWebApp(core: Core, access: TenantAccess | undefined, apollo: ApolloExtras,
  settings: { explorer: GatewayOptions['explorer']; reportInternal: InternalErrorReporter; corsOrigins?: readonly string[] }, ready: () => Readiness): Promise<{ app: Express; stop(): Promise<void> }> {
  const hooks = pluginAppOptions(core.plugins, apollo);
  const admit = hooks.admit;
  const demoTenants = settings.explorer !== false && settings.explorer?.demoTenants !== undefined;
  const { app, stop } = await createApp({
    reportInternal: settings.reportInternal,
    corsOrigins: settings.corsOrigins,
    gateway: core.schema,
    tenants: access,
    ...hooks,
    explorer: settings.explorer === false ? false : {
      defaultQuery: () => explorerDefaultQuery(core.live.resources, { tenants: access !== undefined, demoTenants }),
      ...settings.explorer,
    },
    readiness: ready,
  });
  const resources = () => core.live.resources;
  app.use(openApiRoutes({ resources, authenticate: access?.authenticate, visibleResources: access?.visibleResources }));
  app.use('/rest', restRouter({ operations: core.operations, resources, authenticate: access?.authenticate, mayUse: access?.mayUse, admit }));
  app.use(...finalHandlers());
  return { app, stop };
}

function webSocketOptions(core: Core, access: TenantAccess | undefined, apollo: ApolloExtras): Parameters<typeof attachWebSocket>[1] {
  return {
    path: '/graphql',
    schema: (): GraphQLSchema => core.schema.current,
    authenticate: access?.authenticate,
    schemaFor: access?.schemaFor,
    validationRules: apollo.validationRules,
    parseOptions: apollo.parseOptions,
    hideSuggestions: apollo.hideSchemaDetailsFromClientErrors,
    maxNesting: apollo.maxNesting,
    introspection: apollo.introspection,
    checkOperation: operationChecks(core.plugins),
    admit: admission(core.plugins),
    openConnection: connectionSlots(core.plugins),
    onOperationDone: requestReaders(core.plugins),
    onSubscriptionEnd: subscriptionEndReaders(core.plugins),
    socketOperation: socketOperations(core.plugins),
    formatError: apollo.formatError,
  };
}

async function listen(app: Express, port: number, host: string, ws: Parameters<typeof attachWebSocket>[1]): Promise<Listener> {
  const server = createServer(app);
  answerClientErrors(server, ws.onOperationDone);
  const graceful = gracefulClose(server);
  server.listen(port, host);
  await Promise.race([once(server, 'listening'), once(server, 'error').then(([err]) => Promise.reject(err))]);
  // The WebSocket server once the port is held: ws re-emits the HTTP server's errors, a failed
  // listen among them, which graphql-ws prints with a stack as "Internal error emitted on the
  // WebSocket server" next to the one line crdgate says. Attached in the same turn as 'listening',
  // before any connection can be read.
  return { server, ws: attachWebSocket(server, ws), graceful };
}

async function stopGateway(core: Core, web: { stop(): Promise<void> }, listeners: readonly Listener[], opts: StopOptions): Promise<void> {
  for (const l of listeners) l.graceful.drain();
  if (opts.drainDelayMs) await new Promise((resolve) => setTimeout(resolve, opts.drainDelayMs));
  core.live.stop();
  const deadlineMs = opts.timeoutMs ?? 25_000;
  const closed = listeners.map((l) => l.graceful.close(deadlineMs));
  // Every WebSocket is sent its close (1001) now; SSE streams are not kept waiting for the
  // clients' answers, which one unresponsive client would hold until the deadline.
  const sockets = listeners.map(({ ws }) => ws.close(deadlineMs));
  core.operations.queries.caches.stop();
  // Ends SSE streams and subscriptions (UNAVAILABLE: shutting down) and their upstream watches.
  await core.operations.hub.stop();
  await Promise.all(sockets);
  await Promise.all(closed);
  await web.stop();
  await stopCore(core);
}

/** Stops what startCore and startCatalog started; the live schema and the hub may already be stopped. */
async function stopCore(core: Core): Promise<void> {
  core.live.stop();
  core.operations.queries.caches.stop();
  await core.operations.hub.stop();
  await core.catalog.stop();
  core.rbac?.stopRechecks();
  await core.permissions?.stop();
  for (const p of core.plugins) await p.stop?.();
}
