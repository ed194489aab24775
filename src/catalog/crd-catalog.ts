// The CRD catalog: a reflector on customresourcedefinitions that publishes an immutable snapshot of
// the Established CRDs. Bursts of changes (installing a chart adds dozens of CRDs at once) are
// debounced into few snapshots. Readers never wait: they use the snapshot they have.
import { KubeApiError, type KubeClient } from '../kube/kube-client.ts';
import { kubeListWatch } from '../kube/list-watch.ts';
import { Reflector, systemClock, type Clock, type ListWatchSource, type ReflectorOptions } from '../kube/reflector.ts';

/** A CRD as the apiserver returns it (apiextensions.k8s.io/v1), kept as plain JSON. */
export interface CrdObject {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; uid?: string; resourceVersion?: string; generation?: number; [k: string]: unknown };
  spec: {
    group: string;
    scope: 'Namespaced' | 'Cluster';
    names: { plural: string; singular?: string; kind: string; listKind?: string; shortNames?: string[]; categories?: string[] };
    versions: { name: string; served: boolean; storage: boolean; deprecated?: boolean; deprecationWarning?: string; [k: string]: unknown }[];
    [k: string]: unknown;
  };
  status?: {
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
    /** The names the apiserver serves: a change of spec.names it refused (NamesAccepted False) is not among them. */
    acceptedNames?: Partial<CrdObject['spec']['names']>;
    [k: string]: unknown;
  };
}

export interface CrdSnapshot {
  /** Increases by one with every published snapshot. */
  readonly generation: number;
  /** Established CRDs, sorted by name. */
  readonly crds: readonly CrdObject[];
}

export const crdListPath = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions';

export function isEstablished(crd: CrdObject): boolean {
  return !!crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True');
}

const served = new WeakMap<CrdObject, CrdObject>();

/**
 * The CRD with the names the apiserver serves it under (status.acceptedNames) as its spec.names. A
 * change of names the apiserver refused (another CRD of the group holds them: NamesAccepted False)
 * leaves it served under the names it had, and another CRD's names with it. Made once per object.
 */
export function withServedNames(crd: CrdObject): CrdObject {
  const accepted = crd.status?.acceptedNames;
  if (!accepted?.kind || !accepted.plural) return crd;
  const names = crd.spec.names;
  if (accepted.kind === names.kind && (accepted.listKind ?? `${accepted.kind}List`) === (names.listKind ?? `${names.kind}List`) && accepted.singular === names.singular) return crd;
  let copy = served.get(crd);
  if (!copy) {
    const { kind, plural, singular, listKind, shortNames, categories } = accepted;
    copy = { ...crd, spec: { ...crd.spec, names: { kind, plural, ...(singular ? { singular } : {}), ...(listKind ? { listKind } : {}), ...(shortNames ? { shortNames } : {}), ...(categories ? { categories } : {}) } } };
    served.set(crd, copy);
  }
  return copy;
}

/** One CRD as the apiserver has it now (not the catalog's snapshot); undefined when there is none. */
export function crdReader(client: KubeClient): (name: string, timeoutMs?: number) => Promise<CrdObject | undefined> {
  return async (name, timeoutMs) => {
    try {
      const path = `${crdListPath}/${encodeURIComponent(name)}`;
      return await client.request<CrdObject>('GET', path, timeoutMs === undefined ? {} : { timeoutMs });
    } catch (err) {
      if (err instanceof KubeApiError && err.httpStatus === 404) return undefined;
      throw err;
    }
  };
}

export interface CrdCatalogOptions {
  source: ListWatchSource<CrdObject>;
  /** How long a change after a quiet spell waits for the changes that come with it (default 150 ms). */
  debounceMs?: number;
  /** The longest a change waits while CRDs keep changing (default 2 s; see schedule). */
  maxDebounceMs?: number;
  clock?: Clock;
  onError?: ReflectorOptions<CrdObject>['onError'];
}

type Listener = (snapshot: CrdSnapshot, previous: CrdSnapshot | undefined) => void;

export class CrdCatalog {
  private readonly reflector: Reflector<CrdObject>;
  private readonly debounceMs: number;
  private readonly maxDebounceMs: number;
  private readonly clock: Clock;
  /** The wait of the last snapshot scheduled, and when it was due. */
  private delay = 0;
  private lastDue = -Infinity;
  private readonly listeners = new Set<Listener>();
  private snapshot: CrdSnapshot | undefined;
  private timer: NodeJS.Timeout | undefined;
  private syncWaiters: (() => void)[] = [];

  static forCluster(client: KubeClient, opts: Omit<CrdCatalogOptions, 'source'> = {}): CrdCatalog {
    return new CrdCatalog({ ...opts, source: kubeListWatch<CrdObject>(client, crdListPath) });
  }

  constructor(opts: CrdCatalogOptions) {
    this.debounceMs = opts.debounceMs ?? 150;
    this.maxDebounceMs = Math.max(this.debounceMs, opts.maxDebounceMs ?? 2000);
    this.clock = opts.clock ?? systemClock;
    this.reflector = new Reflector<CrdObject>({
      source: opts.source,
      clock: opts.clock,
      keyOf: (crd) => crd.metadata.name,
      resourceVersionOf: (crd) => crd.metadata.resourceVersion,
      onEvent: () => this.schedule(),
      onSynced: () => {
        // The first snapshot is published at once: nothing can be served before it.
        if (!this.snapshot) this.publish();
        else this.schedule();
      },
      onError: opts.onError,
    });
  }

  start(): void {
    this.reflector.start();
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.reflector.stop();
  }

  current(): CrdSnapshot | undefined {
    return this.snapshot;
  }

  /** Synced once, and the connection to the apiserver is currently working. */
  get healthy(): boolean {
    return this.reflector.healthy;
  }

  get lastError(): unknown {
    return this.reflector.error;
  }

  get stats(): Reflector<CrdObject>['stats'] {
    return this.reflector.stats;
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  waitForFirstSnapshot(signal?: AbortSignal): Promise<CrdSnapshot> {
    if (this.snapshot) return Promise.resolve(this.snapshot);
    return new Promise((resolve, reject) => {
      const onAbort = () => reject(signal!.reason ?? new Error('aborted'));
      signal?.addEventListener('abort', onAbort, { once: true });
      this.syncWaiters.push(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve(this.snapshot!);
      });
    });
  }

  /**
   * A change soon after the last snapshot belongs to a burst (kubectl apply of a directory, a chart
   * installed, CRDs deleted together): each snapshot of the burst waits twice as long as the one
   * before, up to maxDebounceMs, so that hundreds of CRDs applied one by one make a few rebuilds
   * instead of one or more per CRD (each CRD brings several events: created, names accepted,
   * established). A change after a quiet spell of maxDebounceMs waits debounceMs again.
   */
  private schedule(): void {
    if (!this.snapshot || this.timer) return;
    const now = this.clock.now();
    this.delay = now - this.lastDue < this.maxDebounceMs ? Math.min(Math.max(2 * this.delay, this.debounceMs), this.maxDebounceMs) : this.debounceMs;
    this.lastDue = now + this.delay;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.publish();
    }, this.delay);
  }

  private publish(): void {
    const crds = [...this.reflector.store.values()].filter(isEstablished).map(withServedNames).sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
    const previous = this.snapshot;
    if (previous && sameCrds(previous.crds, crds)) return;
    const next: CrdSnapshot = Object.freeze({ generation: (previous?.generation ?? 0) + 1, crds: Object.freeze(crds) });
    this.snapshot = next;
    for (const w of this.syncWaiters.splice(0)) w();
    for (const l of this.listeners) {
      try {
        l(next, previous);
      } catch {
        // A listener's failure must not stop the others or the catalog.
      }
    }
  }
}

function sameCrds(a: readonly CrdObject[], b: readonly CrdObject[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((crd, i) => crd.metadata.name === b[i]!.metadata.name && crd.metadata.resourceVersion === b[i]!.metadata.resourceVersion);
}
