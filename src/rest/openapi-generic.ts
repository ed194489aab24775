// The OpenAPI 3.1 document of the REST facade for ANY custom resource: group, version, plural
// (and namespace, name) are path parameters, bodies are generic Kubernetes objects. It is the
// committed openapi.yaml (`npm run generate`); the live document at /openapi.json describes the
// same routes with the paths and schemas of the CRDs actually served. Pure.

import { stringifyYaml } from '../kube/lossless-json.ts';
import {
  DELETE_OPTIONS_BODY, DELETE_PARAMETERS, LIST_PARAMETERS, PATCH_PARAMETERS, SECURITY, SECURITY_SCHEMES, SHARED_COMPONENT_SCHEMAS, SHARED_PARAMETERS,
  JSON_WATCH_DESCRIPTION, SHARED_RESPONSES, SSE_DESCRIPTION, WRITE_PARAMETERS, jsonOrYaml, objectBody as objectBodyOf, objectResponse as objectResponseOf,
  parameterRefs as params, patchBody as patchBodyOf, problemResponses as errors, ref,
} from './openapi-shared-components.ts';
import { filterComponentSchemas } from './openapi-query-schemas.ts';

export const GENERIC_OPENAPI_FILE = 'openapi.yaml';

const pathParam = (name: string, description: string, pattern?: string) => ({
  name, in: 'path', required: true, schema: { type: 'string', ...(pattern ? { pattern } : {}) }, description,
});

const GENERIC_PARAMETERS: Record<string, unknown> = {
  group: pathParam('group', 'The API group of the CRD, e.g. stable.example.com.'),
  version: pathParam('version', 'A served version of the CRD, e.g. v1.'),
  plural: pathParam('plural', 'The plural resource name of the CRD, e.g. crontabs.'),
};

const GENERIC_SCHEMAS: Record<string, unknown> = {
  KubernetesObject: {
    type: 'object',
    description: 'A custom resource in Kubernetes JSON; its spec and status follow the CRD schema (see /openapi.json).',
    properties: {
      apiVersion: { type: 'string', description: 'group/version; the facade fills it in from the path.' },
      kind: { type: 'string', description: 'The kind; the facade fills it in from the path.' },
      metadata: ref('ObjectMeta'),
    },
    additionalProperties: true,
  },
  KubernetesList: {
    type: 'object',
    description: 'A list of custom resources (kind is the CRD listKind).',
    required: ['apiVersion', 'kind', 'metadata', 'items'],
    properties: {
      apiVersion: { type: 'string' },
      kind: { type: 'string' },
      metadata: ref('ListMeta'),
      items: { type: 'array', items: ref('KubernetesObject') },
    },
  },
};

type Operation = Record<string, unknown>;

function operation(operationId: string, summary: string, tag: string, rest: Operation): Operation {
  return { operationId, summary, tags: [tag], ...rest };
}

const objectBody = (description: string) => objectBodyOf('KubernetesObject', description);
const objectResponse = (status: '200' | '201', description: string) => objectResponseOf('KubernetesObject', status, description);
const patchBody = patchBodyOf('KubernetesObject');
const listResponses = {
  '200': {
    description: `The objects. ${SSE_DESCRIPTION} ${JSON_WATCH_DESCRIPTION}`,
    content: {
      ...jsonOrYaml(ref('KubernetesList')),
      'text/event-stream': { schema: ref('WatchEvent') },
      'application/json;stream=watch': { schema: ref('KubernetesWatchEvent') },
    },
  },
  ...errors('400', '401', '403', '404', '410', '422', '429'),
};

/** The operations on one collection/item/subresource path; `scope` names them apart. */
function resourcePaths(prefix: string, scope: 'Namespaced' | 'Cluster', tag: string): Record<string, Record<string, unknown>> {
  const namespaced = scope === 'Namespaced';
  const collection = namespaced ? `${prefix}/{group}/{version}/namespaces/{namespace}/{plural}` : `${prefix}/{group}/{version}/{plural}`;
  const item = `${collection}/{name}`;
  const scopeParams = params('group', 'version', ...(namespaced ? ['namespace'] : []), 'plural');
  const itemParams = [...scopeParams, ...params('name')];
  const id = (verb: string) => `${verb}${scope}`;
  const where = namespaced ? 'in a namespace' : 'of a cluster-scoped resource (or, for list, of a namespaced one in all namespaces)';
  const paths: Record<string, Record<string, unknown>> = {};
  paths[collection] = {
    parameters: scopeParams,
    get: operation(id('list'), namespaced ? 'List or watch objects in a namespace' : 'List or watch cluster-scoped objects, or namespaced objects in all namespaces', tag, {
      parameters: LIST_PARAMETERS,
      responses: listResponses,
    }),
    post: operation(id('create'), `Create an object ${namespaced ? 'in a namespace' : '(cluster-scoped)'}`, tag, {
      parameters: WRITE_PARAMETERS,
      requestBody: objectBody('The new object; apiVersion and kind come from the path, metadata.namespace defaults to it.'),
      responses: { ...objectResponse('201', 'Created (or, with dryRun, what would be created).'), ...errors('400', '401', '403', '404', '409', '413', '415', '422', '429') },
    }),
    delete: operation(id('deleteCollection'), `Delete the objects matching the selectors ${where}`, tag, {
      parameters: [...params('labelSelector', 'fieldSelector'), ...DELETE_PARAMETERS],
      requestBody: DELETE_OPTIONS_BODY,
      responses: {
        '200': { description: 'The deleted objects, or a Status.', content: jsonOrYaml({ anyOf: [ref('KubernetesList'), ref('Status')] }) },
        ...errors('400', '401', '403', '404', '413', '415', '429'),
      },
    }),
  };
  paths[item] = {
    parameters: itemParams,
    get: operation(id('read'), 'Read an object', tag, { responses: { ...objectResponse('200', 'The object.'), ...errors('401', '403', '404', '429') } }),
    put: operation(id('replace'), 'Replace an object', tag, {
      parameters: WRITE_PARAMETERS,
      requestBody: objectBody('The whole object; set metadata.resourceVersion for optimistic concurrency.'),
      responses: { ...objectResponse('200', 'Replaced.'), ...errors('400', '401', '403', '404', '409', '413', '415', '422', '429') },
    }),
    patch: operation(id('patch'), 'Patch an object', tag, {
      parameters: PATCH_PARAMETERS,
      requestBody: patchBody,
      responses: {
        ...objectResponse('200', 'Patched.'), ...objectResponse('201', 'Created by an apply patch of an object that did not exist.'),
        ...errors('400', '401', '403', '404', '409', '413', '415', '422', '429'),
      },
    }),
    delete: operation(id('delete'), 'Delete an object', tag, {
      parameters: DELETE_PARAMETERS,
      requestBody: DELETE_OPTIONS_BODY,
      responses: {
        '200': { description: 'The object (deletion pending finalizers, or deleted) or a Status.', content: jsonOrYaml({ anyOf: [ref('KubernetesObject'), ref('Status')] }) },
        ...errors('400', '401', '403', '404', '409', '413', '415', '422', '429'),
      },
    }),
  };
  paths[`${item}/status`] = {
    parameters: itemParams,
    get: operation(id('readStatus'), 'Read an object through its status subresource', tag, {
      responses: { ...objectResponse('200', 'The object.'), ...errors('401', '403', '404', '429') },
    }),
    put: operation(id('replaceStatus'), 'Replace the status of an object', tag, {
      parameters: WRITE_PARAMETERS,
      requestBody: objectBody('The object; only its status is written. Without metadata.resourceVersion the gateway reads the object and retries on conflicts.'),
      responses: { ...objectResponse('200', 'Replaced.'), ...errors('400', '401', '403', '404', '409', '413', '415', '422', '429') },
    }),
    patch: operation(id('patchStatus'), 'Patch the status of an object (RBAC: patch on the status subresource)', tag, {
      parameters: PATCH_PARAMETERS,
      requestBody: patchBody,
      responses: { ...objectResponse('200', 'Patched; only the status is written.'), ...errors('400', '401', '403', '404', '409', '413', '415', '422', '429') },
    }),
  };
  {
    const scale = jsonOrYaml(ref('Scale'));
    paths[`${item}/scale`] = {
      parameters: itemParams,
      get: operation(id('readScale'), 'Read the scale subresource', tag, { responses: { '200': { description: 'The scale.', content: scale }, ...errors('401', '403', '404', '429') } }),
      put: operation(id('replaceScale'), 'Replace the scale subresource', tag, {
        parameters: params('dryRun'),
        requestBody: { required: true, description: 'An autoscaling/v1 Scale; without metadata.resourceVersion the gateway retries on conflicts.', content: scale },
        responses: { '200': { description: 'The new scale.', content: scale }, ...errors('400', '401', '403', '404', '409', '413', '415', '422', '429') },
      }),
      patch: operation(id('patchScale'), 'Patch the scale subresource (RBAC: patch on the scale subresource)', tag, {
        parameters: PATCH_PARAMETERS,
        requestBody: patchBodyOf('Scale'),
        responses: { '200': { description: 'The new scale.', content: scale }, ...errors('400', '401', '403', '404', '409', '413', '415', '422', '429') },
      }),
    };
  }
  return paths;
}

function documentPaths(): Record<string, Record<string, unknown>> {
  const documentResponse = (type: string) => ({
    '200': { description: 'The OpenAPI 3.1 document of the resources the caller may use.', content: { [type]: { schema: { type: 'object' } } } },
    ...errors('401', '403'),
  });
  return {
    '/openapi.json': {
      get: operation('getOpenApiJson', 'The live OpenAPI document, per CRD and per tenant, as JSON', 'Documents', { responses: documentResponse('application/json') }),
    },
    '/openapi.yaml': {
      get: operation('getOpenApiYaml', 'The live OpenAPI document, per CRD and per tenant, as YAML', 'Documents', { responses: documentResponse('application/yaml') }),
    },
  };
}

export function buildGenericOpenApiDocument(options: { version?: string; prefix?: string } = {}): Record<string, unknown> {
  const prefix = (options.prefix ?? '/rest').replace(/\/$/, '');
  return {
    openapi: '3.1.0',
    info: {
      title: 'crdgate REST facade',
      version: options.version ?? '0.1.0',
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
      description:
        'Kubernetes-shaped REST access to the custom resources of a cluster, as the caller, for any ' +
        'CRD: group, version and plural are path parameters. Bodies are Kubernetes JSON (YAML with ' +
        '`Accept: application/yaml` or a YAML Content-Type); `?watch=true` on a list streams ' +
        'Kubernetes watch events (Server-Sent Events to a client that prefers text/event-stream); errors are RFC 9457 problem documents. The gateway serves the same ' +
        'routes with the schemas of the CRDs it serves at /openapi.json.',
    },
    servers: [{ url: '/', description: 'The gateway' }],
    security: SECURITY,
    tags: [
      { name: 'Namespaced', description: 'Namespaced custom resources: /rest/{group}/{version}/namespaces/{namespace}/{plural}.' },
      { name: 'Cluster', description: 'Cluster-scoped custom resources, and namespaced ones listed or watched in all namespaces: /rest/{group}/{version}/{plural}.' },
      { name: 'Documents', description: 'The live OpenAPI document.' },
    ],
    paths: {
      ...resourcePaths(prefix, 'Namespaced', 'Namespaced'),
      ...resourcePaths(prefix, 'Cluster', 'Cluster'),
      ...documentPaths(),
    },
    components: {
      schemas: { ...SHARED_COMPONENT_SCHEMAS, ...filterComponentSchemas(['ObjectMetaWhere']), ...GENERIC_SCHEMAS },
      parameters: { ...GENERIC_PARAMETERS, ...SHARED_PARAMETERS },
      responses: SHARED_RESPONSES,
      securitySchemes: SECURITY_SCHEMES,
    },
  };
}

export function renderGenericOpenApi(): string {
  return '# Generated by `npm run generate` from src/rest/openapi-generic.ts: do not edit.\n' +
    stringifyYaml(buildGenericOpenApiDocument(), { lineWidth: 0 });
}
