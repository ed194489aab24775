// The vocabulary of "who may do what" shared by the layers that ask (the schema pruning of the
// GraphQL builders, the service's partitioned lists) and the one that answers (auth, from
// Kubernetes RBAC).

export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection';

export interface ResourceRef {
  group: string;
  plural: string;
  namespaced: boolean;
}

/** What one caller may do, as far as pruning its schema needs to know (auth's PermissionSet answers it). */
export interface AccessRights {
  /** Allowed anywhere: in some namespace, or cluster-wide. */
  anywhere(verb: Verb, ref: ResourceRef, subresource?: string): boolean;
  /** Identical for callers with the same effective rights: such callers share a schema. */
  fingerprint(refs: readonly ResourceRef[]): string;
}
