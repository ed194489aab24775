// The operations as each caller's RBAC allows them, for tenants. Kubernetes itself refuses what a
// caller may not do (every call impersonates it); what the gateway adds is what Kubernetes cannot
// do for a shared watch, a shared cache or an all-namespace list: a list spanning only the
// namespaces the caller may list, a filtered list read from the cache only where the caller's own
// list is unconditional (and cut to those namespaces), and a shared watch filtered per event to the
// namespaces the caller may watch, re-checked when RBAC changes and ended when the grant or the
// token goes. A watch whose field selector pins metadata.name is authorized for that name, as the
// apiserver authorizes its own (a Role limited to resourceNames allows it), and delivers only
// the object of that name.
import { ApiError, fromKubeError } from '../api-errors.ts';
import type { CallerContext } from '../contract/caller-context.ts';
import type { KubeList, KubeObject, ListArgs, OperationRequest, WatchArgs, WatchFeed } from '../contract/operations.ts';
import { setTimer } from '../service/deadline-timer.ts';
import type { GatewayOperations, HubOperations } from '../service/hub-operations.ts';
import { partitionedList } from '../service/partitioned-list.ts';
import { recheckSchedule, type RecheckSchedule } from '../service/recheck-schedule.ts';
import { pathSegment } from '../service/resource-service.ts';
import { tooManyToRead, type ObjectReader } from '../service/object-reader.ts';
import type { ApiResource } from '../service/api-discovery.ts';
import type { ResourceRef } from '../contract/access.ts';
import { relationOperations } from '../service/relation-service.ts';
import type { AccessRef, PermissionSet, Permissions } from './permissions.ts';
import { pinnedName } from '../service/watch-selectors.ts';
import { identityKey } from './access-review.ts';
import type { Impersonation } from '../kube/kube-client.ts';
import type { ReviewLane } from './review-queue.ts';
import { concerns, joinScopes, type ChangeScope } from './rbac-change-scope.ts';
import { mayUseResource } from '../graphql/tenant-schema.ts';
import { isQueryList, type CacheScope } from '../service/filtered-list.ts';

export interface RbacOperationsOptions {
  /** How soon after the last of a burst of RBAC changes live watches are re-checked. */
  recheckDelayMs?: number;
  /** How long after an RBAC change live watches are re-checked at the latest, however the changes go on. */
  recheckMaxWaitMs?: number;
  /**
   * Whether a resource is a custom resource (a CRD of the cluster). A tenant asking for the
   * children of a custom kind it may not use is told the cluster serves no such kind, as the REST
   * facade answers for such a resource: the answer does not show which CRDs exist. Built-in kinds
   * (ConfigMap, Pod, ...) exist in every cluster and are listed as the caller, whose refusal is
   * Kubernetes' FORBIDDEN. Absent: every kind is treated as a custom one.
   */
  customResource?: (group: string, plural: string) => boolean;
}

/** The operations as the caller's RBAC allows them; stopRechecks() ends the re-check timers. */
export interface RbacOperations extends GatewayOperations {
  stopRechecks(): void;
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
  /** Aborted when the subscription ends: its own reviews are dropped. */
  ended: AbortController;
}

/**
 * The live watches of one identity: an RBAC change re-checks the identity once for all of them
 * (one permission set for everything it watches), not each subscription on its own. At most one
 * re-check of an identity runs at a time; a change meanwhile asks for one more after it, so
 * re-checks never pile up behind a slow apiserver (a soak test queued 348,591 reviews for two RBAC
 * changes). Its reviews are dropped when its last watch ends.
 */
interface IdentityWatches {
  who: Impersonation;
  watches: Set<LiveWatch>;
  ended: AbortController;
  running?: Promise<void>;
  again: boolean;
}

export function rbacOperations(ops: HubOperations, permissions: Permissions, opts: RbacOperationsOptions = {}): RbacOperations {
  const live = new Set<LiveWatch>();
  const identities = new Map<string, IdentityWatches>();
  const schedule = recheckOnRbacChange(permissions, live, identities, opts);

  async function watch(req: WatchReq): Promise<WatchFeed> {
    // A namespace that cannot name anything is bad input, whatever the caller's rights.
    if (req.namespace !== undefined) pathSegment(req.namespace, 'namespace');
    const identity = req.context.identity;
    // Before the first answer, so that latest() keeps it.
    const release = identity ? permissions.retain(identity) : () => {};
    let entry: LiveWatch;
    try {
      entry = { req, namespaces: await watchScope(permissions, req, 'caller', req.context.signal), revoke: () => {}, ended: new AbortController() };
    } catch (err) {
      release();
      throw err;
    }
    // Credentials that expire or are revoked end the subscription then, not at the next event.
    let credentials: { cancel(): void } | undefined;
    let ended = false;
    const leave = () => {
      live.delete(entry);
      entry.ended.abort();
      if (identity) leaveIdentity(identities, identity, entry);
      release();
    };
    live.add(entry);
    if (identity) joinIdentity(identities, identity, entry);
    let feed: WatchFeed;
    try {
      feed = ops.watchGuarded(req, {
        visible: visibility(permissions, req, entry),
        directAsGateway: entry.namespaces !== undefined,
        onEnd: () => {
          ended = true;
          credentials?.cancel();
          leave();
        },
      });
    } catch (err) {
      leave();
      throw err;
    }
    // Ends the hub subscriber with the reason, which the reader shows.
    entry.revoke = (err) => feed.fail(err);
    if (!ended) credentials = watchCredentials(req.context, (err) => entry.revoke(err));
    return feed;
  }

  async function list(req: OperationRequest<ListArgs, CallerContext>): Promise<KubeList> {
    if (isQueryList(req.args)) return ops.queryList(req, { scope: await cacheScope(permissions, req), apiserverList: plainList });
    return plainList(req);
  }

  async function plainList(req: OperationRequest<ListArgs, CallerContext>): Promise<KubeList> {
    const identity = req.context.identity;
    const namespaced = req.resource.scope === 'Namespaced';
    if (!identity || !namespaced || req.namespace !== undefined) return ops.list(req);
    const ref = { group: req.resource.group, plural: req.resource.plural, namespaced };
    const perms = await permissions.of(identity, [ref], 'caller', req.context.signal);
    if (perms.clusterWide('list', ref) || (await mayListPinned(permissions, identity, ref, req))) return ops.list(req);
    const namespaces = perms.namespacesWhere('list', ref);
    if (!namespaces.length) throw forbidden(req, 'list', undefined);
    return partitionedList(ops.service, req, namespaces);
  }

  const reader = rbacReader(ops.reader, permissions);
  // Children read from the cache under the same decision as a filtered list from it.
  const cached = async (r: ApiResource, namespace: string | undefined, context: CallerContext) =>
    ops.cachedObjects(r, namespace, await scopeOf(permissions, context, { group: r.group, plural: r.plural, namespaced: r.namespaced }, namespace));
  const known = knownTo(permissions, opts.customResource);
  return { ...ops, reader, ...relationOperations({ discovery: ops.discovery, reader, cached, known }), list, watch, stopRechecks: () => schedule.cancel() };
}

/**
 * A list across all namespaces whose field selector pins one name, which Kubernetes authorizes for
 * that name (as a pinned watch, see refOfWatch): a right to list that object cluster-wide (a
 * ClusterRole limited to resourceNames) lets the caller's own list through, where the namespaces
 * it may list in general would miss it. An informer lists before it watches.
 */
async function mayListPinned(permissions: Permissions, identity: Impersonation, ref: ResourceRef, req: OperationRequest<ListArgs, CallerContext>): Promise<boolean> {
  const name = pinnedName(req.args.fieldSelector);
  if (name === undefined) return false;
  const named: AccessRef = { ...ref, name };
  return (await permissions.of(identity, [named], 'caller', req.context.signal)).clusterWide('list', named);
}

/** Whether a caller may learn that a resource exists: the rule of mayUseResource for custom resources. */
function knownTo(permissions: Permissions, customResource: RbacOperationsOptions['customResource']): (r: ApiResource, context: CallerContext) => Promise<boolean> {
  return async (r, context) => {
    if (!context.identity || (customResource && !customResource(r.group, r.plural))) return true;
    const ref: ResourceRef = { group: r.group, plural: r.plural, namespaced: r.namespaced };
    return mayUseResource(await permissions.of(context.identity, [ref], 'caller', context.signal), ref);
  };
}

/**
 * Relations read across all namespaces (the namespaced children of a cluster-scoped object) as
 * lists do: over the namespaces the caller may list, when it may not list them all.
 */
function rbacReader(reader: ObjectReader, permissions: Permissions): ObjectReader {
  return {
    get: reader.get,
    async list(r, namespace, query, context) {
      const identity = context.identity;
      if (!identity || !r.namespaced || namespace !== undefined) return reader.list(r, namespace, query, context);
      const ref = { group: r.group, plural: r.plural, namespaced: true };
      const perms = await permissions.of(identity, [ref], 'caller', context.signal);
      if (perms.clusterWide('list', ref)) return reader.list(r, undefined, query, context);
      const namespaces = perms.namespacesWhere('list', ref);
      if (!namespaces.length) {
        const resource = r.group ? `${r.plural}.${r.group}` : r.plural;
        throw new ApiError('FORBIDDEN', `${resource} is forbidden: User "${identity.user}" cannot list resource "${r.plural}" in API group "${r.group}" in any namespace`,
          { reason: 'Forbidden', group: r.group, kind: r.plural });
      }
      const pages = [];
      let read = 0;
      // Sequential: a caller with many namespaces must not open as many calls at once.
      for (const ns of namespaces) {
        const page = await reader.list(r, ns, query, context);
        if ((read += page.length) > reader.maxScan) throw tooManyToRead(r, undefined, reader.maxScan);
        pages.push(page);
      }
      return pages.flat();
    },
    maxScan: reader.maxScan,
  };
}

/**
 * What a caller may read from the cache, which holds what the gateway sees: where its own list is
 * unconditional — cluster-wide, or by namespace rules without resourceNames (the same rules that
 * partition a plain list across namespaces) — and nothing elsewhere: a list limited to some
 * names goes to the apiserver as the caller, which answers it exactly as Kubernetes does.
 */
async function cacheScope(permissions: Permissions, req: OperationRequest<ListArgs, CallerContext>): Promise<CacheScope> {
  const ref = { group: req.resource.group, plural: req.resource.plural, namespaced: req.resource.scope === 'Namespaced' };
  return scopeOf(permissions, req.context, ref, req.namespace);
}

async function scopeOf(permissions: Permissions, context: CallerContext, ref: ResourceRef, namespace: string | undefined): Promise<CacheScope> {
  const identity = context.identity;
  if (!identity) return { kind: 'all' };
  const perms = await permissions.of(identity, [ref], 'caller', context.signal);
  if (!ref.namespaced || namespace !== undefined) return perms.allowedIn('list', ref, namespace) ? { kind: 'all' } : { kind: 'apiserver' };
  if (perms.clusterWide('list', ref)) return { kind: 'all' };
  const namespaces = perms.namespacesWhere('list', ref);
  return namespaces.length ? { kind: 'namespaces', namespaces: new Set(namespaces) } : { kind: 'apiserver' };
}

/**
 * Credentials that expire end the subscription then, not at the next event; a token that can be
 * revoked before it expires (TokenReview mode) is asked about again now and then.
 */
function watchCredentials(context: CallerContext, revoke: (err: ApiError) => void): { cancel(): void } {
  const expiry = context.expiresAt === undefined ? undefined
    : setTimer(() => revoke(new ApiError('UNAUTHENTICATED', 'the token expired; reconnect with a fresh token', { reason: 'Unauthorized' })), context.expiresAt);
  const revalidate = context.revalidate;
  if (!revalidate || !context.revalidateEveryMs) return { cancel: () => expiry?.cancel() };
  const timer = setInterval(() => {
    revalidate().catch((err: unknown) => {
      const e = err instanceof ApiError ? err : fromKubeError(err);
      if (e.code === 'UNAUTHENTICATED' || e.code === 'FORBIDDEN') revoke(e);
    });
  }, context.revalidateEveryMs);
  timer.unref();
  return {
    cancel: () => {
      clearInterval(timer);
      expiry?.cancel();
    },
  };
}

/**
 * RBAC changed: re-ask Kubernetes about every identity with live tenant watches that the changes
 * may concern (rbac-change-scope.ts), soon but batched (recheck-schedule.ts). When the watch of
 * RBAC objects has been failing for a while, changes may go unseen: each second, Kubernetes is
 * asked afresh about exactly what each subscription uses.
 */
function recheckOnRbacChange(permissions: Permissions, live: ReadonlySet<LiveWatch>, identities: ReadonlyMap<string, IdentityWatches>, opts: RbacOperationsOptions): RecheckSchedule {
  const recheckAll = (scope: ChangeScope) => {
    for (const group of identities.values()) if (concerns(scope, group.who)) recheckIdentity(permissions, group);
  };
  /** Changes since the last series began, and what the running series (with its repetitions) covers. */
  let pending: ChangeScope | undefined;
  let series: ChangeScope | undefined;
  const schedule = recheckSchedule((repeat, final) => {
    // A new series replaces the unfinished repetitions of the one before: it covers their scope too.
    if (!repeat) [series, pending] = [joinScopes(series, pending ?? []), undefined];
    // Callers' cached answers may predate the apiserver's authorizer catching up; forgetting them
    // costs reviews only as callers come.
    if (repeat) permissions.forget();
    recheckAll(series ?? []);
    if (final) series = undefined;
  }, { delayMs: opts.recheckDelayMs ?? 250, maxWaitMs: opts.recheckMaxWaitMs ?? 1_000, followUpsMs: [750, 2_250, 3_750] });
  permissions.onInvalidate((scope) => {
    pending = joinScopes(pending, scope);
    schedule.changed();
  });
  permissions.onViewState((state) => {
    if (state === 'fresh') return recheckAll('everyone');
    permissions.forget();
    for (const w of live) void verifyByAccessReview(permissions, w);
  });
  return schedule;
}

function joinIdentity(identities: Map<string, IdentityWatches>, who: Impersonation, w: LiveWatch): void {
  const key = identityKey(who);
  let group = identities.get(key);
  if (!group) identities.set(key, (group = { who, watches: new Set(), ended: new AbortController(), again: false }));
  group.watches.add(w);
}

function leaveIdentity(identities: Map<string, IdentityWatches>, who: Impersonation, w: LiveWatch): void {
  const key = identityKey(who);
  const group = identities.get(key);
  if (!group?.watches.delete(w) || group.watches.size) return;
  identities.delete(key);
  group.ended.abort();
}

/** One re-check of the identity at a time; a change while it runs asks for one more after it. */
function recheckIdentity(permissions: Permissions, group: IdentityWatches): void {
  if (group.running) {
    group.again = true;
    return;
  }
  group.again = false;
  group.running = recheckWatches(permissions, group).finally(() => {
    group.running = undefined;
    if (group.again && !group.ended.signal.aborted) recheckIdentity(permissions, group);
  });
}

async function recheckWatches(permissions: Permissions, group: IdentityWatches): Promise<void> {
  const watches = [...group.watches];
  const refs = new Map<string, AccessRef>();
  for (const w of watches) {
    const ref = refOfWatch(w.req);
    refs.set(`${ref.group}/${ref.plural}/${ref.name ?? ''}`, ref);
  }
  const sorted = [...refs.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, r]) => r);
  let perms: PermissionSet;
  try {
    perms = await permissions.of(group.who, sorted, 'recheck', group.ended.signal);
  } catch (err) {
    if (group.ended.signal.aborted) return;
    const e = err instanceof ApiError ? err : fromKubeError(err);
    for (const w of watches) if (group.watches.has(w)) w.revoke(e);
    return;
  }
  for (const w of watches) if (group.watches.has(w)) applyScope(w, perms);
}

function applyScope(w: LiveWatch, perms: PermissionSet): void {
  let namespaces: Set<string> | undefined;
  try {
    namespaces = scopeOfWatch(perms, w.req);
  } catch (err) {
    w.revoke(err instanceof ApiError ? err : fromKubeError(err));
    return;
  }
  const changed = !sameNamespaces(w.namespaces, namespaces);
  // The filter reads w.namespaces on every event: a narrower grant applies from the next one.
  w.namespaces = namespaces;
  w.unverified = false;
  // What the subscriber holds of the namespaces it lost would stay with it, and objects of those
  // it gained would come as changes of objects it never got: it lists again, as after a 410.
  if (changed) w.revoke(namespacesChanged(w.req, namespaces));
}

/** Two scopes of a watch: undefined is every namespace. */
function sameNamespaces(a: ReadonlySet<string> | undefined, b: ReadonlySet<string> | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.size === b.size && [...a].every((n) => b.has(n));
}

function namespacesChanged(req: WatchReq, now: ReadonlySet<string> | undefined): ApiError {
  const resource = req.resource.group ? `${req.resource.plural}.${req.resource.group}` : req.resource.plural;
  const scope = now === undefined ? 'every namespace' : `${now.size} namespace${now.size === 1 ? '' : 's'}`;
  return new ApiError('GONE', `the namespaces you may watch ${resource} in changed (now ${scope}): what this watch sent no longer matches what you may see`,
    { reason: 'Gone', hint: 'list again (across all namespaces), then watch from the list\'s resourceVersion' });
}

/**
 * A re-check that does not depend on the gateway's view of RBAC objects: SubjectAccessReviews
 * for list and watch where the subscription watches (its namespace, the namespaces it was
 * narrowed to, or the cluster). When Kubernetes answers with an error, the subscription is
 * marked unverified: it stays open while nothing happens, but is ended rather than sent an event.
 */
async function verifyByAccessReview(permissions: Permissions, w: LiveWatch): Promise<void> {
  const identity = w.req.context.identity;
  if (!identity) return;
  const r = w.req.resource;
  const namespaced = r.scope === 'Namespaced';
  const name = pinnedName(w.req.args.fieldSelector);
  const may = async (namespace?: string, named?: string) => {
    const ask = (verb: 'list' | 'watch') => permissions.reviewer.allowed(identity, { verb, group: r.group, resource: r.plural, namespace, name: named }, 'recheck', w.ended.signal);
    const [list, watch] = await Promise.all([ask('list'), ask('watch')]);
    return list && watch;
  };
  try {
    if (!namespaced || w.req.namespace) {
      if (!(await may(namespaced ? w.req.namespace : undefined, name))) throw forbidden(w.req, 'watch', w.req.namespace);
    } else if (w.namespaces) {
      // Narrowed to namespaces by the general rules (scopeOfWatch): asked without the name.
      const kept = (await Promise.all([...w.namespaces].map(async (ns) => ((await may(ns)) ? ns : undefined)))).filter((ns) => ns !== undefined);
      if (!kept.length) throw forbidden(w.req, 'watch', undefined);
      w.namespaces = new Set(kept);
    } else if (!(await may(undefined, name))) {
      // No longer across all namespaces: which ones is a question for rules reviews.
      w.namespaces = await watchScope(permissions, w.req, 'recheck', w.ended.signal);
    }
    w.unverified = false;
  } catch (err) {
    const e = err instanceof ApiError ? err : fromKubeError(err);
    if (w.ended.signal.aborted) return;
    if (e.code === 'FORBIDDEN') w.revoke(e);
    // No answer at all (the apiserver cannot be reached): it cannot send events either, and the
    // next second asks again. Any answer that is not one (429, 5xx, a timeout) leaves the
    // subscription unverified.
    else if (!(e.code === 'UNAVAILABLE' && e.details.kubernetesCode === undefined)) w.unverified = true;
  }
}

/** What the caller may watch: everything (undefined), some namespaces, or FORBIDDEN. */
async function watchScope(permissions: Permissions, req: WatchReq, lane: ReviewLane, signal?: AbortSignal): Promise<Set<string> | undefined> {
  const identity = req.context.identity;
  if (!identity) return undefined;
  return scopeOfWatch(await permissions.of(identity, [refOfWatch(req)], lane, signal), req);
}

/** The resource a watch reads, named when its field selector pins one object (pinnedName). */
function refOfWatch(req: WatchReq): AccessRef {
  const ref: AccessRef = { group: req.resource.group, plural: req.resource.plural, namespaced: req.resource.scope === 'Namespaced' };
  const name = pinnedName(req.args.fieldSelector);
  return name === undefined ? ref : { ...ref, name };
}

/** watchScope with the caller's permissions at hand. */
function scopeOfWatch(perms: PermissionSet, req: WatchReq): Set<string> | undefined {
  const ref = refOfWatch(req);
  const ns = ref.namespaced ? req.namespace : undefined;
  // A watch needs list and watch, as the apiserver requires for its own watches; for a pinned
  // name both on that name, as the apiserver asks for such a list or watch.
  if (perms.allowedIn('watch', ref, ns) && perms.allowedIn('list', ref, ns)) return undefined;
  if (ref.namespaced && !ns) {
    // The gateway's own narrowing to some namespaces follows the general rules only, pinned or
    // not: Kubernetes has no such partition for a name, and a rule naming objects does not open
    // a namespace.
    const general: ResourceRef = { group: ref.group, plural: ref.plural, namespaced: true };
    const watchable = perms.namespacesWhere('watch', general).filter((n) => perms.allowedIn('list', general, n));
    if (watchable.length) return new Set(watchable);
  }
  throw forbidden(req, 'watch', ns);
}

/**
 * Events of namespaces the subscriber may not see never reach it, even on a shared watch: each
 * event is checked against the namespaces of the last re-check and the newest rules Kubernetes
 * gave for this caller, so a narrower grant applies from the next event on. An unverified
 * subscription is ended by its next event instead.
 */
function visibility(permissions: Permissions, req: WatchReq, entry: LiveWatch): ((object: KubeObject) => boolean) | undefined {
  const identity = req.context.identity;
  if (!identity) return undefined;
  const ref = refOfWatch(req);
  const namespaced = ref.namespaced;
  return (o) => {
    if (entry.unverified) {
      queueMicrotask(() => entry.revoke(unverifiable()));
      return false;
    }
    const meta = o.metadata as { name?: string; namespace?: string } | undefined;
    // The field selector filters too; this holds whatever path an object takes to the subscriber
    // (initial state, resume, relist difference, a direct watch as the gateway).
    if (ref.name !== undefined && meta?.name !== ref.name) return false;
    if (!namespaced) return true;
    const ns = meta?.namespace ?? '';
    if (entry.namespaces && !entry.namespaces.has(ns)) return false;
    const latest = permissions.latest(identity);
    return !latest || (latest.rulesAllowIn('watch', ref, ns) && latest.rulesAllowIn('list', ref, ns));
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
