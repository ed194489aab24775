// Which kinds the cluster serves, at which versions, under which resource names and scopes: what a
// relation needs to turn an apiVersion/kind (an owner reference, a children argument) into a path,
// for custom resources and built-in kinds alike. Read with aggregated discovery (two calls), or the
// per-group documents of older apiservers; as the gateway's own identity, since discovery tells only
// which kinds exist, which every authenticated user may read (the system:discovery role). Answers
// are kept for a while; a kind that is not found makes discovery be asked again (a new CRD), at
// most every missRefreshMs.
import { fromKubeError } from '../api-errors.ts';
import type { KubeClient } from '../kube/kube-client.ts';

/** One resource of the cluster at one version. */
export interface ApiResource {
  /** '' for the core group. */
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  readonly kind: string;
  readonly namespaced: boolean;
}

export interface ApiDiscoveryOptions {
  now?: () => number;
  /** How long the answer is used before discovery is asked again (default 5 min). */
  maxAgeMs?: number;
  /** After a lookup found nothing, how soon discovery may be asked again (default 2 s). */
  missRefreshMs?: number;
  /** false: the per-group documents, as apiservers before aggregated discovery serve them. */
  aggregated?: boolean;
  timeoutMs?: number;
}

/** apiVersion → group and version: `v1` is the core group, `apps/v1` the apps group. */
export function splitApiVersion(apiVersion: string): { group: string; version: string } | undefined {
  const parts = apiVersion.split('/');
  if (parts.length === 1 && parts[0]) return { group: '', version: parts[0] };
  if (parts.length === 2 && parts[0] && parts[1]) return { group: parts[0], version: parts[1] };
  return undefined;
}

export function apiVersionOf(r: Pick<ApiResource, 'group' | 'version'>): string {
  return r.group ? `${r.group}/${r.version}` : r.version;
}

/** The resources of the cluster, indexed; versions of a group in the order the cluster prefers them. */
class DiscoveryIndex {
  private readonly exact = new Map<string, ApiResource>();
  private readonly byGroupKind = new Map<string, ApiResource[]>();
  private readonly groupsOfKind = new Map<string, string[]>();

  add(r: ApiResource): void {
    const key = `${r.group}/${r.kind}`;
    if (this.exact.has(`${r.group}/${r.version}/${r.kind}`)) return;
    this.exact.set(`${r.group}/${r.version}/${r.kind}`, r);
    let versions = this.byGroupKind.get(key);
    if (!versions) {
      this.byGroupKind.set(key, (versions = []));
      const groups = this.groupsOfKind.get(r.kind) ?? [];
      groups.push(r.group);
      this.groupsOfKind.set(r.kind, groups);
    }
    versions.push(r);
  }

  /** At the version asked for when served, else at the group's preferred version for the kind. */
  resolve(group: string, version: string, kind: string): ApiResource | undefined {
    return this.exact.get(`${group}/${version}/${kind}`) ?? this.byGroupKind.get(`${group}/${kind}`)?.[0];
  }

  /** The kind in each group that serves it, at the group's preferred version; the core group first. */
  byKind(kind: string): ApiResource[] {
    const groups = [...(this.groupsOfKind.get(kind) ?? [])].sort((a, b) => (a === '' ? -1 : b === '' ? 1 : 0));
    return groups.map((g) => this.byGroupKind.get(`${g}/${kind}`)![0]!);
  }
}

interface AggregatedList {
  kind?: string;
  items?: {
    metadata?: { name?: string };
    versions?: { version?: string; resources?: { resource?: string; scope?: string; responseKind?: { kind?: string } }[] }[];
  }[];
}

const AGGREGATED_ACCEPT = [
  'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList',
  'application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList',
  'application/json',
].join(',');

export class ApiDiscovery {
  private readonly client: KubeClient;
  private readonly now: () => number;
  private readonly maxAgeMs: number;
  private readonly missRefreshMs: number;
  private readonly aggregated: boolean;
  private readonly timeoutMs: number;
  private index: DiscoveryIndex | undefined;
  private loadedAt = -Infinity;
  private loading: Promise<DiscoveryIndex> | undefined;

  constructor(client: KubeClient, opts: ApiDiscoveryOptions = {}) {
    this.client = client;
    this.now = opts.now ?? Date.now;
    this.maxAgeMs = opts.maxAgeMs ?? 300_000;
    this.missRefreshMs = opts.missRefreshMs ?? 2_000;
    this.aggregated = opts.aggregated ?? true;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
  }

  /** The resource of apiVersion/kind (see DiscoveryIndex.resolve); undefined when the cluster serves no such kind. */
  async resolve(apiVersion: string, kind: string): Promise<ApiResource | undefined> {
    const gv = splitApiVersion(apiVersion);
    if (!gv) return undefined;
    return this.lookup((index) => index.resolve(gv.group, gv.version, kind));
  }

  /** The kind in every group that serves it, at each group's preferred version, the core group first. */
  async byKind(kind: string): Promise<ApiResource[]> {
    return (await this.lookup((index) => {
      const found = index.byKind(kind);
      return found.length ? found : undefined;
    })) ?? [];
  }

  private async lookup<T>(find: (index: DiscoveryIndex) => T | undefined): Promise<T | undefined> {
    const fresh = this.index && this.now() - this.loadedAt < this.maxAgeMs;
    const index = fresh ? this.index! : await this.load();
    const found = find(index);
    if (found !== undefined || this.now() - this.loadedAt < this.missRefreshMs) return found;
    return find(await this.load());
  }

  /** One load at a time; callers that arrive meanwhile share it. */
  private load(): Promise<DiscoveryIndex> {
    this.loading ??= (async () => {
      try {
        const index = this.aggregated ? (await this.loadAggregated()) ?? (await this.loadLegacy()) : await this.loadLegacy();
        this.index = index;
        this.loadedAt = this.now();
        return index;
      } catch (err) {
        throw fromKubeError(err);
      } finally {
        this.loading = undefined;
      }
    })();
    return this.loading;
  }

  /** Undefined when the apiserver does not serve aggregated discovery (it answers the legacy documents). */
  private async loadAggregated(): Promise<DiscoveryIndex | undefined> {
    const get = (path: string) => this.client.request<AggregatedList>('GET', path, { headers: { Accept: AGGREGATED_ACCEPT }, timeoutMs: this.timeoutMs });
    const [core, groups] = await Promise.all([get('/api'), get('/apis')]);
    if (core?.kind !== 'APIGroupDiscoveryList' || groups?.kind !== 'APIGroupDiscoveryList') return undefined;
    const index = new DiscoveryIndex();
    for (const item of [...(core.items ?? []), ...(groups.items ?? [])]) {
      const group = item.metadata?.name ?? '';
      for (const v of item.versions ?? []) {
        for (const r of v.resources ?? []) {
          const kind = r.responseKind?.kind;
          if (!v.version || !r.resource || !kind) continue;
          index.add({ group, version: v.version, plural: r.resource, kind, namespaced: r.scope === 'Namespaced' });
        }
      }
    }
    return index;
  }

  private async loadLegacy(): Promise<DiscoveryIndex> {
    const get = <T>(path: string) => this.client.request<T>('GET', path, { timeoutMs: this.timeoutMs });
    const [core, apis] = await Promise.all([
      get<{ versions?: string[] }>('/api'),
      get<{ groups?: { name: string; versions?: { version: string }[]; preferredVersion?: { version?: string } }[] }>('/apis'),
    ]);
    const groupVersions: { group: string; version: string }[] = (core.versions ?? []).map((version) => ({ group: '', version }));
    for (const g of apis.groups ?? []) {
      const preferred = g.preferredVersion?.version;
      const versions = (g.versions ?? []).map((v) => v.version).sort((a, b) => (a === preferred ? -1 : b === preferred ? 1 : 0));
      for (const version of versions) groupVersions.push({ group: g.name, version });
    }
    type ResourceList = { resources?: { name: string; kind: string; namespaced: boolean }[] };
    // A group whose aggregated apiserver is down answers 503: its kinds are left out, the rest stays usable.
    const lists = await Promise.all(groupVersions.map((gv) =>
      get<ResourceList>(gv.group ? `/apis/${gv.group}/${gv.version}` : `/api/${gv.version}`).catch(() => ({ resources: [] }) as ResourceList)));
    const index = new DiscoveryIndex();
    lists.forEach((list, i) => {
      const { group, version } = groupVersions[i]!;
      for (const r of list.resources ?? []) {
        if (!r.name.includes('/')) index.add({ group, version, plural: r.name, kind: r.kind, namespaced: r.namespaced });
      }
    });
    return index;
  }
}
