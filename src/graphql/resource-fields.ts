// Root fields (query, mutation, subscription) of one CRD: per served version, and once more
// without the version for the default version. Each resolver converts its arguments to
// Kubernetes JSON and makes exactly one call to the injected ResourceOperations.

import { ApiErrorCode } from '../api-errors.ts';
import { GraphQLBoolean, GraphQLError, GraphQLInt, GraphQLList, GraphQLNonNull, GraphQLString } from 'graphql';
import type { GraphQLFieldConfig, GraphQLFieldConfigArgumentMap } from 'graphql';
import type { ResourceModel, VersionModel } from '../model/resource-model.ts';
import { namespaceNameProblem, objectNameProblem } from '../model/kubernetes-names.ts';
import { toKubernetes, ValueConversionError, type WriteMode } from '../model/value-conversion.ts';
import { jsonPatchProblem } from '../model/json-patch.ts';
import { rootFieldNames } from '../model/graphql-type-names.ts';
import { feedIterable, mapFeed } from '../streams/feed.ts';
import { callerText } from '../kube/internal-addresses.ts';
import type { RootFieldNames } from '../model/graphql-type-names.ts';
import type {
  DeleteArgs,
  JsonPatchOperation,
  KubeList,
  KubeObject,
  KubeWatchEvent,
  OperationRequest,
  PatchContentType,
  ResourceOperations,
} from '../contract/operations.ts';
import { PATCH_CONTENT_TYPES } from '../contract/operations.ts';
import { namedResourceTypes, type RelationTypes } from './relation-types.ts';
import { buildVersionTypes } from './resource-types.ts';
import { buildQueryTypes, queryListArgs, type QueryTypes } from './query-input-types.ts';
import { ListConsistencyEnum } from './filter-types.ts';
import type { VersionTypes } from './resource-types.ts';
import { Int64Scalar } from './scalars.ts';
import {
  JsonPatchOperationInputType,
  PatchSubresourceEnum,
  PatchTypeEnum,
  PreconditionsInputType,
  PropagationPolicyEnum,
  ScaleType,
} from './shared-types.ts';

type Args = Record<string, unknown>;
type FieldMap = Record<string, GraphQLFieldConfig<unknown, unknown, Args>>;

export interface ResourceFields {
  readonly query: FieldMap;
  readonly mutation: FieldMap;
  readonly subscription: FieldMap;
  /** The versions that got types, with their types, in CRD order. */
  readonly versions: readonly { readonly version: VersionModel; readonly types: VersionTypes }[];
  readonly defaultVersion?: VersionModel;
}

/**
 * The version behind the version-less fields: the storage version when it is served,
 * otherwise the served version Kubernetes would prefer (GA > beta > alpha, then higher numbers).
 */
export function defaultVersionOf(resource: ResourceModel): VersionModel | undefined {
  const storage = resource.versions.find((v) => v.storage && v.served);
  if (storage) return storage;
  return [...resource.versions.filter((v) => v.served)].sort((a, b) => compareKubeVersions(b.name, a.name))[0];
}

/** Kubernetes version priority: v2 > v1 > v1beta2 > v1beta1 > v1alpha1 > anything else (by name). */
export function compareKubeVersions(a: string, b: string): number {
  const rank = (v: string): [number, number, number, string] => {
    const m = /^v([0-9]+)(?:(alpha|beta)([0-9]+))?$/.exec(v);
    if (!m) return [0, 0, 0, v];
    const stability = m[2] === undefined ? 3 : m[2] === 'beta' ? 2 : 1;
    return [1, stability, Number(m[1]) * 1e6 + Number(m[3] ?? 0), v];
  };
  const [ka, sa, na, va] = rank(a);
  const [kb, sb, nb, vb] = rank(b);
  if (ka !== kb) return ka - kb;
  if (sa !== sb) return sa - sb;
  if (na !== nb) return na - nb;
  // Unknown forms sort in reverse so that, like Kubernetes, "a" is preferred over "b".
  return va < vb ? 1 : va > vb ? -1 : 0;
}

/**
 * `trusted`: for a build whose schema graphql-js will not validate (assumeValid); enum values are
 * then defined when first read rather than at once (graphql-js checks their names as it defines them).
 */
export function buildResourceFields(resource: ResourceModel, operations: ResourceOperations, relations: RelationTypes, trusted = false): ResourceFields {
  const query: FieldMap = {};
  const mutation: FieldMap = {};
  const subscription: FieldMap = {};
  const versions: { version: VersionModel; types: VersionTypes }[] = [];
  const defaultVersion = defaultVersionOf(resource);
  for (const version of resource.versions) {
    if (!version.served) continue;
    const built = buildVersionTypes(resource, version, relations, trusted);
    const types = { ...built, query: buildQueryTypes(version, built, trusted) };
    versions.push({ version, types });
    const reason = version.deprecated
      ? (version.deprecationWarning ?? `${resource.group}/${version.name} ${resource.kind} is deprecated`)
      : undefined;
    const ctx = fieldContext(resource, version, types, operations, reason);
    addFields(rootFieldNames(resource, version.name), ctx, { query, mutation, subscription });
    if (version === defaultVersion) {
      // The same fields again under the version-less names: only their descriptions differ.
      addFields(rootFieldNames(resource, undefined), { ...ctx, label: labelOf(resource, version, true) }, { query, mutation, subscription });
    }
  }
  return { query, mutation, subscription, versions, ...(defaultVersion ? { defaultVersion } : {}) };
}

const str = { type: GraphQLString };
const requiredString = { type: new GraphQLNonNull(GraphQLString) };
const dryRunArg = {
  type: GraphQLBoolean,
  description: 'Validate and run admission, but persist nothing (Kubernetes dryRun=All).',
};
const fieldManagerArg = { type: GraphQLString, description: 'The manager name recorded in managedFields.' };
const selectorArgs: GraphQLFieldConfigArgumentMap = {
  labelSelector: { type: GraphQLString, description: 'Kubernetes label selector, e.g. "app=web,tier!=db".' },
  fieldSelector: {
    type: GraphQLString,
    description: 'Kubernetes field selector: metadata.name, metadata.namespace and the selectableFields of the CRD.',
  },
};

/** What every root field of one resource version shares: its target, its label, how it calls the operations. */
interface FieldContext {
  readonly resource: ResourceModel;
  readonly version: VersionModel;
  readonly types: VersionTypes & { readonly query: QueryTypes };
  readonly operations: ResourceOperations;
  readonly namespaced: boolean;
  readonly label: string;
  readonly deprecated: { deprecationReason?: string };
  /** name (and namespace): one object. */
  readonly target: GraphQLFieldConfigArgumentMap;
  /** An optional namespace: one namespace or all of them. */
  readonly scopeArg: GraphQLFieldConfigArgumentMap;
  /** A required namespace: a collection write names it. */
  readonly collectionScope: GraphQLFieldConfigArgumentMap;
  request<A>(args: Args, context: unknown, opArgs: A): OperationRequest<A>;
  body(input: unknown, args: Args, argName: string): KubeObject;
  /** Argument maps and wrapped types, made once for the version's fields and its default fields (see once). */
  readonly made: Record<string, unknown>;
}

/**
 * What the version's fields and the default version's (the same fields under other names) share,
 * made by the first of them: ~2,400 sets of root fields at 1,000 CRDs, each with ~11 argument maps.
 */
function once<T>(ctx: FieldContext, key: string, make: () => T): T {
  return (ctx.made[key] ??= make()) as T;
}

function labelOf(resource: ResourceModel, version: VersionModel, isDefault: boolean): string {
  return `${resource.kind} (${resource.group}/${version.name}${isDefault ? ', the default version' : ''})`;
}

/** The version's object type, non-null: what most mutations return. */
const nonNullObject = (ctx: FieldContext) => once(ctx, 'object!', () => new GraphQLNonNull(ctx.types.object));

function fieldContext(resource: ResourceModel, version: VersionModel, types: FieldContext['types'], operations: ResourceOperations,
  deprecationReason: string | undefined): FieldContext {
  const namespaced = resource.scope === 'Namespaced';
  return {
    resource,
    version,
    types,
    operations,
    namespaced,
    label: labelOf(resource, version, false),
    deprecated: deprecationReason !== undefined ? { deprecationReason } : {},
    target: namespaced ? { namespace: requiredString, name: requiredString } : { name: requiredString },
    scopeArg: namespaced ? { namespace: { type: GraphQLString, description: 'Omit to span all namespaces.' } } : {},
    collectionScope: namespaced ? { namespace: requiredString } : {},
    request: (args, context, opArgs) => ({
      resource,
      version,
      ...(typeof args['namespace'] === 'string' ? { namespace: checked(args['namespace'], namespaceNameProblem) } : {}),
      ...(typeof args['name'] === 'string' ? { name: checked(args['name'], objectNameProblem) } : {}),
      args: opArgs,
      context,
    }),
    body: (input, args, argName) => completeBody(convertInput(input, version, argName), resource, version, args),
    made: {},
  };
}

function addFields(names: RootFieldNames, ctx: FieldContext, into: { query: FieldMap; mutation: FieldMap; subscription: FieldMap }): void {
  into.query[names.get] = getField(ctx);
  into.query[names.list] = listField(ctx);
  into.mutation[names.create] = createField(ctx);
  into.mutation[names.replace] = replaceField(ctx);
  into.mutation[names.patch] = patchField(ctx);
  if (ctx.version.subresources.status) into.mutation[names.updateStatus] = updateStatusField(ctx);
  if (ctx.version.subresources.scale) {
    into.query[names.getScale] = getScaleField(ctx);
    into.mutation[names.scale] = scaleField(ctx);
  }
  into.mutation[names.delete] = deleteField(ctx);
  into.mutation[names.deleteCollection] = deleteCollectionField(ctx);
  into.subscription[names.watch] = watchField(ctx);
}

type Field = GraphQLFieldConfig<unknown, unknown, Args>;

function getField({ types, label, target, deprecated, operations, request }: FieldContext): Field {
  return {
    type: types.object,
    description: `One ${label} by name; null when it does not exist.`,
    args: target,
    ...deprecated,
    resolve: (_src, args, context) => operations.get(request(args, context, {})),
  };
}

function listField(ctx: FieldContext): Field {
  const { types, version, label, scopeArg, deprecated, operations, request } = ctx;
  return {
    type: once(ctx, 'connection!', () => new GraphQLNonNull(types.connection)),
    description: `List ${label} objects, one page at a time.`,
    args: once(ctx, 'list', () => ({
      ...scopeArg,
      ...selectorArgs,
      limit: { type: GraphQLInt, description: 'Page size (Kubernetes limit).' },
      continue: { type: GraphQLString, description: 'pageInfo.endCursor of the previous page (Kubernetes continue).' },
      first: { type: GraphQLInt, description: 'Relay name of limit.' },
      after: { type: GraphQLString, description: 'Relay name of continue.' },
      resourceVersion: {
        type: GraphQLString,
        description: 'Kubernetes resourceVersion semantics for list; from the cache (where, orderBy): an answer at least this recent.',
      },
      ...queryArgs(types.query),
    })),
    ...deprecated,
    resolve: async (_src, args, context) => {
      const limit = pickAlias(args, 'limit', 'first');
      const cont = pickAlias(args, 'continue', 'after');
      if (typeof limit === 'number' && limit < 0) throw badInput('limit/first must not be negative');
      const list = await operations.list(
        request(args, context, {
          ...optionalStrings(args, ['labelSelector', 'fieldSelector', 'resourceVersion']),
          ...(typeof limit === 'number' ? { limit } : {}),
          ...(typeof cont === 'string' ? { continue: cont } : {}),
          ...queryListArgs(args, version),
        }),
      );
      return toConnection(list, typeof cont === 'string');
    },
  };
}

function createField(ctx: FieldContext): Field {
  const { label, collectionScope, deprecated, operations, request, body } = ctx;
  return {
    type: nonNullObject(ctx),
    description: `Create a ${label}. apiVersion and kind may be omitted; metadata.namespace defaults to the namespace argument.`,
    args: once(ctx, 'create', () => ({ ...collectionScope, input: nonNullInput(ctx), dryRun: dryRunArg, fieldManager: fieldManagerArg })),
    ...deprecated,
    resolve: (_src, args, context) =>
      operations.create(request(args, context, { body: body(args['input'], args, 'input'), ...writeOptions(args) })),
  };
}

function replaceField(ctx: FieldContext): Field {
  const { label, deprecated, operations, request, body } = ctx;
  return {
    type: nonNullObject(ctx),
    description: `Replace a ${label} (PUT). Set metadata.resourceVersion to fail with a conflict if the object changed meanwhile.`,
    args: bodyArgs(ctx),
    ...deprecated,
    resolve: (_src, args, context) =>
      operations.replace(request(args, context, { body: body(args['input'], args, 'input'), ...writeOptions(args) })),
  };
}

function patchField(ctx: FieldContext): Field {
  const { resource, version, types, label, target, deprecated, operations, request } = ctx;
  return {
    type: nonNullObject(ctx),
    description: `Patch a ${label}: MERGE and APPLY take \`patch\`, JSON takes \`jsonPatch\`.`,
    args: once(ctx, 'patch', () => ({
      ...target,
      type: { type: new GraphQLNonNull(PatchTypeEnum) },
      patch: { type: types.input, description: 'For MERGE (explicit null deletes a field) and APPLY (the fields you own).' },
      jsonPatch: { type: new GraphQLList(new GraphQLNonNull(JsonPatchOperationInputType)), description: 'For JSON.' },
      fieldManager: { ...fieldManagerArg, description: 'Required for APPLY.' },
      force: { type: GraphQLBoolean, description: 'APPLY only: take ownership of conflicting fields.' },
      dryRun: dryRunArg,
      ...(version.subresources.status ? { subresource: { type: PatchSubresourceEnum, description: 'STATUS: patch the status subresource instead of the object.' } } : {}),
    })),
    ...deprecated,
    resolve: (_src, args, context) => operations.patch(request(args, context, patchArgs(args, resource, version))),
  };
}

function updateStatusField(ctx: FieldContext): Field {
  const { label, deprecated, operations, request, body } = ctx;
  return {
    type: nonNullObject(ctx),
    description: `Replace the status of a ${label} (PUT /status); only status changes are kept.`,
    args: bodyArgs(ctx),
    ...deprecated,
    resolve: (_src, args, context) =>
      operations.updateStatus(request(args, context, { body: body(args['input'], args, 'input'), ...writeOptions(args) })),
  };
}

function getScaleField({ label, target, deprecated, operations, request }: FieldContext): Field {
  return {
    type: ScaleType,
    description: `The scale subresource of a ${label}.`,
    args: target,
    ...deprecated,
    resolve: (_src, args, context) => operations.getScale(request(args, context, {})),
  };
}

function scaleField(ctx: FieldContext): Field {
  const { namespaced, label, target, deprecated, operations, request } = ctx;
  return {
    type: nonNullScale,
    description: `Set the replicas of a ${label} through its scale subresource.`,
    args: once(ctx, 'scale', () => ({
      ...target,
      replicas: { type: new GraphQLNonNull(GraphQLInt) },
      resourceVersion: { type: GraphQLString, description: 'Fail with a conflict unless the object still has this resourceVersion.' },
      dryRun: dryRunArg,
    })),
    ...deprecated,
    resolve: (_src, args, context) => {
      const metadata: Record<string, unknown> = { name: args['name'] };
      if (namespaced) metadata['namespace'] = args['namespace'];
      if (typeof args['resourceVersion'] === 'string') metadata['resourceVersion'] = args['resourceVersion'];
      const scaleBody = { apiVersion: 'autoscaling/v1', kind: 'Scale', metadata, spec: { replicas: args['replicas'] } };
      return operations.updateScale(request(args, context, { body: scaleBody, ...dryRunOf(args) }));
    },
  };
}

const nonNullScale = new GraphQLNonNull(ScaleType);

/** The version's input type, non-null: the body of a create, replace or status update. */
const nonNullInput = (ctx: FieldContext) => once(ctx, 'input!', () => ({ type: new GraphQLNonNull(ctx.types.input) }));

/** The arguments of a replace and of a status update: the object's name (and namespace) and its body. */
const bodyArgs = (ctx: FieldContext) => once(ctx, 'body', () => ({ ...ctx.target, input: nonNullInput(ctx), dryRun: dryRunArg, fieldManager: fieldManagerArg }));

const deleteOptionArgs: GraphQLFieldConfigArgumentMap = {
  propagationPolicy: { type: PropagationPolicyEnum },
  gracePeriodSeconds: { type: Int64Scalar, description: 'Seconds before the object is deleted; 0 deletes immediately.' },
  dryRun: dryRunArg,
};

function deleteField(ctx: FieldContext): Field {
  const { types, label, target, deprecated, operations, request } = ctx;
  return {
    type: once(ctx, 'deleteResult!', () => new GraphQLNonNull(types.deleteResult)),
    description: `Delete a ${label}.`,
    args: once(ctx, 'delete', () => ({ ...target, ...deleteOptionArgs, preconditions: { type: PreconditionsInputType } })),
    ...deprecated,
    resolve: async (_src, args, context) => {
      const result = await operations.delete(request(args, context, deleteArgs(args)));
      return result['kind'] === 'Status' ? { object: null, status: result } : { object: result, status: null };
    },
  };
}

function deleteCollectionField(ctx: FieldContext): Field {
  const { label, collectionScope, deprecated, operations, request } = ctx;
  return {
    type: once(ctx, '[object!]!', () => new GraphQLNonNull(new GraphQLList(nonNullObject(ctx)))),
    description: `Delete every ${label} matching the selectors; returns the deleted objects.`,
    args: once(ctx, 'deleteCollection', () => ({ ...collectionScope, ...selectorArgs, ...deleteOptionArgs })),
    ...deprecated,
    resolve: async (_src, args, context) => {
      const result = await operations.deleteCollection(
        request(args, context, { ...deleteArgs(args), ...optionalStrings(args, ['labelSelector', 'fieldSelector']) }),
      );
      return Array.isArray(result['items']) ? result['items'] : [];
    },
  };
}

function watchField(ctx: FieldContext): Field {
  const { types, label, scopeArg, deprecated, operations, request } = ctx;
  return {
    type: once(ctx, 'watchEvent!', () => new GraphQLNonNull(types.watchEvent)),
    description: `Follow changes to ${label} objects.`,
    args: once(ctx, 'watch', () => ({
      ...scopeArg,
      ...selectorArgs,
      resourceVersion: { type: GraphQLString, description: 'Start after this resourceVersion (e.g. from a list or an earlier event).' },
      sendInitialEvents: {
        type: GraphQLBoolean,
        description: 'Send every existing object as ADDED first, then INITIAL_STATE_DONE.',
      },
    })),
    ...deprecated,
    subscribe: async (_src, args, context, info) => {
      const related = namedResourceTypes(info.schema, info.fieldNodes, info.fragments);
      const feed = await operations.watch(
        request(args, context, {
          ...optionalStrings(args, ['labelSelector', 'fieldSelector', 'resourceVersion']),
          ...(typeof args['sendInitialEvents'] === 'boolean' ? { sendInitialEvents: args['sendInitialEvents'] } : {}),
          ...(related.length ? { relatedTypes: related, relatedTypesAs: related.map((name) => info.schema.getType(name)!) } : {}),
        }),
      );
      // graphql-js reads an async iterable; a transport that can take pushes finds the feed behind it.
      return feedIterable(mapFeed(feed, graphqlEventOf));
    },
    resolve: (event) => event,
  };
}

/** A namespace or name argument, refused when it cannot be one (`namespace: ""` is not "all namespaces"). */
function checked(value: string, problemOf: (value: string) => string | undefined): string {
  const problem = problemOf(value);
  if (problem) throw badInput(problem);
  return value;
}

function convertInput(input: unknown, version: VersionModel, argName: string, mode: WriteMode = 'whole'): KubeObject {
  try {
    return toKubernetes(input, version.schema, '', mode) as KubeObject;
  } catch (error) {
    if (error instanceof ValueConversionError) throw badInput(`${argName}${error.path ? '.' : ''}${error.message}`);
    throw error;
  }
}

/** Fills apiVersion, kind and metadata.name/namespace from the arguments, refusing contradictions. */
function completeBody(body: KubeObject, resource: ResourceModel, version: VersionModel, args: Args): KubeObject {
  const apiVersion = `${resource.group}/${version.name}`;
  if (body['apiVersion'] !== undefined && body['apiVersion'] !== null && body['apiVersion'] !== apiVersion) {
    throw badInput(`apiVersion is ${JSON.stringify(body['apiVersion'])}, but this field writes ${apiVersion}`);
  }
  if (body['kind'] !== undefined && body['kind'] !== null && body['kind'] !== resource.kind) {
    throw badInput(`kind is ${JSON.stringify(body['kind'])}, but this field writes ${resource.kind}`);
  }
  const metadata: Record<string, unknown> = { ...((body['metadata'] as Record<string, unknown> | null | undefined) ?? {}) };
  for (const key of ['namespace', 'name'] as const) {
    const fromArgs = args[key];
    if (typeof fromArgs !== 'string') continue;
    const inBody = metadata[key];
    if (inBody !== undefined && inBody !== null && inBody !== fromArgs) {
      throw badInput(`metadata.${key} is ${JSON.stringify(inBody)}, but the ${key} argument is ${JSON.stringify(fromArgs)}`);
    }
    metadata[key] = fromArgs;
  }
  return { ...body, apiVersion, kind: resource.kind, metadata };
}

function patchArgs(args: Args, resource: ResourceModel, version: VersionModel) {
  const patchType = args['type'] as PatchContentType;
  const common = {
    ...dryRunOf(args),
    ...(typeof args['fieldManager'] === 'string' ? { fieldManager: args['fieldManager'] } : {}),
    ...(typeof args['force'] === 'boolean' ? { force: args['force'] } : {}),
    ...(args['subresource'] === 'status' ? { subresource: 'status' as const } : {}),
  };
  if (patchType === PATCH_CONTENT_TYPES.JSON) {
    if (args['patch'] != null) throw badInput('type JSON takes jsonPatch, not patch');
    const ops = args['jsonPatch'];
    if (!Array.isArray(ops)) throw badInput('type JSON needs jsonPatch (a list of operations)');
    const malformed = jsonPatchProblem(ops);
    if (malformed) throw badInput(`jsonPatch${malformed.at}: ${malformed.problem}`);
    const patch: JsonPatchOperation[] = ops.map((op: Record<string, unknown>) => ({
      op: op['op'] as JsonPatchOperation['op'],
      path: op['path'] as string,
      ...(Object.hasOwn(op, 'value') ? { value: op['value'] } : {}),
      ...(typeof op['from'] === 'string' ? { from: op['from'] } : {}),
    }));
    return { patchType, patch, ...common };
  }
  const typeName = Object.entries(PATCH_CONTENT_TYPES).find(([, v]) => v === patchType)?.[0] ?? patchType;
  if (args['jsonPatch'] != null) throw badInput(`type ${typeName} takes patch, not jsonPatch`);
  if (args['patch'] == null) throw badInput(`patch is required for ${typeName}`);
  if (args['force'] === true && patchType !== PATCH_CONTENT_TYPES.APPLY) throw badInput('force applies to APPLY patches only');
  const patch = convertInput(args['patch'], version, 'patch', patchType === PATCH_CONTENT_TYPES.APPLY ? 'apply' : 'merge');
  if (patchType === PATCH_CONTENT_TYPES.APPLY) {
    if (typeof args['fieldManager'] !== 'string' || args['fieldManager'] === '') {
      throw badInput('APPLY needs a fieldManager: server-side apply records which manager owns which fields');
    }
    return { patchType, patch: completeBody(patch, resource, version, args), ...common };
  }
  return { patchType, patch, ...common };
}

function writeOptions(args: Args) {
  return { ...dryRunOf(args), ...(typeof args['fieldManager'] === 'string' ? { fieldManager: args['fieldManager'] } : {}) };
}

function dryRunOf(args: Args): { dryRun?: 'All' } {
  return args['dryRun'] === true ? { dryRun: 'All' } : {};
}

function deleteArgs(args: Args): DeleteArgs {
  const preconditions = args['preconditions'] as DeleteArgs['preconditions'] | null | undefined;
  return {
    ...dryRunOf(args),
    ...(typeof args['propagationPolicy'] === 'string' ? { propagationPolicy: args['propagationPolicy'] as DeleteArgs['propagationPolicy'] } : {}),
    ...(args['gracePeriodSeconds'] != null ? { gracePeriodSeconds: args['gracePeriodSeconds'] as number | bigint } : {}),
    ...(preconditions ? { preconditions: { ...preconditions } } : {}),
  };
}

function optionalStrings<K extends string>(args: Args, keys: readonly K[]): { [P in K]?: string } {
  const out: Record<string, string> = {};
  for (const key of keys) if (typeof args[key] === 'string') out[key] = args[key];
  return out as { [P in K]?: string };
}

function pickAlias(args: Args, name: string, alias: string): unknown {
  const a = args[name];
  const b = args[alias];
  if (a != null && b != null) throw badInput(`give ${name} or ${alias}, not both`);
  return a ?? b;
}

function toConnection(list: KubeList, continued: boolean) {
  const items = list.items ?? [];
  const next = list.metadata?.continue || null;
  const cursors = list.cursors;
  // A plain list knows its total only when this page is all of it.
  const totalCount = list.metadata?.totalCount ?? (next === null && !continued ? items.length : null);
  return {
    edges: items.map((node, i) => ({ node, cursor: cursors?.[i] ?? (i === items.length - 1 ? next : null) })),
    pageInfo: { hasNextPage: next !== null, hasPreviousPage: false, startCursor: cursors?.[0] ?? null, endCursor: cursors?.at(-1) ?? next },
    resourceVersion: list.metadata?.resourceVersion ?? null,
    remainingItemCount: list.metadata?.remainingItemCount ?? null,
    totalCount,
  };
}

function queryArgs(query: QueryTypes): GraphQLFieldConfigArgumentMap {
  return {
    where: { type: query.where, description: 'Only the objects that satisfy this filter (see docs/graphql-api.md); answered from the shared cache unless consistency is STRONG.' },
    orderBy: { type: new GraphQLList(new GraphQLNonNull(query.orderBy)), description: 'Sort order; ties are broken by namespace, then name. Missing values sort last.' },
    consistency: { type: ListConsistencyEnum, description: 'CACHED (the default with where or orderBy) or STRONG (the default otherwise).' },
  };
}

const INITIAL_EVENTS_END = 'k8s.io/initial-events-end';

/**
 * The GraphQL event of each watch event, made once per watch event object. The hub hands every
 * subscriber of an event the same object, so the GraphQL event is shared too, and so is what a
 * transport derives from it (one execution, one serialized payload).
 */
const graphqlEvents = new WeakMap<KubeWatchEvent, GraphQLWatchEvent>();

interface GraphQLWatchEvent {
  type: string;
  object: KubeObject | null;
  resourceVersion: string | null;
}

function graphqlEventOf(event: KubeWatchEvent): GraphQLWatchEvent {
  let e = graphqlEvents.get(event);
  if (!e) graphqlEvents.set(event, (e = toGraphQLEvent(event)));
  return e;
}

/** Kubernetes watch event → GraphQL event; the initial-state bookmark becomes INITIAL_STATE_DONE. */
function toGraphQLEvent(event: KubeWatchEvent): GraphQLWatchEvent {
  const metadata = (event.object?.['metadata'] ?? {}) as { resourceVersion?: string; annotations?: Record<string, string> };
  const resourceVersion = event.resourceVersion ?? metadata.resourceVersion ?? null;
  switch (event.type) {
    case 'ADDED':
    case 'MODIFIED':
    case 'DELETED':
      return { type: event.type, object: event.object, resourceVersion };
    case 'BOOKMARK':
      if (metadata.annotations?.[INITIAL_EVENTS_END] === 'true') return { type: 'INITIAL_STATE_DONE', object: null, resourceVersion };
      return { type: 'BOOKMARK', object: null, resourceVersion };
    case 'ERROR': {
      const status = event.object as { message?: string; reason?: string; code?: number };
      throw new GraphQLError(status.message === undefined ? 'the watch failed' : callerText(status.message, status.code ?? 500), {
        extensions: { code: status.code === 410 ? 'GONE' : 'UNAVAILABLE', reason: status.reason, httpStatus: status.code },
      });
    }
  }
}

function badInput(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: ApiErrorCode.BAD_USER_INPUT, httpStatus: 400 } });
}
