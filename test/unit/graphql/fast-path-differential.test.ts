// The gateway's request fast paths (parsed documents kept from their second sighting, validation
// of a known shape by its literals, execution from a shape's plan, the JSON body reader) must
// answer exactly what graphql-js' validate + execute answer with the same schema and resolvers.
// Documents of many shapes, each with literals varied in ways that change validity or meaning,
// go through the real HTTP pipeline three times each (the first sighting, the kept document, and
// for later documents of a shape the shape's paths) and are compared with graphql-js.
//
// Where the gateway differs on purpose, the comparison says so (expectedExecutionError, variableText):
// - error codes: Apollo's GRAPHQL_PARSE_FAILED, GRAPHQL_VALIDATION_FAILED and
//   OPERATION_RESOLUTION_FAILURE, BAD_USER_INPUT where Apollo's own test finds a variable that does
//   not coerce, the error's own code (an ApiError's from the catalog), else INTERNAL_SERVER_ERROR;
// - an error that is neither a GraphQLError nor an ApiError is answered as "internal error";
// - variables are read from the body with every digit (the reference gets the same lossless parse:
//   plain JSON.parse would round 9007199254740993 before any scalar saw it), and a number beyond
//   the double range in the body is refused before GraphQL sees it;
// - a validation error about a value written inline says where the value is in its argument
//   (literal-paths.ts, tested on its own): the reference's errors go through the same wording.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import {
  GraphQLError, GraphQLSchema, Kind, execute, getNullableType, print, isEnumType, isInputObjectType, isListType, isScalarType, parse, validate,
  type DocumentNode, type ExecutionResult, type GraphQLInputType,
} from 'graphql';
import { parse as parseYaml } from 'yaml';
import { ApiError, isInternalError, unwrapError } from '../../../src/api-errors.ts';
import { parseCrdText } from '../../../src/cli/crd-documents.ts';
import type { AccessRights, ResourceRef, Verb } from '../../../src/contract/access.ts';
import { DocumentCache } from '../../../src/graphql/document-cache.ts';
import { withLiteralPaths } from '../../../src/graphql/literal-paths.ts';
import { GENERIC_OBJECT } from '../../../src/graphql/relation-types.ts';
import { TenantSchemaCache } from '../../../src/graphql/tenant-schema.ts';
import { createSchemaBuilder } from '../../../src/graphql/schema-builder.ts';
import { parseJson, stringifyJson } from '../../../src/kube/lossless-json.ts';
import { crdToModel } from '../../../src/model/crd-to-model.ts';
import { rootFieldNames } from '../../../src/model/graphql-type-names.ts';
import type { ResourceModel } from '../../../src/model/resource-model.ts';
import { sampleObject } from '../../../src/model/sample-object.ts';
import { toGraphQL } from '../../../src/model/value-conversion.ts';
import { createApp } from '../../../src/transports/create-app.ts';
import { SchemaGateway } from '../../../src/transports/schema-gateway.ts';
import { corpusAvailable, corpusDir, crdFiles } from '../../helpers/crd-corpus.ts';
import { fullSelection } from '../graphql-selection.ts';
import { InMemoryOperations } from '../in-memory-operations.ts';

/** A small deterministic random source, so a failure names its seed. */
function random(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0; s ^= s >> 17; s ^= s << 5; s >>>= 0;
    return s / 4294967296;
  };
}

interface Request {
  readonly query: string;
  /** The variables as JSON text (big integers written with every digit). */
  readonly variables?: string;
  readonly operationName?: string | null;
}

interface ObservedError {
  readonly message: string;
  readonly path?: unknown;
  readonly locations?: unknown;
  readonly code?: unknown;
}

/** What a client sees of an answer: data (every digit), and each error's message, path, locations and code. */
interface Observed {
  readonly data: unknown;
  readonly errors: readonly ObservedError[] | undefined;
  /** The bodies sent to Kubernetes by writes, as JSON with every digit. */
  readonly sent: readonly string[];
}

/** The gateway in-process, over HTTP, with a kube client answering from memory. */
class Gateway {
  readonly ops: InMemoryOperations;
  readonly schema: GraphQLSchema;
  private server: Server | undefined;
  private stopApp: (() => Promise<void>) | undefined;
  private url = '';

  /** No "Did you mean" in any error (hideSchemaDetailsFromClientErrors, the gateway's setting for remote callers). */
  private readonly hideSuggestions: boolean;

  /** What graphql-js validates and executes against: the schema served, or for a tenant's view graphql-js' own schema of the view's roots. */
  private readonly referenceSchema: GraphQLSchema;

  /** `rights`: serve a tenant's view of the schema (TenantSchemaCache) instead of the full schema. */
  constructor(models: readonly ResourceModel[], options: { hideSuggestions?: boolean; rights?: AccessRights } = {}) {
    this.hideSuggestions = options.hideSuggestions ?? false;
    this.ops = new InMemoryOperations();
    const full = createSchemaBuilder({ operations: this.ops, assumeValid: true }).build([...models]);
    if (options.rights) {
      this.schema = new TenantSchemaCache().get(full.schema, full.resources, options.rights).schema;
      // Built from the view's roots (the same type objects): graphql-js collects its own type
      // map, so the view's lookups before any collection are what the gateway answers from.
      this.referenceSchema = new GraphQLSchema({
        query: this.schema.getQueryType(), mutation: this.schema.getMutationType(), subscription: this.schema.getSubscriptionType(), types: [this.schema.getType(GENERIC_OBJECT)!],
      });
    } else {
      this.schema = full.schema;
      this.referenceSchema = full.schema;
    }
  }

  async start(): Promise<void> {
    const { app, stop } = await createApp({
      gateway: new SchemaGateway(this.schema), readiness: () => ({ ready: true, reasons: [] }), explorer: false,
      apollo: { hideSchemaDetailsFromClientErrors: this.hideSuggestions },
    });
    this.stopApp = stop;
    this.server = createServer(app);
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/graphql`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
    await this.stopApp?.();
  }

  /** The request as a client sends it: the body written by hand, so that big integers keep their digits. */
  async send(request: Request): Promise<Observed> {
    const parts = [`"query":${JSON.stringify(request.query)}`];
    if (request.variables !== undefined) parts.push(`"variables":${request.variables}`);
    if (request.operationName !== undefined) parts.push(`"operationName":${JSON.stringify(request.operationName)}`);
    const calls = this.ops.calls.length;
    const response = await fetch(this.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: `{${parts.join(',')}}` });
    const body = parseJson(await response.text()) as { data?: unknown; errors?: { message: string; path?: unknown; locations?: unknown; extensions?: { code?: unknown } }[] };
    return {
      data: 'data' in body ? stringifyJson(body.data) : 'absent',
      errors: body.errors?.map((e) => ({ message: e.message, path: e.path, locations: e.locations, code: e.extensions?.code })),
      sent: this.sentSince(calls),
    };
  }

  /** graphql-js alone: parse, validate with the specified rules, execute with the same resolvers. */
  async reference(request: Request): Promise<Observed> {
    const calls = this.ops.calls.length;
    let document: DocumentNode;
    try {
      document = parse(request.query);
    } catch (error) {
      return { data: 'absent', errors: [located(error as GraphQLError, 'GRAPHQL_PARSE_FAILED')], sent: [] };
    }
    const invalid = withLiteralPaths(document, validate(this.referenceSchema, document, undefined, { hideSuggestions: this.hideSuggestions }));
    if (invalid.length) return { data: 'absent', errors: invalid.map((e) => located(e, 'GRAPHQL_VALIDATION_FAILED')), sent: [] };
    const variableValues = request.variables === undefined ? undefined : parseJson(request.variables) as Record<string, unknown>;
    const contextValue = { signal: new AbortController().signal, requestId: 'reference' };
    const result: ExecutionResult = await execute({ schema: this.referenceSchema, document, variableValues, operationName: request.operationName ?? undefined, contextValue, hideSuggestions: this.hideSuggestions });
    const coercion = result.data === undefined;
    return {
      data: result.data === undefined ? 'absent' : stringifyJson(result.data),
      errors: result.errors?.map((e) => expectedExecutionError(e, coercion)),
      sent: this.sentSince(calls),
    };
  }

  private sentSince(calls: number): string[] {
    return this.ops.calls.slice(calls).map((call) => stringifyJson({ operation: call.operation, namespace: call.request.namespace, name: call.request.name, args: call.request.args }));
  }
}

function located(e: GraphQLError, code: string): ObservedError {
  const json = e.toJSON();
  return { message: json.message, path: json.path, locations: json.locations, code };
}

const operationResolution = /^(Must provide operation name if query contains multiple operations\.|Unknown operation named ".*"\.|Must provide an operation\.)$/s;

/**
 * What the gateway answers for an execution error graphql-js reports (the intended differences):
 * variables that do not coerce are the client's (BAD_USER_INPUT); an ApiError or a GraphQLError
 * carries its own code (or Apollo's INTERNAL_SERVER_ERROR); anything else is an internal error
 * whose message is not shown.
 */
function expectedExecutionError(e: GraphQLError, coercion: boolean): ObservedError {
  // Apollo Server finds the operation itself before executing, with graphql-js' messages.
  if (coercion && operationResolution.test(e.message)) return located(e, 'OPERATION_RESOLUTION_FAILURE');
  // Apollo Server's own test (isBadUserInputGraphQLError): one variable definition, graphql-js' wording.
  const variable = e.nodes?.length === 1 && e.nodes[0]!.kind === Kind.VARIABLE_DEFINITION ? `Variable "$${e.nodes[0]!.variable.name.value}" ` : undefined;
  if (coercion && variable && e.extensions['code'] == null && ['got invalid value ', 'of required type ', 'of non-null type '].some((words) => e.message.startsWith(variable + words))) {
    return located(e, 'BAD_USER_INPUT');
  }
  const inner = unwrapError(e);
  if (isInternalError(inner) && !(inner instanceof ApiError)) return { message: 'internal error', path: e.path, locations: undefined, code: 'INTERNAL' };
  return located(e, String(e.extensions['code'] ?? (e.originalError as ApiError | undefined)?.extensions?.['code'] ?? 'INTERNAL_SERVER_ERROR'));
}

/** The root field of a request, to name it. */
function names(request: Request): string {
  return /\{\s*(\w+)/.exec(request.query)?.[1] ?? request.query.slice(0, 80);
}

/** The first place where two answers differ, short enough to read. */
function difference(actual: Observed, expected: Observed): string {
  const show = (v: unknown) => JSON.stringify(v)?.slice(0, 400);
  if (actual.data !== expected.data) return `  data: gateway ${show(actual.data)}\n  graphql-js ${show(expected.data)}`;
  if (JSON.stringify(actual.sent) !== JSON.stringify(expected.sent)) return `  sent: gateway ${show(actual.sent)}\n  graphql-js ${show(expected.sent)}`;
  const [a, e] = [actual.errors ?? [], expected.errors ?? []];
  const at = a.findIndex((error, i) => JSON.stringify(error) !== JSON.stringify(e[i]));
  return `  ${a.length} errors, graphql-js ${e.length}; error ${at < 0 ? a.length : at}: gateway ${show(a[at])}\n  graphql-js ${show(e[at < 0 ? a.length : at])}`;
}

/** Sends each request three times and compares every answer with graphql-js'; returns how many differed (with the first differences). */
async function compare(gateway: Gateway, requests: readonly Request[], failures: string[]): Promise<number> {
  let compared = 0;
  for (const request of requests) {
    for (let sighting = 1; sighting <= 3; sighting++) {
      const actual = await gateway.send(request);
      const expected = await gateway.reference(request);
      compared++;
      try {
        assert.deepEqual(actual, expected);
      } catch {
        if (failures.length < 12) failures.push(`sighting ${sighting} of ${JSON.stringify(request).slice(0, 600)}\n${difference(actual, expected)}`);
      }
    }
  }
  return compared;
}

const exampleCrd = (file: string) => crdToModel(parseYaml(readFileSync(fileURLToPath(new URL(`../../../deploy/examples/${file}`, import.meta.url)), 'utf8')));

/** Literals for an argument position: every kind, and values at the edges of Int, Int64 and doubles. */
const literals = [
  '"default"', '""', '"x y"', '"\\u00e9"', '"""block"""', '1', '0', '-1', '2147483647', '2147483648', '-2147483649', '9007199254740993', '9223372036854775807',
  '9223372036854775808', '1.5', '1e3', '1e400', 'true', 'false', 'null', 'CACHED', 'STRONG', 'CACHE', 'BOGUS', '["default"]', '[1, 2]', '[]', '{ a: 1 }', '"12"', '"-7"',
];

/**
 * A literal as a JSON value in the variables: names and block strings as strings. A number beyond
 * the double range is refused by the body reader before GraphQL sees it (a 400, on purpose: it
 * would otherwise become Infinity, then null), so 1e300 stands in for 1e400.
 */
function variableText(literal: string): string {
  if (literal === '1e400') return '1e300';
  if (literal.startsWith('"""') || /^[A-Z]/.test(literal) || literal.startsWith('{')) return JSON.stringify(literal);
  return literal;
}

/** Documents of the CronTab example: one template per shape, its holes filled with each literal. */
function cronTabDocuments(next: () => number): Request[] {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)]!;
  const ct = 'cronTab_stable_example_com';
  const list = 'cronTabList_stable_example_com';
  const create = 'createCronTab_stable_example_com';
  const selection = '{ metadata { name namespace } spec { cronSpec image replicas } }';
  const templates: ((x: string) => Request)[] = [
    (x) => ({ query: `{ ${ct}(namespace: ${x}, name: "one") ${selection} }` }),
    (x) => ({ query: `query Get { ${ct}(namespace: "default", name: ${x}) { __typename metadata { name } } }` }),
    (x) => ({ query: `{ ${list}(namespace: "default", limit: ${x}) { edges { node { metadata { name } spec { replicas } } } } }` }),
    (x) => ({ query: `{ ${list}(namespace: "default", first: ${x}, consistency: STRONG) { edges { node { metadata { name } } } } }` }),
    (x) => ({ query: `{ ${list}(namespace: "default", consistency: ${x}) { edges { node { metadata { name } } } } }` }),
    (x) => ({ query: `{ ${list}(namespace: "default", where: { spec: { replicas: { eq: ${x} } } }) { edges { node { metadata { name } spec { replicas } } } } }` }),
    (x) => ({ query: `{ ${list}(namespace: "default", orderBy: { field: ${x} }) { edges { node { metadata { name } } } } }` }),
    (x) => ({ query: `{ ${list}(namespace: "default", orderBy: [{ field: METADATA_NAME, direction: ${x} }]) { edges { node { metadata { name } } } } }` }),
    (x) => ({ query: `{ a: ${ct}(namespace: "default", name: "one") { metadata { name } } a: ${ct}(namespace: "default", name: ${x}) { metadata { name } } }` }),
    (x) => ({ query: `{ ${ct}(namespace: "default", name: "one") { metadata { name } metadata { name: namespace } } x: ${ct}(namespace: ${x}, name: "one") { spec { replicas } } }` }),
    (x) => ({ query: `query Q($n: String = ${x}) { ${ct}(namespace: "default", name: $n) { metadata { name } } }` }),
    (x) => ({ query: `query Q($l: Int = ${x}) { ${list}(namespace: "default", limit: $l) { edges { node { metadata { name } } } } }` }),
    (x) => ({ query: `query Q($l: Int) { ${list}(namespace: "default", limit: $l) { edges { node { metadata { name } } } } }`, variables: `{"l": ${variableText(x)}}` }),
    (x) => ({ query: `query Q($c: ListConsistency, $o: [CronTab_v1_stable_example_com_OrderBy!]) { ${list}(namespace: "default", consistency: $c, orderBy: $o) { edges { node { metadata { name } } } } }`,
      variables: `{"c": ${variableText(x)}, "o": {"field": ${variableText(x === 'STRONG' ? 'METADATA_NAMEX' : x)}}}` }),
    (x) => ({ query: `{ ${ct}(namespace: "default", name: "one") @include(if: ${x === 'true' ? 'false' : 'true'}) { metadata { name @skip(if: ${x === 'false'}) } spec { replicas } } }` }),
    (x) => ({ query: `query Q($c: Boolean!) { ${ct}(namespace: "default", name: ${x}) { metadata { name @include(if: $c) } } }`, variables: `{"c": ${next() < 0.5}}` }),
    (x) => ({ query: `{ ${ct}(namespace: "default", name: ${x}) { ...F } } fragment F on CronTab_v1_stable_example_com { metadata { name } spec { ...S } } fragment S on CronTab_Spec_v1_stable_example_com { replicas image }` }),
    (x) => ({ query: `{ ${ct}(namespace: "default", name: ${x}) { ... on CronTab_v1_stable_example_com { metadata { name } } ... on KubernetesResource { __typename } } }` }),
    (x) => ({ query: `{ ${ct}(namespace: "default", name: ${x}) { ...F } } fragment F on CronTab_Spec_v1_stable_example_com { replicas }` }),
    (x) => ({ query: `{ ${ct}(namespace: "default", name: ${x}) { metadata { name } } } fragment Unused on CronTab_v1_stable_example_com { metadata { name } }` }),
    (x) => ({ query: `{ ${ct}(namespace: "default", name: ${x}) { ...A } } fragment A on CronTab_v1_stable_example_com { ...B } fragment B on CronTab_v1_stable_example_com { ...A }` }),
    (x) => ({ query: `query A { ${ct}(namespace: "default", name: ${x}) { metadata { name } } } query B { ${ct}(namespace: ${x}, name: "one") { spec { replicas } } }`, operationName: pick(['A', 'B', 'C', '', null]) }),
    (x) => ({ query: `{ ${ct}(namespace: "default", name: ${x}) { metadata { name } } }`, operationName: pick(['', 'X', null]) }),
    (x) => ({ query: `{ ${ct}(namespace: "default", name: ${x}, name: "one") { metadata { name } } }` }),
    (x) => ({ query: `{ ${ct}(namespace: "default", name: ${x}, bogus: 1) { metadata { name nope } } }` }),
    (x) => ({ query: `{ __typename ${ct}(namespace: "default", name: ${x}) { metadata { name } } }` }),
    (x) => ({ query: `{ __type(name: ${x}) { name kind } }` }),
    (x) => ({ query: `{ __schema { queryType { name } } ${ct}(namespace: "default", name: ${x}) { metadata { name } } }` }),
    (x) => ({ query: `# a comment ${next() < 0.5 ? 'here' : ''}\n{   ${ct}( namespace: "default" , name: ${x} )  ${selection}   }  ` }),
    (x) => ({ query: `mutation { ${create}(namespace: "default", input: { metadata: { name: "made" }, spec: { cronSpec: "* * * * *", image: "img", replicas: ${x} } }) { metadata { name } spec { replicas } } }` }),
    (x) => ({ query: `mutation { ${create}(namespace: "default", dryRun: ${x}, input: { metadata: { name: ${x}, labels: { app: ${x} } }, spec: { image: ${x} } }) { metadata { name labels } spec { image } } }` }),
  ];
  const requests: Request[] = [];
  // Type names in variable definitions: looked up by the lead of the name (its kind), made on first lookup.
  for (const type of ['CronTab_v1_stable_example_com_Where', 'ObjectMetaWhere', 'Int64Filter', 'StringFilter', '[CronTab_v1_stable_example_com_OrderBy!]', 'ListConsistency',
    'CronTab_v1_stable_example_com_Nope', 'CronTab_Nope', 'Nope_v1_stable_example_com_Where', 'cronTab', 'CronTab', 'ClusterCronTab_v1_stable_example_com_Where', 'CronTab_v1_stable_example_com']) {
    requests.push({ query: `query Q($w: ${type}) { ${list}(namespace: "default", where: $w) { edges { node { metadata { name } } } } }`, variables: '{"w": {"metadata": {"name": {"eq": "one"}}}}' });
  }
  for (const template of templates) {
    // The valid literal first (its shape is then known valid), then the others in a random order.
    const order = [...literals].sort(() => next() - 0.5);
    for (const literal of ['"one"', ...order]) requests.push(template(literal));
  }
  return requests;
}

describe('fast paths against graphql-js, on a tenant\'s view of the schema', () => {
  it('answers the CronTab documents as graphql-js does on a schema of the view\'s roots', async (t) => {
    const grants = ['get crontabs', 'list crontabs', 'create crontabs', 'get clustercrontabs'];
    const rights: AccessRights = {
      anywhere: (verb: Verb, ref: ResourceRef, sub?: string) => grants.includes(sub === undefined ? `${verb} ${ref.plural}` : `${verb} ${ref.plural}/${sub}`),
      fingerprint: () => grants.join(','),
    };
    const gateway = new Gateway([exampleCrd('crontab-crd.yaml'), exampleCrd('clustercrontab-crd.yaml')], { rights });
    await gateway.start();
    try {
      gateway.ops.objects.set('crontabs.stable.example.com/v1/default/one', { metadata: { name: 'one', namespace: 'default' }, spec: { replicas: 9007199254740993n } } as never);
      const failures: string[] = [];
      const next = random(3);
      const compared = await compare(gateway, cronTabDocuments(next).filter(() => next() < 0.3), failures);
      t.diagnostic(`${compared} answers compared`);
      assert.equal(failures.length, 0, failures.join('\n'));
    } finally {
      await gateway.stop();
    }
  });
});

describe('fast paths against graphql-js, suggestions hidden', () => {
  it('answers the CronTab documents as graphql-js does with hideSuggestions', async (t) => {
    const gateway = new Gateway([exampleCrd('crontab-crd.yaml')], { hideSuggestions: true });
    await gateway.start();
    try {
      const failures: string[] = [];
      const next = random(2);
      const compared = await compare(gateway, cronTabDocuments(next).filter((r) => r.variables !== undefined || next() < 0.2), failures);
      t.diagnostic(`${compared} answers compared`);
      assert.equal(failures.length, 0, failures.join('\n'));
    } finally {
      await gateway.stop();
    }
  });
});

describe('fast paths against graphql-js', () => {
  it('answers every document of the CronTab example as graphql-js does, on each sighting', async (t) => {
    const gateway = new Gateway([exampleCrd('crontab-crd.yaml'), exampleCrd('clustercrontab-crd.yaml')]);
    await gateway.start();
    try {
      for (const name of ['one', 'two']) {
        gateway.ops.objects.set(['crontabs.stable.example.com', 'v1', 'default', name].join('/'), {
          apiVersion: 'stable.example.com/v1', kind: 'CronTab',
          metadata: { name, namespace: 'default', labels: { app: 'x' } },
          spec: { cronSpec: '* * * * *', image: 'img', replicas: name === 'one' ? 9223372036854775807n : 3 },
        } as never);
      }
      const failures: string[] = [];
      const compared = await compare(gateway, cronTabDocuments(random(1)), failures);
      t.diagnostic(`${compared} answers compared`);
      assert.equal(failures.length, 0, failures.join('\n'));
    } finally {
      await gateway.stop();
    }
  });
});

const NAME = /^[_A-Za-z][_0-9A-Za-z]*$/;

/** How an input value is written inline; `numbers` replaces every number below an Int, Int64, Float or JSON place. */
interface Inline {
  readonly numbers?: string;
  /** Written instead of the first value of a JSON place (then cleared): the literal, and the JSON for the variables (none when JSON cannot carry it). */
  jsonPlace?: readonly [string, string | undefined];
}

/**
 * An input value (GraphQL's shape, from toGraphQL) written as a GraphQL literal of its type, and
 * the same value for the variables: what cannot be written inline (a map key that is not a
 * GraphQL name, a value the type has no place for) is left out of both.
 */
function literalOf(value: unknown, type: GraphQLInputType, how: Inline): { text: string; value: unknown } | undefined {
  if (value === null) return { text: 'null', value: null };
  const nullable = getNullableType(type);
  if (isListType(nullable)) {
    if (!Array.isArray(value)) return literalOf(value, nullable.ofType, how);
    const items = value.map((item) => literalOf(item, nullable.ofType, how));
    if (items.some((item) => item === undefined)) return undefined;
    return { text: `[${items.map((item) => item!.text).join(', ')}]`, value: items.map((item) => item!.value) };
  }
  if (isInputObjectType(nullable)) {
    if (typeof value !== 'object' || Array.isArray(value)) return undefined;
    const fields = nullable.getFields();
    const out: [string, { text: string; value: unknown }][] = [];
    for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
      const field = fields[key];
      const written = field && literalOf(v, field.type, how);
      if (written) out.push([key, written]);
    }
    return { text: `{ ${out.map(([k, w]) => `${k}: ${w.text}`).join(', ')} }`, value: Object.fromEntries(out.map(([k, w]) => [k, w.value])) };
  }
  if (isEnumType(nullable)) return typeof value === 'string' && nullable.getValue(value) ? { text: value, value } : undefined;
  if (!isScalarType(nullable)) return undefined;
  if (nullable.name === 'JSON' && how.jsonPlace !== undefined) {
    const [text, json] = how.jsonPlace;
    how.jsonPlace = undefined;
    return { text, value: json === undefined ? undefined : parseJson(json) };
  }
  return scalarLiteral(value, nullable.name, how);
}

function scalarLiteral(value: unknown, scalar: string, how: Inline): { text: string; value: unknown } | undefined {
  if (value === null) return { text: 'null', value: null };
  if (typeof value === 'number' || typeof value === 'bigint') {
    const text = how.numbers && ['Int', 'Int64', 'Float', 'JSON', 'IntOrString'].includes(scalar) ? how.numbers : String(value);
    return { text, value: parseJson(text) };
  }
  if (typeof value === 'string' || typeof value === 'boolean') return { text: JSON.stringify(value), value };
  if (scalar !== 'JSON' && scalar !== 'StringMap') return undefined;
  if (Array.isArray(value)) {
    const items = value.map((item) => scalarLiteral(item, scalar, how));
    return items.includes(undefined) ? undefined : { text: `[${items.map((i) => i!.text).join(', ')}]`, value: items.map((i) => i!.value) };
  }
  if (typeof value !== 'object') return undefined;
  const out = Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => {
    const written = NAME.test(k) ? scalarLiteral(v, scalar, how) : undefined;
    return written ? [[k, written] as const] : [];
  });
  return { text: `{ ${out.map(([k, w]) => `${k}: ${w.text}`).join(', ')} }`, value: Object.fromEntries(out.map(([k, w]) => [k, w.value])) };
}

/** For each CRD: gets and lists of every field, and creates with the sample inline and in variables, with numbers and JSON values varied. */
function corpusDocuments(schema: GraphQLSchema, models: readonly ResourceModel[]): { requests: Request[]; pairs: [Request, Request][] } {
  const query = schema.getQueryType()!.getFields();
  const mutation = schema.getMutationType()!.getFields();
  const requests: Request[] = [];
  const pairs: [Request, Request][] = [];
  for (const model of models) {
    const version = model.versions.find((v) => v.storage) ?? model.versions[0]!;
    const names = rootFieldNames(model, version.name);
    if (!query[names.get] || !mutation[names.create]) continue;
    const scope = model.scope === 'Namespaced' ? 'namespace: "corpus", ' : '';
    for (const name of ['"sample"', '"sample-2"', '"missing"', '1', '["sample"]']) {
      requests.push({ query: `{ ${names.get}(${scope}name: ${name})${fullSelection(query[names.get]!.type)} }` });
    }
    requests.push({ query: `{ ${names.list}${scope ? '(namespace: "corpus")' : ''} { edges { node${fullSelection(query[names.get]!.type)} } } }` });
    const create = mutation[names.create]!;
    const inputType = create.args.find((a) => a.name === 'input')!.type;
    const sample = toGraphQL(sampleObject(model, version, { namespace: 'corpus', name: 'made' }), version.schema) as { metadata: Record<string, unknown> };
    // Without the sample's labels and annotations (maps written as object literals), so that the
    // literals of most creates each have an input type and a known shape is checked literal by literal.
    delete sample.metadata['labels'];
    delete sample.metadata['annotations'];
    const selection = fullSelection(create.type);
    const ns = scope ? 'namespace: "corpus", ' : '';
    const variants: Inline[] = [{}, { numbers: '9007199254740993' }, { numbers: '-9223372036854775808' }, { numbers: '2147483648' }, { numbers: '1.5' },
      // A JSON place: a valid value of a shape first, then the same shape with values a double cannot hold.
      { jsonPlace: ['[1.5, 2.5]', '[1.5, 2.5]'] }, { jsonPlace: ['[1e400, 1e401]', undefined] }, { jsonPlace: ['{ a: [1.5] }', '{"a": [1.5]}'] }, { jsonPlace: ['{ a: [1e400] }', undefined] },
      { jsonPlace: ['[1, "a", { b: 9007199254740993 }]', '[1, "a", {"b": 9007199254740993}]'] }];
    for (const how of variants) {
      const place = how.jsonPlace;
      const written = literalOf(sample, inputType, how);
      // A JSON value given for a type without a JSON place would only repeat the sample.
      if (!written || (place && how.jsonPlace)) continue;
      const inline: Request = { query: `mutation { ${names.create}(${ns}input: ${written.text}) ${selection} }` };
      requests.push(inline);
      if (place && place[1] === undefined) continue;
      const variables: Request = { query: `mutation M($input: ${String(inputType)}) { ${names.create}(${ns}input: $input) ${selection} }`, variables: stringifyJson({ input: written.value }) };
      requests.push(variables);
      pairs.push([inline, variables]);
    }
  }
  return { requests, pairs };
}

describe('fast paths against graphql-js on the CRD corpus', () => {
  it('answers gets, lists and creates of real CRDs as graphql-js does; a create sends the same object inline and with variables', async (t) => {
    if (!corpusAvailable(t)) return;
    const files = crdFiles(corpusDir);
    const next = random(5);
    // A fixed sample of the corpus (the whole of it is checked by corpus.test.ts): every 32nd file from a seeded start.
    const start = Math.floor(next() * 32);
    const chosen = files.filter((_f, i) => i % 32 === start);
    const models = chosen.flatMap((path) => parseCrdText(path, readFileSync(path, 'utf8')).flatMap((f) => ('model' in f ? [f.model] : [])));
    const gateway = new Gateway(models);
    await gateway.start();
    try {
      for (const model of models) {
        const version = model.versions.find((v) => v.storage) ?? model.versions[0]!;
        const namespace = model.scope === 'Namespaced' ? 'corpus' : '';
        for (const name of ['sample', 'sample-2']) {
          gateway.ops.objects.set([model.crdName, version.name, namespace, name].join('/'), sampleObject(model, version, { namespace, name }) as never);
        }
      }
      const { requests, pairs } = corpusDocuments(gateway.schema, models);
      const failures: string[] = [];
      const compared = await compare(gateway, requests, failures);
      let same = 0;
      for (const [inline, variables] of pairs) {
        const [a, b] = [await gateway.send(inline), await gateway.send(variables)];
        if (a.sent.length || b.sent.length) {
          if (JSON.stringify(a.sent) === JSON.stringify(b.sent)) same++;
          else if (failures.length < 12) {
            const [x, y] = [JSON.stringify(a.sent), JSON.stringify(b.sent)];
            let at = 0;
            while (at < x.length && x[at] === y[at]) at++;
            failures.push(`inline and variables sent different objects (${names(inline)}):\n  inline    …${x.slice(Math.max(0, at - 150), at + 100)}\n  variables …${y.slice(Math.max(0, at - 150), at + 100)}`);
          }
        }
      }
      t.diagnostic(`${models.length} CRDs, ${compared} answers compared, ${same} creates sent the same object inline and with variables`);
      assert.equal(failures.length, 0, failures.join('\n'));
      assert.ok(same > models.length, `${same} creates compared`);
    } finally {
      await gateway.stop();
    }
  });
});

describe('sources seen once, remembered by a 32-bit hash', () => {
  // Two sources of the same FNV-1a hash (found by a search over the names n0, n1, ...): the
  // second is taken for a second sighting. That may cost a parse and a kept document, never the
  // answer of the other source.
  const text = (name: string) => `{ cronTab_stable_example_com(namespace: "default", name: "${name}") { metadata { name } } }`;
  const [first, second] = [text('n126247'), text('n1328820')];

  it('parses and keeps the colliding source itself', () => {
    const cache = new DocumentCache();
    assert.equal(cache.get(first), undefined, 'a first sighting');
    const kept = cache.get(second);
    assert.ok(kept, 'the other source of the same hash is taken for a second sighting: the hashes collide');
    assert.equal(print(kept), print(parse(second)));
    assert.equal(cache.get(first), undefined, 'the first source is a first sighting again (its slot was emptied)');
    assert.equal(print(cache.get(first)!), print(parse(first)));
    assert.equal(cache.get(second), kept);
    // A table of one slot: every source takes the slot of the one before, none is mistaken for another.
    const tiny = new DocumentCache(undefined, { seenSlots: 1 });
    for (const source of [first, second, first, second, text('a'), first]) {
      const document = tiny.get(source);
      if (document) assert.equal(print(document), print(parse(source)));
    }
  });

  it('answers each colliding source with its own document through the gateway', async () => {
    const gateway = new Gateway([exampleCrd('crontab-crd.yaml')]);
    await gateway.start();
    try {
      for (const name of ['n126247', 'n1328820']) {
        gateway.ops.objects.set(['crontabs.stable.example.com', 'v1', 'default', name].join('/'), { metadata: { name, namespace: 'default' } } as never);
      }
      const failures: string[] = [];
      await compare(gateway, [{ query: first }, { query: second }, { query: first }], failures);
      assert.equal(failures.length, 0, failures.join('\n'));
      const answer = await gateway.send({ query: second });
      assert.match(String(answer.data), /n1328820/);
    } finally {
      await gateway.stop();
    }
  });
});
