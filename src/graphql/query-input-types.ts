// The `where` and `orderBy` inputs of one served version's list field, built from the version's
// query fields (src/model/query-fields.ts) beside the version's output types: each Where type is
// named after the object type it filters (`<object type>_Where`), enums get `<enum>_Filter`,
// lists of objects `<object type>_ListFilter`, typed maps `<map>_EntryFilter`, and the version
// `<type>_OrderField` (its sortable leaves) and `<type>_OrderBy`. Input fields are thunks: nothing
// below a type is built before the schema asks for it.
import {
  getNamedType, GraphQLBoolean, GraphQLEnumType, GraphQLError, GraphQLInputObjectType, GraphQLList, GraphQLNonNull, GraphQLObjectType, GraphQLString, isEnumType, isObjectType,
} from 'graphql';
import type { GraphQLEnumValueConfigMap, GraphQLInputType, GraphQLNamedType, GraphQLOutputType } from 'graphql';
import { sortFields, versionFilter, type FilterNode, type ObjectFilter } from '../model/query-fields.ts';
import { ENUM_OPERATORS, parseOrderBy, parseWhere, QueryInputError } from '../model/query-filter.ts';
import type { ListArgs } from '../contract/operations.ts';
import { ApiErrorCode } from '../api-errors.ts';
import type { VersionModel } from '../model/resource-model.ts';
import {
  listFilterType, ObjectMetaWhereType, operatorFields, OrderDirectionEnum, OwnerReferenceWhereType, scalarFilterType, scalarListFilterType,
  StringMapEntryFilterType, whereFields,
} from './filter-types.ts';
import type { VersionTypes } from './resource-types.ts';

export interface QueryTypes {
  readonly where: GraphQLInputObjectType;
  readonly orderBy: GraphQLInputObjectType;
}

export function buildQueryTypes(version: VersionModel, types: Pick<VersionTypes, 'object'>): QueryTypes {
  const builder = new WhereBuilder();
  const where = builder.where(versionFilter(version), types.object);
  const fields = sortFields(version);
  const values: GraphQLEnumValueConfigMap = {};
  for (const f of fields) values[f.enumName] = { value: f, description: f.dotted };
  const orderField = new GraphQLEnumType({
    name: `${types.object.name}_OrderField`,
    description: 'The fields a list can be ordered by: string, number, boolean and date-time fields reached through objects.',
    values,
  });
  const orderBy = new GraphQLInputObjectType({
    name: `${types.object.name}_OrderBy`,
    fields: {
      field: { type: new GraphQLNonNull(orderField) },
      direction: { type: OrderDirectionEnum, defaultValue: 'ASC' },
    },
  });
  return { where, orderBy };
}

/** The filter input types of one version, each built once. */
class WhereBuilder {
  private readonly built = new Map<string, GraphQLInputObjectType>();

  where(f: ObjectFilter, out: GraphQLObjectType): GraphQLInputObjectType {
    if (f.shape === 'meta') return ObjectMetaWhereType;
    if (f.shape === 'ownerReference') return OwnerReferenceWhereType;
    return this.once(`${out.name}_Where`, (name) => {
      const self: GraphQLInputObjectType = new GraphQLInputObjectType({
        name,
        description: `Conditions on ${out.name}; all given must hold.`,
        fields: () => whereFields(f, () => self, (i) => {
          const field = f.fields[i]!;
          return this.filter(field.filter, out.getFields()[field.graphqlName]!.type);
        }),
      });
      return self;
    });
  }

  /** The filter input of a field whose output type is `out`. */
  private filter(f: FilterNode, out: GraphQLOutputType): GraphQLInputType {
    const named: GraphQLNamedType = getNamedType(out);
    switch (f.kind) {
      case 'scalar':
        return isEnumType(named) ? this.enumFilter(named) : scalarFilterType(f.scalar);
      case 'object':
        return this.where(f, named as GraphQLObjectType);
      case 'list':
        if (f.items.kind === 'object') {
          return this.once(`${named.name}_ListFilter`, (name) => listFilterType(name, this.where(f.items as ObjectFilter, named as GraphQLObjectType)));
        }
        return isEnumType(named) ? this.once(`${named.name}_ListFilter`, (name) => listFilterType(name, this.enumFilter(named))) : scalarListFilterType(f.items.scalar);
      case 'map':
        return new GraphQLList(new GraphQLNonNull(f.flat ? StringMapEntryFilterType : this.entryFilter(f.values, named)));
    }
  }

  private enumFilter(e: GraphQLEnumType): GraphQLInputObjectType {
    return this.once(`${e.name}_Filter`, (name) => new GraphQLInputObjectType({
      name,
      description: `Conditions on a ${e.name} field.`,
      fields: () => operatorFields(ENUM_OPERATORS, e),
    }));
  }

  /** `{key, exists, isNull, value}` for a typed map, whose output is a list of `<map>_Entry`. */
  private entryFilter(values: FilterNode, entry: GraphQLNamedType): GraphQLInputObjectType {
    if (!isObjectType(entry) || !entry.name.endsWith('_Entry')) throw new Error(`a typed map's output is a list of entries, not ${entry.name}`);
    return this.once(`${entry.name.slice(0, -'_Entry'.length)}_EntryFilter`, (name) => new GraphQLInputObjectType({
      name,
      description: 'A condition on one entry of a map: its key, whether it is there, and a filter of its value.',
      fields: () => ({
        key: { type: new GraphQLNonNull(GraphQLString), description: 'The map key, exactly.' },
        exists: { type: GraphQLBoolean, description: 'true: the key is present; false: it is not.' },
        isNull: { type: GraphQLBoolean, description: 'true: the key is absent or its value null.' },
        value: { type: this.filter(values, entry.getFields()['value']!.type) },
      }),
    }));
  }

  private once(name: string, make: (name: string) => GraphQLInputObjectType): GraphQLInputObjectType {
    let t = this.built.get(name);
    if (!t) {
      t = make(name);
      this.built.set(name, t);
    }
    return t;
  }
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
