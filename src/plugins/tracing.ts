// OpenTelemetry traces: a server span per HTTP API request (GraphQL and REST), a child span for the
// GraphQL operation, a client span per Kubernetes call, and a span for each GraphQL operation sent
// over WebSocket (a query or mutation until its answer, a subscription until it has started). The
// W3C `traceparent` of an incoming request becomes the parent of its span, and every Kubernetes call
// carries its own client span's `traceparent` to the apiserver (which, with its APIServerTracing
// feature, continues the trace).
//
// Kubernetes calls find their request through an AsyncLocalStorage context (an OTel context
// manager of the plugin's own, not the process-wide one, so that several gateways in one process
// keep their traces apart). Calls outside a request (the CRD and RBAC watches, the watch hub's
// reconnects after the subscription that started it) are not traced: they belong to no request,
// and a span parented to a request that already ended would mislead.
//
// Nothing the client sends as a credential is recorded: no headers, no query strings, no bodies;
// paths are recorded as templates without namespace and object names.
import type {
  ApolloServerPlugin, BaseContext, GraphQLRequestContextDidResolveOperation, GraphQLRequestContextWillSendResponse, GraphQLRequestListener,
} from '@apollo/server';
import {
  createContextKey, defaultTextMapGetter, defaultTextMapSetter, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace,
  type Attributes, type Context, type Span, type Tracer,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { ExportResultCode, W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOnSampler, BatchSpanProcessor, ParentBasedSampler, SimpleSpanProcessor, TracerProvider, type SpanExporter,
} from '@opentelemetry/sdk-trace';
import {
  ATTR_ERROR_TYPE, ATTR_HTTP_REQUEST_METHOD, ATTR_HTTP_RESPONSE_STATUS_CODE, ATTR_HTTP_ROUTE, ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT, ATTR_SERVICE_NAME,
} from '@opentelemetry/semantic-conventions';
import type { RequestHandler, Response } from 'express';
import { fromKubeError } from '../api-errors.ts';
import type { KubeClient } from '../kube/kube-client.ts';
import type { GatewayOperations } from '../service/hub-operations.ts';
import type { CallerContext } from '../contract/caller-context.ts';
import type { DirectOperationStart, GatewayPlugin, SocketOperationScope, SocketOperationStart } from './gateway-plugin.ts';
import { outcomeOf, requestPath } from './request-tracker.ts';

// Attributes from the still-incubating semantic conventions, named here rather than imported from
// the package's unstable entry point (its advice for libraries).
const ATTR_URL_TEMPLATE = 'url.template';
const ATTR_GRAPHQL_OPERATION_TYPE = 'graphql.operation.type';
const ATTR_GRAPHQL_OPERATION_NAME = 'graphql.operation.name';
// crdgate's own.
const ATTR_TENANT = 'crdgate.tenant';
const ATTR_REQUEST_ID = 'crdgate.request_id';
const ATTR_ERROR_CODE = 'crdgate.error.code';
const ATTR_RESOURCE = 'crdgate.resource';

export interface TracingOptions {
  /** Where finished spans go: `otlpExporter(...)` in production, an InMemorySpanExporter in tests. */
  exporter: SpanExporter;
  /** The service.name resource attribute; default 'crdgate'. */
  serviceName?: string;
  /**
   * The share of requests (and subscription starts) traced, from 0 to 1 (default 1: all). A
   * request whose traceparent says its caller sampled it is traced regardless, and one whose
   * caller did not is not: the decision is the trace's, not each hop's.
   */
  sampleRatio?: number;
  /** Export in batches (default), or each span as it ends. */
  batch?: boolean;
  /** Told when an export fails; at most once a minute, with the number of failures since. */
  onExportError?: (err: Error, failures: number) => void;
}

export interface TracingPlugin extends GatewayPlugin {
  readonly provider: TracerProvider;
  /** Exports every finished span now (tests; the gateway's stop flushes too). */
  forceFlush(): Promise<void>;
}

/** What the Kubernetes calls of one request need: where to attach, and whether it is still going. */
interface RequestState {
  open: boolean;
  readonly span: Span;
  /** The GraphQL operation's span while it runs; Kubernetes calls made meanwhile are its children. */
  operation?: Span;
  /** The request's path (an HTTP request's: its span is ended with the outcome noted for it). */
  readonly path?: string;
}

/** Where a traced HTTP request's response keeps its state until it closes. */
const stateOfResponse = Symbol('crdgate request span');
type TracedResponse = Response & { [stateOfResponse]?: RequestState };

/**
 * Ends the span of a traced HTTP request when its response closes (once: after 'finish', or when
 * the client went away), with the operation, tenant and error code the transports noted on it.
 * One listener for every traced request; it finds the request's state on the response.
 */
function endRequestSpan(this: TracedResponse): void {
  const state = this[stateOfResponse];
  if (!state?.open) return;
  this[stateOfResponse] = undefined;
  state.open = false;
  const span = state.span;
  const outcome = outcomeOf(this, state.path!);
  span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, this.statusCode);
  // The semantic convention knows query, mutation and subscription only (not unknown, invalid, rest).
  if (outcome.type === 'query' || outcome.type === 'mutation' || outcome.type === 'subscription') span.setAttribute(ATTR_GRAPHQL_OPERATION_TYPE, outcome.type);
  if (outcome.tenant) span.setAttribute(ATTR_TENANT, outcome.tenant);
  if (outcome.code !== 'ok') markError(span, outcome.code);
  if (state.operation) endOperation(state, undefined);
  span.end();
}

const stateKey = createContextKey('crdgate request');

/**
 * A context that adds one value to its parent. The API's own contexts copy all of the parent's
 * values into a new Map (and make three new functions) for each value set; a sampled request sets
 * one for its state and one per span (its own, its operation's as a parent, each Kubernetes
 * call's), which was a good part of its garbage. Reads walk up the few links instead.
 */
class ValueContext implements Context {
  private readonly parent: Context;
  private readonly key: symbol;
  private readonly value: unknown;

  constructor(parent: Context, key: symbol, value: unknown) {
    this.parent = parent;
    this.key = key;
    this.value = value;
  }

  getValue(key: symbol): unknown {
    return key === this.key ? this.value : this.parent.getValue(key);
  }

  setValue(key: symbol, value: unknown): Context {
    return new ValueContext(this, key, value);
  }

  /** A deleted value reads as undefined, as it does in the API's contexts. */
  deleteValue(key: symbol): Context {
    return new ValueContext(this, key, undefined);
  }
}

/** The context of a request's (or subscription start's) span: its state, then its span. */
function requestContext(parent: Context, span: Span, state: RequestState): Context {
  return trace.setSpan(new ValueContext(parent, stateKey, state), span);
}

const spanOptions = {
  [SpanKind.SERVER]: { kind: SpanKind.SERVER },
  [SpanKind.CLIENT]: { kind: SpanKind.CLIENT },
  [SpanKind.INTERNAL]: { kind: SpanKind.INTERNAL },
} as const;

/**
 * tracer.startSpan, with the attributes set once it has started: the same span with the same
 * attributes in the same order (the sampler, parent based, does not read them), but each value is
 * checked once (setAttribute) instead of twice, before and after sampling, each check with a
 * WeakSet of its own; those checks were most of the garbage of a sampled request.
 */
function startSpan(tracer: Tracer, name: string, kind: SpanKind.SERVER | SpanKind.CLIENT | SpanKind.INTERNAL, parent: Context, attributes: Attributes): Span {
  const span = tracer.startSpan(name, spanOptions[kind], parent);
  for (const key in attributes) span.setAttribute(key, attributes[key]);
  return span;
}

/** The OTLP/HTTP exporter; endpoint is the collector's base URL (`/v1/traces` is added). */
export function otlpExporter(endpoint?: string): SpanExporter {
  // Without an endpoint the exporter reads OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT itself, else
  // sends to http://localhost:4318/v1/traces.
  return new OTLPTraceExporter(endpoint ? { url: otlpTracesUrl(endpoint) } : {});
}

/** The traces URL of an OTLP/HTTP base URL, as OTEL_EXPORTER_OTLP_ENDPOINT is read. */
export function otlpTracesUrl(endpoint: string): string {
  const url = new URL(endpoint);
  if (!url.pathname.endsWith('/v1/traces')) url.pathname = `${url.pathname.replace(/\/+$/, '')}/v1/traces`;
  return url.toString();
}

export function tracing(opts: TracingOptions): TracingPlugin {
  const exporter = opts.onExportError ? reportingExporter(opts.exporter, opts.onExportError) : opts.exporter;
  const ratio = opts.sampleRatio ?? 1;
  if (!(ratio >= 0 && ratio <= 1)) throw new RangeError(`sampleRatio ${ratio} is not from 0 to 1`);
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: opts.serviceName ?? 'crdgate' }),
    // Requests without a parent are sampled below, before any tracing work is done for them.
    sampler: new ParentBasedSampler({ root: new AlwaysOnSampler() }),
    spanProcessors: [opts.batch === false ? new SimpleSpanProcessor({ exporter }) : new BatchSpanProcessor({ exporter })],
  });
  const tracer = provider.getTracer('crdgate');
  const contexts = new AsyncLocalStorageContextManager().enable();
  const propagator = new W3CTraceContextPropagator();
  // A request the ratio leaves out costs nothing more: no span, no context, no tracker record. A
  // request with a traceparent is traced as its caller decided (recording or not), and passes the
  // decision on to the apiserver.
  const sampleRoot = () => ratio >= 1 || (ratio > 0 && Math.random() < ratio);

  const middleware: RequestHandler = (req, res, next) => {
    // Without a traceparent the propagator finds no parent: most requests skip its parsing, and
    // those the ratio leaves out skip the rest (their path is not even read).
    const traceparent = req.headers.traceparent;
    if (traceparent === undefined && !sampleRoot()) return next();
    const path = requestPath(req);
    const route = apiRouteOf(path);
    if (!route) return next();
    const parent = traceparent === undefined ? ROOT_CONTEXT : propagator.extract(ROOT_CONTEXT, req.headers, defaultTextMapGetter);
    if (!trace.getSpanContext(parent) && traceparent !== undefined && !sampleRoot()) return next();
    const requestId = req.get('x-request-id') ?? '';
    const span = startSpan(tracer, `${req.method} ${route}`, SpanKind.SERVER, parent,
      { [ATTR_HTTP_REQUEST_METHOD]: req.method, [ATTR_HTTP_ROUTE]: route, [ATTR_REQUEST_ID]: requestId });
    const state: RequestState = { open: true, span, operation: undefined, path };
    (res as TracedResponse)[stateOfResponse] = state;
    res.on('close', endRequestSpan);
    contexts.with(requestContext(parent, span, state), next);
  };

  return {
    name: 'tracing',
    provider,
    middleware: [middleware],
    // The operation spans are made in Apollo's hooks, or by the direct path (directOperation), the
    // same span: no request needs Apollo's pipeline for them.
    apollo: {
      plugins: [operationSpans(tracer, contexts)],
      needsPipeline: () => false,
      directOperation: (start) => directOperationSpan(tracer, contexts, start),
    },
    wrapClient: (client) => tracedClient(client, { tracer, propagator, active: () => contexts.active() }),
    socketOperation: (start) => socketOperationSpan(tracer, contexts, start, sampleRoot),
    wrapOperations: (ops) => watchedResources(ops, contexts),
    forceFlush: () => provider.forceFlush(),
    async stop() {
      // Spans of requests still in flight are dropped; everything finished is exported.
      await provider.shutdown();
      contexts.disable();
    },
  };
}

/** A GraphQL operation's span inside its request's span, named by its type and name, ended with its first error's code. */
function operationSpans(tracer: Tracer, contexts: AsyncLocalStorageContextManager): ApolloServerPlugin<BaseContext> {
  return {
    // Not async: a request left out by the sampler gets the one settled promise, nothing else.
    requestDidStart(start) {
      const active = contexts.active();
      const state = tracedState(contexts, active);
      if (!state) return noListener;
      // An operation the direct path handed over (with errors, or refused) has its span already.
      state.operation ??= startOperationSpan(tracer, active, start.contextValue as CallerContext);
      return Promise.resolve(new OperationSpanListener(state, state.operation));
    },
  };
}

/** The span of a traced request's GraphQL operation, before its type and name are known. */
function startOperationSpan(tracer: Tracer, active: Context, caller: CallerContext): Span {
  const attributes: Attributes = {};
  if (caller.tenant) attributes[ATTR_TENANT] = caller.tenant;
  if (caller.requestId) attributes[ATTR_REQUEST_ID] = caller.requestId;
  return startSpan(tracer, 'GraphQL operation', SpanKind.INTERNAL, active, attributes);
}

/** Names an operation's span by its type and name (its didResolveOperation in Apollo). */
function nameOperationSpan(span: Span, type: string, operationName: string | null | undefined): void {
  // The operation name is the client's text: capped, like in the logs.
  const name = operationName?.slice(0, 100);
  span.setAttribute(ATTR_GRAPHQL_OPERATION_TYPE, type);
  if (name) span.setAttribute(ATTR_GRAPHQL_OPERATION_NAME, name);
  span.updateName(`GraphQL ${type}${name ? ` ${name}` : ''}`);
}

/**
 * The operation span of a traced request on the direct path, as Apollo's hooks make it: started
 * and named, the parent of the Kubernetes calls of its execution, ended without an error once it
 * has run without one. One that fails goes to Apollo, whose hooks end this span with its error.
 */
function directOperationSpan(tracer: Tracer, contexts: AsyncLocalStorageContextManager, start: DirectOperationStart): (() => void) | undefined {
  const active = contexts.active();
  const state = tracedState(contexts, active);
  if (!state) return undefined;
  const span = startOperationSpan(tracer, active, start.context as CallerContext);
  state.operation = span;
  nameOperationSpan(span, start.type, start.name);
  return () => {
    if (state.operation === span) endOperation(state, undefined);
  };
}

/** The state of the traced request being served, or undefined when it is not traced (or is over). */
function tracedState(contexts: AsyncLocalStorageContextManager, active: Context = contexts.active()): RequestState | undefined {
  const state = active.getValue(stateKey) as RequestState | undefined;
  return state?.open ? state : undefined;
}

/**
 * The hooks of one traced operation: one object whose methods Apollo calls on it (no closures, no
 * async frames), each answering with the one settled promise.
 */
class OperationSpanListener implements GraphQLRequestListener<BaseContext> {
  private readonly state: RequestState;
  private readonly span: Span;

  constructor(state: RequestState, span: Span) {
    this.state = state;
    this.span = span;
  }

  didResolveOperation(rc: GraphQLRequestContextDidResolveOperation<BaseContext>): Promise<void> {
    if (rc.operation) nameOperationSpan(this.span, rc.operation.operation, rc.operationName);
    return settled;
  }

  willSendResponse(rc: GraphQLRequestContextWillSendResponse<BaseContext>): Promise<void> {
    const body = rc.response.body;
    const errors = body.kind === 'single' ? body.singleResult.errors : body.initialResult.errors;
    if (this.state.operation === this.span) endOperation(this.state, errors?.length ? String(errors[0]!.extensions?.code ?? 'INTERNAL') : undefined);
    return settled;
  }
}

const settled: Promise<void> = Promise.resolve();
const noListener: Promise<undefined> = Promise.resolve(undefined);

function endOperation(state: RequestState, code: string | undefined): void {
  const span = state.operation!;
  state.operation = undefined;
  if (code) markError(span, code);
  span.end();
}

/** The catalog code as the span's error: status, error.type, and crdgate.error.code. */
function markError(span: Span, code: string): void {
  span.setAttribute(ATTR_ERROR_TYPE, code);
  span.setAttribute(ATTR_ERROR_CODE, code);
  span.setStatus({ code: SpanStatusCode.ERROR, message: code });
}

/**
 * The route of an API request path, without names: `/graphql`, or the REST facade's template
 * (`/rest/{group}/{version}/namespaces/{namespace}/{plural}/{name}`); undefined for the rest
 * (probes, the explorer, documents), which get no span.
 */
export function apiRouteOf(path: string): string | undefined {
  if (path === '/graphql' || path === '/graphql/') return '/graphql';
  if (path.startsWith('/graphql/')) return '/graphql/*';
  if (!path.startsWith('/rest/')) return undefined;
  const segs = path.slice('/rest/'.length).split('/').filter(Boolean);
  const namespaced = segs[2] === 'namespaces' && segs.length >= 5;
  const names = namespaced
    ? ['{group}', '{version}', 'namespaces', '{namespace}', '{plural}', '{name}', '{subresource}']
    : ['{group}', '{version}', '{plural}', '{name}', '{subresource}'];
  const min = namespaced ? 5 : 3;
  if (segs.length < min || segs.length > names.length) return '/rest/*';
  return `/rest/${names.slice(0, segs.length).join('/')}`;
}

/**
 * A Kubernetes API path as a template: group, version, resource and subresource stay, namespace
 * and object names go (`/apis/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}`).
 * Paths outside /api and /apis (/version, discovery, OpenAPI) are kept as they are.
 */
export function kubePathTemplate(path: string): string {
  // One split and a string built as it goes: it runs for every Kubernetes call of a traced request.
  const q = path.indexOf('?');
  const segs = (q < 0 ? path : path.slice(0, q)).split('/');
  // Empty segments (the leading one, doubled or trailing slashes) do not count.
  let n = 0;
  for (const seg of segs) if (seg) segs[n++] = seg;
  segs.length = n;
  const prefixLength = segs[0] === 'api' ? 2 : segs[0] === 'apis' ? 3 : 0;
  if (!prefixLength || n <= prefixLength) return `/${segs.join('/')}`;
  let out = '';
  for (let i = 0; i < prefixLength; i++) out += `/${segs[i]}`;
  let r = prefixLength;
  if (segs[r] === 'namespaces' && n - r >= 3) {
    out += '/namespaces/{namespace}';
    r += 2;
  }
  const rest = n - r;
  out += `/${segs[r]}`;
  if (rest >= 2) out += '/{name}';
  if (rest >= 3) out += `/${segs[r + 2]}`;
  if (rest >= 4) out += '/{path}';
  return out;
}

type KubeMethod = Parameters<KubeClient['request']>[0];
type KubeRequestOptions = Parameters<KubeClient['request']>[2];

interface ClientTracing {
  tracer: Tracer;
  propagator: W3CTraceContextPropagator;
  active(): Context;
}

/**
 * A client whose calls made for a request get a client span (a watch: until it is open or
 * refused) and carry its traceparent to the apiserver.
 */
export function tracedClient(client: KubeClient, t: ClientTracing): KubeClient {
  const wrapped = Object.create(client) as KubeClient;
  if (typeof client.close === 'function') wrapped.close = client.close.bind(client);
  let server: Attributes = {};
  try {
    const url = new URL(client.server);
    server = { [ATTR_SERVER_ADDRESS]: url.hostname, [ATTR_SERVER_PORT]: Number(url.port || (url.protocol === 'https:' ? 443 : 80)) };
  } catch {
    // A client without a server URL (a test double): no server attributes.
  }
  /** The span of a call made now, and the context to send; undefined outside a live request. */
  const start = (verb: string, method: string, path: string): { span: Span; ctx: Context } | undefined => {
    const active = t.active();
    const state = active.getValue(stateKey) as RequestState | undefined;
    if (!state?.open) return undefined;
    const parent = state.operation ? trace.setSpan(active, state.operation) : active;
    const template = kubePathTemplate(path);
    const span = startSpan(t.tracer, `${verb} ${template}`, SpanKind.CLIENT, parent, { [ATTR_HTTP_REQUEST_METHOD]: method, [ATTR_URL_TEMPLATE]: template });
    for (const key in server) span.setAttribute(key, server[key]);
    return { span, ctx: trace.setSpan(parent, span) };
  };
  const headersWith = (ctx: Context, headers: Record<string, string> | undefined): Record<string, string> => {
    const out = { ...headers };
    t.propagator.inject(ctx, out, defaultTextMapSetter);
    return out;
  };
  const fail = (span: Span, err: unknown) => {
    const status = (err as { httpStatus?: unknown }).httpStatus;
    if (typeof status === 'number' && status > 0) span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
    markError(span, fromKubeError(err).code);
  };

  const traced = async <T>(call: { span: Span; ctx: Context }, method: KubeMethod, path: string, opts: KubeRequestOptions | undefined): Promise<T> => {
    try {
      // The client returns only the body of a success, not its status: a success has no status code here.
      return await client.request<T>(method, path, { ...opts, headers: headersWith(call.ctx, opts?.headers) });
    } catch (err) {
      fail(call.span, err);
      throw err;
    } finally {
      call.span.end();
    }
  };
  // A call outside a traced request (most calls, with a sample ratio below 1) goes straight to the client.
  wrapped.request = function request<T>(method: KubeMethod, path: string, opts?: KubeRequestOptions): Promise<T> {
    const call = start(method, method, path);
    return call ? traced<T>(call, method, path, opts) : client.request<T>(method, path, opts);
  } as KubeClient['request'];

  wrapped.watch = function watch<T>(path: string, opts: Parameters<KubeClient['watch']>[1]): Promise<void> {
    const call = start('WATCH', 'GET', path);
    if (!call) return client.watch<T>(path, opts);
    let ended = false;
    const result = client.watch<T>(path, {
      ...opts,
      headers: headersWith(call.ctx, opts.headers),
      onOpen: () => {
        ended = true;
        call.span.end();
        opts.onOpen?.();
      },
    } as Parameters<KubeClient['watch']>[1]);
    result.then(() => {
      if (!ended) call.span.end();
    }, (err: unknown) => {
      if (ended) return;
      fail(call.span, err);
      call.span.end();
    });
    return result;
  } as KubeClient['watch'];
  return wrapped;
}

/**
 * Operations sent over WebSocket have no HTTP request (and so no request span): each accepted one
 * gets a server span of its own, named as an HTTP request's operation span is, the parent of the
 * Kubernetes calls made to run it (a subscription: to start it, its RBAC checks and the hub's first
 * list and watch), ended with its outcome. Calls made after it (the hub's reconnects) are not traced.
 */
function socketOperationSpan(tracer: Tracer, contexts: AsyncLocalStorageContextManager, start: SocketOperationStart, sample: () => boolean): SocketOperationScope | undefined {
  if (!sample()) return undefined;
  const caller = start.context;
  // The operation name is the client's text: capped, like in the logs.
  const name = start.name?.slice(0, 100);
  const attributes: Attributes = { [ATTR_GRAPHQL_OPERATION_TYPE]: start.type };
  if (name) attributes[ATTR_GRAPHQL_OPERATION_NAME] = name;
  if (caller.tenant) attributes[ATTR_TENANT] = caller.tenant;
  if (caller.requestId) attributes[ATTR_REQUEST_ID] = caller.requestId;
  const span = startSpan(tracer, `GraphQL ${start.type}${name ? ` ${name}` : ''}`, SpanKind.SERVER, ROOT_CONTEXT, attributes);
  const state: RequestState = { open: true, span };
  const context = requestContext(ROOT_CONTEXT, span, state);
  return {
    run: (execute) => contexts.with(context, execute),
    done: (code) => {
      if (!state.open) return;
      state.open = false;
      if (code !== 'ok') markError(span, code);
      span.end();
    },
  };
}

/** The resource a subscription over WebSocket watches, on its span (REST watches name it in their route). */
function watchedResources(ops: GatewayOperations, contexts: AsyncLocalStorageContextManager): GatewayOperations {
  const watch: GatewayOperations['watch'] = (req) => {
    if (req.context.transport === 'ws') tracedState(contexts)?.span.setAttribute(ATTR_RESOURCE, `${req.resource.plural}.${req.resource.group}`);
    return ops.watch(req);
  };
  return { ...ops, watch };
}

/** An exporter that reports failed exports (a collector that is down), at most once a minute. */
function reportingExporter(inner: SpanExporter, report: (err: Error, failures: number) => void): SpanExporter {
  let failures = 0;
  let reportedAt = -Infinity;
  return {
    export(spans, done) {
      inner.export(spans, (result) => {
        if (result.code !== ExportResultCode.SUCCESS) {
          failures++;
          if (performance.now() - reportedAt >= 60_000) {
            reportedAt = performance.now();
            report(result.error ?? new Error('the span export failed'), failures);
            failures = 0;
          }
        }
        done(result);
      });
    },
    shutdown: () => inner.shutdown(),
    forceFlush: () => inner.forceFlush?.() ?? Promise.resolve(),
  };
}
