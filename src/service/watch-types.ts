// The vocabulary of the watch hub (watch-hub.ts): keys, events, subscription options, the
// observer API for in-process consumers, and the hub's settings.
import { ApiError } from '../api-errors.ts';
import type { Impersonation } from '../kube/kube-client.ts';
import type { Clock, ListWatchSource } from '../kube/reflector.ts';

export type KubeObject = Record<string, unknown>;

export interface HubEvent {
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK';
  readonly object: KubeObject;
  /** Where in the stream this event stands: resume from here to get what follows. */
  readonly resourceVersion: string;
}

export interface WatchKey {
  group: string;
  version: string;
  plural: string;
  /** Absent: all namespaces (or a cluster-scoped resource). */
  namespace?: string;
}

export interface SubscribeOptions {
  labelSelector?: string;
  fieldSelector?: string;
  /** The CRD's selectableFields (JSON paths), which field selectors may use. */
  selectableFields?: readonly string[];
  /** Resume: deliver exactly the events after this resourceVersion. */
  resourceVersion?: string;
  /** First deliver the current objects as ADDED, then a BOOKMARK marking the end of the initial state. */
  sendInitialEvents?: boolean;
  /**
   * NotOlderThan, with sendInitialEvents and a resourceVersion: an initial state at least as new as
   * the resourceVersion instead of a resume from it (Kubernetes' meaning; a newer one than the hub
   * has seen is the apiserver's to serve).
   */
  resourceVersionMatch?: 'NotOlderThan';
  /** Ends the subscription. */
  signal?: AbortSignal;
  /**
   * A further filter (the namespaces the subscriber may see), read on every event. It may read
   * only metadata.name, metadata.namespace and metadata.labels: the hub keeps no more than that
   * (and the selectable fields) of the object before a change.
   */
  filter?: (obj: KubeObject) => boolean;
  /** The subscriber's identity, for the fallback's direct watch (the hub itself watches as the gateway). */
  identity?: Impersonation;
  /**
   * The fallback's direct watch runs as the gateway, not as `identity`, and `filter` alone says
   * what the subscriber sees of it (a caller limited to some of the namespaces the watch spans,
   * whose own watch the apiserver would refuse).
   */
  directAsGateway?: boolean;
  /** Names of other resource versions' types the subscriber reads (WatchArgs.relatedTypes), for WatchHub.closeReading. */
  relatedTypes?: readonly string[];
  /**
   * What the subscriber was checked against before it came here (the resource model its GraphQL
   * schema or REST route was built from), for the hub's admission check (WatchHub.admitWith).
   */
  servedAs?: object;
  /** The types of relatedTypes as the subscriber's schema had them (WatchArgs.relatedTypesAs), for the same check. */
  relatedTypesAs?: readonly object[];
}

/** A subscriber's options as its direct watch gets them. */
export interface DirectWatchOptions extends SubscribeOptions {
  /**
   * How long the apiserver keeps the watch open (Kubernetes timeoutSeconds), chosen by the hub as
   * client-go's reflector chooses it; the watch then goes on after its last event.
   */
  timeoutSeconds?: number;
  /**
   * How long the apiserver may send nothing on the watch before its connection counts as lost
   * (UNAVAILABLE); time the stream is held by onEvent's promise does not count.
   */
  idleTimeoutMs?: number;
}

/** A change as an in-process observer sees it: the hub's own object instances, never copies. */
export interface ObservedEvent {
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  readonly object: KubeObject;
  /** The object before the change (absent for ADDED). */
  readonly previous?: KubeObject;
  /** The key's resourceVersion after this change. */
  readonly resourceVersion: string;
  /** Part of the difference a relist found (after 410 Gone), not an event the apiserver sent. */
  readonly synthetic: boolean;
}

/**
 * An in-process consumer of one upstream (an informer cache): called synchronously, in order, on
 * the hub's own objects, which it must not modify. No flow control: it must keep up.
 */
export interface HubObserver {
  /** Once, when the upstream has synced (at once if it has): every object, at this resourceVersion. Copy what you keep of the map. */
  initial(objects: ReadonlyMap<string, KubeObject>, resourceVersion: string): void;
  /** Every change after the initial state, in order. */
  event(e: ObservedEvent): void;
  /** A relist (after 410 Gone) replaced the store; its difference came as synthetic events just before. */
  resynced?(resourceVersion: string): void;
  /** The apiserver says the key's resourceVersion moved on without a change to it. */
  bookmark?(resourceVersion: string): void;
  /** The observation is over: its upstream stopped (with the reason), or close() was called (no error). */
  end?(error?: ApiError): void;
}

export interface Observation {
  /** The key's current resourceVersion ('' before the first sync). */
  readonly resourceVersion: string;
  close(): void;
}

export interface WatchHubOptions {
  /** The list/watch of one key, as the gateway's own identity. */
  sourceFor(key: WatchKey): ListWatchSource<KubeObject>;
  /**
   * Serves a resume from a resourceVersion older than the hub remembers (a direct watch as the
   * subscriber). It calls onEvent per event and waits for a promise onEvent returns (flow
   * control); it resolves when the watch ends normally and rejects with the error that ended it.
   */
  fallback?(key: WatchKey, opts: DirectWatchOptions, onEvent: (e: HubEvent) => void | Promise<void>, signal: AbortSignal): Promise<void>;
  clock?: Clock;
  /** How long an upstream watch outlives its last subscriber. */
  graceMs?: number;
  /**
   * Bytes the resume window of one upstream may hold (objects no longer current, what selectors
   * read of previous objects, per-event overhead). A resume from before the window is GONE.
   */
  windowBytes?: number;
  /**
   * Bytes a subscriber's connection may hold unsent before the subscriber is ended as a slow
   * consumer. Backlogs (initial state, resumes, relists) are sent in pages well below it.
   */
  maxBufferedBytes?: number;
  /** How long an upstream may keep failing (other than 401/403/404) before its subscribers get UNAVAILABLE. */
  unavailableAfterMs?: number;
  /** How long a direct watch may stay silent before it counts as lost (default: its timeoutSeconds and 30 s). */
  directWatchIdleMs?: number;
  setTimer?(fn: () => void, ms: number): { cancel(): void };
  /** An upstream watch failed and is retried in retryInMs. */
  onUpstreamError?(key: WatchKey, err: unknown, retryInMs: number): void;
  /** A subscriber's direct watch, run as the gateway, was refused the gateway's own way (for the log: the subscriber is told less). */
  onDirectWatchRefused?(key: WatchKey, err: unknown): void;
}

export const initialEventsEndAnnotation = 'k8s.io/initial-events-end';

/**
 * What a subscriber is told of the failure of a watch the gateway ran as itself (the shared
 * upstream, or a direct watch for a caller limited to some namespaces). Kubernetes' refusal names
 * the gateway's identity (its service account) and what it lacks: that is for the gateway's log,
 * not for subscribers, tenants among them; they learn only that the gateway may not watch the
 * resource. A 401 refuses the gateway's own credentials: as UNAUTHENTICATED it would tell a client
 * to renew a token that is fine, so it is UNAVAILABLE (subscribe again once the gateway's
 * credentials work). Other errors are told as they are.
 */
export function asTheGateway(key: WatchKey, api: ApiError): ApiError {
  const what = `${key.plural}.${key.group}`;
  if (api.code === 'FORBIDDEN') {
    return new ApiError('FORBIDDEN', `the gateway may not watch ${what}: its own watch of them was refused (the gateway's log says why)`, { reason: 'Forbidden' });
  }
  if (api.code === 'UNAUTHENTICATED') {
    return new ApiError('UNAVAILABLE', `the gateway cannot watch ${what}: Kubernetes refused the gateway's own credentials (the gateway's log says why)`,
      { reason: 'ServiceUnavailable', retryAfterSeconds: 5 });
  }
  return api;
}

export function watchKeyString(k: WatchKey): string {
  return `${k.group}/${k.version}/${k.plural}@${k.namespace ?? '*'}`;
}

export function objectKey(o: KubeObject): string {
  const m = (o.metadata ?? {}) as { namespace?: string; name?: string };
  return `${m.namespace ?? ''}/${m.name ?? ''}`;
}

export function rvOf(o: KubeObject): string {
  return (o.metadata as { resourceVersion?: string } | undefined)?.resourceVersion ?? '';
}

export function parseRv(rv: string | undefined): bigint | undefined {
  if (!rv || !/^\d+$/.test(rv)) return undefined;
  return BigInt(rv);
}

export function bookmarkEvent(rv: bigint, initialEnd: boolean): HubEvent {
  const metadata: Record<string, unknown> = { resourceVersion: rv.toString() };
  if (initialEnd) metadata.annotations = { [initialEventsEndAnnotation]: 'true' };
  return { type: 'BOOKMARK', object: { metadata }, resourceVersion: rv.toString() };
}
