// A REST request of the facade read into operation arguments: the resource version the path
// names, the body by its content type (JSON, YAML, the patch types), and the query parameters
// (Kubernetes' own, and where/orderBy/consistency), each checked, so bad input is a clear
// BAD_REQUEST and never reaches Kubernetes half-read.
import type { Request } from 'express';
import { ApiError } from '../api-errors.ts';
import type { DeleteArgs, FieldValidation, JsonPatchOperation, KubeObject, ListArgs, PatchContentType } from '../contract/operations.ts';
import { parseJson, parseYaml } from '../kube/lossless-json.ts';
import { namespaceNameProblem, objectNameProblem } from '../model/kubernetes-names.ts';
import { parseOrderBy, parseOrderByText, parseWhere, QueryInputError } from '../model/query-filter.ts';
import type { ResourceModel, VersionModel } from '../model/resource-model.ts';

const patchTypes: Record<string, PatchContentType> = {
  'application/merge-patch+json': 'application/merge-patch+json',
  'application/json-patch+json': 'application/json-patch+json',
  'application/apply-patch+yaml': 'application/apply-patch+yaml',
  'application/strategic-merge-patch+json': 'application/strategic-merge-patch+json',
};

export type Sub = 'status' | 'scale' | undefined;

/** What a path names: a served version of a resource, and the object or subresource in it. */
export interface Target {
  resource: ResourceModel;
  version: VersionModel;
  namespace?: string;
  name?: string;
  sub: Sub;
}

/** The resource the path names, or NOT_FOUND. */
export function resourceOf(req: Request, resources: readonly ResourceModel[]): ResourceModel {
  const { group, plural } = req.params as Record<string, string | undefined>;
  const resource = resources.find((r) => r.group === group && r.plural === plural);
  if (!resource) throw unknownResource(req);
  return resource;
}

/**
 * The answer for a resource that is not served, and, with tenants, for one the caller may not use:
 * the same words for both, so a caller cannot tell which resources exist beyond its own.
 */
export function unknownResource(req: Request): ApiError {
  const { group, plural } = req.params as Record<string, string | undefined>;
  return new ApiError('NOT_FOUND', `the server could not find the requested resource: ${plural}.${group}`, { reason: 'NotFound' });
}

/** The version, namespace, object and subresource the path names in a resource the caller may use. */
export function targetIn(req: Request, resource: ResourceModel): Target {
  const { group, version, plural, namespace, name, sub } = req.params as Record<string, string | undefined>;
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
  for (const problem of [namespace === undefined ? undefined : namespaceNameProblem(namespace), name === undefined ? undefined : objectNameProblem(name)]) {
    if (problem) throw new ApiError('BAD_REQUEST', problem, { reason: 'BadRequest' });
  }
  if (namespace !== undefined) t.namespace = namespace;
  if (name !== undefined) t.name = name;
  return t;
}

/** apiVersion and kind come from the path; a body that says otherwise is refused. */
export function stamp(body: KubeObject, t: Target): KubeObject {
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
    return parseJson(text);
  } catch (err) {
    throw new ApiError('BAD_REQUEST', `the body is not valid JSON: ${(err as Error).message}`);
  }
}

export function objectBody(req: Request): KubeObject {
  const body = parseBody(req);
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new ApiError('BAD_REQUEST', 'the body must be a JSON object');
  return body as KubeObject;
}

export function jsonPatchBody(req: Request): JsonPatchOperation[] {
  const body = parseBody(req);
  if (!Array.isArray(body)) throw new ApiError('BAD_REQUEST', 'a JSON patch (RFC 6902) is a list of operations');
  for (const [i, op] of body.entries()) {
    if (!op || typeof op !== 'object' || typeof op.op !== 'string' || typeof op.path !== 'string') {
      throw new ApiError('BAD_REQUEST', `JSON patch operation ${i} needs "op" and "path"`);
    }
  }
  return body;
}

export function patchTypeOf(req: Request): PatchContentType {
  const type = (req.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  const t = patchTypes[type];
  if (!t) {
    throw new ApiError('UNSUPPORTED_MEDIA_TYPE',
      `the body of a PATCH must be application/merge-patch+json, application/json-patch+json or application/apply-patch+yaml, not "${type || 'none'}"`,
      { reason: 'UnsupportedMediaType' });
  }
  return t;
}

export function writeArgs(req: Request): { dryRun?: 'All'; fieldManager?: string; fieldValidation?: FieldValidation } {
  const out: { dryRun?: 'All'; fieldManager?: string; fieldValidation?: FieldValidation } = {};
  const d = dryRun(req);
  if (d) out.dryRun = d;
  const fm = str(req.query.fieldManager);
  if (fm) out.fieldManager = fm;
  const fv = enumOf(req.query.fieldValidation, ['Ignore', 'Warn', 'Strict'], 'fieldValidation');
  if (fv) out.fieldValidation = fv;
  return out;
}

export function dryRun(req: Request): 'All' | undefined {
  const v = str(req.query.dryRun);
  if (v === undefined) return undefined;
  if (v !== 'All') throw new ApiError('BAD_REQUEST', `dryRun must be "All", not "${v}"`);
  return 'All';
}

export function deleteArgs(req: Request): DeleteArgs {
  const out: { -readonly [K in keyof DeleteArgs]: DeleteArgs[K] } = {};
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

export function str(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new ApiError('BAD_REQUEST', 'a query parameter was given more than once');
  return v === '' ? undefined : v;
}

export function int(v: unknown, name: string): number | undefined {
  const s = str(v);
  if (s === undefined) return undefined;
  if (!/^\d+$/.test(s)) throw new ApiError('BAD_REQUEST', `${name} must be a whole number, not "${s}"`);
  return Number(s);
}

export function bool(v: unknown): boolean | undefined {
  const s = str(v);
  if (s === undefined) return undefined;
  if (s === 'true' || s === '1') return true;
  if (s === 'false' || s === '0') return false;
  throw new ApiError('BAD_REQUEST', `expected true or false, not "${s}"`);
}

export function isTrue(v: unknown): boolean {
  return bool(v) === true;
}

export function enumOf<T extends string>(v: unknown, allowed: readonly T[], name: string): T | undefined {
  const s = str(v);
  if (s === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(s)) throw new ApiError('BAD_REQUEST', `${name} must be one of ${allowed.join(', ')}, not "${s}"`);
  return s as T;
}

/** ?where= (JSON, Kubernetes property names, integers kept exact), ?orderBy= and ?consistency=. */
export function queryArgs(req: Request, version: VersionModel): Pick<ListArgs, 'where' | 'orderBy' | 'consistency'> {
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
    return parseJson(text);
  } catch (err) {
    throw new ApiError('BAD_REQUEST', `${name} is not valid JSON: ${(err as Error).message}`, { reason: 'InvalidQuery' });
  }
}
