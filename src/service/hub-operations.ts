// The operations the API layers call: the resource service for queries and mutations, and the
// shared watch hub for watches, so N subscribers to one resource cost one upstream watch. Who may
// see what is auth's business (src/auth/rbac-operations.ts); a watch here takes the per-event
// check and the end it is given.
import type { Impersonation, KubeClient } from '../kube/kube-client.ts';
import { kubeListWatch } from '../kube/list-watch.ts';
import type { KubeObject, KubeWatchEvent, OperationRequest, ResourceOperations, WatchArgs } from '../contract/operations.ts';
import { mapStream } from '../streams/map-stream.ts';
import { WatchHub, type HubEvent, type WatchHubOptions } from './watch-hub.ts';
import { pathSegment, ResourceService } from './resource-service.ts';
import type { CallerContext } from '../contract/caller-context.ts';
import { fieldPathMapper } from './field-path-mapper.ts';
import { ApiDiscovery, type ApiDiscoveryOptions } from './api-discovery.ts';
import { kubeObjectReader, type ObjectReader } from './object-reader.ts';
import { relationOperations } from './relation-service.ts';

export interface GatewayOperations extends ResourceOperations<CallerContext> {
  readonly hub: WatchHub;
  readonly service: ResourceService;
  /** The kinds the cluster serves, for relations. */
  readonly discovery: ApiDiscovery;
  /** Reads of any kind as the caller, which relations make (auth narrows its lists across namespaces). */
  readonly reader: ObjectReader;
}

type WatchReq = OperationRequest<WatchArgs, CallerContext>;

/** How auth narrows and ends one watch on the shared upstream watch. */
export interface WatchGuard {
  /**
   * Checked for every event before it is queued: events the subscriber may not see never reach
   * it. Read per event, so a check that reads the newest rules applies from the next event on.
   */
  visible?: (object: KubeObject) => boolean;
  /** When it returns an error, the stream ends with that error instead of quietly (a revoked grant). */
  endReason?: () => unknown;
  /** Called once when the stream ends, however it ends. */
  onEnd?: () => void;
}

export interface HubOperations extends GatewayOperations {
  /** A watch on the shared upstream watch; return() on the stream ends the subscriber at once. */
  watchGuarded(req: WatchReq, guard: WatchGuard): AsyncIterableIterator<KubeWatchEvent>;
}

export interface HubOperationsOptions {
  hub?: Partial<WatchHubOptions>;
  service?: ConstructorParameters<typeof ResourceService>[1];
  discovery?: ApiDiscoveryOptions;
}

export function createHubOperations(client: KubeClient, opts: HubOperationsOptions = {}): HubOperations {
  const service = new ResourceService(client, { fieldPathMapper: (_r, v) => fieldPathMapper(v.schema), ...opts.service });
  const hub = new WatchHub({
    sourceFor: (key) => kubeListWatch(client, `/apis/${key.group}/${key.version}${key.namespace ? `/namespaces/${pathSegment(key.namespace, 'namespace')}` : ''}/${key.plural}`),
    // A resume point older than the hub remembers goes to the apiserver itself, as the caller,
    // which either still has it (and sends exactly the events after it) or answers 410 Gone.
    fallback: (key, o) => directWatch(service, key, o),
    ...opts.hub,
  });

  const watchGuarded = (req: WatchReq, guard: WatchGuard): AsyncIterableIterator<KubeWatchEvent> => {
    const a = req.args;
    if (req.namespace !== undefined) pathSegment(req.namespace, 'namespace');
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
        filter: guard.visible,
      },
    );
    return mapStream(events, (e): KubeWatchEvent => ({ type: e.type, object: e.object, resourceVersion: e.resourceVersion }),
      { beforeEnd: guard.endReason, onEnd: guard.onEnd });
  };

  const discovery = new ApiDiscovery(client, opts.discovery);
  const reader = kubeObjectReader(client);
  return {
    hub,
    service,
    discovery,
    reader,
    ...relationOperations({ discovery, reader }),
    get: (r) => service.get(r),
    list: (r) => service.list(r),
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
  };
}

async function* directWatch(service: ResourceService, key: { group: string; version: string; plural: string; namespace?: string },
  o: { labelSelector?: string; fieldSelector?: string; resourceVersion?: string; signal?: AbortSignal; identity?: Impersonation }): AsyncIterable<HubEvent> {
  // The service builds the path from group, plural, scope and version name only.
  const req: WatchReq = {
    resource: { group: key.group, plural: key.plural, scope: key.namespace ? 'Namespaced' : 'Cluster' } as WatchReq['resource'],
    version: { name: key.version } as WatchReq['version'],
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
