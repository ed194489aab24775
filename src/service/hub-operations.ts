// The operations the GraphQL schema calls: the resource service for queries and mutations, and
// the shared watch hub for subscriptions, so N subscribers to one resource cost one upstream watch.
import type { Impersonation, KubeClient } from '../kube/kube-client.ts';
import { kubeListWatch } from '../kube/list-watch.ts';
import type { KubeList, KubeWatchEvent, ListArgs, OperationRequest, ResourceOperations, WatchArgs } from '../graphql/operations.ts';
import { ApiError, fromKubeError } from '../api-errors.ts';
import type { Permissions } from '../auth/permissions.ts';
import { partitionedList } from './partitioned-list.ts';
import { setTimer } from './deadline-timer.ts';
import { mapStream } from '../watch/map-stream.ts';
import { WatchHub, type HubEvent, type WatchHubOptions } from '../watch/watch-hub.ts';
import { pathSegment, ResourceService, type CallerContext } from './resource-service.ts';
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
    sourceFor: (key) => kubeListWatch(client, `/apis/${key.group}/${key.version}${key.namespace ? `/namespaces/${pathSegment(key.namespace, 'namespace')}` : ''}/${key.plural}`),
    // A resume point older than the hub remembers goes to the apiserver itself, as the caller,
    // which either still has it (and sends exactly the events after it) or answers 410 Gone.
    fallback: (key, o) => directWatch(service, key, o),
    ...opts.hub,
  });

  const live = new Set<LiveWatch>();
  let rechecks: NodeJS.Timeout[] = [];
  permissions?.onInvalidate(() => {
    // RBAC changed: re-ask Kubernetes for every live tenant watch, soon but batched. The
    // apiserver's own RBAC cache follows the change a moment later than our watch of RBAC
    // objects does, so ask again a few times over the next seconds (a removed RoleBinding must end
    // subscriptions within 5 s).
    for (const t of rechecks) clearTimeout(t);
    const first = opts.recheckDelayMs ?? 250;
    rechecks = [first, first + 750, first + 2250, first + 3750].map((ms, i) => {
      const t = setTimeout(() => {
        if (i > 0) permissions.forget();
        for (const w of live) void recheck(w);
      }, ms);
      t.unref();
      return t;
    });
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
    } catch (err) {
      w.revoke(err instanceof ApiError ? err : fromKubeError(err));
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
        // each event is checked against the newest rules Kubernetes gave for this caller, so a
        // narrower grant applies from the next event on.
        filter: permissions && identity && namespaced ? (o) => {
          const ns = namespaceOf(o);
          const latest = permissions.latest(identity);
          if (!latest) return entry.namespaces?.has(ns) ?? true;
          return latest.rulesAllowIn('watch', ref, ns) && latest.rulesAllowIn('list', ref, ns);
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
    return stream;
  }

  async function list(req: OperationRequest<ListArgs, CallerContext>): Promise<KubeList> {
    const identity = req.context.identity;
    const namespaced = req.resource.scope === 'Namespaced';
    if (!permissions || !identity || !namespaced || req.namespace !== undefined) return service.list(req);
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
