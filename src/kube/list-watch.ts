// The Kubernetes side of a reflector: a paginated consistent list and a bookmarked watch of one
// collection path, through the dynamic client.
import type { Impersonation, KubeClient } from './kube-client.ts';
import type { ListResult, ListWatchSource } from './reflector.ts';

export interface KubeListWatchOptions {
  labelSelector?: string;
  fieldSelector?: string;
  /** Items per list page; the apiserver's continue token stitches pages into one snapshot. */
  pageSize?: number;
  impersonate?: Impersonation;
  /** A watch silent for longer than this is treated as a dead connection. */
  idleTimeoutMs?: number;
}

interface KubeList<T> {
  items?: T[];
  metadata?: { resourceVersion?: string; continue?: string };
}

export function kubeListWatch<T>(client: KubeClient, path: string, opts: KubeListWatchOptions = {}): ListWatchSource<T> {
  const selectors = { labelSelector: opts.labelSelector, fieldSelector: opts.fieldSelector };
  return {
    async list(signal): Promise<ListResult<T>> {
      const items: T[] = [];
      let cont: string | undefined;
      let resourceVersion = '';
      do {
        const page = await client.request<KubeList<T>>('GET', path, {
          query: { ...selectors, limit: opts.pageSize ?? 500, continue: cont },
          signal,
          impersonate: opts.impersonate,
        });
        items.push(...(page.items ?? []));
        resourceVersion ||= page.metadata?.resourceVersion ?? '';
        cont = page.metadata?.continue || undefined;
      } while (cont);
      return { items, resourceVersion };
    },
    watch(resourceVersion, timeoutSeconds, onEvent, signal, onOpen) {
      return client.watch<T>(path, {
        query: { ...selectors, resourceVersion, allowWatchBookmarks: true, timeoutSeconds },
        signal,
        impersonate: opts.impersonate,
        // The server closes the watch after timeoutSeconds; allow for that plus a margin.
        idleTimeoutMs: opts.idleTimeoutMs ?? (timeoutSeconds + 30) * 1000,
        onEvent,
        onOpen,
      });
    },
  };
}
