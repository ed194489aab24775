// What the gateway does with each GraphQL operation inside Apollo Server's request pipeline, in one
// plugin whose listener is shared by every request (no per-request closures):
//   0. the parsed documents of sources sent again (src/graphql/document-cache.ts), so that Apollo
//      neither parses them again nor keeps a copy of every document it sees;
//   1. validation with graphql-js' specified rules and the plugins' rules, at a cost that does not
//      grow with the schema (src/graphql/document-validation.ts), remembered per document; Apollo's
//      own validation is off (it would list every type name of the schema for each new document);
//   2. the refusal of subscriptions, which need a stream (graphql-ws, or SSE in the REST facade);
//   3. the plugins' checks of the operation (limits, cost, allow-list), as over WebSocket;
//   4. the operation and its outcome noted on the HTTP response, for logs, metrics and traces (a
//      refused one too: what it tried to run, or 'invalid');
//   5. the report of the errors of an operation (internal errors' causes are logged with the request id);
//   6. the answer's media type, as Apollo would negotiate it from Accept, remembered per header value.
// One listener rather than one plugin each: Apollo calls every listener at each of its hook rounds
// (a Promise.all of promises per round), whether it has the hook or not.
import { HeaderMap, type ApolloServer, type ApolloServerPlugin, type BaseContext, type GraphQLRequest, type GraphQLRequestListener } from '@apollo/server';
import type { Request, RequestHandler, Response } from 'express';
import { GraphQLError, getOperationAST, type DocumentNode, type ExecutionResult, type GraphQLFormattedError, type GraphQLSchema, type OperationDefinitionNode, type ParseOptions, type ValidationRule } from 'graphql';
import { ApiError, type InternalErrorReporter } from '../api-errors.ts';
import type { CallerContext } from '../contract/caller-context.ts';
import { sharedDocumentCache, type DocumentCache } from '../graphql/document-cache.ts';
import { markShapeOnly, ValidatedDocuments } from '../graphql/document-validation.ts';
import { withLiteralPaths } from '../graphql/literal-paths.ts';
import { parseJson, stringifyJson } from '../kube/lossless-json.ts';
import type { OperationCheck } from '../plugins/gateway-plugin.ts';
import { noteErrorCode, noteOperation, operationTypeOf } from '../plugins/request-outcome.ts';
import { csrfRefusal } from './csrf-prevention.ts';
import { withPlace } from './json-body.ts';
import { answerType } from './answer-type.ts';
import type { DirectPath } from './direct-execution.ts';

export interface PipelineOptions {
  /** Rules run after graphql-js' specified rules (the query limits). */
  rules?: readonly ValidationRule[];
  /** Introspection fields are refused in validation when false. */
  introspection: boolean;
  /** No "Did you mean …?" in validation errors (they would reveal names of the schema). */
  hideSuggestions: boolean;
  /** The plugins' checks of a validated operation; throwing an ApiError refuses it. */
  check?: OperationCheck;
  /** Apollo's formatError as configured: the other validation errors of a document are formatted with it. */
  formatError: (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;
  /** Parsed documents of the sources clients send again (default: one cache per parse options). */
  documents?: DocumentCache;
  /** Apollo's parseOptions, for the documents the pipeline parses. */
  parseOptions?: ParseOptions;
  /** Gets every error of an operation with the request's id (it logs the causes of internal errors). */
  report?: InternalErrorReporter;
}

/**
 * The HTTP response a request's context will be answered on, for the outcome notes (absent for
 * executeOperation). A symbol-keyed property: Apollo copies the context object for each operation
 * (own enumerable properties, symbols included), so a WeakMap keyed by it would miss.
 */
const responseKey = Symbol('crdgate.response');

function answeredOn(context: BaseContext, res: Response): BaseContext {
  (context as Record<symbol, Response>)[responseKey] = res;
  return context;
}

function responseOf(context: BaseContext): Response | undefined {
  return (context as Record<symbol, Response | undefined>)[responseKey];
}

/**
 * Marks a request whose errors must not suggest names (hideSuggestions): validation is the
 * pipeline's, but the errors of variables that do not coerce ("Did you mean the enum value …?")
 * come from the execution, which reads the mark (suggestionsHidden). A symbol-keyed property of
 * the context, as responseKey is.
 */
const hideSuggestionsKey = Symbol('crdgate.hideSuggestions');

/** Marks the context of a request whose errors must not suggest names. */
export function hideSuggestionsIn(context: BaseContext): void {
  (context as Record<symbol, boolean>)[hideSuggestionsKey] = true;
}

/** True when the pipeline that validated this request's operation hides suggestions. */
export function suggestionsHidden(context: BaseContext): boolean {
  return (context as Record<symbol, boolean | undefined>)[hideSuggestionsKey] === true;
}

/** The message Apollo Server gives when introspection is off; the query limits reword it. */
const introspectionDisabled = 'GraphQL introspection is not allowed by Apollo Server, but the query contained __schema or __type. To enable introspection, pass introspection: true to ApolloServer in production';

const noIntrospection: ValidationRule = markShapeOnly((context) => ({
  Field(node) {
    if (node.name.value === '__schema' || node.name.value === '__type') {
      context.reportError(new GraphQLError(introspectionDisabled, { nodes: [node], extensions: { validationErrorCode: 'INTROSPECTION_DISABLED' } }));
    }
  },
}));

/**
 * The outcome of an operation the direct path executed (direct-execution.ts) and handed to Apollo
 * because it has errors, which Apollo formats: a symbol-keyed property of the context, which
 * Apollo copies into the context it executes with.
 */
const executedKey = Symbol('crdgate.executed');

export type Executed = { result: ExecutionResult } | { error: unknown };

/** Marks a context with the outcome of its operation, executed already. */
export function withExecuted(context: object, executed: Executed): object {
  (context as Record<symbol, Executed>)[executedKey] = executed;
  return context;
}

/** The outcome of the context's operation if it was executed already (taken once), else undefined. */
export function executedBefore(context: object): Promise<ExecutionResult> | undefined {
  const executed = (context as Record<symbol, Executed | undefined>)[executedKey];
  if (!executed) return undefined;
  (context as Record<symbol, Executed | undefined>)[executedKey] = undefined;
  return 'result' in executed ? Promise.resolve(executed.result) : Promise.reject(executed.error);
}

/** True when the context carries the outcome of an operation already executed (it was validated then). */
export function wasExecuted(context: object): boolean {
  return (context as Record<symbol, Executed | undefined>)[executedKey] !== undefined;
}

/**
 * The refusal of an operation the direct path checked (direct-execution.ts) and handed to Apollo,
 * which answers it without running the checks again: a symbol-keyed property of the context, as
 * executedKey. Boxed: a check may throw any value.
 */
const refusedKey = Symbol('crdgate.refused');

/** Marks a context with the refusal of its operation by the plugins' checks. */
export function withRefusal(context: object, refused: { error: unknown }): object {
  (context as Record<symbol, { error: unknown }>)[refusedKey] = refused;
  return context;
}

/** The refusal the context's operation got from the direct path's checks, if it got one (it was valid then). */
function refusedBefore(context: object): { error: unknown } | undefined {
  return (context as Record<symbol, { error: unknown } | undefined>)[refusedKey];
}

/** Every validation error of a request whose document had more than one, for the response. */
const allErrors = new WeakMap<object, readonly GraphQLError[]>();

/** The operation of a request that the direct path may execute (direct-execution.ts). */
export interface DirectOperation {
  document: DocumentNode;
  operation: OperationDefinitionNode;
}

export interface OperationPipeline {
  plugin: ApolloServerPlugin<BaseContext>;
  /** Whether errors must not suggest names (hideSuggestions). */
  hideSuggestions: boolean;
  /** The plugins' checks of a validated operation (opts.check), run by the direct path too. */
  check: OperationCheck | undefined;
  /**
   * The kept document of a source and its operation, when the pipeline would let it through
   * untouched: valid, one query or mutation. Undefined otherwise (Apollo's pipeline then runs).
   */
  directOperation(schema: GraphQLSchema, source: string, operationName: string | undefined): DirectOperation | undefined;
}

export function operationPipeline(opts: PipelineOptions): OperationPipeline {
  const validated = new ValidatedDocuments({
    rules: [...(opts.introspection ? [] : [noIntrospection]), ...(opts.rules ?? [])],
    hideSuggestions: opts.hideSuggestions,
  });
  const documents = opts.documents ?? sharedDocumentCache(opts.parseOptions);
  const listener: GraphQLRequestListener<BaseContext> = {
    // The parsed document of a source sent before, handed to Apollo: Apollo Server 5 parses only
    // when the request context has no document yet after this hook (its own document store is
    // off, see newApollo). A new source is left to Apollo's parse, and its errors to Apollo.
    didResolveSource: hook((rc) => {
      const document = documents.get(rc.source);
      if (document) (rc as { document?: DocumentNode }).document = document;
    }),
    didResolveOperation: hook((rc) => {
      if (rc.request.http?.method === 'GET' && rc.request.variables) exactSearchVariables(rc.request);
      // An operation the direct path executed was valid on the schema it executed on, and passed the
      // checks; one it refused was valid there and refused by them.
      const executed = wasExecuted(rc.contextValue);
      const refused = refusedBefore(rc.contextValue);
      const errors = executed || refused ? [] : literalPathErrors(validated, rc.schema, rc.document);
      if (errors.length) {
        if (errors.length > 1) allErrors.set(rc, errors);
        throw validationError(errors[0]!);
      }
      if (opts.hideSuggestions) hideSuggestionsIn(rc.contextValue);
      const type = rc.operation?.operation;
      if (type === 'subscription') {
        throw refusal(new ApiError('BAD_REQUEST', 'subscriptions are served over WebSocket (graphql-ws protocol) at /graphql, or by the REST facade (?watch=true: Kubernetes\' watch format, or Server-Sent Events with Accept: text/event-stream)', { reason: 'BadRequest' }));
      }
      const res = responseOf(rc.contextValue);
      if (res && type) noteOperation(res, type, rc.operationName ?? undefined);
      if (executed) return;
      if (refused) throw refused.error instanceof ApiError ? refusal(refused.error) : refused.error;
      try {
        opts.check?.({ schema: rc.schema, document: rc.document, source: rc.source ?? '', operationName: rc.operationName, variables: rc.request.variables, context: rc.contextValue as CallerContext });
      } catch (err) {
        throw err instanceof ApiError ? refusal(err) : err;
      }
    }),
    willSendResponse: hook((rc) => {
      const body = rc.response.body;
      // The media type Apollo would negotiate for a single result right after this hook, kept
      // per Accept value (answer-type.ts); when it is set, Apollo does not negotiate again.
      const headers = rc.response.http.headers;
      if (body.kind === 'single' && rc.request.http && !headers.get('content-type')) {
        const type = answerType(rc.request.http.headers.get('accept'));
        if (type) headers.set('content-type', type);
      }
      const result = body.kind === 'single' ? body.singleResult : body.initialResult;
      const all = allErrors.get(rc);
      if (all && result.errors) result.errors = all.map((e) => format(validationError(e), opts.formatError));
      const res = responseOf(rc.contextValue);
      if (!res) return;
      // Refused before its operation was noted (a document that does not parse, selects no
      // operation or fails validation; a subscription or a GET mutation): counted by what it
      // tried to run. No source: refused before the document was read, and left at that.
      if (rc.source !== undefined && operationTypeOf(res) === undefined) noteOperation(res, rc.operation?.operation ?? 'invalid', rc.operationName ?? undefined);
      if (result.errors?.length) noteErrorCode(res, String(result.errors[0]!.extensions?.code ?? 'INTERNAL'));
    }),
  };
  const report = opts.report;
  if (report) {
    listener.didEncounterErrors = hook((rc) => {
      const requestId = (rc.contextValue as Partial<CallerContext>).requestId;
      for (const e of rc.errors) report(e, requestId);
    });
  }
  // The same listener for every request, so the same settled promise of it.
  const started = Promise.resolve(listener);
  return {
    plugin: { requestDidStart: () => started },
    hideSuggestions: opts.hideSuggestions,
    check: opts.check,
    directOperation: (schema, source, operationName) => {
      const document = documents.peek(source);
      const operation = document && getOperationAST(document, operationName);
      if (!operation || operation.operation === 'subscription' || validated.errors(schema, document).length) return undefined;
      return { document, operation };
    },
  };
}

/** Validation errors of a document, those of inline values with the path of the value in its argument. */
function literalPathErrors(validated: ValidatedDocuments, schema: GraphQLSchema, document: DocumentNode): readonly GraphQLError[] {
  return withLiteralPaths(document, validated.errors(schema, document));
}

/**
 * A GET request's variables read again as a POST body's are (lossless-json.ts): Apollo reads the
 * search parameter with JSON.parse, which rounds an integer beyond 2^53 (9007199254740993 becomes
 * 9007199254740992, a Float variable then names another value) and reads 1e400 as Infinity.
 */
function exactSearchVariables(request: GraphQLRequest): void {
  const text = new URLSearchParams(request.http!.search).get('variables');
  if (text === null) return;
  try {
    request.variables = parseJson(text) as Record<string, unknown>;
  } catch (err) {
    throw refusal(new ApiError('BAD_REQUEST', `the variables search parameter is not valid JSON: ${withPlace(text, err as Error).message}`, { reason: 'BadRequest' }));
  }
}

/** The promise of every hook that is done: the same settled one each time. */
const done = Promise.resolve();

/**
 * A listener's hook from its synchronous body. Apollo awaits what each hook returns; an async
 * function would make a new promise each call, and one more tick to settle it. What the body
 * throws is still a rejected promise, as from an async function: Apollo then still calls the
 * same hook of every other listener before it answers with the error.
 */
function hook<T>(body: (rc: T) => void): (rc: T) => Promise<void> {
  return (rc) => {
    try {
      body(rc);
      return done;
    } catch (err) {
      return Promise.reject(err);
    }
  };
}

/** A validation error as Apollo Server reports one: GRAPHQL_VALIDATION_FAILED, HTTP 400. */
function validationError(e: GraphQLError): GraphQLError {
  return new GraphQLError(e.message, {
    nodes: e.nodes,
    originalError: e.originalError ?? e,
    extensions: { http: { status: 400, headers: new HeaderMap() }, ...e.extensions, code: 'GRAPHQL_VALIDATION_FAILED' },
  });
}

/** What Apollo Server does to an error before it goes out: its code, no HTTP details, then formatError. */
function format(e: GraphQLError, formatError: PipelineOptions['formatError']): GraphQLFormattedError {
  const { http: _, ...extensions } = e.extensions;
  return formatError({ ...e.toJSON(), extensions }, e);
}

/** A refusal from the catalog, answered with its HTTP status. */
export function refusal(e: ApiError): GraphQLError {
  return new GraphQLError(e.message, { originalError: e, extensions: { ...e.extensions, http: { status: e.httpStatus, headers: new HeaderMap() } } });
}


/**
 * Apollo Server behind Express (what @as-integrations/express5 does, without its legacy URL
 * parsing and without Express' res.send, which hashes every answer for an ETag no GraphQL client
 * uses), for a server made by newApollo: this handler prevents CSRF (Apollo's own check is off) and
 * writes the newline after the JSON (answerText). The context is tied to the response, for the
 * outcome notes. With a direct path (direct-execution.ts), the requests it takes skip Apollo's
 * request pipeline, and those it executed with errors reach Apollo with their outcome.
 */
export function apolloHandler(apollo: ApolloServer<BaseContext>, context: (req: Request, res: Response) => Promise<BaseContext> | BaseContext, direct?: DirectPath): RequestHandler {
  return async (req, res) => {
    const contextOf = () => {
      const value = context(req, res);
      return isThenable(value) ? Promise.resolve(value).then((v) => answeredOn(v, res)) : answeredOn(value, res);
    };
    const outcome = direct ? await direct(req, res, contextOf) : undefined;
    if (outcome === true) return;
    const headers = new HeaderMap();
    for (const key in req.headers) {
      const value = req.headers[key];
      if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(', ') : value);
    }
    const query = req.url.indexOf('?');
    // HEAD is GET without the body (RFC 9110): the same checks, status and headers; Node's
    // response writes no body for a HEAD request. Apollo itself answers 405 to anything but GET and POST.
    const method = req.method === 'HEAD' ? 'GET' : req.method.toUpperCase();
    const response = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method, headers, search: query < 0 ? '' : req.url.slice(query), body: req.body },
      context: () => {
        if (outcome) return 'context' in outcome ? Promise.resolve(outcome.context) : Promise.reject(outcome.contextError);
        // Apollo's CSRF prevention, which it would run just before this (csrf-prevention.ts): a
        // refusal thrown here is answered by Apollo as its own (status, content type, formatError),
        // only its plugins see it in contextCreationDidFail rather than invalidRequestWasReceived.
        const refused = csrfRefusal(req.headers);
        if (refused) throw refused;
        return Promise.resolve(contextOf());
      },
    });
    for (const [key, value] of response.headers) res.setHeader(key, value);
    res.statusCode = response.status ?? 200;
    if (response.body.kind === 'complete') {
      const answer = answerToWrite(response.body.string);
      // Node computes the length of a body it writes, and writes none for a HEAD request: a HEAD
      // answer states the length its GET's body would have.
      if (req.method === 'HEAD') res.setHeader('Content-Length', Buffer.byteLength(answer));
      res.end(answer);
      return;
    }
    for await (const chunk of response.body.asyncIterator) res.write(chunk);
    res.end();
  };
}

/**
 * Apollo Server's stringifyResult for servers answered by apolloHandler: the JSON text without the
 * newline Apollo's own default puts after it, which apolloHandler writes (answerToWrite). Appended
 * here, the newline would make the answer a string of two parts, and writing it (as a string or
 * as bytes) would first copy the whole answer into one: a list of 500 objects, ~150 KiB more
 * allocated per request. Big integers are JSON numbers with every digit (stringifyJson), the
 * only difference from Apollo's default besides where the newline is added.
 */
export function answerText(value: unknown): string {
  return stringifyJson(value);
}

/** From this length on, an answer is written as bytes (see answerToWrite). */
const largeBody = 16 * 1024;

/**
 * An answer of answerText as written: the text and a newline, as Apollo Server writes its
 * answers. A small answer is written as one string (Node.js joins it to the response head and
 * writes both at once). A large one is encoded once into a buffer with the newline: as a string,
 * Node.js would copy it into the heap twice more (measuring its bytes for Content-Length, joining
 * it to the head); the response's bytes and headers are the same.
 */
export function answerToWrite(text: string): string | Buffer {
  if (text.length < largeBody) return `${text}\n`;
  const length = Buffer.byteLength(text, 'utf8');
  const bytes = Buffer.allocUnsafe(length + 1);
  bytes.write(text, 0, 'utf8');
  bytes[length] = 0x0a;
  return bytes;
}

/** Whether a value is a promise (or any thenable) rather than the value itself. */
export function isThenable<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as PromiseLike<T> | null)?.then === 'function';
}
