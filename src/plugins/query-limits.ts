// Limits on what one GraphQL document may ask for, so a single request cannot make the gateway or
// the apiserver do unbounded work: depth, aliases and directives (graphql-armor's validation
// rules), tokens (graphql-js' own parser limit), and a cost where a list field counts once per
// object of the page it asks for. Introspection and "Did you mean …?" suggestions are off in
// production mode. Every refusal is the catalog's BAD_REQUEST and names the limit and its setting.
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives';
import {
  getNamedType, GraphQLError, isInterfaceType, isObjectType, Kind, Lexer, Source, TokenKind, validate, valueFromASTUntyped,
  type DocumentNode, type FragmentDefinitionNode, type GraphQLCompositeType, type GraphQLFormattedError, type GraphQLSchema,
  type OperationDefinitionNode, type SelectionSetNode, type ValidationContext, type ValidationRule, type ValueNode,
} from 'graphql';
import { markShapeOnly } from '../graphql/document-validation.ts';
import { ApiError } from '../api-errors.ts';
import { tenantQueryLimitKeys } from '../contract/caller-context.ts';
import type { ApolloExtras, GatewayPlugin, OperationCheck } from './gateway-plugin.ts';

export interface QueryLimits {
  maxDepth: number;
  maxAliases: number;
  maxDirectives: number;
  maxTokens: number;
  maxCost: number;
  /** The page a list field is assumed to return when it has no limit/first argument. */
  defaultPageSize: number;
  /** A subscription holds an upstream watch and a socket for its lifetime: its cost is multiplied. */
  subscriptionCostFactor: number;
}

export const defaultQueryLimits: QueryLimits = {
  maxDepth: 15,
  maxAliases: 15,
  maxDirectives: 50,
  maxTokens: 5000,
  maxCost: 20_000,
  defaultPageSize: 100,
  subscriptionCostFactor: 10,
};

/** The setting that changes each limit, for error messages. */
const settingOf: Record<keyof QueryLimits, string> = {
  maxDepth: '--max-depth',
  maxAliases: '--max-aliases',
  maxDirectives: '--max-directives',
  maxTokens: '--max-tokens',
  maxCost: '--max-cost',
  defaultPageSize: '--default-page-size',
  subscriptionCostFactor: '--subscription-cost-factor',
};

export type GatewayMode = 'production' | 'local';

/** Where a limit was set: the gateway's setting, the caller's tenant rule, or either (the widest). */
type LimitSource = 'gateway' | 'tenant' | 'widest';

export function limitError(limit: keyof QueryLimits, message: string, source: LimitSource = 'gateway'): ApiError {
  const setting = source === 'tenant' ? `set by the tenant's rule, limits.${limit}`
    : source === 'widest' ? `set with ${settingOf[limit]} or a tenant rule's limits.${limit}` : `set with ${settingOf[limit]}`;
  return new ApiError('BAD_REQUEST', `${message} (limit ${limit}, ${setting})`, { reason: 'QueryLimitExceeded' });
}

/**
 * graphql-armor's rules for the limits given (any of depth, aliases, directives), reporting our
 * error instead of throwing theirs.
 */
export function limitRules(limits: Partial<Pick<QueryLimits, 'maxDepth' | 'maxAliases' | 'maxDirectives'>>,
  sourceOf: (limit: keyof QueryLimits) => LimitSource = () => 'gateway'): ((context: ValidationContext) => unknown)[] {
  const report = (limit: keyof QueryLimits) => ({
    exposeLimits: true,
    propagateOnRejection: false,
    onReject: [(ctx: ValidationContext | null, err: GraphQLError) => {
      const e = limitError(limit, err.message.replace(/^Syntax Error: /, '').replace(/\.$/, ''), sourceOf(limit));
      ctx?.reportError(new GraphQLError(e.message, { extensions: e.extensions, originalError: e }));
    }],
  });
  // They count selections, aliases and directives, never a literal value: a document's shape
  // decides their verdict (see markShapeOnly).
  return [
    ...(limits.maxDepth === undefined ? [] : [maxDepthRule({ n: limits.maxDepth, ...report('maxDepth') })]),
    ...(limits.maxAliases === undefined ? [] : [maxAliasesRule({ n: limits.maxAliases, ...report('maxAliases') })]),
    ...(limits.maxDirectives === undefined ? [] : [maxDirectivesRule({ n: limits.maxDirectives, ...report('maxDirectives') })]),
  ].map((rule) => markShapeOnly(rule as unknown as ValidationRule));
}

/**
 * The cost of one operation: every selected field costs 1 each time it is resolved, and a field
 * with a limit/first argument (a Kubernetes list, an object's children or Events) multiplies what
 * is below it by its page size (the default page when the argument is absent); a list field that
 * declares extensions.assumedListSize (an object's owners) multiplies by that. A list's where and
 * orderBy add 1 per value they hold (each operand, each orderBy field and direction). A
 * subscription's cost is multiplied by subscriptionCostFactor. Introspection fields are free
 * (introspection is off in production).
 */
export function operationCost(schema: GraphQLSchema, document: DocumentNode, operationName: string | null | undefined,
  variables: Record<string, unknown> | undefined, limits: Pick<QueryLimits, 'defaultPageSize' | 'subscriptionCostFactor'>): number {
  const operation = operationOf(document, operationName);
  return operation ? costOfOperation(schema, document, operation, variables, limits).cost : 0;
}

/** The operation a request runs: the one named, or the first when no name is given. */
function operationOf(document: DocumentNode, operationName: string | null | undefined): OperationDefinitionNode | undefined {
  let operation: OperationDefinitionNode | undefined;
  for (const d of document.definitions) {
    if (d.kind === Kind.OPERATION_DEFINITION && (!operationName ? !operation : d.name?.value === operationName)) operation = d;
  }
  return operation;
}

/**
 * The cost of one operation of a document, and whether its variables took part in it (a page
 * size, a where or orderBy given by a variable): if not, every request of it costs the same.
 */
function costOfOperation(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode,
  variables: Record<string, unknown> | undefined, limits: Pick<QueryLimits, 'defaultPageSize' | 'subscriptionCostFactor'>): { cost: number; byVariables: boolean } {
  let byVariables = false;
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const root = schema.getRootType(operation.operation);
  if (!root) return { cost: 0, byVariables };
  const defaults = new Map<string, ValueNode>();
  for (const v of operation.variableDefinitions ?? []) if (v.defaultValue) defaults.set(v.variable.name.value, v.defaultValue);
  const numberOf = (value: ValueNode | undefined): number | undefined => {
    if (!value) return undefined;
    if (value.kind === Kind.INT) return Number(value.value);
    if (value.kind === Kind.VARIABLE) {
      byVariables = true;
      const given = variables?.[value.name.value];
      if (typeof given === 'number') return given;
      if (given === undefined) return numberOf(defaults.get(value.name.value));
    }
    return undefined;
  };
  // A fragment's cost at multiplier 1: cost is linear in the multiplier, and a fragment spread k
  // times at each of n levels would otherwise be walked k^n times (a 1 KB document, minutes of CPU).
  const fragmentCosts = new Map<string, number>();
  const walk = (set: SelectionSetNode, type: GraphQLCompositeType, multiplier: number, path: Set<string>): number => {
    let cost = 0;
    for (const sel of set.selections) {
      if (sel.kind === Kind.FIELD) {
        if (sel.name.value.startsWith('__')) continue;
        if (!isObjectType(type) && !isInterfaceType(type)) continue;
        const def = type.getFields()[sel.name.value];
        if (!def) continue;
        let inner = multiplier;
        /** An argument's value as the operation gives it, variables read. */
        const given = (n: string) => {
          const node = sel.arguments?.find((a) => a.name.value === n)?.value;
          if (node && hasVariable(node)) byVariables = true;
          return node ? valueFromASTUntyped(node, variables) : undefined;
        };
        if (def.args.some((a) => a.name === 'where')) {
          // Filters and sorts are work per object of the collection, not per object returned.
          cost += multiplier * (countValues(given('where')) + countValues(given('orderBy')));
        }
        const assumed = def.extensions?.['assumedListSize'];
        const sizeOf = def.extensions?.['listSizeOf'];
        if (typeof sizeOf === 'function') {
          // A list whose size its arguments tell (applyYaml's documents).
          const args = Object.fromEntries(def.args.map((a) => [a.name, given(a.name)]));
          inner = multiplier * Math.max(1, (sizeOf as (args: Record<string, unknown>) => number)(args));
        } else if (def.args.some((a) => a.name === 'limit' || a.name === 'first')) {
          const arg = (n: string) => numberOf(sel.arguments?.find((a) => a.name.value === n)?.value);
          const asked = arg('limit') ?? arg('first');
          // A list's limit 0 is Kubernetes' "no limit", answered with the default page (wrapOperations
          // below); a relation's limit 0 is none.
          const page = asked === undefined || (asked === 0 && def.extensions?.['relation'] === undefined) ? limits.defaultPageSize : asked;
          inner = multiplier * Math.max(1, page);
        } else if (typeof assumed === 'number') {
          // A list without a page of its own (an object's owners): its declared typical size.
          inner = multiplier * assumed;
        }
        cost += multiplier;
        const named = getNamedType(def.type);
        if (sel.selectionSet && (isObjectType(named) || isInterfaceType(named) || 'getTypes' in named)) {
          cost += walk(sel.selectionSet, named as GraphQLCompositeType, inner, path);
        }
      } else if (sel.kind === Kind.INLINE_FRAGMENT) {
        const t = sel.typeCondition ? schema.getType(sel.typeCondition.name.value) as GraphQLCompositeType | undefined : type;
        if (t) cost += walk(sel.selectionSet, t, multiplier, path);
      } else {
        const name = sel.name.value;
        const f = fragments.get(name);
        // Validation refuses fragment cycles; the guard keeps an unvalidated document finite.
        if (!f || path.has(name)) continue;
        let once = fragmentCosts.get(name);
        if (once === undefined) {
          const t = schema.getType(f.typeCondition.name.value) as GraphQLCompositeType | undefined;
          path.add(name);
          once = t ? walk(f.selectionSet, t, 1, path) : 0;
          path.delete(name);
          fragmentCosts.set(name, once);
        }
        cost += multiplier * once;
      }
    }
    return cost;
  };
  const cost = walk(operation.selectionSet, root, 1, new Set());
  return { cost: operation.operation === 'subscription' ? cost * limits.subscriptionCostFactor : cost, byVariables };
}

/** Whether an argument value refers to a variable anywhere inside it. */
function hasVariable(value: ValueNode): boolean {
  if (value.kind === Kind.VARIABLE) return true;
  if (value.kind === Kind.LIST) return value.values.some(hasVariable);
  if (value.kind === Kind.OBJECT) return value.fields.some((f) => hasVariable(f.value));
  return false;
}

/**
 * operationCost, remembered per schema and operation when the operation's variables play no part
 * in it: a document sent again (a cached parse: the same nodes) is not walked again.
 */
export function rememberedOperationCost(limits: Pick<QueryLimits, 'defaultPageSize' | 'subscriptionCostFactor'>) {
  const bySchema = new WeakMap<GraphQLSchema, WeakMap<OperationDefinitionNode, number>>();
  return (schema: GraphQLSchema, document: DocumentNode, operationName: string | null | undefined, variables: Record<string, unknown> | undefined): number => {
    const operation = operationOf(document, operationName);
    if (!operation) return 0;
    let known = bySchema.get(schema);
    const remembered = known?.get(operation);
    if (remembered !== undefined) return remembered;
    const { cost, byVariables } = costOfOperation(schema, document, operation, variables, limits);
    if (!byVariables) {
      if (!known) bySchema.set(schema, (known = new WeakMap()));
      known.set(operation, cost);
    }
    return cost;
  };
}

/**
 * The parts of an argument value: each scalar (each condition of a where, each orderBy term's
 * field and direction), and each object and list, which a filter walks per object too even when
 * they hold no condition (an `or` of a thousand empty objects).
 */
export function countValues(value: unknown, depth = 0): number {
  if (value === null || value === undefined) return 0;
  if (typeof value !== 'object') return 1;
  // Bounded like any input: a value nested deeper than this costs what it has reached so far.
  if (depth > 64) return 1;
  let n = 1;
  for (const v of Array.isArray(value) ? value : Object.values(value)) n += countValues(v, depth + 1);
  return n;
}

/** The limits a document is checked against again, per request, when its caller's are narrower. */
const documentLimitKeys = ['maxDepth', 'maxAliases', 'maxDirectives', 'maxTokens'] as const;

/** Levels a document may nest beyond maxDepth (inline fragments, argument lists, input values) before it is parsed. */
const NESTING_BEYOND_DEPTH = 100;

/** The number of lexical tokens of a GraphQL source, counted up to `max + 1`, as the parser counts. */
export function countTokens(source: string, max: number): number {
  const lexer = new Lexer(new Source(source));
  let n = 0;
  while (n <= max && lexer.advance().kind !== TokenKind.EOF) n++;
  return n;
}

/**
 * The query-limits plugin. Apollo re-labels validation and parse errors (GRAPHQL_VALIDATION_FAILED,
 * GRAPHQL_PARSE_FAILED); formatError gives ours their catalog code back.
 *
 * A tenant rule may set its own limits, higher or lower than the gateway's. Parsing and Apollo's
 * validation (whose result Apollo caches per document, whoever sent it) let through the widest
 * limits any tenant has; each operation is then checked against its own caller's limits where
 * those are narrower, the result remembered per parsed document.
 */
export function queryLimits(opts: { limits?: Partial<QueryLimits>; mode?: GatewayMode } = {}): GatewayPlugin {
  const limits = { ...defaultQueryLimits, ...opts.limits };
  const local = opts.mode === 'local';
  let widest: QueryLimits = limits;
  const narrower = narrowerLimitCheck();
  const costOf = rememberedOperationCost(limits);

  const check: OperationCheck = ({ schema, document, source, operationName, variables, context }) => {
    const own = context.limits;
    const effective: QueryLimits = own ? { ...limits, ...own } : limits;
    const sourceOf = (k: keyof QueryLimits): LimitSource => (own?.[k as keyof typeof own] !== undefined ? 'tenant' : 'gateway');
    // Without a tenant rule of its own and without wider tenant rules, the shared validation applied the caller's limits.
    if (own || widest !== limits) narrower(schema, document, source, effective, widest, sourceOf);
    const cost = costOf(schema, document, operationName, variables);
    if (cost > effective.maxCost) {
      const e = limitError('maxCost', `the operation costs ${cost}, more than the limit of ${effective.maxCost}; ask for smaller pages (limit/first) or fewer fields`, sourceOf('maxCost'));
      throw new ApiError(e.code, e.message, { ...e.details, cost });
    }
  };

  return {
    name: 'query-limits',
    attach({ tenants }) {
      widest = widestLimits(limits, tenants?.tenants ?? []);
    },
    checkOperation: check,
    // A list without limit/first gets the page the cost was computed for, so the cost is honest
    // and no request can pull a whole collection in one answer.
    wrapOperations: (ops) => ({
      ...ops,
      list: (req) => ops.list(req.args.limit ? req : { ...req, args: { ...req.args, limit: limits.defaultPageSize } }),
      // The same for an object's children and Events: the page the cost counted.
      children: (req) => ops.children(req.args.limit !== undefined ? req : { ...req, args: { ...req.args, limit: limits.defaultPageSize } }),
      events: (req) => ops.events(req.args.limit !== undefined ? req : { ...req, args: { ...req.args, limit: limits.defaultPageSize } }),
    }),
    // Read once the gateway has attached its parts (and so its tenants): the widest limits.
    get apollo() {
      return apolloExtras(widest, limits, local);
    },
  };
}

/** Parsing and shared validation must let the widest tenant's documents through. */
function widestLimits(limits: QueryLimits, rules: readonly { limits?: Partial<Record<string, number>> }[]): QueryLimits {
  let w = limits;
  for (const rule of rules) {
    for (const k of tenantQueryLimitKeys) {
      const n = rule.limits?.[k];
      if (n !== undefined && n > w[k]) {
        if (w === limits) w = { ...limits };
        w[k] = n;
      }
    }
  }
  return w;
}

/**
 * Checks a document against the caller's limits where they are narrower than the widest (which
 * Apollo's shared validation applied already); the refusal, or null, is remembered per document
 * and set of narrower limits.
 */
function narrowerLimitCheck() {
  const checked = new WeakMap<DocumentNode, Map<string, ApiError | null>>();
  return (schema: GraphQLSchema, document: DocumentNode, source: string, effective: QueryLimits, widest: QueryLimits,
    sourceOf: (k: keyof QueryLimits) => LimitSource): void => {
    const narrower = documentLimitKeys.filter((k) => effective[k] < widest[k]);
    if (!narrower.length) return;
    const key = narrower.map((k) => `${k}=${effective[k]}`).join(',');
    let results = checked.get(document);
    if (!results) checked.set(document, (results = new Map()));
    let refusal = results.get(key);
    if (refusal === undefined) {
      refusal = null;
      if (narrower.includes('maxTokens') && countTokens(source, effective.maxTokens) > effective.maxTokens) {
        refusal = limitError('maxTokens', `the document has more than ${effective.maxTokens} tokens`, sourceOf('maxTokens'));
      } else {
        // Only the rules of the narrower limits; the others passed Apollo's validation already.
        const rules = limitRules(Object.fromEntries(narrower.filter((k) => k !== 'maxTokens').map((k) => [k, effective[k]])), sourceOf);
        const errors = rules.length ? validate(schema, document, rules as never) : [];
        const original = errors[0]?.originalError;
        if (errors.length) refusal = original instanceof ApiError ? original : limitError(narrower[0]!, errors[0]!.message, sourceOf(narrower[0]!));
      }
      results.set(key, refusal);
    }
    if (refusal) throw refusal;
  };
}

function apolloExtras(w: QueryLimits, limits: QueryLimits, local: boolean): ApolloExtras {
  // What refuses here is the widest limit: the gateway's, or a tenant rule's above it.
  const sourceOf = (k: keyof QueryLimits): LimitSource => (w[k] > limits[k] ? 'widest' : 'gateway');
  return {
    validationRules: limitRules(w, sourceOf) as never,
    parseOptions: { maxTokens: w.maxTokens },
    // Refused before parsing: deeper than any selection the depth limit lets through, allowing
    // for inline fragments and nested argument values.
    maxNesting: w.maxDepth + NESTING_BEYOND_DEPTH,
    introspection: local,
    hideSchemaDetailsFromClientErrors: !local,
    formatError: (formatted, error) => formatLimitError(formatted, error, local, sourceOf),
  };
}

/** Refusals of the limits in the catalog's words (graphql-js and Apollo word some of them their own way). */
function formatLimitError(formatted: GraphQLFormattedError, error: unknown, local: boolean, sourceOf: (k: keyof QueryLimits) => LimitSource): GraphQLFormattedError {
  const original = (error as GraphQLError | undefined)?.originalError;
  if (original instanceof ApiError) {
    return { ...formatted, message: original.message, extensions: { ...formatted.extensions, ...original.extensions } };
  }
  const tokens = /Document contains more tha[nt] (\d+) tokens/.exec(formatted.message);
  if (tokens) {
    const e = limitError('maxTokens', `the document has more than ${tokens[1]} tokens`, sourceOf('maxTokens'));
    return { ...formatted, message: e.message, extensions: { ...formatted.extensions, ...e.extensions } };
  }
  if (!local && formatted.extensions?.code === 'GRAPHQL_VALIDATION_FAILED' && /introspection/i.test(formatted.message)) {
    return {
      ...formatted,
      message: 'introspection is disabled in production mode (run with --mode local to enable it)',
      extensions: { ...formatted.extensions, code: 'BAD_REQUEST', httpStatus: 400 },
    };
  }
  return formatted;
}
