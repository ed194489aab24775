// Who is calling, as the transports hand it to the operations: the identity to impersonate, the
// request's cancellation and id, and the tenant's own limits. Every layer from the service up
// reads it; none below the transports builds it.
import type { Impersonation } from '../kube/kube-client.ts';

/** The query limits a tenant rule may set for its tenant (src/plugins/query-limits.ts): over 0. */
export const tenantQueryLimitKeys = ['maxCost', 'maxDepth', 'maxAliases', 'maxDirectives', 'maxTokens'] as const;
/** The budgets a tenant rule may set for its tenant (src/plugins/rate-limits.ts): 0 is unlimited, but for burst. */
export const tenantBudgetKeys = ['requestsPerSecond', 'burst', 'maxConcurrentCalls', 'maxWatches', 'maxConnections'] as const;
export type TenantLimits = Partial<Record<(typeof tenantQueryLimitKeys)[number] | (typeof tenantBudgetKeys)[number], number>>;

/** What the HTTP/WebSocket layer knows about the caller of one request. */
export interface CallerContext {
  /** Who to impersonate; absent: the gateway's own identity (no tenants configured). */
  identity?: Impersonation;
  /** Aborted when the client goes away. */
  signal?: AbortSignal;
  /** Correlates gateway logs with the apiserver's audit log. */
  requestId?: string;
  /** The tenant the caller belongs to, for logs and metrics. */
  tenant?: string;
  /** When the caller's credentials expire (ms since the epoch): subscriptions end then. */
  expiresAt?: number;
  /** Throws when the caller's credentials are no longer valid; live watches call it every revalidateEveryMs. */
  revalidate?: () => Promise<void>;
  revalidateEveryMs?: number;
  /** 'ws': a GraphQL subscription over WebSocket (not an HTTP request). */
  transport?: 'http' | 'ws';
  /** The tenant's own query limits, when its tenant rule sets some. */
  limits?: TenantLimits;
  /** The manager name writes record in managedFields when the client names none (the tenant rule's). */
  fieldManager?: string;
  /**
   * Called when a patch created the object (an apply of one that did not exist: Kubernetes answers
   * 201 Created), so the REST facade can answer as Kubernetes does.
   */
  onCreated?: () => void;
  /**
   * Told each Warning the apiserver answered a call of this request with (a deprecated version,
   * unknown fields it dropped), so that the transport can pass it on.
   */
  onWarning?: (warning: string) => void;
}
