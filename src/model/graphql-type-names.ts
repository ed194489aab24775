// Names of the GraphQL types and root fields generated for a CRD version. See
// docs/graphql-api.md for the rules and why they are stable.
//
// Every generated name is `<Kind or verb+Kind>[_<Part>...]_<version>_<group>[_<Role>]`:
//   - group: `.` → `_`, `-` → `__`      (stable.example.com → stable_example_com)
//   - version: `-` → `__`               (v1beta1 → v1beta1)
//   - Kind: kept; a `-` (allowed by the API server, never seen in practice) → `_2d`
//   - Part: a field path element in PascalCase, always starting with an upper-case letter
//   - Role: a fixed suffix (Input, Entry, EntryInput, Connection, Edge, WatchEvent, DeleteResult)
// Groups and versions are lower case and parts start upper case, so a name can be read back
// into (Kind, parts, version, group, role): two different CRDs never produce the same name,
// whatever else is installed. Shared types (ObjectMeta, PageInfo, ...) contain no `_`.

import { lowerCamel } from './graphql-names.ts';
import type { ResourceModel } from './resource-model.ts';

export function encodeGroup(group: string): string {
  return group.replace(/-/g, '__').replace(/\./g, '_');
}

export function encodeVersion(version: string): string {
  return version.replace(/-/g, '__');
}

export function encodeKind(kind: string): string {
  return kind.replace(/-/g, '_2d');
}

/**
 * The relation fields every resource's object type has (see docs/graphql-api.md): a property of
 * the same name at the root of a CRD's schema is renamed (`owners_2`), never these.
 */
export const RELATION_FIELDS = ['owners', 'children', 'events'] as const;

export type TypeRole = 'Input' | 'Entry' | 'EntryInput' | 'Connection' | 'Edge' | 'WatchEvent' | 'DeleteResult';

/** `CronTab_Spec_v1_stable_example_com`, `CronTab_v1_stable_example_com_Input`, ... */
export function resourceTypeName(
  resource: Pick<ResourceModel, 'kind' | 'group'>,
  version: string,
  parts: readonly string[],
  role?: TypeRole,
): string {
  return resourceTypeNamer(resource, version)(parts.join('_'), role);
}

/**
 * resourceTypeName for one version, its parts given joined with `_` (`Spec_Containers`, `` for
 * the version's own types): the encoded kind, version and group are made once, not per type.
 */
export function resourceTypeNamer(resource: Pick<ResourceModel, 'kind' | 'group'>, version: string): (joinedParts: string, role?: TypeRole) => string {
  const kind = encodeKind(resource.kind);
  const tail = `${encodeVersion(version)}_${encodeGroup(resource.group)}`;
  return (joinedParts, role) => {
    const head = joinedParts === '' ? kind : `${kind}_${joinedParts}`;
    return role ? `${head}_${tail}_${role}` : `${head}_${tail}`;
  };
}

/** Which root type each field of RootFieldNames belongs to; names only need to be unique per root type. */
export const ROOT_FIELD_TYPES = {
  get: 'Query',
  list: 'Query',
  getScale: 'Query',
  create: 'Mutation',
  replace: 'Mutation',
  patch: 'Mutation',
  updateStatus: 'Mutation',
  scale: 'Mutation',
  delete: 'Mutation',
  deleteCollection: 'Mutation',
  watch: 'Subscription',
} as const;

export interface RootFieldNames {
  readonly get: string;
  readonly list: string;
  readonly getScale: string;
  readonly create: string;
  readonly replace: string;
  readonly patch: string;
  readonly updateStatus: string;
  readonly scale: string;
  readonly delete: string;
  readonly deleteCollection: string;
  readonly watch: string;
}

/**
 * Root field names for one version, or for the version-less default (the storage version)
 * when `version` is undefined: `cronTab_v1_stable_example_com` / `cronTab_stable_example_com`.
 */
export function rootFieldNames(resource: Pick<ResourceModel, 'kind' | 'listKind' | 'group'>, version: string | undefined): RootFieldNames {
  const suffix = version === undefined ? `_${encodeGroup(resource.group)}` : `_${encodeVersion(version)}_${encodeGroup(resource.group)}`;
  const kind = encodeKind(resource.kind);
  const listKind = encodeKind(resource.listKind);
  return {
    get: `${lowerCamel(kind)}${suffix}`,
    list: `${lowerCamel(listKind)}${suffix}`,
    // `_Scale` (upper case after `_`) can be neither a version nor part of a kind, so it never
    // meets the get field of another kind (a real corpus has both Operation and WatchOperation).
    getScale: `${lowerCamel(kind)}_Scale${suffix}`,
    create: `create${kind}${suffix}`,
    replace: `replace${kind}${suffix}`,
    patch: `patch${kind}${suffix}`,
    updateStatus: `update${kind}Status${suffix}`,
    scale: `scale${kind}${suffix}`,
    delete: `delete${kind}${suffix}`,
    deleteCollection: `delete${listKind}${suffix}`,
    watch: `watch${kind}${suffix}`,
  };
}
