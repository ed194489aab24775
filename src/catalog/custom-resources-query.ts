// The `customResources` query: what the catalog currently serves, straight from the CRDs.
import { GraphQLEnumType, GraphQLList, GraphQLNonNull, GraphQLObjectType, GraphQLString, type GraphQLFieldConfig } from 'graphql';
import type { CrdObject, CrdSnapshot } from './crd-catalog.ts';

export interface CustomResourceSummary {
  name: string;
  group: string;
  kind: string;
  plural: string;
  singular: string;
  scope: 'Namespaced' | 'Cluster';
  /** The storage version, which is the default version clients get. */
  version: string;
  servedVersions: string[];
  shortNames: string[];
}

export function summarize(crd: CrdObject): CustomResourceSummary {
  const served = crd.spec.versions.filter((v) => v.served).map((v) => v.name);
  const storage = crd.spec.versions.find((v) => v.storage)?.name ?? served[0] ?? '';
  return {
    name: crd.metadata.name,
    group: crd.spec.group,
    kind: crd.spec.names.kind,
    plural: crd.spec.names.plural,
    singular: crd.spec.names.singular || crd.spec.names.kind.toLowerCase(),
    scope: crd.spec.scope,
    version: storage,
    servedVersions: served,
    shortNames: crd.spec.names.shortNames ?? [],
  };
}

const ResourceScope = new GraphQLEnumType({
  name: 'ResourceScope',
  values: { Namespaced: { value: 'Namespaced' }, Cluster: { value: 'Cluster' } },
});

const CustomResource = new GraphQLObjectType<CustomResourceSummary>({
  name: 'CustomResource',
  description: 'A custom resource the gateway serves, from its CustomResourceDefinition.',
  fields: {
    name: { type: new GraphQLNonNull(GraphQLString), description: 'The CRD name, <plural>.<group>.' },
    group: { type: new GraphQLNonNull(GraphQLString) },
    kind: { type: new GraphQLNonNull(GraphQLString) },
    plural: { type: new GraphQLNonNull(GraphQLString) },
    singular: { type: new GraphQLNonNull(GraphQLString) },
    scope: { type: new GraphQLNonNull(ResourceScope) },
    version: { type: new GraphQLNonNull(GraphQLString), description: 'The storage version, served by default.' },
    servedVersions: { type: new GraphQLNonNull(new GraphQLList(new GraphQLNonNull(GraphQLString))) },
    shortNames: { type: new GraphQLNonNull(new GraphQLList(new GraphQLNonNull(GraphQLString))) },
  },
});

export function customResourcesField(snapshot: () => CrdSnapshot | undefined): GraphQLFieldConfig<unknown, unknown> {
  return {
    type: new GraphQLNonNull(new GraphQLList(new GraphQLNonNull(CustomResource))),
    description: 'The custom resources this gateway serves, sorted by CRD name.',
    resolve: () => (snapshot()?.crds ?? []).map(summarize),
  };
}
