// The operator inputs every `where` shares: one per scalar kind (StringFilter, Int64Filter,
// DateTimeFilter, ...), their list forms, map entries, ObjectMeta and owner references, and the
// order direction. Shared by every CRD and version, so the schema grows by one Where type per
// object type only. Their names contain no `_`, so they never meet a generated name.
import {
  GraphQLBoolean, GraphQLEnumType, GraphQLInputObjectType, GraphQLInt, GraphQLList, GraphQLNonNull, GraphQLString,
} from 'graphql';
import type { GraphQLInputFieldConfigMap, GraphQLInputType, GraphQLScalarType } from 'graphql';
import { LIST_OPERATORS, scalarOperators } from '../model/query-filter.ts';
import { OBJECT_META_FILTER, OWNER_REFERENCE_FILTER, type FilterScalar, type ObjectFilter, type ScalarFilter } from '../model/query-fields.ts';
import { inputObjectType } from './lazy-schema.ts';
import { DateTimeScalar, FloatScalar, Int64Scalar, IntOrStringScalar } from './scalars.ts';

/**
 * The extensions of every field, value and type built here. graphql-js gives each one without
 * extensions an empty object of its own, and those are half the memory of a field: with tens of
 * thousands of filter fields in a big schema, one shared frozen object saves a lot.
 */
export const NO_EXTENSIONS: Readonly<Record<string, never>> = Object.freeze(Object.create(null));

/**
 * The extension AST nodes of every type built per CRD: graphql-js gives each type without them an
 * empty array of its own, ~200,000 of them at 1,000 CRDs. It never changes them.
 */
export const NO_EXTENSION_NODES: readonly never[] = Object.freeze([]);

/** An input field (or enum value) config with the shared extensions. */
export function input<T>(type: T, description?: string): { type: T; description?: string; extensions: typeof NO_EXTENSIONS } {
  return description === undefined ? { type, extensions: NO_EXTENSIONS } : { type, description, extensions: NO_EXTENSIONS };
}

const OPERATOR_DESCRIPTIONS: Record<string, string> = {
  eq: 'Equal to.',
  ne: 'Set and not equal to.',
  in: 'Equal to one of these.',
  notIn: 'Set and equal to none of these.',
  lt: 'Less than.',
  lte: 'Less than or equal to.',
  gt: 'Greater than.',
  gte: 'Greater than or equal to.',
  prefix: 'Starts with.',
  contains: 'Contains this substring.',
  exists: 'true: the field is present (even as null); false: it is absent.',
  isNull: 'true: the field is absent or null; false: it has a value.',
};

/** The fields of these operators, whose operands have the given GraphQL type. */
export function operatorFields(operators: readonly string[], operand: GraphQLInputType): GraphQLInputFieldConfigMap {
  const fields: GraphQLInputFieldConfigMap = {};
  for (const op of operators) {
    const type = op === 'in' || op === 'notIn' ? new GraphQLList(new GraphQLNonNull(operand))
      : op === 'exists' || op === 'isNull' ? GraphQLBoolean
        : op === 'prefix' || op === 'contains' ? GraphQLString : operand;
    fields[op] = input(type, OPERATOR_DESCRIPTIONS[op]);
  }
  return fields;
}

const scalarOperand: Record<FilterScalar, GraphQLScalarType> = {
  string: GraphQLString, int: GraphQLInt, int64: Int64Scalar, float: FloatScalar, boolean: GraphQLBoolean,
  dateTime: DateTimeScalar, intOrString: IntOrStringScalar, json: GraphQLString,
};

const scalarNames: Record<FilterScalar, string> = {
  string: 'String', int: 'Int', int64: 'Int64', float: 'Float', boolean: 'Boolean', dateTime: 'DateTime', intOrString: 'IntOrString', json: 'Presence',
};

const scalarFilters = new Map<FilterScalar, GraphQLInputObjectType>();
const scalarListFilters = new Map<FilterScalar, GraphQLInputObjectType>();

/** StringFilter, IntFilter, Int64Filter, FloatFilter, BooleanFilter, DateTimeFilter, IntOrStringFilter, PresenceFilter. */
export function scalarFilterType(scalar: FilterScalar): GraphQLInputObjectType {
  let t = scalarFilters.get(scalar);
  if (!t) {
    const f: ScalarFilter = { kind: 'scalar', scalar };
    t = new GraphQLInputObjectType({
      extensions: NO_EXTENSIONS,
      name: `${scalarNames[scalar]}Filter`,
      description: scalar === 'json' ? 'Whether an untyped (JSON) value is there.' : `Conditions on a ${scalarNames[scalar]} field; all given must hold.`,
      fields: () => operatorFields(scalarOperators(f), scalarOperand[scalar]),
    });
    scalarFilters.set(scalar, t);
  }
  return t;
}

/** StringListFilter, Int64ListFilter, ...: conditions on a list of scalars. */
export function scalarListFilterType(scalar: FilterScalar): GraphQLInputObjectType {
  let t = scalarListFilters.get(scalar);
  if (!t) {
    t = listFilterType(`${scalarNames[scalar]}ListFilter`, scalarFilterType(scalar));
    scalarListFilters.set(scalar, t);
  }
  return t;
}

/** some / every / none with the element filter, and isEmpty / exists / isNull of the list. */
export function listFilterType(name: string, element: GraphQLInputType): GraphQLInputObjectType {
  return inputObjectType({
    name,
    description: 'Conditions on a list; an absent list counts as empty for some, every, none and isEmpty.',
    fields: () => {
      const fields: GraphQLInputFieldConfigMap = {};
      for (const op of LIST_OPERATORS) {
        const description = {
          some: 'At least one element matches.', every: 'Every element matches (true for an empty list).', none: 'No element matches.',
          isEmpty: 'true: the list is absent or empty; false: it has an element.', exists: OPERATOR_DESCRIPTIONS['exists'], isNull: OPERATOR_DESCRIPTIONS['isNull'],
        }[op];
        fields[op] = input(op === 'some' || op === 'every' || op === 'none' ? element : GraphQLBoolean, description);
      }
      return fields;
    },
  });
}

export const StringMapEntryFilterType = new GraphQLInputObjectType({
  extensions: NO_EXTENSIONS,
  name: 'StringMapEntryFilter',
  description: 'A condition on one entry of a string map (labels, annotations): its key, and string operators on its value; exists asks for the key.',
  fields: () => ({
    key: input(new GraphQLNonNull(GraphQLString), 'The map key, exactly.'),
    ...operatorFields(scalarOperators({ scalar: 'string' }), GraphQLString),
  }),
});

/**
 * The fields of a Where input: one filter per filterable field, and and/or/not unless a property
 * takes one of those names at this level.
 */
export function whereFields(f: ObjectFilter, self: () => GraphQLInputObjectType, fieldType: (index: number) => GraphQLInputType): GraphQLInputFieldConfigMap {
  const fields: GraphQLInputFieldConfigMap = {};
  f.fields.forEach((field, i) => {
    fields[field.graphqlName] = input(fieldType(i), field.name !== field.graphqlName ? `Kubernetes name: ${JSON.stringify(field.name)}.` : undefined);
  });
  if (f.logic) {
    const list = new GraphQLList(new GraphQLNonNull(self()));
    fields['and'] = input(list, 'Every one of these holds (true when empty).');
    fields['or'] = input(list, 'At least one of these holds (false when empty).');
    fields['not'] = input(self(), 'This does not hold.');
  }
  return fields;
}

/** The filter type of a field of ObjectMeta or of an owner reference (no generated types below them). */
function sharedFieldType(f: ObjectFilter, index: number): GraphQLInputType {
  const field = f.fields[index]!.filter;
  if (field.kind === 'scalar') return scalarFilterType(field.scalar);
  if (field.kind === 'map') return new GraphQLList(new GraphQLNonNull(StringMapEntryFilterType));
  if (field.kind === 'list' && field.items.kind === 'object') return OwnerReferenceListFilterType;
  if (field.kind === 'list' && field.items.kind === 'scalar') return scalarListFilterType(field.items.scalar);
  throw new Error(`no shared filter type for ${f.fields[index]!.name}`);
}

export const OwnerReferenceWhereType: GraphQLInputObjectType = new GraphQLInputObjectType({
  extensions: NO_EXTENSIONS,
  name: 'OwnerReferenceWhere',
  description: 'Conditions on one owner reference.',
  fields: () => whereFields(OWNER_REFERENCE_FILTER, () => OwnerReferenceWhereType, (i) => sharedFieldType(OWNER_REFERENCE_FILTER, i)),
});

export const OwnerReferenceListFilterType = listFilterType('OwnerReferenceListFilter', OwnerReferenceWhereType);

export const ObjectMetaWhereType: GraphQLInputObjectType = new GraphQLInputObjectType({
  extensions: NO_EXTENSIONS,
  name: 'ObjectMetaWhere',
  description: 'Conditions on the metadata: name, namespace, uid, generation, timestamps, labels and annotations (by key), owner references, finalizers.',
  fields: () => whereFields(OBJECT_META_FILTER, () => ObjectMetaWhereType, (i) => sharedFieldType(OBJECT_META_FILTER, i)),
});

export const OrderDirectionEnum = new GraphQLEnumType({
  name: 'OrderDirection',
  values: {
    ASC: { description: 'Smallest first (strings by code units, date-times oldest first, false before true).' },
    DESC: { description: 'Largest first.' },
  },
});

export const ListConsistencyEnum = new GraphQLEnumType({
  name: 'ListConsistency',
  description: 'Where a list is read from.',
  values: {
    CACHED: {
      description: 'From the gateway\'s shared watch cache, cut to what the caller may list; the answer\'s resourceVersion says how current it is. The default with where or orderBy.',
    },
    STRONG: { description: 'From the apiserver, as the caller, at the latest resourceVersion. The default for plain lists; with where or orderBy the gateway reads every page and filters them.' },
  },
});
