// What a production plugin may hook into. The gateway (gateway.ts) stays the composition root and
// knows nothing about limits, metrics or logs: it applies each plugin's hooks in order. Every hook
// is optional, so a plugin takes only what it needs.
import type { ApolloServerOptions, ApolloServerPlugin, BaseContext } from '@apollo/server';
import type { Request, RequestHandler } from 'express';
import type { DocumentNode, GraphQLSchema, ParseOptions, ValidationRule } from 'graphql';
import type { TenantConfig } from '../auth/tenant-config.ts';
import type { CrdCatalog } from '../catalog/crd-catalog.ts';
import { errorWithStack } from '../errors.ts';
import { guardedObserver, warnObserverFailure, type KubeCallObserver, type KubeClient } from '../kube/kube-client.ts';
import type { LiveSchema } from '../service/live-schema.ts';
import type { GatewayOperations } from '../service/hub-operations.ts';
import type { CallerContext } from '../contract/caller-context.ts';
import type { RequestRecord, RequestStart, SubscriptionEndRecord } from './request-tracker.ts';

/** Gives a slot of a tenant's budget back (once); `lost` aborts when a shared slot's lease could not be kept. */
export type SlotRelease = (() => void) & { lost?: AbortSignal };

/** Apollo settings a plugin contributes; lists are concatenated, the last scalar setting wins. */
export interface ApolloExtras {
  plugins?: ApolloServerPlugin<BaseContext>[];
  /**
   * For which GraphQL requests `plugins` do anything in Apollo's request hooks. The others may be
   * executed without Apollo's request pipeline (src/transports/direct-execution.ts), where those
   * hooks are not called. Absent while `plugins` are given: every request needs them.
   */
  needsPipeline?: (req: Request) => boolean;
  /**
   * What `plugins` do in Apollo's hooks for an operation, done on the direct path instead: called
   * once the request's context is made and its operation known; what it returns is called once
   * the operation has run without errors, before its answer is written. An operation that fails or
   * is refused on the direct path is handed to Apollo, whose hooks then finish what this started.
   */
  directOperation?: (start: DirectOperationStart) => (() => void) | undefined;
  validationRules?: ValidationRule[];
  parseOptions?: ParseOptions;
  introspection?: boolean;
  /** Removes "Did you mean …?" from validation errors, which would otherwise reveal field names. */
  hideSchemaDetailsFromClientErrors?: boolean;
  /** Applied in plugin order; each sees the previous one's output. */
  formatError?: NonNullable<ApolloServerOptions<BaseContext>['formatError']>;
  /** How deeply a document may nest, checked before it is parsed (src/graphql/document-nesting.ts); the smallest wins. */
  maxNesting?: number;
}

/** A GraphQL operation the direct path runs: its context (as Apollo's hooks get it), type and name. */
export interface DirectOperationStart {
  context: BaseContext;
  type: 'query' | 'mutation' | 'subscription';
  /** The operation's name as Apollo resolves it (the operation's own; absent for an anonymous one). */
  name: string | undefined;
}

export interface GatewayParts {
  /** The tenants file, when callers authenticate. */
  readonly tenants: TenantConfig | undefined;
  readonly catalog: CrdCatalog;
  readonly live: LiveSchema;
  readonly operations: GatewayOperations;
}

export interface GatewayPlugin {
  readonly name: string;
  apollo?: ApolloExtras;
  /**
   * Told of every call of the Kubernetes client (each attempt, not watches) as it starts and as it
   * settles, by the client itself (KubeClient.observedBy): no promise of its own around each call.
   * Observers see the client under every plugin's wrapClient.
   */
  kubeCalls?: KubeCallObserver;
  /** Decorates the Kubernetes client every other part uses (retries, metrics, audit headers). */
  wrapClient?(client: KubeClient): KubeClient;
  /** Decorates the operations GraphQL resolvers and REST handlers call (they carry the tenant). */
  wrapOperations?(operations: GatewayOperations): GatewayOperations;
  /**
   * Called for every HTTP API request (GraphQL and REST), and every operation sent over WebSocket,
   * once the tenant is known ('' without tenants); throwing (or rejecting with) an ApiError refuses
   * the request or operation with that error.
   */
  admit?(tenant: string): void | Promise<void>;
  /**
   * Called when a WebSocket connection is accepted (after connection_init's token, with tenants),
   * for a slot it holds until it closes: the returned function gives the slot back; throwing (or
   * rejecting with) an ApiError refuses the connection (TOO_MANY_REQUESTS and UNAVAILABLE close it
   * with 1013). When the slot's `lost` aborts, the connection is closed with 1013.
   */
  openConnection?(tenant: string): SlotRelease | Promise<SlotRelease>;
  /** Express middleware that runs before every route (request ids, logs, metrics). */
  middleware?: RequestHandler[];
  /**
   * Called once per HTTP request when its response is finished (or the client left), with what is
   * known about it. One tracker feeds every plugin that has this hook. Also called once per GraphQL
   * operation sent over WebSocket (method 'WS'), when its outcome is known: a query's or mutation's
   * answer, a subscription's start, or the operation's refusal.
   */
  onRequestDone?(record: RequestRecord): void;
  /** Called once per GraphQL subscription over WebSocket that started, when it ends. */
  onSubscriptionEnd?(record: SubscriptionEndRecord): void;
  /** Called once per HTTP request as it comes in (its headers are in), before any route. */
  onRequestStart?(start: RequestStart): void;
  /**
   * Sees the gateway's parts once they exist (gauges read their stats), before `apollo` is read.
   */
  attach?(parts: GatewayParts): void;
  /** Called when the gateway stops. */
  stop?(): Promise<void> | void;
  /**
   * Called for each GraphQL operation sent over WebSocket once it is accepted (parsed, validated,
   * checked), before it runs: what it returns runs the operation (a query or mutation to its
   * answer, a subscription to its start) and is told its outcome. HTTP requests have middleware
   * and Apollo's hooks for the same.
   */
  socketOperation?(start: SocketOperationStart): SocketOperationScope | undefined;
  /**
   * Checks every operation (over HTTP and WebSocket) once it has parsed and validated; throwing an
   * ApiError refuses it. Runs for every request: keep it cheap, remember per document what can be.
   */
  checkOperation?: OperationCheck;
}

/** A GraphQL operation sent over WebSocket, about to run. */
export interface SocketOperationStart {
  type: 'query' | 'mutation' | 'subscription';
  /** The operation's own name; absent for an anonymous one. */
  name: string | undefined;
  context: CallerContext;
}

/** What a plugin does around one operation sent over WebSocket. */
export interface SocketOperationScope {
  /** Runs the operation (it may return a promise: the plugin's context carries over to what it awaits). */
  run<R>(execute: () => R): R;
  /** The operation has its outcome: 'ok', or the error catalog's code of its first error. */
  done(code: string): void;
}

/** Every plugin's socketOperation as one (in plugin order, the first outermost); undefined when no plugin has one. */
export function socketOperations(plugins: readonly GatewayPlugin[]): GatewayPlugin['socketOperation'] {
  const hooks = plugins.flatMap((p) => (p.socketOperation ? [p.socketOperation.bind(p)] : []));
  if (hooks.length <= 1) return hooks[0];
  return (start) => {
    const scopes: SocketOperationScope[] = [];
    try {
      for (const hook of hooks) {
        const scope = hook(start);
        if (scope) scopes.push(scope);
      }
    } catch (err) {
      // The operation is refused: the scopes already made are told, so none is left open.
      for (const scope of scopes) scope.done('INTERNAL');
      throw err;
    }
    if (scopes.length <= 1) return scopes[0];
    return {
      run: (execute) => scopes.reduceRight<() => ReturnType<typeof execute>>((inner, s) => () => s.run(inner), execute)(),
      done: (code) => {
        for (const s of scopes) s.done(code);
      },
    };
  };
}

export interface OperationCheckArgs {
  schema: GraphQLSchema;
  document: DocumentNode;
  source: string;
  operationName: string | null | undefined;
  variables: Record<string, unknown> | undefined;
  context: CallerContext;
}

export type OperationCheck = (args: OperationCheckArgs) => void;

/** Where a plugin's failing kubeCalls is reported (once per plugin). */
export interface PluginLog {
  warn(msg: string): void;
}

/**
 * The client the gateway's parts use: `client` observed by every plugin's kubeCalls (in plugin
 * order), then decorated by every plugin's wrapClient (in plugin order, the last one outermost).
 * A kubeCalls that throws never changes a call's result; its first failure is logged.
 */
export function pluginClient(plugins: readonly GatewayPlugin[], client: KubeClient, log?: PluginLog): KubeClient {
  let observed = client;
  for (const p of plugins) {
    if (!p.kubeCalls) continue;
    const name = p.name;
    const onFailure = log
      ? (err: unknown) => log.warn(`plugin ${name}: its observer of Kubernetes calls failed (later failures are not logged): ${errorWithStack(err)}`)
      : undefined;
    observed = observeKubeCalls(observed, p.kubeCalls, onFailure);
  }
  return plugins.reduce((c, p) => p.wrapClient?.(c) ?? c, observed);
}

/**
 * `client` with its calls told to `observer`: by the client itself where it can (KubeClient), else
 * (a test double) by a handler on each call's promise. Either way the observer cannot change a
 * call's result (guardedObserver).
 */
export function observeKubeCalls(client: KubeClient, given: KubeCallObserver, onFailure?: (err: unknown) => void): KubeClient {
  if (typeof client.observedBy === 'function') return client.observedBy(given, onFailure);
  const observer = guardedObserver(given, onFailure ?? warnObserverFailure);
  const wrapped = Object.create(client) as KubeClient;
  wrapped.request = function request<T>(method: Parameters<KubeClient['request']>[0], path: string, opts?: Parameters<KubeClient['request']>[2]): Promise<T> {
    const started = observer.started(method, path);
    let result: Promise<T>;
    try {
      result = client.request<T>(method, path, opts);
    } catch (err) {
      observer.settled(started, method, err);
      return Promise.reject(err);
    }
    return result.then((body) => {
      observer.settled(started, method, undefined);
      return body;
    }, (err: unknown) => {
      observer.settled(started, method, err);
      throw err;
    });
  } as KubeClient['request'];
  return wrapped;
}

/** Merges the Apollo settings of several plugins into one set. */
export function mergeApolloExtras(plugins: readonly GatewayPlugin[]): ApolloExtras {
  const merged: ApolloExtras = { plugins: [], validationRules: [] };
  const formatters: NonNullable<ApolloExtras['formatError']>[] = [];
  const needs: NonNullable<ApolloExtras['needsPipeline']>[] = [];
  const starts: NonNullable<ApolloExtras['directOperation']>[] = [];
  for (const p of plugins) {
    const a = p.apollo;
    if (!a) continue;
    merged.plugins!.push(...(a.plugins ?? []));
    if (a.plugins?.length) needs.push(a.needsPipeline ?? everyRequest);
    if (a.directOperation) starts.push(a.directOperation);
    merged.validationRules!.push(...(a.validationRules ?? []));
    if (a.parseOptions) merged.parseOptions = { ...merged.parseOptions, ...a.parseOptions };
    if (a.introspection !== undefined) merged.introspection = a.introspection;
    if (a.hideSchemaDetailsFromClientErrors !== undefined) merged.hideSchemaDetailsFromClientErrors = a.hideSchemaDetailsFromClientErrors;
    if (a.formatError) formatters.push(a.formatError);
    if (a.maxNesting !== undefined) merged.maxNesting = Math.min(merged.maxNesting ?? a.maxNesting, a.maxNesting);
  }
  if (formatters.length) merged.formatError = (formatted, error) => formatters.reduce((f, fn) => fn(f, error), formatted);
  if (needs.includes(everyRequest)) merged.needsPipeline = everyRequest;
  else if (needs.length) merged.needsPipeline = needs.length === 1 ? needs[0] : anyNeeds(needs);
  if (starts.length) merged.directOperation = starts.length === 1 ? starts[0] : directOperations(starts);
  return merged;
}

/** Several plugins' needsPipeline as one: asked for every GraphQL POST, so a loop, not a closure per call. */
function anyNeeds(needs: readonly NonNullable<ApolloExtras['needsPipeline']>[]): NonNullable<ApolloExtras['needsPipeline']> {
  return (req) => {
    for (let i = 0; i < needs.length; i++) if (needs[i]!(req)) return true;
    return false;
  };
}

/** Several plugins' directOperation as one: each started in order, each finished in order. */
function directOperations(starts: readonly NonNullable<ApolloExtras['directOperation']>[]): NonNullable<ApolloExtras['directOperation']> {
  return (start) => {
    const dones = starts.flatMap((s) => s(start) ?? []);
    return dones.length ? () => { for (const done of dones) done(); } : undefined;
  };
}

/**
 * What Apollo plugins that do not say for which requests they need its hooks need: every request.
 * Merged needs that include it are it, so the direct path can tell it is never taken.
 */
export const everyRequest = (): boolean => true;
