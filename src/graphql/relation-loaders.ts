// One set of DataLoaders per request: the relation fields of every object resolved in one pass of
// the execution (one hop) are gathered into one call of the relation operations. The loaders are
// keyed by the GraphQL context, which each HTTP request and each subscription gets afresh, so
// nothing is ever shared between callers. They batch and do not cache: a subscription's context
// lives for many events, and each event must read the relations as they are then.
import DataLoader from 'dataloader';
import { GraphQLError } from 'graphql';
import { ApiError } from '../api-errors.ts';
import type { KubeObject } from '../contract/operations.ts';
import type { ObjectRef, OwnerLookup, RelationAnswer, RelationOperations } from '../contract/relations.ts';

/** An answer of the operations, or the error of a whole batch (a catalog error, or a GraphQL error with its code). */
export type Answer<T> = RelationAnswer<T> | { readonly ok: false; readonly error: GraphQLError };

export class RequestLoaders {
  readonly owners: DataLoader<OwnerLookup, Answer<KubeObject>>;
  private readonly childLoaders = new Map<string, DataLoader<ObjectRef, Answer<readonly KubeObject[]>>>();
  private readonly eventLoaders = new Map<string, DataLoader<ObjectRef, Answer<readonly KubeObject[]>>>();
  private readonly operations: RelationOperations;
  private readonly context: unknown;

  constructor(operations: RelationOperations, context: unknown) {
    this.operations = operations;
    this.context = context;
    this.owners = loader((lookups) => operations.owners({ args: { lookups }, context }));
  }

  children(kind: string, apiVersion: string | undefined, limit: number | undefined): DataLoader<ObjectRef, Answer<readonly KubeObject[]>> {
    const key = JSON.stringify([kind, apiVersion, limit]);
    let l = this.childLoaders.get(key);
    if (!l) {
      const args = { kind, ...(apiVersion !== undefined ? { apiVersion } : {}), ...(limit !== undefined ? { limit } : {}) };
      this.childLoaders.set(key, (l = loader((parents) => this.operations.children({ args: { ...args, parents }, context: this.context }))));
    }
    return l;
  }

  events(limit: number | undefined, since: string | undefined): DataLoader<ObjectRef, Answer<readonly KubeObject[]>> {
    const key = JSON.stringify([limit, since]);
    let l = this.eventLoaders.get(key);
    if (!l) {
      const args = { ...(limit !== undefined ? { limit } : {}), ...(since !== undefined ? { since } : {}) };
      this.eventLoaders.set(key, (l = loader((parents) => this.operations.events({ args: { ...args, parents }, context: this.context }))));
    }
    return l;
  }
}

/**
 * A batching loader whose batch never rejects as a whole: when the operation itself fails (a
 * budget refusal, say), every entry gets that error, so it lands on each relation field and the
 * objects around them stay.
 */
function loader<K, V>(batch: (keys: K[]) => Promise<readonly Answer<V>[]>): DataLoader<K, Answer<V>> {
  return new DataLoader<K, Answer<V>>(async (keys) => {
    try {
      return await batch([...keys]);
    } catch (err) {
      const error = err instanceof ApiError || err instanceof GraphQLError ? err : new ApiError('INTERNAL', 'internal error', {}, { cause: err });
      return keys.map((): Answer<V> => ({ ok: false, error }) as Answer<V>);
    }
  }, { cache: false });
}

const perContext = new WeakMap<RelationOperations, WeakMap<object, RequestLoaders>>();

/** The loaders of the request (or subscription) a resolver runs for. */
export function loadersOf(operations: RelationOperations, context: unknown): RequestLoaders {
  // Without a context object there is nothing to tie a batch to: each field gets its own loaders.
  if (typeof context !== 'object' || context === null) return new RequestLoaders(operations, context);
  let byContext = perContext.get(operations);
  if (!byContext) perContext.set(operations, (byContext = new WeakMap()));
  let loaders = byContext.get(context);
  if (!loaders) byContext.set(context, (loaders = new RequestLoaders(operations, context)));
  return loaders;
}
