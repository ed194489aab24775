// The `where` and `orderBy` inputs of one served version's list field, built from the version's
// query fields (src/model/query-fields.ts) beside the version's output types: a Where type is
// named after the object type it filters (`<object type>_Where`), enums get `<enum>_Filter`,
// lists of objects `<object type>_ListFilter`, typed maps `<map>_EntryFilter`, and the version
// `<type>_OrderField` (its sortable leaves) and `<type>_OrderBy`. Objects (and enums) of the same
// shape within a version share one type, named after the first in schema order: types are what a
// GraphQL schema pays for, and big CRDs repeat shapes many times.
import {
  getNamedType, GraphQLBoolean, GraphQLEnumType, GraphQLError, GraphQLInputObjectType, GraphQLList, GraphQLNonNull, GraphQLObjectType, GraphQLString, isEnumType, isObjectType,
} from 'graphql';
import type { GraphQLEnumValueConfigMap, GraphQLInputType, GraphQLNamedType, GraphQLOutputType } from 'graphql';
import { shapeKeysThisTurn, sortFields, versionFilter, type FilterNode, type ObjectFilter } from '../model/query-fields.ts';
import { ENUM_OPERATORS, parseOrderBy, parseWhere, QueryInputError } from '../model/query-filter.ts';
import type { ListArgs } from '../contract/operations.ts';
import { ApiErrorCode } from '../api-errors.ts';
import type { VersionModel } from '../model/resource-model.ts';
import {
  input, listFilterType, NO_EXTENSION_NODES, NO_EXTENSIONS, ObjectMetaWhereType, operatorFields, OrderDirectionEnum, OwnerReferenceWhereType, scalarFilterType, scalarListFilterType,
  StringMapEntryFilterType, whereFields,
} from './filter-types.ts';
import type { VersionTypes } from './resource-types.ts';
import { fieldTypeOf, inputObjectType, noteCreated } from './lazy-schema.ts';

export interface QueryTypes {
  readonly where: GraphQLInputObjectType;
  readonly orderBy: GraphQLInputObjectType;
}

/** `lazyValues`: the OrderField enum's values defined when first read (trusted builds), not at once. */
export function buildQueryTypes(version: VersionModel, types: Pick<VersionTypes, 'object'>, lazyValues = false): QueryTypes {
  const builder = new WhereBuilder();
  const where = builder.where(versionFilter(version), types.object);
  const values = (): GraphQLEnumValueConfigMap => {
    const made: GraphQLEnumValueConfigMap = {};
    for (const f of sortFields(version)) made[f.enumName] = { value: f, description: f.dotted, extensions: NO_EXTENSIONS };
    return made;
  };
  const orderField = noteCreated(new GraphQLEnumType({
    extensions: NO_EXTENSIONS,
    extensionASTNodes: NO_EXTENSION_NODES,
    name: `${types.object.name}_OrderField`,
    description: 'The fields a list can be ordered by: string, number, boolean and date-time fields reached through objects.',
    values: lazyValues ? values : values(),
  }));
  const orderBy = inputObjectType({
    extensions: NO_EXTENSIONS,
    extensionASTNodes: NO_EXTENSION_NODES,
    name: `${types.object.name}_OrderBy`,
    fields: {
      field: input(new GraphQLNonNull(orderField)),
      direction: { ...input(OrderDirectionEnum), defaultValue: 'ASC' },
    },
  });
  return { where, orderBy };
}

/**
 * The filter input types of one version. Objects of the same shape share one Where type (big CRDs
 * repeat shapes: containers, references, conditions), named after the first of them in schema
 * order; so do enums with the same values, and the list and entry filters of shared types.
 */
const WHERE_DESCRIPTION = 'Conditions on an object of this shape (the type it is named after, and every other one alike); all given must hold.';

class WhereBuilder {
  private readonly shapeOf = shapeKeysThisTurn();
  private readonly wheres = new Map<string, GraphQLInputObjectType>();
  private readonly enums = new Map<string, GraphQLInputObjectType>();
  private readonly lists = new Map<GraphQLInputType, GraphQLInputObjectType>();
  private readonly entries = new Map<GraphQLInputType, GraphQLInputObjectType>();

  where(f: ObjectFilter, out: GraphQLObjectType): GraphQLInputObjectType {
    if (f.shape === 'meta') return ObjectMetaWhereType;
    if (f.shape === 'ownerReference') return OwnerReferenceWhereType;
    const key = this.shapeOf(f);
    const known = this.wheres.get(key);
    if (known) return known;
    const fieldTypes: GraphQLInputType[] = [];
    const self: GraphQLInputObjectType = inputObjectType({
      extensions: NO_EXTENSIONS,
      extensionASTNodes: NO_EXTENSION_NODES,
      name: `${out.name}_Where`,
      description: WHERE_DESCRIPTION,
      fields: () => whereFields(f, () => self, (i) => fieldTypes[i]!),
    });
    // Registered before its fields are built, and those in order: a shape is named after the
    // first path that has it, reading the schema from the top (depth first).
    this.wheres.set(key, self);
    for (const field of f.fields) fieldTypes.push(this.filter(field.filter, fieldTypeOf(out, field.graphqlName) as GraphQLOutputType));
    return self;
  }

  /** The filter input of a field whose output type is `out`. */
  private filter(f: FilterNode, out: GraphQLOutputType): GraphQLInputType {
    const named: GraphQLNamedType = getNamedType(out);
    switch (f.kind) {
      case 'scalar':
        return isEnumType(named) ? this.enumFilter(named, f) : scalarFilterType(f.scalar);
      case 'object':
        return this.where(f, named as GraphQLObjectType);
      case 'list': {
        if (f.items.kind === 'scalar' && !isEnumType(named)) return scalarListFilterType(f.items.scalar);
        const element = f.items.kind === 'object' ? this.where(f.items, named as GraphQLObjectType) : this.enumFilter(named as GraphQLEnumType, f.items);
        return once(this.lists, element, () => listFilterType(`${element.name.replace(/_(Where|Filter)$/, '')}_ListFilter`, element));
      }
      case 'map':
        return new GraphQLList(new GraphQLNonNull(f.flat ? StringMapEntryFilterType : this.entryFilter(f.values, named)));
    }
  }

  private enumFilter(e: GraphQLEnumType, f: FilterNode): GraphQLInputObjectType {
    return once(this.enums, this.shapeOf(f), () => inputObjectType({
      extensions: NO_EXTENSIONS,
      extensionASTNodes: NO_EXTENSION_NODES,
      name: `${e.name}_Filter`,
      description: 'Conditions on an enum field (of this enum, or of another with the same values).',
      fields: () => operatorFields(ENUM_OPERATORS, e),
    }));
  }

  /** `{key, exists, isNull, value}` for a typed map, whose output is a list of `<map>_Entry`. */
  private entryFilter(values: FilterNode, entry: GraphQLNamedType): GraphQLInputObjectType {
    if (!isObjectType(entry) || !entry.name.endsWith('_Entry')) throw new Error(`a typed map's output is a list of entries, not ${entry.name}`);
    const valueFilter = this.filter(values, fieldTypeOf(entry, 'value') as GraphQLOutputType);
    return once(this.entries, valueFilter, () => inputObjectType({
      extensions: NO_EXTENSIONS,
      extensionASTNodes: NO_EXTENSION_NODES,
      name: `${entry.name.slice(0, -'_Entry'.length)}_EntryFilter`,
      description: 'A condition on one entry of a map: its key, whether it is there, and a filter of its value.',
      fields: () => ({
        key: input(new GraphQLNonNull(GraphQLString), 'The map key, exactly.'),
        exists: input(GraphQLBoolean, 'true: the key is present; false: it is not.'),
        isNull: input(GraphQLBoolean, 'true: the key is absent or its value null.'),
        value: input(valueFilter),
      }),
    }));
  }
}

function once<K>(built: Map<K, GraphQLInputObjectType>, key: K, make: () => GraphQLInputObjectType): GraphQLInputObjectType {
  let t = built.get(key);
  if (!t) {
    t = make();
    built.set(key, t);
  }
  return t;
}

/** The where, orderBy and consistency arguments of a list field, as the operations take them. */
export function queryListArgs(args: Record<string, unknown>, version: VersionModel): Pick<ListArgs, 'where' | 'orderBy' | 'consistency'> {
  const out: { -readonly [K in 'where' | 'orderBy' | 'consistency']?: ListArgs[K] } = {};
  try {
    if (args['where'] != null) out.where = parseWhere(args['where'], version, 'graphql');
    if (args['orderBy'] != null) out.orderBy = parseOrderBy(args['orderBy'], version);
  } catch (err) {
    if (err instanceof QueryInputError) {
      throw new GraphQLError(err.message, { extensions: { code: ApiErrorCode.BAD_USER_INPUT, httpStatus: 400, reason: 'InvalidQuery' } });
    }
    throw err;
  }
  if (args['consistency'] === 'CACHED' || args['consistency'] === 'STRONG') out.consistency = args['consistency'];
  return out;
}
