// Limits on what one GraphQL document may ask for, so a single request cannot make the gateway or
// the apiserver do unbounded work: depth, aliases and directives (graphql-armor's validation
// rules), tokens (graphql-js' own parser limit), and a cost where a list field counts once per
// object of the page it asks for. Introspection and "Did you mean …?" suggestions are off in
// production mode. Every refusal is the catalog's BAD_REQUEST and names the limit and its setting.
import { HeaderMap, type ApolloServerPlugin } from '@apollo/server';
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives';
import {
  getNamedType, GraphQLError, isInterfaceType, isObjectType, Kind,
  type DocumentNode, type FragmentDefinitionNode, type GraphQLCompositeType, type GraphQLSchema,
  type OperationDefinitionNode, type SelectionSetNode, type ValidationContext, type ValueNode,
} from 'graphql';
import { ApiError } from '../api-errors.ts';
import type { GatewayPlugin } from './gateway-plugin.ts';

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

export function limitError(limit: keyof QueryLimits, message: string): ApiError {
  return new ApiError('BAD_REQUEST', `${message} (limit ${limit}, set with ${settingOf[limit]})`, { reason: 'QueryLimitExceeded' });
}

/** graphql-armor's rules, reporting our error instead of throwing theirs. */
export function limitRules(limits: QueryLimits): ((context: ValidationContext) => unknown)[] {
  const report = (limit: keyof QueryLimits) => ({
    exposeLimits: true,
    propagateOnRejection: false,
    onReject: [(ctx: ValidationContext | null, err: GraphQLError) => {
      const e = limitError(limit, err.message.replace(/^Syntax Error: /, '').replace(/\.$/, ''));
      ctx?.reportError(new GraphQLError(e.message, { extensions: e.extensions, originalError: e }));
    }],
  });
  return [
    maxDepthRule({ n: limits.maxDepth, ...report('maxDepth') }),
    maxAliasesRule({ n: limits.maxAliases, ...report('maxAliases') }),
    maxDirectivesRule({ n: limits.maxDirectives, ...report('maxDirectives') }),
  ];
}

/**
 * The cost of one operation: every selected field costs 1 each time it is resolved, and a field
 * with a limit/first argument (a Kubernetes list) multiplies what is below it by its page size
 * (the default page when the argument is absent). A subscription's cost is multiplied by
 * subscriptionCostFactor. Introspection fields are free (introspection is off in production).
 */
export function operationCost(schema: GraphQLSchema, document: DocumentNode, operationName: string | null | undefined,
  variables: Record<string, unknown> | undefined, limits: Pick<QueryLimits, 'defaultPageSize' | 'subscriptionCostFactor'>): number {
  const fragments = new Map<string, FragmentDefinitionNode>();
  let operation: OperationDefinitionNode | undefined;
  for (const d of document.definitions) {
    if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
    else if (d.kind === Kind.OPERATION_DEFINITION && (!operationName ? !operation : d.name?.value === operationName)) operation = d;
  }
  if (!operation) return 0;
  const root = schema.getRootType(operation.operation);
  if (!root) return 0;
  const defaults = new Map<string, ValueNode>();
  for (const v of operation.variableDefinitions ?? []) if (v.defaultValue) defaults.set(v.variable.name.value, v.defaultValue);
  const numberOf = (value: ValueNode | undefined): number | undefined => {
    if (!value) return undefined;
    if (value.kind === Kind.INT) return Number(value.value);
    if (value.kind === Kind.VARIABLE) {
      const given = variables?.[value.name.value];
      if (typeof given === 'number') return given;
      if (given === undefined) return numberOf(defaults.get(value.name.value));
    }
    return undefined;
  };
  const walk = (set: SelectionSetNode, type: GraphQLCompositeType, multiplier: number, path: Set<string>): number => {
    let cost = 0;
    for (const sel of set.selections) {
      if (sel.kind === Kind.FIELD) {
        if (sel.name.value.startsWith('__')) continue;
        if (!isObjectType(type) && !isInterfaceType(type)) continue;
        const def = type.getFields()[sel.name.value];
        if (!def) continue;
        let inner = multiplier;
        if (def.args.some((a) => a.name === 'limit' || a.name === 'first')) {
          const arg = (n: string) => numberOf(sel.arguments?.find((a) => a.name.value === n)?.value);
          const page = arg('limit') ?? arg('first') ?? limits.defaultPageSize;
          inner = multiplier * Math.max(1, page);
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
        const t = schema.getType(f.typeCondition.name.value) as GraphQLCompositeType | undefined;
        if (!t) continue;
        path.add(name);
        cost += walk(f.selectionSet, t, multiplier, path);
        path.delete(name);
      }
    }
    return cost;
  };
  const cost = walk(operation.selectionSet, root, 1, new Set());
  return operation.operation === 'subscription' ? cost * limits.subscriptionCostFactor : cost;
}

/** The cost check as an Apollo plugin: it runs once the operation is known, with its variables. */
export function costLimitPlugin(limits: QueryLimits): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation(rc) {
          const cost = operationCost(rc.schema, rc.document, rc.operationName, rc.request.variables, limits);
          // A tenant rule may set its own cost limit (higher or lower than the gateway's).
          const max = (rc.contextValue as { maxCost?: number }).maxCost ?? limits.maxCost;
          if (cost > max) {
            const e = limitError('maxCost', `the operation costs ${cost}, more than the limit of ${max}; ask for smaller pages (limit/first) or fewer fields`);
            throw new GraphQLError(e.message, {
              originalError: e,
              extensions: { ...e.extensions, cost, http: { status: 400, headers: new HeaderMap() } },
            });
          }
        },
      };
    },
  };
}

/**
 * The query-limits plugin. Apollo re-labels validation and parse errors (GRAPHQL_VALIDATION_FAILED,
 * GRAPHQL_PARSE_FAILED); formatError gives ours their catalog code back.
 */
export function queryLimits(opts: { limits?: Partial<QueryLimits>; mode?: GatewayMode } = {}): GatewayPlugin {
  const limits = { ...defaultQueryLimits, ...opts.limits };
  const local = opts.mode === 'local';
  return {
    name: 'query-limits',
    checkOperation: ({ schema, document, operationName, variables, context }) => {
      const cost = operationCost(schema, document, operationName, variables, limits);
      const max = context.maxCost ?? limits.maxCost;
      if (cost > max) {
        throw limitError('maxCost', `the operation costs ${cost}, more than the limit of ${max}; ask for smaller pages (limit/first) or fewer fields`);
      }
    },
    // A list without limit/first gets the page the cost was computed for, so the cost is honest
    // and no request can pull a whole collection in one answer.
    wrapOperations: (ops) => ({
      ...ops,
      list: (req) => ops.list(req.args.limit ? req : { ...req, args: { ...req.args, limit: limits.defaultPageSize } }),
    }),
    apollo: {
      validationRules: limitRules(limits) as never,
      parseOptions: { maxTokens: limits.maxTokens },
      plugins: [costLimitPlugin(limits)],
      introspection: local,
      hideSchemaDetailsFromClientErrors: !local,
      formatError: (formatted, error) => {
        const original = (error as GraphQLError | undefined)?.originalError;
        if (original instanceof ApiError) {
          return { ...formatted, message: original.message, extensions: { ...formatted.extensions, ...original.extensions } };
        }
        const tokens = /Document contains more tha[nt] (\d+) tokens/.exec(formatted.message);
        if (tokens) {
          const e = limitError('maxTokens', `the document has more than ${tokens[1]} tokens`);
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
      },
    },
  };
}
