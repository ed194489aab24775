// `applyYaml`: kubectl apply --server-side for GraphQL. One or more YAML documents of served custom
// resources, each applied on its own as the caller (server-side apply), each with its own result:
// a document that is not YAML, not an object of a kind this caller's schema serves, or that
// Kubernetes refuses gets an error entry, and the others still apply.
import { GraphQLBoolean, GraphQLError, GraphQLInt, GraphQLList, GraphQLNonNull, GraphQLObjectType, GraphQLString,
  type GraphQLFieldConfig, type GraphQLResolveInfo } from 'graphql';
import { parseAllDocuments } from 'yaml';
import { ApiError, ApiErrorCode } from '../api-errors.ts';
import { PATCH_CONTENT_TYPES, type KubeObject, type ResourceOperations } from '../contract/operations.ts';
import { exactYamlOptions, exactYamlReviver } from '../kube/lossless-json.ts';
import { rootFieldNames } from '../model/graphql-type-names.ts';
import { namespaceNameProblem, objectNameProblem } from '../model/kubernetes-names.ts';
import type { ResourceModel, VersionModel } from '../model/resource-model.ts';
import { spend } from './execution-budget.ts';
import { kubectlYaml } from './resource-types.ts';
import { JSONScalar } from './scalars.ts';

/** Bounds of one call: the request body limit bounds the text too; documents each cost a Kubernetes call. */
export const applyYamlLimits = { maxBytes: 512 * 1024, maxDocuments: 50 } as const;

const ApplyYamlErrorType = new GraphQLObjectType({
  name: 'ApplyYamlError',
  description: 'Why one document was not applied: a code of the error catalog and a message.',
  fields: {
    code: { type: new GraphQLNonNull(GraphQLString) },
    message: { type: new GraphQLNonNull(GraphQLString) },
  },
});

export const ApplyYamlResultType = new GraphQLObjectType({
  name: 'ApplyYamlResult',
  description: 'The outcome of one YAML document: the applied object, or an error.',
  fields: {
    index: { type: new GraphQLNonNull(GraphQLInt), description: 'The document\'s position in the text, from 0.' },
    apiVersion: { type: GraphQLString },
    kind: { type: GraphQLString },
    namespace: { type: GraphQLString },
    name: { type: GraphQLString },
    object: { type: JSONScalar, description: 'The object as Kubernetes returned it (Kubernetes names); null on error.' },
    yaml: { type: GraphQLString, description: 'The same object as YAML, as `kubectl get -o yaml` shows it; null on error.' },
    error: { type: ApplyYamlErrorType, description: 'Null when the document was applied.' },
  },
});

interface Served {
  readonly resource: ResourceModel;
  readonly version: VersionModel;
}

interface ApplyArgs {
  yaml: string;
  fieldManager: string;
  force?: boolean | null;
  dryRun?: boolean | null;
}

interface DocumentResult {
  index: number;
  apiVersion?: string | null;
  kind?: string | null;
  namespace?: string | null;
  name?: string | null;
  object?: KubeObject | null;
  yaml?: string | null;
  error?: { code: string; message: string } | null;
}

/** The applyYaml mutation over the resources of this schema build. */
export function applyYamlField(resources: readonly ResourceModel[], operations: ResourceOperations): GraphQLFieldConfig<unknown, unknown, ApplyArgs> {
  const byKind = new Map<string, Served>();
  for (const resource of resources) {
    for (const version of resource.versions) {
      if (version.served) byKind.set(`${resource.group}/${version.name}/${resource.kind}`, { resource, version });
    }
  }
  return {
    type: new GraphQLNonNull(new GraphQLList(new GraphQLNonNull(ApplyYamlResultType))),
    description: 'Server-side apply of one or more YAML documents (separated by `---`) of served custom resources, '
      + `each on its own, as \`kubectl apply --server-side\` does; at most ${applyYamlLimits.maxDocuments} documents and `
      + `${applyYamlLimits.maxBytes / 1024} KiB, and ${applyYamlLimits.maxDocuments} documents in all the applyYaml fields of one operation. `
      + 'Each document gets a result: the applied object, or its error.',
    // The cost limit counts the field's selection once per document, as a list's per object.
    extensions: { listSizeOf: (args: Record<string, unknown>) => typeof args['yaml'] === 'string' ? documentsIn(args['yaml']) : 1 },
    args: {
      yaml: { type: new GraphQLNonNull(GraphQLString) },
      fieldManager: { type: new GraphQLNonNull(GraphQLString), description: 'The manager name recorded in managedFields.' },
      force: { type: GraphQLBoolean, description: 'Take ownership of fields another manager owns.' },
      dryRun: { type: GraphQLBoolean, description: 'Validate and return the result without persisting it.' },
    },
    resolve: async (_src, args, context, info) => {
      const documents = splitDocuments(args);
      // Aliases of applyYaml would each apply as many: one operation's are bounded together, and
      // those past the bound get an error each (the results of the others are kept).
      const allowed = applyYamlLimits.maxDocuments - (spend(context, info.rootValue, 'applyYaml documents', documents.length) - documents.length);
      const results: DocumentResult[] = [];
      // One after another, in order: a later document may depend on an earlier one (as with kubectl).
      for (const [index, doc] of documents.entries()) {
        results.push(index < allowed ? await applyOne(index, doc, args, { byKind, operations, context, info }) : overTheBound(index));
      }
      return results;
    },
  };
}

type Parsed = { ok: true; value: unknown } | { ok: false; message: string };

function overTheBound(index: number): DocumentResult {
  return { index, error: { code: ApiErrorCode.BAD_USER_INPUT,
    message: `not applied: this operation's applyYaml fields hold more than ${applyYamlLimits.maxDocuments} documents in all; send the others in another request` } };
}

/**
 * How many documents a YAML text holds at most, without parsing it: its `---` lines, plus one, or
 * as many as a call applies when it holds a List (whose items count one each).
 */
export function documentsIn(yaml: string): number {
  if (/^\s*kind:\s*["']?\w*List["']?\s*$/m.test(yaml)) return applyYamlLimits.maxDocuments;
  return (yaml.match(/^---/gm)?.length ?? 0) + 1;
}

function splitDocuments(args: ApplyArgs): Parsed[] {
  if (args.fieldManager === '') throw badInput('fieldManager must not be empty: server-side apply records which manager owns which fields');
  if (Buffer.byteLength(args.yaml) > applyYamlLimits.maxBytes) throw badInput(`yaml is over ${applyYamlLimits.maxBytes / 1024} KiB`);
  const docs = parseAllDocuments(args.yaml, exactYamlOptions);
  const parsed = (Array.isArray(docs) ? docs : []).map((d): Parsed | undefined => {
    if (d.errors.length > 0) return { ok: false, message: `not valid YAML: ${d.errors[0]!.message.split('\n')[0]}` };
    try {
      const value: unknown = d.toJS({ reviver: exactYamlReviver, maxAliasCount: 100 });
      // An empty document (a leading or trailing `---`) is nothing to apply, as with kubectl.
      return value === null || value === undefined ? undefined : { ok: true, value };
    } catch (err) {
      return { ok: false, message: `not valid YAML: ${(err as Error).message.split('\n')[0]}` };
    }
  }).filter((d) => d !== undefined).flatMap(listItems);
  if (parsed.length === 0) throw badInput('yaml holds no document');
  if (parsed.length > applyYamlLimits.maxDocuments) throw badInput(`yaml holds ${parsed.length} documents; at most ${applyYamlLimits.maxDocuments} are applied in one call`);
  return parsed;
}

/** A List (kind List, or a kind's own CronTabList) stands for its items, as kubectl applies them. */
function listItems(doc: Parsed): Parsed[] {
  if (!doc.ok || doc.value === null || typeof doc.value !== 'object') return [doc];
  const { kind, items } = doc.value as { kind?: unknown; items?: unknown };
  if (typeof kind !== 'string' || !kind.endsWith('List') || !Array.isArray(items)) return [doc];
  return items.map((value): Parsed => ({ ok: true, value }));
}

interface ApplyContext {
  byKind: ReadonlyMap<string, Served>;
  operations: ResourceOperations;
  context: unknown;
  info: GraphQLResolveInfo;
}

async function applyOne(index: number, doc: Parsed, args: ApplyArgs, ctx: ApplyContext): Promise<DocumentResult> {
  if (!doc.ok) return { index, error: { code: ApiErrorCode.BAD_USER_INPUT, message: doc.message } };
  const object = doc.value;
  if (object === null || typeof object !== 'object' || Array.isArray(object)) {
    return { index, error: { code: ApiErrorCode.BAD_USER_INPUT, message: 'a document must be an object (a mapping) with apiVersion, kind and metadata' } };
  }
  const body = object as KubeObject;
  const metadata = (body['metadata'] ?? {}) as Record<string, unknown>;
  const ids = {
    apiVersion: typeof body['apiVersion'] === 'string' ? body['apiVersion'] : null,
    kind: typeof body['kind'] === 'string' ? body['kind'] : null,
    namespace: typeof metadata['namespace'] === 'string' ? metadata['namespace'] : null,
    name: typeof metadata['name'] === 'string' ? metadata['name'] : null,
  };
  const fail = (code: string, message: string): DocumentResult => ({ index, ...ids, error: { code, message } });
  const target = targetOf(ids, ctx);
  if (typeof target === 'string') return fail(ApiErrorCode.BAD_USER_INPUT, target);
  try {
    const applied = await ctx.operations.patch({
      resource: target.resource,
      version: target.version,
      ...(target.resource.scope === 'Namespaced' ? { namespace: ids.namespace! } : {}),
      name: ids.name!,
      args: {
        patchType: PATCH_CONTENT_TYPES.APPLY,
        patch: body,
        fieldManager: args.fieldManager,
        ...(args.force === true ? { force: true } : {}),
        ...(args.dryRun === true ? { dryRun: 'All' as const } : {}),
      },
      context: ctx.context,
    });
    return { index, ...ids, object: applied, yaml: kubectlYaml(applied), error: null };
  } catch (err) {
    const code = err instanceof ApiError ? err.code : err instanceof GraphQLError ? err.extensions['code'] : undefined;
    // Anything without a catalog code is an internal error: it fails the call and is reported.
    if (typeof code !== 'string') throw err;
    return fail(code, (err as Error).message);
  }
}

/** The served resource and version a document names, or why it names none this caller may use. */
function targetOf(ids: { apiVersion: string | null; kind: string | null; namespace: string | null; name: string | null }, ctx: ApplyContext): Served | string {
  if (ids.apiVersion === null || ids.kind === null) return 'a document needs apiVersion and kind';
  const served = ctx.byKind.get(`${ids.apiVersion}/${ids.kind}`);
  // Served to this caller: its own schema (pruned to what its RBAC allows) has the kind's patch field.
  const patchField = served ? rootFieldNames(served.resource, served.version.name).patch : undefined;
  if (!served || !patchField || !ctx.info.schema.getMutationType()?.getFields()[patchField]) {
    return `${ids.kind} ${ids.apiVersion} is not a custom resource this API serves to you`;
  }
  if (ids.name === null) return 'a document needs metadata.name';
  const nameProblem = objectNameProblem(ids.name);
  if (nameProblem) return `metadata.name: ${nameProblem}`;
  if (served.resource.scope !== 'Namespaced') return served;
  if (ids.namespace === null) return `${ids.kind} is namespaced: the document needs metadata.namespace`;
  const nsProblem = namespaceNameProblem(ids.namespace);
  return nsProblem ? `metadata.namespace: ${nsProblem}` : served;
}

function badInput(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: ApiErrorCode.BAD_USER_INPUT, httpStatus: 400 } });
}
