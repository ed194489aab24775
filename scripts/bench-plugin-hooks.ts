// Benchmark (not a test): the production plugins' own work per request, without a control plane
// and without HTTP, so that it can be measured on a busy machine. The plugins are those of
// scripts/bench-gateway.ts (metrics, tracing of a share of the requests, request logging to
// /dev/null, APQ, query limits, rate limits), wired as the gateway wires them (pluginAppOptions,
// pluginClient, wrapOperations). Four pieces, each timed in CPU microseconds (and bytes allocated) per call, in rounds
// that alternate with the same piece without plugins (median of the rounds):
//   kube call    one get through the operations and client wrappers, to a client that answers at once;
//   record       the request tracker and what reads its record (request log line, request metrics),
//                on a response that finishes at once;
//   admission    the rate limits' admission of a request;
//   operation    one GraphQL get through Apollo Server and the operation pipeline (executeOperation):
//                Apollo-level hooks, APQ, query limits, the tracing hook.
//   whole        all of it for one request, as the app runs it: admission, the middleware (the
//                request tracker, the tracing middleware), the operation whose resolver makes the
//                Kubernetes call through the wrappers, and the request record; with tracing, the
//                spans of the requests the ratio samples (a server, an operation and a client span).
// Not included: everything HTTP and the apiserver cost; bench-new-documents.ts (--plugins
// none,production) measures the whole path in one process per gateway. Prints a markdown table;
// results are not appended anywhere.
//
//   node scripts/bench-plugin-hooks.ts [--rounds 12] [--calls 20000] [--sample-ratio 0.1]
import { EventEmitter } from 'node:events';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import express, { type Request, type RequestHandler, type Response } from 'express';
import { buildSchema, type GraphQLObjectType } from 'graphql';
import type { CallerContext } from '../src/contract/caller-context.ts';
import { pluginAppOptions } from '../src/gateway.ts';
import type { KubeCallObserver, KubeClient } from '../src/kube/kube-client.ts';
import { pluginClient, type GatewayPlugin } from '../src/plugins/gateway-plugin.ts';
import type { GatewayOperations } from '../src/service/hub-operations.ts';
import { newApollo } from '../src/transports/create-app.ts';
import { SchemaGateway } from '../src/transports/schema-gateway.ts';
import { productionPlugins } from './bench-gateway.ts';
import { cpuAndAllocation, machine, median } from './bench-common.ts';

const { values: flags } = parseArgs({
  options: {
    rounds: { type: 'string', default: '12' },
    calls: { type: 'string', default: '20000' },
    'sample-ratio': { type: 'string', default: '0.1' },
  },
});
process.env.NODE_ENV = 'production';
const ROUNDS = Number(flags.rounds);
const CALLS = Number(flags.calls);

const object = (i: number) => ({
  apiVersion: 'stable.example.com/v1', kind: 'CronTab',
  metadata: { name: `ct-${i}`, namespace: 'bench', uid: `uid-${i}`, resourceVersion: String(1000 + i), generation: 1, creationTimestamp: '2026-12-04T00:00:00Z' },
  spec: { cronSpec: '*/5 * * * *', image: `example/bench:${i}`, replicas: i % 5 },
});
const sdl = `type Meta { name: String namespace: String uid: String resourceVersion: String generation: Int creationTimestamp: String }
type Spec { cronSpec: String image: String replicas: Int }
type CronTab { apiVersion: String kind: String metadata: Meta spec: Spec }
type Query { cronTab(namespace: String!, name: String!): CronTab }`;
const query = 'query Get($name: String!) { cronTab(namespace: "bench", name: $name) { apiVersion kind metadata { name namespace uid resourceVersion generation creationTimestamp } spec { cronSpec image replicas } } }';

interface Pieces {
  kubeCall(i: number): Promise<unknown>;
  record(): void;
  admission(): void | Promise<void>;
  operation(i: number): Promise<unknown>;
  whole(i: number): Promise<unknown>;
}

async function pieces(plugins: GatewayPlugin[]): Promise<Pieces> {
  const answer = Promise.resolve(object(1));
  // A client that answers at once; its observer (the plugins have one at most) told as the real client tells it.
  const fake = (observer?: KubeCallObserver): KubeClient => ({
    server: 'https://127.0.0.1:6443',
    request: observer
      ? (method: string, path: string) => {
        observer.settled(observer.started(method, path), method, undefined);
        return answer;
      }
      : () => answer,
    observedBy: (o: KubeCallObserver) => {
      if (observer) throw new Error('the benchmark\'s client takes one observer');
      return fake(o);
    },
    watch: async () => {},
    close() {},
  }) as unknown as KubeClient;
  const client = pluginClient(plugins, fake());
  const base = {
    get: (req: { namespace: string; name: string }) => client.request('GET', `/apis/stable.example.com/v1/namespaces/${req.namespace}/crontabs/${req.name}`),
  } as unknown as GatewayOperations;
  const operations = plugins.reduce((o, p) => p.wrapOperations?.(o) ?? o, base);
  const options = pluginAppOptions(plugins);
  const tracker: RequestHandler | undefined = options.middleware?.[0];
  // A request as Express hands it on (its prototype's getters: path, get), new for every call as over HTTP.
  const appRequest = express().request;
  const newRequest = (headers: Record<string, string>): Request => Object.assign(Object.create(appRequest) as Request, { headers, method: 'POST', url: '/graphql' });
  const recordHeaders = { 'x-request-id': 'mj3k2-1a' };
  const context = (): CallerContext => ({ requestId: 'mj3k2-1a', signal: new AbortController().signal });
  const schema = buildSchema(sdl);
  // The resolver answers at once: the Kubernetes call's wrappers are the first piece, not counted twice.
  (schema.getType('Query') as GraphQLObjectType).getFields()['cronTab']!.resolve = () => answer;
  const apollo = newApollo(new SchemaGateway(schema), options.apollo, undefined, options.checkOperation);
  await apollo.start();
  // The same schema whose resolver makes the Kubernetes call through the operations and the client.
  const calling = buildSchema(sdl);
  (calling.getType('Query') as GraphQLObjectType).getFields()['cronTab']!.resolve = (_s, args: { namespace: string; name: string }, ctx: CallerContext) =>
    operations.get({ context: ctx, namespace: args.namespace, name: args.name } as unknown as Parameters<GatewayOperations['get']>[0]);
  const wholeApollo = newApollo(new SchemaGateway(calling), options.apollo, undefined, options.checkOperation);
  await wholeApollo.start();
  const middleware = options.middleware ?? [];
  return {
    kubeCall: (i) => operations.get({ context: context(), namespace: 'bench', name: `ct-${i % 500}` } as unknown as Parameters<GatewayOperations['get']>[0]),
    record: () => {
      // Made without plugins too: only what the plugins do with it is counted.
      const req = newRequest(recordHeaders);
      if (!tracker) return;
      const res = Object.assign(new EventEmitter(), { locals: { operationType: 'query', operationName: 'Get' }, statusCode: 200, writableFinished: true }) as unknown as Response;
      tracker(req, res, () => {});
      res.emit('finish');
      res.emit('close');
    },
    admission: () => options.admit?.(''),
    whole: async (i) => {
      await options.admit?.('');
      const headers = { 'x-request-id': `mj3k2-${i}` };
      const req = newRequest(headers);
      const res = Object.assign(new EventEmitter(), { locals: {} as Record<string, unknown>, statusCode: 200, writableFinished: true }) as unknown as Response;
      let answered: Promise<unknown> | undefined;
      // Each middleware calls the next; the last one runs the operation (inside the trace context, if any).
      const run = (k: number): void => {
        if (k < middleware.length) return void middleware[k]!(req, res, () => run(k + 1));
        answered = wholeApollo.executeOperation({ query, variables: { name: `ct-${i % 500}` } }, { contextValue: { requestId: headers['x-request-id'], signal: new AbortController().signal } });
      };
      run(0);
      const r = (await answered) as Awaited<ReturnType<typeof apollo.executeOperation>>;
      if (r.body.kind !== 'single' || r.body.singleResult.errors) throw new Error(`the operation failed: ${JSON.stringify(r.body)}`);
      Object.assign(res.locals, { operationType: 'query', operationName: 'Get' });
      res.emit('finish');
      res.emit('close');
    },
    operation: async (i) => {
      const r = await apollo.executeOperation({ query, variables: { name: `ct-${i % 500}` } }, { contextValue: context() });
      if (r.body.kind !== 'single' || r.body.singleResult.errors) throw new Error(`the operation failed: ${JSON.stringify(r.body)}`);
    },
  };
}

/** CPU µs and bytes allocated per call (bench-common's cpuAndAllocation), after a warm-up. */
async function timed(fn: (i: number) => unknown, calls: number): Promise<{ us: number; bytes: number }> {
  for (let i = 0; i < Math.min(calls, 1000); i++) await fn(i);
  const used = await cpuAndAllocation(async () => {
    for (let i = 0; i < calls; i++) await fn(i);
  });
  return { us: used.cpuUs / calls, bytes: used.bytes / calls };
}

const variants = { plain: await pieces([]), production: await pieces(productionPlugins(Number(flags['sample-ratio']))) };
const names = ['kubeCall', 'record', 'admission', 'operation', 'whole'] as const;
// An operation costs tens of times a Kubernetes call's wrappers: fewer of them keep the rounds short.
const callsOf = (name: (typeof names)[number]) => (name === 'operation' || name === 'whole' ? Math.ceil(CALLS / 4) : CALLS);
const results = new Map<string, number[]>();
const bytes = new Map<string, number[]>();
for (let round = 0; round < ROUNDS; round++) {
  for (const name of names) {
    for (const variant of round % 2 ? (['plain', 'production'] as const) : (['production', 'plain'] as const)) {
      const key = `${name}|${variant}`;
      const t = await timed(variants[variant][name], callsOf(name));
      results.set(key, [...(results.get(key) ?? []), t.us]);
      bytes.set(key, [...(bytes.get(key) ?? []), t.bytes]);
    }
  }
}

const labels: Record<(typeof names)[number], string> = {
  kubeCall: 'Kubernetes call (operations and client wrappers)',
  record: 'request record (tracker, log line, request metrics)',
  admission: 'admission (rate limits)',
  operation: 'GraphQL operation (Apollo hooks, APQ, query limits, tracing hook)',
  whole: 'whole request without HTTP (all of the above, middleware, sampled spans)',
};
const f = (x: number) => x.toFixed(2);
let total = 0;
const rows = names.map((name) => {
  const plain = median(results.get(`${name}|plain`)!);
  const production = median(results.get(`${name}|production`)!);
  if (name !== 'whole') total += production - plain;
  const extraBytes = median(bytes.get(`${name}|production`)!) - median(bytes.get(`${name}|plain`)!);
  return `| ${labels[name]} | ${f(plain)} | ${f(production)} | ${f(production - plain)} | ${extraBytes.toFixed(0)} |`;
});
console.log(`## Production plugins' own work per request (${new Date().toISOString().slice(0, 10)})

\`node scripts/bench-plugin-hooks.ts --rounds ${ROUNDS} --calls ${CALLS} --sample-ratio ${flags['sample-ratio']}\`; ${machine()}; load average at the end ${loadavg().map((l) => l.toFixed(1)).join(' ')}.
CPU µs per call, median of ${ROUNDS} rounds alternating with the same piece without plugins; the plugins' bytes allocated per call (V8's GC profiler), difference of the medians. No network: the Kubernetes client answers at once. The whole request adds the middleware (request tracker, tracing) and the spans of the sampled requests to the pieces.

| piece | without plugins µs | with production plugins µs | plugins µs | plugins bytes |
| --- | ---: | ---: | ---: | ---: |
${rows.slice(0, -1).join('\n')}
| **sum of the pieces** | | | **${f(total)}** | |
${rows.at(-1)}
`);
process.exit(0);
