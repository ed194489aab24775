// Types every resource shares: Kubernetes ObjectMeta and friends, paging, watch and patch
// vocabulary. Their names contain no `_`, so they can never clash with generated names.

import {
  GraphQLBoolean,
  GraphQLEnumType,
  GraphQLInputObjectType,
  GraphQLInt,
  GraphQLList,
  GraphQLNonNull,
  GraphQLObjectType,
  GraphQLString,
} from 'graphql';
import { lastSeen } from '../kube/event-time.ts';
import { sourceOnly } from './compiled-execution.ts';
import { DateTimeScalar, Int64Scalar, JSONScalar, StringMapScalar } from './scalars.ts';

const nonNull = <T extends GraphQLObjectType | GraphQLInputObjectType>(t: T) => new GraphQLNonNull(t);

export const OwnerReferenceType = new GraphQLObjectType({
  name: 'OwnerReference',
  description: 'An object this one depends on (metav1.OwnerReference).',
  fields: {
    apiVersion: { type: GraphQLString },
    kind: { type: GraphQLString },
    name: { type: GraphQLString },
    uid: { type: GraphQLString },
    controller: { type: GraphQLBoolean },
    blockOwnerDeletion: { type: GraphQLBoolean },
  },
});

export const OwnerReferenceInputType = new GraphQLInputObjectType({
  name: 'OwnerReferenceInput',
  fields: {
    apiVersion: { type: new GraphQLNonNull(GraphQLString) },
    kind: { type: new GraphQLNonNull(GraphQLString) },
    name: { type: new GraphQLNonNull(GraphQLString) },
    uid: { type: new GraphQLNonNull(GraphQLString) },
    controller: { type: GraphQLBoolean },
    blockOwnerDeletion: { type: GraphQLBoolean },
  },
});

const managedFieldsFields = {
  manager: { type: GraphQLString },
  operation: { type: GraphQLString, description: 'Apply or Update.' },
  apiVersion: { type: GraphQLString },
  time: { type: DateTimeScalar },
  fieldsType: { type: GraphQLString },
  fieldsV1: { type: JSONScalar, description: 'The field set in the FieldsV1 format, as Kubernetes returns it.' },
  subresource: { type: GraphQLString },
};

export const ManagedFieldsEntryType = new GraphQLObjectType({
  name: 'ManagedFieldsEntry',
  description: 'Which manager owns which fields (server-side apply bookkeeping).',
  fields: managedFieldsFields,
});

export const ManagedFieldsEntryInputType = new GraphQLInputObjectType({
  name: 'ManagedFieldsEntryInput',
  fields: managedFieldsFields,
});

/** ObjectMeta's fields, output or input: they differ only in the types of the nested lists. */
function objectMetaFields<T extends GraphQLObjectType | GraphQLInputObjectType>(ownerReference: T, managedFields: T) {
  return {
    name: { type: GraphQLString, description: 'Unique within a namespace (or the cluster, for cluster-scoped resources).' },
    generateName: { type: GraphQLString, description: 'A prefix the server completes into a unique name when name is empty.' },
    namespace: { type: GraphQLString },
    selfLink: { type: GraphQLString },
    uid: { type: GraphQLString },
    resourceVersion: { type: GraphQLString, description: 'Opaque version for optimistic concurrency: a replace with a stale value fails with a conflict.' },
    generation: { type: Int64Scalar },
    creationTimestamp: { type: DateTimeScalar },
    deletionTimestamp: { type: DateTimeScalar },
    deletionGracePeriodSeconds: { type: Int64Scalar },
    labels: { type: StringMapScalar, description: 'Key/value labels, e.g. {"app.kubernetes.io/name": "web"}.' },
    annotations: { type: StringMapScalar },
    ownerReferences: { type: new GraphQLList(nonNull(ownerReference)) },
    finalizers: { type: new GraphQLList(new GraphQLNonNull(GraphQLString)) },
    managedFields: { type: new GraphQLList(nonNull(managedFields)) },
  };
}

export const ObjectMetaType = new GraphQLObjectType({
  name: 'ObjectMeta',
  description: 'Standard Kubernetes object metadata (metav1.ObjectMeta).',
  fields: () => objectMetaFields(OwnerReferenceType, ManagedFieldsEntryType),
});

export const ObjectMetaInputType = new GraphQLInputObjectType({
  name: 'ObjectMetaInput',
  description:
    'Object metadata as sent to Kubernetes. Read-only fields (uid, creationTimestamp, ...) are ' +
    'accepted so that an object read from the API can be sent back unchanged.',
  fields: () => objectMetaFields(OwnerReferenceInputType, ManagedFieldsEntryInputType),
});

export const PageInfoType = new GraphQLObjectType({
  name: 'PageInfo',
  description:
    'Relay page information. Pages go forward only: hasPreviousPage is always false. Plain lists: ' +
    'endCursor is the continue token of the list call and startCursor is null. Filtered or sorted ' +
    'lists: startCursor and endCursor are the cursors of the first and last edges.',
  fields: {
    hasNextPage: { type: new GraphQLNonNull(GraphQLBoolean) },
    hasPreviousPage: { type: new GraphQLNonNull(GraphQLBoolean) },
    startCursor: { type: GraphQLString },
    endCursor: { type: GraphQLString, description: 'Pass as `after` (or `continue`) to get the next page.' },
  },
});

export const StatusType = new GraphQLObjectType({
  name: 'Status',
  description: 'A Kubernetes Status (metav1.Status), as returned by some deletes.',
  fields: {
    status: { type: GraphQLString, description: 'Success or Failure.' },
    message: { type: GraphQLString },
    reason: { type: GraphQLString },
    code: { type: GraphQLInt },
    details: { type: JSONScalar },
  },
});

export const ScaleType = new GraphQLObjectType({
  name: 'Scale',
  description: 'The scale subresource (autoscaling/v1 Scale).',
  fields: () => ({
    apiVersion: { type: GraphQLString },
    kind: { type: GraphQLString },
    metadata: { type: ObjectMetaType },
    spec: {
      type: new GraphQLObjectType({
        name: 'ScaleSpec',
        fields: { replicas: { type: GraphQLInt, description: 'Desired number of replicas.' } },
      }),
    },
    status: {
      type: new GraphQLObjectType({
        name: 'ScaleStatus',
        fields: {
          replicas: { type: GraphQLInt, description: 'Observed number of replicas.' },
          selector: { type: GraphQLString, description: 'Label selector of the pods, in string form.' },
        },
      }),
    },
  }),
});

export const WatchEventTypeEnum = new GraphQLEnumType({
  name: 'WatchEventType',
  values: {
    ADDED: { description: 'The object was created, or is part of the initial state.' },
    MODIFIED: { description: 'The object changed.' },
    DELETED: { description: 'The object was deleted; `object` is its last state.' },
    INITIAL_STATE_DONE: {
      description: 'With sendInitialEvents: every object that existed when the watch started has been sent.',
    },
    BOOKMARK: {
      description: 'No change for this subscriber, but the stream has reached `resourceVersion`: resume from there. `object` is null.',
    },
  },
});

export const PatchTypeEnum = new GraphQLEnumType({
  name: 'PatchType',
  description:
    'How `patch` is applied. STRATEGIC is passed to Kubernetes, which refuses it for custom resources (UNSUPPORTED_MEDIA_TYPE, with its own reason).',
  values: {
    MERGE: { value: 'application/merge-patch+json', description: 'JSON merge patch (RFC 7386): `patch`; null deletes a field.' },
    JSON: { value: 'application/json-patch+json', description: 'JSON patch (RFC 6902): `jsonPatch`, paths use Kubernetes names.' },
    APPLY: { value: 'application/apply-patch+yaml', description: 'Server-side apply of `patch`; needs fieldManager.' },
    STRATEGIC: {
      value: 'application/strategic-merge-patch+json',
      description: 'Strategic merge patch: Kubernetes supports it for built-in types only and answers UNSUPPORTED_MEDIA_TYPE for custom resources.',
    },
  },
});

export const PatchSubresourceEnum = new GraphQLEnumType({
  name: 'PatchSubresource',
  description: 'A subresource a patch may change instead of the object, as `kubectl patch --subresource`.',
  values: {
    STATUS: {
      value: 'status',
      description: 'The status subresource: the patch changes status only (RBAC: patch on `<plural>/status`). A patch of the object itself leaves status as it was: Kubernetes ignores it there.',
    },
  },
});

export const PropagationPolicyEnum = new GraphQLEnumType({
  name: 'PropagationPolicy',
  description: 'What happens to dependents of a deleted object.',
  values: {
    Orphan: { description: 'Keep dependents, remove their owner references.' },
    Background: { description: 'Delete the object now, dependents in the background.' },
    Foreground: { description: 'Delete dependents first, then the object.' },
  },
});

export const JsonPatchOperationInputType = new GraphQLInputObjectType({
  name: 'JsonPatchOperation',
  description: 'One RFC 6902 operation. `path` and `from` are JSON pointers over Kubernetes property names.',
  fields: {
    op: {
      type: new GraphQLNonNull(
        new GraphQLEnumType({
          name: 'JsonPatchOp',
          values: { add: {}, remove: {}, replace: {}, move: {}, copy: {}, test: {} },
        }),
      ),
    },
    path: { type: new GraphQLNonNull(GraphQLString) },
    value: { type: JSONScalar },
    from: { type: GraphQLString },
  },
});

export const PreconditionsInputType = new GraphQLInputObjectType({
  name: 'PreconditionsInput',
  description: 'Delete only if the object still has this uid / resourceVersion.',
  fields: { uid: { type: GraphQLString }, resourceVersion: { type: GraphQLString } },
});

export const ResourceVersionInfoType = new GraphQLObjectType({
  name: 'ResourceVersionInfo',
  fields: {
    name: { type: new GraphQLNonNull(GraphQLString) },
    served: { type: new GraphQLNonNull(GraphQLBoolean) },
    storage: { type: new GraphQLNonNull(GraphQLBoolean) },
    deprecated: { type: new GraphQLNonNull(GraphQLBoolean) },
    deprecationWarning: { type: GraphQLString },
    typeName: { type: GraphQLString, description: 'The GraphQL object type of this version, when served.' },
    getField: { type: GraphQLString, description: 'The Query field that reads one object of this version.' },
    listField: { type: GraphQLString, description: 'The Query field that lists objects of this version.' },
  },
});

export const ResourceInfoType = new GraphQLObjectType({
  name: 'ResourceInfo',
  description: 'A custom resource this schema exposes, and where to find it.',
  fields: {
    crdName: { type: new GraphQLNonNull(GraphQLString) },
    group: { type: new GraphQLNonNull(GraphQLString) },
    kind: { type: new GraphQLNonNull(GraphQLString) },
    plural: { type: new GraphQLNonNull(GraphQLString) },
    singular: { type: new GraphQLNonNull(GraphQLString) },
    shortNames: { type: new GraphQLNonNull(new GraphQLList(new GraphQLNonNull(GraphQLString))) },
    categories: { type: new GraphQLNonNull(new GraphQLList(new GraphQLNonNull(GraphQLString))) },
    namespaced: { type: new GraphQLNonNull(GraphQLBoolean) },
    defaultVersion: { type: GraphQLString, description: 'The version behind the version-less root fields.' },
    listField: { type: GraphQLString, description: 'The Query field that lists objects of the default version.' },
    versions: { type: new GraphQLNonNull(new GraphQLList(new GraphQLNonNull(ResourceVersionInfoType))) },
  },
});

export const ObjectReferenceType = new GraphQLObjectType({
  name: 'ObjectReference',
  description: 'A reference to an object (core/v1 ObjectReference).',
  fields: {
    apiVersion: { type: GraphQLString },
    kind: { type: GraphQLString },
    name: { type: GraphQLString },
    namespace: { type: GraphQLString },
    uid: { type: GraphQLString },
    resourceVersion: { type: GraphQLString },
    fieldPath: { type: GraphQLString, description: 'A part of the object, e.g. spec.containers{name}.' },
  },
});

export const EventType = new GraphQLObjectType({
  name: 'Event',
  description: 'A core/v1 Event: something that happened to an object, as a controller reported it.',
  fields: () => ({
    metadata: { type: ObjectMetaType },
    involvedObject: { type: ObjectReferenceType, description: 'The object the Event is about.' },
    type: { type: GraphQLString, description: 'Normal or Warning.' },
    reason: { type: GraphQLString, description: 'Short, machine-readable, e.g. FailedScheduling.' },
    message: { type: GraphQLString },
    count: { type: GraphQLInt, description: 'How often it happened (older recorders).' },
    firstTimestamp: { type: DateTimeScalar },
    lastTimestamp: { type: DateTimeScalar },
    eventTime: { type: DateTimeScalar, description: 'When it was first observed (newer recorders), with microseconds.' },
    lastSeen: {
      type: DateTimeScalar,
      description: 'When it was last seen: series.lastObservedTime, else lastTimestamp, else eventTime, else firstTimestamp, else the creation time. Events are ordered by it.',
      resolve: sourceOnly((src: Record<string, unknown>) => lastSeen(src) ?? null),
    },
    series: {
      type: new GraphQLObjectType({
        name: 'EventSeries',
        description: 'A series of the same Event, seen repeatedly.',
        fields: { count: { type: GraphQLInt }, lastObservedTime: { type: DateTimeScalar } },
      }),
    },
    source: {
      type: new GraphQLObjectType({
        name: 'EventSource',
        fields: { component: { type: GraphQLString }, host: { type: GraphQLString } },
      }),
    },
    reportingComponent: { type: GraphQLString, description: 'The controller that reported it (events.k8s.io: reportingController).' },
    reportingInstance: { type: GraphQLString },
    action: { type: GraphQLString, description: 'What was done, or failed (newer recorders).' },
    related: { type: ObjectReferenceType, description: 'A second object involved, if any.' },
  }),
});
