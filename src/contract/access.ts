// The vocabulary of "who may do what" shared by the layers that ask (the schema pruning of the
// GraphQL builders, the service's partitioned lists) and the one that answers (auth, from
// Kubernetes RBAC).

export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection';

export interface ResourceRef {
  group: string;
  plural: string;
  namespaced: boolean;
}
