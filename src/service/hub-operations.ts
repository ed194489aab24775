// The operations the GraphQL schema calls: the resource service for queries and mutations, and
// the shared watch hub for subscriptions, so N subscribers to one resource cost one upstream watch.
import type { Impersonation, KubeClient } from '../kube/kube-client.ts';
import { kubeListWatch } from '../kube/list-watch.ts';
import type { KubeList, KubeWatchEvent, ListArgs, OperationRequest, ResourceOperations, WatchArgs } from '../contract/operations.ts';
import { ApiError, fromKubeError } from '../api-errors.ts';
import type { Permissions } from '../auth/permissions.ts';
import { partitionedList } from './partitioned-list.ts';
import { setTimer } from './deadline-timer.ts';
import { mapStream } from '../streams/map-stream.ts';
import { WatchHub, type HubEvent, type WatchHubOptions } from './watch-hub.ts';
import { pathSegment, ResourceService } from './resource-service.ts';
import type { CallerContext } from '../contract/caller-context.ts';
import { fieldPathMapper } from './field-path-mapper.ts';
import { recheckSchedule } from './recheck-schedule.ts';
import { QueryCaches, type QueryCacheOptions } from './query-cache.ts';
import { hubFeed } from './query-cache-feed.ts';
import { createFilteredLists, isQueryList, type CacheScope, type FilteredLists } from './filtered-list.ts';

export interface GatewayOperations extends ResourceOperations<CallerContext> {
  readonly hub: WatchHub;
  readonly service: ResourceService;
  /** The shared cache behind filtered and sorted lists, and where those lists were answered. */
  readonly queries: { readonly caches: QueryCaches; readonly counters: FilteredLists['counters'] };
  /** Stops the re-check timers (the hub is stopped on its own). */
  stopRechecks(): void;
}

export interface GatewayOperationsOptions {
  hub?: Partial<WatchHubOptions>;
  service?: ConstructorParameters<typeof ResourceService>[1];
  /** With tenants: RBAC answers for partitioned lists and for filtering shared watches. */
  permissions?: Permissions;
  /** How soon after the last of a burst of RBAC changes live watches are re-checked. */
  recheckDelayMs?: number;
  /** How long after an RBAC change live watches are re-checked at the latest, however the changes go on. */
  recheckMaxWaitMs?: number;
  /** The query cache (filtered and sorted lists). */
  queryCache?: Partial<Omit<QueryCacheOptions, 'feed'>> & { maxScan?: number; resourceVersionWaitMs?: number };
}

type WatchReq = OperationRequest<WatchArgs, CallerContext>;

interface LiveWatch {
  req: WatchReq;
  /** Namespaces the subscriber may watch, when it may not watch them all; read by the filter. */
  namespaces?: Set<string>;
  /**
   * The RBAC view is stale and Kubernetes could not confirm the subscriber's rights at the last
   * try: its next event ends the subscription instead of being delivered.
   */
  unverified?: boolean;
  revoke(err: ApiError): void;
}

export function createGatewayOperations(client: KubeClient, opts: GatewayOperationsOptions = {}): GatewayOperations {
  const service = new ResourceService(client, { fieldPathMapper: (_r, v) => fieldPathMapper(v.schema), ...opts.service });
  const permissions = opts.permissions;
  const hub = new WatchHub({
    sourceFor: (key) => kubeListWatch(client, `/apis/${key.group}/${key.version}${key.namespace ? `/namespaces/${pathSegment(key.namespace, 'namespace')}` : ''}/${key.plural}`),
    // A resume point older than the hub remembers goes to the apiserver itself, as the caller,
    // which either still has it (and sends exactly the events after it) or answers 410 Gone.
    fallback: (key, o) => directWatch(service, key, o),
    ...opts.hub,
  });

  const live = new Set<LiveWatch>();
  const schedule = recheckSchedule((repeat) => {
    if (repeat) permissions?.forget();
    for (const w of live) void recheck(w);
  }, { delayMs: opts.recheckDelayMs ?? 250, maxWaitMs: opts.recheckMaxWaitMs ?? 1_000, followUpsMs: [750, 2_250, 3_750] });
  // RBAC changed: re-ask Kubernetes for every live tenant watch, soon but batched.
  permissions?.onInvalidate(() => schedule.changed());
  permissions?.onViewState((state) => {
    if (state === 'fresh') {
      for (const w of live) void recheck(w);
      return;
    }
    // The watch of RBAC objects has been failing for a while: changes may go unseen. Each
    // second, ask Kubernetes afresh about exactly what each subscription uses.
    permissions.forget();
    for (const w of live) void verifyByAccessReview(w);
  });

  /** What the caller may watch: everything (undefined), some namespaces, or FORBIDDEN. */
  async function watchScope(req: WatchReq): Promise<Set<string> | undefined> {
    const identity = req.context.identity;
    if (!permissions || !identity) return undefined;
    const ref = { group: req.resource.group, plural: req.resource.plural, namespaced: req.resource.scope === 'Namespaced' };
    const perms = await permissions.of(identity, [ref]);
    const ns = ref.namespaced ? req.namespace : undefined;
    // A watch needs list and watch, as the apiserver requires for its own watches.
    if (perms.allowedIn('watch', ref, ns) && perms.allowedIn('list', ref, ns)) return undefined;
    if (ref.namespaced && !ns) {
      const watchable = perms.namespacesWhere('watch', ref).filter((n) => perms.allowedIn('list', ref, n));
      if (watchable.length) return new Set(watchable);
    }
    throw forbidden(req, 'watch', ns);
  }

  async function recheck(w: LiveWatch): Promise<void> {
    try {
      // The filter reads w.namespaces on every event: narrowing or widening takes effect at once.
      w.namespaces = await watchScope(w.req);
      w.unverified = false;
    } catch (err) {
      w.revoke(err instanceof ApiError ? err : fromKubeError(err));
    }
  }

  /**
   * A re-check that does not depend on the gateway's view of RBAC objects: SubjectAccessReviews
   * for list and watch where the subscription watches (its namespace, the namespaces it was
   * narrowed to, or the cluster). When Kubernetes answers with an error, the subscription is
   * marked unverified: it stays open while nothing happens, but is ended rather than sent an event.
   */
  async function verifyByAccessReview(w: LiveWatch): Promise<void> {
    const identity = w.req.context.identity;
    if (!permissions || !identity) return;
    const r = w.req.resource;
    const namespaced = r.scope === 'Namespaced';
    const may = async (namespace?: string) => {
      const ask = (verb: 'list' | 'watch') => permissions.reviewer.allowed(identity, { verb, group: r.group, resource: r.plural, namespace });
      const [list, watch] = await Promise.all([ask('list'), ask('watch')]);
      return list && watch;
    };
    try {
      if (!namespaced || w.req.namespace) {
        if (!(await may(namespaced ? w.req.namespace : undefined))) throw forbidden(w.req, 'watch', w.req.namespace);
      } else if (w.namespaces) {
        const kept = (await Promise.all([...w.namespaces].map(async (ns) => ((await may(ns)) ? ns : undefined)))).filter((ns) => ns !== undefined);
        if (!kept.length) throw forbidden(w.req, 'watch', undefined);
        w.namespaces = new Set(kept);
      } else if (!(await may())) {
        // No longer across all namespaces: which ones is a question for rules reviews.
        w.namespaces = await watchScope(w.req);
      }
      w.unverified = false;
    } catch (err) {
      const e = err instanceof ApiError ? err : fromKubeError(err);
      if (e.code === 'FORBIDDEN') w.revoke(e);
      // No answer at all (the apiserver cannot be reached): it cannot send events either, and the
      // next second asks again. Any answer that is not one (429, 5xx, a timeout) leaves the
      // subscription unverified.
      else if (!(e.code === 'UNAVAILABLE' && e.details.kubernetesCode === undefined)) w.unverified = true;
    }
  }

  async function watch(req: WatchReq): Promise<AsyncIterable<KubeWatchEvent>> {
    const a = req.args;
    if (req.namespace !== undefined) pathSegment(req.namespace, 'namespace');
    const scope = await watchScope(req);
    let revoked: ApiError | undefined;
    const entry: LiveWatch = { req, namespaces: scope, revoke: () => {} };
    const namespaceOf = (o: Record<string, unknown>) => (o.metadata as { namespace?: string } | undefined)?.namespace ?? '';
    const identity = req.context.identity;
    const namespaced = req.resource.scope === 'Namespaced';
    const ref = { group: req.resource.group, plural: req.resource.plural, namespaced };
    const events = hub.subscribe(
      { group: req.resource.group, version: req.version.name, plural: req.resource.plural, namespace: req.resource.scope === 'Namespaced' ? req.namespace : undefined },
      {
        labelSelector: a.labelSelector,
        fieldSelector: a.fieldSelector,
        selectableFields: req.version.selectableFields.map((f) => f.jsonPath),
        resourceVersion: a.resourceVersion,
        sendInitialEvents: a.sendInitialEvents,
        signal: req.context.signal,
        identity: req.context.identity,
        // Events of namespaces the subscriber may not see never reach it, even on a shared watch:
        // each event is checked against the namespaces of the last re-check and the newest rules
        // Kubernetes gave for this caller, so a narrower grant applies from the next event on.
        filter: permissions && identity ? (o) => {
          if (entry.unverified) {
            queueMicrotask(() => entry.revoke(unverifiable()));
            return false;
          }
          if (!namespaced) return true;
          const ns = namespaceOf(o);
          if (entry.namespaces && !entry.namespaces.has(ns)) return false;
          const latest = permissions.latest(identity);
          return !latest || (latest.rulesAllowIn('watch', ref, ns) && latest.rulesAllowIn('list', ref, ns));
        } : undefined,
      },
    );
    // Credentials that expire end the subscription then, not at the next event.
    let expiry: { cancel(): void } | undefined;
    const stream = mapStream(events, (e): KubeWatchEvent => ({ type: e.type, object: e.object, resourceVersion: e.resourceVersion }), {
      beforeEnd: () => revoked,
      onEnd: () => {
        expiry?.cancel();
        live.delete(entry);
      },
    });
    entry.revoke = (err) => {
      revoked = err;
      // Ends the hub subscriber; the pending next() then reports the reason.
      void events[Symbol.asyncIterator]().return?.();
    };
    live.add(entry);
    if (req.context.expiresAt !== undefined) {
      expiry = setTimer(() => entry.revoke(new ApiError('UNAUTHENTICATED', 'the token expired; reconnect with a fresh token', { reason: 'Unauthorized' })),
        req.context.expiresAt);
    }
    const revalidate = req.context.revalidate;
    if (revalidate && req.context.revalidateEveryMs) {
      // A token can be revoked before it expires (TokenReview mode): ask again now and then.
      const timer = setInterval(() => {
        revalidate().catch((err: unknown) => {
          const e = err instanceof ApiError ? err : fromKubeError(err);
          if (e.code === 'UNAUTHENTICATED' || e.code === 'FORBIDDEN') entry.revoke(e);
        });
      }, req.context.revalidateEveryMs);
      timer.unref();
      const cancelExpiry = expiry;
      expiry = { cancel: () => {
        clearInterval(timer);
        cancelExpiry?.cancel();
      } };
    }
    return stream;
  }

  const { maxScan, resourceVersionWaitMs, maxBytes, idleMs, ...cacheOptions } = opts.queryCache ?? {};
  const caches = new QueryCaches({ ...cacheOptions, maxBytes: maxBytes ?? 256 * 2 ** 20, idleMs: idleMs ?? 300_000, feed: hubFeed(hub) });
  const filtered = createFilteredLists({ caches, apiserverList: list, scope: cacheScope, maxScan: maxScan ?? 20_000, resourceVersionWaitMs });

  /**
   * The cache holds what the gateway sees; a caller may read it where its own list is
   * unconditional (rules without resourceNames, or cluster-wide), which the partition of
   * namespaces below decides exactly as for a plain list across namespaces.
   */
  async function cacheScope(req: OperationRequest<ListArgs, CallerContext>): Promise<CacheScope> {
    if (req.namespace !== undefined) pathSegment(req.namespace, 'namespace');
    const identity = req.context.identity;
    if (!permissions || !identity) return { kind: 'all' };
    const namespaced = req.resource.scope === 'Namespaced';
    const ref = { group: req.resource.group, plural: req.resource.plural, namespaced };
    const perms = await permissions.of(identity, [ref]);
    if (!namespaced || req.namespace !== undefined) return perms.allowedIn('list', ref, req.namespace) ? { kind: 'all' } : { kind: 'apiserver' };
    if (perms.clusterWide('list', ref)) return { kind: 'all' };
    const namespaces = perms.namespacesWhere('list', ref);
    return namespaces.length ? { kind: 'namespaces', namespaces: new Set(namespaces) } : { kind: 'apiserver' };
  }

  async function list(req: OperationRequest<ListArgs, CallerContext>): Promise<KubeList> {
    const identity = req.context.identity;
    const namespaced = req.resource.scope === 'Namespaced';
    if (!permissions || !identity || !namespaced || req.namespace) return service.list(req);
    const ref = { group: req.resource.group, plural: req.resource.plural, namespaced };
    const perms = await permissions.of(identity, [ref]);
    if (perms.clusterWide('list', ref)) return service.list(req);
    const namespaces = perms.namespacesWhere('list', ref);
    if (!namespaces.length) throw forbidden(req, 'list', undefined);
    return partitionedList(service, req, namespaces);
  }

  return {
    hub,
    service,
    queries: { caches, counters: filtered.counters },
    stopRechecks: () => schedule.cancel(),
    get: (r) => service.get(r),
    list: (r) => (isQueryList(r.args) ? filtered.list(r) : list(r)),
    create: (r) => service.create(r),
    replace: (r) => service.replace(r),
    patch: (r) => service.patch(r),
    updateStatus: (r) => service.updateStatus(r),
    getScale: (r) => service.getScale(r),
    updateScale: (r) => service.updateScale(r),
    delete: (r) => service.delete(r),
    deleteCollection: (r) => service.deleteCollection(r),
    watch,
  };
}

function unverifiable(): ApiError {
  return new ApiError('UNAVAILABLE', 'the gateway cannot confirm with Kubernetes that you may still watch this (its view of RBAC is out of date and Kubernetes did not answer); subscribe again',
    { reason: 'ServiceUnavailable', retryAfterSeconds: 1 });
}

function forbidden(req: OperationRequest<unknown, CallerContext>, verb: string, namespace: string | undefined): ApiError {
  const who = req.context.identity?.user ?? 'the caller';
  const where = namespace ? ` in the namespace "${namespace}"` : req.resource.scope === 'Namespaced' ? ' in any namespace' : ' at the cluster scope';
  return new ApiError('FORBIDDEN', `${req.resource.plural}.${req.resource.group} is forbidden: User "${who}" cannot ${verb} resource "${req.resource.plural}" in API group "${req.resource.group}"${where}`,
    { reason: 'Forbidden', group: req.resource.group, kind: req.resource.plural });
}

async function* directWatch(service: ResourceService, key: { group: string; version: string; plural: string; namespace?: string },
  o: { labelSelector?: string; fieldSelector?: string; resourceVersion?: string; signal?: AbortSignal; identity?: Impersonation }): AsyncIterable<HubEvent> {
  // The service builds the path from group, plural, scope and version name only.
  type Req = OperationRequest<WatchArgs, CallerContext>;
  const req: Req = {
    resource: { group: key.group, plural: key.plural, scope: key.namespace ? 'Namespaced' : 'Cluster' } as Req['resource'],
    version: { name: key.version } as Req['version'],
    namespace: key.namespace,
    args: { labelSelector: o.labelSelector, fieldSelector: o.fieldSelector, resourceVersion: o.resourceVersion, allowWatchBookmarks: true },
    context: { signal: o.signal, identity: o.identity },
  };
  for await (const e of service.watch(req)) {
    const rv = ((e.object.metadata ?? {}) as { resourceVersion?: string }).resourceVersion ?? '';
    if (e.type === 'ERROR') continue;
    yield { type: e.type, object: e.object, resourceVersion: rv };
  }
}
