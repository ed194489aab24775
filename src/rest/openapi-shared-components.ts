// Components of the REST facade's OpenAPI document that every resource shares.

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
      remainingItemCount: { type: 'integer', format: 'int64' },
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
    required: ['type', 'title', 'status', 'code'],
    properties: {
      type: { type: 'string', format: 'uri-reference', description: 'Identifies the kind of problem.' },
      title: { type: 'string' },
      status: { type: 'integer', description: 'The HTTP status code.' },
      detail: { type: 'string' },
      instance: { type: 'string', format: 'uri-reference' },
      code: { type: 'string', description: 'Stable machine-readable error code of crdgate, e.g. NOT_FOUND.' },
      reason: { type: 'string', description: 'The Kubernetes Status reason, e.g. AlreadyExists, Conflict, Invalid.' },
      causes: {
        type: 'array',
        items: {
          type: 'object',
          properties: {
            field: { type: 'string', description: 'The offending field, e.g. spec.replicas.' },
            reason: { type: 'string' },
            message: { type: 'string' },
          },
        },
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
    type: 'object',
    required: ['type', 'object'],
    properties: {
      type: { type: 'string', enum: ['ADDED', 'MODIFIED', 'DELETED', 'BOOKMARK', 'ERROR'] },
      object: { type: 'object', description: 'The object (a Status for ERROR).' },
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
        path: { type: 'string' },
        from: { type: 'string' },
        value: {},
      },
    },
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
  limit: query('limit', { type: 'integer', minimum: 0 }, 'Page size.'),
  continue: query('continue', { type: 'string' }, 'The metadata.continue of the previous page.'),
  resourceVersion: query('resourceVersion', { type: 'string' }, 'Kubernetes resourceVersion semantics (list: freshness; watch: start point).'),
  resourceVersionMatch: query('resourceVersionMatch', { type: 'string', enum: ['NotOlderThan', 'Exact'] }, 'How resourceVersion applies to a list.'),
  watch: query('watch', { type: 'boolean' }, 'Stream changes as Server-Sent Events instead of returning a list.'),
  allowWatchBookmarks: query('allowWatchBookmarks', { type: 'boolean' }, 'Let the stream carry BOOKMARK events.'),
  sendInitialEvents: query('sendInitialEvents', { type: 'boolean' }, 'With watch: send existing objects first, then a bookmark annotated k8s.io/initial-events-end.'),
  timeoutSeconds: query('timeoutSeconds', { type: 'integer', minimum: 0 }, 'End a watch after this many seconds.'),
  dryRun: query('dryRun', { type: 'string', enum: ['All'] }, 'Validate and run admission, persist nothing.'),
  fieldManager: query('fieldManager', { type: 'string' }, 'The manager name recorded in managedFields; required for apply patches.'),
  fieldValidation: query('fieldValidation', { type: 'string', enum: ['Ignore', 'Warn', 'Strict'] }, 'What to do with unknown or duplicate fields.'),
  force: query('force', { type: 'boolean' }, 'Apply patches only: take ownership of conflicting fields.'),
  propagationPolicy: query('propagationPolicy', { type: 'string', enum: ['Orphan', 'Background', 'Foreground'] }, 'What happens to dependents.'),
  gracePeriodSeconds: query('gracePeriodSeconds', { type: 'integer', format: 'int64', minimum: 0 }, 'Seconds before deletion; 0 deletes immediately.'),
};

const PROBLEM_STATUSES: Record<string, string> = {
  '400': 'The request is malformed.',
  '401': 'No valid bearer token.',
  '403': 'Kubernetes RBAC denies this to the caller.',
  '404': 'No such object (or namespace).',
  '409': 'Conflict: the object exists already, or changed since the given resourceVersion.',
  '410': 'The resourceVersion or continue token is too old; list again.',
  '415': 'Unsupported patch content type (e.g. strategic merge patch).',
  '422': 'The object is invalid for the CRD schema; `causes` lists the fields.',
};

const problemContent = { 'application/problem+json': { schema: ref('Problem') } };

export const SHARED_RESPONSES: Record<string, unknown> = {
  Problem: { description: 'An error, as an RFC 9457 problem document.', content: problemContent },
  ...Object.fromEntries(Object.entries(PROBLEM_STATUSES).map(([status, description]) => [`Problem${status}`, { description, content: problemContent }])),
};
