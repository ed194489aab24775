// Selection sets that ask for every field of a type, so a query returns everything it can of the
// object itself (relation fields lead to other objects and are left out).

import { getNamedType, isObjectType } from 'graphql';
import type { GraphQLOutputType } from 'graphql';
import { isRelationField } from '../../src/graphql/relation-types.ts';

export function fullSelection(type: GraphQLOutputType): string {
  const named = getNamedType(type);
  if (!isObjectType(named)) return '';
  const fields = Object.values(named.getFields()).filter((field) => !isRelationField(field)).map((field) => `${field.name}${fullSelection(field.type)}`);
  return ` { ${fields.join(' ')} }`;
}
