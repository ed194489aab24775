// The operations as each caller's RBAC allows them, for tenants. Kubernetes itself refuses what a
// caller may not do (every call impersonates it); what the gateway adds is what Kubernetes cannot
// do for a shared watch or an all-namespace list: a list spanning only the namespaces the caller
// may list, and a shared watch filtered per event to the namespaces the caller may watch,
// re-checked when RBAC changes and ended when the grant or the token goes.
import { ApiError, fromKubeError } from '../api-errors.ts';
import type { CallerContext } from '../contract/caller-context.ts';
import type { KubeList, KubeObject, ListArgs, OperationRequest, WatchArgs, WatchFeed } from '../contract/operations.ts';
import { setTimer } from '../service/deadline-timer.ts';
import type { GatewayOperations, HubOperations } from '../service/hub-operations.ts';
import { partitionedList } from '../service/partitioned-list.ts';
import { pathSegment } from '../service/resource-service.ts';
import type { Permissions } from './permissions.ts';

export interface RbacOperationsOptions {
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

export function rbacOperations(ops: HubOperations, permissions: Permissions, opts: RbacOperationsOptions = {}): GatewayOperations {
  const live = new Set<LiveWatch>();
  recheckOnRbacChange(permissions, live, opts.recheckDelayMs ?? 250);

  async function watch(req: WatchReq): Promise<WatchFeed> {
    // A namespace that cannot name anything is bad input, whatever the caller's rights.
    if (req.namespace !== undefined) pathSegment(req.namespace, 'namespace');
    const entry: LiveWatch = { req, namespaces: await watchScope(permissions, req), revoke: () => {} };
    // Credentials that expire end the subscription then, not at the next event.
    let expiry: { cancel(): void } | undefined;
    let ended = false;
    live.add(entry);
    let feed: WatchFeed;
    try {
      feed = ops.watchGuarded(req, {
        visible: visibility(permissions, req, entry),
        onEnd: () => {
          ended = true;
          expiry?.cancel();
          live.delete(entry);
        },
      });
    } catch (err) {
      live.delete(entry);
      throw err;
    }
    // Ends the hub subscriber with the reason, which the reader shows.
    entry.revoke = (err) => feed.fail(err);
    if (req.context.expiresAt !== undefined && !ended) {
      expiry = setTimer(() => entry.revoke(new ApiError('UNAUTHENTICATED', 'the token expired; reconnect with a fresh token', { reason: 'Unauthorized' })),
        req.context.expiresAt);
    }
    return feed;
  }

  async function list(req: OperationRequest<ListArgs, CallerContext>): Promise<KubeList> {
    const identity = req.context.identity;
    const namespaced = req.resource.scope === 'Namespaced';
    if (!identity || !namespaced || req.namespace) return ops.list(req);
    const ref = { group: req.resource.group, plural: req.resource.plural, namespaced };
    const perms = await permissions.of(identity, [ref]);
    if (perms.clusterWide('list', ref)) return ops.list(req);
    const namespaces = perms.namespacesWhere('list', ref);
    if (!namespaces.length) throw forbidden(req, 'list', undefined);
    return partitionedList(ops.service, req, namespaces);
  }

  return { ...ops, list, watch };
}

/**
 * RBAC changed: re-ask Kubernetes for every live tenant watch, soon but batched. The apiserver's
 * own RBAC cache follows the change a moment later than our watch of RBAC objects does, so ask
 * again a few times over the next seconds (a removed RoleBinding must end subscriptions within 5 s).
 */
function recheckOnRbacChange(permissions: Permissions, live: ReadonlySet<LiveWatch>, firstMs: number): void {
  let rechecks: NodeJS.Timeout[] = [];
  permissions.onInvalidate(() => {
    for (const t of rechecks) clearTimeout(t);
    rechecks = [firstMs, firstMs + 750, firstMs + 2250, firstMs + 3750].map((ms, i) => {
      const t = setTimeout(() => {
        if (i > 0) permissions.forget();
        for (const w of live) void recheck(permissions, w);
      }, ms);
      t.unref();
      return t;
    });
  });
}

async function recheck(permissions: Permissions, w: LiveWatch): Promise<void> {
  try {
    // The filter reads w.namespaces on every event: narrowing or widening takes effect at once.
    w.namespaces = await watchScope(permissions, w.req);
  } catch (err) {
    w.revoke(err instanceof ApiError ? err : fromKubeError(err));
  }
}

/** What the caller may watch: everything (undefined), some namespaces, or FORBIDDEN. */
async function watchScope(permissions: Permissions, req: WatchReq): Promise<Set<string> | undefined> {
  const identity = req.context.identity;
  if (!identity) return undefined;
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

/**
 * Events of namespaces the subscriber may not see never reach it, even on a shared watch: each
 * event is checked against the newest rules Kubernetes gave for this caller, so a narrower grant
 * applies from the next event on.
 */
function visibility(permissions: Permissions, req: WatchReq, entry: LiveWatch): ((object: KubeObject) => boolean) | undefined {
  const identity = req.context.identity;
  const namespaced = req.resource.scope === 'Namespaced';
  if (!identity || !namespaced) return undefined;
  const ref = { group: req.resource.group, plural: req.resource.plural, namespaced };
  return (o) => {
    const ns = (o.metadata as { namespace?: string } | undefined)?.namespace ?? '';
    const latest = permissions.latest(identity);
    if (!latest) return entry.namespaces?.has(ns) ?? true;
    return latest.rulesAllowIn('watch', ref, ns) && latest.rulesAllowIn('list', ref, ns);
  };
}

function forbidden(req: OperationRequest<unknown, CallerContext>, verb: string, namespace: string | undefined): ApiError {
  const who = req.context.identity?.user ?? 'the caller';
  const where = namespace ? ` in the namespace "${namespace}"` : req.resource.scope === 'Namespaced' ? ' in any namespace' : ' at the cluster scope';
  return new ApiError('FORBIDDEN', `${req.resource.plural}.${req.resource.group} is forbidden: User "${who}" cannot ${verb} resource "${req.resource.plural}" in API group "${req.resource.group}"${where}`,
    { reason: 'Forbidden', group: req.resource.group, kind: req.resource.plural });
}
