// A GraphQLSchema whose field maps stay unbuilt until something reads them.
//
// graphql-js builds every type's field map lazily (getFields() on first use), but its
// GraphQLSchema constructor walks every field of every type to collect the type map, and so
// builds them all: at 1,000 CRDs that is ~200,000 types and ~860,000 fields, most of the build's
// time and heap, for fields a query may never touch. The types made here declare their field
// configs (declareFields), so the type map is collected from those configs instead, in the order
// graphql-js collects it; getFields() then builds a type's fields when a validation, an execution
// or an introspection first reaches it. Types that declare nothing are walked through getFields()
// as graphql-js does.
//
// Only for schemas built with assumeValid (graphql-js would otherwise walk every field again to
// validate): the tests and `npm run generate` validate the schemas of the whole CRD corpus.

import {
  GraphQLEnumType,
  GraphQLInputObjectType,
  GraphQLInterfaceType,
  GraphQLList,
  GraphQLNonNull,
  GraphQLObjectType,
  GraphQLScalarType,
  GraphQLSchema,
  GraphQLUnionType,
  __Schema,
} from 'graphql';
import type {
  GraphQLFieldConfigMap,
  GraphQLInputObjectTypeConfig,
  GraphQLNamedType,
  GraphQLObjectTypeConfig,
  GraphQLType,
} from 'graphql';

interface FieldConfigLike {
  readonly type: GraphQLType;
  readonly args?: Readonly<Record<string, { readonly type: GraphQLType }>> | null;
}
type FieldConfigs = Readonly<Record<string, FieldConfigLike>>;

// On the type itself rather than in a WeakMap: 200,000 WeakMap entries cost more than the walk.
const DECLARED = Symbol('declared fields');
type Declaring = { [DECLARED]?: () => FieldConfigs };
const declaredOf = (type: GraphQLNamedType): (() => FieldConfigs) | undefined => (type as Declaring)[DECLARED];

/** getNamedType without graphql-js' cross-realm instanceOf checks (each failed check costs a lookup). */
function namedOf(type: GraphQLType): GraphQLNamedType {
  let t: GraphQLType = type;
  while (t instanceof GraphQLList || t instanceof GraphQLNonNull) t = t.ofType;
  return t;
}

/**
 * The fields config of a type about to be made, as a thunk computed at most once: pass it to the
 * type's constructor and to declareFields, so the walk here and graphql-js share one config.
 */
export function onceFields<T extends FieldConfigs>(make: () => T): () => T {
  let fields: T | undefined;
  return () => (fields ??= make());
}

/** Records the fields config the type was made with (an object, or a thunk made by onceFields). */
export function declareFields<T extends GraphQLNamedType>(type: T, fields: FieldConfigs | (() => FieldConfigs)): T {
  (type as Declaring)[DECLARED] = typeof fields === 'function' ? fields : () => fields;
  return noteCreated(type);
}

let created: GraphQLNamedType[] | undefined;

/**
 * Records a named type made while typesCreatedBy runs (declareFields does it for the types it
 * declares; enum types call it themselves). A type recorded this way must be reachable from what
 * the run returns: deferredSchema answers getType from these records before the type map exists.
 */
export function noteCreated<T extends GraphQLNamedType>(type: T): T {
  created?.push(type);
  return type;
}

/** Runs `make` and gives the named types it made (those noted by noteCreated), in order of creation. */
export function typesCreatedBy<T>(make: () => T): { result: T; types: GraphQLNamedType[] } {
  const outer = created;
  const types: GraphQLNamedType[] = [];
  created = types;
  try {
    return { result: make(), types };
  } finally {
    created = outer;
  }
}

/**
 * Calls `visit` with every type `named` refers to, in graphql-js' order: union members; or the
 * interfaces, then each field's type and its arguments' types; or each input field's type.
 */
export function forEachReference(named: GraphQLNamedType, visit: (type: GraphQLType) => void): void {
  const fields = declaredOf(named);
  if (named instanceof GraphQLUnionType) {
    for (const member of named.getTypes()) visit(member);
  } else if (named instanceof GraphQLObjectType || named instanceof GraphQLInterfaceType) {
    for (const iface of named.getInterfaces()) visit(iface);
    if (fields) {
      const map = fields();
      for (const key in map) {
        const field = map[key]!;
        visit(field.type);
        const args = field.args;
        if (args) for (const arg in args) visit(args[arg]!.type);
      }
    } else {
      for (const field of Object.values(named.getFields())) {
        visit(field.type);
        for (const arg of field.args) visit(arg.type);
      }
    }
  } else if (named instanceof GraphQLInputObjectType) {
    if (fields) {
      const map = fields();
      for (const key in map) visit(map[key]!.type);
    } else {
      for (const field of Object.values(named.getFields())) visit(field.type);
    }
  }
}

const REFERENCES = Symbol('referenced types');
type Referencing = { [REFERENCES]?: readonly GraphQLNamedType[] };

/** The distinct named types a type that declared its fields refers to, in forEachReference's order of first reference (undefined for the others). */
function referencesOf(named: GraphQLNamedType): readonly GraphQLNamedType[] | undefined {
  const holder = named as Referencing;
  let refs = holder[REFERENCES];
  if (refs === undefined && declaredOf(named) !== undefined) {
    // Each type once, where first referred to: a second visit of a type in a walk is a no-op, so
    // the order of a depth-first walk stays graphql-js', with one step per distinct type.
    const found = new Set<GraphQLNamedType>();
    forEachReference(named, (type) => found.add(namedOf(type)));
    holder[REFERENCES] = refs = [...found];
  }
  return refs;
}

const NO_REFERENCES: readonly GraphQLNamedType[] = Object.freeze([]);

/** The named types a type refers to, in forEachReference's order (kept on types that declared their fields). */
export function namedReferences(named: GraphQLNamedType): readonly GraphQLNamedType[] {
  if (named instanceof GraphQLScalarType || named instanceof GraphQLEnumType) return NO_REFERENCES;
  const refs = referencesOf(named);
  if (refs) return refs;
  const found: GraphQLNamedType[] = [];
  forEachReference(named, (type) => found.push(namedOf(type)));
  return found;
}

/** What graphql-js collects into every schema after the roots: the directives' argument types and the introspection types. */
export function typesOfEverySchema(): GraphQLType[] {
  const types: GraphQLType[] = [];
  for (const directive of emptySchema().getDirectives()) for (const arg of directive.args) types.push(arg.type);
  types.push(__Schema);
  return types;
}

export { namedOf };

/** Named types in graphql-js' order: the extra types, the roots, directive arguments, introspection. */
function collectTypes(roots: readonly (GraphQLObjectType | undefined)[], types: readonly GraphQLNamedType[]): Set<GraphQLNamedType> {
  const seen = new Set<GraphQLNamedType>(types);
  const visit = (type: GraphQLType): void => {
    const named = namedOf(type);
    if (seen.has(named)) return;
    seen.add(named);
    walk(named);
  };
  const rootSet = new Set<GraphQLNamedType>();
  for (const root of roots) if (root) rootSet.add(root);
  const walk = (named: GraphQLNamedType): void => {
    // Kept on the type: every later build and tenant schema that reaches it walks a flat list.
    const refs = rootSet.has(named) ? undefined : referencesOf(named);
    if (refs) for (let i = 0; i < refs.length; i++) visit(refs[i]!);
    else forEachReference(named, visit);
  };
  for (const type of types) {
    seen.delete(type);
    visit(type);
  }
  for (const root of roots) if (root) visit(root);
  for (const type of typesOfEverySchema()) visit(type);
  return seen;
}

let template: GraphQLSchema | undefined;
function emptySchema(): GraphQLSchema {
  return (template ??= new GraphQLSchema({ assumeValid: true }));
}

/** What GraphQLSchema's internals hold (graphql 16): set by lazySchema as its constructor would, and by the incremental patch of schema-builder.ts. */
export interface SchemaInternals {
  _queryType?: GraphQLObjectType | null;
  _mutationType?: GraphQLObjectType | null;
  _subscriptionType?: GraphQLObjectType | null;
  _typeMap: Record<string, GraphQLNamedType>;
  _subTypeMap: Record<string, unknown>;
  _implementationsMap: Record<string, { objects: GraphQLObjectType[]; interfaces: GraphQLInterfaceType[] }>;
  __validationErrors?: readonly unknown[];
}

/**
 * The schema `new GraphQLSchema({ query, mutation, subscription, types, assumeValid: true })`
 * makes (same type map, in the same order, same implementations), without building the field
 * maps of the types that declared their fields.
 * @throws Error when two types share a name, like graphql-js.
 */
export function lazySchema(config: {
  query: GraphQLObjectType;
  mutation?: GraphQLObjectType;
  subscription?: GraphQLObjectType;
  types?: readonly GraphQLNamedType[];
}): GraphQLSchema {
  const collected = collectTypes([config.query, config.mutation, config.subscription], config.types ?? []);
  const { schema, internals } = schemaWithRoots(config);
  const typeMap: Record<string, GraphQLNamedType> = Object.create(null);
  const implementations: SchemaInternals['_implementationsMap'] = Object.create(null);
  const implementationsOf = (name: string) => (implementations[name] ??= { objects: [], interfaces: [] });
  for (const type of collected) {
    if (typeMap[type.name] !== undefined) {
      throw new Error(`Schema must contain uniquely named types but contains multiple types named "${type.name}".`);
    }
    typeMap[type.name] = type;
    if (type instanceof GraphQLInterfaceType) {
      for (const iface of type.getInterfaces()) if (iface instanceof GraphQLInterfaceType) implementationsOf(iface.name).interfaces.push(type);
    } else if (type instanceof GraphQLObjectType) {
      for (const iface of type.getInterfaces()) if (iface instanceof GraphQLInterfaceType) implementationsOf(iface.name).objects.push(type);
    }
  }
  internals._typeMap = typeMap;
  internals._subTypeMap = Object.create(null);
  internals._implementationsMap = implementations;
  return schema;
}

/** A schema object with the roots set and validation taken as done, its type maps still to fill in. */
function schemaWithRoots(config: { query: GraphQLObjectType; mutation?: GraphQLObjectType; subscription?: GraphQLObjectType }): { schema: GraphQLSchema; internals: SchemaInternals } {
  const schema = Object.create(GraphQLSchema.prototype) as GraphQLSchema;
  Object.assign(schema, emptySchema());
  const internals = schema as unknown as SchemaInternals;
  internals._queryType = config.query;
  internals._mutationType = config.mutation;
  internals._subscriptionType = config.subscription;
  internals.__validationErrors = [];
  return { schema, internals };
}

/**
 * The schema lazySchema(config) makes, whose type map and interface implementations are collected
 * only when first read (getTypeMap: introspection, printSchema; getImplementations: abstract
 * types), while getType answers from `lookup`, which must give exactly the types the collection
 * would hold. Validation and execution reach types through getType only, so a schema that is
 * only queried never pays the collection (a tenant's view of ~100,000 types, tenant-schema.ts).
 *
 * Relies on graphql 16's GraphQLSchema reading these through `this._typeMap` (getTypeMap, and
 * getType through it) and `this._implementationsMap` (getImplementations): here they are
 * accessors that collect on first read. test/unit/graphql/tenant-schema-view.test.ts fails if
 * graphql-js reads them otherwise (getType collecting, or a collection not showing).
 */
export function lazySchemaView(
  config: Parameters<typeof lazySchema>[0],
  lookup: (name: string) => GraphQLNamedType | undefined,
  onCollected?: () => void,
): GraphQLSchema {
  const { schema, internals } = schemaWithRoots(config);
  internals._subTypeMap = Object.create(null);
  const collected = ['_typeMap', '_implementationsMap'] as const;
  const collect = (): void => {
    const built = lazySchema(config) as unknown as SchemaInternals;
    for (const key of collected) Object.defineProperty(schema, key, { value: built[key], writable: true, enumerable: true, configurable: true });
    onCollected?.();
  };
  for (const key of collected) {
    Object.defineProperty(schema, key, {
      enumerable: true,
      configurable: true,
      get: () => {
        collect();
        return internals[key];
      },
    });
  }
  Object.defineProperty(schema, 'getType', { value: (name: string) => lookup(name), writable: true, enumerable: false, configurable: true });
  return schema;
}

/**
 * The schema lazySchema(config) makes, its type map collected only when first read (introspection,
 * printSchema, abstract types, the patch of the next change), while getType answers from `known`:
 * the types the builder made and recorded, each of which the collection reaches under its name.
 * A name `known` lacks (a type shared between CRDs, one made by a thunk, or none at all) collects
 * the type map and answers from it, so a lookup never answers differently from graphql-js'
 * constructor; after the collection every lookup reads the collected map.
 */
export function deferredSchema(config: Parameters<typeof lazySchema>[0], known: ReadonlyMap<string, GraphQLNamedType>): GraphQLSchema {
  // Dropped once collected: the type map answers then.
  let before: ReadonlyMap<string, GraphQLNamedType> | undefined = known;
  const schema: GraphQLSchema = lazySchemaView(
    config,
    (name) => before?.get(name) ?? schema.getTypeMap()[name],
    () => {
      before = undefined;
      knownTypes.delete(schema);
    },
  );
  knownTypes.set(schema, known);
  return schema;
}

const knownTypes = new WeakMap<GraphQLSchema, ReadonlyMap<string, GraphQLNamedType>>();

/** The types a schema made by deferredSchema answers lookups from until its collection (for the tests that compare them with the collected ones). */
export function knownTypesOf(schema: GraphQLSchema): ReadonlyMap<string, GraphQLNamedType> | undefined {
  return knownTypes.get(schema);
}

/** Whether a schema made by lazySchemaView has collected its type map yet. */
export function isCollected(schema: GraphQLSchema): boolean {
  return Object.getOwnPropertyDescriptor(schema, '_typeMap')?.get === undefined;
}

/** The type of a field of an object type, read from its declared config when it has one (its fields stay unbuilt). */
export function fieldTypeOf(type: GraphQLObjectType, field: string): GraphQLType | undefined {
  const fields = declaredOf(type);
  return fields ? fields()[field]?.type : type.getFields()[field]?.type;
}

/** new GraphQLObjectType(config), its fields declared. */
export function objectType<TSource, TContext>(config: GraphQLObjectTypeConfig<TSource, TContext> & { fields: GraphQLFieldConfigMap<TSource, TContext> }): GraphQLObjectType<TSource, TContext> {
  return declareFields(new GraphQLObjectType(config), config.fields as FieldConfigs);
}

/** new GraphQLInputObjectType(config), its fields declared (a thunk's result is computed once). */
export function inputObjectType(config: GraphQLInputObjectTypeConfig): GraphQLInputObjectType {
  const fields = typeof config.fields === 'function' ? onceFields(config.fields) : config.fields;
  return declareFields(new GraphQLInputObjectType({ ...config, fields }), fields as FieldConfigs | (() => FieldConfigs));
}

/** The fields config an object type declared (its fields stay unbuilt); undefined when it declared none. */
export function declaredFieldsOf<TSource, TContext>(type: GraphQLObjectType<TSource, TContext>): GraphQLFieldConfigMap<TSource, TContext> | undefined {
  return declaredOf(type)?.() as GraphQLFieldConfigMap<TSource, TContext> | undefined;
}

const rootFieldGroups = new WeakMap<GraphQLSchema, readonly (readonly string[])[]>();

/**
 * Records which root fields ("Query.x") belong together (those of one CRD): the types one group
 * reaches are mostly its own, which is what a tenant's view of the schema is prepared by
 * (tenant-schema.ts). Only a hint: root fields in no group are taken one by one.
 */
export function recordRootFieldGroups(schema: GraphQLSchema, groups: readonly (readonly string[])[]): void {
  rootFieldGroups.set(schema, groups);
}

export function rootFieldGroupsOf(schema: GraphQLSchema): readonly (readonly string[])[] {
  return rootFieldGroups.get(schema) ?? [];
}
