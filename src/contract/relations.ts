// The relations of an object: its owners (metadata.ownerReferences), its children (objects whose
// ownerReferences name it) and its Events. Each operation takes a batch (the objects of one hop of
// one request), so an implementation can answer N objects with one Kubernetes call per kind and
// namespace, and every wrapper (budgets, metrics, traces) sees one operation per batch.
import type { ApiError } from '../api-errors.ts';
import type { KubeObject } from './operations.ts';

/** The object a relation starts from, as Kubernetes reported it. */
export interface ObjectRef {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  /** Absent for cluster-scoped objects. */
  readonly namespace?: string;
  readonly uid: string;
}

/** One entry of metadata.ownerReferences. */
export interface OwnerReference {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly uid: string;
}

/** An owner to find: the reference, and the namespace of the object that holds it. */
export interface OwnerLookup {
  readonly reference: OwnerReference;
  /** The dependent's namespace: a namespaced owner lives in the same one. Absent: cluster-scoped dependent. */
  readonly namespace?: string;
}

/** What one entry of a batch came to: a value, or the catalog error that explains its absence. */
export type RelationAnswer<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: ApiError };

export interface OwnersArgs {
  readonly lookups: readonly OwnerLookup[];
}

export interface ChildrenArgs {
  readonly parents: readonly ObjectRef[];
  /** The children's kind, as in their apiVersion/kind. */
  readonly kind: string;
  /** group/version or v1 for the core group; absent: the version the cluster prefers for the kind. */
  readonly apiVersion?: string;
  /** At most this many children per parent. */
  readonly limit?: number;
}

export interface EventsArgs {
  readonly parents: readonly ObjectRef[];
  /** At most this many Events per parent (the newest). */
  readonly limit?: number;
  /** Only Events last seen at or after this RFC 3339 time. */
  readonly since?: string;
}

export interface RelationRequest<Args, Context = unknown> {
  readonly args: Args;
  readonly context: Context;
}

export interface RelationOperations<Context = unknown> {
  /** One answer per lookup, in order: the owner, or NOT_FOUND (gone, unknown kind), FORBIDDEN, ... */
  owners(request: RelationRequest<OwnersArgs, Context>): Promise<readonly RelationAnswer<KubeObject>[]>;
  /** One answer per parent, in order: the objects of the kind that name the parent's uid as an owner. */
  children(request: RelationRequest<ChildrenArgs, Context>): Promise<readonly RelationAnswer<readonly KubeObject[]>[]>;
  /** One answer per parent, in order: its core/v1 Events, newest first. */
  events(request: RelationRequest<EventsArgs, Context>): Promise<readonly RelationAnswer<readonly KubeObject[]>[]>;
}
