// Prometheus metrics (prom-client): API requests and their latency by operation type and outcome,
// Kubernetes calls by verb and HTTP code, schema rebuilds, CRDs served, the watch hub (subscribers,
// upstream watches, events delivered and dropped, slow consumers), the query cache (objects and
// bytes per resource, where filtered lists were answered), shared subscription executions, and the
// process (prom-client's default metrics).
//
// The numbers are cluster-wide (every tenant's traffic, every CRD), so they are not served on the
// API port by default: `listen` opens a separate listener, bound to 127.0.0.1 unless configured
// otherwise, for a scraper next to the gateway (a sidecar, or a Service port tenants cannot reach).
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { RequestHandler } from 'express';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { sharedResultStats } from '../graphql/shared-subscription-results.ts';
import { KubeApiError, type KubeCallObserver, type KubeClient } from '../kube/kube-client.ts';
import type { GatewayPlugin, GatewayParts } from './gateway-plugin.ts';
import { RequestHistogram } from './request-histogram.ts';

export interface MetricsOptions {
  /** prom-client's process metrics (CPU, memory, event loop lag, GC); default true. */
  processMetrics?: boolean;
  /** Also answer GET /metrics on the API port (only where every caller may read cluster-wide numbers). */
  onMainPort?: boolean;
}

export interface MetricsPlugin extends GatewayPlugin {
  readonly registry: Registry;
  /** Answers a scrape with the Prometheus text format. */
  readonly handler: RequestHandler;
  /** Serves /metrics on a listener of its own; closed when the gateway stops. */
  listen(port: number, host?: string): Promise<Server>;
}

const latencyBuckets = [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** A counter whose value is read from elsewhere at scrape time (it only ever grows there). */
function mirroredCounter(registry: Registry, name: string, help: string, read: () => number): void {
  let seen = 0;
  new Counter({
    name, help, registers: [registry],
    collect() {
      const now = read();
      if (now > seen) this.inc(now - seen);
      seen = now;
    },
  });
}

/** Counters with one label whose values are read from elsewhere at scrape time. */
function mirroredLabelledCounter(registry: Registry, name: string, help: string, label: string, read: () => Record<string, number> | undefined): void {
  const seen = new Map<string, number>();
  new Counter({
    name, help, labelNames: [label], registers: [registry],
    collect() {
      for (const [value, now] of Object.entries(read() ?? {})) {
        const before = seen.get(value) ?? 0;
        if (now > before) this.inc({ [label]: value }, now - before);
        seen.set(value, now);
      }
    },
  });
}

/** Gauges of the query cache: objects and estimated bytes per resource version and namespace scope. */
function queryCacheGauges(registry: Registry, parts: () => GatewayParts | undefined): void {
  const stats = () => parts()?.operations.queries.caches.stats() ?? [];
  const labelNames = ['resource', 'namespace'] as const;
  new Gauge({ name: 'crdgate_query_cache_objects', help: 'Objects in the query cache behind filtered lists, per resource (plural.group/version) and namespace ("" = all namespaces)', labelNames, registers: [registry],
    collect() {
      this.reset();
      for (const s of stats()) this.set({ resource: s.resource, namespace: s.namespace }, s.objects);
    } });
  new Gauge({ name: 'crdgate_query_cache_bytes', help: 'Estimated JSON bytes of the objects in the query cache, per resource and namespace (bounded by --query-cache-max-bytes in total)', labelNames, registers: [registry],
    collect() {
      this.reset();
      for (const s of stats()) this.set({ resource: s.resource, namespace: s.namespace }, s.bytes);
    } });
  const queries = () => parts()?.operations.queries;
  mirroredLabelledCounter(registry, 'crdgate_filtered_lists_total', 'Filtered or sorted lists by where they were answered from (cache, apiserver)', 'source', () => {
    const c = queries()?.counters;
    return c && { cache: c.fromCache, apiserver: c.fromApiserver };
  });
  mirroredLabelledCounter(registry, 'crdgate_query_cache_stops_total', 'Query caches stopped, by reason (idle, evicted: memory for another, room: --query-cache-max-stores reached, too_large: over the memory bound alone, failed: the watch failed)', 'reason', () => {
    const c = queries()?.caches.counters;
    return c && { idle: c.stoppedIdle, evicted: c.evicted, room: c.evictedForRoom, too_large: c.refusedTooLarge, failed: c.failed };
  });
}

export function metrics(opts: MetricsOptions = {}): MetricsPlugin {
  const registry = new Registry();
  if (opts.processMetrics !== false) collectDefaultMetrics({ register: registry });
  const { observe, kubeSeconds, rebuildSeconds } = requestMetrics(registry);
  const subscriptionEnds = new Counter({
    name: 'crdgate_subscription_ends_total',
    help: 'GraphQL subscriptions over WebSocket that ended, by outcome (ok: their stream ended; CANCELLED: their client completed them or left; else the error code they ended with: SLOW_CONSUMER, SCHEMA_CHANGED, UNAVAILABLE…)',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  const handler: RequestHandler = async (_req, res, next) => {
    try {
      const text = await registry.metrics();
      res.status(200).type(registry.contentType).send(text);
    } catch (err) {
      next(err);
    }
  };
  let parts: GatewayParts | undefined;
  let stopLive: (() => void) | undefined;
  gatewayGauges(registry, () => parts);
  const listener = metricsListener(registry);
  const middleware: RequestHandler[] = [];
  if (opts.onMainPort) {
    middleware.push((req, res, next) => (req.method === 'GET' && req.path === '/metrics' ? handler(req, res, next) : next()));
  }
  return {
    name: 'metrics',
    registry,
    handler,
    middleware,
    onRequestDone: (r) => {
      if (r.type) observe(r.type, r.code, r.durationMs / 1000);
    },
    onSubscriptionEnd: (r) => subscriptionEnds.inc({ outcome: r.code }),
    kubeCalls: kubeCallTimer(kubeSeconds),
    wrapClient: (client) => timedWatches(client, kubeSeconds),
    attach(p) {
      parts = p;
      // The first build happened before the plugins were attached.
      if (p.live.stats.rebuilds) rebuildSeconds.observe(p.live.stats.lastDurationMs / 1000);
      stopLive = p.live.onChange(() => rebuildSeconds.observe(p.live.stats.lastDurationMs / 1000));
    },
    listen: listener.listen,
    async stop() {
      stopLive?.();
      await listener.stop();
    },
  };
}

/** Values made once per pair of label values (prom-client children), in two levels of maps: no key string per lookup. */
export class LabelledChildren<T> {
  private readonly byFirst = new Map<string, Map<string, T>>();
  private readonly make: (first: string, second: string) => T;

  constructor(make: (first: string, second: string) => T) {
    this.make = make;
  }

  get(first: string, second: string): T {
    let bySecond = this.byFirst.get(first);
    if (!bySecond) this.byFirst.set(first, (bySecond = new Map()));
    let value = bySecond.get(second);
    if (value === undefined) bySecond.set(second, (value = this.make(first, second)));
    return value;
  }
}

/** API requests and their latency, Kubernetes calls, schema rebuilds. */
function requestMetrics(registry: Registry) {
  // Every observation of the latency histogram is one request: the counter is its count per label
  // set, read at scrape time, so a request costs one observation, not two.
  const counted = new Map<Readonly<Record<string, string>>, number>();
  new Counter({
    name: 'crdgate_requests_total',
    help: 'API requests by operation type (query, mutation, subscription, rest; invalid: a GraphQL document that does not parse or selects no operation; unknown: a GraphQL request refused before its document was read) and outcome (ok, or the error code)',
    labelNames: ['type', 'outcome'] as const,
    registers: [registry],
    collect() {
      for (const { labels, count } of requestSeconds.counts()) {
        const before = counted.get(labels) ?? 0;
        if (count > before) this.inc(labels, count - before);
        counted.set(labels, count);
      }
    },
  });
  // Observed on every request: see request-histogram.ts.
  const requestSeconds = new RequestHistogram({
    name: 'crdgate_request_duration_seconds',
    help: 'API request latency by operation type and outcome; for subscriptions, the time to start one; for REST watches, the stream lifetime',
    labelNames: ['type', 'outcome'] as const,
    buckets: latencyBuckets,
    registers: [registry],
  });
  const kubeSeconds = new RequestHistogram({
    name: 'crdgate_kube_request_duration_seconds',
    help: 'Kubernetes API call latency by verb (HTTP method; WATCH: until the watch is open) and HTTP code (2xx: any success; 0: no answer)',
    labelNames: ['verb', 'code'] as const,
    buckets: latencyBuckets,
    registers: [registry],
  });
  const rebuildSeconds = new Histogram({
    name: 'crdgate_schema_rebuild_duration_seconds',
    help: 'Time to rebuild the GraphQL schema after a CRD change',
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  // Cells bound once per label set (both label sets are small and bounded: API types × error
  // codes); observing through them skips building a label object for each request.
  const children = new LabelledChildren((type, outcome) => requestSeconds.labels({ type, outcome }));
  const observe = (type: string, outcome: string, seconds: number) => {
    children.get(type, outcome).observe(seconds);
  };
  return { observe, kubeSeconds, rebuildSeconds };
}

/** The gateway's state, read at scrape time: CRDs served, the watch hub, shared subscription results. */
function gatewayGauges(registry: Registry, partsOf: () => GatewayParts | undefined): void {
  const hubStats = () => partsOf()?.operations.hub.stats();
  new Gauge({ name: 'crdgate_crds_served', help: 'Custom resource definitions in the served schema', registers: [registry],
    collect() { this.set(partsOf()?.live.stats.crds ?? 0); } });
  new Gauge({ name: 'crdgate_crds_not_served', help: 'Custom resource definitions left out of the schema because of a problem (see the logs)', registers: [registry],
    collect() { this.set(partsOf()?.live.stats.problems ?? 0); } });
  mirroredCounter(registry, 'crdgate_schema_rebuilds_total', 'GraphQL schema builds (the first one and every rebuild after a CRD change)', () => partsOf()?.live.stats.rebuilds ?? 0);
  new Gauge({ name: 'crdgate_subscribers', help: 'Live subscribers (GraphQL subscriptions and REST watches) of the watch hub', registers: [registry],
    collect() { this.set(hubStats()?.subscribers ?? 0); } });
  new Gauge({ name: 'crdgate_upstream_watches', help: 'Open upstream Kubernetes watches of the watch hub (one per resource and namespace scope)', registers: [registry],
    collect() { this.set(hubStats()?.upstreams ?? 0); } });
  new Gauge({ name: 'crdgate_watch_upstream_bytes', help: 'Bytes an upstream watch holds: the objects of its store and its resume window', labelNames: ['resource', 'namespace'], registers: [registry],
    collect() {
      this.reset();
      for (const u of partsOf()?.operations.hub.upstreamStats() ?? []) {
        this.set({ resource: `${u.key.plural}.${u.key.group}/${u.key.version}`, namespace: u.key.namespace ?? '' }, u.storeBytes + u.windowBytes);
      }
    } });
  mirroredCounter(registry, 'crdgate_upstream_watches_started_total', 'Upstream watches started by the watch hub', () => hubStats()?.upstreamsStarted ?? 0);
  mirroredCounter(registry, 'crdgate_direct_watches_started_total', 'Direct watches started for single subscribers (a resume older than the hub\'s window, an initial state newer than it)',
    () => hubStats()?.directWatchesStarted ?? 0);
  mirroredCounter(registry, 'crdgate_watch_events_delivered_total', 'Watch events handed to subscribers', () => hubStats()?.eventsDelivered ?? 0);
  mirroredCounter(registry, 'crdgate_watch_events_dropped_total', 'Watch events slow consumers were cut off from (the one that crossed the byte bound, or the backlog they had yet to receive)', () => hubStats()?.eventsDropped ?? 0);
  mirroredCounter(registry, 'crdgate_slow_consumer_disconnects_total', 'Subscribers disconnected as slow consumers', () => hubStats()?.slowConsumers ?? 0);
  queryCacheGauges(registry, partsOf);
  // sharedResultStats is per process: with several gateways in one process they share it.
  mirroredCounter(registry, 'crdgate_subscription_executions_total', 'Subscription selection sets executed (once per event and distinct operation)', () => sharedResultStats.executed);
  mirroredCounter(registry, 'crdgate_subscription_results_shared_total', 'Subscription results reused from another subscriber\'s execution of the same event and operation', () => sharedResultStats.shared);
  mirroredCounter(registry, 'crdgate_subscription_results_serialized_total', 'Shared subscription results serialized (once for all their subscribers)', () => sharedResultStats.serialized);
}

/** /metrics on listeners of its own; stop() closes them. */
function metricsListener(registry: Registry): { listen(port: number, host?: string): Promise<Server>; stop(): Promise<void> } {
  const servers: Server[] = [];
  return {
    async listen(port, host = '127.0.0.1') {
      const server = createServer((req, res) => {
        if (req.method === 'GET' && (req.url === '/metrics' || req.url?.startsWith('/metrics?'))) {
          registry.metrics().then((text) => {
            res.writeHead(200, { 'Content-Type': registry.contentType });
            res.end(text);
          }, () => {
            res.writeHead(500).end();
          });
          return;
        }
        res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found; metrics are at /metrics\n');
      });
      server.listen(port, host);
      await Promise.race([once(server, 'listening'), once(server, 'error').then(([err]) => Promise.reject(err))]);
      servers.push(server);
      return server;
    },
    async stop() {
      await Promise.all(servers.splice(0).map((s) => new Promise<void>((resolve) => {
        s.close(() => resolve());
        s.closeAllConnections();
      })));
    },
  };
}

/**
 * The timer of Kubernetes calls by verb and HTTP code, told by the client as each call starts and
 * settles (KubeClient.observedBy): a number and a histogram cell per call, no promise of its own.
 */
export function kubeCallTimer(histogram: RequestHistogram<'verb' | 'code'>): KubeCallObserver<number> {
  const timers = new LabelledChildren((verb, code) => histogram.labels({ verb, code }));
  return {
    started: () => performance.now(),
    settled(started, method, err) {
      // The client returns only the body of a success, not its status: successes are 2xx.
      timers.get(method, err === undefined ? '2xx' : codeOf(err)).observe((performance.now() - started) / 1000);
    },
  };
}

const codeOf = (err: unknown) => (err instanceof KubeApiError ? String(err.httpStatus) : '0');

/** A client whose watches are timed until they are open (or refused), by HTTP code. */
export function timedWatches(client: KubeClient, histogram: RequestHistogram<'verb' | 'code'>): KubeClient {
  const wrapped = Object.create(client) as KubeClient;
  if (typeof client.close === 'function') wrapped.close = client.close.bind(client);
  // A watch is timed until it is open (or refused): its lifetime says nothing about the apiserver.
  wrapped.watch = function watch<T>(path: string, opts: Parameters<KubeClient['watch']>[1]): Promise<void> {
    const started = performance.now();
    let opened = false;
    const result = client.watch<T>(path, {
      ...opts,
      onOpen: () => {
        opened = true;
        histogram.observe({ verb: 'WATCH', code: '2xx' }, (performance.now() - started) / 1000);
        opts.onOpen?.();
      },
    } as Parameters<KubeClient['watch']>[1]);
    result.catch((err: unknown) => {
      if (!opened) histogram.observe({ verb: 'WATCH', code: codeOf(err) }, (performance.now() - started) / 1000);
    });
    return result;
  } as KubeClient['watch'];
  return wrapped;
}
