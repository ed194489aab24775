// An example operation that follows relations, for the explorer's default query: a few objects of a
// served resource (the first namespaced one, which tenants are most likely to read), each with its
// owners, its children of its own kind and its newest Events.
import { rootFieldNames } from '../model/graphql-type-names.ts';
import type { ResourceModel } from '../model/resource-model.ts';

/** The operation, named Relations; '' when no resource is served. */
export function relationsExample(resources: readonly ResourceModel[]): string {
  const served = resources.filter((r) => r.versions.some((v) => v.served));
  const resource = served.find((r) => r.scope === 'Namespaced') ?? served[0];
  if (!resource) return '';
  return `
# Every object also has its relations: owners, children(kind: ...)
# and events. The run button offers this operation too:
query Relations {
  ${rootFieldNames(resource, undefined).list}(first: 5) {
    edges {
      node {
        metadata { ${resource.scope === 'Namespaced' ? 'namespace ' : ''}name }
        owners { __typename kind metadata { name } }
        children(kind: "${resource.kind}") { __typename metadata { name } }
        events(limit: 3) { type reason message lastSeen }
      }
    }
  }
}
`;
}
