// The common operation — one root field (a get, a list, a write) whose selections below it only
// read the data the root resolver returned — executed from a plan made once per document, with
// graphql-js for every other operation. graphql-js builds, for every field of every object of a
// list, a path, an info object, an argument object and a resolver call; for a list of 500
// objects that is most of the execution's time and garbage. The plan knows those fields in
// advance: it reads each property (or calls a resolver marked as reading only its source) and
// serializes leaves in the order graphql-js does, with the same results, the same errors (message,
// path, locations) and the same null propagation; the tests compare both on the corpus' schemas.
import {
  GraphQLError, GraphQLString, Kind, type ASTNode, TypeNameMetaFieldDef, defaultFieldResolver, execute, getArgumentValues, getVariableValues, isInterfaceType, isLeafType, isListType, isNonNullType, isObjectType, isUnionType,
  locatedError, type DocumentNode, type ExecutionArgs, type ExecutionResult, type FieldNode, type FragmentDefinitionNode, type GraphQLField,
  type GraphQLLeafType, type GraphQLObjectType, type GraphQLOutputType, type GraphQLResolveInfo, type GraphQLSchema, type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { QueryDocumentKeys } from 'graphql/language/ast.js';
import { inspect } from 'graphql/jsutils/inspect.js';
import { LRUCache } from 'lru-cache';
import { DEFAULT_SHAPE_CHARS, documentShape, MAX_SHAPE_ENTRY_CHARS } from './document-validation.ts';

const readsSourceOnly = Symbol('crdgate.readsSourceOnly');

/**
 * Marks a field resolver that reads only its source value, synchronously, and never its arguments,
 * context or info: the plan calls it with the source alone.
 */
export function sourceOnly<F extends (src: never) => unknown>(resolve: F): F {
  (resolve as unknown as Record<symbol, boolean>)[readsSourceOnly] = true;
  return resolve;
}

type Read = (src: unknown) => unknown;

/** How a value of one output type is completed. */
type ValuePlan =
  | { readonly kind: 'nonNull'; readonly of: ValuePlan }
  | { readonly kind: 'list'; readonly of: ValuePlan }
  | { readonly kind: 'leaf'; readonly type: GraphQLLeafType }
  | { readonly kind: 'object'; readonly fields: readonly FieldPlan[] };

/** One response key of an object below the root field. */
interface FieldPlan {
  readonly key: string;
  readonly parentType: GraphQLObjectType;
  readonly def: GraphQLField<unknown, unknown>;
  readonly nodes: readonly FieldNode[];
  /** In a plan detached from its document (see detached): where its nodes are, in a document of the plan's shape. */
  readonly paths?: readonly NodePath[];
  /** The source-only resolver; undefined: graphql-js' default (the property of the field's name). */
  readonly read: Read | undefined;
  /** __typename: the parent type's name. */
  readonly typename: string | undefined;
  readonly value: ValuePlan;
  /** The type of a field whose value is a leaf or a non-null leaf (see completeLeafField); undefined otherwise. */
  readonly leaf: GraphQLLeafType | undefined;
}

export interface OperationPlan {
  /** The document the plan was made from, whose nodes the plan holds; undefined in a detached plan. */
  readonly document: DocumentNode | undefined;
  readonly operation: OperationDefinitionNode;
  /** In a detached plan: where the operation is in a document of the plan's shape. */
  readonly operationPath?: NodePath;
  readonly fragments: Record<string, FragmentDefinitionNode>;
  readonly rootType: GraphQLObjectType;
  readonly root: FieldPlan;
}

/** The operation asked for: its name, or undefined for the document's only operation. */
type OperationKey = string | undefined;

/** Why an operation is left to graphql-js: it does something the plan does not reproduce. */
class NotPlanned extends Error {}

/**
 * graphql-js' execute, with the operations a plan covers executed from their plan. A document is
 * planned the second time it is executed against a schema (sources sent again keep their parsed
 * document), so a document seen once costs no more than before. A new document whose shape was
 * executed twice before (a client writing its values inline sends a new document of the same
 * shape each time) is executed from the plan made for that shape: whether an operation is planned
 * depends on its shape only, values are read from the new document by graphql-js' own functions
 * at execution, and the nodes a plan hands out (for arguments, errors and resolvers' info) are the
 * new document's, found at the same places (see detached).
 */
export class PlannedExecution {
  private readonly plans = new WeakMap<GraphQLSchema, WeakMap<DocumentNode, Map<OperationKey, OperationPlan | null>>>();
  private readonly seen = new WeakMap<GraphQLSchema, WeakSet<DocumentNode>>();
  /** Per schema and shape key, by operation name: its plan, not planned (false), executed once (null). */
  private readonly shapes = new WeakMap<GraphQLSchema, LRUCache<string, Map<OperationKey, OperationPlan | false | null>>>();
  private readonly maxShapeChars: number;
  private shapePlans = 0;

  constructor(options: { maxShapeChars?: number } = {}) {
    this.maxShapeChars = options.maxShapeChars ?? DEFAULT_SHAPE_CHARS;
  }

  /** How many new documents were executed from a plan because their shape was executed before (for tests and diagnostics). */
  get plannedByShape(): number {
    return this.shapePlans;
  }

  execute(args: ExecutionArgs): ExecutionResult | Promise<ExecutionResult> {
    const variables = args.variableValues;
    // A custom default resolver, or variables that are not an object (graphql-js' own error), go to graphql-js.
    if (args.fieldResolver || (variables != null && (typeof variables !== 'object' || Array.isArray(variables)))) return execute(args);
    const plan = this.planOf(args.schema, args.document, args.operationName ?? undefined);
    return plan ? executePlan(plan, args) : execute(args);
  }

  private planOf(schema: GraphQLSchema, document: DocumentNode, operationName: string | undefined): OperationPlan | null {
    // An operation name of "" names no operation (graphql-js refuses it): it must not find the plan of the document's one operation.
    const name: OperationKey = operationName;
    let bySchema = this.plans.get(schema);
    const known = bySchema?.get(document)?.get(name);
    if (known !== undefined) return known;
    let seen = this.seen.get(schema);
    if (!seen) this.seen.set(schema, (seen = new WeakSet()));
    let byShape: Map<OperationKey, OperationPlan | false | null> | undefined;
    if (!seen.has(document)) {
      seen.add(document);
      byShape = this.shapeOf(schema, document);
      const before = byShape?.get(name);
      if (before === undefined) {
        byShape?.set(name, null);
        return null;
      }
      if (before === false) return null;
      if (before !== null) {
        this.shapePlans++;
        return before;
      }
    }
    if (!bySchema) this.plans.set(schema, (bySchema = new WeakMap()));
    let byName = bySchema.get(document);
    if (!byName) bySchema.set(document, (byName = new Map()));
    const plan = planOperation(schema, document, operationName);
    byName.set(name, plan);
    this.remember(schema, document, name, plan);
    if (byShape && plan) this.shapePlans++;
    return plan;
  }

  /**
   * A plan made, for the later documents of its shape: detached from its document (a document's
   * AST and tokens are ~50 times its text), and counted in the bound of the shapes at
   * PLANNED_SHAPE_WEIGHT times its key.
   */
  private remember(schema: GraphQLSchema, document: DocumentNode, name: OperationKey, plan: OperationPlan | null): void {
    const byName = this.shapeOf(schema, document);
    if (!byName) return;
    byName.set(name, plan ? detached(plan) : false);
    if (plan) this.shapes.get(schema)!.set(documentShape(document)!.key, byName);
  }

  /** What is known of the document's shape's operations (undefined: a document without a shape). */
  private shapeOf(schema: GraphQLSchema, document: DocumentNode): Map<OperationKey, OperationPlan | false | null> | undefined {
    const shape = documentShape(document);
    if (!shape || shape.key.length > MAX_SHAPE_ENTRY_CHARS) return undefined;
    let shapes = this.shapes.get(schema);
    if (!shapes) {
      const sizeOf = (byName: Map<OperationKey, OperationPlan | false | null>, key: string) => Math.max(1, key.length) * ([...byName.values()].some(Boolean) ? PLANNED_SHAPE_WEIGHT : 1);
      this.shapes.set(schema, (shapes = new LRUCache({ maxSize: this.maxShapeChars, sizeCalculation: sizeOf })));
    }
    let byName = shapes.get(shape.key);
    if (!byName) shapes.set(shape.key, (byName = new Map()));
    return byName;
  }
}

/**
 * How many times its key a shape with a plan counts in the bound of the shapes, so that the bound
 * keeps the memory it had before plans were kept by shape: a shape of a create (a 500-character
 * key) and its detached plan hold ~16 KB, the shape alone ~4 KB.
 */
const PLANNED_SHAPE_WEIGHT = 4;

/** The plan of the document's operation, or null when graphql-js should execute it. */
export function planOperation(schema: GraphQLSchema, document: DocumentNode, operationName: string | undefined): OperationPlan | null {
  try {
    return makePlan(schema, document, operationName);
  } catch (err) {
    if (err instanceof NotPlanned) return null;
    throw err;
  }
}

function makePlan(schema: GraphQLSchema, document: DocumentNode, operationName: string | undefined): OperationPlan {
  let operation: OperationDefinitionNode | undefined;
  const fragments: Record<string, FragmentDefinitionNode> = Object.create(null);
  for (const def of document.definitions) {
    if (def.kind === Kind.FRAGMENT_DEFINITION) fragments[def.name.value] = def;
    else if (def.kind === Kind.OPERATION_DEFINITION) {
      // graphql-js' own errors for a missing or ambiguous operation come from graphql-js.
      if (operationName === undefined ? operation !== undefined : def.name?.value !== operationName) {
        if (operationName === undefined) throw new NotPlanned();
        continue;
      }
      operation = def;
    } else throw new NotPlanned();
  }
  if (!operation || operation.operation === 'subscription' || hasDirectives(document)) throw new NotPlanned();
  const rootType = schema.getRootType(operation.operation);
  if (!rootType) throw new NotPlanned();
  const fields = collect(schema, fragments, rootType, [operation.selectionSet]);
  if (fields.size !== 1) throw new NotPlanned();
  const [[key, nodes]] = fields;
  const name = nodes[0]!.name.value;
  const def = rootType.getFields()[name];
  if (!def || name.startsWith('__')) throw new NotPlanned();
  const root: FieldPlan = { key, parentType: rootType, def, nodes, read: undefined, typename: undefined, value: planValue(schema, fragments, def.type, nodes), leaf: undefined };
  return { document, operation, fragments, rootType, root };
}

/** @include and @skip depend on variables, and no other directive is executable: such documents go to graphql-js. */
function hasDirectives(document: DocumentNode): boolean {
  const pending: SelectionSetNode[] = [];
  for (const def of document.definitions) {
    if (def.kind !== Kind.OPERATION_DEFINITION && def.kind !== Kind.FRAGMENT_DEFINITION) continue;
    if (def.directives?.length) return true;
    pending.push(def.selectionSet);
  }
  for (let set = pending.pop(); set; set = pending.pop()) {
    for (const sel of set.selections) {
      if (sel.directives?.length) return true;
      if (sel.kind !== Kind.FRAGMENT_SPREAD && sel.selectionSet) pending.push(sel.selectionSet);
    }
  }
  return false;
}

function planValue(schema: GraphQLSchema, fragments: Record<string, FragmentDefinitionNode>, type: GraphQLOutputType, nodes: readonly FieldNode[]): ValuePlan {
  if (isNonNullType(type)) return { kind: 'nonNull', of: planValue(schema, fragments, type.ofType, nodes) };
  if (isListType(type)) return { kind: 'list', of: planValue(schema, fragments, type.ofType, nodes) };
  if (isLeafType(type)) return { kind: 'leaf', type };
  // Interfaces and unions resolve their runtime type per value; isTypeOf checks each value.
  if (!isObjectType(type) || type.isTypeOf) throw new NotPlanned();
  const sets = nodes.flatMap((node) => (node.selectionSet ? [node.selectionSet] : []));
  const fields: FieldPlan[] = [];
  for (const [key, subNodes] of collect(schema, fragments, type, sets)) fields.push(planField(schema, fragments, type, key, subNodes));
  return { kind: 'object', fields };
}

function planField(schema: GraphQLSchema, fragments: Record<string, FragmentDefinitionNode>, parentType: GraphQLObjectType, key: string, nodes: readonly FieldNode[]): FieldPlan {
  const name = nodes[0]!.name.value;
  if (name === '__typename') {
    const def = TypeNameMetaFieldDef as GraphQLField<unknown, unknown>;
    return { key, parentType, def, nodes, read: undefined, typename: parentType.name, value: { kind: 'nonNull', of: { kind: 'leaf', type: GraphQLString } }, leaf: GraphQLString };
  }
  const def = parentType.getFields()[name];
  // Arguments are coerced per field by graphql-js (and may fail); resolvers that are not marked
  // may use the context, the arguments or the info.
  if (!def || name.startsWith('__') || def.args.length > 0) throw new NotPlanned();
  let read: Read | undefined;
  if (def.resolve) {
    if (!(def.resolve as unknown as Record<symbol, boolean>)[readsSourceOnly]) throw new NotPlanned();
    read = def.resolve as unknown as Read;
  }
  const value = planValue(schema, fragments, def.type, nodes);
  const leaf = value.kind === 'leaf' ? value.type : value.kind === 'nonNull' && value.of.kind === 'leaf' ? value.of.type : undefined;
  return { key, parentType, def, nodes, read, typename: undefined, value, leaf };
}

/**
 * graphql-js' collectFields without directives: fields by response key in the order first seen,
 * through inline fragments and fragment spreads whose type condition the type satisfies, each
 * named fragment once per selection.
 */
function collect(schema: GraphQLSchema, fragments: Record<string, FragmentDefinitionNode>, type: GraphQLObjectType, sets: readonly SelectionSetNode[]): Map<string, FieldNode[]> {
  const fields = new Map<string, FieldNode[]>();
  const visited = new Set<string>();
  const walk = (set: SelectionSetNode): void => {
    for (const sel of set.selections) {
      if (sel.kind === Kind.FIELD) {
        const key = sel.alias?.value ?? sel.name.value;
        const list = fields.get(key);
        if (list) list.push(sel);
        else fields.set(key, [sel]);
      } else if (sel.kind === Kind.INLINE_FRAGMENT) {
        if (matches(schema, type, sel.typeCondition?.name.value)) walk(sel.selectionSet);
      } else {
        const name = sel.name.value;
        if (visited.has(name)) continue;
        visited.add(name);
        const fragment = fragments[name];
        if (fragment && matches(schema, type, fragment.typeCondition.name.value)) walk(fragment.selectionSet);
      }
    }
  };
  for (const set of sets) walk(set);
  return fields;
}

/**
 * graphql-js' doesFragmentConditionMatch for an object type, asking the type's interfaces and the
 * union's members rather than the schema's map of implementations (which a tenant's schema view
 * collects only when read).
 */
function matches(schema: GraphQLSchema, type: GraphQLObjectType, condition: string | undefined): boolean {
  if (condition === undefined || condition === type.name) return true;
  const conditional = schema.getType(condition);
  if (isInterfaceType(conditional)) return type.getInterfaces().includes(conditional);
  if (isUnionType(conditional)) return conditional.getTypes().includes(type);
  return false;
}

/**
 * One execution: its errors in the order graphql-js reports them, the path being completed, and
 * the nodes of the executed document (the plan's own, or those at the same places of another
 * document of the plan's shape).
 */
class Completion {
  readonly errors: GraphQLError[] = [];
  readonly path: (string | number)[] = [];
  /** The type name of each key of the path (undefined for list indexes), as graphql-js' Path has it. */
  readonly typenames: (string | undefined)[] = [];
  readonly args: ExecutionArgs;
  readonly plan: OperationPlan;
  readonly operation: OperationDefinitionNode;
  variables: Record<string, unknown> = {};
  private ownFragments: Record<string, FragmentDefinitionNode> | undefined;
  constructor(args: ExecutionArgs, plan: OperationPlan) {
    this.args = args;
    this.plan = plan;
    this.operation = plan.operationPath ? follow(args.document, plan.operationPath, Kind.OPERATION_DEFINITION, plan.operation.name?.value) : plan.operation;
  }

  /** The nodes of a field of the plan in the executed document. */
  nodes(field: FieldPlan): readonly FieldNode[] {
    return field.paths ? field.paths.map((path) => follow(this.args.document, path, Kind.FIELD, field.nodes[0]!.name.value)) : field.nodes;
  }

  get fragments(): Record<string, FragmentDefinitionNode> {
    if (this.plan.document !== undefined) return this.plan.fragments;
    if (!this.ownFragments) {
      this.ownFragments = Object.create(null) as Record<string, FragmentDefinitionNode>;
      for (const def of this.args.document.definitions) if (def.kind === Kind.FRAGMENT_DEFINITION) this.ownFragments[def.name.value] = def;
    }
    return this.ownFragments;
  }
}

/**
 * The plan without its document: each field keeps one node (its name, for the checks of follow)
 * and the paths of all, the operation its path; a document of the plan's shape supplies the nodes
 * at execution. Two documents of one shape have the same text but for their string, number and
 * enum literals (documentShape), so the same tree of nodes; only literals, and the locations after
 * them, differ. The FieldNode kept is a copy without location, selections or arguments, so that
 * it holds nothing of the document.
 */
function detached(plan: OperationPlan): OperationPlan {
  const paths = pathsOf(plan.document!);
  const field = (f: FieldPlan): FieldPlan => ({
    ...f,
    nodes: [{ kind: Kind.FIELD, name: { kind: Kind.NAME, value: f.nodes[0]!.name.value } }],
    paths: f.nodes.map((node) => paths.get(node)!),
    value: value(f.value),
  });
  const value = (v: ValuePlan): ValuePlan => (v.kind === 'nonNull' || v.kind === 'list' ? { kind: v.kind, of: value(v.of) }
    : v.kind === 'object' ? { kind: 'object', fields: v.fields.map(field) } : v);
  const operation: OperationDefinitionNode = { kind: Kind.OPERATION_DEFINITION, operation: plan.operation.operation, name: plan.operation.name && { kind: Kind.NAME, value: plan.operation.name.value }, selectionSet: { kind: Kind.SELECTION_SET, selections: [] } };
  return { document: undefined, operation, operationPath: paths.get(plan.operation)!, fragments: Object.create(null), rootType: plan.rootType, root: field(plan.root) };
}

/** The node at a path of a document, checked to be of the kind and name the plan expects. */
function follow<T extends ASTNode>(document: DocumentNode, path: NodePath, kind: T['kind'], name: string | undefined): T {
  let at: unknown = document;
  for (const key of path) at = (at as Record<string | number, unknown> | undefined)?.[key];
  const found = at as T | undefined;
  if (found?.kind !== kind || (found && 'name' in found ? found.name?.value : undefined) !== name) {
    throw new Error(`a document executed from the plan of another shape: no ${kind} ${name ?? ''} at its place`);
  }
  return found;
}

/** Where a node of a plan's document is: the keys from the document down to it. */
type NodePath = readonly (string | number)[];

function pathsOf(document: DocumentNode): Map<ASTNode, NodePath> {
  const paths = new Map<ASTNode, NodePath>();
  const walk = (value: unknown, path: NodePath): void => {
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) walk(value[i], [...path, i]);
      return;
    }
    const node = value as ASTNode | null | undefined;
    if (typeof node?.kind !== 'string') return;
    if (node.kind === Kind.FIELD || node.kind === Kind.OPERATION_DEFINITION) paths.set(node, path);
    for (const key of (QueryDocumentKeys as Record<string, readonly string[]>)[node.kind] ?? []) walk((node as unknown as Record<string, unknown>)[key], [...path, key]);
  };
  walk(document, []);
  return paths;
}

/** Executes an operation from its plan (what graphql-js' execute would give), for the plan's document or another of its shape. */
export function executePlan(planned: OperationPlan, args: ExecutionArgs): ExecutionResult | Promise<ExecutionResult> {
  const plan = planned.document === undefined || planned.document === args.document ? planned : detached(planned);
  const c = new Completion(args, plan);
  const coerced = getVariableValues(args.schema, c.operation.variableDefinitions ?? [], args.variableValues ?? {}, { maxErrors: 50, hideSuggestions: args.hideSuggestions ?? false });
  if (coerced.errors) return { errors: coerced.errors };
  c.variables = coerced.coerced;
  const root = plan.root;
  c.path.push(root.key);
  c.typenames.push(plan.rootType.name);
  let result: unknown;
  try {
    const fieldArgs = getArgumentValues(root.def, c.nodes(root)[0]!, c.variables);
    const info = infoOf(c, root, args.rootValue);
    result = (root.def.resolve ?? defaultFieldResolver)(args.rootValue, fieldArgs, args.contextValue, info);
  } catch (raw) {
    return respond(c, rootError(c, raw));
  }
  if (isThenable(result)) return Promise.resolve(result).then((resolved) => respond(c, completeRoot(c, resolved)), (raw: unknown) => respond(c, rootError(c, raw)));
  return respond(c, completeRoot(c, result));
}

function completeRoot(c: Completion, result: unknown): unknown {
  try {
    return completeValue(c, c.plan.root, c.plan.root.value, result);
  } catch (raw) {
    return rootError(c, raw);
  }
}

/** A root field's error: its value is null, and so is the whole data when the field is non-null. */
function rootError(c: Completion, raw: unknown): unknown {
  const root = c.plan.root;
  c.errors.push(locatedError(raw, c.nodes(root), [root.key]));
  return root.value.kind === 'nonNull' ? noData : null;
}

const noData = Symbol('no data');

function respond(c: Completion, value: unknown): ExecutionResult {
  let data: Record<string, unknown> | null = null;
  if (value !== noData) {
    data = resultObject();
    data[c.plan.root.key] = value;
  }
  return c.errors.length === 0 ? { data } : { errors: c.errors, data };
}

/** graphql-js' completeValue, for the value of `field` at the current path. */
function completeValue(c: Completion, field: FieldPlan, plan: ValuePlan, result: unknown): unknown {
  if (result instanceof Error) throw result;
  if (plan.kind === 'nonNull') {
    const completed = completeValue(c, field, plan.of, result);
    if (completed === null) throw nullForNonNull(field);
    return completed;
  }
  if (result == null) return null;
  if (isThenable(result)) throw promiseBelow(field);
  switch (plan.kind) {
    case 'leaf':
      return serializeLeaf(plan.type, result);
    case 'list':
      return completeList(c, field, plan.of, result);
    case 'object':
      return completeObject(c, plan.fields, result);
  }
}

/** A leaf value as the type serializes it; graphql-js' words when it serializes to nothing. */
function serializeLeaf(type: GraphQLLeafType, result: unknown): unknown {
  const serialized = type.serialize(result);
  if (serialized == null) throw new Error(`Expected \`${inspect(type)}.serialize(${inspect(result)})\` to return non-nullable value, returned: ${inspect(serialized)}`);
  return serialized;
}

function nullForNonNull(field: FieldPlan): Error {
  return new Error(`Cannot return null for non-nullable field ${field.parentType.name}.${field.def.name}.`);
}

function promiseBelow(field: FieldPlan): Error {
  return new Error(`a value below ${field.parentType.name}.${field.def.name} is a promise, which a planned operation does not complete`);
}

function completeList(c: Completion, field: FieldPlan, item: ValuePlan, result: unknown): unknown[] {
  if (typeof result !== 'object' || typeof (result as Iterable<unknown>)[Symbol.iterator] !== 'function') {
    throw new GraphQLError(`Expected Iterable, but did not find one for field "${field.parentType.name}.${field.def.name}".`);
  }
  const out: unknown[] = [];
  let index = 0;
  for (const value of result as Iterable<unknown>) {
    c.path.push(index++);
    c.typenames.push(undefined);
    try {
      out.push(completeValue(c, field, item, value));
    } catch (raw) {
      const error = locatedError(raw, c.nodes(field), c.path.slice());
      if (item.kind === 'nonNull') throw error;
      c.errors.push(error);
      out.push(null);
    } finally {
      c.path.pop();
      c.typenames.pop();
    }
  }
  return out;
}

/**
 * An object without a prototype, as graphql-js makes its results. Object.create(null) would give
 * one in V8's dictionary mode, whose JSON.stringify costs twice as much (a list of 500 CronTabs:
 * 1.2 ms against 0.6); a literal whose prototype is then removed keeps its fast properties.
 */
function resultObject(): Record<string, unknown> {
  return Object.setPrototypeOf({}, null) as Record<string, unknown>;
}

function completeObject(c: Completion, fields: readonly FieldPlan[], source: unknown): Record<string, unknown> {
  const out = resultObject();
  for (const field of fields) out[field.key] = field.leaf ? completeLeafField(c, field, field.leaf, source) : completeField(c, field, source);
  return out;
}

/** A field of an object whose value is a list or an object: the path is kept for the errors and resolvers below it. */
function completeField(c: Completion, field: FieldPlan, source: unknown): unknown {
  c.path.push(field.key);
  c.typenames.push(field.parentType.name);
  try {
    return completeValue(c, field, field.value, readField(c, field, source, true));
  } catch (raw) {
    const error = locatedError(raw, c.nodes(field), c.path.slice());
    if (field.value.kind === 'nonNull') throw error;
    c.errors.push(error);
    return null;
  } finally {
    c.path.pop();
    c.typenames.pop();
  }
}

/**
 * A field of an object whose value is a leaf (most fields of a list's objects): completeValue's
 * checks in its order, without pushing the field onto the path, which only its error (or the info
 * of a property that is a function) needs.
 */
function completeLeafField(c: Completion, field: FieldPlan, type: GraphQLLeafType, source: unknown): unknown {
  try {
    const result = readField(c, field, source, false);
    if (result instanceof Error) throw result;
    if (result == null) {
      if (field.value.kind === 'nonNull') throw nullForNonNull(field);
      return null;
    }
    if (isThenable(result)) throw promiseBelow(field);
    return serializeLeaf(type, result);
  } catch (raw) {
    const error = locatedError(raw, c.nodes(field), [...c.path, field.key]);
    if (field.value.kind === 'nonNull') throw error;
    c.errors.push(error);
    return null;
  }
}

/**
 * What the field's resolver gives: the marked resolver, __typename, or graphql-js' default resolver.
 * `onPath`: the field is the path's last key (else a resolver's info gets it added).
 */
function readField(c: Completion, field: FieldPlan, source: unknown, onPath: boolean): unknown {
  if (field.typename !== undefined) return field.typename;
  if (field.read) return field.read(source);
  if ((typeof source !== 'object' || source === null) && typeof source !== 'function') return undefined;
  const property = (source as Record<string, unknown>)[field.def.name];
  if (typeof property !== 'function') return property;
  if (onPath) return defaultFieldResolver(source, {}, c.args.contextValue, infoOf(c, field, c.args.rootValue));
  c.path.push(field.key);
  c.typenames.push(field.parentType.name);
  try {
    return defaultFieldResolver(source, {}, c.args.contextValue, infoOf(c, field, c.args.rootValue));
  } finally {
    c.path.pop();
    c.typenames.pop();
  }
}

/** The info graphql-js gives a resolver, for the current path. */
function infoOf(c: Completion, field: FieldPlan, rootValue: unknown): GraphQLResolveInfo {
  let path: GraphQLResolveInfo['path'] | undefined;
  for (let i = 0; i < c.path.length; i++) path = { prev: path, key: c.path[i]!, typename: c.typenames[i] };
  return {
    fieldName: field.def.name,
    fieldNodes: c.nodes(field),
    returnType: field.def.type,
    parentType: field.parentType,
    path: path!,
    schema: c.args.schema,
    fragments: c.fragments,
    rootValue,
    operation: c.operation,
    variableValues: c.variables,
  };
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === 'function';
}
