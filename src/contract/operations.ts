// The boundary between the GraphQL schema and whatever talks to Kubernetes. The schema builder
// turns every root field into exactly one call here, with arguments already converted to
// Kubernetes names and shapes; implementations return Kubernetes JSON.

import type { ResourceModel, VersionModel } from '../model/resource-model.ts';
import type { Feed } from '../streams/feed.ts';
import type { Condition, OrderTerm } from '../model/query-filter.ts';
import type { RelationOperations } from './relations.ts';

export type KubeObject = Record<string, unknown>;

export interface KubeList {
  readonly metadata?: {
    readonly continue?: string;
    readonly resourceVersion?: string;
    readonly remainingItemCount?: number | bigint;
    /** Filtered and sorted lists: every object that matches, on all pages. */
    readonly totalCount?: number;
  };
  readonly items: readonly KubeObject[];
  /** Filtered and sorted lists: a cursor for each item (resume after it). */
  readonly cursors?: readonly string[];
}

/** A Kubernetes watch event as the API server streams it. */
export interface KubeWatchEvent {
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  readonly object: KubeObject;
  /**
   * Where the event stands in the stream, when it differs from the object's own
   * resourceVersion (events synthesized after a relist stand at the list's resourceVersion).
   */
  readonly resourceVersion?: string;
}

/**
 * A watch's events, pushed in order into the sink the reader starts it with, which reports the
 * bytes its connection holds unsent (flow control: see src/streams/feed.ts). The reader's
 * connection is written as each event arrives, and the feed ends with an error the reader shows
 * (GONE, SLOW_CONSUMER, FORBIDDEN, SCHEMA_CHANGED...).
 */
export type WatchFeed = Feed<KubeWatchEvent>;

export interface OperationRequest<Args, Context = unknown> {
  readonly resource: ResourceModel;
  readonly version: VersionModel;
  /** Absent for cluster-scoped resources, and for list/watch across all namespaces. */
  readonly namespace?: string;
  readonly name?: string;
  readonly args: Args;
  readonly context: Context;
}

/** `dryRun: 'All'` is the only value Kubernetes defines. */
export interface DryRunArgs {
  readonly dryRun?: 'All';
}

export interface ListArgs {
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  readonly limit?: number;
  readonly continue?: string;
  readonly resourceVersion?: string;
  readonly resourceVersionMatch?: 'NotOlderThan' | 'Exact';
  /** Only objects that satisfy this (Kubernetes property names); see src/model/query-filter.ts. */
  readonly where?: Condition;
  /** Sort order; ties are broken by namespace and name. */
  readonly orderBy?: readonly OrderTerm[];
  /**
   * CACHED: answered from the gateway's shared cache (the default with where or orderBy);
   * STRONG: read from the apiserver as the caller (the default otherwise).
   */
  readonly consistency?: ListConsistency;
}

export type ListConsistency = 'CACHED' | 'STRONG';

/** What Kubernetes does with unknown or duplicate fields in a write (its fieldValidation parameter). */
export type FieldValidation = 'Ignore' | 'Warn' | 'Strict';

export interface WriteArgs extends DryRunArgs {
  /** The whole object, Kubernetes JSON; apiVersion, kind, metadata.name/namespace filled in. */
  readonly body: KubeObject;
  readonly fieldManager?: string;
  readonly fieldValidation?: FieldValidation;
}

export const PATCH_CONTENT_TYPES = {
  MERGE: 'application/merge-patch+json',
  JSON: 'application/json-patch+json',
  APPLY: 'application/apply-patch+yaml',
  STRATEGIC: 'application/strategic-merge-patch+json',
} as const;

export type PatchContentType = (typeof PATCH_CONTENT_TYPES)[keyof typeof PATCH_CONTENT_TYPES];

export interface PatchArgs extends DryRunArgs {
  readonly patchType: PatchContentType;
  /** A merge patch or apply configuration (object), or a JSON patch (list of operations). */
  readonly patch: KubeObject | readonly JsonPatchOperation[];
  readonly fieldManager?: string;
  readonly fieldValidation?: FieldValidation;
  readonly force?: boolean;
  /** A patch of the status or scale subresource instead of the object (RBAC asks for patch on it, as kubectl's). */
  readonly subresource?: 'status' | 'scale';
}

export interface JsonPatchOperation {
  readonly op: 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test';
  readonly path: string;
  readonly value?: unknown;
  readonly from?: string;
}

export interface ScaleArgs extends DryRunArgs {
  /** An autoscaling/v1 Scale with metadata.name/namespace, spec.replicas and optionally resourceVersion. */
  readonly body: KubeObject;
}

export interface DeleteArgs extends DryRunArgs {
  readonly propagationPolicy?: 'Orphan' | 'Background' | 'Foreground';
  readonly gracePeriodSeconds?: number | bigint;
  readonly preconditions?: { readonly uid?: string; readonly resourceVersion?: string };
}

export interface DeleteCollectionArgs extends DeleteArgs {
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
}

export interface WatchArgs {
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  readonly resourceVersion?: string;
  /** Ask for the current objects first, ended by a bookmark annotated k8s.io/initial-events-end. */
  readonly sendInitialEvents?: boolean;
  /**
   * NotOlderThan, with sendInitialEvents: the resourceVersion is the oldest the initial state may
   * be (Kubernetes' meaning). Without it, a resourceVersion resumes and sendInitialEvents is moot.
   */
  readonly resourceVersionMatch?: 'NotOlderThan';
  readonly allowWatchBookmarks?: boolean;
  /** How long the apiserver keeps the watch open before it ends it normally (Kubernetes timeoutSeconds). */
  readonly timeoutSeconds?: number;
  /**
   * The GraphQL object types of other resources' versions whose fields the subscriber's selection
   * reads (through the relation fields owners and children): a change to one of those versions'
   * API ends the watch with SCHEMA_CHANGED, as a change to its own version does.
   */
  readonly relatedTypes?: readonly string[];
  /**
   * Those types themselves (GraphQL object types, opaque here), as the schema the subscription
   * was validated against has them: one that a change replaced before the watch reached the watch
   * hub ends it with SCHEMA_CHANGED at once.
   */
  readonly relatedTypesAs?: readonly object[];
}

type Req<Args, Context> = OperationRequest<Args, Context>;

/**
 * One method per Kubernetes operation on the objects of one resource. Errors should be
 * GraphQLErrors with a stable extensions.code; returning null from get means "not found".
 */
export interface ObjectOperations<Context = unknown> {
  get(request: Req<Record<string, never>, Context>): Promise<KubeObject | null>;
  list(request: Req<ListArgs, Context>): Promise<KubeList>;
  create(request: Req<WriteArgs, Context>): Promise<KubeObject>;
  replace(request: Req<WriteArgs, Context>): Promise<KubeObject>;
  patch(request: Req<PatchArgs, Context>): Promise<KubeObject>;
  updateStatus(request: Req<WriteArgs, Context>): Promise<KubeObject>;
  getScale(request: Req<Record<string, never>, Context>): Promise<KubeObject>;
  updateScale(request: Req<ScaleArgs, Context>): Promise<KubeObject>;
  /** Returns the deleted object (or the object pending finalizers), or a Kubernetes Status. */
  delete(request: Req<DeleteArgs, Context>): Promise<KubeObject>;
  /** Returns the list of deleted objects, or a Kubernetes Status. */
  deleteCollection(request: Req<DeleteCollectionArgs, Context>): Promise<KubeObject>;
  watch(request: Req<WatchArgs, Context>): Promise<WatchFeed>;
}

/** Everything the builders call: the operations on objects, and the relations between them (relations.ts). */
export interface ResourceOperations<Context = unknown> extends ObjectOperations<Context>, RelationOperations<Context> {}

export type OperationName = keyof ResourceOperations;
