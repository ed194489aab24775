// The composition root: from a Kubernetes client to a running gateway (catalog, live schema,
// operations, HTTP app, WebSocket subscriptions). main.ts adds configuration and process
// lifecycle; tests build the same gateway in-process.
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Express } from 'express';
import { CrdCatalog } from './catalog/crd-catalog.ts';
import { describeError } from './errors.ts';
import { internalErrorReporter } from './api-errors.ts';
import { createApp, finalHandlers, sendGraphQLError, type TenantHooks } from './transports/create-app.ts';
import type { ExplorerSettings } from './transports/explorer.ts';
import { restRouter } from './transports/rest-router.ts';
import { Authenticator, type Caller } from './auth/authenticate.ts';
import { Permissions } from './auth/permissions.ts';
import { TokenReviewer } from './auth/token-review.ts';
import type { TenantConfig } from './auth/tenant-config.ts';
import { allowedRootFields, refOf, TenantSchemaCache } from './graphql/tenant-schema.ts';
import { openApiRoutes } from './transports/openapi-routes.ts';
import type { ResourceModel } from './model/resource-model.ts';
import { SchemaGateway } from './transports/schema-gateway.ts';
import { attachWebSocket, type WebSocketHandle } from './transports/graphql-ws-server.ts';
import type { KubeClient } from './kube/kube-client.ts';
import { LiveSchema, type LiveSchemaLog } from './service/live-schema.ts';
import { createGatewayOperations, type GatewayOperations, type GatewayOperationsOptions } from './service/hub-operations.ts';
import { mergeApolloExtras, type GatewayPlugin } from './plugins/gateway-plugin.ts';
import { sendProblem } from './transports/rest-router.ts';

export interface GatewayOptions {
  client: KubeClient;
  log?: LiveSchemaLog;
  /** How long to wait for the first list of CRDs. */
  syncTimeoutMs?: number;
  catalogDebounceMs?: number;
  /** Grace period of an upstream watch after its last subscriber leaves. */
  watchGraceMs?: number;
  /** Events queued per subscriber before it counts as a slow consumer. */
  subscriberQueueSize?: number;
  explorer?: ExplorerSettings | false;
  /** Authentication and tenant mapping; absent: every caller acts as the gateway's identity. */
  tenants?: TenantConfig;
  /** How long RBAC answers are cached (they are also dropped when RBAC objects change). */
  rbacCacheMs?: number;
  /** How long the watch of RBAC objects may fail before live subscriptions are re-checked by SubjectAccessReview. */
  rbacStaleAfterMs?: number;
  /** How often they are re-checked then (default 1 s). */
  rbacStaleCheckMs?: number;
  /** The shared cache behind filtered and sorted lists: memory bound, idle time, scan bound (see hub-operations.ts). */
  queryCache?: GatewayOperationsOptions['queryCache'];
  /** Production behaviour (limits, rate limits, metrics, logs), applied in order; see src/plugins. */
  plugins?: GatewayPlugin[];
  /**
   * Where the cause of each internal error goes, once, with its request id (clients only see
   * "internal error"). Default: a warning through log.
   */
  onInternalError?: (requestId: string | undefined, cause: unknown) => void;
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

export async function createGateway(opts: GatewayOptions): Promise<Gateway> {
  const log = opts.log;
  const plugins = opts.plugins ?? [];
  const client = plugins.reduce((c, p) => p.wrapClient?.(c) ?? c, opts.client);
  const catalog = CrdCatalog.forCluster(client, {
    debounceMs: opts.catalogDebounceMs,
    onError: (err, retryInMs) => log?.warn(`watching CRDs failed (${describeError(err)}); retrying in ${Math.round(retryInMs)} ms`),
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

  const permissions = opts.tenants
    ? new Permissions(client, { ttlMs: opts.rbacCacheMs, staleAfterMs: opts.rbacStaleAfterMs, staleCheckMs: opts.rbacStaleCheckMs, log })
    : undefined;
  permissions?.start();
  const gatewayOperations = createGatewayOperations(client, {
    permissions,
    hub: { graceMs: opts.watchGraceMs, queueSize: opts.subscriberQueueSize, onUpstreamError: (k, err, ms) => log?.warn(`watch of ${k.plural}.${k.group}/${k.version} failed (${describeError(err)}); retrying in ${Math.round(ms)} ms`) },
    queryCache: { ...(log ? { log } : {}), ...opts.queryCache },
  });
  const operations = plugins.reduce((o, p) => p.wrapOperations?.(o) ?? o, gatewayOperations);
  const live = new LiveSchema({ operations, hub: operations.hub, log });
  const schema = new SchemaGateway(live.rebuild(catalog.current()!));
  live.follow(catalog, schema);
  for (const p of plugins) p.attach?.({ tenants: opts.tenants, catalog, live, operations });

  let tenants: (TenantHooks & { visibleResources(caller: Caller): Promise<readonly ResourceModel[]> }) | undefined;
  if (opts.tenants && permissions) {
    const auth = opts.tenants.auth;
    const tokenReviewer = auth.mode === 'tokenReview'
      ? new TokenReviewer(client, auth, { limited: (review) => permissions.reviewer.limited(review) })
      : undefined;
    const authenticator = new Authenticator(opts.tenants, { tokenReviewer });
    const cache = new TenantSchemaCache();
    tenants = {
      authenticate: (authorization) => authenticator.authenticate(authorization),
      schemaFor: async (caller) => {
        const resources = live.resources;
        const perms = await permissions.of(caller.identity, resources.map(refOf));
        return cache.get(schema.current, resources, perms);
      },
      visibleResources: async (caller) => {
        const resources = live.resources;
        const perms = await permissions.of(caller.identity, resources.map(refOf));
        const { crds } = allowedRootFields(resources, perms);
        return resources.filter((r) => crds.has(r.crdName));
      },
    };
  }

  // Admission (rate limits) needs the tenant: after authentication with tenants, for every HTTP
  // request without. WebSocket connections are not requests; their subscriptions are counted.
  const admitters = plugins.filter((p) => p.admit);
  const admit = async (tenant: string) => {
    for (const p of admitters) await p.admit!(tenant);
  };
  const httpTenants = tenants && admitters.length
    ? { ...tenants, authenticate: async (authorization: string | undefined) => {
      const caller = await tenants!.authenticate(authorization);
      await admit(caller.tenant);
      return caller;
    } }
    : tenants;
  const middleware = plugins.flatMap((p) => p.middleware ?? []);
  if (!tenants && admitters.length) {
    middleware.push((req, res, next) => {
      if (!/^\/(graphql|rest)(\/|$)/.test(req.path)) return next();
      admit('').then(() => next(), (err: unknown) => {
        if (req.path.startsWith('/graphql')) sendGraphQLError(res, err);
        else sendProblem(req, res, err);
      });
    });
  }

  const reportInternal = internalErrorReporter(opts.onInternalError
    ?? ((requestId, cause) => log?.warn(`internal error${requestId ? ` (request ${requestId})` : ''}: ${cause instanceof Error ? cause.stack ?? cause.message : String(cause)}`)));
  const apolloExtras = mergeApolloExtras(plugins);
  const { app, stop: stopApp } = await createApp({
    reportInternal,
    gateway: schema,
    tenants: httpTenants,
    apollo: apolloExtras,
    middleware,
    explorer: opts.explorer,
    readiness: () => {
      const reasons: string[] = [];
      if (stopping) reasons.push('shutting down');
      if (!catalog.current()) reasons.push('CustomResourceDefinitions not discovered yet');
      if (!catalog.healthy) reasons.push(`Kubernetes API not reachable: ${describeError(catalog.lastError)}`);
      return { ready: reasons.length === 0, reasons };
    },
  });

  app.use(openApiRoutes({
    resources: () => live.resources,
    authenticate: tenants?.authenticate,
    visibleResources: tenants?.visibleResources,
  }));
  app.use('/rest', restRouter({
    operations,
    resources: () => live.resources,
    authenticate: httpTenants?.authenticate,
  }));

  app.use(...finalHandlers());

  const servers: ({ server: Server; ws: WebSocketHandle } & GracefulClose)[] = [];
  let stopping: Promise<void> | undefined;
  return {
    app,
    catalog,
    live,
    schema,
    operations,
    async listen(port, host = '127.0.0.1') {
      const server = createServer(app);
      const ws = attachWebSocket(server, {
        path: '/graphql',
        schema: () => schema.current,
        authenticate: tenants?.authenticate,
        schemaFor: tenants?.schemaFor,
        validationRules: apolloExtras.validationRules,
        parseOptions: apolloExtras.parseOptions,
        introspection: apolloExtras.introspection,
        reportInternal,
        checkOperation: (args) => {
          for (const p of plugins) p.checkOperation?.(args);
        },
      });
      const graceful = gracefulClose(server);
      server.listen(port, host);
      await Promise.race([once(server, 'listening'), once(server, 'error').then(([err]) => Promise.reject(err))]);
      servers.push({ server, ws, ...graceful });
      return server;
    },
    stop(stopOpts = {}) {
      stopping ??= (async () => {
        for (const s of servers) s.drain();
        if (stopOpts.drainDelayMs) await new Promise((resolve) => setTimeout(resolve, stopOpts.drainDelayMs));
        live.stop();
        const closed = servers.map((s) => s.close(stopOpts.timeoutMs ?? 25_000));
        for (const { ws } of servers) await ws.close();
        operations.queries.caches.stop();
        // Ends SSE streams and subscriptions (UNAVAILABLE: shutting down) and their upstream watches.
        await operations.hub.stop();
        await Promise.all(closed);
        await stopApp();
        await catalog.stop();
        gatewayOperations.stopRechecks();
        await permissions?.stop();
        for (const p of plugins) await p.stop?.();
      })();
      return stopping;
    },
  };
}

interface GracefulClose {
  /** From now on every answer closes its connection, so clients open new ones for what follows. */
  drain(): void;
  close(deadlineMs: number): Promise<void>;
}

/**
 * A close that lets in-flight requests finish: the server stops accepting, each keep-alive
 * connection is ended (FIN after its pending writes) as soon as it has no request in flight, and
 * whatever is left is cut at the deadline. Node's own closeIdleConnections is not used: it
 * destroys a connection whose response has ended but is still being flushed, which truncates
 * large responses. Draining first (answers with Connection: close while the server still
 * accepts) keeps clients from sending a request on a kept-alive connection just as it is ended.
 */
function gracefulClose(server: Server): GracefulClose {
  const inFlight = new Map<Socket, number>();
  let closing = false;
  let draining = false;
  server.on('connection', (socket: Socket) => {
    inFlight.set(socket, 0);
    socket.once('close', () => inFlight.delete(socket));
  });
  // WebSockets are closed by their own server (with 1001), not here.
  server.on('upgrade', (req: IncomingMessage) => inFlight.delete(req.socket));
  // Before the app's own listener, which may answer at once: the header must be set before that.
  server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    if (!inFlight.has(socket)) return;
    inFlight.set(socket, inFlight.get(socket)! + 1);
    if (draining && !res.headersSent) res.setHeader('Connection', 'close');
    res.once('close', () => {
      if (!inFlight.has(socket)) return;
      const n = inFlight.get(socket)! - 1;
      inFlight.set(socket, n);
      if (closing && n === 0) socket.end();
    });
  });
  const close = (deadlineMs: number) => new Promise<void>((resolve) => {
    closing = true;
    draining = true;
    const cut = setTimeout(() => {
      for (const socket of inFlight.keys()) socket.destroy();
    }, deadlineMs);
    // server.close() calls closeIdleConnections itself (Node 19+), with the flaw above.
    server.closeIdleConnections = () => {};
    server.close(() => {
      clearTimeout(cut);
      resolve();
    });
    for (const [socket, n] of inFlight) if (n === 0) socket.end();
  });
  return {
    drain: () => {
      draining = true;
    },
    close,
  };
}
