// "All namespaces" for a caller who may list only some of them: Kubernetes would answer 403 to a
// cluster-wide list, so the gateway lists each namespace the caller may list, as the caller, and
// stitches the pages together. The continue token says which namespace to resume in, and carries
// that namespace's own Kubernetes continue token.
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
    if (typeof p.ns !== 'string' || (p.c !== undefined && typeof p.c !== 'string')) throw new Error('shape');
    return p;
  } catch {
    throw new ApiError('BAD_REQUEST', 'the continue token is malformed; restart the listing without it');
  }
}

export async function partitionedList(service: ResourceService, req: OperationRequest<ListArgs, CallerContext>, namespaces: readonly string[]): Promise<KubeList> {
  const sorted = [...namespaces].sort();
  const a = req.args;
  const limit = a.limit && a.limit > 0 ? a.limit : undefined;
  const from = a.continue ? decodePosition(a.continue) : undefined;
  const items: KubeList['items'][number][] = [];
  let resourceVersion: string | undefined;
  let next: Position | undefined;
  const todo = from ? sorted.filter((ns) => ns >= from.ns) : sorted;
  for (let i = 0; i < todo.length; i++) {
    const ns = todo[i]!;
    const remaining = limit === undefined ? undefined : limit - items.length;
    const page = await service.list({
      ...req,
      namespace: ns,
      args: { ...a, limit: remaining, continue: from && ns === from.ns ? from.c : undefined },
    });
    items.push(...page.items);
    resourceVersion ??= page.metadata?.resourceVersion;
    if (page.metadata?.continue) {
      next = { ns, c: page.metadata.continue };
      break;
    }
    if (limit !== undefined && items.length >= limit) {
      if (i + 1 < todo.length) next = { ns: todo[i + 1]! };
      break;
    }
  }
  const metadata: { resourceVersion?: string; continue?: string } = {};
  if (resourceVersion !== undefined) metadata.resourceVersion = resourceVersion;
  if (next) metadata.continue = encodePosition(next);
  return { metadata, items };
}
