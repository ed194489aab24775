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
  GraphQLField,
  GraphQLFieldConfig,
  GraphQLFieldConfigMap,
  GraphQLFieldMap,
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
const SHORTCUTS = Symbol('fields shortcuts');
type Declaring = { [DECLARED]?: () => FieldConfigs; [SHORTCUTS]?: FieldsShortcuts };

/** What a type declares besides its fields config, so that readers need not make the config. */
export interface FieldsShortcuts {
  /** The type of the field of that name, exactly as the config will have it; undefined to read the config. */
  fieldType?(name: string): GraphQLType | undefined;
  /**
   * Calls `visit` with every field's type and then its arguments' types, in the config's order:
   * types whose named types are those forEachReference would visit in the config (the walks of the
   * type map read named types only).
   */
  fieldTypes?(visit: (type: GraphQLType) => void): void;
}
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
  return () => {
    if (fields === undefined) {
      fieldConfigsMade++;
      fields = make();
    }
    return fields;
  };
}

/** Counts a fields config made by a thunk that memoises it itself (as onceFields does). */
export function noteFieldConfigMade(): void {
  fieldConfigsMade++;
}

let fieldConfigsMade = 0;

/** How many onceFields thunks have made their config so far in this process (for the tests that check a path leaves them unmade). */
export function fieldConfigsMadeCount(): number {
  return fieldConfigsMade;
}

/**
 * Records the fields config the type was made with (an object, or a thunk made by onceFields).
 * With a thunk, `shortcuts` let fieldTypeOf and the walks of the type map (forEachReference) read
 * the fields' types without making the config, which is then made only when something reads the
 * fields themselves (a request, introspection, printSchema).
 */
export function declareFields<T extends GraphQLNamedType>(type: T, fields: FieldConfigs | (() => FieldConfigs), shortcuts?: FieldsShortcuts): T {
  const declaring = type as Declaring;
  declaring[DECLARED] = typeof fields === 'function' ? fields : () => fields;
  if (shortcuts) declaring[SHORTCUTS] = shortcuts;
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
  const shortcuts = (named as Declaring)[SHORTCUTS];
  const fieldTypes = shortcuts?.fieldTypes ? shortcuts : undefined;
  if (named instanceof GraphQLUnionType) {
    for (const member of named.getTypes()) visit(member);
  } else if (named instanceof GraphQLObjectType || named instanceof GraphQLInterfaceType) {
    for (const iface of named.getInterfaces()) visit(iface);
    if (fieldTypes) {
      fieldTypes.fieldTypes!(visit);
    } else if (fields) {
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
    if (fieldTypes) {
      fieldTypes.fieldTypes!(visit);
    } else if (fields) {
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

/** Says whether the work in progress should stop now (its time slice is spent); asked after each unit of work. */
export type ShouldYield = () => boolean;

const never: ShouldYield = () => false;

/**
 * Collects a schema's type map and interface implementations, resumably: the same depth-first
 * walk as graphql-js' constructor (the extra types, the roots, the directives' argument types,
 * the introspection types; each type before the types it refers to), kept as an explicit stack so
 * that it can stop after any type and continue later, then the maps filled from what it found.
 * `run(shouldYield)` works until done or until shouldYield() says stop (asked once per type
 * reached for the first time, and once per type put into the maps); `run()` finishes. Nothing is
 * walked twice: a finish after some slices continues where they stopped.
 */
export class TypeCollector {
  readonly #seen: Set<GraphQLNamedType>;
  readonly #roots: ReadonlySet<GraphQLNamedType>;
  /** The types to start from, in order; the first `#extra` are the config's extra types. */
  readonly #starts: readonly GraphQLType[];
  readonly #extra: number;
  #nextStart = 0;
  /** The stack of the depth-first walk: for each type being walked, its references and the index of the next to visit. */
  readonly #refs: (readonly GraphQLNamedType[])[] = [];
  readonly #next: number[] = [];
  /** Filling the maps, once the walk is done. */
  #filling: Iterator<GraphQLNamedType> | undefined;
  readonly typeMap: Record<string, GraphQLNamedType> = Object.create(null);
  readonly implementations: SchemaInternals['_implementationsMap'] = Object.create(null);
  #done = false;
  #failure: Error | undefined;

  constructor(roots: readonly (GraphQLObjectType | undefined)[], types: readonly GraphQLNamedType[]) {
    this.#seen = new Set(types);
    const rootSet = new Set<GraphQLNamedType>();
    for (const root of roots) if (root) rootSet.add(root);
    this.#roots = rootSet;
    this.#extra = types.length;
    const starts: GraphQLType[] = [...types];
    for (const root of roots) if (root) starts.push(root);
    starts.push(...typesOfEverySchema());
    this.#starts = starts;
  }

  get done(): boolean {
    return this.#done;
  }

  /**
   * Continues the collection; true once the maps are complete.
   * @throws Error when two types share a name, like graphql-js (again at every later call).
   */
  run(shouldYield: ShouldYield = never): boolean {
    if (this.#failure) throw this.#failure;
    if (this.#done) return true;
    try {
      if (!this.#filling && !this.#walk(shouldYield)) return false;
      this.#filling ??= this.#seen.values();
      return (this.#done = this.#fill(shouldYield));
    } catch (error) {
      this.#failure = error as Error;
      throw error;
    }
  }

  /** The depth-first walk; true when done, false when stopped by shouldYield. */
  #walk(shouldYield: ShouldYield): boolean {
    const seen = this.#seen;
    const refsStack = this.#refs;
    const nextStack = this.#next;
    for (;;) {
      let named: GraphQLNamedType;
      const depth = refsStack.length;
      if (depth === 0) {
        const i = this.#nextStart;
        if (i >= this.#starts.length) return true;
        this.#nextStart = i + 1;
        named = namedOf(this.#starts[i]!);
        // graphql-js starts from a set of the extra types and takes each out before collecting it.
        if (i < this.#extra) seen.delete(named);
      } else {
        const refs = refsStack[depth - 1]!;
        const i = nextStack[depth - 1]!;
        if (i >= refs.length) {
          refsStack.pop();
          nextStack.pop();
          continue;
        }
        nextStack[depth - 1] = i + 1;
        named = refs[i]!;
      }
      if (seen.has(named)) continue;
      seen.add(named);
      // Kept on the type: every later build and tenant schema that reaches it walks a flat list.
      const refs = this.#roots.has(named) ? undefined : referencesOf(named);
      refsStack.push(refs ?? referencesInOrder(named));
      nextStack.push(0);
      if (shouldYield()) return false;
    }
  }

  /** Fills the type map and the implementations in the order collected; true when done. */
  #fill(shouldYield: ShouldYield): boolean {
    const typeMap = this.typeMap;
    const implementations = this.implementations;
    const implementationsOf = (name: string) => (implementations[name] ??= { objects: [], interfaces: [] });
    for (;;) {
      const step = this.#filling!.next();
      if (step.done) return true;
      const type = step.value;
      if (typeMap[type.name] !== undefined) {
        throw new Error(`Schema must contain uniquely named types but contains multiple types named "${type.name}".`);
      }
      typeMap[type.name] = type;
      if (type instanceof GraphQLInterfaceType) {
        for (const iface of type.getInterfaces()) if (iface instanceof GraphQLInterfaceType) implementationsOf(iface.name).interfaces.push(type);
      } else if (type instanceof GraphQLObjectType) {
        for (const iface of type.getInterfaces()) if (iface instanceof GraphQLInterfaceType) implementationsOf(iface.name).objects.push(type);
      }
      if (shouldYield()) return false;
    }
  }
}

/** Every named type `named` refers to, in forEachReference's order, repeats included (they are skipped as seen). */
function referencesInOrder(named: GraphQLNamedType): GraphQLNamedType[] {
  const found: GraphQLNamedType[] = [];
  forEachReference(named, (type) => found.push(namedOf(type)));
  return found;
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
  const collector = new TypeCollector([config.query, config.mutation, config.subscription], config.types ?? []);
  collector.run();
  return schemaFromCollector(config, collector);
}

function schemaFromCollector(config: Parameters<typeof lazySchema>[0], collector: TypeCollector): GraphQLSchema {
  const { schema, internals } = schemaWithRoots(config);
  internals._typeMap = collector.typeMap;
  internals._subTypeMap = Object.create(null);
  internals._implementationsMap = collector.implementations;
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
  // Made on the first slice of collectInSlices, or by the first read; a read after some slices finishes their work.
  let collector: TypeCollector | undefined;
  const start = () => (collector ??= new TypeCollector([config.query, config.mutation, config.subscription], config.types ?? []));
  const collect = (): void => {
    const c = start();
    c.run();
    // The walk's set and stack are not kept with the schema (its maps are).
    collector = undefined;
    inProgress.delete(schema);
    const built = schemaFromCollector(config, c) as unknown as SchemaInternals;
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
  inProgress.set(schema, (shouldYield) => {
    if (!start().run(shouldYield)) return false;
    collect();
    return true;
  });
  return schema;
}

const inProgress = new WeakMap<GraphQLSchema, (shouldYield: ShouldYield) => boolean>();

/**
 * Continues collecting the type map of a schema made by lazySchemaView until done or until
 * shouldYield() says stop; true once collected (at once for any other schema). A read of the
 * type map in between finishes the collection synchronously, from where the slices stopped.
 */
export function collectInSlices(schema: GraphQLSchema, shouldYield: ShouldYield): boolean {
  if (isCollected(schema)) return true;
  const step = inProgress.get(schema);
  if (!step) {
    schema.getTypeMap();
    return true;
  }
  return step(shouldYield);
}

/** How runInSlices measures time and schedules the next slice (injectable for tests). */
export interface SliceScheduler {
  /** Milliseconds, monotonic. */
  now(): number;
  /** Runs the callback later, after pending I/O (setImmediate). */
  schedule(callback: () => void): void;
}

export const immediateScheduler: SliceScheduler = { now: () => performance.now(), schedule: (callback) => void setImmediate(callback) };

/**
 * Runs `step` in slices of about `budgetMs` until it returns true, one slice per turn of the event
 * loop so that requests are served in between: step(shouldYield) works until done (true) or until
 * shouldYield() says its slice is spent. A step that throws ends the slices (`onError`).
 */
export function runInSlices(
  step: (shouldYield: ShouldYield) => boolean,
  options: { budgetMs?: number; scheduler?: SliceScheduler; onError?: (error: unknown) => void; onDone?: () => void } = {},
): void {
  const { budgetMs = 10, scheduler = immediateScheduler } = options;
  const slice = (): void => {
    const deadline = scheduler.now() + budgetMs;
    let done: boolean;
    try {
      done = step(() => scheduler.now() >= deadline);
    } catch (error) {
      options.onError?.(error);
      return;
    }
    if (done) options.onDone?.();
    else scheduler.schedule(slice);
  };
  scheduler.schedule(slice);
}

/**
 * The schema lazySchema(config) makes, its type map collected only when first read (introspection,
 * printSchema, abstract types, the patch of the next change), while getType answers from `known`:
 * the types the builder made and recorded, each of which the collection reaches under its name.
 * A name `known` lacks (a type shared between CRDs, one made by a thunk, or none at all) collects
 * the type map and answers from it, so a lookup never answers differently from graphql-js'
 * constructor; after the collection every lookup reads the collected map.
 */
export function deferredSchema(config: Parameters<typeof lazySchema>[0], known: TypeLookup): GraphQLSchema {
  // Dropped once collected: the type map answers then.
  let before: TypeLookup | undefined = known;
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

/** What a deferred schema's lookups answer from before its collection (known-types.ts). */
export interface TypeLookup {
  get(name: string): GraphQLNamedType | undefined;
  /** Every type it knows, by name. */
  all(): ReadonlyMap<string, GraphQLNamedType>;
}

const knownTypes = new WeakMap<GraphQLSchema, TypeLookup>();

/** The types a schema made by deferredSchema answers lookups from until its collection (for the tests that compare them with the collected ones). */
export function knownTypesOf(schema: GraphQLSchema): ReadonlyMap<string, GraphQLNamedType> | undefined {
  return knownTypes.get(schema)?.all();
}

/** Whether a schema made by lazySchemaView has collected its type map yet. */
export function isCollected(schema: GraphQLSchema): boolean {
  return Object.getOwnPropertyDescriptor(schema, '_typeMap')?.get === undefined;
}

/** The type of a field of an object type, read from its declared config when it has one (its fields stay unbuilt). */
export function fieldTypeOf(type: GraphQLObjectType, field: string): GraphQLType | undefined {
  const known = (type as Declaring)[SHORTCUTS]?.fieldType?.(field);
  if (known !== undefined) return known;
  const fields = declaredOf(type);
  return fields ? fields()[field]?.type : type.getFields()[field]?.type;
}

/** new GraphQLObjectType(config), its fields declared. */
export function objectType<TSource, TContext>(config: GraphQLObjectTypeConfig<TSource, TContext> & { fields: GraphQLFieldConfigMap<TSource, TContext> }): GraphQLObjectType<TSource, TContext> {
  return declareFields(new GraphQLObjectType(config), config.fields as FieldConfigs);
}

/**
 * objectType(config) for a root type: its field map (getFields()) builds a field when it is first
 * read, not every field at once. A root type of 1,000 CRDs has ~13,000 mutation and ~5,000 query
 * fields, whose graphql-js field objects (arguments included) took ~90 ms to build on the first
 * validation after every schema change; a document reads a few of them. Reading the map whole
 * (Object.keys/values/entries, for-in: introspection, printSchema, validateSchema, toConfig) builds
 * the rest and gives the fields in the config's order, as graphql-js' map has them. A field is
 * built by graphql-js itself (a type of that one field), once per field config: the root types of
 * later builds and of tenant views that keep a config share its field.
 */
export function rootObjectType<TSource, TContext>(config: GraphQLObjectTypeConfig<TSource, TContext> & { fields: GraphQLFieldConfigMap<TSource, TContext> }): GraphQLObjectType<TSource, TContext> {
  const type = objectType(config);
  const fields = lazyFieldMap(type.name, config.fields as GraphQLFieldConfigMap<unknown, unknown>) as GraphQLFieldMap<TSource, TContext>;
  Object.defineProperty(type, 'getFields', { value: () => fields, writable: true, enumerable: false, configurable: true });
  return type;
}

const builtFields = new WeakMap<GraphQLFieldConfig<unknown, unknown>, GraphQLField<unknown, unknown>>();

/** The graphql-js field of `config` under `name`, as `typeName`'s field map would hold it. */
function fieldOf(typeName: string, name: string, config: GraphQLFieldConfig<unknown, unknown>): GraphQLField<unknown, unknown> {
  const known = builtFields.get(config);
  if (known !== undefined && known.name === name) return known;
  const field = new GraphQLObjectType({ name: typeName, fields: { [name]: config } }).getFields()[name]!;
  // A config used under two names keeps the first one's field.
  if (known === undefined) builtFields.set(config, field);
  return field;
}

/** A field map over `configs` that builds each field on first read (see rootObjectType). */
function lazyFieldMap(typeName: string, configs: GraphQLFieldConfigMap<unknown, unknown>): GraphQLFieldMap<unknown, unknown> {
  const built = new Map<string, GraphQLField<unknown, unknown>>();
  let whole: GraphQLFieldMap<unknown, unknown> | undefined;
  const field = (key: string): GraphQLField<unknown, unknown> | undefined => {
    let found = built.get(key);
    if (found === undefined && Object.hasOwn(configs, key)) built.set(key, (found = fieldOf(typeName, key, configs[key]!)));
    return found;
  };
  const all = (): GraphQLFieldMap<unknown, unknown> => {
    if (whole === undefined) {
      const map: GraphQLFieldMap<unknown, unknown> = Object.create(null);
      for (const key of Object.keys(configs)) map[key] = field(key)!;
      whole = map;
    }
    return whole;
  };
  return new Proxy(Object.create(null) as GraphQLFieldMap<unknown, unknown>, {
    get: (_target, key) => (typeof key !== 'string' ? undefined : whole !== undefined ? whole[key] : field(key)),
    has: (_target, key) => typeof key === 'string' && Object.hasOwn(configs, key),
    ownKeys: () => Reflect.ownKeys(all()),
    getOwnPropertyDescriptor: (_target, key) => Reflect.getOwnPropertyDescriptor(all(), key),
    set: () => false,
    deleteProperty: () => false,
    defineProperty: () => false,
  });
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
