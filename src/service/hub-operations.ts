// The operations the GraphQL schema calls: the resource service for queries and mutations, and
// the shared watch hub for subscriptions, so N subscribers to one resource cost one upstream watch.
import type { Impersonation, KubeClient } from '../kube/kube-client.ts';
import { kubeListWatch } from '../kube/list-watch.ts';
import type { KubeList, KubeWatchEvent, ListArgs, OperationRequest, ResourceOperations, WatchArgs } from '../graphql/operations.ts';
import { ApiError, fromKubeError } from '../api-errors.ts';
import type { Permissions } from '../auth/permissions.ts';
import { partitionedList } from './partitioned-list.ts';
import { WatchHub, type HubEvent, type WatchHubOptions } from '../watch/watch-hub.ts';
import { ResourceService, type CallerContext } from './resource-service.ts';
import { fieldPathMapper } from './field-path-mapper.ts';

export interface GatewayOperations extends ResourceOperations<CallerContext> {
  readonly hub: WatchHub;
  readonly service: ResourceService;
}

export interface GatewayOperationsOptions {
  hub?: Partial<WatchHubOptions>;
  service?: ConstructorParameters<typeof ResourceService>[1];
  /** With tenants: RBAC answers for partitioned lists and for filtering shared watches. */
  permissions?: Permissions;
  /** How soon after an RBAC change live watches are re-checked. */
  recheckDelayMs?: number;
}

type WatchReq = OperationRequest<WatchArgs, CallerContext>;

interface LiveWatch {
  req: WatchReq;
  /** Namespaces the subscriber may watch, when it may not watch them all; read by the filter. */
  namespaces?: Set<string>;
  revoke(err: ApiError): void;
}

export function createGatewayOperations(client: KubeClient, opts: GatewayOperationsOptions = {}): GatewayOperations {
  const service = new ResourceService(client, { fieldPathMapper: (_r, v) => fieldPathMapper(v.schema), ...opts.service });
  const permissions = opts.permissions;
  const hub = new WatchHub({
    sourceFor: (key) => kubeListWatch(client, `/apis/${key.group}/${key.version}${key.namespace ? `/namespaces/${encodeURIComponent(key.namespace)}` : ''}/${key.plural}`),
    // A resume point older than the hub remembers goes to the apiserver itself, as the caller,
    // which either still has it (and sends exactly the events after it) or answers 410 Gone.
    fallback: (key, o) => directWatch(service, key, o),
    ...opts.hub,
  });

  const live = new Set<LiveWatch>();
  let recheckTimer: NodeJS.Timeout | undefined;
  permissions?.onInvalidate(() => {
    // RBAC changed: re-ask Kubernetes for every live tenant watch, soon but batched.
    recheckTimer ??= setTimeout(() => {
      recheckTimer = undefined;
      for (const w of live) void recheck(w);
    }, opts.recheckDelayMs ?? 250);
    recheckTimer.unref();
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
      const scope = await watchScope(w.req);
      if (w.namespaces && scope) {
        w.namespaces.clear();
        for (const n of scope) w.namespaces.add(n);
      } else if (w.namespaces && !scope) {
        w.namespaces = undefined;
      }
    } catch (err) {
      w.revoke(err instanceof ApiError ? err : fromKubeError(err));
    }
  }

  async function* watch(req: WatchReq): AsyncIterable<KubeWatchEvent> {
    const a = req.args;
    const scope = await watchScope(req);
    let revoked: ApiError | undefined;
    const entry: LiveWatch = { req, namespaces: scope, revoke: () => {} };
    const namespaceOf = (o: Record<string, unknown>) => (o.metadata as { namespace?: string } | undefined)?.namespace ?? '';
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
        // Events of namespaces the subscriber may not see never reach it, even on a shared watch.
        filter: scope ? (o) => entry.namespaces?.has(namespaceOf(o)) ?? true : undefined,
      },
    );
    const it = events[Symbol.asyncIterator]();
    entry.revoke = (err) => {
      revoked = err;
      void it.return?.();
    };
    live.add(entry);
    // Credentials that expire end the subscription then, not at the next event.
    const expiry = req.context.expiresAt !== undefined
      ? setTimeout(() => entry.revoke(new ApiError('UNAUTHENTICATED', 'the token expired; reconnect with a fresh token', { reason: 'Unauthorized' })),
        Math.max(0, req.context.expiresAt - Date.now()))
      : undefined;
    expiry?.unref();
    try {
      for (;;) {
        const r = await it.next();
        if (revoked) throw revoked;
        if (r.done) break;
        const e = r.value;
        yield { type: e.type, object: e.object, resourceVersion: e.resourceVersion } as KubeWatchEvent;
      }
    } finally {
      clearTimeout(expiry);
      live.delete(entry);
      await it.return?.();
    }
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
    get: (r) => service.get(r),
    list,
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
