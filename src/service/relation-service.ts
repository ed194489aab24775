// Owners, children and Events of a batch of objects, with one Kubernetes call per kind and
// namespace: owners of one kind in one namespace are one list (one get when there is a single
// name), children of one kind are one list per namespace (or one across namespaces for
// cluster-scoped parents) unless the query cache already holds them, Events one list per namespace. Every call is made as the caller, so
// RBAC decides what each answer holds; what the caller may not read comes back as its error.
import pLimit from 'p-limit';
import { ApiError } from '../api-errors.ts';
import type { CallerContext } from '../contract/caller-context.ts';
import type { KubeObject } from '../contract/operations.ts';
import type {
  ChildrenArgs, EventsArgs, ObjectRef, OwnerLookup, OwnersArgs, RelationAnswer, RelationOperations, RelationRequest,
} from '../contract/relations.ts';
import { apiVersionOf, splitApiVersion, type ApiDiscovery, type ApiResource } from './api-discovery.ts';
import type { ObjectReader } from './object-reader.ts';
import { CORE_EVENTS, eventNamespaceOf, eventsOf, fromEventsV1, selectorValue } from './object-events.ts';

type Req<A> = RelationRequest<A, CallerContext>;
type Answer<T> = RelationAnswer<T>;

export interface RelationDeps {
  readonly discovery: ApiDiscovery;
  readonly reader: ObjectReader;
  /**
   * The objects of a resource in a namespace (or all namespaces) that a running query cache holds
   * and the caller may read; undefined when the reader must list them. It never starts a cache.
   */
  readonly cached?: (resource: ApiResource, namespace: string | undefined, context: CallerContext) => Promise<readonly KubeObject[] | undefined>;
  /**
   * Whether the caller may learn that the cluster serves a resource: one it may not is answered
   * exactly as a kind the cluster does not serve (auth hides the custom resources a tenant may not
   * use, as its schema and the REST facade do). Absent: every served kind is known.
   */
  readonly known?: (resource: ApiResource, context: CallerContext) => Promise<boolean>;
}

const ok = <T>(value: T): Answer<T> => ({ ok: true, value });
const failed = (error: unknown): Answer<never> => ({ ok: false, error: error instanceof ApiError ? error : new ApiError('INTERNAL', 'internal error', {}, { cause: error }) });

/** Entries of a batch that share one Kubernetes call. */
class Groups<E> {
  readonly map = new Map<string, { entries: { index: number; entry: E }[]; resource: ApiResource; namespace: string | undefined }>();

  add(key: string, resource: ApiResource, namespace: string | undefined, index: number, entry: E): void {
    let g = this.map.get(key);
    if (!g) this.map.set(key, (g = { entries: [], resource, namespace }));
    g.entries.push({ index, entry });
  }
}

export function relationOperations(deps: RelationDeps): RelationOperations<CallerContext> {
  return {
    owners: (req) => owners(deps, req),
    children: (req) => children(deps, req),
    events: (req) => events(deps, req),
  };
}

async function owners(deps: RelationDeps, req: Req<OwnersArgs>): Promise<Answer<KubeObject>[]> {
  const { lookups } = req.args;
  const answers: Answer<KubeObject>[] = new Array(lookups.length);
  const groups = new Groups<OwnerLookup>();
  await Promise.all(lookups.map(async (lookup, i) => {
    try {
      const ref = lookup.reference;
      const resource = await deps.discovery.resolve(ref.apiVersion, ref.kind);
      // A kind the caller may not know of is answered as one the cluster does not serve, before
      // anything (its scope, a read's FORBIDDEN) could tell it exists; children do the same.
      if (!resource || (deps.known && !(await deps.known(resource, req.context)))) throw kindNotServed(ref.kind, ref.apiVersion);
      // A cluster-scoped object cannot have a namespaced owner; Kubernetes' garbage collector says the same.
      if (resource.namespaced && lookup.namespace === undefined) throw ownerMissing(lookup, `it is namespaced, and the dependent is cluster-scoped`);
      const namespace = resource.namespaced ? lookup.namespace : undefined;
      groups.add(`${apiVersionOf(resource)}/${resource.plural}/${namespace ?? ''}`, resource, namespace, i, lookup);
    } catch (err) {
      answers[i] = failed(err);
    }
  }));
  await Promise.all([...groups.map.values()].map(async (g) => {
    const found = await readByName(deps.reader, g.resource, g.namespace, [...new Set(g.entries.map((e) => e.entry.reference.name))], req.context);
    for (const { index, entry } of g.entries) answers[index] = ownerAnswer(entry, found.get(entry.reference.name));
  }));
  return answers;
}

/** Gets in flight at once for one batch of owners that the caller may get but not list. */
const GETS_AT_ONCE = 4;

/**
 * Objects by name in one namespace: one get for one name, one list for several. A caller who may
 * get but not list gets them one by one, so batching never hides what the caller may read.
 */
async function readByName(reader: ObjectReader, resource: ApiResource, namespace: string | undefined, names: readonly string[],
  context: CallerContext): Promise<Map<string, Answer<KubeObject> | undefined>> {
  const byName = new Map<string, Answer<KubeObject> | undefined>();
  const one = async (name: string) => {
    try {
      byName.set(name, ok(await reader.get(resource, namespace, name, context)));
    } catch (err) {
      byName.set(name, err instanceof ApiError && err.code === 'NOT_FOUND' ? undefined : failed(err));
    }
  };
  if (names.length === 1) {
    await one(names[0]!);
    return byName;
  }
  try {
    const items = await reader.list(resource, namespace, {}, context);
    const wanted = new Set(names);
    for (const o of items) {
      const name = (o['metadata'] as { name?: string } | undefined)?.name;
      if (name !== undefined && wanted.has(name)) byName.set(name, ok(o));
    }
  } catch (err) {
    if (!(err instanceof ApiError && err.code === 'FORBIDDEN')) {
      for (const name of names) byName.set(name, failed(err));
      return byName;
    }
    // One by one, a few at a time: an object may name hundreds of owners of one kind.
    const limit = pLimit(GETS_AT_ONCE);
    await Promise.all(names.map((name) => limit(() => one(name))));
  }
  return byName;
}

function ownerAnswer(lookup: OwnerLookup, found: Answer<KubeObject> | undefined): Answer<KubeObject> {
  if (!found) return failed(ownerMissing(lookup, 'it does not exist'));
  if (!found.ok) return found;
  const uid = (found.value['metadata'] as { uid?: string } | undefined)?.uid;
  // Same name, another object: the owner was deleted and the name taken again.
  if (uid !== lookup.reference.uid) return failed(ownerMissing(lookup, `the object of that name has uid ${uid}, not the owner's ${lookup.reference.uid}`));
  return found;
}

function ownerMissing(lookup: OwnerLookup, why: string): ApiError {
  const r = lookup.reference;
  const where = lookup.namespace ? ` in namespace ${lookup.namespace}` : '';
  return new ApiError('NOT_FOUND', `owner ${r.kind} ${r.name} (${r.apiVersion}, uid ${r.uid})${where} is gone: ${why}`,
    { reason: 'NotFound', kind: r.kind, name: r.name, group: splitApiVersion(r.apiVersion)?.group });
}

function kindNotServed(kind: string, apiVersion: string | undefined): ApiError {
  return new ApiError('NOT_FOUND', `the cluster serves no kind ${kind}${apiVersion ? ` in ${apiVersion}` : ''}`,
    { reason: 'KindNotServed', kind, ...(apiVersion ? { group: splitApiVersion(apiVersion)?.group } : {}) });
}

async function children(deps: RelationDeps, req: Req<ChildrenArgs>): Promise<Answer<readonly KubeObject[]>[]> {
  const { parents, limit } = req.args;
  let resource: ApiResource;
  try {
    resource = await childResource(deps, req);
  } catch (err) {
    return parents.map(() => failed(err));
  }
  const answers: Answer<readonly KubeObject[]>[] = new Array(parents.length);
  const groups = new Groups<ObjectRef>();
  parents.forEach((parent, i) => {
    // Namespaced objects are owned from their own namespace or by cluster-scoped objects; a
    // cluster-scoped object has cluster-scoped owners only.
    if (!resource.namespaced && parent.namespace !== undefined) answers[i] = ok([]);
    else groups.add(parent.namespace ?? '', resource, resource.namespaced ? parent.namespace : undefined, i, parent);
  });
  await Promise.all([...groups.map.values()].map(async (g) => {
    let items: readonly KubeObject[];
    try {
      items = (await deps.cached?.(resource, g.namespace, req.context)) ?? await deps.reader.list(resource, g.namespace, {}, req.context);
    } catch (err) {
      for (const { index } of g.entries) answers[index] = failed(err);
      return;
    }
    const byOwner = childrenByOwner(items);
    for (const { index, entry } of g.entries) {
      // In the apiserver's order (namespace, then name) wherever they came from: a cache holds
      // them in the order they arrived, and a limit must keep the same ones either way.
      const own = (byOwner.get(entry.uid) ?? []).sort(byNamespaceAndName);
      answers[index] = ok(limit !== undefined && limit >= 0 ? own.slice(0, limit) : own);
    }
  }));
  return answers;
}

function byNamespaceAndName(a: KubeObject, b: KubeObject): number {
  const ma = a['metadata'] as { namespace?: string; name?: string } | undefined;
  const mb = b['metadata'] as { namespace?: string; name?: string } | undefined;
  const key = (m: typeof ma) => `${m?.namespace ?? ''}/${m?.name ?? ''}`;
  const [ka, kb] = [key(ma), key(mb)];
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

function childrenByOwner(items: readonly KubeObject[]): Map<string, KubeObject[]> {
  const byOwner = new Map<string, KubeObject[]>();
  for (const o of items) {
    const refs = (o['metadata'] as { ownerReferences?: { uid?: string }[] } | undefined)?.ownerReferences ?? [];
    for (const uid of new Set(refs.map((r) => r.uid))) {
      if (typeof uid !== 'string') continue;
      let list = byOwner.get(uid);
      if (!list) byOwner.set(uid, (list = []));
      list.push(o);
    }
  }
  return byOwner;
}

/**
 * The kind children are listed as: at the apiVersion given, or else in the group that serves it
 * (the core group first, then the parents' own group, as kubectl resolves short kinds).
 */
async function childResource(deps: RelationDeps, req: Req<ChildrenArgs>): Promise<ApiResource> {
  const { kind, apiVersion } = req.args;
  const known = async (r: ApiResource) => !deps.known || await deps.known(r, req.context);
  if (apiVersion !== undefined) {
    const asked = splitApiVersion(apiVersion);
    if (!asked) throw new ApiError('BAD_USER_INPUT', `apiVersion ${JSON.stringify(apiVersion)} is not of the form group/version (or v1 for the core group)`);
    const found = await deps.discovery.resolve(apiVersion, kind);
    if (!found || !(await known(found))) throw kindNotServed(kind, apiVersion);
    if (found.version !== asked.version) throw kindNotServed(kind, apiVersion);
    return found;
  }
  // Only the groups the caller may know of are candidates (nor named when several serve the kind).
  const served = await deps.discovery.byKind(kind);
  const visible = await Promise.all(served.map(known));
  const candidates = served.filter((_, i) => visible[i]);
  if (!candidates.length) throw kindNotServed(kind, undefined);
  const parentGroups = new Set(req.args.parents.map((p) => splitApiVersion(p.apiVersion)?.group));
  const chosen = candidates.find((c) => c.group === '')
    ?? (candidates.length === 1 ? candidates[0] : candidates.find((c) => parentGroups.size === 1 && parentGroups.has(c.group)));
  if (!chosen) {
    throw new ApiError('BAD_USER_INPUT', `kind ${kind} is served by several API groups (${candidates.map(apiVersionOf).join(', ')}); say which with apiVersion`);
  }
  return chosen;
}

async function events(deps: RelationDeps, req: Req<EventsArgs>): Promise<Answer<readonly KubeObject[]>[]> {
  const { parents, limit, since } = req.args;
  const answers: Answer<readonly KubeObject[]>[] = new Array(parents.length);
  const groups = new Groups<ObjectRef>();
  parents.forEach((parent, i) => {
    const namespace = eventNamespaceOf(parent.namespace);
    groups.add(namespace, CORE_EVENTS, namespace, i, parent);
  });
  await Promise.all([...groups.map.values()].map(async (g) => {
    const refs = g.entries.map((e) => e.entry);
    let items: KubeObject[];
    try {
      items = await readEvents(deps, g.namespace!, refs, req.context);
    } catch (err) {
      for (const { index } of g.entries) answers[index] = failed(err);
      return;
    }
    for (const { index, entry } of g.entries) answers[index] = ok(eventsOf(items, entry, { limit, since }));
  }));
  return answers;
}

/**
 * The Events of some objects of one namespace in one list: the apiserver selects by uid and kind
 * for one object, by kind for several of one kind (eventsOf keeps those of each object's uid). When the caller may not list core/v1 Events but may
 * list events.k8s.io/v1 Events (the same objects), those are read instead.
 */
async function readEvents(deps: RelationDeps, namespace: string, refs: readonly ObjectRef[], context: CallerContext): Promise<KubeObject[]> {
  const kinds = new Set(refs.map((r) => r.kind));
  const kind = (prefix: string) => `${prefix}.kind=${selectorValue(refs[0]!.kind)}`;
  const selector = (prefix: string) => refs.length === 1 ? `${prefix}.uid=${selectorValue(refs[0]!.uid)},${kind(prefix)}`
    : kinds.size === 1 ? kind(prefix) : undefined;
  try {
    return await deps.reader.list(CORE_EVENTS, namespace, { fieldSelector: selector('involvedObject') }, context);
  } catch (err) {
    if (!(err instanceof ApiError && err.code === 'FORBIDDEN')) throw err;
    const v1 = await deps.discovery.resolve('events.k8s.io/v1', 'Event');
    if (!v1 || v1.version !== 'v1') throw err;
    try {
      return (await deps.reader.list(v1, namespace, { fieldSelector: selector('regarding') }, context)).map(fromEventsV1);
    } catch {
      throw err;
    }
  }
}
