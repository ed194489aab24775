// The direct path (src/transports/direct-execution.ts): a kept, valid query or mutation on a server
// whose only request plugin is the gateway's pipeline is executed without Apollo's request pipeline.
// What the client gets must be what Apollo answers (apollo-entry.test.ts runs its table three times,
// the third through this path); here: that it is taken at all, that an operation with errors is
// executed once and answered by Apollo as before, that the plugins' checks run on it as in Apollo,
// and that everything the path leaves out (request plugins that need Apollo's hooks, a refused
// operation, a failing context, a stopped server) still reaches Apollo.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { Writable } from 'node:stream';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { GraphQLObjectType, GraphQLScalarType, GraphQLSchema, GraphQLString } from 'graphql';
import { ApiError } from '../../../src/api-errors.ts';
import type { CallerContext } from '../../../src/contract/caller-context.ts';
import type { KubeClient } from '../../../src/kube/kube-client.ts';
import { createLogger } from '../../../src/logging.ts';
import { everyRequest, mergeApolloExtras, type GatewayPlugin } from '../../../src/plugins/gateway-plugin.ts';
import { metrics } from '../../../src/plugins/metrics.ts';
import { persistedOperations, sha256Hex } from '../../../src/plugins/persisted-operations.ts';
import { queryLimits } from '../../../src/plugins/query-limits.ts';
import { rateLimits } from '../../../src/plugins/rate-limits.ts';
import { requestLogging } from '../../../src/plugins/request-logging.ts';
import { tracing } from '../../../src/plugins/tracing.ts';
import { createApp, type AppOptions } from '../../../src/transports/create-app.ts';
import { suggestionsHidden } from '../../../src/transports/apollo-pipeline.ts';
import { SchemaGateway } from '../../../src/transports/schema-gateway.ts';
import { pluginApp, schemaOf } from '../../helpers/plugin-app.ts';

const calls = { hello: 0, fail: 0, write: 0 };
/** A value that serializes for GraphQL but not as JSON text. */
const Unwritable = new GraphQLScalarType({ name: 'Unwritable', serialize: () => ({ toJSON: () => { throw new Error('no JSON for this'); } }) });
const schema = new GraphQLSchema({
  query: new GraphQLObjectType({
    name: 'Query',
    fields: {
      hello: { type: GraphQLString, resolve: () => `hi ${++calls.hello}` },
      fail: { type: GraphQLString, resolve: () => { calls.fail++; throw new ApiError('NOT_FOUND', 'nothing here', { reason: 'NotFound' }); } },
      unwritable: { type: Unwritable, resolve: () => 'x' },
    },
  }),
  mutation: new GraphQLObjectType({
    name: 'Mutation',
    fields: { write: { type: GraphQLString, resolve: () => { calls.write++; throw new ApiError('CONFLICT', 'changed meanwhile', { reason: 'Conflict' }); } } },
  }),
});

interface Answer { status: number; type: string | null; text: string }

/** An Apollo plugin that does not say which requests it needs: every request goes through Apollo. */
const apolloOnly: Partial<AppOptions> = { apollo: { plugins: [{ requestDidStart: async () => undefined }] } };

// Parsed documents are kept process-wide: each test sends sources of its own (a comment differs).
let sources = 0;
const fresh = (query: string) => `${query} # ${++sources}`;

/** An app on a socket; `apolloCalls` counts the requests Apollo's pipeline ran. */
async function serve(extra: Partial<AppOptions> = {}): Promise<{ post: (query: string, headers?: Record<string, string>, extensions?: Record<string, unknown>) => Promise<Answer>; postBody: (body: unknown) => Promise<Answer>; apolloCalls: () => number; stopApollo: () => Promise<void>; close: () => Promise<void> }> {
  const app = await createApp({ gateway: new SchemaGateway(schema), readiness: () => ({ ready: true, reasons: [] }), explorer: false, ...extra });
  let apolloCalls = 0;
  const execute = app.apollo.executeHTTPGraphQLRequest.bind(app.apollo);
  app.apollo.executeHTTPGraphQLRequest = (args) => {
    apolloCalls++;
    return execute(args);
  };
  const server = app.app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    post: async (query, headers = {}, extensions?: Record<string, unknown>) => {
      const res = await fetch(`http://127.0.0.1:${port}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query, extensions }) });
      return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
    },
    postBody: async (body) => {
      const res = await fetch(`http://127.0.0.1:${port}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
    },
    apolloCalls: () => apolloCalls,
    stopApollo: () => app.apollo.stop(),
    close: async () => {
      await new Promise((resolve) => server.close(resolve));
      await app.stop().catch(() => {});
    },
  };
}

describe('the direct path', () => {
  it('answers a kept document without Apollo, as Apollo answered it', async () => {
    const s = await serve();
    try {
      calls.hello = 0;
      const answers = [];
      const query = fresh('{ hello }');
      for (let i = 0; i < 4; i++) answers.push(await s.post(query, { accept: 'application/graphql-response+json,application/json;q=0.9' }));
      // The first two sightings go through Apollo (the second keeps the document), the others not.
      assert.equal(s.apolloCalls(), 2);
      for (const [i, a] of answers.entries()) assert.deepEqual(a, { status: 200, type: 'application/graphql-response+json; charset=utf-8', text: `{"data":{"hello":"hi ${i + 1}"}}\n` });
    } finally {
      await s.close();
    }
  });

  it('takes a request with extensions other than a persisted query (Apollo Client sends clientLibrary)', async () => {
    const s = await serve();
    try {
      calls.hello = 0;
      const query = fresh('{ hello }');
      const clientLibrary = { clientLibrary: { name: '@apollo/client', version: '4.0.0' } };
      for (let i = 0; i < 4; i++) assert.equal((await s.post(query, {}, clientLibrary)).text, `{"data":{"hello":"hi ${i + 1}"}}\n`);
      assert.equal(s.apolloCalls(), 2);
      // A persisted query is Apollo's to answer (here: its hash does not match the query).
      const persisted = await s.post(query, {}, { persistedQuery: { version: 1, sha256Hash: 'abc' } });
      assert.equal(persisted.status, 400);
      assert.match(persisted.text, /provided sha does not match query/);
      assert.equal(JSON.parse(persisted.text).errors[0].extensions.code, 'BAD_REQUEST', 'a code of the catalog, not Apollo\'s INTERNAL_SERVER_ERROR');
      assert.equal(s.apolloCalls(), 3);
      const otherVersion = await s.post(query, {}, { persistedQuery: { version: 2, sha256Hash: 'abc' } });
      assert.equal(otherVersion.status, 400);
      assert.equal(JSON.parse(otherVersion.text).errors[0].extensions.code, 'BAD_REQUEST', otherVersion.text);
    } finally {
      await s.close();
    }
  });

  it('executes an operation whose result has errors once, and Apollo answers it as before', async () => {
    const s = await serve();
    try {
      for (const [query, counter] of [[fresh('{ fail }'), 'fail'], [fresh('mutation { write }'), 'write']] as const) {
        calls[counter] = 0;
        const answers = [];
        for (let i = 0; i < 4; i++) answers.push(await s.post(query));
        assert.equal(calls[counter], 4, `${query}: executed once per request`);
        for (const a of answers.slice(1)) assert.deepEqual(a, answers[0], query);
        assert.match(answers[0]!.text, counter === 'fail' ? /"code":"NOT_FOUND"/ : /"code":"CONFLICT"/);
      }
      // Every request with errors reached Apollo, which formatted them.
      assert.equal(s.apolloCalls(), 8);
    } finally {
      await s.close();
    }
  });

  it('is not taken when another plugin hooks requests without saying which', async () => {
    let started = 0;
    const s = await serve({ apollo: { plugins: [{ requestDidStart: async () => { started++; } }] } });
    const query = fresh('{ hello }');
    try {
      for (let i = 0; i < 4; i++) assert.equal((await s.post(query)).status, 200);
      assert.equal(s.apolloCalls(), 4);
    } finally {
      await s.close();
    }
    assert.equal(started, 4);
  });

  it('leaves to Apollo the requests a plugin says it needs its hooks for, and only those', async () => {
    let started = 0;
    const s = await serve({ apollo: {
      plugins: [{ requestDidStart: async () => { started++; } }],
      needsPipeline: (req) => req.get('x-hooked') !== undefined,
    } });
    const query = fresh('{ hello }');
    try {
      for (let i = 0; i < 4; i++) assert.equal((await s.post(query)).status, 200);
      assert.equal(s.apolloCalls(), 2);
      assert.equal((await s.post(query, { 'x-hooked': '1' })).status, 200);
      assert.equal(s.apolloCalls(), 3);
    } finally {
      await s.close();
    }
    assert.equal(started, 3);
  });

  it('runs the plugins\' checks with what Apollo\'s pipeline gives them, and a refusal is Apollo\'s', async () => {
    const seen: { direct: boolean; args: Record<string, unknown> }[] = [];
    let refuse = false;
    let s: Awaited<ReturnType<typeof serve>> | undefined;
    const checkOperation: AppOptions['checkOperation'] = ({ schema: checked, document, source, operationName, variables, context }) => {
      // The caller's fields (not the symbol-keyed marks: the response differs per request), and the
      // marks the pipeline sets.
      const caller = Object.fromEntries(Object.entries(context).filter(([key]) => key !== 'signal'));
      seen.push({ direct: s!.apolloCalls() === before, args: { schema: checked === schema, document, source, operationName, variables, caller, suggestionsHidden: suggestionsHidden(context) } });
      if (refuse) throw new ApiError('BAD_REQUEST', 'too costly', { reason: 'QueryLimitExceeded' });
    };
    let before = 0;
    s = await serve({ checkOperation, apollo: { hideSchemaDetailsFromClientErrors: true }, context: () => ({ signal: new AbortController().signal, requestId: 'r', tenant: 't' }) });
    const query = fresh('query Q($n: Boolean!) { hello @include(if: $n) } query Other { hello }');
    const body = { query, operationName: 'Q', variables: { n: true } };
    try {
      for (let i = 0; i < 3; i++) {
        before = s.apolloCalls();
        assert.equal((await s.postBody(body)).status, 200);
      }
      // Sightings 1 and 2 in Apollo, the third on the direct path, each checked once, with the same arguments.
      assert.deepEqual(seen.map((x) => x.direct), [false, false, true]);
      assert.deepEqual(seen[2]!.args, seen[1]!.args);
      refuse = true;
      before = s.apolloCalls();
      const refused = await s.postBody(body);
      refuse = false;
      // Refused on the direct path, once; Apollo's pipeline answers the refusal as it always did.
      assert.deepEqual(seen.slice(3).map((x) => x.direct), [true]);
      assert.equal(refused.status, 400);
      assert.equal(refused.text, `${JSON.stringify({ errors: [{ message: 'too costly', extensions: { code: 'BAD_REQUEST', httpStatus: 400, reason: 'QueryLimitExceeded' } }] })}\n`);
    } finally {
      await s.close();
    }
  });

  it('hands a context that fails to Apollo, which answers as when it made the context itself', async () => {
    const failing = () => { throw new ApiError('UNAUTHENTICATED', 'no such token', { reason: 'Unauthorized' }); };
    let made = 0;
    // Two contexts made, so that the document is kept; the third fails on the direct path.
    const direct = await serve({ context: (): CallerContext => (++made > 2 ? failing() : { signal: new AbortController().signal, requestId: 'r' }) });
    // The same failure through Apollo alone.
    const alone = await serve({ context: failing, ...apolloOnly });
    const query = fresh('{ hello }');
    try {
      for (let i = 0; i < 3; i++) await direct.post(query);
      const expected = await alone.post(query);
      assert.notEqual(expected.status, 200);
      assert.deepEqual(await direct.post(query), expected);
      assert.equal(direct.apolloCalls(), 4);
    } finally {
      await direct.close();
      await alone.close();
    }
  });

  it('hands a result that does not serialize to Apollo, which answers as it always did', async () => {
    const direct = await serve();
    const alone = await serve(apolloOnly);
    const query = fresh('{ unwritable }');
    try {
      const expected = await alone.post(query);
      assert.equal(expected.status, 500);
      for (let i = 0; i < 4; i++) assert.deepEqual(await direct.post(query), expected);
      assert.equal(direct.apolloCalls(), 4);
    } finally {
      await direct.close();
      await alone.close();
    }
  });

  it('leaves a stopped server to Apollo', async () => {
    const s = await serve();
    const query = fresh('{ hello }');
    try {
      for (let i = 0; i < 3; i++) await s.post(query);
      const before = s.apolloCalls();
      await s.stopApollo();
      const after = await s.post(query);
      assert.equal(s.apolloCalls(), before + 1);
      assert.notEqual(after.status, 200);
    } finally {
      await s.close();
    }
  });
});

/**
 * The production plugins (scripts/bench-gateway.ts composes them so) on a gateway that may take the
 * direct path and on one that may not (an Apollo plugin of the test's that does not say which
 * requests it needs keeps them all in Apollo): the same requests must give the same answers, log
 * lines, metric samples and span trees. A Kubernetes client double answers the resolvers' calls,
 * so that the traces have client spans.
 */
describe('the direct path with the production plugins', () => {
  async function productionApp(direct: boolean) {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk, _enc, cb) {
        lines.push(...String(chunk).split('\n').filter(Boolean));
        cb();
      },
    });
    const exporter = new InMemorySpanExporter();
    const metricsPlugin = metrics({ processMetrics: false });
    const tracingPlugin = tracing({ exporter, sampleRatio: 0, batch: false });
    let apolloCalls = 0;
    // Counts the requests that reach Apollo's pipeline, and does nothing else: said so, or not.
    const counter: GatewayPlugin = { name: 'counter', apollo: { plugins: [{ requestDidStart: () => { apolloCalls++; return Promise.resolve(undefined); } }], ...(direct ? { needsPipeline: () => false } : {}) } };
    // The clock stands still: the budget of 34 requests is not refilled, the last ones are refused.
    const clock = { now: () => 0, sleep: () => Promise.resolve() };
    const plugins = [
      metricsPlugin, tracingPlugin, requestLogging({ logger: createLogger({ destination }) }), persistedOperations({ mode: 'apq' }),
      queryLimits({ mode: 'production', limits: { maxCost: 3 } }), rateLimits({ clock, limits: { requestsPerSecond: 1, burst: 34 } }), counter,
    ];
    const kube = tracingPlugin.wrapClient!({
      server: 'https://kube.example:6443',
      request: async () => ({ items: [1, 2] }),
      watch: async () => {},
      close: async () => {},
    } as unknown as KubeClient);
    const schema = schemaOf('type Query { hello: String, things: Int, fail: String, a: Int, b: Int, c: Int, d: Int } type Mutation { touch: String }', {
      Query: {
        hello: () => 'hi',
        things: async () => (await kube.request<{ items: unknown[] }>('GET', '/apis/g.example/v1/namespaces/n/things')).items.length,
        fail: () => { throw new ApiError('NOT_FOUND', 'nothing here', { reason: 'NotFound' }); },
      },
      Mutation: { touch: () => 'ok' },
    });
    const { app, stop } = await pluginApp(plugins, schema);
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const port = (server.address() as AddressInfo).port;
    return {
      post: async (body: unknown, headers: Record<string, string>) => {
        const res = await fetch(`http://127.0.0.1:${port}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
        return { status: res.status, type: res.headers.get('content-type'), retryAfter: res.headers.get('retry-after'), text: await res.text() };
      },
      apolloCalls: () => apolloCalls,
      /** Each line without its time and duration. */
      logLines: () => lines.map((l) => {
        const { time: _t, durationMs: _d, ...rest } = JSON.parse(l) as Record<string, unknown>;
        return rest;
      }).sort((x, y) => String(x.requestId).localeCompare(String(y.requestId))),
      /** The samples that do not measure time: counters and the histograms' counts. */
      metricSamples: async () => (await metricsPlugin.registry.metrics()).split('\n').filter((l) => l && !/_bucket\{|_sum(\{| )/.test(l)),
      spanTrees: async () => {
        await tracingPlugin.forceFlush();
        return spanTrees(exporter.getFinishedSpans());
      },
      close: async () => {
        await new Promise((resolve) => server.close(resolve));
        await stop();
        await tracingPlugin.stop?.();
      },
    };
  }

  /** Every root span with its children, as text: names, kinds, attributes, status; ids left out. */
  function spanTrees(spans: readonly ReadableSpan[]): string[] {
    const render = (span: ReadableSpan, depth: number): string[] => {
      const attributes = Object.entries(span.attributes).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${String(v)}`).join(' ');
      const own = `${'  '.repeat(depth)}${span.name} kind=${span.kind} status=${span.status.code}${span.status.message ? `:${span.status.message}` : ''} ${attributes}`;
      const children = spans.filter((c) => c.parentSpanContext?.spanId === span.spanContext().spanId);
      return [own, ...children.flatMap((c) => render(c, depth + 1))];
    };
    const ids = new Set(spans.map((s) => s.spanContext().spanId));
    return spans.filter((s) => !s.parentSpanContext || !ids.has(s.parentSpanContext.spanId)).map((root) => render(root, 0).join('\n')).sort();
  }

  it('answers, logs, counts and traces every request as Apollo does', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const sampled = { traceparent: `00-${traceId}-00f067aa0ba902b7-01` };
    const unsampled = { traceparent: `00-${traceId}-00f067aa0ba902b7-00` };
    const things = fresh('query Things { things }');
    const persisted = fresh('{ hello things }');
    const failing = fresh('query Fail { things fail }');
    const requests: [name: string, body: unknown, headers: Record<string, string>][] = [
      ['hello', { query: fresh('{ hello }') }, {}],
      ['things', { query: things, operationName: 'Things' }, {}],
      ['things-sampled', { query: things, operationName: 'Things' }, sampled],
      ['things-unsampled', { query: things, operationName: 'Things' }, unsampled],
      ['too-costly', { query: fresh('{ a b c d }') }, sampled],
      ['fail', { query: failing }, {}],
      ['fail-sampled', { query: failing }, sampled],
      ['touch', { query: fresh('mutation Touch { touch }') }, sampled],
      ['apq', { query: persisted, extensions: { persistedQuery: { version: 1, sha256Hash: sha256Hex(persisted) } } }, {}],
    ];
    const direct = await productionApp(true);
    const apollo = await productionApp(false);
    try {
      const answersOf = async (app: typeof direct) => {
        const answers = [];
        for (let round = 0; round < 4; round++) {
          for (const [name, body, headers] of requests) answers.push(await app.post(body, { ...headers, 'x-request-id': `${name}-${round}` }));
        }
        return answers;
      };
      const answers = await answersOf(direct);
      assert.deepEqual(answers, await answersOf(apollo));
      // The budget ran out for the last two; a refused operation, an error, some successes.
      assert.deepEqual(answers.map((a) => a.status), [...[0, 1, 2].flatMap(() => [200, 200, 200, 200, 400, 200, 200, 200, 200]), 200, 200, 200, 200, 400, 200, 200, 429, 429]);
      // Request lines are written as responses finish: give the last one its turn.
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.deepEqual(direct.logLines(), apollo.logLines());
      assert.equal(direct.logLines().length, 36);
      assert.deepEqual(await direct.metricSamples(), await apollo.metricSamples());
      const trees = await direct.spanTrees();
      assert.deepEqual(trees, await apollo.spanTrees());
      // Sampled requests only: things, the costly one, fail, touch (its last refused by the budget:
      // a request span without an operation).
      assert.equal(trees.length, 4 + 4 + 4 + 4);
      assert.match(trees.find((t) => t.includes('fail-sampled-3'))!, /\n {2}GraphQL query Fail kind=0 status=2:NOT_FOUND .*\n {4}GET \/apis\/g\.example\/v1\/namespaces\/\{namespace\}\/things kind=2/);
      assert.match(trees.find((t) => t.includes('things-sampled-0'))!, /^POST \/graphql .*\n {2}GraphQL query Things .*\n {4}GET \/apis\/g\.example\/v1\/namespaces\/\{namespace\}\/things kind=2/);
      // Everything admitted went through Apollo on one. On the other, once their document was kept:
      // hello (rounds 2 and 3), things (1–3), sampled (1–3; its first was the second sighting) and
      // unsampled (0–3), touch (2; refused in 3) took the direct path; the costly one (refused)
      // and fail (errors) went to Apollo from it, the persisted query to Apollo alone.
      assert.equal(apollo.apolloCalls(), 34);
      assert.equal(direct.apolloCalls(), 34 - 13);
    } finally {
      await direct.close();
      await apollo.close();
    }
  });
});

describe("the direct path validates as Apollo's pipeline does", () => {
  it('a document whose subscription has @include on a root field: the same answer once it is kept', async () => {
    // graphql-js 16 throws (instead of reporting) when it validates a subscription whose root
    // field has @include/@skip with a variable; the gateway's validation refuses it first.
    const withSubscription = new GraphQLSchema({
      query: new GraphQLObjectType({ name: 'Query', fields: { hello: { type: GraphQLString, resolve: () => 'hi' } } }),
      subscription: new GraphQLObjectType({ name: 'Subscription', fields: { tick: { type: GraphQLString } } }),
    });
    const app = await createApp({ gateway: new SchemaGateway(withSubscription), readiness: () => ({ ready: true, reasons: [] }), explorer: false });
    const server = app.app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const port = (server.address() as AddressInfo).port;
    try {
      const query = fresh('query Q { hello } subscription S($on: Boolean!) { tick @include(if: $on) }');
      const answers = [];
      for (let i = 0; i < 4; i++) {
        const res = await fetch(`http://127.0.0.1:${port}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, operationName: 'Q' }) });
        answers.push({ status: res.status, text: await res.text() });
      }
      // Apollo's answer (the first two sightings) is a typed validation error; a kept document must get the same.
      assert.equal(answers[0]!.status, 400);
      assert.match(answers[0]!.text, /GRAPHQL_VALIDATION_FAILED/);
      // The problem named: the specification does not allow the condition there (not "$on is never used").
      assert.match(answers[0]!.text, /Subscription \\"S\\" must not use `@skip` or `@include` directives in the top level selection/);
      for (const [i, a] of answers.entries()) assert.deepEqual(a, answers[0], `request ${i + 1}`);
    } finally {
      await new Promise((resolve) => server.close(resolve));
      await app.stop().catch(() => {});
    }
  });
});

describe('checks on the direct path', () => {
  it('an operation executed there with errors is checked once, not again by Apollo', async () => {
    let checks = 0;
    const s = await serve({ checkOperation: () => { checks++; } });
    try {
      const query = fresh('{ fail }');
      for (let i = 0; i < 4; i++) assert.match((await s.post(query)).text, /"code":"NOT_FOUND"/);
      assert.equal(s.apolloCalls(), 4);
      assert.equal(checks, 4);
    } finally {
      await s.close();
    }
  });
});

describe('refusals on the direct path', () => {
  it('an operation the checks refuse there is checked once, not again by Apollo, and answered as Apollo answers a refusal', async () => {
    let checks = 0;
    const refuse: AppOptions['checkOperation'] = () => {
      checks++;
      throw new ApiError('BAD_REQUEST', 'too costly', { reason: 'QueryLimitExceeded' });
    };
    const s = await serve({ checkOperation: refuse });
    const alone = await serve({ checkOperation: refuse, ...apolloOnly });
    try {
      const query = fresh('{ hello }');
      const answers = [];
      for (let i = 0; i < 4; i++) answers.push(await s.post(query));
      assert.equal(checks, 4, 'one check per request');
      assert.equal(s.apolloCalls(), 4);
      const expected = await alone.post(query);
      for (const [i, a] of answers.entries()) assert.deepEqual(a, expected, `request ${i + 1}`);
      assert.equal(expected.status, 400);
      // A check that throws something other than a refusal of the catalog: Apollo's answer to it, as before.
      let thrown = 0;
      const broken = await serve({ checkOperation: () => { thrown++; throw new Error('the check broke'); } });
      const brokenAlone = await serve({ checkOperation: () => { throw new Error('the check broke'); }, ...apolloOnly });
      try {
        const other = fresh('{ hello }');
        const got = [];
        for (let i = 0; i < 3; i++) got.push(await broken.post(other));
        assert.equal(thrown, 3);
        const want = await brokenAlone.post(other);
        for (const a of got) assert.deepEqual(a, want);
      } finally {
        await broken.close();
        await brokenAlone.close();
      }
    } finally {
      await s.close();
      await alone.close();
    }
  });
});

describe('plugins that need Apollo for every request', () => {
  it('merge to the one mark the direct path reads as never taken, whatever the other plugins say', () => {
    const hooks = { requestDidStart: async () => undefined };
    const merged = mergeApolloExtras([
      { name: 'declares', apollo: { plugins: [hooks], needsPipeline: () => false } },
      { name: 'silent', apollo: { plugins: [hooks] } },
    ]);
    assert.equal(merged.needsPipeline, everyRequest);
    const allowList = mergeApolloExtras([persistedOperations({ mode: 'allow-list', manifest: { format: 'apollo-persisted-query-manifest', version: 1, operations: [] } })]);
    assert.equal(allowList.needsPipeline, everyRequest);
    const apq = mergeApolloExtras([persistedOperations({ mode: 'apq' })]);
    assert.notEqual(apq.needsPipeline, everyRequest);
  });
});
