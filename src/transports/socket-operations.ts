// The record of one GraphQL operation sent over WebSocket (a subscribe message), in the same shape
// as an HTTP request's (RequestRecord, method 'WS'), so that request logs and metrics count the
// queries, mutations and subscriptions of sockets, and their refusals, as they count HTTP ones.
// Its outcome is known when a query or mutation has its answer, when a subscription has started
// (its events are counted by the watch hub's metrics), or when the operation is refused.
import { GraphQLError, getOperationAST, type DocumentNode, type OperationDefinitionNode } from 'graphql';
import { ApiError, isInternalError, unwrapError } from '../api-errors.ts';
import type { OperationType, RequestRecord } from '../plugins/request-tracker.ts';

export class SocketOperation implements RequestRecord {
  readonly method = 'WS';
  readonly path: string;
  readonly requestId: string;
  readonly tenant: string | undefined;
  readonly aborted = false;
  /** performance.now() when the subscribe message came in. */
  private readonly started: number;
  /** 'unknown' until the document is read, as for an HTTP request refused before it is. */
  type: OperationType = 'unknown';
  operationName: string | undefined = undefined;
  code = '';
  status = 0;
  durationMs = 0;

  constructor(path: string, requestId: string, tenant: string | undefined) {
    this.path = path;
    this.requestId = requestId;
    this.tenant = tenant;
    this.started = performance.now();
  }

  /** Notes the operation the document selects ('invalid': none), as HTTP requests note theirs, and returns it. */
  selects(document: DocumentNode, operationName: string | null | undefined): OperationDefinitionNode | undefined {
    const operation = getOperationAST(document, operationName) ?? undefined;
    this.type = operation?.operation ?? 'invalid';
    this.operationName = operation?.name?.value ?? operationName ?? undefined;
    return operation;
  }

  /** Completes the record with the outcome of `errors` (none: 'ok'). */
  finish(errors: readonly GraphQLError[] | undefined): this {
    const outcome = errors?.length ? outcomeOf(errors[0]!) : ok;
    this.code = outcome.code;
    this.status = outcome.status;
    this.durationMs = performance.now() - this.started;
    return this;
  }
}

const ok = { code: 'ok', status: 200 };

/**
 * The code and HTTP status of the first error of an answer: the catalog's for an ApiError, INTERNAL
 * for an error that escaped the catalog, else the code the GraphQL error carries (the transport
 * gives parse, validation and operation-selection errors Apollo's codes). One without a code is a
 * variable's value that did not coerce: Apollo's BAD_USER_INPUT over HTTP.
 */
function outcomeOf(e: GraphQLError): { code: string; status: number } {
  const inner = unwrapError(e);
  if (inner instanceof ApiError) return { code: inner.code, status: inner.httpStatus };
  if (isInternalError(inner)) return { code: 'INTERNAL', status: 500 };
  const code = e.extensions.code;
  return { code: typeof code === 'string' ? code : 'BAD_USER_INPUT', status: 400 };
}

/** An error of the GraphQL request itself (parse, validation, operation selection) with Apollo's code for it. */
export function withCode(e: GraphQLError, code: string): GraphQLError {
  if (typeof e.extensions.code === 'string' || unwrapError(e) instanceof ApiError) return e;
  return new GraphQLError(e.message, { nodes: e.nodes, source: e.source, positions: e.positions, path: e.path, originalError: e.originalError, extensions: { ...e.extensions, code } });
}

/**
 * The error for a document from which no operation can be chosen, with Apollo's code and wording
 * (graphql-ws would answer "Unable to identify operation", with no code).
 */
export function operationResolutionError(document: DocumentNode, operationName: string | null | undefined): GraphQLError {
  const message = operationName
    ? `Unknown operation named "${operationName}".`
    : document.definitions.some((d) => d.kind === 'OperationDefinition')
      ? 'Must provide operation name if query contains multiple operations.'
      : 'Must provide an operation.';
  return new GraphQLError(message, { extensions: { code: 'OPERATION_RESOLUTION_FAILURE' } });
}
