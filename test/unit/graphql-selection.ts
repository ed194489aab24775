// Selection sets that ask for every field of a type, so a query returns everything it can.

import { getNamedType, isObjectType } from 'graphql';
import type { GraphQLOutputType } from 'graphql';

export function fullSelection(type: GraphQLOutputType): string {
  const named = getNamedType(type);
  if (!isObjectType(named)) return '';
  const fields = Object.values(named.getFields()).map((field) => `${field.name}${fullSelection(field.type)}`);
  return ` { ${fields.join(' ')} }`;
}
