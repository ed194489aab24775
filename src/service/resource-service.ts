// The one place that talks to Kubernetes on behalf of API callers. Every call goes through the
// dynamic client as the caller's identity (impersonation), with the caller's cancellation signal
// and a deadline, and every failure leaves here as an ApiError from the catalog.
import { ApiError, fromKubeError, type FieldPathMapper } from '../api-errors.ts';
import type { Impersonation, KubeClient } from '../kube/kube-client.ts';
import { namespaceNameProblem, objectNameProblem } from '../model/kubernetes-names.ts';
import type { ResourceModel, VersionModel } from '../model/resource-model.ts';
import type {
  DeleteArgs, DeleteCollectionArgs, KubeList, KubeObject, KubeWatchEvent, ListArgs, OperationRequest, PatchArgs,
  ObjectOperations, ScaleArgs, WatchArgs, WriteArgs,
} from '../contract/operations.ts';
import type { CallerContext } from '../contract/caller-context.ts';
import { feedFrom, type Feed } from '../streams/feed.ts';
import { retryOnConflict } from './retry-on-conflict.ts';

/**
 * The manager name of a write whose client names none. Kubernetes would otherwise take it from
 * the User-Agent, which makes it "unknown" here; clients of Kubernetes name themselves.
 */
export const DEFAULT_FIELD_MANAGER = 'crdgate';

export interface ResourceServiceOptions {
  /** Maps Kubernetes field paths in validation causes to GraphQL paths. */
  fieldPathMapper?: (resource: ResourceModel, version: VersionModel) => FieldPathMapper | undefined;
}

type Req<A> = OperationRequest<A, CallerContext>;

/** A path segment from a caller-given namespace or name, refused when it cannot be one (see kubernetes-names.ts). */
export function pathSegment(value: string, what: 'namespace' | 'name'): string {
  const problem = what === 'namespace' ? namespaceNameProblem(value) : objectNameProblem(value);
  if (problem) throw new ApiError('BAD_REQUEST', problem, { reason: 'BadRequest' });
  return encodeURIComponent(value);
}

export function resourcePath(resource: ResourceModel, version: string, namespace?: string, name?: string, subresource?: 'status' | 'scale'): string {
  let path = `/apis/${resource.group}/${version}`;
  if (resource.scope === 'Namespaced' && namespace !== undefined) path += `/namespaces/${pathSegment(namespace, 'namespace')}`;
  path += `/${resource.plural}`;
  if (name !== undefined) path += `/${pathSegment(name, 'name')}`;
  if (subresource) path += `/${subresource}`;
  return path;
}

export class ResourceService implements ObjectOperations<CallerContext> {
  private readonly client: KubeClient;
  private readonly opts: ResourceServiceOptions;

  constructor(client: KubeClient, opts: ResourceServiceOptions = {}) {
    this.client = client;
    this.opts = opts;
  }

  async get(req: Req<Record<string, never>>): Promise<KubeObject | null> {
    this.requireName(req);
    try {
      return await this.call<KubeObject>(req, 'GET', this.path(req));
    } catch (err) {
      if (err instanceof ApiError && err.code === 'NOT_FOUND' && err.details.reason === 'NotFound') return null;
      throw err;
    }
  }

  async list(req: Req<ListArgs>): Promise<KubeList> {
    const a = req.args;
    try {
      return await this.call<KubeList>(req, 'GET', this.path(req, false), {
        query: {
          labelSelector: a.labelSelector, fieldSelector: a.fieldSelector, limit: a.limit, continue: a.continue,
          resourceVersion: a.resourceVersion, resourceVersionMatch: a.resourceVersionMatch,
        },
      });
    } catch (err) {
      if (err instanceof ApiError && err.code === 'GONE' && a.continue) {
        throw new ApiError('GONE', `the continue token has expired (${err.message}); restart the listing without a continue token`,
          { ...err.details, hint: 'restart the listing from the first page' }, { cause: err });
      }
      throw err;
    }
  }

  create(req: Req<WriteArgs>): Promise<KubeObject> {
    return this.call(req, 'POST', this.path(req, false), {
      body: this.withIdentity(req, req.args.body), query: writeQuery(req),
    });
  }

  async replace(req: Req<WriteArgs>): Promise<KubeObject> {
    this.requireName(req);
    try {
      return await this.call<KubeObject>(req, 'PUT', this.path(req), { body: this.withIdentity(req, req.args.body), query: writeQuery(req) });
    } catch (err) {
      throw await this.withCurrentResourceVersion(req, err);
    }
  }

  async patch(req: Req<PatchArgs>): Promise<KubeObject> {
    this.requireName(req);
    const a = req.args;
    const isApply = a.patchType === 'application/apply-patch+yaml';
    // Server-side apply owns fields per manager: a default shared by every client that names none
    // would have each apply remove what the others set. Kubernetes refuses it so; so is it here.
    if (isApply && !a.fieldManager) throw applyNeedsManager();
    if (a.subresource && !req.version.subresources[a.subresource]) throw noSubresource(req, a.subresource);
    let body: unknown = a.patch;
    if (isApply) body = this.withIdentity(req, a.patch as KubeObject);
    try {
      return await this.call<KubeObject>(req, 'PATCH', this.path(req, true, a.subresource), {
        body,
        contentType: a.patchType,
        query: {
          dryRun: a.dryRun,
          fieldManager: fieldManagerOf(a.fieldManager, req.context),
          force: isApply ? a.force : undefined,
          fieldValidation: a.fieldValidation,
        },
        onStatus: (status) => {
          if (status === 201) req.context.onCreated?.();
        },
      });
    } catch (err) {
      throw await this.withCurrentResourceVersion(req, err);
    }
  }

  async updateStatus(req: Req<WriteArgs>): Promise<KubeObject> {
    this.requireName(req);
    if (!req.version.subresources.status) throw noSubresource(req, 'status');
    const body = req.args.body;
    const meta = (body.metadata ?? {}) as { resourceVersion?: string };
    const put = (obj: KubeObject) => this.call<KubeObject>(req, 'PUT', this.path(req, true, 'status'), { body: obj, query: writeQuery(req) });
    try {
      if (meta.resourceVersion) return await put(this.withIdentity(req, body));
      // No resourceVersion from the client: "set the status to this" — read, replace the status,
      // write, and retry when someone else wrote in between.
      return await retryOnConflict(async () => {
        const current = await this.call<KubeObject>(req, 'GET', this.path(req));
        return put({ ...current, status: body.status });
      }, { signal: req.context.signal });
    } catch (err) {
      throw await this.withCurrentResourceVersion(req, err);
    }
  }

  async getScale(req: Req<Record<string, never>>): Promise<KubeObject> {
    this.requireName(req);
    if (!req.version.subresources.scale) throw noSubresource(req, 'scale');
    return this.call(req, 'GET', this.path(req, true, 'scale'));
  }

  async updateScale(req: Req<ScaleArgs>): Promise<KubeObject> {
    this.requireName(req);
    if (!req.version.subresources.scale) throw noSubresource(req, 'scale');
    const body = req.args.body;
    const spec = (body.spec ?? {}) as { replicas?: number };
    const meta = (body.metadata ?? {}) as { resourceVersion?: string };
    const put = (scale: KubeObject) => this.call<KubeObject>(req, 'PUT', this.path(req, true, 'scale'),
      { body: scale, query: { dryRun: req.args.dryRun, fieldManager: fieldManagerOf(undefined, req.context) } });
    try {
      if (meta.resourceVersion) return await put(this.withIdentity(req, { apiVersion: 'autoscaling/v1', kind: 'Scale', ...body }));
      return await retryOnConflict(async () => {
        const current = await this.call<KubeObject>(req, 'GET', this.path(req, true, 'scale'));
        return put({ ...current, spec: { ...(current.spec as object), replicas: spec.replicas } });
      }, { signal: req.context.signal });
    } catch (err) {
      throw await this.withCurrentResourceVersion(req, err);
    }
  }

  async delete(req: Req<DeleteArgs>): Promise<KubeObject> {
    this.requireName(req);
    try {
      return await this.call<KubeObject>(req, 'DELETE', this.path(req), { body: deleteOptions(req.args) });
    } catch (err) {
      throw await this.withCurrentResourceVersion(req, err);
    }
  }

  deleteCollection(req: Req<DeleteCollectionArgs>): Promise<KubeObject> {
    const a = req.args;
    return this.call(req, 'DELETE', this.path(req, false), {
      query: { labelSelector: a.labelSelector, fieldSelector: a.fieldSelector },
      body: deleteOptions(a),
    });
  }

  /**
   * A direct upstream watch as the caller, event by event. The shared watch hub serves
   * subscriptions; this serves what it cannot (a resume from before its window). A promise
   * returned by onEvent holds the stream until it settles, so a slow reader slows the apiserver's
   * stream instead of filling memory. Resolves when the apiserver ends the watch; rejects with the
   * error that ended it (UNAVAILABLE when it sent nothing for idleTimeoutMs, held time aside).
   */
  async watchDirect(req: Req<WatchArgs>, onEvent: (e: KubeWatchEvent) => void | Promise<void>, signal: AbortSignal, idleTimeoutMs?: number): Promise<void> {
    const a = req.args;
    const sendInitial = a.sendInitialEvents === true;
    const both = req.context.signal ? AbortSignal.any([signal, req.context.signal]) : signal;
    try {
      await this.client.watch<KubeObject>(this.path(req, false), {
        query: {
          labelSelector: a.labelSelector, fieldSelector: a.fieldSelector,
          resourceVersion: a.resourceVersion, allowWatchBookmarks: a.allowWatchBookmarks ?? true,
          sendInitialEvents: sendInitial || undefined,
          resourceVersionMatch: sendInitial ? 'NotOlderThan' : undefined,
          timeoutSeconds: a.timeoutSeconds,
        },
        signal: both,
        impersonate: req.context.identity,
        idleTimeoutMs,
        onEvent: (e) => onEvent(e as KubeWatchEvent),
      });
    } catch (err) {
      if (both.aborted) return;
      throw this.apiError(req, err);
    }
  }

  /** A direct watch as a feed (see watchDirect). */
  async watch(req: Req<WatchArgs>): Promise<Feed<KubeWatchEvent>> {
    return feedFrom((emit, signal) => this.watchDirect(req, emit, signal));
  }

  private path(req: Req<unknown>, withName = true, sub?: 'status' | 'scale'): string {
    return resourcePath(req.resource, req.version.name, req.namespace, withName ? req.name : undefined, sub);
  }

  private requireName(req: Req<unknown>): void {
    if (!req.name) throw new ApiError('BAD_REQUEST', 'a name is required');
    if (req.resource.scope === 'Namespaced' && !req.namespace) {
      throw new ApiError('BAD_REQUEST', `${req.resource.kind} is namespaced: a namespace is required`);
    }
  }

  /** apiVersion, kind, name and namespace come from the request, never from a mismatching body. */
  private withIdentity(req: Req<unknown>, body: KubeObject): KubeObject {
    const metadata = { ...((body.metadata as Record<string, unknown> | undefined) ?? {}) };
    if (req.name !== undefined) {
      if (metadata.name !== undefined && metadata.name !== req.name) {
        throw new ApiError('BAD_REQUEST', `metadata.name "${String(metadata.name)}" does not match the name in the request "${req.name}"`);
      }
      metadata.name = req.name;
    }
    if (req.resource.scope === 'Namespaced' && req.namespace !== undefined) {
      if (metadata.namespace !== undefined && metadata.namespace !== req.namespace) {
        throw new ApiError('BAD_REQUEST', `metadata.namespace "${String(metadata.namespace)}" does not match the namespace in the request "${req.namespace}"`);
      }
      metadata.namespace = req.namespace;
    }
    const isScale = body.kind === 'Scale';
    return {
      ...body,
      apiVersion: isScale ? body.apiVersion : `${req.resource.group}/${req.version.name}`,
      kind: isScale ? body.kind : req.resource.kind,
      metadata,
    };
  }

  private async call<T>(req: Req<unknown>, method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string,
    opts: { query?: Record<string, string | number | boolean | undefined>; body?: unknown; contentType?: string; onStatus?: (status: number) => void } = {}): Promise<T> {
    try {
      return await this.client.request<T>(method, path, {
        ...opts,
        onWarning: req.context.onWarning,
        signal: req.context.signal,
        impersonate: req.context.identity,
        headers: req.context.requestId ? { 'Audit-ID': req.context.requestId } : undefined,
      });
    } catch (err) {
      throw this.apiError(req, err);
    }
  }

  private apiError(req: Req<unknown>, err: unknown): ApiError {
    return fromKubeError(err, this.opts.fieldPathMapper?.(req.resource, req.version));
  }

  /** A CONFLICT carries the object's current resourceVersion, so the client can re-read and retry. */
  private async withCurrentResourceVersion(req: Req<unknown>, err: unknown): Promise<unknown> {
    if (!(err instanceof ApiError) || err.code !== 'CONFLICT' || !req.name) return err;
    try {
      const current = await this.client.request<{ metadata?: { resourceVersion?: string } }>('GET', this.path(req), {
        signal: req.context.signal, impersonate: req.context.identity, timeoutMs: 5_000,
      });
      const rv = current?.metadata?.resourceVersion;
      if (rv) return new ApiError(err.code, err.message, { ...err.details, currentResourceVersion: rv }, { cause: err.cause });
    } catch {
      // The conflict is the error worth reporting; failing to enrich it changes nothing.
    }
    return err;
  }
}

function writeQuery(req: Req<WriteArgs>): Record<string, string | undefined> {
  const a = req.args;
  return { dryRun: a.dryRun, fieldManager: fieldManagerOf(a.fieldManager, req.context), fieldValidation: a.fieldValidation };
}

/** The apiserver's own refusal of an apply without a fieldManager, word for word. */
function applyNeedsManager(): ApiError {
  const cause = { type: 'FieldValueRequired', field: 'fieldManager', message: 'Required value: is required for apply patch' };
  return new ApiError('INVALID', `PatchOptions.meta.k8s.io "" is invalid: fieldManager: ${cause.message}`, { reason: 'Invalid', causes: [cause] });
}

function fieldManagerOf(given: string | undefined, context: CallerContext): string {
  return given || context.fieldManager || DEFAULT_FIELD_MANAGER;
}

function deleteOptions(a: DeleteArgs): Record<string, unknown> {
  const body: Record<string, unknown> = { apiVersion: 'v1', kind: 'DeleteOptions' };
  if (a.propagationPolicy) body.propagationPolicy = a.propagationPolicy;
  if (a.gracePeriodSeconds !== undefined) body.gracePeriodSeconds = a.gracePeriodSeconds;
  if (a.preconditions && (a.preconditions.uid || a.preconditions.resourceVersion)) body.preconditions = { ...a.preconditions };
  if (a.dryRun) body.dryRun = [a.dryRun];
  return body;
}

function noSubresource(req: Req<unknown>, sub: string): ApiError {
  return new ApiError('NOT_FOUND', `${req.resource.kind} ${req.version.name} has no ${sub} subresource`);
}

