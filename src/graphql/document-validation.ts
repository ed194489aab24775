// Validation of executable documents whose cost follows the document, not the schema. graphql-js'
// KnownTypeNamesRule lists every type name of the schema each time a document is validated, only
// to suggest names should one be unknown: with a thousand CRDs (~150,000 types) that list costs
// tens of milliseconds per new document. Every other specified rule costs what the document costs.
// The rule set here is graphql-js' specifiedRules, in their order, with that one rule replaced by
// an equivalent whose list is built only for an unknown name, and only when suggestions are on.
//
// A new document pays, besides its own cost, a fixed cost per validation: graphql-js runs the ~30
// rules' visitors in parallel through a visitor it assembles for every kind of AST node (~45
// kinds × ~30 rules looked up), though a document has a dozen kinds. The rules here run in
// parallel through an equivalent that looks up the rules' handlers of a kind when the first node
// of that kind is visited. And three rules walk each operation a second time to find the
// variables it uses: for a document without any variable (values inline) they are left out.
//
// Clients that write their values inline send a new document with every request, almost always of
// a shape seen before: the same text but for its string, number and enum literals. Only two rules
// read those values; a document of a shape found valid before is checked by them alone, in the
// gateway's case literal by literal (ValidatedDocuments).
import {
  assertValidSchema, BREAK, getEnterLeaveForKind, getNamedType, getNullableType, GraphQLError, isEnumType, isLeafType, isListType, isTypeDefinitionNode, isTypeSystemDefinitionNode, isTypeSystemExtensionNode,
  introspectionTypes, Kind, KnownTypeNamesRule, NoUndefinedVariablesRule, NoUnusedVariablesRule, OverlappingFieldsCanBeMergedRule, specifiedRules, specifiedScalarTypes, TypeInfo,
  ValidationContext, ValuesOfCorrectTypeRule, VariablesInAllowedPositionRule, visit, visitWithTypeInfo,
  type ASTNode, type DirectiveNode, type EnumValueNode, type FragmentDefinitionNode, type FloatValueNode, type GraphQLInputType, type IntValueNode, type SelectionNode, type StringValueNode, type ASTVisitor, type ASTVisitFn, type DocumentNode, type GraphQLSchema, type ValidationRule,
} from 'graphql';
import { QueryDocumentKeys } from 'graphql/language/ast.js';
import { printForError } from 'graphql/language/printer.js';
import { didYouMean } from 'graphql/jsutils/didYouMean.js';
import { suggestionList } from 'graphql/jsutils/suggestionList.js';
import { validationAbortedError } from 'graphql/validation/validationAbortedError.js';
import { LRUCache } from 'lru-cache';

const standardTypeNames = new Set([...specifiedScalarTypes, ...introspectionTypes].map((t) => t.name));

/**
 * KnownTypeNamesRule, with the same errors. Names are looked up in the schema's type map. For a
 * name that is not there, "Did you mean" is made as graphql-js makes it, from the names whose
 * length could be near enough (the others are past its edit distance bound anyway), for the first
 * few unknown names of a document only: each costs a pass over every type name of the schema
 * (~150,000 at a thousand CRDs), which a document of a hundred made-up names would otherwise pay
 * a hundred times. Later ones, and all when suggestions are hidden, get graphql-js' message
 * without suggestions.
 */
export function KnownTypeNamesWithoutListRule(context: ValidationContext): ASTVisitor {
  const schema = context.getSchema();
  const defined = new Set<string>();
  for (const def of context.getDocument().definitions) {
    if (isTypeDefinitionNode(def)) defined.add(def.name.value);
  }
  // The names that get suggestions, the first few distinct ones met; their suggestions per place (SDL or not).
  const suggestedNames = new Set<string>();
  const suggestedFor = new Map<string, string[]>();
  return {
    NamedType(node, _key, parent, _path, ancestors) {
      const name = node.name.value;
      if (schema?.getType(name) || defined.has(name)) return;
      const definition = (ancestors[2] ?? parent) as ASTNode | readonly ASTNode[] | undefined;
      const isSDL = definition !== undefined && 'kind' in definition
        && (isTypeSystemDefinitionNode(definition) || isTypeSystemExtensionNode(definition));
      if (isSDL && standardTypeNames.has(name)) return;
      if (!context.hideSuggestions && suggestedNames.size < maxSuggestedNamesPerDocument) suggestedNames.add(name);
      const key = `${isSDL ? 'sdl' : 'doc'}:${name}`;
      let suggested = suggestedFor.get(key) ?? [];
      if (!suggestedFor.has(key) && suggestedNames.has(name)) {
        const names = [...(isSDL ? standardTypeNames : []), ...(schema ? typeNamesOf(schema) : []), ...defined];
        const bound = Math.floor(name.length * 0.4) + 1;
        suggested = suggestionList(name, names.filter((n) => Math.abs(n.length - name.length) <= bound));
        suggestedFor.set(key, suggested);
      }
      context.reportError(new GraphQLError(`Unknown type "${name}".${didYouMean(suggested)}`, { nodes: node }));
    },
  };
}

/** Distinct unknown type names of one document that get "Did you mean" (see KnownTypeNamesWithoutListRule). */
const maxSuggestedNamesPerDocument = 3;

const typeNamesOfSchema = new WeakMap<GraphQLSchema, readonly string[]>();

/** The schema's type names, listed once per schema (only for a document that needs suggestions). */
function typeNamesOf(schema: GraphQLSchema): readonly string[] {
  let names = typeNamesOfSchema.get(schema);
  if (!names) {
    names = Object.keys(schema.getTypeMap());
    typeNamesOfSchema.set(schema, names);
  }
  return names;
}

/** graphql-js' specifiedRules, in order, with KnownTypeNamesRule replaced (see above). */
export const documentRules: readonly ValidationRule[] = Object.freeze(
  specifiedRules.map((rule) => (rule === KnownTypeNamesRule ? KnownTypeNamesWithoutListRule : rule)),
);

export interface DocumentValidationOptions {
  /** Rules run after the specified ones (limits, no introspection). */
  readonly rules?: readonly ValidationRule[];
  /** No "Did you mean …?" in the messages (and no work to find suggestions). */
  readonly hideSuggestions?: boolean;
}

type VisitFn = ASTVisitFn<ASTNode>;

/** The handlers of one kind of node, per visitor (null: no visitor has one). */
interface KindHandlers {
  readonly enter: (VisitFn | undefined)[];
  readonly leave: (VisitFn | undefined)[];
}

/**
 * graphql-js' visitInParallel, with the same calls, order, skipping (a handler returning false
 * skips that visitor's handlers inside the node), BREAK (that visitor stops) and edits (the first
 * other value returned is the result); each kind's handlers are looked up, with graphql-js'
 * getEnterLeaveForKind, when the first node of that kind is visited instead of for every kind
 * up front.
 */
export function visitInParallelByNeed(visitors: readonly ASTVisitor[]): ASTVisitor {
  const skipping: unknown[] = new Array(visitors.length).fill(null);
  const byKind = new Map<string, KindHandlers | null>();
  const handlersOf = (kind: string): KindHandlers | null => {
    let handlers = byKind.get(kind);
    if (handlers !== undefined) return handlers;
    const enter = new Array<VisitFn | undefined>(visitors.length);
    const leave = new Array<VisitFn | undefined>(visitors.length);
    let any = false;
    for (let i = 0; i < visitors.length; i++) {
      const found = getEnterLeaveForKind(visitors[i]!, kind as never) as { enter?: VisitFn; leave?: VisitFn };
      enter[i] = found.enter;
      leave[i] = found.leave;
      any ||= found.enter != null || found.leave != null;
    }
    handlers = any ? { enter, leave } : null;
    byKind.set(kind, handlers);
    return handlers;
  };
  return {
    enter(node, key, parent, path, ancestors) {
      const handlers = handlersOf(node.kind);
      if (!handlers) return undefined;
      for (let i = 0; i < visitors.length; i++) {
        if (skipping[i] !== null) continue;
        const result: unknown = handlers.enter[i]?.call(visitors[i], node, key, parent, path, ancestors);
        if (result === false) skipping[i] = node;
        else if (result === BREAK) skipping[i] = BREAK;
        else if (result !== undefined) return result;
      }
      return undefined;
    },
    leave(node, key, parent, path, ancestors) {
      const handlers = handlersOf(node.kind);
      if (!handlers) return undefined;
      for (let i = 0; i < visitors.length; i++) {
        if (skipping[i] === null) {
          const result: unknown = handlers.leave[i]?.call(visitors[i], node, key, parent, path, ancestors);
          if (result === BREAK) skipping[i] = BREAK;
          else if (result !== undefined && result !== false) return result;
        } else if (skipping[i] === node) skipping[i] = null;
      }
      return undefined;
    },
  };
}

/**
 * The rules that report only about variables: what they check is the variables an operation
 * uses (found by a second walk of the operation and its fragments, with the types at each place)
 * against those it defines. A document without a variable node has neither, so they report nothing.
 */
const variableRules: ReadonlySet<ValidationRule> = new Set([NoUndefinedVariablesRule, NoUnusedVariablesRule, VariablesInAllowedPositionRule]);

/**
 * True when a variable ($name) is anywhere in the node: every property of every node is looked
 * at (a superset of what validation visits), locations aside.
 */
export function hasVariableNode(root: ASTNode): boolean {
  const stack: unknown[] = [root];
  while (stack.length) {
    const value = stack.pop();
    if (Array.isArray(value)) {
      for (const item of value) if (typeof item === 'object' && item !== null) stack.push(item);
      continue;
    }
    const node = value as Record<string, unknown>;
    if (node['kind'] === Kind.VARIABLE) return true;
    for (const key in node) {
      if (key === 'loc') continue;
      const child = node[key];
      if (typeof child === 'object' && child !== null) stack.push(child);
    }
  }
  return false;
}

/**
 * One rule that runs the given rules (each made with the validation's context, in order) in
 * parallel; the variable rules are left out for a document without variables (see above).
 */
export function rulesInParallel(rules: readonly ValidationRule[]): ValidationRule {
  const withoutVariables = rules.filter((rule) => !variableRules.has(rule));
  return (context) => {
    const active = withoutVariables.length < rules.length && !hasVariableNode(context.getDocument()) ? withoutVariables : rules;
    return visitInParallelByNeed(active.map((rule) => rule(context)));
  };
}

const documentRulesInParallel = rulesInParallel(documentRules);
const withExtraRules = new WeakMap<readonly ValidationRule[], ValidationRule>();

/**
 * The specified rules and the extra ones; errors as graphql-js' validate() reports them. A
 * subscription whose root selection may be skipped is refused first, alone (see rootConditionErrors).
 */
export function validateDocument(schema: GraphQLSchema, document: DocumentNode, options: DocumentValidationOptions = {}): readonly GraphQLError[] {
  const conditional = rootConditionErrors(document);
  if (conditional.length) return conditional;
  const extra = options.rules;
  let rule = documentRulesInParallel;
  if (extra?.length) {
    let combined = withExtraRules.get(extra);
    if (!combined) withExtraRules.set(extra, (combined = rulesInParallel([...documentRules, ...extra])));
    rule = combined;
  }
  return validateWith(schema, document, rule, options.hideSuggestions ?? false);
}

/**
 * The GraphQL specification (since its 2021 edition: "Single Root Field") does not allow @skip or
 * @include in a subscription's root selection: a subscription has exactly one root field, found
 * without variables. graphql-js 17 reports such a document with this message; graphql-js 16 throws
 * when the condition is a variable (its rule evaluates the directive without the variables) and
 * accepts a literal. Found here before the rules run, so that the client learns the real problem.
 * The root selection includes the fields of fragments spread or inlined there.
 */
function rootConditionErrors(document: DocumentNode): readonly GraphQLError[] {
  // Most documents are queries and mutations: nothing to look at, nothing made.
  if (!document.definitions.some((def) => def.kind === Kind.OPERATION_DEFINITION && def.operation === 'subscription')) return noErrors;
  const errors: GraphQLError[] = [];
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const def of document.definitions) if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);
  for (const def of document.definitions) {
    if (def.kind !== Kind.OPERATION_DEFINITION || def.operation !== 'subscription') continue;
    const conditions: DirectiveNode[] = [];
    const spread = new Set<string>();
    const walk = (selections: readonly SelectionNode[]): void => {
      for (const selection of selections) {
        for (const d of selection.directives ?? []) if (d.name.value === 'skip' || d.name.value === 'include') conditions.push(d);
        if (selection.kind === Kind.INLINE_FRAGMENT) walk(selection.selectionSet.selections);
        else if (selection.kind === Kind.FRAGMENT_SPREAD && !spread.has(selection.name.value)) {
          spread.add(selection.name.value);
          const fragment = fragments.get(selection.name.value);
          if (fragment) walk(fragment.selectionSet.selections);
        }
      }
    };
    walk(def.selectionSet.selections);
    if (!conditions.length) continue;
    const name = def.name ? `Subscription "${def.name.value}"` : 'Anonymous Subscription';
    errors.push(new GraphQLError(`${name} must not use \`@skip\` or \`@include\` directives in the top level selection.`, { nodes: conditions }));
  }
  return errors;
}

const noErrors: readonly GraphQLError[] = Object.freeze([]);

/** What validate() visits: every key of a node but descriptions (they must not affect validation). */
const keysToValidate = Object.fromEntries(Object.entries(QueryDocumentKeys).map(([kind, keys]) => [kind, keys.filter((key) => key !== 'description')]));

/**
 * graphql-js' validate() (16.x) for one rule that runs the others in parallel itself: the same
 * context, type information, error limit and aborts, without wrapping that rule's visitor in a
 * parallel visitor of one (its handlers looked up for every kind of node again).
 */
function validateWith(schema: GraphQLSchema, document: DocumentNode, rule: ValidationRule, hideSuggestions: boolean): GraphQLError[] {
  assertValidSchema(schema);
  const abort = Object.freeze({});
  const errors: GraphQLError[] = [];
  const typeInfo = new TypeInfo(schema);
  const context = new ValidationContext(schema, document, typeInfo, (error) => {
    if (errors.length >= MAX_ERRORS) {
      errors.push(new GraphQLError('Too many validation errors, error limit reached. Validation aborted.'));
      throw abort;
    }
    errors.push(error);
  }, hideSuggestions);
  try {
    visit(document, visitWithTypeInfo(typeInfo, rule(context)), keysToValidate as unknown as typeof QueryDocumentKeys);
  } catch (e) {
    if (e === validationAbortedError) errors.push(validationAbortedError);
    else if (e !== abort) throw e;
  }
  return errors;
}

/** validate()'s default limit of errors. */
const MAX_ERRORS = 100;

/**
 * The rules whose errors depend on the literal values of a document, not only on its shape (see
 * shapeOf): each literal is checked against its input type, and same-named fields must have equal
 * arguments. Every other rule here reports the same for two documents of one shape; so do the
 * extra rules marked with markShapeOnly. An extra rule not marked is counted with these.
 */
const valueRules: ReadonlySet<ValidationRule> = new Set([ValuesOfCorrectTypeRule, OverlappingFieldsCanBeMergedRule]);
const shapeOnlyRules = new WeakSet<ValidationRule>(documentRules.filter((rule) => !valueRules.has(rule)));

/**
 * Marks a rule as reporting only about a document's shape: the same errors for two documents that
 * differ only in their string, number and enum literals (it never reads those values).
 */
export function markShapeOnly<R extends ValidationRule>(rule: R): R {
  shapeOnlyRules.add(rule);
  return rule;
}

/** What marks an abstracted literal in a shape key: a lone surrogate, which no valid source has outside a string. */
const marks = ['\uD800I', '\uD800F', '\uD800S', '\uD800E'];
const markOf: Partial<Record<string, number>> = { [Kind.INT]: 0, [Kind.FLOAT]: 1, [Kind.STRING]: 2, [Kind.ENUM]: 3 };

/** A literal whose value is not part of a document's shape. */
type ShapeLiteral = IntValueNode | FloatValueNode | StringValueNode | EnumValueNode;

/** A document's shape: its key, its abstracted literals in source order, and whether it has pairs of fields the overlap rule compares. */
export interface DocumentShape {
  readonly key: string;
  readonly literals: readonly ShapeLiteral[];
  readonly overlaps: boolean;
}

/**
 * The shape of a parsed document: its source with every string, number and enum literal replaced
 * by a mark of its kind. Two documents of one key differ only in those values; names, aliases,
 * arguments, input object fields, lists, null, booleans, variables, fragments, directives,
 * comments and spacing are all in the key. `overlaps` is false when no two fields can be compared
 * by OverlappingFieldsCanBeMergedRule (no fragments, and no response name twice in a selection
 * set): that rule then reports nothing, whatever the values. Undefined for a document without
 * locations and for subscriptions (their validation evaluates @skip/@include literals).
 */
export function shapeOf(document: DocumentNode): DocumentShape | undefined {
  const source = document.loc?.source.body;
  if (source === undefined) return undefined;
  const literals: ShapeLiteral[] = [];
  let overlaps = false;
  const stack: unknown[] = [document];
  while (stack.length) {
    const value = stack.pop();
    if (Array.isArray(value)) {
      for (const item of value) if (typeof item === 'object' && item !== null) stack.push(item);
      continue;
    }
    const node = value as ASTNode;
    const kind = node.kind;
    if (markOf[kind] !== undefined) {
      if (!node.loc) return undefined;
      literals.push(node as ShapeLiteral);
      continue;
    }
    if (kind === Kind.OPERATION_DEFINITION && node.operation === 'subscription') return undefined;
    if (kind === Kind.FRAGMENT_SPREAD || kind === Kind.INLINE_FRAGMENT) overlaps = true;
    else if (kind === Kind.SELECTION_SET && !overlaps && node.selections.length > 1) overlaps = repeatsResponseName(node.selections);
    for (const key in node) {
      if (key === 'loc') continue;
      const child = (node as unknown as Record<string, unknown>)[key];
      if (typeof child === 'object' && child !== null) stack.push(child);
    }
  }
  if (literals.length === 0) return { key: source, literals, overlaps };
  // Literals never nest: in source order, each one's text is replaced by its mark.
  literals.sort((x, y) => x.loc!.start - y.loc!.start);
  let key = '';
  let at = 0;
  for (const literal of literals) {
    key += source.slice(at, literal.loc!.start) + marks[markOf[literal.kind]!];
    at = literal.loc!.end;
  }
  return { key: key + source.slice(at), literals, overlaps };
}

const shapesOfDocuments = new WeakMap<DocumentNode, DocumentShape | null>();

/** shapeOf, computed once per parsed document (validation and execution both ask for it). */
export function documentShape(document: DocumentNode): DocumentShape | undefined {
  let shape = shapesOfDocuments.get(document);
  if (shape === undefined) shapesOfDocuments.set(document, (shape = shapeOf(document) ?? null));
  return shape ?? undefined;
}

function repeatsResponseName(selections: readonly SelectionNode[]): boolean {
  const names = new Set<string>();
  for (const selection of selections) {
    if (selection.kind !== Kind.FIELD) return true;
    const name = (selection.alias ?? selection.name).value;
    if (names.has(name)) return true;
    names.add(name);
  }
  return false;
}

/**
 * The input type at each literal of a document, in source order, as ValuesOfCorrectTypeRule finds
 * them (validation's walk with TypeInfo); undefined when a literal has none, the walk meets the
 * literals in another order than the source's, or a list stands where its type is not a list.
 * ValuesOfCorrectTypeRule checks such a list as one value of the scalar at its place (JSON takes
 * `[1.5, 2.5]`), with one error at most for the whole list: its literals one by one would each
 * report theirs (`[1e400, 1e401]`: two errors instead of one).
 */
function literalTypes(schema: GraphQLSchema, document: DocumentNode, literals: readonly ShapeLiteral[]): GraphQLInputType[] | undefined {
  const typeInfo = new TypeInfo(schema);
  const types: GraphQLInputType[] = [];
  let inOrder = true;
  visit(document, visitWithTypeInfo(typeInfo, {
    enter(node) {
      if (node.kind === Kind.LIST && !isListType(getNullableType(typeInfo.getParentInputType()))) inOrder = false;
      if (markOf[node.kind] === undefined) return;
      const type = typeInfo.getInputType();
      if (!type || literals[types.length] !== node) inOrder = false;
      else types.push(type);
    },
  }), keysToValidate as unknown as typeof QueryDocumentKeys);
  return inOrder && types.length === literals.length ? types : undefined;
}

/**
 * What ValuesOfCorrectTypeRule reports for a string, number or enum literal at a place of this
 * input type (graphql-js 16's isValidValueNode): the same messages, nodes and original errors.
 */
function literalError(node: ShapeLiteral, locationType: GraphQLInputType, hideSuggestions: boolean): GraphQLError | undefined {
  const type = getNamedType(locationType);
  if (!isLeafType(type)) return new GraphQLError(`Expected value of type "${String(locationType)}", found ${printForError(node)}.`, { nodes: node });
  try {
    const parsed: unknown = isEnumType(type)
      ? (type.parseLiteral as (node: ShapeLiteral, variables: undefined, hideSuggestions: boolean) => unknown)(node, undefined, hideSuggestions)
      : type.parseLiteral(node, undefined);
    if (parsed === undefined) return new GraphQLError(`Expected value of type "${String(locationType)}", found ${printForError(node)}.`, { nodes: node });
  } catch (error) {
    if (error instanceof GraphQLError) return error;
    return new GraphQLError(`Expected value of type "${String(locationType)}", found ${printForError(node)}; ${(error as Error).message}`, { nodes: node, originalError: error as Error });
  }
  return undefined;
}

/** The errors of ValuesOfCorrectTypeRule alone for the literals of a document of a known valid shape, as validate() ends them. */
function literalErrors(literals: readonly ShapeLiteral[], types: readonly GraphQLInputType[], hideSuggestions: boolean): GraphQLError[] {
  const errors: GraphQLError[] = [];
  for (let i = 0; i < literals.length; i++) {
    const error = literalError(literals[i]!, types[i]!, hideSuggestions);
    if (!error) continue;
    if (errors.length >= MAX_ERRORS) {
      errors.push(new GraphQLError('Too many validation errors, error limit reached. Validation aborted.'));
      break;
    }
    errors.push(error);
  }
  return errors;
}

/**
 * A shape found valid. `literalTypes`, when the only rule that reads values is
 * ValuesOfCorrectTypeRule and no two fields can be compared for merging: the input type at each
 * literal, so that a document of the shape is checked literal by literal, without a walk.
 */
interface ValidShape {
  readonly literalTypes: readonly GraphQLInputType[] | undefined;
}

export interface ValidatedDocumentsOptions extends DocumentValidationOptions {
  /** Bound of the remembered shapes, in characters of their keys, per schema (default DEFAULT_SHAPE_CHARS). */
  readonly maxShapeChars?: number;
}

/** A shape longer than this is not remembered. */
export const MAX_SHAPE_ENTRY_CHARS = 16 * 1024;

/**
 * The default bound of the shapes remembered per schema, in characters of their keys: ~150 shapes
 * of a 400-character mutation. Each tenant's schema view has its own, so the bound is kept small:
 * 100 tenants' views that each see that many distinct shapes keep ~6 M characters of keys.
 */
export const DEFAULT_SHAPE_CHARS = 64 * 1024;

/**
 * The validation result of each document against each schema, remembered as long as both are in
 * use (a document is parsed once per schema and kept by the transport's document cache); and the
 * shapes of documents found valid: a new document of a known valid shape (a client that writes
 * its values inline) is validated by the rules that read values only. Its errors are those of a
 * full validation: the other rules reported nothing for the shape, and report the same for every
 * document of it.
 */
export class ValidatedDocuments {
  private readonly results = new WeakMap<GraphQLSchema, WeakMap<DocumentNode, readonly GraphQLError[]>>();
  private readonly shapes = new WeakMap<GraphQLSchema, LRUCache<string, ValidShape>>();
  private readonly options: DocumentValidationOptions;
  private readonly maxShapeChars: number;
  /** The rules a document of a known shape is validated by, with and without the overlap rule. */
  private readonly valueRule: ValidationRule;
  private readonly valueRuleWithOverlaps: ValidationRule;
  /** True when ValuesOfCorrectTypeRule and the overlap rule are the only rules that read values. */
  private readonly literalsAlone: boolean;
  private hits = 0;
  private literalHits = 0;

  constructor(options: ValidatedDocumentsOptions = {}) {
    this.options = options;
    this.maxShapeChars = options.maxShapeChars ?? DEFAULT_SHAPE_CHARS;
    const all = [...documentRules, ...(options.rules ?? [])];
    const byValue = all.filter((rule) => !shapeOnlyRules.has(rule));
    this.valueRuleWithOverlaps = rulesInParallel(byValue);
    const withoutOverlaps = byValue.filter((rule) => rule !== OverlappingFieldsCanBeMergedRule);
    this.valueRule = rulesInParallel(withoutOverlaps);
    this.literalsAlone = withoutOverlaps.length === 1 && withoutOverlaps[0] === ValuesOfCorrectTypeRule;
  }

  errors(schema: GraphQLSchema, document: DocumentNode): readonly GraphQLError[] {
    let perSchema = this.results.get(schema);
    if (!perSchema) this.results.set(schema, (perSchema = new WeakMap()));
    let errors = perSchema.get(document);
    if (!errors) perSchema.set(document, (errors = this.validate(schema, document)));
    return errors;
  }

  /** How many documents were validated by the rules that read values only (for tests and diagnostics). */
  get shapeHits(): number {
    return this.hits;
  }

  /** How many of those were checked literal by literal, without a walk (for tests and diagnostics). */
  get literalShapeHits(): number {
    return this.literalHits;
  }

  private validate(schema: GraphQLSchema, document: DocumentNode): readonly GraphQLError[] {
    const shape = documentShape(document);
    if (!shape || shape.key.length > MAX_SHAPE_ENTRY_CHARS) return validateDocument(schema, document, this.options);
    let shapes = this.shapes.get(schema);
    const known = shapes?.get(shape.key);
    const hideSuggestions = this.options.hideSuggestions ?? false;
    if (known) {
      this.hits++;
      if (known.literalTypes && !shape.overlaps) {
        this.literalHits++;
        return literalErrors(shape.literals, known.literalTypes, hideSuggestions);
      }
      return validateWith(schema, document, shape.overlaps ? this.valueRuleWithOverlaps : this.valueRule, hideSuggestions);
    }
    const errors = validateDocument(schema, document, this.options);
    if (errors.length === 0) {
      if (!shapes) this.shapes.set(schema, (shapes = new LRUCache({ maxSize: this.maxShapeChars, sizeCalculation: (_v, key) => Math.max(1, key.length) })));
      const types = this.literalsAlone && !shape.overlaps ? literalTypes(schema, document, shape.literals) : undefined;
      shapes.set(shape.key, { literalTypes: types });
    }
    return errors;
  }
}
