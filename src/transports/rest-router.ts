// The REST facade: Kubernetes-shaped paths under /rest, Kubernetes JSON in and out (YAML on
// request), the Kubernetes patch content types, `?watch=true` as Server-Sent Events or Kubernetes'
// JSON watch stream from the shared watch hub (rest-watch.ts), and RFC 9457 problem+json errors
// from the same catalog as GraphQL.
// Every call goes through the same operations, as the same caller, as the GraphQL API.
import express, { type Request, type Response } from 'express';
import { ApiError, fromKubeError, httpHeadersOf, toProblem } from '../api-errors.ts';
import type { Caller } from '../auth/authenticate.ts';
import type { CallerContext } from '../contract/caller-context.ts';
import type { KubeObject, OperationRequest, PatchArgs, ResourceOperations } from '../contract/operations.ts';
import { stringifyJson, stringifyYaml } from '../kube/lossless-json.ts';
import type { ResourceModel } from '../model/resource-model.ts';
import { noteErrorCode } from '../plugins/request-outcome.ts';
import { apiGate, callerOf } from './api-gate.ts';
import { clientGone, reportInternal, requestIdOf } from './create-app.ts';
import {
  deleteArgs, dryRun, enumOf, isTrue, jsonPatchBody, pageLimit, objectBody, patchTypeOf, queryArgs, resourceOf, scaleBody, stamp, str, targetIn, unknownResource, writeArgs, bool, type Target,
} from './rest-request.ts';
import { restAnswerType, answerTypes, watchTypes } from './rest-answer-type.ts';
import { serveWatch } from './rest-watch.ts';

export interface RestRouterOptions {
  operations: ResourceOperations<CallerContext>;
  /** The resources currently served. */
  resources: () => readonly ResourceModel[];
  /** With tenants: verifies the bearer token; absent: callers act as the gateway. */
  authenticate?: (authorization: string | undefined) => Promise<Caller>;
  /** Admission of each request by the budgets, under the caller's tenant (see api-gate.ts). */
  admit?: (tenant: string) => void | Promise<void>;
  /**
   * With tenants: whether the caller may use the resource (the same rule as its GraphQL schema and
   * OpenAPI document). One it may not use is answered as one that does not exist, before anything
   * else about it (versions, scope, subresources, fields) is read.
   */
  mayUse?: (caller: Caller, resource: ResourceModel, signal?: AbortSignal) => Promise<boolean>;
  bodyLimit?: string;
  /** Interval of watch keep-alives. */
  heartbeatMs?: number;
}

/** What every route shares: the operations, and how a request becomes an operation request. */
interface Routes {
  readonly ops: ResourceOperations<CallerContext>;
  /** Runs a route for the resource version the path names; any failure is answered as a problem. */
  handle(fn: (req: Request, res: Response, t: Target) => Promise<void>): express.RequestHandler;
  request<A>(req: Request, res: Response, t: Target, args: A): OperationRequest<A, CallerContext>;
  context(req: Request, res: Response): CallerContext;
  readonly heartbeatMs: number;
}

const collection = ['/:group/:version/namespaces/:namespace/:plural', '/:group/:version/:plural'];
const item = ['/:group/:version/namespaces/:namespace/:plural/:name', '/:group/:version/:plural/:name'];
const subresource = ['/:group/:version/namespaces/:namespace/:plural/:name/:sub', '/:group/:version/:plural/:name/:sub'];

export function restRouter(opts: RestRouterOptions): express.Router {
  const router = express.Router();
  // Bodies are read raw and parsed by content type here, so a patch body is never mistaken for
  // JSON of another kind and YAML works where Kubernetes accepts it.
  router.use(express.raw({ type: () => true, limit: opts.bodyLimit ?? '3mb' }));
  router.use(apiGate({ authenticate: opts.authenticate, admit: opts.admit }, sendProblem));
  const routes = routeKit(opts);
  // Each shape's other methods right after its own: a PUT on a collection would otherwise match
  // the subresource pattern and be answered "not found" about a resource named after a namespace.
  collectionRoutes(router, routes);
  router.all(collection, notOffered(routes, collectionMethods));
  itemRoutes(router, routes);
  router.all(item, notOffered(routes, () => itemMethods));
  subresourceRoutes(router, routes);
  router.all(subresource, notOffered(routes, () => subresourceMethods));
  optionsRoutes(router, routes);
  return router;
}

/** The methods a path offers, as its OpenAPI operations list them (and HEAD with GET). */
const collectionMethods = (t: Target) => (t.resource.scope === 'Namespaced' && t.namespace === undefined ? 'GET, HEAD' : 'GET, HEAD, POST, DELETE');
const itemMethods = 'GET, HEAD, PUT, PATCH, DELETE';
const subresourceMethods = 'GET, HEAD, PUT, PATCH';
/** Warning headers one answer passes on at most. */
const maxWarnings = 10;

/** Writes to a namespaced resource's list across all namespaces: 405, as its methods say. */
function refuseAcrossNamespaces(req: Request, res: Response, t: Target): void {
  const methods = collectionMethods(t);
  if (methods.includes(req.method)) return;
  res.set('Allow', methods);
  throw new ApiError('METHOD_NOT_ALLOWED', `${req.method} is not offered across all namespaces; name the namespace in the path`, { reason: 'MethodNotAllowed' });
}

/** Any other method on a path of a shape: 405 with the methods it offers, once its resource is known (else 404). */
function notOffered({ handle }: Routes, methods: (t: Target) => string): express.RequestHandler {
  const refuse = handle(async (req, res, t) => {
    res.set('Allow', methods(t));
    throw new ApiError('METHOD_NOT_ALLOWED', `${req.method} is not offered on this path; it offers ${methods(t)}`, { reason: 'MethodNotAllowed' });
  });
  return (req, res, next) => (req.method === 'OPTIONS' ? next() : refuse(req, res, next));
}

function routeKit(opts: RestRouterOptions): Routes {
  const context = (req: Request, res: Response): CallerContext => {
    const caller = callerOf(res);
    // The apiserver's warnings (a deprecated version, unknown fields it dropped) reach the client as
    // kubectl shows them: Warning headers of the answer.
    // Each once (a list across 200 namespaces makes 200 calls that each warn), and at most 10:
    // proxies refuse answers whose headers outgrow their buffers.
    let warned: Set<string> | undefined;
    const onWarning = (w: string) => {
      if (res.headersSent || warned?.has(w) || (warned?.size ?? 0) >= maxWarnings || w.length > 1024) return;
      (warned ??= new Set()).add(w);
      res.append('Warning', w);
    };
    const base: CallerContext = { signal: clientGone(req, res), requestId: requestIdOf(req), onWarning };
    if (!caller) return base;
    const ctx: CallerContext = { ...base, identity: caller.identity, tenant: caller.tenant, expiresAt: caller.expiresAt };
    if (caller.fieldManager) ctx.fieldManager = caller.fieldManager;
    if (caller.revalidate) Object.assign(ctx, { revalidate: caller.revalidate, revalidateEveryMs: caller.revalidateEveryMs });
    return ctx;
  };
  const targetFor = async (req: Request, res: Response): Promise<Target> => {
    const resource = resourceOf(req, opts.resources());
    const caller = callerOf(res);
    if (caller && opts.mayUse && !(await opts.mayUse(caller, resource, clientGone(req, res)))) throw unknownResource(req);
    return targetIn(req, resource);
  };
  return {
    ops: opts.operations,
    heartbeatMs: opts.heartbeatMs ?? 15_000,
    context,
    handle: (fn) => async (req, res) => {
      try {
        refuseUnacceptable(req);
        refuseRepeatedParameters(req);
        await fn(req, res, await targetFor(req, res));
      } catch (err) {
        sendProblem(req, res, err);
      }
    },
    request: (req, res, t, args) => ({
      resource: t.resource, version: t.version, args, context: context(req, res),
      ...(t.namespace !== undefined ? { namespace: t.namespace } : {}),
      ...(t.name !== undefined ? { name: t.name } : {}),
    }),
  };
}

function collectionRoutes(router: express.Router, { ops, handle, request, context, heartbeatMs }: Routes): void {
  router.get(collection, handle(async (req, res, t) => {
    const query = queryArgs(req, t.version);
    if (isTrue(req.query.watch)) {
      if (query.where || query.orderBy || query.consistency) throw new ApiError('BAD_REQUEST', 'where, orderBy and consistency apply to lists, not to watches', { reason: 'InvalidQuery' });
      const wire = answerOf(req, true) === 'application/json' ? 'json' : 'sse';
      return serveWatch(req, res, t, { watch: (r) => ops.watch(r), context: context(req, res), heartbeatMs, wire });
    }
    const list = await ops.list(request(req, res, t, {
      labelSelector: str(req.query.labelSelector), fieldSelector: str(req.query.fieldSelector), limit: pageLimit(req.query.limit),
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
    refuseAcrossNamespaces(req, res, t);
    const body = objectBody(req);
    const created = await ops.create(request(req, res, t, { body: stamp(body, t), ...writeArgs(req) }));
    send(req, res, 201, created);
  }));
  router.delete(collection, handle(async (req, res, t) => {
    refuseAcrossNamespaces(req, res, t);
    const result = await ops.deleteCollection(request(req, res, t, {
      labelSelector: str(req.query.labelSelector), fieldSelector: str(req.query.fieldSelector), ...deleteArgs(req),
    }));
    send(req, res, 200, result);
  }));
}

function itemRoutes(router: express.Router, { ops, handle, request }: Routes): void {
  router.get(item, handle(async (req, res, t) => {
    const obj = await ops.get(request(req, res, t, {} as Record<string, never>));
    if (!obj) throw new ApiError('NOT_FOUND', `${t.resource.plural}.${t.resource.group} "${t.name}" not found`, { reason: 'NotFound', name: t.name, group: t.resource.group, kind: t.resource.plural });
    send(req, res, 200, obj);
  }));
  router.put(item, handle(async (req, res, t) => {
    send(req, res, 200, await ops.replace(request(req, res, t, { body: stamp(objectBody(req), t), ...writeArgs(req) })));
  }));
  router.patch(item, handle(async (req, res, t) => {
    const r = request(req, res, t, patchArgs(req, t));
    // An apply that creates the object is answered 201 Created by Kubernetes; so is it here. The
    // context is this request's own (routeKit's context makes one per request): no copy for it.
    let created = false;
    r.context.onCreated = () => { created = true; };
    const patched = await ops.patch(r);
    send(req, res, created ? 201 : 200, patched);
  }));
  router.delete(item, handle(async (req, res, t) => {
    send(req, res, 200, await ops.delete(request(req, res, t, deleteArgs(req))));
  }));
}

/** A PATCH's arguments, of an object or of its subresource: its type, its body (an apply's checked), the write options and force. */
function patchArgs(req: Request, t: Target): PatchArgs {
  const patchType = patchTypeOf(req);
  const patch = patchType === 'application/json-patch+json' ? jsonPatchBody(req) : applyChecked(patchType, objectBody(req), t);
  return { patchType, patch, ...writeArgs(req), force: bool(req.query.force) };
}

/**
 * An apply names the object's apiVersion and kind, those of the path (Kubernetes refuses one that
 * names none, or another, rather than read it with another version's schema).
 */
function applyChecked(patchType: string, body: KubeObject, t: Target): KubeObject {
  if (patchType !== 'application/apply-patch+yaml') return body;
  if (t.sub === 'scale') {
    if (body.apiVersion !== 'autoscaling/v1' || body.kind !== 'Scale') throw new ApiError('BAD_REQUEST', 'an apply of the scale subresource is an autoscaling/v1 Scale', { reason: 'BadRequest' });
    return body;
  }
  if (body.apiVersion === undefined || body.kind === undefined) {
    throw new ApiError('BAD_REQUEST', `an apply names its object's apiVersion and kind (${t.resource.group}/${t.version.name}, ${t.resource.kind}), as Kubernetes requires`, { reason: 'BadRequest' });
  }
  return stamp(body, t);
}

function subresourceRoutes(router: express.Router, { ops, handle, request }: Routes): void {
  router.get(subresource, handle(async (req, res, t) => {
    if (t.sub === 'scale') return send(req, res, 200, await ops.getScale(request(req, res, t, {} as Record<string, never>)));
    const obj = await ops.get(request(req, res, t, {} as Record<string, never>));
    if (!obj) throw new ApiError('NOT_FOUND', `${t.resource.plural}.${t.resource.group} "${t.name}" not found`, { reason: 'NotFound' });
    send(req, res, 200, obj);
  }));
  router.put(subresource, handle(async (req, res, t) => {
    if (t.sub === 'scale') return send(req, res, 200, await ops.updateScale(request(req, res, t, { body: scaleBody(req), dryRun: dryRun(req) })));
    send(req, res, 200, await ops.updateStatus(request(req, res, t, { body: stamp(objectBody(req), t), ...writeArgs(req) })));
  }));
  // The patch types of the object, on its status or Scale: what kubectl scale, kubectl patch
  // --subresource and controllers use, with RBAC's patch on the subresource (not update).
  router.patch(subresource, handle(async (req, res, t) => {
    send(req, res, 200, await ops.patch(request(req, res, t, { ...patchArgs(req, t), subresource: t.sub! })));
  }));
}

/**
 * OPTIONS: 204 with the methods the path offers, as its OpenAPI operations list them (and HEAD
 * with GET). Express' own answer listed every method of a route pattern, for resources that do
 * not exist too (PATCH on /status, POST on a list across namespaces), with a body. A CORS
 * preflight of an allowed origin never gets here (cross-origin.ts answers it).
 */
function optionsRoutes(router: express.Router, { handle }: Routes): void {
  const allow = (res: Response, methods: string) => {
    res.set('Allow', methods).status(204).end();
  };
  router.options(collection, handle(async (_req, res, t) => allow(res, collectionMethods(t))));
  router.options(item, handle(async (_req, res) => allow(res, itemMethods)));
  router.options(subresource, handle(async (_req, res) => allow(res, subresourceMethods)));
}

/**
 * A request whose Accept allows nothing the facade writes (XML, Kubernetes' protobuf) is refused
 * before anything runs, as Kubernetes refuses it, instead of getting JSON it did not ask for.
 * Errors are problem documents (application/problem+json), which such a client gets regardless.
 */
function refuseUnacceptable(req: Request): void {
  if (req.method === 'OPTIONS') return;
  const watch = (req.method === 'GET' || req.method === 'HEAD') && isTrue(req.query['watch']);
  if (answerOf(req, watch) !== undefined) return;
  const offered = watch ? watchTypes : answerTypes;
  throw new ApiError('NOT_ACCEPTABLE', `the REST facade answers ${offered.join(' or ')}; the request accepts only ${JSON.stringify(req.get('accept')!.slice(0, 200))}`,
    { reason: 'NotAcceptable' });
}

/** Each query parameter once, as Kubernetes reads one value of each: a second is refused, named. */
function refuseRepeatedParameters(req: Request): void {
  for (const [name, value] of Object.entries(req.query)) {
    if (typeof value === 'string') continue;
    const hint = name === 'orderBy' ? ' (orderBy takes its fields comma-separated in one: orderBy=spec.a,-spec.b)' : '';
    throw new ApiError('BAD_REQUEST', `the query parameter ${JSON.stringify(name.slice(0, 100))} was given more than once${hint}`, { reason: 'BadRequest' });
  }
}

/** The type the request's Accept chooses among those the facade writes; undefined for none. */
function answerOf(req: Request, watch: boolean): string | undefined {
  return restAnswerType(req.get('accept'), watch);
}

/** JSON, or YAML when the client asks for it. */
function send(req: Request, res: Response, status: number, body: unknown): void {
  if (/yaml/.test(answerOf(req, false) ?? '')) {
    res.status(status).type('application/yaml').send(stringifyYaml(body));
    return;
  }
  res.status(status).type('application/json').send(stringifyJson(body));
}

export function sendProblem(req: Request, res: Response, err: unknown): void {
  const e = err instanceof ApiError ? err : fromKubeError(err);
  reportInternal(req, e);
  if (res.headersSent) {
    res.end();
    return;
  }
  res.set(httpHeadersOf(e));
  noteErrorCode(res, e.code);
  res.status(e.httpStatus).type('application/problem+json').send(JSON.stringify(toProblem(e, req.originalUrl)));
}
