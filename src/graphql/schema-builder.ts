// Model snapshot → GraphQLSchema. Pure and incremental: the types and root fields of each CRD
// are cached by the CRD's content hash, so rebuilding after one CRD changes only builds that
// CRD and reassembles the root types.

import { GraphQLList, GraphQLNonNull, GraphQLObjectType, GraphQLSchema } from 'graphql';
import type { GraphQLFieldConfigMap } from 'graphql';
import type { ResourceModel } from '../model/resource-model.ts';
import { compareCodeUnits } from '../model/graphql-names.ts';
import { rootFieldNames } from './graphql-type-names.ts';
import { notImplementedOperations } from './operations.ts';
import type { ResourceOperations } from './operations.ts';
import { buildResourceFields } from './resource-fields.ts';
import type { ResourceFields } from './resource-fields.ts';
import { CUSTOM_SCALARS } from './scalars.ts';
import { ResourceInfoType } from './shared-types.ts';

export interface SchemaBuilderOptions {
  /** What the resolvers call; defaults to operations that fail with NOT_IMPLEMENTED. */
  readonly operations?: ResourceOperations<any>;
  /**
   * Skip graphql-js's own schema validation when the schema is first used. The builder only
   * produces valid schemas (the unit and corpus tests check it with validateSchema); at
   * thousands of CRDs the validation pass costs more than the build.
   */
  readonly assumeValid?: boolean;
}

/** A CRD left out of the schema, and why. */
export interface SchemaBuildProblem {
  readonly crdName: string;
  readonly message: string;
}

export interface SchemaBuildResult {
  readonly schema: GraphQLSchema;
  /** The models that made it into the schema, sorted by CRD name. */
  readonly resources: readonly ResourceModel[];
  readonly problems: readonly SchemaBuildProblem[];
}

export interface SchemaBuilder {
  build(models: readonly ResourceModel[]): SchemaBuildResult;
  /** Number of CRDs whose types are cached (those of the last build). */
  readonly cacheSize: number;
}

interface Fragment {
  readonly model: ResourceModel;
  readonly fields: ResourceFields;
  readonly rootFields: readonly string[];
}

export function createSchemaBuilder(options: SchemaBuilderOptions = {}): SchemaBuilder {
  const operations = options.operations ?? notImplementedOperations;
  let cache = new Map<string, Fragment>();

  return {
    get cacheSize() {
      return cache.size;
    },
    build(models) {
      const next = new Map<string, Fragment>();
      const problems: SchemaBuildProblem[] = [];
      const fragments: Fragment[] = [];
      const claimedKinds = new Map<string, string>();
      const claimedFields = new Map<string, string>();

      // Conflicts can only come from CRDs the API server itself would refuse (same group and
      // kind, or kinds that differ only in a leading acronym's case); the one created first
      // keeps its names, like Kubernetes' NamesAccepted condition decides.
      for (const model of [...models].sort(byAge)) {
        const previous = next.get(model.contentHash);
        if (previous && previous.model.crdName === model.crdName) {
          problems.push({ crdName: model.crdName, message: 'listed twice in the snapshot; the copy is ignored' });
          continue;
        }
        const kindProblem = kindConflict(model, claimedKinds);
        if (kindProblem) {
          problems.push({ crdName: model.crdName, message: kindProblem });
          continue;
        }
        let fragment = cache.get(model.contentHash);
        if (!fragment || fragment.model.crdName !== model.crdName) {
          const fields = buildResourceFields(model, operations);
          fragment = {
            model,
            fields,
            rootFields: [
              ...Object.keys(fields.query).map((f) => `Query.${f}`),
              ...Object.keys(fields.mutation).map((f) => `Mutation.${f}`),
              ...Object.keys(fields.subscription).map((f) => `Subscription.${f}`),
            ],
          };
        }
        const taken = fragment.rootFields.find((field) => claimedFields.has(field));
        if (taken !== undefined) {
          problems.push({ crdName: model.crdName, message: `its root field ${taken} is already used by CRD ${claimedFields.get(taken)}` });
          continue;
        }
        for (const key of [`${model.group}/${model.kind}`, `${model.group}/${model.listKind}`]) claimedKinds.set(key, model.crdName);
        for (const field of fragment.rootFields) claimedFields.set(field, model.crdName);
        next.set(model.contentHash, fragment);
        fragments.push(fragment);
      }
      cache = next;
      fragments.sort((a, b) => compareCodeUnits(a.model.crdName, b.model.crdName));
      return {
        schema: assemble(fragments, options.assumeValid === true),
        resources: fragments.map((f) => f.model),
        problems,
      };
    },
  };
}

/** One-shot build without a cache. */
export function buildGraphQLSchema(models: readonly ResourceModel[], options: SchemaBuilderOptions = {}): SchemaBuildResult {
  return createSchemaBuilder(options).build(models);
}

function byAge(a: ResourceModel, b: ResourceModel): number {
  const ta = a.creationTimestamp ?? '';
  const tb = b.creationTimestamp ?? '';
  if (ta !== tb) return ta === '' ? 1 : tb === '' ? -1 : compareCodeUnits(ta, tb);
  return compareCodeUnits(a.crdName, b.crdName);
}

function kindConflict(model: ResourceModel, claimed: ReadonlyMap<string, string>): string | undefined {
  for (const kind of [model.kind, model.listKind]) {
    const owner = claimed.get(`${model.group}/${kind}`);
    if (owner !== undefined) {
      return owner === model.crdName
        ? `CRD ${model.crdName} is listed twice with different content; only the first is used`
        : `kind ${kind} of group ${model.group} is already served by CRD ${owner}`;
    }
  }
  return undefined;
}

function assemble(fragments: readonly Fragment[], assumeValid: boolean): GraphQLSchema {
  const query: GraphQLFieldConfigMap<unknown, unknown> = {
    apiResources: {
      type: new GraphQLNonNull(new GraphQLList(new GraphQLNonNull(ResourceInfoType))),
      description: 'The custom resources this schema exposes, with the names of their types and root fields.',
      resolve: () => fragments.map(resourceInfo),
    },
  };
  const mutation: GraphQLFieldConfigMap<unknown, unknown> = {};
  const subscription: GraphQLFieldConfigMap<unknown, unknown> = {};
  for (const { fields } of fragments) {
    Object.assign(query, fields.query);
    Object.assign(mutation, fields.mutation);
    Object.assign(subscription, fields.subscription);
  }
  const hasMutations = Object.keys(mutation).length > 0;
  const hasSubscriptions = Object.keys(subscription).length > 0;
  return new GraphQLSchema({
    query: new GraphQLObjectType({ name: 'Query', fields: query }),
    ...(hasMutations ? { mutation: new GraphQLObjectType({ name: 'Mutation', fields: mutation }) } : {}),
    ...(hasSubscriptions ? { subscription: new GraphQLObjectType({ name: 'Subscription', fields: subscription }) } : {}),
    types: [...CUSTOM_SCALARS],
    assumeValid,
  });
}

function resourceInfo({ model, fields }: Fragment) {
  return {
    crdName: model.crdName,
    group: model.group,
    kind: model.kind,
    plural: model.plural,
    singular: model.singular,
    shortNames: model.shortNames,
    categories: model.categories,
    namespaced: model.scope === 'Namespaced',
    defaultVersion: fields.defaultVersion?.name ?? null,
    versions: model.versions.map((v) => {
      const built = fields.versions.find((entry) => entry.version === v);
      return {
        name: v.name,
        served: v.served,
        storage: v.storage,
        deprecated: v.deprecated,
        deprecationWarning: v.deprecationWarning ?? null,
        typeName: built?.types.object.name ?? null,
        getField: v.served ? rootFieldNames(model, v.name).get : null,
      };
    }),
  };
}
