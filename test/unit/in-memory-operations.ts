// A test double for ResourceOperations: keeps objects in memory, records every request, and
// returns exactly what was stored, so tests can see what the schema sends and serves.

import { ApiError } from '../../src/api-errors.ts';
import type {
  KubeObject,
  KubeWatchEvent,
  OperationRequest,
  ResourceOperations,
  WatchFeed,
} from '../../src/contract/operations.ts';
import { feedFrom } from '../../src/streams/feed.ts';
import type { ChildrenArgs, EventsArgs, OwnersArgs, RelationAnswer, RelationRequest } from '../../src/contract/relations.ts';
import { lastSeen } from '../../src/kube/event-time.ts';

export interface RecordedCall {
  readonly operation: keyof ResourceOperations;
  readonly request: OperationRequest<any>;
}

export interface RecordedRelationCall {
  readonly operation: 'owners' | 'children' | 'events';
  readonly request: RelationRequest<any>;
}

export class InMemoryOperations implements ResourceOperations {
  readonly calls: RecordedCall[] = [];
  /** Every batch the relation fields asked for. */
  readonly relationCalls: RecordedRelationCall[] = [];
  readonly objects = new Map<string, KubeObject>();
  /** Events handed out by watch(). */
  watchEvents: KubeWatchEvent[] = [];
  /** core/v1 Events that events() reads. */
  kubeEvents: KubeObject[] = [];
  /** Errors relations answer for an object (by uid) instead of reading it. */
  readonly relationErrors = new Map<string, ApiError>();

  private key(request: OperationRequest<unknown>, name?: string): string {
    return [request.resource.crdName, request.version.name, request.namespace ?? '', name ?? request.name ?? ''].join('/');
  }

  private record(operation: keyof ResourceOperations, request: OperationRequest<any>): void {
    this.calls.push({ operation, request });
  }

  lastCall(): RecordedCall {
    const call = this.calls.at(-1);
    if (!call) throw new Error('no call recorded');
    return call;
  }

  async get(request: OperationRequest<Record<string, never>>) {
    this.record('get', request);
    const found = this.objects.get(this.key(request));
    return found ? structuredClone(found) : null;
  }

  async list(request: OperationRequest<any>) {
    this.record('list', request);
    const prefix = [request.resource.crdName, request.version.name, request.namespace ?? ''].join('/');
    const items = [...this.objects].filter(([k]) => request.namespace === undefined || k.startsWith(`${prefix}/`)).map(([, v]) => structuredClone(v));
    return { metadata: { resourceVersion: '7', continue: request.args.limit ? 'next-page' : '' }, items };
  }

  private store(request: OperationRequest<any>, body: KubeObject): KubeObject {
    const metadata = body['metadata'] as { name?: string } | undefined;
    this.objects.set(this.key(request, metadata?.name), structuredClone(body));
    return structuredClone(body);
  }

  async create(request: OperationRequest<any>) {
    this.record('create', request);
    return this.store(request, request.args.body);
  }

  async replace(request: OperationRequest<any>) {
    this.record('replace', request);
    return this.store(request, request.args.body);
  }

  async patch(request: OperationRequest<any>) {
    this.record('patch', request);
    const current = this.objects.get(this.key(request)) ?? {};
    const patch = request.args.patch;
    const next = Array.isArray(patch) ? current : (mergePatch(current, patch) as KubeObject);
    return this.store(request, next);
  }

  async updateStatus(request: OperationRequest<any>) {
    this.record('updateStatus', request);
    return this.store(request, request.args.body);
  }

  async getScale(request: OperationRequest<any>) {
    this.record('getScale', request);
    return { apiVersion: 'autoscaling/v1', kind: 'Scale', metadata: { name: request.name }, spec: { replicas: 2 }, status: { replicas: 1, selector: 'app=x' } };
  }

  async updateScale(request: OperationRequest<any>) {
    this.record('updateScale', request);
    return { ...request.args.body, status: { replicas: 1 } };
  }

  async delete(request: OperationRequest<any>) {
    this.record('delete', request);
    const key = this.key(request);
    const found = this.objects.get(key);
    this.objects.delete(key);
    return found ?? { kind: 'Status', status: 'Success', code: 200 };
  }

  async deleteCollection(request: OperationRequest<any>) {
    this.record('deleteCollection', request);
    const items = [...this.objects.values()];
    this.objects.clear();
    return { kind: 'List', items };
  }

  private byUid(uid: string): KubeObject | undefined {
    return [...this.objects.values()].find((o) => (o['metadata'] as { uid?: string } | undefined)?.uid === uid);
  }

  async owners(request: RelationRequest<OwnersArgs>) {
    this.relationCalls.push({ operation: 'owners', request });
    return request.args.lookups.map(({ reference }): RelationAnswer<KubeObject> => {
      const error = this.relationErrors.get(reference.uid);
      if (error) return { ok: false, error };
      const found = this.byUid(reference.uid);
      return found ? { ok: true, value: structuredClone(found) } : { ok: false, error: new ApiError('NOT_FOUND', `owner ${reference.name} is gone`, { reason: 'NotFound' }) };
    });
  }

  async children(request: RelationRequest<ChildrenArgs>) {
    this.relationCalls.push({ operation: 'children', request });
    const { kind, apiVersion, limit } = request.args;
    return request.args.parents.map(({ uid }): RelationAnswer<readonly KubeObject[]> => {
      const error = this.relationErrors.get(uid);
      if (error) return { ok: false, error };
      const own = [...this.objects.values()].filter((o) => o['kind'] === kind && (apiVersion === undefined || o['apiVersion'] === apiVersion)
        && ((o['metadata'] as { ownerReferences?: { uid: string }[] }).ownerReferences ?? []).some((r) => r.uid === uid));
      return { ok: true, value: structuredClone(limit === undefined ? own : own.slice(0, limit)) };
    });
  }

  async events(request: RelationRequest<EventsArgs>) {
    this.relationCalls.push({ operation: 'events', request });
    const { limit } = request.args;
    return request.args.parents.map(({ uid }): RelationAnswer<readonly KubeObject[]> => {
      const error = this.relationErrors.get(uid);
      if (error) return { ok: false, error };
      const own = this.kubeEvents.filter((e) => (e['involvedObject'] as { uid?: string }).uid === uid)
        .sort((a, b) => String(lastSeen(b)).localeCompare(String(lastSeen(a))));
      return { ok: true, value: structuredClone(limit === undefined ? own : own.slice(0, limit)) };
    });
  }

  async watch(request: OperationRequest<any>): Promise<WatchFeed> {
    this.record('watch', request);
    const events = this.watchEvents;
    return feedFrom(async (emit) => {
      for (const e of events) await emit(e);
    });
  }
}

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> =
    typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}
