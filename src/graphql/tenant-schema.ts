// A tenant's view of the API: the full schema cut down to the root fields its RBAC allows. Types
// that no remaining field reaches are not in the result at all, so introspection shows a tenant
// nothing of resources it cannot use. Callers with the same effective rights share one schema.
import { LRUCache } from 'lru-cache';
import { GraphQLObjectType, GraphQLSchema, type GraphQLFieldConfigMap } from 'graphql';
import { declaredFieldsOf, lazySchema, objectType } from './lazy-schema.ts';
import { rootFieldNames, type RootFieldNames } from '../model/graphql-type-names.ts';
import type { ResourceModel } from '../model/resource-model.ts';
import type { AccessRights, ResourceRef, Verb } from '../contract/access.ts';
import { GENERIC_OBJECT } from './relation-types.ts';

/** Which RBAC verb (and subresource) each generated root field needs. */
export const fieldVerbs: Record<keyof RootFieldNames, [Verb, string | undefined]> = {
  get: ['get', undefined],
  list: ['list', undefined],
  getScale: ['get', 'scale'],
  create: ['create', undefined],
  replace: ['update', undefined],
  patch: ['patch', undefined],
  updateStatus: ['update', 'status'],
  scale: ['update', 'scale'],
  delete: ['delete', undefined],
  deleteCollection: ['deletecollection', undefined],
  watch: ['watch', undefined],
};

export function refOf(r: ResourceModel): ResourceRef {
  return { group: r.group, plural: r.plural, namespaced: r.scope === 'Namespaced' };
}

/** The root fields ("Query.x") a tenant may use, and the CRDs it can see at all. */
export function allowedRootFields(resources: readonly ResourceModel[], perms: AccessRights): { fields: Set<string>; crds: Set<string> } {
  const fields = new Set<string>(['Query.apiResources', 'Query.resourcesInCategory']);
  const crds = new Set<string>();
  for (const r of resources) {
    const ref = refOf(r);
    const ops = (Object.entries(fieldVerbs) as [keyof RootFieldNames, [Verb, string | undefined]][]).filter(([, [verb, sub]]) => perms.anywhere(verb, ref, sub));
    if (!ops.length) continue;
    crds.add(r.crdName);
    const versions: (string | undefined)[] = [undefined, ...r.versions.filter((v) => v.served).map((v) => v.name)];
    for (const version of versions) {
      const names = rootFieldNames(r, version);
      for (const [op] of ops) fields.add(`${rootType(op)}.${names[op]}`);
    }
    // applyYaml applies what the caller may patch (server-side apply is a patch).
    if (ops.some(([op]) => op === 'patch')) fields.add('Mutation.applyYaml');
  }
  return { fields, crds };
}

function rootType(op: keyof RootFieldNames): 'Query' | 'Mutation' | 'Subscription' {
  if (op === 'get' || op === 'list' || op === 'getScale') return 'Query';
  if (op === 'watch') return 'Subscription';
  return 'Mutation';
}

interface ResourceInfo {
  crdName: string;
  listField: string | null;
}

const positions = new WeakMap<object, Map<string, number>>();

/**
 * The fields of a root type that `allowed` names, in the root type's order. A tenant is allowed a
 * few of thousands of root fields: this looks up what it is allowed instead of testing them all.
 */
function allowedInOrder(fields: GraphQLFieldConfigMap<unknown, unknown>, root: string, allowed: ReadonlySet<string>): string[] {
  let index = positions.get(fields);
  if (!index) {
    index = new Map(Object.keys(fields).map((field, i) => [field, i]));
    positions.set(fields, index);
  }
  const prefix = `${root}.`;
  const found: [string, number][] = [];
  for (const entry of allowed) {
    if (!entry.startsWith(prefix)) continue;
    const field = entry.slice(prefix.length);
    const at = index.get(field);
    if (at !== undefined) found.push([field, at]);
  }
  return found.sort((a, b) => a[1] - b[1]).map(([field]) => field);
}

export function filterSchema(full: GraphQLSchema, allowed: ReadonlySet<string>, visibleCrds: ReadonlySet<string>): GraphQLSchema {
  const pick = (type: GraphQLObjectType | null | undefined, name: string): GraphQLObjectType | undefined => {
    if (!type) return undefined;
    // The config the root type was made with, when it declared one: toConfig() would build and
    // copy every root field (thousands at 1,000 CRDs) for each tenant.
    const declared = declaredFieldsOf(type);
    const config = declared ? { name: type.name, fields: declared } : type.toConfig();
    const fields: GraphQLFieldConfigMap<unknown, unknown> = {};
    for (const field of allowedInOrder(config.fields, name, allowed)) {
      const cfg = config.fields[field]!;
      if (name === 'Query' && (field === 'apiResources' || field === 'resourcesInCategory') && cfg.resolve) {
        const inner = cfg.resolve;
        // A category lists what the tenant may list, as kubectl get <category> would.
        const shown = field === 'apiResources'
          ? (r: ResourceInfo) => visibleCrds.has(r.crdName)
          : (r: ResourceInfo) => visibleCrds.has(r.crdName) && r.listField !== null && allowed.has(`Query.${r.listField}`);
        fields[field] = { ...cfg, resolve: async (...args) => ((await inner(...args)) as ResourceInfo[]).filter(shown) };
      } else fields[field] = cfg;
    }
    return Object.keys(fields).length ? objectType({ ...config, fields }) : undefined;
  };
  const query = pick(full.getQueryType(), 'Query')!;
  const mutation = pick(full.getMutationType(), 'Mutation');
  const subscription = pick(full.getSubscriptionType(), 'Subscription');
  // KubernetesObject is reached only as an implementation of KubernetesResource, not by a field.
  const generic = full.getType(GENERIC_OBJECT);
  // The full schema was validated when it was built; a subset of its fields stays valid, and the
  // fields of the types it keeps stay unbuilt until read, as in the full schema (lazy-schema.ts).
  return lazySchema({
    query,
    ...(mutation ? { mutation } : {}),
    ...(subscription ? { subscription } : {}),
    ...(generic ? { types: [generic] } : {}),
  });
}

export interface TenantSchemaCacheEntry {
  key: string;
  schema: GraphQLSchema;
}

/** Filtered schemas keyed by (full schema, rights fingerprint); bounded, least recently used out. */
export class TenantSchemaCache {
  private readonly entries: LRUCache<string, TenantSchemaCacheEntry>;
  private readonly ids = new WeakMap<GraphQLSchema, number>();
  private nextId = 1;

  constructor(max = 256) {
    this.entries = new LRUCache({ max });
  }

  get(full: GraphQLSchema, resources: readonly ResourceModel[], perms: AccessRights): TenantSchemaCacheEntry {
    let id = this.ids.get(full);
    if (id === undefined) {
      id = this.nextId++;
      this.ids.set(full, id);
    }
    const refs = resources.map(refOf);
    const key = `${id}:${perms.fingerprint(refs)}`;
    const hit = this.entries.get(key);
    if (hit) return hit;
    const { fields, crds } = allowedRootFields(resources, perms);
    const entry = { key, schema: filterSchema(full, fields, crds) };
    this.entries.set(key, entry);
    return entry;
  }
}
