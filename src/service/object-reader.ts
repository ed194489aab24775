// Reads of objects of any kind the cluster serves (custom resources, core and built-in kinds), as
// the caller: what relations read. Paths are /api/v1/... for the core group and /apis/... for the
// others; every failure leaves as an ApiError from the catalog.
import { ApiError, fromKubeError } from '../api-errors.ts';
import type { CallerContext } from '../contract/caller-context.ts';
import type { KubeObject } from '../contract/operations.ts';
import type { KubeClient } from '../kube/kube-client.ts';
import { apiVersionOf, type ApiResource } from './api-discovery.ts';
import { pathSegment } from './resource-service.ts';

export interface ObjectReader {
  /** One object; NOT_FOUND (reason NotFound) when there is none of that name. */
  get(resource: ApiResource, namespace: string | undefined, name: string, context: CallerContext): Promise<KubeObject>;
  /**
   * Every object of the resource in the namespace, or, with no namespace, in the whole cluster
   * (auth narrows that to the namespaces the caller may list).
   */
  list(resource: ApiResource, namespace: string | undefined, query: { fieldSelector?: string }, context: CallerContext): Promise<KubeObject[]>;
  /** The most objects one read lists before it is refused (QueryTooLarge). */
  readonly maxScan: number;
}

/** A page of a relation's list: big enough for few calls, small enough to stop soon at maxScan. */
const PAGE = 500;

/** A relation read that would list more objects than maxScan (--query-max-scan). */
export function tooManyToRead(r: ApiResource, namespace: string | undefined, maxScan: number): ApiError {
  const where = namespace === undefined ? 'in the namespaces read' : `in namespace ${namespace}`;
  return new ApiError('BAD_REQUEST', `more than ${maxScan} ${r.plural} ${where} would have to be read for this relation (--query-max-scan); `
    + 'ask for children or owners in a narrower place, or of another kind', { reason: 'QueryTooLarge' });
}

export function apiPath(r: ApiResource, namespace?: string, name?: string): string {
  let path = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
  if (r.namespaced && namespace !== undefined) path += `/namespaces/${pathSegment(namespace, 'namespace')}`;
  path += `/${r.plural}`;
  if (name !== undefined) path += `/${pathSegment(name, 'name')}`;
  return path;
}

export function kubeObjectReader(client: KubeClient, maxScan = 20_000): ObjectReader {
  const read = async <T>(path: string, query: Record<string, string | undefined>, context: CallerContext): Promise<T> => {
    try {
      return await client.request<T>('GET', path, {
        query,
        signal: context.signal,
        impersonate: context.identity,
        headers: context.requestId ? { 'Audit-ID': context.requestId } : undefined,
      });
    } catch (err) {
      throw fromKubeError(err);
    }
  };
  return {
    get: (r, namespace, name, context) => read<KubeObject>(apiPath(r, namespace, name), {}, context),
    // In pages, so that a namespace of 100,000 ConfigMaps is refused after maxScan, not held whole.
    list: async (r, namespace, query, context) => {
      const items: KubeObject[] = [];
      let next: string | undefined;
      do {
        const page = await read<{ items?: KubeObject[]; metadata?: { continue?: string } }>(apiPath(r, namespace),
          { fieldSelector: query.fieldSelector, limit: String(PAGE), continue: next }, context);
        for (const o of page?.items ?? []) items.push(o);
        if (items.length > maxScan) throw tooManyToRead(r, namespace, maxScan);
        next = page?.metadata?.continue || undefined;
      } while (next);
      // Items of built-in lists come without apiVersion and kind; the GraphQL types are chosen by them.
      const apiVersion = apiVersionOf(r);
      return items.map((o) => (o['apiVersion'] && o['kind'] ? o : { apiVersion, kind: r.kind, ...o }));
    },
    maxScan,
  };
}
