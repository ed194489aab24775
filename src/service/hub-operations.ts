// The operations the GraphQL schema calls: the resource service for queries and mutations, and
// the shared watch hub for subscriptions, so N subscribers to one resource cost one upstream watch.
import type { KubeClient } from '../kube/kube-client.ts';
import { kubeListWatch } from '../kube/list-watch.ts';
import type { KubeWatchEvent, OperationRequest, ResourceOperations, WatchArgs } from '../graphql/operations.ts';
import { WatchHub, type HubEvent, type WatchHubOptions } from '../watch/watch-hub.ts';
import { ResourceService, type CallerContext } from './resource-service.ts';
import { fieldPathMapper } from './field-path-mapper.ts';

export interface GatewayOperations extends ResourceOperations<CallerContext> {
  readonly hub: WatchHub;
  readonly service: ResourceService;
}

export function createGatewayOperations(client: KubeClient, opts: { hub?: Partial<WatchHubOptions>; service?: ConstructorParameters<typeof ResourceService>[1] } = {}): GatewayOperations {
  const service = new ResourceService(client, { fieldPathMapper: (_r, v) => fieldPathMapper(v.schema), ...opts.service });
  const hub = new WatchHub({
    sourceFor: (key) => kubeListWatch(client, `/apis/${key.group}/${key.version}${key.namespace ? `/namespaces/${encodeURIComponent(key.namespace)}` : ''}/${key.plural}`),
    // A resume point older than the hub remembers goes to the apiserver itself, which either
    // still has it (and sends exactly the events after it) or answers 410 Gone.
    fallback: (key, o) => directWatch(service, key, o),
    ...opts.hub,
  });

  async function* watch(req: OperationRequest<WatchArgs, CallerContext>): AsyncIterable<KubeWatchEvent> {
    const a = req.args;
    const events = hub.subscribe(
      { group: req.resource.group, version: req.version.name, plural: req.resource.plural, namespace: req.resource.scope === 'Namespaced' ? req.namespace : undefined },
      {
        labelSelector: a.labelSelector,
        fieldSelector: a.fieldSelector,
        selectableFields: req.version.selectableFields.map((f) => f.jsonPath),
        resourceVersion: a.resourceVersion,
        sendInitialEvents: a.sendInitialEvents,
        signal: req.context.signal,
      },
    );
    for await (const e of events) yield { type: e.type, object: e.object, resourceVersion: e.resourceVersion } as KubeWatchEvent;
  }

  const ops: GatewayOperations = {
    hub,
    service,
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
    watch,
  };
  return ops;
}

async function* directWatch(service: ResourceService, key: { group: string; version: string; plural: string; namespace?: string },
  o: { labelSelector?: string; fieldSelector?: string; resourceVersion?: string; signal?: AbortSignal }): AsyncIterable<HubEvent> {
  // The service builds the path from group, plural, scope and version name only.
  type Req = OperationRequest<WatchArgs, CallerContext>;
  const req: Req = {
    resource: { group: key.group, plural: key.plural, scope: key.namespace ? 'Namespaced' : 'Cluster' } as Req['resource'],
    version: { name: key.version } as Req['version'],
    namespace: key.namespace,
    args: { labelSelector: o.labelSelector, fieldSelector: o.fieldSelector, resourceVersion: o.resourceVersion, allowWatchBookmarks: true },
    context: { signal: o.signal },
  };
  for await (const e of service.watch(req)) {
    const rv = ((e.object.metadata ?? {}) as { resourceVersion?: string }).resourceVersion ?? '';
    if (e.type === 'ERROR') continue;
    yield { type: e.type, object: e.object, resourceVersion: rv };
  }
}
