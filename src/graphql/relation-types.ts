// The relations every object has: `owners` (metadata.ownerReferences), `children` (objects of a
// kind whose ownerReferences name it) and `events` (its core/v1 Events). They are fields of the
// interface KubernetesResource, which every generated object type implements, and of
// KubernetesObject, the generic type of objects that are not served custom resources (Pods,
// ConfigMaps, ...). A related object is typed by its apiVersion and kind: the generated type when
// the schema has it, KubernetesObject otherwise (also when the caller's schema leaves it out).
import {
  GraphQLError, GraphQLInt, GraphQLInterfaceType, GraphQLList, GraphQLNonNull, GraphQLObjectType, GraphQLString, isObjectType, Kind,
  type FieldNode, type FragmentDefinitionNode, type GraphQLFieldConfigMap, type GraphQLSchema, type SelectionSetNode,
} from 'graphql';
import { ApiErrorCode } from '../api-errors.ts';
import type { ObjectRef, OwnerLookup, RelationOperations } from '../contract/relations.ts';
import { resourceTypeName } from '../model/graphql-type-names.ts';
import { sourceOnly } from './compiled-execution.ts';
import { spend } from './execution-budget.ts';
import { loadersOf } from './relation-loaders.ts';
import { DateTimeScalar, JSONScalar } from './scalars.ts';
import { EventType, ObjectMetaType } from './shared-types.ts';

type Source = Record<string, unknown>;
type Args = Record<string, unknown>;

export const RESOURCE_INTERFACE = 'KubernetesResource';
export const GENERIC_OBJECT = 'KubernetesObject';

/**
 * Relation fields carry `extensions.relation` (their name) and `callerDependent`: their answers
 * depend on who asks, not only on the object, so shared subscription results give an operation
 * selecting one a group of its own per subscriber.
 */
export function isRelationField(field: { extensions?: Readonly<Record<string, unknown>> | null }): boolean {
  return typeof field.extensions?.['relation'] === 'string';
}

/**
 * What the cost model assumes an `owners` list holds: objects have one owner (their controller),
 * sometimes two or three; more are rare.
 */
export const OWNERS_ASSUMED_SIZE = 5;

/**
 * The owners one execution of an operation may resolve in all: objects may name more owners than
 * OWNERS_ASSUMED_SIZE (each of 40 objects owned by all 40, say, which one tenant can write in its
 * own namespace), and nested owners then grow as their count to the power of the depth, past any
 * cost the limit allowed.
 */
export const MAX_OWNERS_PER_EXECUTION = 10_000;

function tooManyOwners(): GraphQLError {
  return new GraphQLError(`the operation's owners fields reach more than ${MAX_OWNERS_PER_EXECUTION} objects in all (objects here name more owners than the cost limit assumes); select fewer levels of owners, or fewer objects`,
    { extensions: { code: ApiErrorCode.BAD_REQUEST, httpStatus: 400 } });
}

export interface RelationTypes {
  /** The interface of every object: KubernetesResource. */
  readonly resource: GraphQLInterfaceType;
  /** The generic object type: KubernetesObject. */
  readonly object: GraphQLObjectType;
  /** owners, children and events, as every object type carries them. */
  readonly fields: GraphQLFieldConfigMap<Source, unknown>;
}

export function createRelationTypes(operations: RelationOperations): RelationTypes {
  const header = {
    apiVersion: { type: GraphQLString },
    kind: { type: GraphQLString },
    metadata: { type: ObjectMetaType },
  };
  let fields: GraphQLFieldConfigMap<Source, unknown>;
  const resource: GraphQLInterfaceType = new GraphQLInterfaceType({
    name: RESOURCE_INTERFACE,
    description: 'Any Kubernetes object, with its relations. Served custom resources are their generated types (use `... on <Type>`); other kinds are KubernetesObject.',
    fields: () => ({ ...header, ...fields }),
    resolveType: (value, _context, info) => typeNameOf(value as Source, info.schema, resource),
  });
  fields = relationFields(operations, resource);
  const object = new GraphQLObjectType<Source, unknown>({
    name: GENERIC_OBJECT,
    description: 'A Kubernetes object of a kind that is not a served custom resource here (a Pod, a ConfigMap, ...), or one the caller\'s schema does not include.',
    interfaces: [resource],
    fields: () => ({
      ...header,
      raw: { type: JSONScalar, description: 'The whole object as Kubernetes returned it.', resolve: sourceOnly((src: Record<string, unknown>) => src) },
      ...fields,
    }),
  });
  return { resource, object, fields };
}

/** The generated object type of the object's apiVersion and kind when the schema has it, else KubernetesObject. */
function typeNameOf(value: Source, schema: GraphQLSchema, iface: GraphQLInterfaceType): string {
  const apiVersion = value['apiVersion'];
  const kind = value['kind'];
  if (typeof apiVersion !== 'string' || typeof kind !== 'string') return GENERIC_OBJECT;
  const slash = apiVersion.indexOf('/');
  if (slash <= 0) return GENERIC_OBJECT;
  const name = resourceTypeName({ kind, group: apiVersion.slice(0, slash) }, apiVersion.slice(slash + 1), []);
  const type = schema.getType(name);
  return type && isObjectType(type) && type.getInterfaces().includes(iface) ? name : GENERIC_OBJECT;
}

function relationFields(operations: RelationOperations, resource: GraphQLInterfaceType): GraphQLFieldConfigMap<Source, unknown> {
  return {
    owners: {
      type: new GraphQLNonNull(new GraphQLList(resource)),
      description:
        'The objects named by metadata.ownerReferences, in the same order. An owner that is gone, of a kind the cluster does not ' +
        'serve, or that the caller may not read is null, with an error at its index (NOT_FOUND, FORBIDDEN, ...).',
      extensions: { relation: 'owners', callerDependent: true, assumedListSize: OWNERS_ASSUMED_SIZE },
      resolve: (src, _args, context, info) => {
        const loaders = loadersOf(operations, context);
        const lookups = ownerLookups(src);
        if (spend(context, info.rootValue, 'owners', lookups.length) > MAX_OWNERS_PER_EXECUTION) throw tooManyOwners();
        return Promise.all(lookups.map(async (lookup) => {
          const answer = await loaders.owners.load(lookup);
          return answer.ok ? answer.value : answer.error;
        }));
      },
    },
    children: {
      type: new GraphQLList(new GraphQLNonNull(resource)),
      description:
        'The objects of `kind` whose metadata.ownerReferences name this object (by uid): in its namespace, or in every namespace ' +
        'the caller may list when this object is cluster-scoped. Null, with an error, when they cannot be listed.',
      extensions: { relation: 'children', callerDependent: true },
      args: {
        kind: { type: new GraphQLNonNull(GraphQLString), description: 'The children\'s kind, e.g. "ConfigMap" or "CronTab".' },
        apiVersion: { type: GraphQLString, description: 'e.g. "v1" or "stable.example.com/v1"; default: the version the cluster prefers (the core group first when several groups serve the kind).' },
        limit: { type: GraphQLInt, description: 'At most this many (default: the gateway\'s page size).' },
      },
      resolve: async (src, args: Args, context) => {
        const parent = objectRefOf(src);
        if (!parent) return [];
        const limit = nonNegative(args['limit'], 'limit');
        const apiVersion = typeof args['apiVersion'] === 'string' ? args['apiVersion'] : undefined;
        const answer = await loadersOf(operations, context).children(String(args['kind']), apiVersion, limit).load(parent);
        if (!answer.ok) throw answer.error;
        return answer.value;
      },
    },
    events: {
      type: new GraphQLList(new GraphQLNonNull(EventType)),
      description: 'The core/v1 Events about this object, newest first (by lastSeen). Null, with an error, when they cannot be listed.',
      extensions: { relation: 'events', callerDependent: true },
      args: {
        limit: { type: GraphQLInt, description: 'At most this many, the newest (default: the gateway\'s page size).' },
        since: { type: DateTimeScalar, description: 'Only Events last seen at or after this time.' },
      },
      resolve: async (src, args: Args, context) => {
        const parent = objectRefOf(src);
        if (!parent) return [];
        const limit = nonNegative(args['limit'], 'limit');
        const since = typeof args['since'] === 'string' ? args['since'] : undefined;
        const answer = await loadersOf(operations, context).events(limit, since).load(parent);
        if (!answer.ok) throw answer.error;
        return answer.value;
      },
    },
  };
}

function nonNegative(value: unknown, name: string): number | undefined {
  if (typeof value !== 'number') return undefined;
  if (value < 0) throw new GraphQLError(`${name} must not be negative`, { extensions: { code: ApiErrorCode.BAD_USER_INPUT, httpStatus: 400 } });
  return value;
}

interface Meta {
  name?: unknown;
  namespace?: unknown;
  uid?: unknown;
  ownerReferences?: unknown;
}

const metaOf = (src: Source): Meta => (typeof src['metadata'] === 'object' && src['metadata'] !== null ? src['metadata'] as Meta : {});
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

function ownerLookups(src: Source): OwnerLookup[] {
  const meta = metaOf(src);
  const refs = Array.isArray(meta.ownerReferences) ? meta.ownerReferences as Record<string, unknown>[] : [];
  const namespace = str(meta.namespace) || undefined;
  return refs.map((r) => ({
    reference: { apiVersion: str(r?.['apiVersion']), kind: str(r?.['kind']), name: str(r?.['name']), uid: str(r?.['uid']) },
    ...(namespace !== undefined ? { namespace } : {}),
  }));
}

/** Nothing can name an object without a uid as its owner or in an Event (a dry-run result may lack one). */
function objectRefOf(src: Source): ObjectRef | undefined {
  const meta = metaOf(src);
  const uid = str(meta.uid);
  if (!uid) return undefined;
  const namespace = str(meta.namespace) || undefined;
  return { apiVersion: str(src['apiVersion']), kind: str(src['kind']), name: str(meta.name), uid, ...(namespace !== undefined ? { namespace } : {}) };
}

/** The types a schema must list besides those its fields reach: KubernetesObject is reached only through the interface. */
export function relationExtraTypes(relations: RelationTypes): GraphQLObjectType[] {
  return [relations.object];
}

/**
 * The generated object types of resources that a selection names in type conditions, at any depth
 * (`... on CronTab_v1_stable_example_com`, or a fragment on it): the only way a selection reads
 * the fields of another resource's objects, which the relation fields (owners, children) return.
 * Such a selection was validated against those types, so a change to their version's API is a
 * change to what it reads (see live-schema.ts). Sorted, without repeats.
 */
export function namedResourceTypes(schema: GraphQLSchema, fieldNodes: readonly FieldNode[], fragments: Readonly<Record<string, FragmentDefinitionNode>>): string[] {
  const found = new Set<string>();
  const spread = new Set<string>();
  const note = (name: string) => {
    const type = schema.getType(name);
    if (name !== GENERIC_OBJECT && isObjectType(type) && type.getInterfaces().some((i) => i.name === RESOURCE_INTERFACE)) found.add(name);
  };
  const walk = (set: SelectionSetNode | undefined): void => {
    for (const selection of set?.selections ?? []) {
      if (selection.kind === Kind.FIELD) walk(selection.selectionSet);
      else if (selection.kind === Kind.INLINE_FRAGMENT) {
        if (selection.typeCondition) note(selection.typeCondition.name.value);
        walk(selection.selectionSet);
      } else {
        const fragment = fragments[selection.name.value];
        if (!fragment || spread.has(fragment.name.value)) continue;
        spread.add(fragment.name.value);
        note(fragment.typeCondition.name.value);
        walk(fragment.selectionSet);
      }
    }
  };
  for (const node of fieldNodes) walk(node.selectionSet);
  return [...found].sort();
}
