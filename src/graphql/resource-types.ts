// The GraphQL types of one served CRD version: object and input types for every object in its
// field tree, enums, map entries, and the connection / watch event / delete result wrappers.
// Output fields read the original Kubernetes property names, so objects coming back from
// Kubernetes are served as-is without a conversion pass.

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
import type {
  GraphQLEnumValueConfigMap,
  GraphQLFieldConfig,
  GraphQLFieldConfigMap,
  GraphQLInputFieldConfigMap,
  GraphQLInputType,
  GraphQLOutputType,
} from 'graphql';
import { stringify as stringifyYaml } from 'yaml';
import { stringifyJson } from '../kube/lossless-json.ts';
import { pascalPart } from '../model/graphql-names.ts';
import type { EnumValueName, MapNode, ObjectNode, ResourceModel, SchemaNode, StringNode, VersionModel } from '../model/resource-model.ts';
import { mapRepresentation, unknownFieldsOf } from '../model/value-conversion.ts';
import { resourceTypeNamer } from '../model/graphql-type-names.ts';
import type { TypeRole } from '../model/graphql-type-names.ts';
import type { RelationTypes } from './relation-types.ts';
import { sourceOnly } from './compiled-execution.ts';
import { declareFields, noteCreated, objectType } from './lazy-schema.ts';
import { DateTimeScalar, FloatScalar, Int64Scalar, IntOrStringScalar, JSONScalar, StringMapScalar } from './scalars.ts';
import {
  ObjectMetaInputType,
  ObjectMetaType,
  PageInfoType,
  StatusType,
  WatchEventTypeEnum,
} from './shared-types.ts';

export interface VersionTypes {
  readonly object: GraphQLObjectType;
  readonly input: GraphQLInputObjectType;
  readonly connection: GraphQLObjectType;
  readonly watchEvent: GraphQLObjectType;
  readonly deleteResult: GraphQLObjectType;
  /** Every named type created for this version. */
  readonly all: readonly (GraphQLObjectType | GraphQLInputObjectType | GraphQLEnumType)[];
}

interface Built {
  readonly out: GraphQLOutputType;
  readonly in: GraphQLInputType;
}

type Source = Record<string, unknown>;

/**
 * The object as `kubectl get -o yaml` shows it: keys sorted, managedFields left out, integers
 * with every digit (big ones are bigint in memory, which the yaml library writes as digits).
 * Named `yaml`, or `yaml_` in the rare CRD whose top level declares a `yaml` property.
 */
function addYamlField(fields: GraphQLFieldConfigMap<Source, unknown>): void {
  const name = fields['yaml'] === undefined ? 'yaml' : 'yaml_';
  fields[name] = {
    type: new GraphQLNonNull(GraphQLString),
    description: 'The object as Kubernetes YAML, as `kubectl get -o yaml` shows it (without managedFields).',
    resolve: sourceOnly((src: Source) => kubectlYaml(src)),
  };
}

export function kubectlYaml(object: Source): string {
  const metadata = object['metadata'] as Record<string, unknown> | undefined;
  const shown = metadata && 'managedFields' in metadata ? { ...object, metadata: { ...metadata, managedFields: undefined } } : object;
  return stringifyYaml(shown, { aliasDuplicateObjects: false, sortMapEntries: true, lineWidth: 0 });
}

/** The object type implements KubernetesResource, with the relation fields of `relations`. */
export function buildVersionTypes(resource: ResourceModel, version: VersionModel, relations: RelationTypes): VersionTypes {
  const types = new VersionTypeBuilder(resource, version, relations);
  const root = types.buildRoot();
  const wrappers = wrapperTypes(resource, version, root.out, (role) => types.name('', role));
  types.all.push(wrappers.edge, wrappers.connection, wrappers.watchEvent, wrappers.deleteResult);
  const { connection, watchEvent, deleteResult } = wrappers;
  return { object: root.out, input: root.in, connection, watchEvent, deleteResult, all: types.all };
}

/**
 * The named types of one version's field tree, created depth-first in schema order. A type's place
 * in the tree is its slot: the PascalCase parts of its path joined with `_` (`Spec_Containers`;
 * `` for the version's own types), which its name is made of.
 */
class VersionTypeBuilder {
  readonly all: (GraphQLObjectType | GraphQLInputObjectType | GraphQLEnumType)[] = [];
  private readonly usedPaths = new Set<string>(['']);
  private readonly typeName: (slot: string, role?: TypeRole) => string;
  private readonly resource: ResourceModel;
  private readonly version: VersionModel;
  private readonly relations: RelationTypes;

  constructor(resource: ResourceModel, version: VersionModel, relations: RelationTypes) {
    this.resource = resource;
    this.version = version;
    this.relations = relations;
    this.typeName = resourceTypeNamer(resource, version.name);
  }

  name(slot: string, role?: TypeRole): string {
    return this.typeName(slot, role);
  }

  buildRoot(): { out: GraphQLObjectType; in: GraphQLInputObjectType } {
    return this.buildObject(this.version.schema, '');
  }

  /**
   * Within one version the same PascalCase path can come up twice (`fooBar` and `FooBar`, or a
   * field named like another's child); later ones, in schema order, get a numeric suffix.
   */
  private allocate(slot: string): string {
    let candidate = slot;
    // The suffix goes on the last part, which ends the joined slot.
    for (let i = 2; this.usedPaths.has(candidate); i++) candidate = `${slot}${i}`;
    this.usedPaths.add(candidate);
    return candidate;
  }

  private build(node: SchemaNode, slot: string): Built {
    switch (node.kind) {
      case 'string':
        return node.enum?.graphqlValues ? this.buildEnum(node, node.enum.graphqlValues, slot) : scalar(node.format === 'date-time' ? DateTimeScalar : GraphQLString);
      case 'integer':
        return scalar(node.int32 ? GraphQLInt : Int64Scalar);
      case 'number':
        return scalar(FloatScalar);
      case 'boolean':
        return scalar(GraphQLBoolean);
      case 'intOrString':
        return scalar(IntOrStringScalar);
      case 'json':
        return scalar(JSONScalar);
      case 'objectMeta':
        return { out: ObjectMetaType, in: ObjectMetaInputType };
      case 'array': {
        const items = this.build(node.items, slot);
        const wrap = <T extends GraphQLOutputType | GraphQLInputType>(t: T) =>
          new GraphQLList(node.items.nullable ? t : new GraphQLNonNull(t));
        return { out: wrap(items.out) as GraphQLOutputType, in: wrap(items.in) as GraphQLInputType };
      }
      case 'map':
        return this.buildMap(node, slot);
      case 'object':
        return this.buildObject(node, slot === '' ? slot : this.allocate(slot));
    }
  }

  private buildEnum(node: StringNode, values: readonly EnumValueName[], slot: string): Built {
    const enumValues: GraphQLEnumValueConfigMap = {};
    for (const { name: valueName, value } of values) {
      enumValues[valueName] = { value, ...(valueName !== value ? { description: `Kubernetes value ${JSON.stringify(value)}.` } : {}) };
    }
    const enumType = noteCreated(new GraphQLEnumType({
      name: this.name(this.allocate(slot)),
      ...(node.description ? { description: node.description } : {}),
      values: enumValues,
    }));
    this.all.push(enumType);
    return { out: enumType, in: enumType };
  }

  private buildMap(node: MapNode, at: string): Built {
    const representation = mapRepresentation(node);
    if (representation === 'stringMap') return scalar(StringMapScalar);
    if (representation === 'json') return scalar(JSONScalar);
    const slot = this.allocate(at);
    const values = this.build(node.values, `${slot}_Value`);
    const adapt = outputAdapter(node.values);
    const valueDescription = describeNode(node.values, false);
    const entryFields: GraphQLFieldConfigMap<Source, unknown> = {
      key: { type: new GraphQLNonNull(GraphQLString) },
      value: {
        type: values.out,
        ...(valueDescription ? { description: valueDescription } : {}),
        ...(adapt ? { resolve: sourceOnly((src: Source) => adapt(src['value'])) } : {}),
      },
    };
    const entry = declareFields(new GraphQLObjectType({
      name: this.name(slot, 'Entry'),
      description: `One entry of a map${node.description ? `: ${firstSentence(node.description)}` : '.'}`,
      fields: entryFields,
    }), entryFields);
    const entryInputFields: GraphQLInputFieldConfigMap = {
      key: { type: new GraphQLNonNull(GraphQLString) },
      value: { type: values.in, ...(valueDescription ? { description: valueDescription } : {}) },
    };
    const entryInput = declareFields(new GraphQLInputObjectType({ name: this.name(slot, 'EntryInput'), fields: entryInputFields }), entryInputFields);
    this.all.push(entry, entryInput);
    return { out: new GraphQLList(new GraphQLNonNull(entry)), in: new GraphQLList(new GraphQLNonNull(entryInput)) };
  }

  private buildObject(node: ObjectNode, slot: string): { out: GraphQLObjectType; in: GraphQLInputObjectType } {
    const outFields: GraphQLFieldConfigMap<Source, unknown> = {};
    const inFields: GraphQLInputFieldConfigMap = {};
    for (const property of node.properties) {
      const part = pascalPart(property.graphqlName);
      const child = this.build(property.node, slot === '' ? part : `${slot}_${part}`);
      const description = describeNode(property.node, property.required, property.name !== property.graphqlName ? property.name : undefined);
      outFields[property.graphqlName] = outputField(child.out, description, property.name, property.graphqlName, outputAdapter(property.node));
      inFields[property.graphqlName] = { type: child.in, ...(description ? { description } : {}) };
    }
    if (node.unknownFieldsName !== undefined) {
      const description =
        'The fields the schema does not declare (x-kubernetes-preserve-unknown-fields), as one JSON ' +
        'object with their Kubernetes names; null when there are none.';
      outFields[node.unknownFieldsName] = { type: JSONScalar, description, resolve: sourceOnly((src: Source) => unknownFieldsOf(src, node)) };
      inFields[node.unknownFieldsName] = {
        type: JSONScalar,
        description: 'Fields the schema does not declare, merged into this object as given (Kubernetes names).',
      };
    }
    if (slot === '') addYamlField(outFields);
    const description = slot === '' ? rootDescription(this.resource, this.version) : objectDescription(node);
    const root = slot === '';
    // The model keeps the relation names free at the root (owners_2 for a property named owners).
    if (root) Object.assign(outFields, this.relations.fields);
    const out = declareFields(new GraphQLObjectType<Source, unknown>({
      name: this.name(slot),
      ...(description ? { description } : {}),
      ...(root ? { interfaces: [this.relations.resource] } : {}),
      fields: outFields,
    }), outFields);
    const input = declareFields(new GraphQLInputObjectType({
      name: this.name(slot, 'Input'),
      ...(description ? { description } : {}),
      fields: inFields,
    }), inFields);
    this.all.push(out, input);
    return { out, in: input };
  }
}

/** An output field reads the Kubernetes property, converted when its GraphQL form differs. */
function outputField(type: GraphQLOutputType, description: string | undefined, key: string, graphqlName: string, adapt: Adapter | undefined): GraphQLFieldConfig<Source, unknown> {
  const field: GraphQLFieldConfig<Source, unknown> = { type };
  if (description) field.description = description;
  if (adapt) field.resolve = sourceOnly((src: Source) => adapt(src[key]));
  else if (key !== graphqlName) field.resolve = sourceOnly((src: Source) => src[key]);
  return field;
}

/** The types around a version's object: its list page (connection and edge), watch event and delete result. */
function wrapperTypes(resource: ResourceModel, version: VersionModel, object: GraphQLObjectType, name: (role: TypeRole) => string) {
  const edge = objectType({
    name: name('Edge'),
    fields: {
      node: { type: new GraphQLNonNull(object) },
      cursor: {
        type: GraphQLString,
        description:
          'Resume after this object. Filtered or sorted lists (where, orderBy) give every edge a cursor; plain lists continue ' +
          'per Kubernetes page, so only their last edge has one (= pageInfo.endCursor).',
      },
    },
  });
  const connection = objectType({
    name: name('Connection'),
    description: `A page of ${resource.kind} objects (${resource.group}/${version.name}).`,
    fields: {
      edges: { type: new GraphQLNonNull(new GraphQLList(new GraphQLNonNull(edge))) },
      pageInfo: { type: new GraphQLNonNull(PageInfoType) },
      resourceVersion: { type: GraphQLString, description: 'The resourceVersion of the list; start a watch from it to follow changes.' },
      remainingItemCount: { type: Int64Scalar, description: 'Number of objects after this page: exact for filtered or sorted lists, an estimate from Kubernetes otherwise (when it knows).' },
      totalCount: {
        type: GraphQLInt,
        description:
          'Number of objects on all pages: always given for filtered or sorted lists (where, orderBy, consistency: CACHED); ' +
          'for plain lists only when this one page is the whole list, null otherwise.',
      },
    },
  });
  const watchEvent = objectType({
    name: name('WatchEvent'),
    fields: {
      type: { type: new GraphQLNonNull(WatchEventTypeEnum) },
      object: { type: object, description: 'The object; null for INITIAL_STATE_DONE.' },
      resourceVersion: { type: GraphQLString, description: 'Resume a watch from here after a disconnect.' },
    },
  });
  const deleteResult = objectType({
    name: name('DeleteResult'),
    description: 'Kubernetes answers a delete with the object (still present while finalizers run) or with a Status.',
    fields: {
      object: { type: object },
      status: { type: StatusType },
    },
  });
  return { edge, connection, watchEvent, deleteResult };
}

function scalar(type: GraphQLOutputType & GraphQLInputType): Built {
  return { out: type, in: type };
}

type Adapter = (value: unknown) => unknown;

/** The per-field output conversion: maps with entries become lists; everything else is read as-is. */
function outputAdapter(node: SchemaNode): Adapter | undefined {
  if (node.kind === 'map' && mapRepresentation(node) === 'entries') {
    return (value) =>
      typeof value === 'object' && value !== null && !Array.isArray(value)
        ? Object.entries(value).map(([key, entryValue]) => ({ key, value: entryValue }))
        : value;
  }
  if (node.kind === 'array') {
    const inner = outputAdapter(node.items);
    if (inner) return (value) => (Array.isArray(value) ? value.map(inner) : value);
  }
  return undefined;
}

function rootDescription(resource: ResourceModel, version: VersionModel): string {
  const own = version.schema.description ? `${version.schema.description}\n\n` : '';
  const deprecated = version.deprecated ? ` Deprecated${version.deprecationWarning ? `: ${version.deprecationWarning}` : '.'}` : '';
  return `${own}${resource.kind} (${resource.group}/${version.name}, CRD ${resource.crdName}).${deprecated}`;
}

function objectDescription(node: ObjectNode): string | undefined {
  return node.description;
}

function firstSentence(text: string): string {
  const line = text.split('\n')[0]!.trim();
  return line.length > 160 ? `${line.slice(0, 157)}...` : line;
}

/** The field documentation: the schema's description plus the facts GraphQL types cannot carry. */
export function describeNode(node: SchemaNode, required: boolean, kubernetesName?: string): string | undefined {
  const facts: string[] = [];
  if (kubernetesName !== undefined) facts.push(`Kubernetes name: ${JSON.stringify(kubernetesName)}.`);
  if (required) facts.push('Required.');
  if (node.hasDefault) facts.push(`Default: ${stringifyJson(node.default)}.`);
  if (node.nullable) facts.push('Nullable.');
  if (node.format && node.format !== 'date-time' && node.format !== 'int32' && node.format !== 'int64') {
    facts.push(`Format: ${node.format}.`);
  }
  if ('enum' in node && node.enum && !node.enum.graphqlValues) {
    facts.push(`One of: ${node.enum.values.map((v) => stringifyJson(v)).join(', ')}.`);
  }
  if (node.kind === 'array' && node.listType) {
    facts.push(`List type: ${node.listType}${node.listMapKeys ? ` (keys: ${node.listMapKeys.join(', ')})` : ''}.`);
  }
  if (node.kind === 'map' && mapRepresentation(node) === 'entries') facts.push('A map, as a list of key/value entries.');
  const c = node.constraints;
  const limits: string[] = [];
  if (c.minLength !== undefined) limits.push(`minLength ${c.minLength}`);
  if (c.maxLength !== undefined) limits.push(`maxLength ${c.maxLength}`);
  if (c.minimum !== undefined) limits.push(`${c.exclusiveMinimum ? '>' : '>='} ${c.minimum}`);
  if (c.maximum !== undefined) limits.push(`${c.exclusiveMaximum ? '<' : '<='} ${c.maximum}`);
  if (c.minItems !== undefined) limits.push(`minItems ${c.minItems}`);
  if (c.maxItems !== undefined) limits.push(`maxItems ${c.maxItems}`);
  if (c.minProperties !== undefined) limits.push(`minProperties ${c.minProperties}`);
  if (c.maxProperties !== undefined) limits.push(`maxProperties ${c.maxProperties}`);
  if (c.pattern !== undefined) limits.push(`pattern ${c.pattern}`);
  if (limits.length > 0) facts.push(`Constraints: ${limits.join(', ')}.`);
  if (c.combinators) facts.push(`Schema ${c.combinators}.`);
  for (const rule of node.validations) {
    facts.push(`Validation: ${rule.rule}${rule.message ? ` — ${rule.message}` : ''}`);
  }
  const parts = [node.description, facts.join('\n')].filter((p): p is string => p !== undefined && p !== '');
  return parts.length > 0 ? parts.join('\n\n') : undefined;
}
