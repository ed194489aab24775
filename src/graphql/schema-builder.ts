// Model snapshot → GraphQLSchema. Pure and incremental: the types and root fields of each CRD
// are cached by CRD name and reused for the same model or one of the same content hash, so
// rebuilding after one CRD changes only builds that CRD and reassembles the root types.

import { getNamedType, GraphQLList, GraphQLNonNull, GraphQLObjectType, GraphQLSchema, GraphQLString, isInputObjectType, isInterfaceType, isObjectType, isUnionType } from 'graphql';
import type { GraphQLNamedType, GraphQLType } from 'graphql';
import type { GraphQLFieldConfig, GraphQLFieldConfigMap } from 'graphql';
import { sameContent, type ResourceModel } from '../model/resource-model.ts';
import { compareCodeUnits } from '../model/graphql-names.ts';
import { rootFieldNames } from '../model/graphql-type-names.ts';
import { notImplementedOperations } from './not-implemented-operations.ts';
import type { ResourceOperations } from '../contract/operations.ts';
import { applyYamlField, ApplyYamlResultType } from './apply-yaml.ts';
import { buildResourceFields } from './resource-fields.ts';
import type { ResourceFields } from './resource-fields.ts';
import { createRelationTypes, relationExtraTypes, type RelationTypes } from './relation-types.ts';
import { CUSTOM_SCALARS } from './scalars.ts';
import { ResourceInfoType } from './shared-types.ts';
import { collectInSlices, declaredFieldsOf, deferredSchema, forEachReference, recordRootFieldGroups, rootObjectType, typesCreatedBy, type SchemaInternals, type ShouldYield } from './lazy-schema.ts';
import { assembleRecord, patchRecord } from '../model/ordered-record.ts';
import { indexTypes, KnownTypes, type TypesIndexed } from './known-types.ts';

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
  /** How the last schema was made: from scratch, or by patching the previous one. */
  readonly lastBuild: 'full' | 'patched' | undefined;
  /**
   * Computes what patching the last schema needs (its type map collected, and a walk of every
   * type), which a full build leaves for later; call it when idle so that the next change is fast.
   */
  prepareIncremental(): void;
  /**
   * The same preparation, resumable: works until done (true) or until shouldYield() says stop
   * (false; call again to continue). A change built in between finishes what its patch needs.
   */
  prepareIncrementalSlice(shouldYield: ShouldYield): boolean;
}

interface Fragment {
  readonly model: ResourceModel;
  readonly fields: ResourceFields;
  readonly rootFields: readonly string[];
  /** The named types made for this CRD's fields (those the lookups of a deferred schema know), each reached from its root fields. */
  readonly types: readonly GraphQLNamedType[];
  /** How a deferred schema looks them up. */
  readonly indexed: TypesIndexed;
}

export function createSchemaBuilder(options: SchemaBuilderOptions = {}): SchemaBuilder {
  const operations = options.operations ?? notImplementedOperations;
  // One set per builder: every cached fragment's object types implement this interface.
  const relations = createRelationTypes(operations);
  let cache = new Map<string, Fragment>();
  let previous: PreviousBuild | undefined;
  let lastBuild: 'full' | 'patched' | undefined;
  let baseTypes: ReadonlyMap<string, GraphQLNamedType> | undefined;
  const assembled = (fragments: readonly Fragment[]) =>
    assemble(fragments, options.assumeValid === true, relations, operations, (baseTypes ??= typesOfEmptySchema(relations, operations)));

  const prepareSlice = (shouldYield: ShouldYield): boolean => {
    if (!previous) return true;
    // The patch reads the previous type map, which a full build leaves uncollected.
    if (!collectInSlices(previous.schema, shouldYield)) return false;
    return countTypes(previous, shouldYield);
  };

  return {
    get cacheSize() {
      return cache.size;
    },
    get lastBuild() {
      return lastBuild;
    },
    prepareIncremental() {
      prepareSlice(() => false);
    },
    prepareIncrementalSlice: prepareSlice,
    build(models) {
      const next = new Map<string, Fragment>();
      const problems: SchemaBuildProblem[] = [];
      const fragments: Fragment[] = [];
      const claimedKinds = new Map<string, string>();
      const claimedFields = new Map<string, string>();

      // Conflicts can only come from CRDs the API server itself would refuse (same group and
      // kind, or kinds that differ only in a leading acronym's case): CRD files, as a live
      // cluster's CRDs come with the names it accepted (withServedNames); the one created first
      // keeps its names, as Kubernetes accepts a new CRD's names.
      for (const model of [...models].sort(byAge)) {
        const previous = next.get(model.crdName);
        if (previous && sameContent(previous.model, model)) {
          problems.push({ crdName: model.crdName, message: 'listed twice in the snapshot; the copy is ignored' });
          continue;
        }
        const kindProblem = kindConflict(model, claimedKinds);
        if (kindProblem) {
          problems.push({ crdName: model.crdName, message: kindProblem });
          continue;
        }
        let fragment = cache.get(model.crdName);
        if (!fragment || !sameContent(fragment.model, model)) {
          const { result: fields, types } = typesCreatedBy(() => buildResourceFields(model, operations, relations, options.assumeValid === true));
          fragment = {
            model,
            fields,
            types,
            indexed: indexTypes(model.kind, types),
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
        // A second CRD of this name (only in files: the API server has one) is built, not cached.
        if (!next.has(model.crdName)) next.set(model.crdName, fragment);
        fragments.push(fragment);
      }
      cache = next;
      fragments.sort((a, b) => compareCodeUnits(a.model.crdName, b.model.crdName));
      // With a trusted builder (assumeValid), a few changed CRDs patch the previous schema's type
      // map instead of letting graphql-js walk every type of every CRD again.
      const patched = options.assumeValid === true && previous ? patchSchema(previous, fragments, relations, operations) : undefined;
      const schema = patched ?? assembled(fragments);
      lastBuild = patched ? 'patched' : 'full';
      // After a full build the reference counts are computed when the next change needs them, so a
      // first build (or one after many changes) does not pay for a walk it may never use.
      previous = options.assumeValid === true ? { schema, fragments: new Set(fragments), counts: patched ? previous!.counts : undefined } : undefined;
      return {
        schema,
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

interface PreviousBuild {
  readonly schema: GraphQLSchema;
  readonly fragments: ReadonlySet<Fragment>;
  /** How many fragments reach each named type (types of the empty schema are not counted); computed on first use (countTypes). */
  counts: Map<string, number> | undefined;
  /** The counting in progress: the counts so far, of the fragments before `next`. */
  counting?: { readonly counts: Map<string, number>; readonly fragments: readonly Fragment[]; next: number };
}

/** The named types of a schema without CRDs, but its roots: every schema of these relation types has them. */
function typesOfEmptySchema(relations: RelationTypes, operations: ResourceOperations): Map<string, GraphQLNamedType> {
  const empty = assemble([], true, relations, operations, new Map());
  const roots = new Set<unknown>([empty.getQueryType(), empty.getMutationType(), empty.getSubscriptionType()]);
  const types = new Map<string, GraphQLNamedType>();
  for (const [name, type] of Object.entries(empty.getTypeMap())) if (!roots.has(type)) types.set(name, type);
  return types;
}

const baseTypeNames = new Set(['Query', ...typesOfEmptySchema(createRelationTypes(notImplementedOperations), notImplementedOperations).keys()]);
const fragmentTypes = new WeakMap<Fragment, GraphQLNamedType[]>();

/** The named types a fragment's root fields reach, beyond those every schema has. */
function typesOf(fragment: Fragment): GraphQLNamedType[] {
  let found = fragmentTypes.get(fragment);
  if (found) return found;
  const seen = new Map<string, GraphQLNamedType>();
  const visit = (t: GraphQLType): void => {
    const named = getNamedType(t);
    if (!named || baseTypeNames.has(named.name) || seen.has(named.name)) return;
    seen.set(named.name, named);
    forEachReference(named, visit);
  };
  for (const map of [fragment.fields.query, fragment.fields.mutation, fragment.fields.subscription]) {
    for (const f of Object.values(map)) {
      visit(f.type);
      for (const a of Object.values(f.args ?? {})) visit(a.type);
    }
  }
  found = [...seen.values()];
  fragmentTypes.set(fragment, found);
  return found;
}

/**
 * Counts how many of the previous build's fragments reach each type into `prev.counts`, one
 * fragment per unit of work, until done (true) or until shouldYield() says stop (false); a later
 * call continues where it stopped.
 */
function countTypes(prev: PreviousBuild, shouldYield: ShouldYield = () => false): boolean {
  if (prev.counts) return true;
  const counting = (prev.counting ??= { counts: new Map(), fragments: [...prev.fragments], next: 0 });
  const { counts, fragments } = counting;
  while (counting.next < fragments.length) {
    for (const t of typesOf(fragments[counting.next++]!)) counts.set(t.name, (counts.get(t.name) ?? 0) + 1);
    if (counting.next < fragments.length && shouldYield()) return false;
  }
  prev.counts = counts;
  prev.counting = undefined;
  return true;
}

/**
 * A new schema from the previous one for a small change: the root types are new, the type map is
 * the previous one minus the types only removed fragments reached, plus those of added fragments.
 * Returns undefined (build from scratch) when too much changed or a name would clash.
 */
function patchSchema(prev: PreviousBuild, fragments: readonly Fragment[], relations: RelationTypes, operations: ResourceOperations): GraphQLSchema | undefined {
  const next = new Set(fragments);
  const removed = [...prev.fragments].filter((f) => !next.has(f));
  const added = fragments.filter((f) => !prev.fragments.has(f));
  if (removed.length + added.length > Math.max(8, fragments.length / 10)) return undefined;
  const old = prev.schema as unknown as SchemaInternals;
  const overlay = new TypeMapOverlay(old._typeMap);
  const typeMap = overlay.writer;
  countTypes(prev);
  const counts = prev.counts!;
  const undo: (() => void)[] = [];
  for (const f of removed) {
    for (const t of typesOf(f)) {
      const n = (counts.get(t.name) ?? 0) - 1;
      undo.push(() => counts.set(t.name, n + 1));
      if (n > 0) counts.set(t.name, n);
      else {
        counts.delete(t.name);
        delete typeMap[t.name];
      }
    }
  }
  for (const f of added) {
    for (const t of typesOf(f)) {
      const existing = typeMap[t.name];
      if (existing !== undefined && existing !== t) {
        for (const u of undo.reverse()) u();
        return undefined;
      }
      const n = counts.get(t.name) ?? 0;
      undo.push(() => (n ? counts.set(t.name, n) : counts.delete(t.name)));
      counts.set(t.name, n + 1);
      typeMap[t.name] = t;
    }
  }
  const roots = assembleConfig(fragments, operations, { previous: old, removed, added });
  for (const name of ['Query', 'Mutation', 'Subscription'] as const) delete typeMap[name];
  typeMap['Query'] = roots.query;
  if (roots.mutation) typeMap['Mutation'] = roots.mutation;
  if (roots.subscription) typeMap['Subscription'] = roots.subscription;
  const schema = Object.create(GraphQLSchema.prototype) as GraphQLSchema;
  Object.assign(schema, prev.schema);
  const internals = schema as unknown as SchemaInternals;
  internals._queryType = roots.query;
  internals._mutationType = roots.mutation ?? null;
  internals._subscriptionType = roots.subscription ?? null;
  internals._typeMap = overlay.seal();
  internals._subTypeMap = Object.create(null);
  internals._implementationsMap = implementationsOf(fragments, relations);
  internals.__validationErrors = [];
  recordRootFieldGroups(schema, fragments.map((f) => f.rootFields));
  return schema;
}

/**
 * A type map that is the previous one plus a few changes, without copying its 100,000+ entries
 * (copying them costs more than the whole change). It reads like the plain object graphql-js
 * expects: lookups, `in`, and Object.keys/values/entries. Chains of overlays are flattened every
 * `maxOverlayDepth` generations so lookups stay short.
 */
class TypeMapOverlay {
  private readonly base: Record<string, GraphQLNamedType>;
  private readonly changes = new Map<string, GraphQLNamedType | undefined>();
  private readonly depth: number;
  readonly writer: Record<string, GraphQLNamedType>;

  constructor(base: Record<string, GraphQLNamedType>) {
    const parent = overlayDepth.get(base) ?? 0;
    // Flattening costs a full copy; doing it every few generations keeps every lookup short.
    this.base = parent >= maxOverlayDepth ? flatten(base) : base;
    this.depth = parent >= maxOverlayDepth ? 0 : parent;
    const changes = this.changes;
    const baseMap = this.base;
    this.writer = new Proxy(Object.create(null) as Record<string, GraphQLNamedType>, {
      get: (_t, key: string) => (changes.has(key) ? changes.get(key) : baseMap[key]),
      set: (_t, key: string, value: GraphQLNamedType) => {
        changes.set(key, value);
        return true;
      },
      deleteProperty: (_t, key: string) => {
        changes.set(key, undefined);
        return true;
      },
    });
  }

  /** The read-only view the new schema keeps. */
  seal(): Record<string, GraphQLNamedType> {
    const base = this.base;
    const changes = new Map(this.changes);
    let keys: string[] | undefined;
    const ownKeys = () => {
      if (!keys) {
        keys = Object.keys(base).filter((k) => !changes.has(k) || changes.get(k) !== undefined);
        for (const [k, v] of changes) if (v !== undefined && !(k in base)) keys.push(k);
      }
      return keys;
    };
    const lookup = (key: string) => (changes.has(key) ? changes.get(key) : base[key]);
    const view = new Proxy(Object.create(null) as Record<string, GraphQLNamedType>, {
      get: (_t, key) => (typeof key === 'string' ? lookup(key) : undefined),
      has: (_t, key) => typeof key === 'string' && lookup(key) !== undefined,
      ownKeys: () => ownKeys(),
      getOwnPropertyDescriptor: (_t, key) => {
        const value = typeof key === 'string' ? lookup(key) : undefined;
        return value === undefined ? undefined : { value, writable: false, enumerable: true, configurable: true };
      },
      set: () => false,
      deleteProperty: () => false,
    });
    overlayDepth.set(view, this.depth + 1);
    overlayLayers.set(view, { base, changes });
    return view;
  }
}

/**
 * A plain copy of an overlay view, with its keys in the view's order: the first map's, without
 * those deleted, then each generation's additions. Read from the layers, not through the views: a
 * copy through 16 nested proxies cost seconds at 1,000 CRDs (each key's descriptor looked up
 * through every generation, at every generation).
 */
function flatten(view: Record<string, GraphQLNamedType>): Record<string, GraphQLNamedType> {
  const layers: ReadonlyMap<string, GraphQLNamedType | undefined>[] = [];
  let root = view;
  for (let layer = overlayLayers.get(root); layer; layer = overlayLayers.get(root)) {
    layers.push(layer.changes);
    root = layer.base;
  }
  const copy: Record<string, GraphQLNamedType> = Object.assign(Object.create(null), root);
  for (let i = layers.length - 1; i >= 0; i--) {
    for (const [key, type] of layers[i]!) {
      if (type === undefined) delete copy[key];
      else copy[key] = type;
    }
  }
  return copy;
}

const overlayLayers = new WeakMap<object, { readonly base: Record<string, GraphQLNamedType>; readonly changes: ReadonlyMap<string, GraphQLNamedType | undefined> }>();

/**
 * What graphql-js computes in its constructor for the interfaces: here only KubernetesResource,
 * implemented by KubernetesObject and by the object type of every served version.
 */
function implementationsOf(fragments: readonly Fragment[], relations: RelationTypes): SchemaInternals['_implementationsMap'] {
  const objects: GraphQLObjectType[] = [relations.object];
  for (const f of fragments) for (const v of f.fields.versions) objects.push(v.types.object);
  const map = Object.create(null) as SchemaInternals['_implementationsMap'];
  map[relations.resource.name] = { objects, interfaces: [] };
  return map;
}

const overlayDepth = new WeakMap<object, number>();
// A lookup through 16 overlays costs a microsecond; a flattening copy of a big map, ~100 ms.
const maxOverlayDepth = 16;

function assemble(fragments: readonly Fragment[], assumeValid: boolean, relations: RelationTypes, operations: ResourceOperations, baseTypes: ReadonlyMap<string, GraphQLNamedType>): GraphQLSchema {
  const roots = assembleConfig(fragments, operations);
  const config = {
    query: roots.query,
    ...(roots.mutation ? { mutation: roots.mutation } : {}),
    ...(roots.subscription ? { subscription: roots.subscription } : {}),
    // applyYaml's result type in every schema, so a patched schema never misses it.
    types: [...CUSTOM_SCALARS, ...relationExtraTypes(relations), ApplyYamlResultType],
  };
  // A trusted build leaves each type's fields unbuilt until something reads them, and the type map
  // uncollected until something needs it (lazy-schema.ts): its lookups answer from the types the
  // fragments made.
  const schema = assumeValid ? deferredSchema(config, knownTypes(baseTypes, roots, fragments)) : new GraphQLSchema(config);
  recordRootFieldGroups(schema, fragments.map((f) => f.rootFields));
  return schema;
}

/**
 * The types a schema's lookups know before its type map is collected: those of every schema, the
 * roots and each fragment's own (known-types.ts).
 * @throws Error when two types share a name, as graphql-js' constructor would.
 */
function knownTypes(base: ReadonlyMap<string, GraphQLNamedType>, roots: ReturnType<typeof assembleConfig>, fragments: readonly Fragment[]): KnownTypes {
  const eager = [...base.values()];
  for (const root of [roots.query, roots.mutation, roots.subscription]) if (root) eager.push(root);
  return new KnownTypes(eager, fragments.map((f) => f.indexed));
}

/** What a patched build starts its root field maps from: the previous roots and the fragments that changed. */
interface RootsChange {
  readonly previous: SchemaInternals;
  readonly removed: readonly Fragment[];
  readonly added: readonly Fragment[];
}

function assembleConfig(fragments: readonly Fragment[], operations: ResourceOperations, change?: RootsChange): { query: GraphQLObjectType; mutation?: GraphQLObjectType; subscription?: GraphQLObjectType } {
  const queryHead: GraphQLFieldConfigMap<unknown, unknown> = {
    apiResources: {
      type: new GraphQLNonNull(new GraphQLList(new GraphQLNonNull(ResourceInfoType))),
      description: 'The custom resources this schema exposes, with the names of their types and root fields.',
      resolve: () => fragments.map(resourceInfo),
    },
    resourcesInCategory: {
      type: new GraphQLNonNull(new GraphQLList(new GraphQLNonNull(ResourceInfoType))),
      description: 'The custom resources of a kubectl category (`kubectl get <category>`): those whose CRD lists it in spec.names.categories, e.g. `all`.',
      args: { category: { type: new GraphQLNonNull(GraphQLString) } },
      resolve: (_src, args: { category: string }) => fragments.filter((f) => f.model.categories.includes(args.category)).map(resourceInfo),
    },
  };
  const mutationHead: GraphQLFieldConfigMap<unknown, unknown> = {};
  if (fragments.length > 0) mutationHead['applyYaml'] = applyYamlField(fragments.map((f) => f.model), operations) as GraphQLFieldConfig<unknown, unknown>;
  // Each root type's fields: the head, then every fragment's, in fragment order. After a small
  // change only the changed fragments' keys are swapped in the previous map (ordered-record.ts):
  // a root type of 1,000 CRDs has ~25,000 fields.
  const fieldsOf = (root: 'query' | 'mutation' | 'subscription', head: GraphQLFieldConfigMap<unknown, unknown>, previous: GraphQLObjectType | null | undefined) => {
    const parts = { head, segments: fragments.map((f) => f.fields[root]), tail: {} };
    const before = change && previous ? declaredFieldsOf(previous) : undefined;
    const patched = change && before ? patchRecord(before, parts, change.removed.map((f) => f.fields[root]), change.added.map((f) => f.fields[root])) : undefined;
    return patched ?? assembleRecord(parts);
  };
  const query = fieldsOf('query', queryHead, change?.previous._queryType);
  // applyYaml is there whenever a CRD is; subscriptions when a CRD serves watch.
  const hasMutations = fragments.length > 0;
  const hasSubscriptions = fragments.some((f) => hasKeys(f.fields.subscription));
  return {
    query: rootObjectType({ name: 'Query', fields: query }),
    ...(hasMutations ? { mutation: rootObjectType({ name: 'Mutation', fields: fieldsOf('mutation', mutationHead, change?.previous._mutationType) }) } : {}),
    ...(hasSubscriptions ? { subscription: rootObjectType({ name: 'Subscription', fields: fieldsOf('subscription', {}, change?.previous._subscriptionType) }) } : {}),
  };
}

function hasKeys(record: object): boolean {
  for (const _ in record) return true;
  return false;
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
    listField: fields.defaultVersion ? rootFieldNames(model, undefined).list : null,
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
        listField: v.served ? rootFieldNames(model, v.name).list : null,
      };
    }),
  };
}
