// The REST facade: Kubernetes-shaped paths under /rest, Kubernetes JSON in and out (YAML on
// request), the Kubernetes patch content types, `?watch=true` as Server-Sent Events from the shared
// watch hub, and RFC 9457 problem+json errors from the same catalog as GraphQL. Every call goes
// through the same operations, as the same caller, as the GraphQL API.
import express, { type NextFunction, type Request, type Response } from 'express';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { ApiError, fromKubeError, httpHeadersOf, toProblem } from '../api-errors.ts';
import type { Caller } from '../auth/authenticate.ts';
import type { FieldValidation, KubeObject, ListArgs, OperationRequest, PatchContentType, ResourceOperations } from '../contract/operations.ts';
import { parseOrderBy, parseOrderByText, parseWhere, QueryInputError } from '../model/query-filter.ts';
import { parseKubernetesJson } from '../kube/kube-client.ts';
import type { ResourceModel, VersionModel } from '../model/resource-model.ts';
import type { CallerContext } from '../contract/caller-context.ts';
import { clientGone, reportInternal, requestIdOf } from './create-app.ts';
import { stringifyKubernetesJson } from '../kube/kubernetes-json.ts';

export interface RestRouterOptions {
  operations: ResourceOperations<CallerContext>;
  /** The resources currently served. */
  resources: () => readonly ResourceModel[];
  /** With tenants: verifies the bearer token; absent: callers act as the gateway. */
  authenticate?: (authorization: string | undefined) => Promise<Caller>;
  bodyLimit?: string;
  /** Interval of SSE keep-alive comments. */
  heartbeatMs?: number;
}

const patchTypes: Record<string, PatchContentType> = {
  'application/merge-patch+json': 'application/merge-patch+json',
  'application/json-patch+json': 'application/json-patch+json',
  'application/apply-patch+yaml': 'application/apply-patch+yaml',
  'application/strategic-merge-patch+json': 'application/strategic-merge-patch+json',
};

type Sub = 'status' | 'scale' | undefined;

interface Target {
  resource: ResourceModel;
  version: VersionModel;
  namespace?: string;
  name?: string;
  sub: Sub;
}

export function restRouter(opts: RestRouterOptions): express.Router {
  const router = express.Router();
  const ops = opts.operations;
  // Bodies are read raw and parsed by content type here, so a patch body is never mistaken for
  // JSON of another kind and YAML works where Kubernetes accepts it.
  router.use(express.raw({ type: () => true, limit: opts.bodyLimit ?? '3mb' }));

  router.use(async (req: Request, res: Response, next: NextFunction) => {
    if (!opts.authenticate) return next();
    try {
      res.locals.caller = await opts.authenticate(req.get('authorization'));
      next();
    } catch (err) {
      sendProblem(req, res, err);
    }
  });

  const handle = (fn: (req: Request, res: Response, t: Target) => Promise<void>) => async (req: Request, res: Response) => {
    try {
      const t = target(req, opts.resources());
      await fn(req, res, t);
    } catch (err) {
      sendProblem(req, res, err);
    }
  };

  const context = (req: Request, res: Response): CallerContext => {
    const caller = res.locals.caller as Caller | undefined;
    const base: CallerContext = { signal: clientGone(req, res), requestId: requestIdOf(req) };
    if (!caller) return base;
    const ctx: CallerContext = { ...base, identity: caller.identity, tenant: caller.tenant, expiresAt: caller.expiresAt };
    if (caller.revalidate) Object.assign(ctx, { revalidate: caller.revalidate, revalidateEveryMs: caller.revalidateEveryMs });
    return ctx;
  };

  const request = <A>(req: Request, res: Response, t: Target, args: A): OperationRequest<A, CallerContext> => {
    const r: { -readonly [K in keyof OperationRequest<A, CallerContext>]: OperationRequest<A, CallerContext>[K] } = {
      resource: t.resource, version: t.version, args, context: context(req, res),
    };
    if (t.namespace !== undefined) r.namespace = t.namespace;
    if (t.name !== undefined) r.name = t.name;
    return r;
  };

  const collection = ['/:group/:version/namespaces/:namespace/:plural', '/:group/:version/:plural'];
  const item = ['/:group/:version/namespaces/:namespace/:plural/:name', '/:group/:version/:plural/:name'];
  const subresource = ['/:group/:version/namespaces/:namespace/:plural/:name/:sub', '/:group/:version/:plural/:name/:sub'];

  router.get(collection, handle(async (req, res, t) => {
    const query = queryArgs(req, t.version);
    if (isTrue(req.query.watch)) {
      if (query.where || query.orderBy || query.consistency) throw new ApiError('BAD_REQUEST', 'where, orderBy and consistency apply to lists, not to watches', { reason: 'InvalidQuery' });
      return watch(req, res, t);
    }
    const list = await ops.list(request(req, res, t, {
      labelSelector: str(req.query.labelSelector), fieldSelector: str(req.query.fieldSelector), limit: int(req.query.limit, 'limit'),
      continue: str(req.query.continue), resourceVersion: str(req.query.resourceVersion),
      resourceVersionMatch: enumOf(req.query.resourceVersionMatch, ['NotOlderThan', 'Exact'], 'resourceVersionMatch'),
      ...query,
    }));
    send(req, res, 200, {
      apiVersion: `${t.resource.group}/${t.version.name}`,
      kind: t.resource.listKind,
      metadata: list.metadata ?? {},
      items: list.items,
    });
  }));

  router.post(collection, handle(async (req, res, t) => {
    const body = objectBody(req);
    const created = await ops.create(request(req, res, t, { body: stamp(body, t), ...writeArgs(req) }));
    send(req, res, 201, created);
  }));

  router.delete(collection, handle(async (req, res, t) => {
    const result = await ops.deleteCollection(request(req, res, t, {
      labelSelector: str(req.query.labelSelector), fieldSelector: str(req.query.fieldSelector), ...deleteArgs(req),
    }));
    send(req, res, 200, result);
  }));

  router.get(item, handle(async (req, res, t) => {
    const obj = await ops.get(request(req, res, t, {} as Record<string, never>));
    if (!obj) throw new ApiError('NOT_FOUND', `${t.resource.plural}.${t.resource.group} "${t.name}" not found`, { reason: 'NotFound', name: t.name, group: t.resource.group, kind: t.resource.plural });
    send(req, res, 200, obj);
  }));

  router.put(item, handle(async (req, res, t) => {
    send(req, res, 200, await ops.replace(request(req, res, t, { body: stamp(objectBody(req), t), ...writeArgs(req) })));
  }));

  router.patch(item, handle(async (req, res, t) => {
    const patchType = patchTypeOf(req);
    const patch = patchType === 'application/json-patch+json' ? jsonPatchBody(req) : objectBody(req);
    send(req, res, 200, await ops.patch(request(req, res, t, {
      patchType, patch, ...writeArgs(req), force: bool(req.query.force),
    })));
  }));

  router.delete(item, handle(async (req, res, t) => {
    send(req, res, 200, await ops.delete(request(req, res, t, deleteArgs(req))));
  }));

  router.get(subresource, handle(async (req, res, t) => {
    if (t.sub === 'scale') return send(req, res, 200, await ops.getScale(request(req, res, t, {} as Record<string, never>)));
    const obj = await ops.get(request(req, res, t, {} as Record<string, never>));
    if (!obj) throw new ApiError('NOT_FOUND', `${t.resource.plural}.${t.resource.group} "${t.name}" not found`, { reason: 'NotFound' });
    send(req, res, 200, obj);
  }));

  router.put(subresource, handle(async (req, res, t) => {
    const body = objectBody(req);
    if (t.sub === 'scale') return send(req, res, 200, await ops.updateScale(request(req, res, t, { body, dryRun: dryRun(req) })));
    send(req, res, 200, await ops.updateStatus(request(req, res, t, { body: stamp(body, t), ...writeArgs(req) })));
  }));

  router.patch(subresource, handle(async () => {
    throw new ApiError('METHOD_NOT_ALLOWED', 'PATCH on /status and /scale is not offered by the facade: use PUT with the whole status or Scale');
  }));

  async function watch(req: Request, res: Response, t: Target): Promise<void> {
    // Last-Event-ID is the SSE way to resume: each event's id is its resourceVersion.
    const resume = str(req.query.resourceVersion) ?? (req.get('last-event-id') || undefined);
    const sendInitialEvents = isTrue(req.query.sendInitialEvents);
    const bookmarks = bool(req.query.allowWatchBookmarks) ?? true;
    const timeoutSeconds = int(req.query.timeoutSeconds, 'timeoutSeconds');
    if (sendInitialEvents && !bookmarks) {
      // Kubernetes' own answer: the end of the initial state is itself a bookmark.
      throw new ApiError('INVALID', 'allowWatchBookmarks: Required value: allowWatchBookmarks required when sendInitialEvents is true', {
        reason: 'Invalid', causes: [{ type: 'FieldValueRequired', field: 'allowWatchBookmarks', message: 'Required value: allowWatchBookmarks required when sendInitialEvents is true' }],
      });
    }
    // The stream ends when the client goes away or timeoutSeconds elapse; both end the hub
    // subscription through its signal, which also settles a pending next().
    const ended = new AbortController();
    const base = context(req, res);
    const signals = [ended.signal, ...(base.signal ? [base.signal] : [])];
    const ctx: CallerContext = { ...base, signal: AbortSignal.any(signals) };
    const timer = timeoutSeconds !== undefined ? setTimeout(() => ended.abort(), timeoutSeconds * 1000) : undefined;
    const watchRequest = request(req, res, t, {
      labelSelector: str(req.query.labelSelector), fieldSelector: str(req.query.fieldSelector),
      resourceVersion: resume, sendInitialEvents: sendInitialEvents || undefined,
      allowWatchBookmarks: bookmarks,
    });
    const it = (await ops.watch({ ...watchRequest, context: ctx }))[Symbol.asyncIterator]();
    res.status(200).set({
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      'X-Accel-Buffering': 'no',
    });
    res.flushHeaders();
    const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), opts.heartbeatMs ?? 15_000);
    const apiVersion = `${t.resource.group}/${t.version.name}`;
    // One event is always requested ahead: while the socket is full the hub's bounded queue
    // keeps filling, and a client that never drains it is failed (SLOW_CONSUMER) here.
    let next = it.next();
    try {
      for (;;) {
        const r = await next;
        if (r.done) break;
        const e = r.value;
        const meta = (e.object?.metadata ?? {}) as { resourceVersion?: string; annotations?: Record<string, string> };
        const rv = e.resourceVersion ?? meta.resourceVersion ?? '';
        const initialEnd = e.type === 'BOOKMARK' && meta.annotations?.['k8s.io/initial-events-end'] === 'true';
        next = it.next();
        if (e.type === 'BOOKMARK' && !bookmarks) continue;
        const event = initialEnd ? 'INITIAL_STATE_DONE' : e.type;
        // A bookmark's object is its kind with only metadata, as Kubernetes sends it.
        const object = e.type === 'BOOKMARK' ? { apiVersion, kind: t.resource.kind, metadata: { ...meta, resourceVersion: rv } } : e.object;
        const ok = res.write(`id: ${rv}\nevent: ${event}\ndata: ${stringifyKubernetesJson({ type: e.type, object })}\n\n`);
        if (!ok) {
          const failed = await new Promise<boolean>((resolve) => {
            const finish = (result: boolean) => {
              res.off('drain', drained);
              res.off('close', drained);
              resolve(result);
            };
            const drained = () => finish(false);
            res.on('drain', drained);
            res.on('close', drained);
            next.then(undefined, () => finish(true));
          });
          if (failed) {
            // The client stopped reading: nothing more can reach it, so cut the connection.
            res.destroy();
            break;
          }
        }
        if (res.destroyed) break;
      }
    } catch (err) {
      const e = err instanceof ApiError ? err : fromKubeError(err);
      reportInternal(req, e);
      if (!res.destroyed) res.write(`event: ERROR\ndata: ${JSON.stringify({ type: 'ERROR', object: toProblem(e, req.originalUrl) })}\n\n`);
    } finally {
      clearTimeout(timer);
      clearInterval(heartbeat);
      ended.abort();
      next.catch(() => {});
      await it.return?.();
      res.end();
    }
  }

  return router;
}

function target(req: Request, resources: readonly ResourceModel[]): Target {
  const { group, version, plural, namespace, name, sub } = req.params as Record<string, string | undefined>;
  const resource = resources.find((r) => r.group === group && r.plural === plural);
  if (!resource) throw new ApiError('NOT_FOUND', `the server could not find the requested resource: ${plural}.${group}`, { reason: 'NotFound' });
  const v = resource.versions.find((x) => x.name === version && x.served);
  if (!v) throw new ApiError('NOT_FOUND', `${plural}.${group} has no served version ${version}`, { reason: 'NotFound' });
  if (namespace !== undefined && resource.scope === 'Cluster') {
    throw new ApiError('NOT_FOUND', `${plural}.${group} is cluster-scoped: use /rest/${group}/${version}/${plural}`, { reason: 'NotFound' });
  }
  if (sub !== undefined && sub !== 'status' && sub !== 'scale') throw new ApiError('NOT_FOUND', `unknown subresource "${sub}"`, { reason: 'NotFound' });
  if (sub === 'status' && !v.subresources.status) throw new ApiError('NOT_FOUND', `${plural}.${group} ${version} has no status subresource`, { reason: 'NotFound' });
  if (sub === 'scale' && !v.subresources.scale) throw new ApiError('NOT_FOUND', `${plural}.${group} ${version} has no scale subresource`, { reason: 'NotFound' });
  if (resource.scope === 'Namespaced' && name !== undefined && namespace === undefined) {
    throw new ApiError('NOT_FOUND', `${plural}.${group} is namespaced: use /rest/${group}/${version}/namespaces/{namespace}/${plural}/${name}`, { reason: 'NotFound' });
  }
  const t: Target = { resource, version: v, sub: sub as Sub };
  if (namespace !== undefined) t.namespace = namespace;
  if (name !== undefined) t.name = name;
  return t;
}

/** ?where= (JSON, Kubernetes property names, integers kept exact), ?orderBy= and ?consistency=. */
function queryArgs(req: Request, version: VersionModel): Pick<ListArgs, 'where' | 'orderBy' | 'consistency'> {
  const out: { -readonly [K in 'where' | 'orderBy' | 'consistency']?: ListArgs[K] } = {};
  const where = str(req.query.where);
  const orderBy = str(req.query.orderBy);
  const consistency = enumOf(req.query.consistency, ['CACHED', 'STRONG'], 'consistency');
  try {
    if (where !== undefined) out.where = parseWhere(jsonParameter(where, 'where'), version, 'kubernetes');
    if (orderBy !== undefined) {
      out.orderBy = orderBy.trimStart().startsWith('[') ? parseOrderBy(jsonParameter(orderBy, 'orderBy'), version) : parseOrderByText(orderBy, version);
    }
  } catch (err) {
    if (err instanceof QueryInputError) throw new ApiError('BAD_REQUEST', err.message, { reason: 'InvalidQuery' });
    throw err;
  }
  if (consistency) out.consistency = consistency;
  return out;
}

function jsonParameter(text: string, name: string): unknown {
  try {
    return parseKubernetesJson(text);
  } catch (err) {
    throw new ApiError('BAD_REQUEST', `${name} is not valid JSON: ${(err as Error).message}`, { reason: 'InvalidQuery' });
  }
}

/** apiVersion and kind come from the path; a body that says otherwise is refused. */
function stamp(body: KubeObject, t: Target): KubeObject {
  const apiVersion = `${t.resource.group}/${t.version.name}`;
  if (body.apiVersion !== undefined && body.apiVersion !== apiVersion) {
    throw new ApiError('BAD_REQUEST', `apiVersion "${String(body.apiVersion)}" does not match the path (${apiVersion})`);
  }
  if (body.kind !== undefined && body.kind !== t.resource.kind) {
    throw new ApiError('BAD_REQUEST', `kind "${String(body.kind)}" does not match the path (${t.resource.kind})`);
  }
  return { ...body, apiVersion, kind: t.resource.kind };
}

function rawText(req: Request): string {
  const b = req.body as Buffer | undefined;
  if (!b || !Buffer.isBuffer(b) || b.length === 0) throw new ApiError('BAD_REQUEST', 'a request body is required');
  return b.toString('utf8');
}

function parseBody(req: Request): unknown {
  const text = rawText(req);
  const type = (req.get('content-type') ?? 'application/json').split(';')[0]!.trim().toLowerCase();
  if (type.endsWith('yaml')) {
    try {
      return parseYaml(text);
    } catch (err) {
      throw new ApiError('BAD_REQUEST', `the body is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  if (!type.endsWith('json')) {
    throw new ApiError('UNSUPPORTED_MEDIA_TYPE', `Content-Type ${type} is not supported; send application/json or application/yaml`, { reason: 'UnsupportedMediaType' });
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ApiError('BAD_REQUEST', `the body is not valid JSON: ${(err as Error).message}`);
  }
}

function objectBody(req: Request): KubeObject {
  const body = parseBody(req);
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new ApiError('BAD_REQUEST', 'the body must be a JSON object');
  return body as KubeObject;
}

function jsonPatchBody(req: Request): { op: 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test'; path: string; value?: unknown; from?: string }[] {
  const body = parseBody(req);
  if (!Array.isArray(body)) throw new ApiError('BAD_REQUEST', 'a JSON patch (RFC 6902) is a list of operations');
  for (const [i, op] of body.entries()) {
    if (!op || typeof op !== 'object' || typeof op.op !== 'string' || typeof op.path !== 'string') {
      throw new ApiError('BAD_REQUEST', `JSON patch operation ${i} needs "op" and "path"`);
    }
  }
  return body;
}

function patchTypeOf(req: Request): PatchContentType {
  const type = (req.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  const t = patchTypes[type];
  if (!t) {
    throw new ApiError('UNSUPPORTED_MEDIA_TYPE',
      `the body of a PATCH must be application/merge-patch+json, application/json-patch+json or application/apply-patch+yaml, not "${type || 'none'}"`,
      { reason: 'UnsupportedMediaType' });
  }
  return t;
}

function writeArgs(req: Request): { dryRun?: 'All'; fieldManager?: string; fieldValidation?: FieldValidation } {
  const out: { dryRun?: 'All'; fieldManager?: string; fieldValidation?: FieldValidation } = {};
  const d = dryRun(req);
  if (d) out.dryRun = d;
  const fm = str(req.query.fieldManager);
  if (fm) out.fieldManager = fm;
  const fv = enumOf(req.query.fieldValidation, ['Ignore', 'Warn', 'Strict'], 'fieldValidation');
  if (fv) out.fieldValidation = fv;
  return out;
}

function dryRun(req: Request): 'All' | undefined {
  const v = str(req.query.dryRun);
  if (v === undefined) return undefined;
  if (v !== 'All') throw new ApiError('BAD_REQUEST', `dryRun must be "All", not "${v}"`);
  return 'All';
}

function deleteArgs(req: Request) {
  const out: { dryRun?: 'All'; propagationPolicy?: 'Orphan' | 'Background' | 'Foreground'; gracePeriodSeconds?: number; preconditions?: { uid?: string; resourceVersion?: string } } = {};
  const d = dryRun(req);
  if (d) out.dryRun = d;
  const pp = enumOf(req.query.propagationPolicy, ['Orphan', 'Background', 'Foreground'], 'propagationPolicy');
  if (pp) out.propagationPolicy = pp;
  const g = int(req.query.gracePeriodSeconds, 'gracePeriodSeconds');
  if (g !== undefined) out.gracePeriodSeconds = g;
  // A DeleteOptions body may carry preconditions, as with kubectl.
  const b = req.body as Buffer | undefined;
  if (b && Buffer.isBuffer(b) && b.length) {
    const opts = objectBody(req) as { preconditions?: { uid?: string; resourceVersion?: string }; propagationPolicy?: string };
    if (opts.preconditions) out.preconditions = opts.preconditions;
    if (!out.propagationPolicy && opts.propagationPolicy) out.propagationPolicy = enumOf(opts.propagationPolicy, ['Orphan', 'Background', 'Foreground'], 'propagationPolicy');
  }
  return out;
}

function str(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new ApiError('BAD_REQUEST', 'a query parameter was given more than once');
  return v === '' ? undefined : v;
}

function int(v: unknown, name: string): number | undefined {
  const s = str(v);
  if (s === undefined) return undefined;
  if (!/^\d+$/.test(s)) throw new ApiError('BAD_REQUEST', `${name} must be a whole number, not "${s}"`);
  return Number(s);
}

function bool(v: unknown): boolean | undefined {
  const s = str(v);
  if (s === undefined) return undefined;
  if (s === 'true' || s === '1') return true;
  if (s === 'false' || s === '0') return false;
  throw new ApiError('BAD_REQUEST', `expected true or false, not "${s}"`);
}

function isTrue(v: unknown): boolean {
  return bool(v) === true;
}

function enumOf<T extends string>(v: unknown, allowed: readonly T[], name: string): T | undefined {
  const s = str(v);
  if (s === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(s)) throw new ApiError('BAD_REQUEST', `${name} must be one of ${allowed.join(', ')}, not "${s}"`);
  return s as T;
}

/** JSON, or YAML when the client asks for it. */
function send(req: Request, res: Response, status: number, body: unknown): void {
  const wantsYaml = req.accepts(['application/json', 'application/yaml', 'text/yaml']) !== 'application/json' && /yaml/.test(req.get('accept') ?? '');
  if (wantsYaml) {
    res.status(status).type('application/yaml').send(stringifyYaml(body, { aliasDuplicateObjects: false }));
    return;
  }
  res.status(status).type('application/json').send(stringifyKubernetesJson(body));
}

export function sendProblem(req: Request, res: Response, err: unknown): void {
  const e = err instanceof ApiError ? err : fromKubeError(err);
  reportInternal(req, e);
  if (res.headersSent) {
    res.end();
    return;
  }
  res.set(httpHeadersOf(e));
  res.status(e.httpStatus).type('application/problem+json').send(JSON.stringify(toProblem(e, req.originalUrl)));
}
