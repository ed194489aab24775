// GraphQL subscriptions over WebSocket (the graphql-transport-ws protocol of graphql-ws) on the
// same port and path as the HTTP API. Each subscription runs on the schema that is current when
// it starts; a subscription whose resource goes away is ended by the live schema.
//
// With tenants, the token travels in connection_init ({ "authorization": "Bearer …" },
// { "headers": { "Authorization": "Bearer …" } }, or { "token": "…" }): a missing or bad token closes the socket with 4401, a token that expires
// closes it at expiry with 4401 (1013, try again later, when the gateway cannot authenticate anyone
// for now: a token review or key set it cannot get), and each connection sees only its tenant's schema.
//
// Each subscribe message is an API request as an HTTP one is: admitted by the tenant's budgets
// (requests per second; a subscription also counts as a watch), its refusals have the words and
// codes Apollo gives them over HTTP, and its outcome is recorded for request logs and metrics
// (socket-operations.ts) and traced (the plugins' socketOperation). Its messages reach graphql-ws
// in order per id (socket-message-order.ts).
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import { useServer } from 'graphql-ws/use/ws';
import {
  createSourceEventStream, execute, GraphQLError, NoSchemaIntrospectionCustomRule, type DocumentNode,
  type ExecutionArgs, type ExecutionResult, type GraphQLFormattedError, type GraphQLSchema, type ParseOptions, type ValidationRule,
} from 'graphql';
import { GRAPHQL_TRANSPORT_WS_PROTOCOL, type SubscribePayload } from 'graphql-ws';
import { ApiError, isInternalError, toGraphQLError, unwrapError, type InternalErrorReporter } from '../api-errors.ts';
import type { Caller } from '../auth/authenticate.ts';
import type { CallerContext } from '../contract/caller-context.ts';
import { setTimer } from '../service/deadline-timer.ts';
import { SharedSelections } from '../graphql/shared-subscription-results.ts';
import { typedStoredValueErrorsOf } from '../graphql/stored-value-errors.ts';
import { ParsedDocuments } from '../graphql/parsed-documents.ts';
import { validateDocument } from '../graphql/document-validation.ts';
import { withLiteralPaths } from '../graphql/literal-paths.ts';
import { nestingRefusal } from '../graphql/document-nesting.ts';
import { bigintAsNumber, exactNumbersOrMarked, firstUnrepresentable, maxClientNesting } from '../kube/lossless-json.ts';
import { feedBehind } from '../streams/feed.ts';
import { mapStream } from '../streams/map-stream.ts';
import { ConnectionWriter, pushedSubscription } from './graphql-ws-push.ts';
import { MessageOrder } from './socket-message-order.ts';
import { formatRefusals, operationResolutionError, SocketOperation, socketRequestId, tooDeepMarker, withCode } from './socket-operations.ts';
import { closeReason, OperationRuns, type ConnectionRuns } from './socket-operation-runs.ts';
import type { RequestRecord, SubscriptionEndRecord } from '../plugins/request-tracker.ts';
import type { SlotRelease, SocketOperationScope, SocketOperationStart } from '../plugins/gateway-plugin.ts';

export interface WebSocketOptions {
  path: string;
  schema: () => GraphQLSchema;
  /** With tenants: verifies the token from connection_init. */
  authenticate?: (authorization: string | undefined) => Promise<Caller>;
  /** With tenants: the schema a caller may use. */
  schemaFor?: (caller: Caller) => Promise<{ schema: GraphQLSchema }>;
  /** Extra validation rules (query limits), as for HTTP. */
  validationRules?: ValidationRule[];
  parseOptions?: ParseOptions;
  /** No "Did you mean …?" in validation errors, as over HTTP. */
  hideSuggestions?: boolean;
  /** How deeply a document may nest before it is parsed (see document-nesting.ts). */
  maxNesting?: number;
  /** false: introspection is refused, as over HTTP in production mode. */
  introspection?: boolean;
  /** Further checks of a validated operation (its cost); throw an ApiError to refuse it. */
  checkOperation?: (args: { schema: GraphQLSchema; document: DocumentNode; source: string; operationName: string | null | undefined; variables: Record<string, unknown> | undefined; context: CallerContext }) => void;
  /** Ping interval; graphql-ws closes connections that stop answering. */
  keepAliveMs?: number;
  /** Largest accepted message. */
  maxPayloadBytes?: number;
  /** Logs the causes of internal errors of subscriptions, with the subscription's request id. */
  reportInternal?: InternalErrorReporter;
  /** Origins (--cors-origins) whose pages may open a socket without tenants; see verifyOrigin. */
  corsOrigins?: readonly string[];
  /**
   * Admission of every operation (a subscribe message is an API request, as an HTTP one is): throws
   * (or rejects with) an ApiError (TOO_MANY_REQUESTS) when the tenant is over its budget.
   */
  admit?: (tenant: string) => void | Promise<void>;
  /**
   * A slot in the tenant's budget of connections, held until the connection closes (see
   * GatewayPlugin.openConnection); a refusal closes the connection (1013 for TOO_MANY_REQUESTS).
   */
  openConnection?: (tenant: string) => Promise<SlotRelease>;
  /** Told of every operation's outcome: a query's or mutation's answer, a subscription's start, a refusal. */
  onOperationDone?: (record: RequestRecord) => void;
  /** Told when a subscription that started ends, and how. */
  onSubscriptionEnd?: (record: SubscriptionEndRecord) => void;
  /** What the plugins do around each accepted operation (see GatewayPlugin.socketOperation). */
  socketOperation?: (start: SocketOperationStart) => SocketOperationScope | undefined;
  /** The plugins' formatError, as Apollo applies it over HTTP: refusals get the same words and codes. */
  formatError?: (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;
}

/** Subscription ids longer than this close the socket (4400): every `next` frame repeats the id. */
export const maxSubscriptionIdLength = 256;

export interface WebSocketHandle {
  readonly wss: WebSocketServer;
  /**
   * Closes every connection with 1001 (going away) and stops accepting new ones; a connection
   * whose client has not answered the close by the deadline is cut.
   */
  close(deadlineMs?: number): Promise<void>;
}

export const CloseCode = {
  BadRequest: 4400,
  Unauthorized: 4401,
  Forbidden: 4403,
  /**
   * RFC 6455's "Try Again Later": the gateway cannot authenticate anyone for now (503). graphql-ws'
   * client gives up for good on 4401, but reconnects after this one.
   */
  TryAgainLater: 1013,
} as const;

interface ConnectionState extends ConnectionRuns {
  caller?: Caller;
  connectionId?: string;
  expiry?: { cancel(): void };
  /** Gives the connection's slot in its tenant's budget back. */
  releaseSlot?: () => void;
}

/**
 * Refuses an upgrade that does not offer graphql-transport-ws, with a 400 and a GraphQL error
 * body. Accepted, such a socket would be open with no protocol chosen (ws) until graphql-ws
 * closes it; the legacy subscriptions-transport-ws protocol ("graphql-ws") is one such client.
 */
function verifySubprotocol(info: { req: IncomingMessage }, done: (ok: boolean, code?: number, message?: string, headers?: Record<string, string>) => void): void {
  const offered = (info.req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim()).filter(Boolean);
  if (offered.includes(GRAPHQL_TRANSPORT_WS_PROTOCOL)) return done(true);
  const e = new ApiError('BAD_REQUEST', `this endpoint speaks the ${GRAPHQL_TRANSPORT_WS_PROTOCOL} WebSocket subprotocol (the graphql-ws library); `
    + `the upgrade offered ${offered.length ? offered.map((p) => JSON.stringify(p)).join(', ') : 'none'} in Sec-WebSocket-Protocol`, { reason: 'BadRequest' });
  refuseUpgrade(done, e);
}

/**
 * Without tenants every socket acts as the gateway's own identity, and a browser lets any page
 * open a WebSocket to any address (CORS does not cover WebSockets): a page a developer visits
 * could subscribe through a gateway on their machine. So, without tenants, an upgrade that carries
 * an Origin (browsers always send one) is accepted only from the gateway's own host or an origin
 * of --cors-origins. With tenants a socket needs a token in connection_init, which a page of
 * another origin does not have, and Origin is not checked. Clients outside browsers send no Origin.
 */
export function originRefusal(req: IncomingMessage, tenants: boolean, allowed: readonly string[] = []): ApiError | undefined {
  const origin = req.headers.origin;
  if (tenants || origin === undefined || allowed.includes(origin)) return undefined;
  if (URL.canParse(origin) && new URL(origin).host === req.headers.host) return undefined;
  return new ApiError('FORBIDDEN', `a WebSocket from a page of ${JSON.stringify(origin.slice(0, 200))} is refused: without tenants every caller acts `
    + 'as the gateway\'s own identity, so only pages of the gateway\'s own origin, or of an origin given in --cors-origins, may open one', { reason: 'Forbidden' });
}

function refuseUpgrade(done: (ok: boolean, code?: number, message?: string, headers?: Record<string, string>) => void, e: ApiError): void {
  done(false, e.httpStatus, JSON.stringify({ errors: [{ message: e.message, extensions: e.extensions }] }), { 'Content-Type': 'application/json' });
}

/**
 * A number a double cannot hold in a subscribe message (kept marked by its reviver): refused as
 * over HTTP, where the same number refuses the request body; here it refuses only this operation.
 */
function unrepresentableRefusal(payload: unknown): GraphQLError | undefined {
  const found = firstUnrepresentable(payload);
  if (!found) return undefined;
  return toGraphQLError(new ApiError('BAD_REQUEST', `the subscribe message is not valid JSON: ${found.number.problem} (at payload.${found.path})`, { reason: 'BadRequest' }));
}

/** A subscribe message nested deeper than client JSON may be, as MessageOrder marked it: refused as over HTTP, the operation alone. */
function tooDeepRefusal(payload: { extensions?: unknown }): GraphQLError | undefined {
  const extensions = payload.extensions as Record<string, unknown> | null | undefined;
  if (extensions?.[tooDeepMarker] !== true) return undefined;
  return toGraphQLError(new ApiError('BAD_REQUEST', `the subscribe message is not valid JSON: the JSON is nested more than ${maxClientNesting} levels deep`, { reason: 'BadRequest' }));
}

/** Where the events of a subscription go: its connection, its id, and its operation's text. */
interface Delivery {
  writer: ConnectionWriter;
  id: string;
  source: string;
}

export function attachWebSocket(server: Server, opts: WebSocketOptions): WebSocketHandle {
  const verifyClient: typeof verifySubprotocol = (info, done) => {
    const refusal = originRefusal(info.req, opts.authenticate !== undefined, opts.corsOrigins);
    if (refusal) refuseUpgrade(done, refusal);
    else verifySubprotocol(info, done);
  };
  const wss = new WebSocketServer({ server, path: opts.path, maxPayload: opts.maxPayloadBytes ?? 3 * 2 ** 20, verifyClient });
  wss.on('headers', announceConnectionId);
  const writers = new WeakMap<WebSocket, ConnectionWriter>();
  const orders = new WeakMap<WebSocket, MessageOrder>();
  // Before graphql-ws' own listener of the connection (useServer, below) is added.
  wss.on('connection', (socket) => {
    writers.set(socket, new ConnectionWriter(socket));
    orders.set(socket, new MessageOrder(socket));
  });
  const deliveries = new WeakMap<ExecutionArgs, Delivery>();
  const runs = new OperationRuns(opts);
  // Errors in a shared result are reported once (with the request id of the group's first
  // subscriber) and formatted once for every member.
  const groups = new SharedSelections({
    formatErrors: (errors, args) => {
      const requestId = (args.contextValue as CallerContext | undefined)?.requestId;
      for (const e of errors) opts.reportInternal?.(e, requestId);
      return errors.map((e) => (escaped(e) ? internalError(e) : e.toJSON()));
    },
  });
  // Subscriptions of the same text share its parsed document.
  const documents = new ParsedDocuments(opts.parseOptions);
  const states = new WeakMap<object, ConnectionState>();
  const stateOf = (extra: object) => {
    let s = states.get(extra);
    if (!s) states.set(extra, (s = {}));
    return s;
  };
  const requestIdOf = (extra: object, id: string) => socketRequestId(stateOf(extra).connectionId ?? '', id);
  const parts: ServerParts = { opts, documents, runs, writers, deliveries, done: opts.onOperationDone ?? (() => {}) };
  const disposable = useServer<Record<string, unknown>>(
    {
      onConnect: async (ctx) => {
        const state = stateOf(ctx.extra);
        state.connectionId = connectionIdOf(ctx.extra.request);
        // The upgrade request was read at the handshake (its subprotocol) and nothing reads it
        // again: not kept for the connection's lifetime, with its headers (the token among them).
        (ctx.extra as { request?: IncomingMessage }).request = undefined;
        return (await authenticateConnection(opts, ctx, state)) && { connectionId: state.connectionId };
      },
      onClose: (ctx) => connectionClosed(states.get(ctx.extra), runs),
      onSubscribe: (ctx, id, payload) => acceptOperation(parts, ctx.extra.socket, stateOf(ctx.extra), id, payload,
        () => Object.keys(ctx.subscriptions).filter((open) => open !== id).length),
      // graphql-ws forgets an id when its client completes it or leaves; no other operation runs
      // under the id meanwhile (socket-message-order.ts).
      onOperation: (ctx, id, _payload, args, result) => runs.outcome(args, result, !(id in ctx.subscriptions)),
      onComplete: (ctx, id) => {
        orders.get(ctx.extra.socket)?.ended(id);
      },
      onError: (ctx, id, _payload, errors) => {
        orders.get(ctx.extra.socket)?.ended(id);
        for (const e of errors) opts.reportInternal?.(e, requestIdOf(ctx.extra, id));
        return errors.some(escaped) ? errors.map((e) => (escaped(e) ? internalError(e) : e.toJSON())) : undefined;
      },
      onNext: (ctx, id, _payload, _args, result) => {
        if (!result.errors?.length) return undefined;
        for (const e of result.errors) opts.reportInternal?.(e, requestIdOf(ctx.extra, id));
        if (!result.errors.some(escaped)) return undefined;
        return { ...result, errors: result.errors.map((e) => (escaped(e) ? internalError(e) : e.toJSON())) };
      },
      execute: (args) => runs.run(args, () => typedStoredValueErrorsOf(execute(args))),
      subscribe: (args) => runs.run(args, () => subscribe(args, deliveries.get(args), groups)),
      // Variables keep integers beyond 2^53 (as bigint), as in HTTP request bodies; results that
      // graphql-ws itself sends write them with every digit. A number a double cannot hold is kept
      // marked, so that onSubscribe refuses its operation: graphql-ws would close the connection on
      // a reviver's error, with every other subscription on it.
      jsonMessageReviver: exactNumbersOrMarked as (key: string, value: unknown) => unknown,
      jsonMessageReplacer: bigintAsNumber,
      // graphql-ws calls return() on a subscription's event stream when the client completes it
      // or disconnects, which is what ends the subscriber in the watch hub.
    },
    wss,
    opts.keepAliveMs ?? 12_000,
  );
  return {
    wss,
    async close(deadlineMs = 25_000) {
      runs.closing = true;
      for (const client of wss.clients) client.close(1001, 'server shutting down');
      // A client that never answers the close (its network gone) would hold the server's close
      // for ws' own 30 s, past the shutdown deadline: such sockets are cut at the deadline.
      const cut = setTimeout(() => {
        for (const client of wss.clients) client.terminate();
      }, deadlineMs);
      try {
        await disposable.dispose();
        await new Promise<void>((resolve) => wss.close(() => resolve()));
      } finally {
        clearTimeout(cut);
      }
    },
  };
}

const connectionIds = new WeakMap<IncomingMessage, string>();

/**
 * The connection's id, which begins the request id of each of its operations: the client's
 * X-Request-Id on the upgrade when it is a valid request id (short enough for an operation's id
 * after it), else a new one; answered in the 101's X-Request-Id and in connection_ack's payload.
 */
function announceConnectionId(headers: string[], req: IncomingMessage): void {
  const given = req.headers['x-request-id'];
  const id = typeof given === 'string' && /^[\w.:-]{1,64}$/.test(given) ? given : randomUUID();
  connectionIds.set(req, id);
  headers.push(`X-Request-Id: ${id}`);
}

function connectionIdOf(req: IncomingMessage | undefined): string {
  return (req && connectionIds.get(req)) ?? randomUUID();
}

/** What the handling of a subscribe message needs of its server. */
interface ServerParts {
  opts: WebSocketOptions;
  documents: ParsedDocuments;
  runs: OperationRuns;
  writers: WeakMap<WebSocket, ConnectionWriter>;
  deliveries: WeakMap<ExecutionArgs, Delivery>;
  done: (record: RequestRecord) => void;
}

/**
 * One subscribe message (graphql-ws' onSubscribe): its record made, then refused (its record
 * completed then) or accepted with its arguments, to run in the plugins' scope.
 */
async function acceptOperation(parts: ServerParts, socket: WebSocket, state: ConnectionState, id: string, payload: SubscribePayload,
  operationsOpen: () => number): Promise<ExecutionArgs | readonly GraphQLError[]> {
  const { opts, runs } = parts;
  state.connectionId ??= randomUUID();
  // Kubernetes calls made for this operation carry this id (as Audit-ID), like HTTP requests.
  const requestId = socketRequestId(state.connectionId, id);
  const operation = new SocketOperation(opts.path, requestId, state.caller?.tenant);
  const refuse = (errors: readonly GraphQLError[]) => {
    const sent = formatRefusals(errors, opts.formatError);
    parts.done(operation.finish(sent));
    return sent;
  };
  if (id.length > maxSubscriptionIdLength) {
    socket.close(CloseCode.BadRequest, 'Subscription id too long');
    return refuse([toGraphQLError(new ApiError('BAD_REQUEST', `subscription ids are at most ${maxSubscriptionIdLength} characters`))]);
  }
  const unrepresentable = tooDeepRefusal(payload) ?? unrepresentableRefusal(payload);
  if (unrepresentable) return refuse([unrepresentable]);
  let prepared: ExecutionArgs | readonly GraphQLError[];
  // graphql-ws keeps an operation's id from its subscribe message until its last message is sent:
  // with no other open (this one's own may be gone, its client having completed it), closing the
  // connection cuts nothing else.
  const tryLater = (reason: string) => {
    if (operationsOpen() === 0) socket.close(CloseCode.TryAgainLater, reason);
  };
  try {
    prepared = await prepareSubscription(opts, parts.documents, state.caller, payload, operation);
    if (!isErrors(prepared)) {
      const context = prepared.contextValue as CallerContext;
      const scope = opts.socketOperation?.({ type: operation.type as SocketOperationStart['type'], name: operation.operationName, context });
      runs.accept(prepared, { operation, scope, connection: state, tryLater });
    }
  } catch (err) {
    // A failure here (the caller's schema could not be computed, say) ends this subscription
    // with an error message; the connection and its other subscriptions go on (but see below).
    const e = err instanceof ApiError ? err : new ApiError('INTERNAL', 'internal error', {}, { cause: err });
    opts.reportInternal?.(e, requestId);
    // A subscription over the tenant's rate alone on its connection (a client resubscribing after
    // a restart of the gateway): its client reconnects after a while (1013) and subscribes again,
    // where an error message would end it for good. On a connection with other operations,
    // closing would lose or repeat them (and a client whose subscriptions the burst cannot hold at
    // once would come back to the same refusal): the error.
    if (e.code === 'TOO_MANY_REQUESTS' && operation.type === 'subscription') tryLater('over the request rate: try again later');
    return refuse([toGraphQLError(e)]);
  }
  if (isErrors(prepared)) return refuse(prepared);
  const writer = parts.writers.get(socket);
  if (writer) parts.deliveries.set(prepared, { writer, id, source: payload.query });
  return prepared;
}

/** Where connection_init may carry the token, as the refusals name the places. */
const tokenPlaces = 'authorization: "Bearer <token>", headers.Authorization or token';

/**
 * The Authorization value of connection_init's payload: `authorization` or `Authorization`, `token`
 * (the bare token), or `headers.Authorization` / `headers.authorization` (Apollo's and Hasura's
 * documentation put it there, as an HTTP header). Absent: undefined. Different tokens in two
 * places are refused rather than one of them chosen.
 */
export function connectionAuthorization(params: Record<string, unknown>): string | undefined {
  const headers = params.headers !== null && typeof params.headers === 'object' ? params.headers as Record<string, unknown> : {};
  const found: [string, string][] = [];
  for (const [place, value] of [['authorization', params.authorization], ['Authorization', params.Authorization],
    ['headers.Authorization', headers.Authorization], ['headers.authorization', headers.authorization]] as const) {
    if (typeof value === 'string' && value.trim()) found.push([place, value]);
  }
  if (typeof params.token === 'string' && params.token.trim()) found.push(['token', `Bearer ${params.token}`]);
  const tokenOf = (value: string) => /^\s*Bearer\s+(\S+)\s*$/i.exec(value)?.[1] ?? value.trim();
  const other = found.find(([, value]) => tokenOf(value) !== tokenOf(found[0]![1]));
  if (other) {
    throw new ApiError('UNAUTHENTICATED', `connection_init carries different tokens in ${found[0]![0]} and ${other[0]}: send one`, { authReason: 'TOKEN_MALFORMED' });
  }
  return found[0]?.[1];
}

/**
 * With tenants: the token of connection_init; a bad one closes the socket (4401, or 4403). Then
 * the connection's slot in its tenant's budget; none free closes it with 1013.
 */
async function authenticateConnection(opts: WebSocketOptions, ctx: { connectionParams?: Record<string, unknown>; extra: { socket: WebSocket } },
  state: ConnectionState): Promise<boolean> {
  try {
    if (opts.authenticate) state.caller = await authenticatedCaller(opts.authenticate, ctx, state);
    if (opts.openConnection) await holdSlot(opts.openConnection, ctx.extra.socket, state);
    return true;
  } catch (err) {
    const e = err instanceof ApiError ? err : new ApiError('UNAUTHENTICATED', 'authentication failed');
    ctx.extra.socket.close(authCloseCode(e), closeReason(e.message));
    return false;
  }
}

async function authenticatedCaller(authenticate: NonNullable<WebSocketOptions['authenticate']>,
  ctx: { connectionParams?: Record<string, unknown>; extra: { socket: WebSocket } }, state: ConnectionState): Promise<Caller> {
  const raw = connectionAuthorization(ctx.connectionParams ?? {});
  // The same refusal as over HTTP, but naming where a WebSocket client puts its token.
  if (raw === undefined) throw new ApiError('UNAUTHENTICATED', `a bearer token is required in connection_init: ${tokenPlaces}`, { authReason: 'TOKEN_MISSING' });
  const caller = await authenticate(raw);
  if (caller.expiresAt !== undefined) {
    state.expiry = setTimer(() => ctx.extra.socket.close(CloseCode.Unauthorized, 'token expired'), caller.expiresAt);
  }
  return caller;
}

/** Takes the connection's slot; one lost later (a shared lease not kept) closes the connection, as one refused would have been. */
async function holdSlot(open: NonNullable<WebSocketOptions['openConnection']>, socket: WebSocket, state: ConnectionState): Promise<void> {
  const release = await open(state.caller?.tenant ?? '');
  state.releaseSlot = release;
  // Closed while the slot was being taken: graphql-ws' onClose has run (or is running) without it.
  if (socket.readyState !== socket.OPEN) return release();
  release.lost?.addEventListener('abort', () => socket.close(CloseCode.TryAgainLater,
    closeReason('this connection lost its slot in the tenant\'s shared connection budget; connect again')), { once: true });
}

/** graphql-ws' onClose: the token's timer, the operations still running, the tenant's slot. */
function connectionClosed(state: ConnectionState | undefined, runs: OperationRuns): void {
  if (!state) return;
  state.expiry?.cancel();
  state.releaseSlot?.();
  runs.closed(state);
}

function authCloseCode(e: ApiError): number {
  if (e.code === 'FORBIDDEN') return CloseCode.Forbidden;
  return e.code === 'UNAVAILABLE' || e.code === 'TOO_MANY_REQUESTS' ? CloseCode.TryAgainLater : CloseCode.Unauthorized;
}

function isErrors(prepared: ExecutionArgs | readonly GraphQLError[]): prepared is readonly GraphQLError[] {
  return Array.isArray(prepared);
}

/**
 * Parsing, admission, validation (with the same limits as over HTTP),
 * the choice of the operation and the cost check of one subscribe message; `operation` notes what
 * it selects. Its errors carry the codes Apollo gives the same errors over HTTP.
 */
async function prepareSubscription(opts: WebSocketOptions, documents: ParsedDocuments, caller: Caller | undefined, payload: SubscribePayload,
  operation: SocketOperation): Promise<ExecutionArgs | readonly GraphQLError[]> {
  // The connection authenticated once; a token that was revoked since gets no new subscription.
  await caller?.revalidate?.();
  const admit = async () => opts.admit?.(caller?.tenant ?? '');
  const tooDeep = nestingRefusal(payload.query, opts.maxNesting);
  if (tooDeep) {
    await admit();
    return [toGraphQLError(tooDeep)];
  }
  let document: DocumentNode;
  try {
    document = documents.parse(payload.query);
  } catch (err) {
    operation.type = 'invalid';
    await admit();
    return [withCode(err instanceof GraphQLError ? err : new GraphQLError(String(err)), 'GRAPHQL_PARSE_FAILED')];
  }
  const selected = operation.selects(document, payload.operationName);
  await admit();
  const schema = caller && opts.schemaFor ? (await opts.schemaFor(caller)).schema : opts.schema();
  if (selected?.operation === 'subscription' && !schema.getSubscriptionType()) {
    // graphql-js 16 validates it and fails it at execution, as an internal error.
    return [new GraphQLError('Schema is not configured to execute subscription operation.', { nodes: [selected], extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } })];
  }
  const rules = [...(opts.validationRules ?? []), ...(opts.introspection === false ? [NoSchemaIntrospectionCustomRule] : [])];
  const errors = withLiteralPaths(document, validateDocument(schema, document, { rules, hideSuggestions: opts.hideSuggestions ?? false }));
  if (errors.length) return errors.map((e) => withCode(e, 'GRAPHQL_VALIDATION_FAILED'));
  if (!selected) return [operationResolutionError(document, payload.operationName)];
  const requestId = operation.requestId;
  const variables = (payload.variables ?? undefined) as Record<string, unknown> | undefined;
  const contextValue: CallerContext = caller
    ? {
      identity: caller.identity, tenant: caller.tenant, expiresAt: caller.expiresAt, requestId, transport: 'ws',
      ...(caller.limits ? { limits: caller.limits } : {}),
      ...(caller.fieldManager ? { fieldManager: caller.fieldManager } : {}),
      ...(caller.revalidate ? { revalidate: caller.revalidate, revalidateEveryMs: caller.revalidateEveryMs } : {}),
    }
    : { requestId, transport: 'ws' };
  try {
    opts.checkOperation?.({ schema, document, source: payload.query, operationName: payload.operationName, variables, context: contextValue });
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    return [toGraphQLError(err)];
  }
  // Suggestions hidden in the errors of variables that do not coerce too, as in validation.
  return { schema, document, operationName: payload.operationName ?? null, variableValues: variables ?? null, contextValue, hideSuggestions: opts.hideSuggestions ?? false };
}

/** An error that escaped the error catalog: its own message stays in the log. */
function escaped(e: GraphQLError): boolean {
  const inner = unwrapError(e);
  return isInternalError(inner) && !(inner instanceof ApiError);
}

function internalError(e: GraphQLError): GraphQLFormattedError {
  return { message: 'internal error', ...(e.path ? { path: e.path } : {}), extensions: { code: 'INTERNAL', httpStatus: 500 } };
}

/**
 * Starts a subscription. One whose event stream is a feed (the watch hub's) is pushed straight
 * into its connection (graphql-ws-push.ts), its selection executed once per event for its group;
 * any other goes the general way, one execution per event and subscriber.
 */
async function subscribe(args: ExecutionArgs, delivery: Delivery | undefined, groups: SharedSelections): Promise<AsyncIterable<ExecutionResult> | AsyncIterableIterator<never> | ExecutionResult> {
  const source = await createSourceEventStream(args);
  if (!(Symbol.asyncIterator in (source as object))) return source as ExecutionResult;
  const feed = feedBehind<object>(source);
  if (feed && delivery) return pushedSubscription(delivery.writer, delivery.id, groups.join(args, delivery.source), feed);
  return mapStream(source as AsyncIterable<unknown>, (event) => typedStoredValueErrorsOf(execute({ ...args, rootValue: event })));
}
