// "All namespaces" for a caller who may list only some of them: Kubernetes would answer 403 to a
// cluster-wide list, so the gateway lists each namespace the caller may list, as the caller, and
// stitches the pages together. The continue token says which namespace to resume in, and carries
// that namespace's own Kubernetes continue token.
//
// The pages are one snapshot, as a cluster-wide list would be: the first namespace's list fixes
// the resourceVersion, and every other namespace is read at exactly that resourceVersion
// (resourceVersionMatch=Exact, from etcd's history), so a watch from the list's resourceVersion
// gets every change after it and no change the list already holds. When etcd has compacted that
// resourceVersion away meanwhile, a listing started without a continue token starts over; one
// paged with a continue token ends with GONE, as Kubernetes ends an expired continue token.
import { ApiError } from '../api-errors.ts';
import type { KubeList, ListArgs, OperationRequest } from '../contract/operations.ts';
import type { ResourceService } from './resource-service.ts';
import type { CallerContext } from '../contract/caller-context.ts';

const prefix = 'p1.';

interface Position {
  /** The namespace to resume in. */
  ns: string;
  /** Its Kubernetes continue token, when the namespace was cut mid-way. */
  c?: string;
  /** The resourceVersion of the snapshot (absent in tokens made before it was kept). */
  rv?: string;
}

export function encodePosition(p: Position): string {
  return prefix + Buffer.from(JSON.stringify(p)).toString('base64url');
}

export function decodePosition(token: string): Position {
  if (!token.startsWith(prefix)) {
    throw new ApiError('BAD_REQUEST', 'this continue token does not belong to a listing across namespaces; restart the listing without it');
  }
  try {
    const p = JSON.parse(Buffer.from(token.slice(prefix.length), 'base64url').toString('utf8')) as Position;
    if (typeof p.ns !== 'string' || (p.c !== undefined && typeof p.c !== 'string') || (p.rv !== undefined && typeof p.rv !== 'string')) throw new Error('shape');
    return p;
  } catch {
    throw new ApiError('BAD_REQUEST', 'the continue token is malformed; restart the listing without it');
  }
}

/** How often a listing without a continue token starts over when its snapshot is compacted away. */
const restarts = 3;

export async function partitionedList(service: Pick<ResourceService, 'list'>, req: OperationRequest<ListArgs, CallerContext>, namespaces: readonly string[]): Promise<KubeList> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await listSnapshot(service, req, namespaces);
    } catch (err) {
      if (!(err instanceof SnapshotGone)) throw err;
      if (req.args.continue) {
        throw new ApiError('GONE', `the continue token has expired (${err.cause.message}); restart the listing without a continue token`,
          { ...err.cause.details, hint: 'restart the listing from the first page' }, { cause: err.cause });
      }
      if (attempt + 1 >= restarts) throw err.cause;
    }
  }
}

/** etcd no longer has the snapshot's resourceVersion. */
class SnapshotGone extends Error {
  declare readonly cause: ApiError;
  constructor(cause: ApiError) {
    super(cause.message, { cause });
  }
}

/**
 * The order of a cluster-wide list: etcd returns keys <namespace>/<name> in byte order, so a
 * namespace sorts as its name followed by "/" ("team-a" before "team").
 */
function byStorageKey(a: string, b: string): number {
  const x = `${a}/`;
  const y = `${b}/`;
  return x < y ? -1 : x > y ? 1 : 0;
}

async function listSnapshot(service: Pick<ResourceService, 'list'>, req: OperationRequest<ListArgs, CallerContext>, namespaces: readonly string[]): Promise<KubeList> {
  const sorted = [...namespaces].sort(byStorageKey);
  const a = req.args;
  const limit = a.limit && a.limit > 0 ? a.limit : undefined;
  const from = a.continue ? decodePosition(a.continue) : undefined;
  const items: KubeList['items'][number][] = [];
  // A caller's own Exact resourceVersion is the snapshot; else the first list fixes it.
  let resourceVersion = from?.rv ?? (a.resourceVersionMatch === 'Exact' ? a.resourceVersion : undefined);
  let next: Position | undefined;
  const todo = from ? sorted.filter((ns) => byStorageKey(ns, from.ns) >= 0) : sorted;
  for (let i = 0; i < todo.length; i++) {
    const ns = todo[i]!;
    const remaining = limit === undefined ? undefined : limit - items.length;
    const cont = from && ns === from.ns ? from.c : undefined;
    // A continue token carries its own resourceVersion; Kubernetes refuses both together.
    const at: Partial<ListArgs> = cont ? { resourceVersion: undefined, resourceVersionMatch: undefined }
      : resourceVersion !== undefined ? { resourceVersion, resourceVersionMatch: 'Exact' } : {};
    let page: KubeList;
    try {
      page = await service.list({ ...req, namespace: ns, args: { ...a, limit: remaining, continue: cont, ...at } });
    } catch (err) {
      // An expired Kubernetes continue token, or the caller's own Exact resourceVersion, is the caller's GONE.
      const ours = !cont && resourceVersion !== undefined && !(a.resourceVersionMatch === 'Exact' && a.resourceVersion === resourceVersion);
      if (err instanceof ApiError && err.code === 'GONE' && ours) {
        throw new SnapshotGone(err);
      }
      throw err;
    }
    items.push(...page.items);
    resourceVersion ??= page.metadata?.resourceVersion;
    if (page.metadata?.continue) {
      next = { ns, c: page.metadata.continue, ...(resourceVersion !== undefined ? { rv: resourceVersion } : {}) };
      break;
    }
    if (limit !== undefined && items.length >= limit) {
      if (i + 1 < todo.length) next = { ns: todo[i + 1]!, ...(resourceVersion !== undefined ? { rv: resourceVersion } : {}) };
      break;
    }
  }
  const metadata: { resourceVersion?: string; continue?: string } = {};
  if (resourceVersion !== undefined) metadata.resourceVersion = resourceVersion;
  if (next) metadata.continue = encodePosition(next);
  return { metadata, items };
}
