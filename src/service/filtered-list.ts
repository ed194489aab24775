// Lists with where, orderBy or consistency: CACHED. Answered from the shared query cache when the
// caller may list unconditionally where it asks (the cache then holds exactly what its own list
// would return, cut to the namespaces it may list); otherwise, and for consistency: STRONG, from
// every page of its own list from the apiserver, filtered and sorted here. Both paths give the
// same answer shape: items, a cursor per item, the total count, and the resourceVersion they
// stand at.
import { ApiError } from '../api-errors.ts';
import type { KubeList, KubeObject, ListArgs, OperationRequest } from '../contract/operations.ts';
import type { CallerContext } from '../contract/caller-context.ts';
import type { QueryCaches, CacheStore } from './query-cache.ts';
import { compileCondition } from './query-matching.ts';
import { runQuery, type QueryPage } from './query-engine.ts';
import { decodeCursor, encodeCursor, queryFingerprint } from './query-order.ts';
import { parseFieldSelector, parseLabelSelector } from './watch-selectors.ts';
import type { WatchKey } from './watch-hub.ts';
import { pathSegment } from './resource-service.ts';

type ListReq = OperationRequest<ListArgs, CallerContext>;

/** Namespaces of one resource with stores of their own; lists of further namespaces use the store of all. */
export const namespaceStoresPerResource = 8;

/**
 * What the caller may read from the cache: everything in the scope it asks for, only these
 * namespaces (a list across namespaces cut to those it may list), or nothing (its list in the
 * scope is conditional, e.g. limited to resourceNames: only the apiserver can answer it).
 */
export type CacheScope = { readonly kind: 'all' } | { readonly kind: 'namespaces'; readonly namespaces: ReadonlySet<string> } | { readonly kind: 'apiserver' };

/** How auth narrows one filtered list (src/auth/rbac-operations.ts); without tenants, not at all. */
export interface ListGuard {
  /** What the caller may read from the cache. */
  readonly scope: CacheScope;
  /** The caller's own list from the apiserver, one page (across the namespaces it may list). */
  apiserverList(req: ListReq): Promise<KubeList>;
}

export interface FilteredListOptions {
  caches: QueryCaches;
  /** Objects read from the apiserver for one filtered list at most. */
  maxScan: number;
  /** How long a list with a resourceVersion waits for the cache to reach it before asking the apiserver. */
  resourceVersionWaitMs?: number;
}

export interface FilteredLists {
  list(req: ListReq, guard: ListGuard): Promise<KubeList>;
  readonly counters: { fromCache: number; fromApiserver: number };
}

/** Whether a list needs this module rather than a plain apiserver list. */
export function isQueryList(a: ListArgs): boolean {
  return a.where !== undefined || (a.orderBy !== undefined && a.orderBy.length > 0) || a.consistency === 'CACHED';
}

export function createFilteredLists(opts: FilteredListOptions): FilteredLists {
  const counters = { fromCache: 0, fromApiserver: 0 };

  async function list(req: ListReq, guard: ListGuard): Promise<KubeList> {
    // A namespace that cannot name anything is bad input on either path.
    if (req.namespace !== undefined) pathSegment(req.namespace, 'namespace');
    const a = req.args;
    const order = a.orderBy ?? [];
    const fingerprint = queryFingerprint({
      r: [req.resource.group, req.resource.plural, req.version.name], ns: req.namespace ?? null, l: a.labelSelector ?? null,
      f: a.fieldSelector ?? null, w: a.where ?? null, o: order.map((t) => [t.field.dotted, t.direction]),
    });
    const after = a.continue ? decodeCursor(a.continue, fingerprint, order) : undefined;
    const where = a.where ? compileCondition(a.where) : () => true;
    // Checked before any data is read, so bad selectors fail the same on both paths.
    const labels = parseLabelSelector(a.labelSelector);
    const fields = parseFieldSelector(a.fieldSelector, req.version.selectableFields.map((f) => f.jsonPath));
    const plan = { order, after, limit: a.limit };
    if (a.consistency !== 'STRONG' && a.resourceVersionMatch !== 'Exact') {
      const scope = guard.scope;
      const store = scope.kind === 'apiserver' ? undefined : await storeFor(req);
      // A store stopped while this list waited (memory, failure) holds nothing any more.
      if (store && scope.kind !== 'apiserver' && (await caughtUp(store, a.resourceVersion)) && !store.closed) {
        counters.fromCache++;
        const inScope = namespaceTest(req, store.key, scope);
        const page = runQuery(store.values(), { ...plan, match: (o) => inScope(o) && labels(o) && fields(o) && where(o) });
        return answer(page, store.resourceVersion, fingerprint);
      }
    }
    counters.fromApiserver++;
    const { items, resourceVersion } = await readAll(req, guard);
    return answer(runQuery(items, { ...plan, match: where }), resourceVersion, fingerprint);
  }

  /**
   * A namespace's own store; the store of all namespaces when one is running already, or when the
   * resource has namespaceStoresPerResource stores of namespaces (each an upstream watch).
   */
  function storeFor(req: ListReq): Promise<CacheStore | undefined> {
    const key: WatchKey = { group: req.resource.group, version: req.version.name, plural: req.resource.plural };
    const namespaced = req.resource.scope === 'Namespaced';
    if (!namespaced || req.namespace === undefined) return opts.caches.acquire(key, req.context.signal);
    const everywhere = opts.caches.peek(key);
    if (everywhere) return Promise.resolve(everywhere);
    if (opts.caches.namespaceStores(key) >= namespaceStoresPerResource) return opts.caches.acquire(key, req.context.signal);
    return opts.caches.acquire({ ...key, namespace: req.namespace }, req.context.signal);
  }

  /** A given resourceVersion means "at least this recent", as for a list from the apiserver's cache. */
  async function caughtUp(store: CacheStore, rv: string | undefined): Promise<boolean> {
    if (rv === undefined || rv === '' || rv === '0') return true;
    if (!/^\d+$/.test(rv)) return false;
    return store.reached(BigInt(rv), opts.resourceVersionWaitMs ?? 3_000);
  }

  /** Every page of the caller's own list; refused beyond maxScan objects. */
  async function readAll(req: ListReq, guard: ListGuard): Promise<{ items: KubeObject[]; resourceVersion: string | undefined }> {
    const a = req.args;
    const items: KubeObject[] = [];
    let resourceVersion: string | undefined;
    let cont: string | undefined;
    do {
      // resourceVersion applies to the first page only: Kubernetes refuses it with a continue token.
      const first = cont === undefined;
      const page = await guard.apiserverList({
        ...req,
        args: {
          labelSelector: a.labelSelector, fieldSelector: a.fieldSelector, limit: 500, continue: cont,
          resourceVersion: first ? a.resourceVersion : undefined, resourceVersionMatch: first ? a.resourceVersionMatch : undefined,
        },
      });
      items.push(...page.items);
      resourceVersion ??= page.metadata?.resourceVersion;
      cont = page.metadata?.continue || undefined;
      if (items.length > opts.maxScan) {
        throw new ApiError('BAD_REQUEST', `more than ${opts.maxScan} objects would have to be read from the apiserver and filtered for this list `
          + '(--query-max-scan); narrow it with a namespace, labelSelector or fieldSelector, or let the cache answer (consistency: CACHED)', { reason: 'QueryTooLarge' });
      }
    } while (cont);
    return { items, resourceVersion };
  }

  return { list, counters };
}

function namespaceTest(req: ListReq, key: WatchKey, scope: CacheScope): (o: KubeObject) => boolean {
  const ns = (o: KubeObject) => ((o['metadata'] ?? {}) as { namespace?: string }).namespace ?? '';
  if (scope.kind === 'namespaces') return (o) => scope.namespaces.has(ns(o));
  // A namespace's list served by the store of all namespaces.
  if (req.namespace !== undefined && key.namespace === undefined && req.resource.scope === 'Namespaced') return (o) => ns(o) === req.namespace;
  return () => true;
}

function answer(page: QueryPage, resourceVersion: string | undefined, fingerprint: string): KubeList {
  const cursors = page.keys.map((k) => encodeCursor(k, fingerprint));
  const metadata: { resourceVersion?: string; continue?: string; remainingItemCount?: number; totalCount: number } = { totalCount: page.totalCount };
  if (resourceVersion) metadata.resourceVersion = resourceVersion;
  if (page.remaining > 0 && cursors.length) {
    metadata.continue = cursors.at(-1)!;
    metadata.remainingItemCount = page.remaining;
  }
  return { metadata, items: page.items, cursors };
}

/**
 * What a synced store that is already running holds of one resource version in a namespace (or
 * in all of them), cut to the caller's scope; undefined when no such store runs or the scope
 * needs the apiserver. Never starts a store: a read that only may use a cache must not cost a
 * full list and watch.
 */
export function cachedObjects(caches: QueryCaches, key: Omit<WatchKey, 'namespace'>, namespaced: boolean, namespace: string | undefined,
  scope: CacheScope): KubeObject[] | undefined {
  if (scope.kind === 'apiserver') return undefined;
  const own = namespaced && namespace !== undefined ? caches.peek({ ...key, namespace }) : undefined;
  const store = own ?? caches.peek(key);
  if (!store || store.closed) return undefined;
  const ns = (o: KubeObject) => ((o['metadata'] ?? {}) as { namespace?: string }).namespace ?? '';
  const items: KubeObject[] = [];
  for (const o of store.values()) {
    if (scope.kind === 'namespaces' && !scope.namespaces.has(ns(o))) continue;
    if (namespaced && namespace !== undefined && ns(o) !== namespace) continue;
    items.push(o);
  }
  return items;
}
