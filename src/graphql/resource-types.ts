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
  GraphQLScalarType,
  GraphQLString,
} from 'graphql';
import type {
  GraphQLEnumValueConfigMap,
  GraphQLFieldConfig,
  GraphQLFieldConfigMap,
  GraphQLInputFieldConfigMap,
  GraphQLInputType,
  GraphQLOutputType,
  GraphQLType,
} from 'graphql';
import { stringifyJson, stringifyYaml } from '../kube/lossless-json.ts';
import { pascalPart } from '../model/graphql-names.ts';
import type { EnumValueName, MapNode, ObjectNode, ResourceModel, SchemaNode, StringNode, VersionModel } from '../model/resource-model.ts';
import { mapRepresentation, unknownFieldsOf } from '../model/value-conversion.ts';
import { resourceTypeNamer } from '../model/graphql-type-names.ts';
import type { TypeRole } from '../model/graphql-type-names.ts';
import type { RelationTypes } from './relation-types.ts';
import { sourceOnly } from './compiled-execution.ts';
import { declareFields, noteCreated, noteFieldConfigMade, objectType, onceFields, type FieldsShortcuts } from './lazy-schema.ts';
import { NO_EXTENSION_NODES, NO_EXTENSIONS } from './filter-types.ts';
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

/**
 * The enum of a CRD field. Kubernetes keeps a stored value when the CRD's enum changes (ratcheting
 * keeps it through updates too), and another served version may list other values; so, as the
 * custom scalars do, output is lenient where strictness would lose what the apiserver holds: a
 * string the enum does not list is answered as stored, not as null with an internal error. Input
 * stays strict.
 */
class KubernetesEnumType extends GraphQLEnumType {
  override serialize(value: unknown): ReturnType<GraphQLEnumType['serialize']> {
    try {
      return super.serialize(value);
    } catch (err) {
      if (typeof value === 'string') return value;
      throw err;
    }
  }
}

export function kubectlYaml(object: Source): string {
  const metadata = object['metadata'] as Record<string, unknown> | undefined;
  const shown = metadata && 'managedFields' in metadata ? { ...object, metadata: { ...metadata, managedFields: undefined } } : object;
  return stringifyYaml(shown, { sortMapEntries: true, lineWidth: 0 });
}

const builtFrom = new WeakMap<object, { readonly resource: ResourceModel; readonly version: string }>();

/**
 * The model and version a version's object type was built from. The live schema compares models
 * rather than looking types up in a schema, which would build the deferred schema's type maps.
 */
export function versionTypeSource(type: object): { readonly resource: ResourceModel; readonly version: string } | undefined {
  return builtFrom.get(type);
}

/**
 * The object type implements KubernetesResource, with the relation fields of `relations`.
 * `lazyValues`: enum values defined when first read (trusted builds), not at once.
 */
export function buildVersionTypes(resource: ResourceModel, version: VersionModel, relations: RelationTypes, lazyValues = false): VersionTypes {
  const types = new VersionTypeBuilder(resource, version, relations, lazyValues);
  const root = types.buildRoot();
  builtFrom.set(root.out, { resource, version: version.name });
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

  private readonly lazyValues: boolean;

  constructor(resource: ResourceModel, version: VersionModel, relations: RelationTypes, lazyValues: boolean) {
    this.lazyValues = lazyValues;
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
        const nullable = node.items.nullable;
        // A list of a scalar (the same type both ways) is one wrapper, made once per scalar.
        if (items.out === items.in) {
          const both = items.out as Both;
          return scalar(both instanceof GraphQLScalarType ? listOf(both, nullable) : new GraphQLList(nullable ? both : new GraphQLNonNull(both)));
        }
        const wrap = <T extends GraphQLOutputType | GraphQLInputType>(t: T) =>
          new GraphQLList(nullable ? t : new GraphQLNonNull(t));
        return { out: wrap(items.out) as GraphQLOutputType, in: wrap(items.in) as GraphQLInputType };
      }
      case 'map':
        return this.buildMap(node, slot);
      case 'object':
        return this.buildObject(node, slot === '' ? slot : this.allocate(slot));
    }
  }

  private buildEnum(node: StringNode, values: readonly EnumValueName[], slot: string): Built {
    const enumValues = (): GraphQLEnumValueConfigMap => {
      const made: GraphQLEnumValueConfigMap = {};
      for (const { name: valueName, value } of values) {
        made[valueName] = { value, ...(valueName !== value ? { description: `Kubernetes value ${JSON.stringify(value)}.` } : {}) };
      }
      return made;
    };
    const enumType = noteCreated(new KubernetesEnumType({
      extensions: NO_EXTENSIONS,
      extensionASTNodes: NO_EXTENSION_NODES,
      name: this.name(this.allocate(slot)),
      ...(node.description ? { description: node.description } : {}),
      // A trusted build defines the values when first read; a checked one now, so that graphql-js
      // refuses a bad value name during the build.
      values: this.lazyValues ? enumValues : enumValues(),
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
    // The field configs are made when first read (a request reaching the type, introspection,
    // the type map's collection), not at start; the types themselves are made now, in order.
    let valueDescription: string | undefined | null = null;
    const describeValue = () => (valueDescription === null ? (valueDescription = describeNode(node.values, false)) : valueDescription);
    const entryFields = onceFields((): GraphQLFieldConfigMap<Source, unknown> => {
      const adapt = outputAdapter(node.values);
      const description = describeValue();
      return {
        key: { type: new GraphQLNonNull(GraphQLString) },
        value: {
          type: values.out,
          ...(description ? { description } : {}),
          ...(adapt ? { resolve: sourceOnly((src: Source) => adapt(src['value'])) } : {}),
        },
      };
    });
    const entry = declareFields(new GraphQLObjectType({
      extensions: NO_EXTENSIONS,
      extensionASTNodes: NO_EXTENSION_NODES,
      name: this.name(slot, 'Entry'),
      description: `One entry of a map${node.description ? `: ${firstSentence(node.description)}` : '.'}`,
      fields: entryFields,
    }), entryFields, { fieldType: (name) => (name === 'value' ? values.out : undefined), fieldTypes: (visit) => (visit(GraphQLString), visit(values.out)) });
    const entryInputFields = onceFields((): GraphQLInputFieldConfigMap => {
      const description = describeValue();
      return {
        key: { type: new GraphQLNonNull(GraphQLString) },
        value: { type: values.in, ...(description ? { description } : {}) },
      };
    });
    const entryInput = declareFields(new GraphQLInputObjectType({ extensions: NO_EXTENSIONS, extensionASTNodes: NO_EXTENSION_NODES, name: this.name(slot, 'EntryInput'), fields: entryInputFields }), entryInputFields,
      { fieldTypes: (visit) => (visit(GraphQLString), visit(values.in)) });
    this.all.push(entry, entryInput);
    return { out: new GraphQLList(new GraphQLNonNull(entry)), in: new GraphQLList(new GraphQLNonNull(entryInput)) };
  }

  private buildObject(node: ObjectNode, slot: string): { out: GraphQLObjectType; in: GraphQLInputObjectType } {
    const properties = node.properties;
    const count = properties.length;
    // The types of the field tree are made now, depth first (their names are allocated in schema
    // order); the field configs (descriptions, resolvers) when first read.
    const outTypes: GraphQLOutputType[] = new Array(count);
    const inTypes: GraphQLInputType[] = new Array(count);
    for (let i = 0; i < count; i++) {
      const property = properties[i]!;
      // Only a child that makes named types has a slot: most properties are scalars.
      const child = this.build(property.node, makesNamedTypes(property.node) ? childSlot(slot, property.graphqlName) : '');
      outTypes[i] = child.out;
      inTypes[i] = child.in;
    }
    const root = slot === '';
    const fields = new ObjectFields(node, outTypes, inTypes, root ? this.relations.fields : undefined, root && this.version.subresources.status ? statusInputNote(this.resource.kind) : undefined);
    const description = root ? rootDescription(this.resource, this.version) : objectDescription(node);
    const out = declareFields(new GraphQLObjectType<Source, unknown>({
      extensions: NO_EXTENSIONS,
      extensionASTNodes: NO_EXTENSION_NODES,
      name: this.name(slot),
      description: description || undefined,
      ...(root ? { interfaces: [this.relations.resource] } : {}),
      fields: fields.output,
    }), fields.output, fields);
    const input = declareFields(new GraphQLInputObjectType({
      extensions: NO_EXTENSIONS,
      extensionASTNodes: NO_EXTENSION_NODES,
      name: this.name(slot, 'Input'),
      description: description || undefined,
      fields: fields.input,
    }), fields.input, new InputFieldTypes(fields));
    this.all.push(out, input);
    return { out, in: input };
  }
}

/** The slot of a property's types below an object's slot. */
function childSlot(slot: string, graphqlName: string): string {
  const part = pascalPart(graphqlName);
  return slot === '' ? part : `${slot}_${part}`;
}

/** Whether build() makes a named type for the node (and so reads its slot): objects, maps, named enums, and lists of those. */
function makesNamedTypes(node: SchemaNode): boolean {
  switch (node.kind) {
    case 'object':
    case 'map':
      return true;
    case 'string':
      return node.enum?.graphqlValues !== undefined;
    case 'array':
      return makesNamedTypes(node.items);
    default:
      return false;
  }
}

const UNKNOWN_FIELDS_OUTPUT =
  'The fields the schema does not declare (x-kubernetes-preserve-unknown-fields), as one JSON ' +
  'object with their Kubernetes names; null when there are none.';
const UNKNOWN_FIELDS_INPUT = 'Fields the schema does not declare, merged into this object as given (Kubernetes names).';
/** The same input type serves the object's writes and its status subresource's: which of them write status. */
function statusInputNote(kind: string): string {
  return `Written only through the status subresource: update${kind}Status, or patch${kind} with subresource: STATUS. `
    + 'Create, replace and a patch of the object leave it as it was: Kubernetes ignores it there.';
}

/**
 * The fields of an object node's output and input types, each config made once, when first read;
 * and what readers of the output type's fields may know without its config (the shortcuts of
 * declareFields): a property's type by name, and every field's type in order. A name a later
 * field of the config could take over (the unknown fields' field, and at the root `yaml`, `yaml_`
 * and the relation fields) is read from the config; so is the whole order when two fields would
 * share a name.
 */
class ObjectFields implements FieldsShortcuts {
  readonly #node: ObjectNode;
  readonly #outTypes: readonly GraphQLOutputType[];
  readonly #inTypes: readonly GraphQLInputType[];
  /** At the root: the relation fields, after the properties, the unknown fields and yaml. */
  readonly #rootExtras: GraphQLFieldConfigMap<Source, unknown> | undefined;
  #descriptions: (string | undefined)[] | undefined;
  #output: GraphQLFieldConfigMap<Source, unknown> | undefined;
  #input: GraphQLInputFieldConfigMap | undefined;
  #byName: Map<string, GraphQLOutputType> | undefined;
  #distinct: boolean | undefined;
  /** At the root of a version with a status subresource: what its input's status field says first. */
  readonly #statusNote: string | undefined;

  constructor(node: ObjectNode, outTypes: readonly GraphQLOutputType[], inTypes: readonly GraphQLInputType[], rootExtras: GraphQLFieldConfigMap<Source, unknown> | undefined, statusNote?: string) {
    this.#node = node;
    this.#outTypes = outTypes;
    this.#inTypes = inTypes;
    this.#rootExtras = rootExtras;
    this.#statusNote = statusNote;
  }

  /** The output type's fields config (graphql-js' thunk and the declared one). */
  readonly output = (): GraphQLFieldConfigMap<Source, unknown> => {
    if (this.#output === undefined) {
      noteFieldConfigMade();
      this.#output = this.#makeOutput();
    }
    return this.#output;
  };

  /** The input type's fields config. */
  readonly input = (): GraphQLInputFieldConfigMap => {
    if (this.#input === undefined) {
      noteFieldConfigMade();
      this.#input = this.#makeInput();
    }
    return this.#input;
  };

  /** One description per property, shared by its output and input field. */
  #described(): (string | undefined)[] {
    return (this.#descriptions ??= this.#node.properties.map((p) => describeNode(p.node, p.required, p.name !== p.graphqlName ? p.name : undefined)));
  }

  #makeOutput(): GraphQLFieldConfigMap<Source, unknown> {
    const node = this.#node;
    const fields: GraphQLFieldConfigMap<Source, unknown> = {};
    const described = this.#described();
    node.properties.forEach((property, i) => {
      fields[property.graphqlName] = outputField(this.#outTypes[i]!, described[i], property.name, property.graphqlName, outputAdapter(property.node));
    });
    if (node.unknownFieldsName !== undefined) {
      fields[node.unknownFieldsName] = { type: JSONScalar, description: UNKNOWN_FIELDS_OUTPUT, resolve: sourceOnly((src: Source) => unknownFieldsOf(src, node)) };
    }
    if (this.#rootExtras) {
      addYamlField(fields);
      // The model keeps the relation names free at the root (owners_2 for a property named owners).
      Object.assign(fields, this.#rootExtras);
    }
    return fields;
  }

  #makeInput(): GraphQLInputFieldConfigMap {
    const node = this.#node;
    const fields: GraphQLInputFieldConfigMap = {};
    const described = this.#described();
    node.properties.forEach((property, i) => {
      const own = described[i];
      const description = this.#statusNote && property.name === 'status' ? `${this.#statusNote}${own ? `\n\n${own}` : ''}` : own;
      fields[property.graphqlName] = { type: this.#inTypes[i]!, ...(description ? { description } : {}) };
    });
    if (node.unknownFieldsName !== undefined) fields[node.unknownFieldsName] = { type: JSONScalar, description: UNKNOWN_FIELDS_INPUT };
    return fields;
  }

  fieldType(name: string): GraphQLOutputType | undefined {
    const node = this.#node;
    const extras = this.#rootExtras;
    if (name === node.unknownFieldsName || (extras && (name === 'yaml' || name === 'yaml_' || Object.hasOwn(extras, name)))) return undefined;
    const properties = node.properties;
    // The where types ask this for every filterable field of every object: most objects have a
    // few properties, scanned without a map (from the end: a later property of the name wins, as
    // in the config).
    if (properties.length <= 16) {
      for (let i = properties.length - 1; i >= 0; i--) if (properties[i]!.graphqlName === name) return this.#outTypes[i];
      return undefined;
    }
    if (!this.#byName) {
      const byName = (this.#byName = new Map());
      properties.forEach((p, i) => byName.set(p.graphqlName, this.#outTypes[i]!));
    }
    return this.#byName.get(name);
  }

  fieldTypes(visit: (type: GraphQLType) => void): void {
    if (!this.#isDistinct()) return visitFieldTypes(this.output(), visit);
    for (const type of this.#outTypes) visit(type);
    if (this.#node.unknownFieldsName !== undefined) visit(JSONScalar);
    if (this.#rootExtras) {
      visit(GraphQLString);
      visitFieldTypes(this.#rootExtras, visit);
    }
  }

  inputFieldTypes(visit: (type: GraphQLType) => void): void {
    if (!this.#isDistinct()) return visitFieldTypes(this.input(), visit);
    for (const type of this.#inTypes) visit(type);
    if (this.#node.unknownFieldsName !== undefined) visit(JSONScalar);
  }

  /**
   * Whether every field gets a name of its own (the properties', the unknown fields', at the root
   * yaml and the relations'), so that the configs have one field per entry, in that order. The
   * input type has no root extras, so this answers for it too (its names are a subset).
   */
  #isDistinct(): boolean {
    if (this.#distinct !== undefined) return this.#distinct;
    const node = this.#node;
    const properties = node.properties;
    const extras = this.#rootExtras;
    // Most objects have a few properties: compared pairwise, without a set (this runs for every
    // object of every CRD when the type map is collected).
    if (!extras && properties.length <= 12) {
      let distinct = true;
      for (let i = 0; distinct && i < properties.length; i++) {
        const name = properties[i]!.graphqlName;
        if (name === node.unknownFieldsName) distinct = false;
        for (let j = i + 1; distinct && j < properties.length; j++) if (properties[j]!.graphqlName === name) distinct = false;
      }
      return (this.#distinct = distinct);
    }
    const names = new Set<string>();
    for (const p of properties) names.add(p.graphqlName);
    let distinct = names.size === properties.length;
    if (distinct && node.unknownFieldsName !== undefined) {
      distinct = !names.has(node.unknownFieldsName);
      names.add(node.unknownFieldsName);
    }
    if (distinct && extras) {
      // addYamlField takes `yaml`, or `yaml_` when `yaml` is taken.
      const yaml = names.has('yaml') ? 'yaml_' : 'yaml';
      distinct = !names.has(yaml);
      names.add(yaml);
      for (const key in extras) {
        if (names.has(key)) distinct = false;
        names.add(key);
      }
    }
    return (this.#distinct = distinct);
  }
}

/** The shortcuts of an object node's input type. */
class InputFieldTypes implements FieldsShortcuts {
  readonly #fields: ObjectFields;
  constructor(fields: ObjectFields) {
    this.#fields = fields;
  }
  fieldTypes(visit: (type: GraphQLType) => void): void {
    this.#fields.inputFieldTypes(visit);
  }
}

/** Each field's type, then its arguments' types, in the config's order. */
function visitFieldTypes(fields: Readonly<Record<string, { readonly type: GraphQLType; readonly args?: Readonly<Record<string, { readonly type: GraphQLType }>> | null }>>, visit: (type: GraphQLType) => void): void {
  for (const key in fields) {
    const field = fields[key]!;
    visit(field.type);
    const args = field.args;
    if (args) for (const arg in args) visit(args[arg]!.type);
  }
}

/** Whether every field of the object's configs gets a name of its own (the properties', the unknown fields', at the root yaml and the relations'), so that the configs have one field per entry, in that order. */
function distinctNames(node: ObjectNode, rootExtras: object | undefined): boolean {
  const names = new Set<string>();
  for (const p of node.properties) names.add(p.graphqlName);
  if (names.size !== node.properties.length) return false;
  if (node.unknownFieldsName !== undefined) {
    if (names.has(node.unknownFieldsName)) return false;
    names.add(node.unknownFieldsName);
  }
  if (rootExtras) {
    // addYamlField takes `yaml`, or `yaml_` when `yaml` is taken.
    const yaml = names.has('yaml') ? 'yaml_' : 'yaml';
    if (names.has(yaml)) return false;
    names.add(yaml);
    for (const key in rootExtras) {
      if (names.has(key)) return false;
      names.add(key);
    }
  }
  return true;
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

type Both = GraphQLOutputType & GraphQLInputType;
const lists = new WeakMap<GraphQLScalarType, { nullable?: GraphQLList<Both>; nonNull?: GraphQLList<GraphQLNonNull<Both>> }>();

/** `[T]` or `[T!]` of a scalar, shared by every field of that type. */
function listOf(type: GraphQLScalarType, nullable: boolean): GraphQLList<Both> | GraphQLList<GraphQLNonNull<Both>> {
  let made = lists.get(type);
  if (!made) lists.set(type, (made = {}));
  return nullable ? (made.nullable ??= new GraphQLList(type)) : (made.nonNull ??= new GraphQLList(new GraphQLNonNull(type)));
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
