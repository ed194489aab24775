// The record of one GraphQL operation sent over WebSocket (a subscribe message), in the same shape
// as an HTTP request's (RequestRecord, method 'WS'), so that request logs and metrics count the
// queries, mutations and subscriptions of sockets, and their refusals, as they count HTTP ones.
// Its outcome is known when a query or mutation has its answer, when a subscription has started
// (its events are counted by the watch hub's metrics), or when the operation is refused.
import { createHash, randomUUID } from 'node:crypto';
import { GraphQLError, getOperationAST, Kind, type DocumentNode, type ExecutionResult, type GraphQLFormattedError, type OperationDefinitionNode } from 'graphql';
import { ApiError, isInternalError, unwrapError } from '../api-errors.ts';
import type { OperationType, RequestRecord, SubscriptionEndRecord } from '../plugins/request-tracker.ts';

export class SocketOperation implements RequestRecord {
  readonly method = 'WS';
  readonly path: string;
  readonly requestId: string;
  readonly tenant: string | undefined;
  /** performance.now() when the subscribe message came in. */
  private readonly started: number;
  /** 'unknown' until the document is read, as for an HTTP request refused before it is. */
  type: OperationType = 'unknown';
  operationName: string | undefined = undefined;
  code = '';
  status = 0;
  durationMs = 0;
  aborted = false;

  constructor(path: string, requestId: string, tenant: string | undefined) {
    this.path = path;
    this.requestId = requestId;
    this.tenant = tenant;
    this.started = performance.now();
  }

  /** Notes the operation the document selects ('invalid': none) and its own name, as HTTP requests note theirs, and returns it. */
  selects(document: DocumentNode, operationName: string | null | undefined): OperationDefinitionNode | undefined {
    const operation = getOperationAST(document, operationName) ?? undefined;
    this.type = operation?.operation ?? 'invalid';
    this.operationName = operation?.name?.value;
    return operation;
  }

  /**
   * Completes the record with the outcome of a refusal's `errors` (its error's status), or of the
   * `result` of an operation that ran: a query's or mutation's answer has the status Apollo Server
   * gives it over HTTP (200 whatever its errors; 400 when it has no data, its variables did not
   * coerce; 500 when it `threw`), a subscription's failed start its error's, as a REST watch's.
   * One whose client completed it or left before its outcome is `aborted`, CANCELLED if it had no
   * error, as an HTTP request is.
   */
  finish(errors: readonly GraphQLError[] | undefined, ran?: { data: boolean; threw: boolean }, aborted = false): this {
    const outcome = errors?.length ? outcomeOf(errors[0]!) : ok;
    this.code = aborted && outcome === ok ? 'CANCELLED' : outcome.code;
    this.status = !ran || outcome === ok || this.type === 'subscription' ? outcome.status : ran.threw ? 500 : ran.data ? 200 : 400;
    this.aborted = aborted;
    this.durationMs = performance.now() - this.started;
    return this;
  }

  /** The record of this subscription's end: `error` it ended with, or its client completed it or its connection closed (`cancelled`), or its stream ended. */
  ended(error: unknown, cancelled: boolean): SubscriptionEndRecord {
    const inner = unwrapError(error);
    const code = error !== undefined ? (inner instanceof ApiError ? inner.code : 'INTERNAL') : cancelled ? 'CANCELLED' : 'ok';
    return { requestId: this.requestId, tenant: this.tenant, operationName: this.operationName, code, durationMs: performance.now() - this.started };
  }
}

/** Who is told when an observed stream ends, and of what a report of it threw. */
export interface StreamEnds<C> {
  ended(context: C, stream: ObservedStream<C>, error: unknown, cancelled: boolean): void;
  failed(context: C, err: unknown): void;
}

/**
 * A subscription's stream as graphql-ws iterates it, telling `ends` once how it ended: with an
 * error, by return() (its client's `complete`, or its connection closed), or by itself. A pushed
 * subscription is iterated once for its whole life, a mapped one once per event. What a report
 * throws goes to `ends.failed`, never to graphql-ws (the source is ended all the same). One object
 * of one shape per subscription, no closures: it lives as long as the subscription.
 */
export class ObservedStream<C> implements AsyncIterableIterator<unknown> {
  readonly context: C;
  private readonly it: AsyncIterator<unknown>;
  private readonly ends: StreamEnds<C>;
  private over = false;

  constructor(source: AsyncIterable<unknown>, ends: StreamEnds<C>, context: C) {
    this.it = source[Symbol.asyncIterator]();
    this.ends = ends;
    this.context = context;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<unknown>> {
    let result: Promise<IteratorResult<unknown>>;
    try {
      result = this.it.next();
    } catch (err) {
      this.end(err, false);
      return Promise.reject(err);
    }
    return result.then((r) => {
      if (r.done) this.end(undefined, false);
      return r;
    }, (err: unknown) => {
      this.end(err, false);
      throw err;
    });
  }

  // Told at once: a source may end only at its next yield (a generator awaiting something else).
  return(value?: unknown): Promise<IteratorResult<unknown>> {
    this.end(undefined, true);
    try {
      return this.it.return ? this.it.return(value) : Promise.resolve({ done: true, value });
    } catch (err) {
      return Promise.reject(err);
    }
  }

  throw(err?: unknown): Promise<IteratorResult<unknown>> {
    this.end(err, false);
    return this.it.throw ? this.it.throw(err) : Promise.reject(err);
  }

  private end(error: unknown, cancelled: boolean): void {
    if (this.over) return;
    this.over = true;
    try {
      this.ends.ended(this.context, this, error, cancelled);
    } catch (err) {
      this.ends.failed(this.context, err);
    }
  }
}

const ok = { code: 'ok', status: 200 };

/**
 * The code and HTTP status of the first error of an answer: the catalog's for an ApiError, INTERNAL
 * for an error that escaped the catalog, else the code the GraphQL error carries (the transport
 * gives parse, validation, operation-selection and variable errors Apollo's codes).
 */
function outcomeOf(e: GraphQLError): { code: string; status: number } {
  const inner = unwrapError(e);
  if (inner instanceof ApiError) return { code: inner.code, status: inner.httpStatus };
  const code = e.extensions.code;
  if (isInternalError(inner) || typeof code !== 'string') return { code: 'INTERNAL', status: 500 };
  return { code, status: 400 };
}

/**
 * An error of the GraphQL request itself (parse, validation, operation selection, variables) with
 * Apollo's code for it, which replaces any the error had; one of the catalog keeps its own.
 */
export function withCode(e: GraphQLError, code: string): GraphQLError {
  if (unwrapError(e) instanceof ApiError || e.extensions.code === code) return e;
  return new GraphQLError(e.message, { nodes: e.nodes, source: e.source, positions: e.positions, path: e.path, originalError: e.originalError, extensions: { ...e.extensions, code } });
}

/** The result of an operation, its variables' errors with Apollo's BAD_USER_INPUT, as Apollo Server tells them apart. */
export function withInputCodes<R>(result: R): R {
  const r = result as ExecutionResult;
  if (Symbol.asyncIterator in (result as object) || !r.errors?.some(isVariableError)) return result;
  return { ...r, errors: r.errors.map((e) => (isVariableError(e) ? withCode(e, 'BAD_USER_INPUT') : e)) } as R;
}

/** graphql-js' error for a variable's value that does not coerce (Apollo Server's isBadUserInputGraphQLError). */
function isVariableError(e: GraphQLError): boolean {
  const node = e.nodes?.length === 1 ? e.nodes[0] : undefined;
  if (node?.kind !== Kind.VARIABLE_DEFINITION || e.extensions.code !== undefined) return false;
  const head = `Variable "$${node.variable.name.value}" `;
  return ['has invalid value', 'got invalid value ', 'of required type ', 'of non-null type '].some((rest) => e.message.startsWith(head + rest));
}

/**
 * Refusals as the plugins' formatError words them over HTTP (the query limits give some of them
 * the catalog's code and words), kept as GraphQL errors with their locations and causes.
 */
export function formatRefusals(errors: readonly GraphQLError[], formatError?: (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError): readonly GraphQLError[] {
  if (!formatError) return errors;
  return errors.map((e) => {
    const f = formatError(e.toJSON(), e);
    return new GraphQLError(f.message, { nodes: e.nodes, source: e.source, positions: e.positions, path: e.path, originalError: e.originalError, extensions: f.extensions });
  });
}

/**
 * The error for a document from which no operation can be chosen, with Apollo's code and wording
 * (graphql-ws would answer "Unable to identify operation", with no code).
 */
export function operationResolutionError(document: DocumentNode, operationName: string | null | undefined): GraphQLError {
  const message = operationName != null
    ? `Unknown operation named "${operationName}".`
    : document.definitions.some((d) => d.kind === 'OperationDefinition')
      ? 'Must provide operation name if query contains multiple operations.'
      : 'Must provide an operation.';
  return new GraphQLError(message, { extensions: { code: 'OPERATION_RESOLUTION_FAILURE' } });
}

/** Subscription ids that may go into a request id as they are: what an HTTP client's X-Request-Id may hold, within its 128 characters. */
const plainId = /^[\w.:-]{1,91}$/;

/**
 * The request id of one operation: the connection's id and the subscription id, which the
 * client chose; an id with other characters (it goes into logs and the Audit-ID header) or longer
 * is replaced by a digest of it, the same for every message of that subscription.
 */
export function socketRequestId(connectionId: string, id: string): string {
  return `${connectionId}-${plainId.test(id) ? id : createHash('sha256').update(id).digest('hex').slice(0, 16)}`;
}

/**
 * The extension by which a subscribe message nested too deeply (socket-message-order.ts) reaches
 * graphql-ws: random per process, so no client can send it.
 */
export const tooDeepMarker = `crdgate.nested-too-deeply.${randomUUID()}`;
