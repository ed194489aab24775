// The HTTP application without listen(): main.ts listens, tests drive it with supertest.
import express, { type Express } from 'express';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginInlineTraceDisabled, ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { explorerRouter, type ExplorerSettings } from './explorer.ts';
import type { CallerContext } from '../contract/caller-context.ts';
import type { GraphQLFormattedError, GraphQLSchema } from 'graphql';
import { ApiError, httpHeadersOf, isInternalError, toProblem, unwrapError, type InternalErrorReporter } from '../api-errors.ts';
import type { Caller } from '../auth/authenticate.ts';
import { apiGate, callerOf } from './api-gate.ts';
import { SchemaGateway } from './schema-gateway.ts';
import type { ApolloExtras, OperationCheck } from '../plugins/gateway-plugin.ts';
import { answerText, apolloHandler, isThenable, operationPipeline } from './apollo-pipeline.ts';
import { directPath, type DirectPath } from './direct-execution.ts';
import { noteErrorCode } from '../plugins/request-outcome.ts';
import { nestingRefusal } from '../graphql/document-nesting.ts';
import { losslessJsonBody } from './json-body.ts';
import { answerType } from './answer-type.ts';
import { serveWithoutRouter } from './direct-route.ts';
import { crossOrigin } from './cross-origin.ts';
import { csrfRefusal } from './csrf-prevention.ts';

export interface Readiness {
  ready: boolean;
  /** Why the gateway is not ready, one line each. */
  reasons: string[];
}

export interface AppOptions {
  gateway: SchemaGateway;
  readiness: () => Readiness;
  /** Largest accepted request body (express/body-parser syntax). */
  bodyLimit?: string;
  /** Authentication and per-tenant schemas; absent: every caller acts as the gateway. */
  tenants?: TenantHooks;
  /** The caller's context for one GraphQL request (identity, cancellation). */
  context?: (req: express.Request, res: express.Response) => Promise<CallerContext> | CallerContext;
  /** The GraphiQL explorer at `/`, and at `/graphql` for browsers; `false` leaves it out. */
  explorer?: ExplorerSettings | false;
  /** Apollo plugins, validation rules and settings from the gateway's plugins (src/plugins). */
  apollo?: ApolloExtras;
  /** The plugins' checks of each validated operation (limits, cost, allow-list). */
  checkOperation?: OperationCheck;
  /** Runs before every route (request ids, logs, metrics). */
  middleware?: express.RequestHandler[];
  /** Admission of each GraphQL request by the budgets, under the caller's tenant (see api-gate.ts). */
  admit?: (tenant: string) => void | Promise<void>;
  /** Logs the causes of internal errors (see api-errors.ts); every route of the app reports to it. */
  reportInternal?: InternalErrorReporter;
  /** Browser origins allowed to call /graphql, /rest and the OpenAPI documents (CORS); absent or empty: none. */
  corsOrigins?: readonly string[];
}

export interface App {
  app: Express;
  apollo: ApolloServer;
  stop(): Promise<void>;
}

/**
 * An exception that escaped the catalog reaches the client as INTERNAL "internal error", never its
 * own message (its cause is logged with the request id: the pipeline's report).
 */
function hideInternalErrors(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const inner = unwrapError(error);
  if (!isInternalError(inner) || inner instanceof ApiError) return formatted;
  return { message: 'internal error', ...(formatted.path ? { path: formatted.path } : {}), extensions: { code: 'INTERNAL', httpStatus: 500 } };
}

/**
 * Apollo's own refusals of a request that carry no code (a persisted query whose hash does not
 * match its text, or of another version) reach clients as INTERNAL_SERVER_ERROR, which no catalog
 * knows and which reads as the server's fault: with their 4xx status, they are BAD_REQUEST.
 */
function codedRefusal(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  if (formatted.extensions?.['code'] !== 'INTERNAL_SERVER_ERROR') return formatted;
  const status = (unwrapError(error) as { extensions?: { http?: { status?: unknown } } } | undefined)?.extensions?.http?.status
    ?? (error as { extensions?: { http?: { status?: unknown } } } | undefined)?.extensions?.http?.status;
  if (typeof status !== 'number' || status < 400 || status >= 500) return formatted;
  return { ...formatted, extensions: { ...formatted.extensions, code: 'BAD_REQUEST', httpStatus: status } };
}

/** An Apollo Server as the gateway runs it: the operation pipeline (apollo-pipeline.ts) validates, Apollo's own validation is off. */
export function newApollo(gateway: SchemaGateway, extras: ApolloExtras = {}, report?: InternalErrorReporter, check?: OperationCheck): ApolloServer {
  const extraFormat = extras.formatError;
  const formatError: NonNullable<ApolloExtras['formatError']> = (formatted, error) => {
    const coded = codedRefusal(formatted, error);
    return hideInternalErrors(extraFormat ? extraFormat(coded, error) : coded, error);
  };
  const introspection = extras.introspection ?? true;
  const pipeline = operationPipeline({
    rules: extras.validationRules, introspection, hideSuggestions: extras.hideSchemaDetailsFromClientErrors ?? false, check, formatError,
    parseOptions: extras.parseOptions, report,
  });
  const apollo = new ApolloServer({
    gateway,
    // The default landing page loads Apollo Sandbox from a CDN; the explorer is served locally.
    // Cache control is for CDNs in front of public GraphQL APIs; here it only costs a hook on
    // every field resolved. Inline traces are for federated subgraphs, which this schema is not:
    // Apollo would otherwise load the plugin (and its protobuf library, megabytes) to do nothing.
    plugins: [ApolloServerPluginLandingPageDisabled(), ApolloServerPluginCacheControlDisabled(), ApolloServerPluginInlineTraceDisabled(), pipeline.plugin, ...(extras.plugins ?? [])],
    // Validation is the pipeline's: the same specified rules, at a cost that does not grow with the schema.
    dangerouslyDisableValidation: true,
    // Parsed documents are the pipeline's (kept from a source's second sighting, bounded by source
    // length). Apollo's default store would keep every document it sees (~50× its source in heap),
    // and a store of our own would make Apollo print and hash the whole schema on each change.
    documentStore: null,
    parseOptions: extras.parseOptions,
    formatError,
    // Batches would multiply every per-request limit; one operation per request.
    allowBatchedHttpRequests: false,
    // The explorer's docs and completion need it; tenants see only their own schema anyway.
    introspection,
    // CSRF prevention as Apollo's csrfPrevention: true, run by apolloHandler, which remembers its
    // outcome per Content-Type value instead of parsing the header of every request.
    csrfPrevention: false,
    // main.ts owns signal handling; Apollo's own handler would re-raise the signal and kill the
    // process before the rest of the gateway has stopped.
    stopOnTerminationSignals: false,
    // Clients get the error catalog's code and message, never a server stack trace.
    includeStacktraceInErrorResponses: false,
    // The scalars already write big integers as JSON numbers with every digit; this also covers
    // a bigint anywhere else in a result. The newline after the JSON is apolloHandler's to write.
    stringifyResult: answerText,
  });
  const direct = directPath(apollo, gateway, pipeline, extras);
  if (direct) directPaths.set(apollo, direct);
  return apollo;
}

/** The direct path (direct-execution.ts) of each server newApollo made whose pipeline allows one. */
const directPaths = new WeakMap<ApolloServer, DirectPath>();

/** apolloHandler for a server made by newApollo, with its direct path. */
function handlerOf(apollo: ApolloServer, context: (req: express.Request, res: express.Response) => CallerContext | Promise<CallerContext>): express.RequestHandler {
  return apolloHandler(apollo, context, directPaths.get(apollo));
}

/** Refuses, before Apollo parses it, a document deep enough to exhaust the parser's stack. */
function refuseDeepDocuments(maxNesting: number | undefined): express.RequestHandler {
  return (req, res, next) => {
    const source = req.method === 'GET' || req.method === 'HEAD' ? req.query['query'] : (req.body as { query?: unknown } | undefined)?.query;
    const tooDeep = nestingRefusal(source, maxNesting);
    if (tooDeep) return sendGraphQLError(res, tooDeep);
    next();
  };
}

/**
 * Refuses, before anything runs, a request whose Accept header allows none of the types Apollo
 * answers in: Apollo would execute the operation (a mutation included) and then answer a bare 406.
 * graphql-sse's client is one (it accepts only text/event-stream), so it is told what to use.
 */
const refuseUnacceptable: express.RequestHandler = (req, res, next) => {
  const accept = req.get('accept');
  // A request CSRF prevention refuses keeps that refusal (it runs in apolloHandler).
  if (!accept || answerType(accept) !== undefined || csrfRefusal(req.headers)) return next();
  const message = /text\/event-stream/i.test(accept)
    ? 'GraphQL over Server-Sent Events (graphql-sse) is not offered: subscribe over WebSocket at /graphql (graphql-ws, graphql-transport-ws protocol), or watch with the REST facade (?watch=true: Kubernetes\' watch format, or Server-Sent Events with Accept: text/event-stream); queries and mutations answer application/json or application/graphql-response+json'
    : `/graphql answers application/json or application/graphql-response+json; the Accept header (${accept.slice(0, 100)}) allows neither`;
  sendGraphQLError(res, new ApiError('NOT_ACCEPTABLE', message, { reason: 'NotAcceptable' }));
};

/** The handlers of /graphql after the middleware: Accept, body, nesting refusal, API gate, then Apollo (per tenant schema with tenants). */
function graphqlHandlers(opts: AppOptions, apollo: ApolloServer): { handlers: express.RequestHandler[]; pool?: ApolloPool } {
  const context = opts.context ?? defaultContext;
  // Synchronous when the caller's context is: Apollo awaits it either way.
  const graphqlContext = (req: express.Request, res: express.Response): CallerContext | Promise<CallerContext> => {
    const base = context(req, res);
    return isThenable(base) ? Promise.resolve(base).then((b) => withCaller(b, res)) : withCaller(base, res);
  };
  const shared = handlerOf(apollo, graphqlContext);
  const pool = opts.tenants
    ? new ApolloPool((gateway) => newApollo(gateway, opts.apollo, opts.reportInternal, opts.checkOperation), (a) => handlerOf(a, graphqlContext))
    : undefined;
  const gate = apiGate({ authenticate: opts.tenants?.authenticate, admit: opts.admit }, (_req, res, err) => sendGraphQLError(res, err));
  const handlers: express.RequestHandler[] = [refuseUnacceptable, ...losslessJsonBody(opts.bodyLimit ?? '3mb'), refuseDeepDocuments(opts.apollo?.maxNesting), gate, async (req, res, next) => {
    const caller = callerOf(res);
    if (!opts.tenants || !caller) return shared(req, res, next);
    try {
      const view = await opts.tenants.schemaFor(caller, clientGone(req, res));
      const handler = await pool!.get(view.key, view.schema);
      return handler(req, res, next);
    } catch (err) {
      return sendGraphQLError(res, err);
    }
  }];
  return { handlers, pool };
}

/** The caller's context with who the API gate found the caller to be (with tenants). */
function withCaller(base: CallerContext, res: express.Response): CallerContext {
  const caller = callerOf(res);
  return caller ? {
    ...base, identity: caller.identity, tenant: caller.tenant,
    ...(caller.limits ? { limits: caller.limits } : {}), ...(caller.fieldManager ? { fieldManager: caller.fieldManager } : {}),
  } : base;
}

export async function createApp(opts: AppOptions): Promise<App> {
  const apollo = newApollo(opts.gateway, opts.apollo, opts.reportInternal, opts.checkOperation);
  await apollo.start();

  const { handlers: graphql, pool } = graphqlHandlers(opts, apollo);
  const app = express();
  app.disable('x-powered-by');
  // Read by every error answer of the app, the routers mounted on it included (reportInternal below).
  app.locals.reportInternal = opts.reportInternal;
  // CORS after the plugins' middleware, so that preflights are logged and counted like any request.
  const middleware = [assignRequestId, ...(opts.middleware ?? []), ...(opts.corsOrigins?.length ? [crossOrigin(opts.corsOrigins)] : [])];
  // GraphQL POSTs: the same handlers in the same order, without the router (direct-route.ts).
  serveWithoutRouter(app, 'POST', '/graphql', { app: middleware, route: graphql });
  app.use(...middleware);
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', (_req, res) => {
    const r = opts.readiness();
    res.status(r.ready ? 200 : 503).json(r.ready ? { status: 'ready' } : { status: 'not ready', reasons: r.reasons });
  });
  // What /graphql serves: Express would answer with the explorer's GET only (or, without the
  // explorer, hand OPTIONS to Apollo's CSRF check). The methods are those of Apollo's own 405
  // (HEAD is answered as GET is, see apolloHandler).
  // A preflight of an allowed origin never gets here: CORS answers it (cross-origin.ts).
  app.options('/graphql', (_req, res) => {
    res.set('Allow', 'GET, POST').status(204).end();
  });
  if (opts.explorer !== false) {
    app.use(explorerRouter({
      graphqlPath: '/graphql', ...opts.explorer,
      authRequired: Boolean(opts.tenants), introspection: opts.apollo?.introspection ?? true,
    }));
  }
  app.use('/graphql', ...graphql);
  return {
    app,
    apollo,
    stop: async () => {
      await pool?.stop();
      await apollo.stop();
    },
  };
}

/** Authentication and the per-tenant schema; absent: no tenants, the gateway's own identity. */
export interface TenantHooks {
  authenticate(authorization: string | undefined): Promise<Caller>;
  /** `signal`: the request's, so that the reviews it needs are dropped if the client leaves first. */
  schemaFor(caller: Caller, signal?: AbortSignal): Promise<{ key: string; schema: GraphQLSchema }>;
}

/**
 * One started Apollo Server per distinct tenant schema. Apollo serves one schema per instance, and
 * a tenant must not even see the types of resources it cannot use; instances for schemas nobody
 * asks for any more are stopped after a grace period (in-flight requests finish first). A Map in use
 * order rather than lru-cache: entries are servers still starting (promises) whose eviction is a
 * delayed asynchronous stop.
 */
class ApolloPool {
  private readonly entries = new Map<string, Promise<{ apollo: ApolloServer; handler: express.RequestHandler }>>();
  private readonly make: (gateway: SchemaGateway) => ApolloServer;
  private readonly wrap: (apollo: ApolloServer) => express.RequestHandler;
  private readonly max: number;

  constructor(make: (gateway: SchemaGateway) => ApolloServer, wrap: (apollo: ApolloServer) => express.RequestHandler, max = 64) {
    this.make = make;
    this.wrap = wrap;
    this.max = max;
  }

  async get(key: string, schema: GraphQLSchema): Promise<express.RequestHandler> {
    let entry = this.entries.get(key);
    if (entry) {
      this.entries.delete(key);
      this.entries.set(key, entry);
    } else {
      entry = (async () => {
        const apollo = this.make(new SchemaGateway(schema));
        await apollo.start();
        return { apollo, handler: this.wrap(apollo) };
      })();
      entry.catch(() => this.entries.delete(key));
      this.entries.set(key, entry);
      if (this.entries.size > this.max) {
        const [oldKey, old] = this.entries.entries().next().value!;
        this.entries.delete(oldKey);
        setTimeout(() => void old.then((e) => e.apollo.stop()).catch(() => {}), 60_000).unref();
      }
    }
    return (await entry).handler;
  }

  async stop(): Promise<void> {
    const all = [...this.entries.values()];
    this.entries.clear();
    await Promise.all(all.map((e) => e.then((x) => x.apollo.stop()).catch(() => {})));
  }
}

/** Logs the cause of an internal error with the request's id, through the app's reporter. */
export function reportInternal(req: express.Request, err: unknown): void {
  (req.app?.locals.reportInternal as InternalErrorReporter | undefined)?.(err, requestIdOf(req));
}

/** A GraphQL-over-HTTP error response from the catalog (401 carries a WWW-Authenticate challenge). */
export function sendGraphQLError(res: express.Response, err: unknown): void {
  const e = err instanceof ApiError ? err : new ApiError('INTERNAL', 'internal error', {}, { cause: err });
  reportInternal(res.req, e);
  res.set(httpHeadersOf(e));
  noteErrorCode(res, e.code);
  res.status(e.httpStatus).type(graphqlErrorType(res.req)).send(JSON.stringify({ errors: [{ message: e.message, extensions: e.extensions }] }));
}

const graphqlResponseType = 'application/graphql-response+json; charset=utf-8';

/**
 * The media type of a GraphQL error the gateway answers itself, before Apollo: the one Apollo would
 * choose for the request's Accept header when that is application/graphql-response+json, else
 * application/json. Clients read the errors of a 4xx only in the type they asked for (Apollo
 * Client 4 reports a bare ServerError for application/json), so a refusal is typed for them too.
 */
function graphqlErrorType(req: express.Request): string {
  return answerType(req.get('accept')) === graphqlResponseType ? graphqlResponseType : 'application/json';
}

/** Without tenants: the gateway's own identity, and a signal that fires when the client goes away. */
export function defaultContext(req: express.Request, res: express.Response): CallerContext {
  return { signal: clientGone(req, res), requestId: requestIdOf(req) };
}

/** Aborts when the client disconnects before the response is complete, so upstream calls stop. */
export function clientGone(_req: express.Request, res: express.Response): AbortSignal {
  const held = (res as GoneResponse)[goneKey];
  if (held) return held;
  // A client that left while its request was being authenticated or checked: the close was
  // emitted before anyone listened, and a watch started now would be held for no one.
  const controller = new AbortController();
  if (res.closed && !res.writableFinished) controller.abort(new Error('the client went away'));
  else {
    res.on('close', () => {
      if (!res.writableFinished) controller.abort(new Error('the client went away'));
    });
  }
  // One signal per request, however many parts of it ask (its RBAC reviews, its operations).
  (res as GoneResponse)[goneKey] = controller.signal;
  return controller.signal;
}

const goneKey = Symbol('crdgate client gone');
type GoneResponse = express.Response & { [goneKey]?: AbortSignal };

/**
 * Gives every request its id before anything else runs: the client's X-Request-Id if well-formed,
 * else a new one. It is stored back into the request so that every later reader (plugins, the
 * GraphQL context, the REST router) gets the same id, and echoed in the response.
 */
export const assignRequestId: express.RequestHandler = (req, res, next) => {
  const id = requestIdOf(req);
  req.headers['x-request-id'] = id;
  res.setHeader('X-Request-Id', id);
  next();
};

let requestCounter = 0;
export function requestIdOf(req: express.Request): string {
  const given = req.get('x-request-id');
  if (given && /^[\w.:-]{1,128}$/.test(given)) return given;
  return `${Date.now().toString(36)}-${(requestCounter++).toString(36)}`;
}

/**
 * The last handlers of the app: unknown paths get a 404 problem, and every error that escaped a
 * route (a body too large or not JSON, a bug) is answered without a stack trace or server paths.
 * GraphQL clients get a GraphQL-shaped error, everyone else RFC 9457 problem+json.
 */
export function finalHandlers(): [express.RequestHandler, express.ErrorRequestHandler] {
  const notFound: express.RequestHandler = (req, res) => {
    const e = new ApiError('NOT_FOUND', `no route for ${req.method} ${req.path}`, { reason: 'NotFound' });
    noteErrorCode(res, e.code);
    res.status(404).type('application/problem+json').send(JSON.stringify(toProblem(e, req.originalUrl)));
  };
  const onError: express.ErrorRequestHandler = (err, req, res, _next) => {
    const type = (err as { type?: string }).type;
    // body-parser and Express mark the errors of a bad request with its status: those are the
    // client's mistakes (a body in an unsupported encoding or charset, a path that is not UTF-8),
    // answered as such; anything else unexpected is INTERNAL.
    const clientStatus = (err as { status?: number; statusCode?: number }).status ?? (err as { statusCode?: number }).statusCode;
    const e = type === 'entity.too.large'
      ? new ApiError('BAD_REQUEST', `the request body is larger than the limit (${(err as { limit?: number }).limit ?? '?'} bytes)`, { reason: 'RequestEntityTooLarge' })
      : type === 'entity.parse.failed'
        ? new ApiError('BAD_REQUEST', `the request body is not valid JSON: ${(err as Error).message}`, { reason: 'BadRequest' })
        : err instanceof ApiError ? err
          : clientStatus === 415 ? new ApiError('UNSUPPORTED_MEDIA_TYPE', (err as Error).message || 'unsupported content encoding or charset', { reason: 'UnsupportedMediaType' })
            : clientStatus !== undefined && clientStatus >= 400 && clientStatus < 500
              ? new ApiError('BAD_REQUEST', (err as Error).message || 'bad request', { reason: 'BadRequest' })
              : new ApiError('INTERNAL', 'internal error', {}, { cause: err });
    const status = e.httpStatus;
    reportInternal(req, e);
    if (res.headersSent) {
      res.end();
      return;
    }
    noteErrorCode(res, e.code);
    if (req.path === '/graphql' || req.baseUrl === '/graphql') {
      res.status(status).type(graphqlErrorType(req)).send(JSON.stringify({ errors: [{ message: e.message, extensions: { ...e.extensions, httpStatus: status } }] }));
    } else {
      res.status(status).type('application/problem+json').send(JSON.stringify({ ...toProblem(e, req.originalUrl), status }));
    }
  };
  return [notFound, onError];
}
