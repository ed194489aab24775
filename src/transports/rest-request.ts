// A REST request of the facade read into operation arguments: the resource version the path
// names, the body by its content type (JSON, YAML, the patch types), and the query parameters
// (Kubernetes' own, and where/orderBy/consistency), each checked, so bad input is a clear
// BAD_REQUEST and never reaches Kubernetes half-read.
import type { Request } from 'express';
import { ApiError } from '../api-errors.ts';
import type { DeleteArgs, FieldValidation, JsonPatchOperation, KubeObject, ListArgs, PatchContentType } from '../contract/operations.ts';
import { exactInteger, parseJson, parseYaml, stringifyJson } from '../kube/lossless-json.ts';
import { jsonPatchProblem } from '../model/json-patch.ts';
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

const INT32_MAX = 2 ** 31 - 1;

/**
 * A Scale body, its spec.replicas checked: Kubernetes reads a replicas beyond 32 bits as "no kind
 * is registered for the type v1.Scale", naming neither the field nor the value.
 */
export function scaleBody(req: Request): KubeObject {
  const body = objectBody(req);
  const replicas = (body.spec as { replicas?: unknown } | undefined)?.replicas;
  if (replicas !== undefined && replicas !== null && !(Number.isInteger(replicas) && Math.abs(replicas as number) <= INT32_MAX)) {
    throw new ApiError('BAD_REQUEST', `spec.replicas of a Scale must be a 32-bit integer, not ${stringifyJson(replicas)}`);
  }
  return body;
}

export function jsonPatchBody(req: Request): JsonPatchOperation[] {
  const body = parseBody(req);
  if (!Array.isArray(body)) throw new ApiError('BAD_REQUEST', 'a JSON patch (RFC 6902) is a list of operations');
  const malformed = jsonPatchProblem(body);
  if (malformed) throw new ApiError('BAD_REQUEST', `JSON patch operation ${malformed.at}: ${malformed.problem}`);
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

const PROPAGATION = ['Orphan', 'Background', 'Foreground'] as const;
type Propagation = (typeof PROPAGATION)[number];

/**
 * Delete options from the query and from a DeleteOptions body, which is where client-go (and so
 * kubectl) puts them. Every option the body holds is honoured or refused, never dropped: a dry
 * run asked for in the body that went unnoticed would delete for real. Kubernetes reads only the
 * body when there is one; the facade reads both, runs dry if either asks, and refuses an option
 * given twice with different values.
 */
export function deleteArgs(req: Request): DeleteArgs {
  const body = deleteOptionsBody(req);
  const out: { -readonly [K in keyof DeleteArgs]: DeleteArgs[K] } = {};
  if (dryRun(req) || body.dryRun) out.dryRun = 'All';
  const pp = agreed('propagationPolicy', enumOf(req.query.propagationPolicy, PROPAGATION, 'propagationPolicy'), body.propagationPolicy);
  if (pp) out.propagationPolicy = pp;
  const g = agreed('gracePeriodSeconds', int64Parameter(req.query.gracePeriodSeconds, 'gracePeriodSeconds'), body.gracePeriodSeconds);
  if (g !== undefined) out.gracePeriodSeconds = g;
  if (body.preconditions) out.preconditions = body.preconditions;
  return out;
}

function agreed<T extends string | number | bigint>(name: string, query: T | undefined, body: T | undefined): T | undefined {
  if (query !== undefined && body !== undefined && query != body) {
    throw new ApiError('BAD_REQUEST', `${name} is ${String(query)} in the query and ${String(body)} in the DeleteOptions body; give it once`);
  }
  return body ?? query;
}

interface BodyDeleteOptions {
  dryRun?: true;
  propagationPolicy?: Propagation;
  gracePeriodSeconds?: number | bigint;
  preconditions?: { uid?: string; resourceVersion?: string };
}

function deleteOptionsBody(req: Request): BodyDeleteOptions {
  const b = req.body as Buffer | undefined;
  if (!b || !Buffer.isBuffer(b) || !b.length) return {};
  const opts = objectBody(req) as Record<string, unknown>;
  const out: BodyDeleteOptions = {};
  if (opts.dryRun !== undefined && opts.dryRun !== null) {
    const list = opts.dryRun;
    if (!Array.isArray(list) || list.some((v) => v !== 'All')) throw new ApiError('BAD_REQUEST', `dryRun of DeleteOptions must be [] or ["All"], not ${stringifyJson(list)}`);
    if (list.length) out.dryRun = true;
  }
  const pp = deletePropagation(opts);
  if (pp) out.propagationPolicy = pp;
  if (opts.gracePeriodSeconds !== undefined && opts.gracePeriodSeconds !== null) out.gracePeriodSeconds = int64Of(opts.gracePeriodSeconds, 'gracePeriodSeconds');
  const pre = opts.preconditions as BodyDeleteOptions['preconditions'] | null | undefined;
  if (pre && (pre.uid || pre.resourceVersion)) out.preconditions = pre;
  return out;
}

/** propagationPolicy, or the older orphanDependents as Kubernetes reads it (true: Orphan, false: Background). */
function deletePropagation(opts: Record<string, unknown>): Propagation | undefined {
  const pp = opts.propagationPolicy === null ? undefined : enumOf(opts.propagationPolicy, PROPAGATION, 'propagationPolicy');
  const orphan = opts.orphanDependents;
  if (orphan === undefined || orphan === null) return pp;
  if (typeof orphan !== 'boolean') throw new ApiError('BAD_REQUEST', `orphanDependents must be true or false, not ${stringifyJson(orphan)}`);
  if (pp) throw new ApiError('BAD_REQUEST', 'orphanDependents and propagationPolicy cannot both be set; use propagationPolicy');
  return orphan ? 'Orphan' : 'Background';
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

function int64Of(v: unknown, name: string): number | bigint {
  const big = typeof v === 'bigint' ? v : typeof v === 'number' && Number.isSafeInteger(v) ? BigInt(v) : undefined;
  if (big === undefined || big < INT64_MIN || big > INT64_MAX) throw new ApiError('BAD_REQUEST', `${name} must be a 64-bit integer, not ${stringifyJson(v)}`);
  return exactInteger(big);
}

/** A whole-number query parameter with every digit (no rounding beyond 2^53). */
function int64Parameter(v: unknown, name: string): number | bigint | undefined {
  const s = str(v);
  if (s === undefined) return undefined;
  if (!/^\d+$/.test(s)) throw new ApiError('BAD_REQUEST', `${name} must be a whole number, not "${s}"`);
  return int64Of(BigInt(s), name);
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
  // Kubernetes takes an int64; beyond it, refuse with the digits as sent (Number would round them).
  if (s.length > 18 && BigInt(s) > INT64_MAX) throw new ApiError('BAD_REQUEST', `${name} must be a whole number of at most ${INT64_MAX}, not "${s}"`);
  return Number(s);
}

/**
 * The most objects one REST list answers: a larger limit gets this many and the continue token, as
 * Kubernetes itself may answer fewer objects than the limit. GraphQL lists are bounded by their cost.
 */
export const REST_MAX_PAGE = 1000;

/** A list's limit, at most REST_MAX_PAGE (0 is Kubernetes' "no limit", answered with the default page). */
export function pageLimit(v: unknown): number | undefined {
  const limit = int(v, 'limit');
  return limit === undefined ? undefined : Math.min(limit, REST_MAX_PAGE);
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
