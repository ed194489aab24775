// The operations of WebSocket connections between their acceptance and their outcome, and the
// subscriptions among them until they end: each is found by its arguments, which graphql-ws hands
// on to execute, subscribe and onOperation (a client may complete an operation and send another
// with its id). Runs it in the plugins' scope; an operation that throws fails alone, as over HTTP
// (graphql-ws would close the connection, 4500, with every other operation on it); completes its
// record; keeps a subscription's stream with its connection until it ends, and tells its end.
import { GraphQLError, type ExecutionArgs, type ExecutionResult } from 'graphql';
import { ApiError, toGraphQLError } from '../api-errors.ts';
import type { SocketOperationScope } from '../plugins/gateway-plugin.ts';
import type { RequestRecord, SubscriptionEndRecord } from '../plugins/request-tracker.ts';
import { ObservedStream, withInputCodes, type SocketOperation, type StreamEnds } from './socket-operations.ts';

/** What a connection keeps of its operations. */
export interface ConnectionRuns {
  /** The subscriptions that started and have not ended (graphql-ws may lose track of one). */
  streams?: Set<ObservedStream<Accepted>>;
}

/** An operation accepted and not yet answered (or started): its record, what the plugins do around it, its connection. */
export interface Accepted {
  operation: SocketOperation;
  scope: SocketOperationScope | undefined;
  connection: ConnectionRuns;
  /** Closes the connection so that its client comes back later (1013), with why, when nothing else is open on it. */
  tryLater?: (reason: string) => void;
}

/**
 * A subscription refused for now: over a budget of its tenant (its open watches, held for up to
 * 30 s by a replica that died; its Kubernetes calls in flight) or the apiserver's own (API Priority
 * and Fairness), or its budgets' shared state unreachable.
 */
function refusedForNow(result: ExecutionResult): string | undefined {
  const error = result.errors?.[0];
  const e = error?.extensions;
  const forNow = e?.['code'] === 'TOO_MANY_REQUESTS' || (e?.['code'] === 'UNAVAILABLE' && e['reason'] === 'SharedStateUnavailable');
  return forNow ? closeReason(`try again later: ${error!.message}`) : undefined;
}

/** A WebSocket close reason holds at most 123 bytes of UTF-8: a longer text is cut, with "…". */
export function closeReason(text: string): string {
  if (Buffer.byteLength(text) <= 123) return text;
  let reason = '';
  let bytes = 0;
  for (const ch of text) {
    bytes += Buffer.byteLength(ch);
    if (bytes > 120) break;
    reason += ch;
  }
  return `${reason}…`;
}

export interface RunsHooks {
  onOperationDone?: (record: RequestRecord) => void;
  onSubscriptionEnd?: (record: SubscriptionEndRecord) => void;
  reportInternal?: (err: unknown, requestId: string | undefined) => void;
}

export class OperationRuns {
  private readonly accepted = new WeakMap<ExecutionArgs, Accepted>();
  /** Results of operations that threw (Apollo Server answers 500 for those). */
  private readonly threw = new WeakSet<object>();
  private readonly hooks: RunsHooks;
  private readonly ends: StreamEnds<Accepted>;
  /** Set when the server closes every connection (shutdown). */
  closing = false;

  constructor(hooks: RunsHooks) {
    this.hooks = hooks;
    this.ends = {
      ended: (found, stream, error, cancelled) => {
        found.connection.streams?.delete(stream);
        // The gateway's shutdown closes every connection (1001), which is what their clients see,
        // whatever the hub's stop tells the streams in the same turn.
        hooks.onSubscriptionEnd?.(this.closing ? found.operation.ended(undefined, true) : found.operation.ended(error, cancelled));
      },
      failed: (found, err) => hooks.reportInternal?.(err, found.operation.requestId),
    };
  }

  accept(args: ExecutionArgs, found: Accepted): void {
    this.accepted.set(args, found);
  }

  /** Runs the operation of `args` (execute or subscribe) in its scope; a throw becomes its error result. */
  async run<R>(args: ExecutionArgs, fn: () => R | Promise<R>): Promise<R | ExecutionResult> {
    const found = this.accepted.get(args);
    const scope = found?.scope;
    try {
      const result = withInputCodes(await (scope ? scope.run(fn) : fn()));
      if (found && Symbol.asyncIterator in (result as object)) return this.started(found, result as AsyncIterable<unknown>) as R;
      if (found) this.tryLaterIfAlone(found, result as ExecutionResult);
      return result;
    } catch (err) {
      const failed = { errors: [err instanceof ApiError ? toGraphQLError(err) : new GraphQLError('internal error', { originalError: err instanceof Error ? err : new Error(String(err)) })] };
      this.threw.add(failed);
      return failed;
    }
  }

  /** The operation of `args` has its outcome (graphql-ws' onOperation); `left`: its client completed it or left. */
  outcome(args: ExecutionArgs, result: unknown, left: boolean): void {
    const found = this.accepted.get(args);
    if (!found) return;
    this.accepted.delete(args);
    const { operation, scope } = found;
    const answer = Symbol.asyncIterator in (result as object) ? undefined : result as ExecutionResult;
    // Completed first: an optional call would not evaluate its argument without a reader.
    operation.finish(answer?.errors, { data: answer?.data !== undefined, threw: answer !== undefined && this.threw.has(answer) }, left);
    this.hooks.onOperationDone?.(operation);
    scope?.done(operation.code);
  }

  /**
   * A subscription refused for now (a client resubscribing after a replica went away) closes its
   * connection with 1013 when nothing else is open on it, after which graphql-ws' client
   * reconnects and subscribes again; an error message would end the subscription for good. With
   * other operations on the connection, closing would cut them: the error message stands.
   */
  private tryLaterIfAlone(found: Accepted, result: ExecutionResult): void {
    const reason = found.operation.type === 'subscription' ? refusedForNow(result) : undefined;
    if (reason) found.tryLater?.(reason);
  }

  /** Ends every stream the connection still has: none outlives its connection. */
  closed(connection: ConnectionRuns): void {
    for (const stream of connection.streams ?? []) {
      stream.return().catch((err: unknown) => this.hooks.reportInternal?.(err, stream.context.operation.requestId));
    }
  }

  private started(found: Accepted, result: AsyncIterable<unknown>): AsyncIterableIterator<unknown> {
    const stream = new ObservedStream(result, this.ends, found);
    (found.connection.streams ??= new Set()).add(stream);
    return stream;
  }
}
