// Model snapshot → the OpenAPI 3.1 document of the REST facade. Pure. Paths are
// Kubernetes-shaped under /rest, bodies are Kubernetes JSON with the original property names,
// errors are RFC 9457 problem documents. Per-CRD parts are cached by content hash.

import { encodeGroup, encodeKind, encodeVersion } from '../model/graphql-type-names.ts';
import { compareCodeUnits } from '../model/graphql-names.ts';
import { sameContent, type ResourceModel, type VersionModel } from '../model/resource-model.ts';
import { assembleRecord, patchRecord } from '../model/ordered-record.ts';
import { convertResourceSchema } from './openapi-schema-conversion.ts';
import { filterComponentSchemas, orderByParameter, whereParameter, whereSchemas } from './openapi-query-schemas.ts';
import {
  DELETE_OPTIONS_BODY, DELETE_PARAMETERS, PATCH_PARAMETERS, UNTYPED_LIST_PARAMETERS, SECURITY, SECURITY_SCHEMES, SHARED_COMPONENT_SCHEMAS, SHARED_PARAMETERS,
  JSON_WATCH_DESCRIPTION, SHARED_RESPONSES, SSE_DESCRIPTION, WRITE_PARAMETERS, jsonOrYaml, objectBody, objectResponse as objectResponseOf, parameterRefs as params, patchBody,
  problemResponses as errors, ref,
} from './openapi-shared-components.ts';

export type OpenApiDocument = Record<string, unknown> & {
  openapi: '3.1.0';
  paths: Record<string, Record<string, unknown>>;
  components: { schemas: Record<string, unknown> } & Record<string, unknown>;
};

export interface OpenApiOptions {
  readonly title?: string;
  readonly version?: string;
  /** Path prefix of the facade; `/rest` unless the server mounts it elsewhere. */
  readonly prefix?: string;
  readonly serverUrl?: string;
}

export interface OpenApiBuilder {
  build(models: readonly ResourceModel[]): OpenApiDocument;
}

interface Fragment {
  readonly paths: Record<string, Record<string, unknown>>;
  readonly schemas: Record<string, unknown>;
  /** The shared filter schemas its where parameters refer to. */
  readonly filterRefs: ReadonlySet<string>;
  readonly tag: { name: string; description: string };
}

/** The component schema name of a CRD version: reverse-DNS group, version, Kind (like kube-openapi). */
export function componentName(resource: Pick<ResourceModel, 'group' | 'kind'>, version: string): string {
  return `${resource.group.split('.').reverse().join('.')}.${version}.${resource.kind}`;
}

export function createOpenApiBuilder(options: OpenApiOptions = {}): OpenApiBuilder {
  const prefix = (options.prefix ?? '/rest').replace(/\/$/, '');
  // By CRD name: reused for the same model, or one of the same content hash.
  let cache = new Map<string, { model: ResourceModel; fragment: Fragment }>();
  let last: { fragments: ReadonlySet<Fragment>; paths: Record<string, Record<string, unknown>>; schemas: Record<string, unknown> } | undefined;
  return {
    build(models) {
      const next = new Map<string, { model: ResourceModel; fragment: Fragment }>();
      const seen = new Set<string>();
      const sorted = [...models].sort((a, b) => compareCodeUnits(a.crdName, b.crdName));
      const fragments: Fragment[] = [];
      const filterRefs = new Set<string>();
      const tags: { name: string; description: string }[] = [];
      for (const model of sorted) {
        // A CRD name can appear once in a cluster; a snapshot listing it twice keeps the first.
        if (seen.has(model.crdName)) continue;
        seen.add(model.crdName);
        const cached = cache.get(model.crdName);
        const fragment = cached && sameContent(cached.model, model) ? cached.fragment : resourceFragment(model, prefix);
        next.set(model.crdName, { model, fragment });
        fragments.push(fragment);
        for (const r of fragment.filterRefs) filterRefs.add(r);
        tags.push(fragment.tag);
      }
      cache = next;
      const pathParts = { head: {}, segments: fragments.map((f) => f.paths), tail: {} };
      const schemaParts = { head: SHARED_SCHEMAS, segments: fragments.map((f) => f.schemas), tail: filterComponentSchemas(filterRefs) };
      let paths: Record<string, Record<string, unknown>> | undefined;
      let schemas: Record<string, unknown> | undefined;
      // A few changed CRDs: the previous document's maps with only their keys swapped (the maps
      // of 1,000 CRDs hold ~35,000 keys; building them anew cost more than the rest of a change).
      if (last) {
        const current = new Set(fragments);
        const removed = [...last.fragments].filter((f) => !current.has(f));
        const added = fragments.filter((f) => !last!.fragments.has(f));
        if (removed.length + added.length <= Math.max(8, fragments.length / 10)) {
          paths = patchRecord(last.paths, pathParts, removed.map((f) => f.paths), added.map((f) => f.paths));
          schemas = patchRecord(last.schemas, schemaParts, removed.map((f) => f.schemas), added.map((f) => f.schemas));
        }
      }
      paths ??= assembleRecord(pathParts);
      schemas ??= assembleRecord(schemaParts);
      last = { fragments: new Set(fragments), paths, schemas };
      return {
        openapi: '3.1.0',
        info: {
          title: options.title ?? 'crdgate REST facade',
          version: options.version ?? '0.1.0',
          license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
          description:
            'Kubernetes-shaped REST access to the custom resources of the cluster, as the caller. ' +
            'Bodies are Kubernetes JSON; `?watch=true` on a list streams Kubernetes watch events (Server-Sent Events to EventSource); errors ' +
            'are RFC 9457 problem documents.',
        },
        // Relative by default: the document is served by the gateway it describes.
        servers: [{ url: options.serverUrl ?? '/', description: 'The gateway' }],
        security: SECURITY,
        tags,
        paths,
        components: {
          schemas,
          parameters: LIVE_PARAMETERS,
          responses: SHARED_RESPONSES,
          securitySchemes: SECURITY_SCHEMES,
        },
      };
    },
  };
}

export function buildOpenApiDocument(models: readonly ResourceModel[], options: OpenApiOptions = {}): OpenApiDocument {
  return createOpenApiBuilder(options).build(models);
}

// Each CRD version has its own watch event and where schemas here; the generic ones are openapi.yaml's.
const {
  WatchEvent: _generic, KubernetesWatchEvent: _genericKubernetes, ObjectWatchEvent: _genericObject, Where: _genericWhere, ...SHARED_SCHEMAS
} = SHARED_COMPONENT_SCHEMAS;

// Each version's where and orderBy parameters are typed in place of the generic ones.
const { where: _where, orderBy: _orderBy, ...LIVE_PARAMETERS } = SHARED_PARAMETERS;

function resourceFragment(model: ResourceModel, prefix: string): Fragment {
  const paths: Record<string, Record<string, unknown>> = {};
  const schemas: Record<string, unknown> = {};
  const filterRefs = new Set<string>();
  const tag = `${model.kind} (${model.group})`;
  for (const version of model.versions) {
    if (!version.served) continue;
    addVersion(model, version, prefix, tag, paths, schemas, filterRefs);
  }
  return {
    paths,
    schemas,
    filterRefs,
    tag: { name: tag, description: `CRD ${model.crdName}; served versions: ${model.versions.filter((v) => v.served).map((v) => v.name).join(', ')}.` },
  };
}

/** What every path and schema of one served version shares: names, paths, parameters, operation shape. */
interface VersionDoc {
  readonly model: ResourceModel;
  readonly objectName: string;
  readonly listName: string;
  readonly apiVersion: string;
  readonly label: string;
  readonly base: string;
  readonly namespaced: boolean;
  readonly collection: string;
  readonly item: string;
  readonly scopeParams: unknown[];
  readonly itemParams: unknown[];
  op(verb: string, summary: string, rest: Record<string, unknown>): Record<string, unknown>;
  objectResponse(status: '200' | '201', description: string): Record<string, unknown>;
  requestBody(description: string): unknown;
}

function versionDoc(model: ResourceModel, version: VersionModel, prefix: string, tag: string): VersionDoc {
  const objectName = componentName(model, version.name);
  const apiVersion = `${model.group}/${version.name}`;
  const id = (verb: string) => `${verb}_${encodeKind(model.kind)}_${encodeVersion(version.name)}_${encodeGroup(model.group)}`;
  const deprecated = version.deprecated ? { deprecated: true } : {};
  const warning = version.deprecated ? ` Deprecated${version.deprecationWarning ? `: ${version.deprecationWarning}` : '.'}` : '';
  const base = `${prefix}/${model.group}/${version.name}`;
  const namespaced = model.scope === 'Namespaced';
  const collection = namespaced ? `${base}/namespaces/{namespace}/${model.plural}` : `${base}/${model.plural}`;
  const scopeParams = namespaced ? params('namespace') : [];
  return {
    model,
    objectName,
    // listKind, not Kind + "List": Kubernetes keeps kinds and listKinds of a group distinct.
    listName: componentName({ group: model.group, kind: model.listKind }, version.name),
    apiVersion,
    label: `${model.kind} (${apiVersion})`,
    base,
    namespaced,
    collection,
    item: `${collection}/{name}`,
    scopeParams,
    itemParams: [...scopeParams, ...params('name')],
    op: (verb, summary, rest) => ({
      operationId: id(verb),
      summary,
      ...(warning ? { description: warning.trim() } : {}),
      tags: [tag],
      ...deprecated,
      ...rest,
    }),
    objectResponse: (status, description) => objectResponseOf(objectName, status, description),
    requestBody: (description) => objectBody(objectName, description),
  };
}

function addVersion(
  model: ResourceModel,
  version: VersionModel,
  prefix: string,
  tag: string,
  paths: Record<string, Record<string, unknown>>,
  schemas: Record<string, unknown>,
  filterRefs: Set<string>,
): void {
  const d = versionDoc(model, version, prefix, tag);
  Object.assign(schemas, versionSchemas(d, version));
  const where = whereSchemas(version, d.objectName, filterRefs);
  Object.assign(schemas, where.schemas);
  const list = { parameters: [...UNTYPED_LIST_PARAMETERS, whereParameter(ref(where.root)), orderByParameter(version)], responses: listResponsesOf(d) };
  paths[d.collection] = collectionPath(d, list);
  paths[d.item] = itemPath(d);
  if (version.subresources.status) paths[`${d.item}/status`] = statusPath(d);
  if (version.subresources.scale) paths[`${d.item}/scale`] = scalePath(d);
  if (d.namespaced) {
    paths[`${d.base}/${model.plural}`] = {
      get: d.op('listForAllNamespaces', `List or watch ${d.label} in all namespaces`, list),
    };
  }
}

/** The object, its list, and the data of one SSE watch event, in that order. */
function versionSchemas({ model, objectName, listName, apiVersion }: VersionDoc, version: VersionModel): Record<string, unknown> {
  return {
    [objectName]: {
      ...convertResourceSchema(version.rawSchema as Record<string, unknown>, { objectMetaRef: ref('ObjectMeta').$ref }),
      'x-kubernetes-group-version-kind': [{ group: model.group, version: version.name, kind: model.kind }],
    },
    [listName]: {
      type: 'object',
      description: `A list of ${model.kind} objects.`,
      required: ['items'],
      properties: {
        apiVersion: { type: 'string', const: apiVersion },
        kind: { type: 'string', const: model.listKind },
        metadata: ref('ListMeta'),
        items: { type: 'array', items: ref(objectName) },
      },
      'x-kubernetes-group-version-kind': [{ group: model.group, version: version.name, kind: model.listKind }],
    },
    [`${objectName}.WatchEvent`]: {
      description: `The \`data\` of one Server-Sent Event of a watch of ${model.kind} (${apiVersion}).`,
      oneOf: [
        objectWatchEvent(objectName),
        ref('BookmarkWatchEvent'),
        ref('ErrorWatchEvent'),
      ],
    },
    [`${objectName}.KubernetesWatchEvent`]: {
      description: `One line of a watch of ${model.kind} (${apiVersion}) in Kubernetes' own format (Accept: application/json).`,
      oneOf: [objectWatchEvent(objectName), ref('BookmarkWatchEvent'), ref('StatusWatchEvent')],
    },
  };
}

/** An ADDED, MODIFIED or DELETED event of the version's objects. */
function objectWatchEvent(objectName: string): Record<string, unknown> {
  return {
    type: 'object',
    required: ['type', 'object'],
    additionalProperties: false,
    properties: { type: { type: 'string', enum: ['ADDED', 'MODIFIED', 'DELETED'] }, object: ref(objectName) },
  };
}

function listResponsesOf({ model, listName, objectName }: VersionDoc): Record<string, unknown> {
  return {
    '200': {
      description: `The ${model.kind} objects. ${SSE_DESCRIPTION} ${JSON_WATCH_DESCRIPTION}`,
      content: {
        ...jsonOrYaml(ref(listName)),
        'text/event-stream': { schema: ref(`${objectName}.WatchEvent`) },
        'application/json;stream=watch': { schema: ref(`${objectName}.KubernetesWatchEvent`) },
      },
    },
    ...errors('400', '401', '403', '404', '410', '422', '429'),
  };
}

/** The list operation's parameters (where and orderBy typed for the version) and responses. */
type ListOperation = { parameters: unknown[]; responses: Record<string, unknown> };

function collectionPath({ namespaced, scopeParams, label, listName, op, objectResponse, requestBody }: VersionDoc, list: ListOperation): Record<string, unknown> {
  return {
    ...(namespaced ? { parameters: scopeParams } : {}),
    get: op('list', `List or watch ${label}`, list),
    post: op('create', `Create a ${label}`, {
      parameters: WRITE_PARAMETERS,
      requestBody: requestBody('The new object; metadata.namespace defaults to the path.'),
      responses: { ...objectResponse('201', 'Created (or, with dryRun, what would be created).'), ...errors('400', '401', '403', '404', '409', '413', '415', '422', '429') },
    }),
    delete: op('deleteCollection', `Delete every ${label} matching the selectors`, {
      parameters: [...params('labelSelector', 'fieldSelector'), ...DELETE_PARAMETERS],
      requestBody: DELETE_OPTIONS_BODY,
      responses: {
        '200': { description: 'The deleted objects, or a Status.', content: jsonOrYaml({ anyOf: [ref(listName), ref('Status')] }) },
        ...errors('400', '401', '403', '404', '413', '415', '429'),
      },
    }),
  };
}

function itemPath({ itemParams, label, objectName, op, objectResponse, requestBody }: VersionDoc): Record<string, unknown> {
  return {
    parameters: itemParams,
    get: op('read', `Read a ${label}`, { responses: { ...objectResponse('200', 'The object.'), ...errors('401', '403', '404', '429') } }),
    put: op('replace', `Replace a ${label}`, {
      parameters: WRITE_PARAMETERS,
      requestBody: requestBody('The whole object; set metadata.resourceVersion for optimistic concurrency.'),
      responses: { ...objectResponse('200', 'Replaced.'), ...errors('400', '401', '403', '404', '409', '413', '415', '422', '429') },
    }),
    patch: op('patch', `Patch a ${label}`, {
      parameters: PATCH_PARAMETERS,
      requestBody: patchBody(objectName),
      responses: {
        ...objectResponse('200', 'Patched.'), ...objectResponse('201', 'Created by an apply patch of an object that did not exist.'),
        ...errors('400', '401', '403', '404', '409', '413', '415', '422', '429'),
      },
    }),
    delete: op('delete', `Delete a ${label}`, {
      parameters: DELETE_PARAMETERS,
      requestBody: DELETE_OPTIONS_BODY,
      responses: {
        '200': { description: 'The object (deletion pending finalizers, or deleted) or a Status.', content: jsonOrYaml({ anyOf: [ref(objectName), ref('Status')] }) },
        ...errors('400', '401', '403', '404', '409', '413', '415', '422', '429'),
      },
    }),
  };
}

function statusPath({ itemParams, label, objectName, op, objectResponse, requestBody }: VersionDoc): Record<string, unknown> {
  return {
    parameters: itemParams,
    get: op('readStatus', `Read the status of a ${label}`, { responses: { ...objectResponse('200', 'The object.'), ...errors('401', '403', '404', '429') } }),
    put: op('replaceStatus', `Replace the status of a ${label}`, {
      parameters: WRITE_PARAMETERS,
      requestBody: requestBody('The object; only its status is written. Without metadata.resourceVersion the gateway reads the object and retries on conflicts.'),
      responses: { ...objectResponse('200', 'Replaced.'), ...errors('400', '401', '403', '404', '409', '413', '415', '422', '429') },
    }),
    patch: op('patchStatus', `Patch the status of a ${label} (RBAC: patch on the status subresource)`, {
      parameters: PATCH_PARAMETERS,
      requestBody: patchBody(objectName),
      responses: { ...objectResponse('200', 'Patched; only the status is written.'), ...errors('400', '401', '403', '404', '409', '413', '415', '422', '429') },
    }),
  };
}

function scalePath({ itemParams, label, op }: VersionDoc): Record<string, unknown> {
  const scale = jsonOrYaml(ref('Scale'));
  return {
    parameters: itemParams,
    get: op('readScale', `Read the scale of a ${label}`, { responses: { '200': { description: 'The scale.', content: scale }, ...errors('401', '403', '404', '429') } }),
    put: op('replaceScale', `Replace the scale of a ${label}`, {
      parameters: params('dryRun'),
      requestBody: { required: true, description: 'An autoscaling/v1 Scale; without metadata.resourceVersion the gateway retries on conflicts.', content: scale },
      responses: { '200': { description: 'The new scale.', content: scale }, ...errors('400', '401', '403', '404', '409', '413', '415', '422', '429') },
    }),
    patch: op('patchScale', `Patch the scale of a ${label} (RBAC: patch on the scale subresource)`, {
      parameters: PATCH_PARAMETERS,
      requestBody: patchBody('Scale'),
      responses: { '200': { description: 'The new scale.', content: scale }, ...errors('400', '401', '403', '404', '409', '413', '415', '422', '429') },
    }),
  };
}
