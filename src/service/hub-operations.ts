// The operations the API layers call: the resource service for queries and mutations, the shared
// watch hub for watches, so N subscribers to one resource cost one upstream watch, and the query
// cache on the hub's watches for filtered and sorted lists. Who may see what is auth's business
// (src/auth/rbac-operations.ts); a watch here takes the per-event check and the end it is given,
// a filtered list the cache scope and the apiserver list it is given.
import type { Impersonation, KubeClient } from '../kube/kube-client.ts';
import { kubeListWatch } from '../kube/list-watch.ts';
import type { KubeList, KubeObject, ListArgs, OperationRequest, ResourceOperations, WatchArgs, WatchFeed } from '../contract/operations.ts';
import { WatchHub, type HubEvent, type WatchHubOptions } from './watch-hub.ts';
import { pathSegment, ResourceService } from './resource-service.ts';
import type { CallerContext } from '../contract/caller-context.ts';
import { fieldPathMapper } from './field-path-mapper.ts';
import { QueryCaches, type QueryCacheOptions } from './query-cache.ts';
import { hubFeed } from './query-cache-feed.ts';
import { cachedObjects, createFilteredLists, isQueryList, type CacheScope, type FilteredLists, type ListGuard } from './filtered-list.ts';
import { ApiDiscovery, type ApiDiscoveryOptions } from './api-discovery.ts';
import { kubeObjectReader, type ObjectReader } from './object-reader.ts';
import type { ApiResource } from './api-discovery.ts';
import { relationOperations } from './relation-service.ts';

export interface GatewayOperations extends ResourceOperations<CallerContext> {
  readonly hub: WatchHub;
  readonly service: ResourceService;
  /** The shared cache behind filtered and sorted lists, and where those lists were answered. */
  readonly queries: { readonly caches: QueryCaches; readonly counters: FilteredLists['counters'] };
  /** The kinds the cluster serves, for relations. */
  readonly discovery: ApiDiscovery;
  /** Reads of any kind as the caller, which relations make (auth narrows its lists across namespaces). */
  readonly reader: ObjectReader;
  /**
   * What a running, synced query cache holds of a resource in a namespace (or all of them), cut
   * to a scope; undefined when none runs. Starts nothing.
   */
  cachedObjects(resource: ApiResource, namespace: string | undefined, scope: CacheScope): readonly KubeObject[] | undefined;
}

type WatchReq = OperationRequest<WatchArgs, CallerContext>;

/** How auth narrows one watch on the shared upstream watch. */
export interface WatchGuard {
  /**
   * Checked for every event before it is delivered: events the subscriber may not see never
   * reach it. Read per event, so a check that reads the newest rules applies from the next event
   * on. It may read only the object's name, namespace and labels (see SubscribeOptions.filter).
   */
  visible?: (object: KubeObject) => boolean;
  /** Called once when the watch ends, however it ends. */
  onEnd?: () => void;
  /**
   * The caller may watch only some of the namespaces the watch spans (`visible` says which): a
   * resume point older than the hub's window is then served by a direct watch as the gateway,
   * filtered by `visible` as the shared watch is, since the apiserver refuses the caller's own
   * watch across all namespaces.
   */
  directAsGateway?: boolean;
}

export interface HubOperations extends GatewayOperations {
  /** A watch on the shared upstream watch; fail() on the feed ends it with that error (a revoked grant). */
  watchGuarded(req: WatchReq, guard: WatchGuard): WatchFeed;
  /** A list with where, orderBy or consistency CACHED, read where the guard allows. */
  queryList(req: OperationRequest<ListArgs, CallerContext>, guard: ListGuard): Promise<KubeList>;
}

export interface HubOperationsOptions {
  hub?: Partial<WatchHubOptions>;
  service?: ConstructorParameters<typeof ResourceService>[1];
  /** The query cache (filtered and sorted lists); maxScan bounds what such a list reads from the apiserver. */
  queryCache?: Partial<Omit<QueryCacheOptions, 'feed'>> & { maxScan?: number; resourceVersionWaitMs?: number };
  discovery?: ApiDiscoveryOptions;
}

export function createHubOperations(client: KubeClient, opts: HubOperationsOptions = {}): HubOperations {
  const service = new ResourceService(client, { fieldPathMapper: (_r, v) => fieldPathMapper(v.schema), ...opts.service });
  const hub = new WatchHub({
    sourceFor: (key) => kubeListWatch(client, `/apis/${key.group}/${key.version}${key.namespace ? `/namespaces/${pathSegment(key.namespace, 'namespace')}` : ''}/${key.plural}`),
    // A resume point older than the hub remembers goes to the apiserver itself, as the caller,
    // which either still has it (and sends exactly the events after it) or answers 410 Gone.
    fallback: (key, o, onEvent, signal) => directWatch(service, key, o.directAsGateway ? { ...o, identity: undefined } : o, onEvent, signal),
    ...opts.hub,
  });

  const { maxScan, resourceVersionWaitMs, maxBytes, idleMs, ...cacheOptions } = opts.queryCache ?? {};
  const caches = new QueryCaches({ ...cacheOptions, maxBytes: maxBytes ?? 256 * 2 ** 20, idleMs: idleMs ?? 300_000, feed: hubFeed(hub) });
  const filtered = createFilteredLists({ caches, maxScan: maxScan ?? 20_000, resourceVersionWaitMs });
  // Without tenants every caller reads what the gateway sees.
  const unguarded: ListGuard = { scope: { kind: 'all' }, apiserverList: (r) => service.list(r) };

  const watchGuarded = (req: WatchReq, guard: WatchGuard): WatchFeed => {
    const a = req.args;
    if (req.namespace !== undefined) pathSegment(req.namespace, 'namespace');
    const feed = hub.subscribe(
      { group: req.resource.group, version: req.version.name, plural: req.resource.plural, namespace: req.resource.scope === 'Namespaced' ? req.namespace : undefined },
      {
        labelSelector: a.labelSelector,
        fieldSelector: a.fieldSelector,
        selectableFields: req.version.selectableFields.map((f) => f.jsonPath),
        resourceVersion: a.resourceVersion,
        sendInitialEvents: a.sendInitialEvents,
        resourceVersionMatch: a.resourceVersionMatch,
        signal: req.context.signal,
        identity: req.context.identity,
        ...(guard.directAsGateway && guard.visible ? { directAsGateway: true } : {}),
        filter: guard.visible,
        ...(a.relatedTypes ? { relatedTypes: a.relatedTypes } : {}),
        servedAs: req.resource,
        ...(a.relatedTypesAs ? { relatedTypesAs: a.relatedTypesAs } : {}),
      },
    );
    if (guard.onEnd) feed.onClose(guard.onEnd);
    return feed;
  };

  const discovery = new ApiDiscovery(client, opts.discovery);
  const reader = kubeObjectReader(client, maxScan ?? 20_000);
  const cached = (r: ApiResource, namespace: string | undefined, scope: CacheScope) =>
    cachedObjects(caches, { group: r.group, version: r.version, plural: r.plural }, r.namespaced, namespace, scope);
  return {
    hub,
    service,
    queries: { caches, counters: filtered.counters },
    discovery,
    reader,
    cachedObjects: cached,
    ...relationOperations({ discovery, reader, cached: async (r, namespace) => cached(r, namespace, { kind: 'all' }) }),
    get: (r) => service.get(r),
    list: (r) => (isQueryList(r.args) ? filtered.list(r, unguarded) : service.list(r)),
    create: (r) => service.create(r),
    replace: (r) => service.replace(r),
    patch: (r) => service.patch(r),
    updateStatus: (r) => service.updateStatus(r),
    getScale: (r) => service.getScale(r),
    updateScale: (r) => service.updateScale(r),
    delete: (r) => service.delete(r),
    deleteCollection: (r) => service.deleteCollection(r),
    watch: async (r) => watchGuarded(r, {}),
    watchGuarded,
    queryList: (r, guard) => filtered.list(r, guard),
  };
}

function directWatch(service: ResourceService, key: { group: string; version: string; plural: string; namespace?: string },
  o: { labelSelector?: string; fieldSelector?: string; resourceVersion?: string; sendInitialEvents?: boolean; resourceVersionMatch?: 'NotOlderThan';
    signal?: AbortSignal; identity?: Impersonation; timeoutSeconds?: number; idleTimeoutMs?: number },
  onEvent: (e: HubEvent) => void | Promise<void>, signal: AbortSignal): Promise<void> {
  // The service builds the path from group, plural, scope and version name only.
  const req: WatchReq = {
    resource: { group: key.group, plural: key.plural, scope: key.namespace ? 'Namespaced' : 'Cluster' } as WatchReq['resource'],
    version: { name: key.version } as WatchReq['version'],
    namespace: key.namespace,
    args: {
      labelSelector: o.labelSelector, fieldSelector: o.fieldSelector, resourceVersion: o.resourceVersion, allowWatchBookmarks: true,
      timeoutSeconds: o.timeoutSeconds,
      // Only an initial state not older than the resourceVersion comes here with sendInitialEvents; a resume does not ask for one.
      ...(o.sendInitialEvents && o.resourceVersionMatch === 'NotOlderThan' ? { sendInitialEvents: true } : {}),
    },
    context: { signal: o.signal, identity: o.identity },
  };
  return service.watchDirect(req, (e) => {
    if (e.type === 'ERROR') return;
    const rv = ((e.object.metadata ?? {}) as { resourceVersion?: string }).resourceVersion ?? '';
    return onEvent({ type: e.type, object: e.object, resourceVersion: rv });
  }, signal, o.idleTimeoutMs);
}
