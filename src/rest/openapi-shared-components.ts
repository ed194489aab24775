// Components of the REST facade's OpenAPI document that every resource shares, used by the live
// per-CRD document and by the generic openapi.yaml alike.
import { ApiErrorCode, authReasons } from '../api-errors.ts';
import { CONSISTENCY_DESCRIPTION, ORDER_BY_DESCRIPTION, WHERE_DESCRIPTION, WHERE_EXAMPLE } from './openapi-query-schemas.ts';

export function ref(schemaName: string): { $ref: string } {
  return { $ref: `#/components/schemas/${schemaName}` };
}

const stringMap = { type: 'object', additionalProperties: { type: 'string' } };

export const SHARED_COMPONENT_SCHEMAS: Record<string, unknown> = {
  ObjectMeta: {
    type: 'object',
    description: 'Standard Kubernetes object metadata (metav1.ObjectMeta).',
    properties: {
      name: { type: 'string' },
      generateName: { type: 'string' },
      namespace: { type: 'string' },
      selfLink: { type: 'string' },
      uid: { type: 'string' },
      resourceVersion: { type: 'string' },
      generation: { type: 'integer', format: 'int64' },
      creationTimestamp: { type: 'string', format: 'date-time' },
      deletionTimestamp: { type: 'string', format: 'date-time' },
      deletionGracePeriodSeconds: { type: 'integer', format: 'int64' },
      labels: stringMap,
      annotations: stringMap,
      ownerReferences: { type: 'array', items: ref('OwnerReference') },
      finalizers: { type: 'array', items: { type: 'string' } },
      managedFields: { type: 'array', items: ref('ManagedFieldsEntry') },
    },
  },
  OwnerReference: {
    type: 'object',
    required: ['apiVersion', 'kind', 'name', 'uid'],
    properties: {
      apiVersion: { type: 'string' },
      kind: { type: 'string' },
      name: { type: 'string' },
      uid: { type: 'string' },
      controller: { type: 'boolean' },
      blockOwnerDeletion: { type: 'boolean' },
    },
  },
  ManagedFieldsEntry: {
    type: 'object',
    properties: {
      manager: { type: 'string' },
      operation: { type: 'string' },
      apiVersion: { type: 'string' },
      time: { type: 'string', format: 'date-time' },
      fieldsType: { type: 'string' },
      fieldsV1: { type: 'object' },
      subresource: { type: 'string' },
    },
  },
  ListMeta: {
    type: 'object',
    properties: {
      resourceVersion: { type: 'string' },
      continue: { type: 'string', description: 'Pass as ?continue= to get the next page.' },
      remainingItemCount: { type: 'integer', format: 'int64', description: 'Objects after this page: exact for filtered or sorted lists, an estimate otherwise.' },
      totalCount: { type: 'integer', description: 'Filtered or sorted lists (where, orderBy, consistency=CACHED): the objects that match, on all pages.' },
    },
  },
  Status: {
    type: 'object',
    description: 'A Kubernetes Status (metav1.Status).',
    properties: {
      apiVersion: { type: 'string' },
      kind: { type: 'string', const: 'Status' },
      status: { type: 'string' },
      message: { type: 'string' },
      reason: { type: 'string' },
      code: { type: 'integer' },
      details: { type: 'object' },
    },
  },
  Problem: {
    type: 'object',
    description: 'An RFC 9457 problem document, carrying the Kubernetes reason and causes where there are any.',
    required: ['type', 'title', 'status', 'detail', 'code'],
    // Closed, so a field the gateway starts sending without describing it fails the contract tests.
    additionalProperties: false,
    properties: {
      type: { type: 'string', format: 'uri-reference', description: 'Identifies the kind of problem: urn:crdgate:problem:<code in kebab case>.' },
      title: { type: 'string' },
      status: { type: 'integer', description: 'The HTTP status code.' },
      detail: { type: 'string' },
      instance: { type: 'string', format: 'uri-reference', description: 'The path and query of the request.' },
      code: { type: 'string', enum: Object.values(ApiErrorCode), description: 'Stable machine-readable error code of crdgate.' },
      reason: { type: 'string', description: 'The Kubernetes Status reason, e.g. AlreadyExists, Conflict, Invalid, Expired.' },
      kubernetesCode: { type: 'integer', description: 'The HTTP status the Kubernetes API answered with, when it answered.' },
      causes: {
        type: 'array',
        description: 'INVALID: one entry per offending field, as Kubernetes reports them.',
        items: {
          type: 'object',
          required: ['message'],
          additionalProperties: false,
          properties: {
            type: { type: 'string', description: 'The Kubernetes cause reason, e.g. FieldValueInvalid.' },
            message: { type: 'string' },
            field: { type: 'string', description: 'The offending field as Kubernetes names it, e.g. spec.replicas.' },
            path: { type: 'array', items: { type: ['string', 'integer'] }, description: 'The same field as a GraphQL path.' },
          },
        },
      },
      retryAfterSeconds: { type: 'integer', description: 'TOO_MANY_REQUESTS: also sent as the Retry-After header.' },
      currentResourceVersion: { type: 'string', description: 'CONFLICT on a write: the resourceVersion of the object now.' },
      hint: { type: 'string', description: 'GONE: what to do next.' },
      resourceVersion: { type: 'string', description: 'SLOW_CONSUMER, UNAVAILABLE of a watch: the resourceVersion of the last event delivered, to resume from.' },
      name: { type: 'string' },
      kind: { type: 'string' },
      group: { type: 'string' },
      authReason: {
        type: 'string',
        description: 'UNAUTHENTICATED and FORBIDDEN from authentication: why the caller was refused.',
        enum: [...authReasons],
      },
    },
  },
  Scale: {
    type: 'object',
    description: 'The scale subresource (autoscaling/v1 Scale).',
    properties: {
      apiVersion: { type: 'string' },
      kind: { type: 'string', const: 'Scale' },
      metadata: ref('ObjectMeta'),
      spec: { type: 'object', properties: { replicas: { type: 'integer', format: 'int32' } } },
      status: {
        type: 'object',
        properties: { replicas: { type: 'integer', format: 'int32' }, selector: { type: 'string' } },
      },
    },
  },
  WatchEvent: {
    description:
      'The `data` of one Server-Sent Event of a watch: a Kubernetes watch event. ERROR carries a ' +
      'problem document instead of a Kubernetes Status.',
    oneOf: [ref('ObjectWatchEvent'), ref('BookmarkWatchEvent'), ref('ErrorWatchEvent')],
  },
  ObjectWatchEvent: {
    type: 'object',
    required: ['type', 'object'],
    additionalProperties: false,
    properties: {
      type: { type: 'string', enum: ['ADDED', 'MODIFIED', 'DELETED'] },
      object: { type: 'object', description: 'The object; for DELETED its last state.' },
    },
  },
  BookmarkWatchEvent: {
    type: 'object',
    description: 'The stream has reached resourceVersion; with the annotation k8s.io/initial-events-end, the initial state is complete (SSE event INITIAL_STATE_DONE).',
    required: ['type', 'object'],
    additionalProperties: false,
    properties: {
      type: { type: 'string', const: 'BOOKMARK' },
      object: {
        type: 'object',
        required: ['metadata'],
        properties: {
          apiVersion: { type: 'string' },
          kind: { type: 'string' },
          metadata: {
            type: 'object',
            required: ['resourceVersion'],
            additionalProperties: false,
            properties: { resourceVersion: { type: 'string' }, annotations: stringMap },
          },
        },
      },
    },
  },
  ErrorWatchEvent: {
    type: 'object',
    description: 'The watch failed and the stream ends (GONE: the resume point is too old; SLOW_CONSUMER; FORBIDDEN...).',
    required: ['type', 'object'],
    additionalProperties: false,
    properties: {
      type: { type: 'string', const: 'ERROR' },
      object: ref('Problem'),
    },
  },
  KubernetesWatchEvent: {
    description:
      'One line of a watch in Kubernetes\' own format (Accept: application/json): a Kubernetes watch ' +
      'event, ERROR carrying a Kubernetes Status.',
    oneOf: [ref('ObjectWatchEvent'), ref('BookmarkWatchEvent'), ref('StatusWatchEvent')],
  },
  StatusWatchEvent: {
    type: 'object',
    description: 'The watch failed and the stream ends, as the apiserver says it: a Status (410 Expired: the resume point is too old). Its details carry the problem document.',
    required: ['type', 'object'],
    additionalProperties: false,
    properties: {
      type: { type: 'string', const: 'ERROR' },
      object: {
        allOf: [ref('Status')],
        required: ['kind', 'apiVersion', 'status', 'message', 'reason', 'code', 'details'],
        properties: { details: { type: 'object', required: ['problem'], properties: { problem: ref('Problem') } } },
      },
    },
  },
  JsonPatch: {
    type: 'array',
    description: 'An RFC 6902 JSON patch; paths use Kubernetes property names.',
    items: {
      type: 'object',
      required: ['op', 'path'],
      properties: {
        op: { type: 'string', enum: ['add', 'remove', 'replace', 'move', 'copy', 'test'] },
        path: ref('JsonPointer'),
        from: ref('JsonPointer'),
        value: {},
      },
      // add, replace and test need a value (null writes null); move and copy need from.
      allOf: [
        { if: { properties: { op: { enum: ['add', 'replace', 'test'] } } }, then: { required: ['value'], properties: { value: {} } } },
        { if: { properties: { op: { enum: ['move', 'copy'] } } }, then: { required: ['from'], properties: { from: ref('JsonPointer') } } },
      ],
    },
  },
  JsonPointer: {
    type: 'string',
    description: 'An RFC 6901 JSON pointer: empty, or / then tokens in which ~ is followed by 0 or 1.',
    pattern: '^(/([^~]|~[01])*)*$',
  },
  Where: {
    type: 'object',
    description: 'A filter (see the where parameter); the per-CRD document at /openapi.json describes the fields of each resource.',
    properties: { metadata: ref('ObjectMetaWhere'), and: { type: 'array', items: ref('Where') }, or: { type: 'array', items: ref('Where') }, not: ref('Where') },
    additionalProperties: true,
  },
  DeleteOptions: {
    type: 'object',
    properties: {
      apiVersion: { type: 'string' },
      kind: { type: 'string', const: 'DeleteOptions' },
      propagationPolicy: { type: 'string', enum: ['Orphan', 'Background', 'Foreground'] },
      gracePeriodSeconds: { type: 'integer', format: 'int64' },
      dryRun: { type: 'array', items: { type: 'string', enum: ['All'] } },
      preconditions: { type: 'object', properties: { uid: { type: 'string' }, resourceVersion: { type: 'string' } } },
    },
  },
};

const query = (name: string, schema: Record<string, unknown>, description: string) => ({ name, in: 'query', required: false, schema, description });

export const SHARED_PARAMETERS: Record<string, unknown> = {
  namespace: { name: 'namespace', in: 'path', required: true, schema: { type: 'string' }, description: 'The namespace.' },
  name: { name: 'name', in: 'path', required: true, schema: { type: 'string' }, description: 'The object name.' },
  labelSelector: query('labelSelector', { type: 'string' }, 'Kubernetes label selector, e.g. app=web,tier!=db.'),
  fieldSelector: query('fieldSelector', { type: 'string' }, 'Kubernetes field selector: metadata.name, metadata.namespace and the selectableFields of the CRD.'),
  limit: query('limit', { type: 'integer', minimum: 0 }, 'Page size: at most 1000 objects per page (a larger limit gets 1000 and the continue token, as Kubernetes may answer fewer than the limit); 0 or none: the gateway\'s default page.'),
  continue: query('continue', { type: 'string' }, 'The metadata.continue of the previous page.'),
  resourceVersion: query('resourceVersion', { type: 'string' }, 'Kubernetes resourceVersion semantics (list: freshness; watch: start after it, or with sendInitialEvents the oldest initial state accepted; unset or 0: the current objects first).'),
  resourceVersionMatch: query('resourceVersionMatch', { type: 'string', enum: ['NotOlderThan', 'Exact'] }, 'How resourceVersion applies to a list; on a watch, NotOlderThan only, required by sendInitialEvents and refused without it (422).'),
  watch: query('watch', { type: 'boolean' }, 'Stream changes instead of returning a list: Kubernetes\' watch format (JSON lines), or Server-Sent Events to a client that prefers text/event-stream.'),
  allowWatchBookmarks: query('allowWatchBookmarks', { type: 'boolean', default: false },
    'Let the stream carry BOOKMARK events, among them the end of the initial state (k8s.io/initial-events-end; INITIAL_STATE_DONE in SSE); off unless asked for, as in Kubernetes.'),
  sendInitialEvents: query('sendInitialEvents', { type: 'boolean' },
    'With watch and resourceVersionMatch=NotOlderThan: send existing objects first (ADDED), then (with ' +
      'allowWatchBookmarks=true) the BOOKMARK annotated k8s.io/initial-events-end (INITIAL_STATE_DONE in SSE), or not ' +
      '(false). Unset: true without a resourceVersion or with 0, false with one.'),
  timeoutSeconds: query('timeoutSeconds', { type: 'integer', minimum: 0 }, 'With watch: end the stream after this many seconds.'),
  where: { name: 'where', in: 'query', required: false, description: WHERE_DESCRIPTION, content: { 'application/json': { schema: ref('Where'), example: WHERE_EXAMPLE } } },
  orderBy: query('orderBy', { type: 'string' }, ORDER_BY_DESCRIPTION),
  consistency: query('consistency', { type: 'string', enum: ['CACHED', 'STRONG'] }, CONSISTENCY_DESCRIPTION),
  lastEventId: {
    name: 'Last-Event-ID', in: 'header', required: false, schema: { type: 'string' },
    description: 'With watch: resume after this event (its id, a resourceVersion), as EventSource does on reconnect; it wins over ?resourceVersion= and sendInitialEvents, which the reconnecting URL still carries.',
  },
  dryRun: query('dryRun', { type: 'string', enum: ['All'] }, 'Validate and run admission, persist nothing.'),
  fieldManager: query('fieldManager', { type: 'string' }, 'The manager name recorded in managedFields; required for apply patches.'),
  fieldValidation: query('fieldValidation', { type: 'string', enum: ['Ignore', 'Warn', 'Strict'] },
    'What Kubernetes does with unknown or duplicate fields: drop them (Ignore, or Warn, the default, whose warnings the facade does not relay) or refuse the request with 400 (Strict).'),
  force: query('force', { type: 'boolean' }, 'Apply patches only: take ownership of conflicting fields.'),
  propagationPolicy: query('propagationPolicy', { type: 'string', enum: ['Orphan', 'Background', 'Foreground'] }, 'What happens to dependents.'),
  gracePeriodSeconds: query('gracePeriodSeconds', { type: 'integer', format: 'int64', minimum: 0 }, 'Seconds before deletion; 0 deletes immediately.'),
};

const PROBLEM_STATUSES: Record<string, string> = {
  '400': 'The request is malformed (a bad query parameter, body or selector; an unknown field with fieldValidation=Strict).',
  '401': 'No valid bearer token (tenants configured).',
  '403': 'Kubernetes RBAC denies this to the caller.',
  '404': 'No such object, resource, version or subresource.',
  '409': 'Conflict: the object exists already, changed since the given resourceVersion, or an apply conflicts with another field manager.',
  '410': 'The resourceVersion or continue token is too old; list again.',
  '413': 'The body is larger than the facade takes (3 MB, as Kubernetes), or the object or patch larger than Kubernetes takes.',
  '415': 'Unsupported content type (e.g. strategic merge patch, which Kubernetes refuses for custom resources).',
  '422': 'The object is invalid for the CRD schema; `causes` lists the fields.',
  '429': 'Kubernetes is throttling; retry after Retry-After seconds.',
};

const problemContent = { 'application/problem+json': { schema: ref('Problem') } };

const PROBLEM_HEADERS: Record<string, Record<string, unknown>> = {
  '401': {
    'WWW-Authenticate': { description: 'Bearer realm="crdgate"; when a token was sent, with the RFC 6750 error (invalid_token) and its description.', schema: { type: 'string' } },
  },
  '429': {
    'Retry-After': { description: 'Seconds to wait before retrying.', required: true, schema: { type: 'integer', minimum: 0 } },
  },
};

export const SHARED_RESPONSES: Record<string, unknown> = {
  Problem: { description: 'An error, as an RFC 9457 problem document.', content: problemContent },
  ...Object.fromEntries(Object.entries(PROBLEM_STATUSES).map(([status, description]) => [
    `Problem${status}`,
    { description, ...(PROBLEM_HEADERS[status] ? { headers: PROBLEM_HEADERS[status] } : {}), content: problemContent },
  ])),
};

/**
 * Declared as required: that is the contract with tenants, where it matters. A gateway without
 * tenants ignores the header and every caller acts as the gateway.
 */
export const SECURITY = [{ bearerAuth: [] }];

export const SECURITY_SCHEMES = {
  bearerAuth: {
    type: 'http', scheme: 'bearer', bearerFormat: 'JWT',
    description: 'A tenant token, checked when the gateway is configured with tenants (401 without a valid one); a gateway without tenants ignores it.',
  },
};

export const SSE_DESCRIPTION =
  'With watch=true, to a client that prefers text/event-stream (EventSource): Server-Sent Events, one per Kubernetes watch event. `event:` is ADDED, MODIFIED, ' +
  'DELETED, BOOKMARK, INITIAL_STATE_DONE (the bookmark ending the initial state of sendInitialEvents) ' +
  'or ERROR (the stream then ends); BOOKMARK and INITIAL_STATE_DONE come only with allowWatchBookmarks=true. ' +
  '`id:` is the resourceVersion the stream has reached (resume with Last-Event-ID or ?resourceVersion=); ' +
  'without bookmarks it moves only with changes, so EventSource clients should ask for them. ' +
  '`data:` is the watch event as JSON, described by this schema. ' +
  'Comment lines keep idle connections open. Failures found before the stream starts are problem ' +
  'documents with their HTTP status; later ones are an ERROR event.';

export const JSON_WATCH_DESCRIPTION =
  'Any other client (no Accept, any type, application/json or application/json;stream=watch) gets ' +
  'the watch in Kubernetes\' own format, as the apiserver writes it: Content-Type ' +
  'application/json, one watch event per line, the initial state ending with a BOOKMARK annotated ' +
  'k8s.io/initial-events-end, an ERROR event\'s object a Status; resume with ?resourceVersion=. ' +
  'Spaces between events keep idle connections open.';

// The vocabulary of the facade's operations, for the generic and the live document alike.

/** A JSON body. */
export const json = (schema: unknown) => ({ 'application/json': { schema } });
/** A body in JSON, or YAML: bodies the facade reads by Content-Type, answers it gives by Accept. */
export const jsonOrYaml = (schema: unknown) => ({ 'application/json': { schema }, 'application/yaml': { schema } });
/** References to the shared parameters of these names. */
export const parameterRefs = (...names: string[]) => names.map((n) => ({ $ref: `#/components/parameters/${n}` }));
/** The problem responses of these statuses, and the default one. */
export const problemResponses = (...codes: string[]) =>
  Object.fromEntries([...codes, 'default'].map((c) => [c, { $ref: `#/components/responses/${c === 'default' ? 'Problem' : `Problem${c}`}` }]));

export const LIST_PARAMETERS = parameterRefs('labelSelector', 'fieldSelector', 'limit', 'continue', 'resourceVersion', 'resourceVersionMatch',
  'watch', 'allowWatchBookmarks', 'sendInitialEvents', 'timeoutSeconds', 'lastEventId', 'where', 'orderBy', 'consistency');
/** The list parameters but where and orderBy, which the per-CRD document types for each version. */
export const UNTYPED_LIST_PARAMETERS = LIST_PARAMETERS.filter((p) => !/\/(where|orderBy)$/.test(p.$ref));
export const WRITE_PARAMETERS = parameterRefs('dryRun', 'fieldManager', 'fieldValidation');
export const PATCH_PARAMETERS = parameterRefs('dryRun', 'fieldManager', 'fieldValidation', 'force');
export const DELETE_PARAMETERS = parameterRefs('dryRun', 'propagationPolicy', 'gracePeriodSeconds');

/** A required object body, in JSON or YAML, of the named schema. */
export const objectBody = (schemaName: string, description: string) => ({ required: true, description, content: jsonOrYaml(ref(schemaName)) });
/** An answer carrying one object of the named schema. */
export const objectResponse = (schemaName: string, status: '200' | '201', description: string) =>
  ({ [status]: { description, content: jsonOrYaml(ref(schemaName)) } });
export const DELETE_OPTIONS_BODY = { required: false, description: 'DeleteOptions, e.g. preconditions (as kubectl sends them).', content: json(ref('DeleteOptions')) };
/** A patch body by Content-Type; an apply configuration is an object of the named schema. */
export const patchBody = (schemaName: string) => ({
  required: true,
  description:
    'A JSON merge patch, a JSON patch, or a server-side apply configuration, by Content-Type. ' +
    'Strategic merge patch is refused with 415, as Kubernetes does for custom resources.',
  content: {
    'application/merge-patch+json': { schema: { type: 'object' } },
    'application/json-patch+json': { schema: ref('JsonPatch') },
    'application/apply-patch+yaml': { schema: ref(schemaName) },
  },
});
