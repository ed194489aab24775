// Reads of objects of any kind the cluster serves (custom resources, core and built-in kinds), as
// the caller: what relations read. Paths are /api/v1/... for the core group and /apis/... for the
// others; every failure leaves as an ApiError from the catalog.
import { fromKubeError } from '../api-errors.ts';
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
}

export function apiPath(r: ApiResource, namespace?: string, name?: string): string {
  let path = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
  if (r.namespaced && namespace !== undefined) path += `/namespaces/${pathSegment(namespace, 'namespace')}`;
  path += `/${r.plural}`;
  if (name !== undefined) path += `/${pathSegment(name, 'name')}`;
  return path;
}

export function kubeObjectReader(client: KubeClient): ObjectReader {
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
    list: async (r, namespace, query, context) => {
      const list = await read<{ items?: KubeObject[] }>(apiPath(r, namespace), { fieldSelector: query.fieldSelector }, context);
      // Items of built-in lists come without apiVersion and kind; the GraphQL types are chosen by them.
      const apiVersion = apiVersionOf(r);
      return (list?.items ?? []).map((o) => (o['apiVersion'] && o['kind'] ? o : { apiVersion, kind: r.kind, ...o }));
    },
  };
}
