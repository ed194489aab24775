// A tenant's view of the API: the full schema cut down to the root fields its RBAC allows. Types
// that no remaining field reaches are not in the result at all, so introspection shows a tenant
// nothing of resources it cannot use. Callers with the same effective rights share one schema.
import { LRUCache } from 'lru-cache';
import { GraphQLObjectType, GraphQLSchema, type GraphQLFieldConfigMap, type GraphQLNamedType, type GraphQLObjectTypeConfig } from 'graphql';
import { declaredFieldsOf, lazySchemaView, namedOf, namedReferences, rootFieldGroupsOf, rootObjectType, typesOfEverySchema } from './lazy-schema.ts';
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

const refLists = new WeakMap<readonly ResourceModel[], readonly ResourceRef[]>();

/**
 * resources.map(refOf), one list per list of resources (a schema's, kept while it is served): a
 * caller's fingerprint is computed once for it, not again for every request.
 */
export function refsOf(resources: readonly ResourceModel[]): readonly ResourceRef[] {
  let refs = refLists.get(resources);
  if (!refs) refLists.set(resources, (refs = resources.map(refOf)));
  return refs;
}

const fieldOps = Object.entries(fieldVerbs) as [keyof RootFieldNames, [Verb, string | undefined]][];
const qualifiedNames = new WeakMap<ResourceModel, Record<keyof RootFieldNames, string[]>>();

/** Per operation, the root fields ("Query.x") of a CRD's served versions and of its default one, made once per model. */
function rootFieldsByOp(r: ResourceModel): Record<keyof RootFieldNames, string[]> {
  let byOp = qualifiedNames.get(r);
  if (!byOp) {
    byOp = Object.fromEntries(fieldOps.map(([op]) => [op, [] as string[]])) as unknown as Record<keyof RootFieldNames, string[]>;
    const versions: (string | undefined)[] = [undefined, ...r.versions.filter((v) => v.served).map((v) => v.name)];
    for (const version of versions) {
      const names = rootFieldNames(r, version);
      for (const [op] of fieldOps) byOp[op].push(`${rootType(op)}.${names[op]}`);
    }
    qualifiedNames.set(r, byOp);
  }
  return byOp;
}

/** The root fields ("Query.x") a tenant may use, and the CRDs it can see at all. */
export function allowedRootFields(resources: readonly ResourceModel[], perms: AccessRights): { fields: Set<string>; crds: Set<string> } {
  const fields = new Set<string>(['Query.apiResources', 'Query.resourcesInCategory']);
  const crds = new Set<string>();
  const refs = refsOf(resources);
  for (let i = 0; i < resources.length; i++) {
    const r = resources[i]!;
    const ref = refs[i]!;
    let byOp: Record<keyof RootFieldNames, string[]> | undefined;
    for (const [op, [verb, sub]] of fieldOps) {
      if (!perms.anywhere(verb, ref, sub)) continue;
      byOp ??= rootFieldsByOp(r);
      for (const field of byOp[op]) fields.add(field);
      // applyYaml applies what the caller may patch (server-side apply is a patch).
      if (op === 'patch') fields.add('Mutation.applyYaml');
    }
    if (byOp) crds.add(r.crdName);
  }
  return { fields, crds };
}

/**
 * Whether a caller with these rights may use the resource at all (some root field of it is in its
 * schema): what decides which resources its schema, OpenAPI document and REST facade show.
 */
export function mayUseResource(perms: AccessRights, ref: ResourceRef): boolean {
  for (const [, [verb, sub]] of fieldOps) if (perms.anywhere(verb, ref, sub)) return true;
  return false;
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

/**
 * What every tenant view of one full schema looks up, computed once per full schema: which named
 * types every schema has (the generic KubernetesObject's, the directives' and introspection's),
 * and for every other type which root fields reach it. Root fields are taken in groups (those of
 * one CRD, recorded by the schema builder); within a group each distinct named type its fields
 * refer to directly gets a bit, and a type records, per group that reaches it, the bits of the
 * direct references it is reached from (not counting those reached through another direct
 * reference of the group: a field's bits include those of the references its own reach). A
 * tenant then holds one mask per group (the bits of its allowed fields), and a type is in its
 * schema when one of its groups' masks meets the type's: O(allowed root fields) per tenant
 * instead of a walk of the ~100,000 types a tenant that may read everything reaches.
 */
interface TenantPrep {
  readonly generic: GraphQLNamedType | undefined;
  /** Types every tenant schema has. */
  readonly always: ReadonlySet<GraphQLNamedType>;
  /** Per type reached by exactly one group (of the first 2^14): group * 2^16 + bits, a small integer. */
  readonly single: ReadonlyMap<GraphQLNamedType, number>;
  /** Per type reached by several groups: [group, bits, group, bits, ...]. */
  readonly shared: ReadonlyMap<GraphQLNamedType, readonly number[]>;
  /** The full schema's root fields, by root type, in order. */
  readonly roots: readonly RootOfFull[];
  /** Root field ("Query.x") → its root, position, group and bits. */
  readonly rootFields: ReadonlyMap<string, RootFieldEntry>;
  readonly groups: number;
  /** Per CRD, per operation, its root fields' entries (entriesOf). */
  readonly byModel: WeakMap<ResourceModel, Record<keyof RootFieldNames, readonly RootFieldEntry[]>>;
}

interface RootOfFull {
  readonly name: 'Query' | 'Mutation' | 'Subscription';
  /** The root type's config but its fields. */
  readonly base: Omit<GraphQLObjectTypeConfig<unknown, unknown>, 'fields'>;
  readonly fields: GraphQLFieldConfigMap<unknown, unknown>;
  readonly names: readonly string[];
}

interface RootFieldEntry {
  readonly root: number;
  readonly at: number;
  group: number;
  bits: number;
}

const GROUP = 2 ** 16;
/** Bits per group: a group whose fields refer to more distinct types is split. */
const MAX_BITS = 16;
/** Groups whose types can be in `single` (the code stays a small integer, which V8 keeps unboxed). */
const SINGLE_GROUPS = 2 ** 14;
const preps = new WeakMap<GraphQLSchema, TenantPrep>();
/** Preparations under way in slices (prepareTenantViewsInSlices), finished by the first caller that needs them. */
const preparing = new WeakMap<GraphQLSchema, Generator<void, TenantPrep>>();

/**
 * The lookups tenant views of `full` share: computed on first use, or the rest of a preparation
 * under way. With `resources` (those `full` was built from), their root field names too.
 */
export function prepareTenantViews(full: GraphQLSchema, resources: readonly ResourceModel[] = []): TenantPrep {
  const done = preps.get(full);
  if (done) return done;
  const steps = preparing.get(full) ?? prepare(full, resources);
  let step = steps.next();
  while (!step.done) step = steps.next();
  preps.set(full, step.value);
  preparing.delete(full);
  return step.value;
}

export interface SlicedPreparation {
  /** Longest run on the event loop between two yields (the walk of one group of root fields may exceed it). */
  sliceMs?: number;
  /** Checked before each slice: a schema replaced in the meantime is not prepared any further. */
  wanted?: () => boolean;
  /** The resources the schema was built from: their root field names are made as well. */
  resources?: readonly ResourceModel[];
  now?: () => number;
  schedule?: (next: () => void) => void;
}

/**
 * Prepares the lookups of `full` a slice at a time, yielding to the event loop between slices: at
 * 1,000 CRDs the whole walk takes most of a second, which in one piece after every schema change
 * would hold up every request and watch event for that long. A caller that needs them before the
 * last slice finishes the rest itself.
 */
export function prepareTenantViewsInSlices(full: GraphQLSchema, opts: SlicedPreparation = {}): void {
  if (preps.has(full) || preparing.has(full)) return;
  const { sliceMs = 10, wanted = () => true, now = () => performance.now(), schedule = setImmediate } = opts;
  const steps = prepare(full, opts.resources ?? []);
  preparing.set(full, steps);
  const slice = () => {
    // Finished meanwhile by a caller, or no longer the schema being served.
    if (preparing.get(full) !== steps) return;
    if (!wanted()) {
      preparing.delete(full);
      return;
    }
    const until = now() + sliceMs;
    do {
      const step = steps.next();
      if (step.done) {
        preps.set(full, step.value);
        preparing.delete(full);
        return;
      }
    } while (now() < until);
    schedule(slice);
  };
  schedule(slice);
}

function* prepare(full: GraphQLSchema, resources: readonly ResourceModel[]): Generator<void, TenantPrep> {
  const generic = full.getType(GENERIC_OBJECT) ?? undefined;
  const always = typesEveryTenantHas(generic);
  const { roots, rootFields } = rootsOf(full);
  const marks = new Membership(always);
  for (const fields of fieldGroups(full, rootFields)) {
    // Each field's direct references, outside what every schema has.
    const refsOf = fields.map((f) => {
      const entry = rootFields.get(f)!;
      const config = roots[entry.root]!.fields[roots[entry.root]!.names[entry.at]!]!;
      const refs = new Set<GraphQLNamedType>([namedOf(config.type)]);
      for (const arg of Object.values(config.args ?? {})) refs.add(namedOf(arg.type));
      return [...refs].filter((r) => !always.has(r));
    });
    let direct = new Map<GraphQLNamedType, number>();
    let members: number[] = [];
    const close = () => {
      if (!members.length) return;
      const { group, implies } = marks.markGroup(direct);
      for (const i of members) {
        let mask = 0;
        for (const ref of refsOf[i]!) mask |= implies.get(direct.get(ref)!)!;
        const entry = rootFields.get(fields[i]!)!;
        entry.group = group;
        entry.bits = mask;
      }
      direct = new Map();
      members = [];
    };
    for (let i = 0; i < fields.length; i++) {
      const refs = refsOf[i]!;
      if (refs.length > MAX_BITS) {
        // A field of its own, all its references on one bit: its types are there when it is.
        close();
        direct = new Map(refs.map((r) => [r, 1]));
        members = [i];
        close();
        continue;
      }
      const added = refs.filter((r) => !direct.has(r)).length;
      if (direct.size + added > MAX_BITS) close();
      for (const ref of refs) if (!direct.has(ref)) direct.set(ref, 2 ** direct.size);
      members.push(i);
    }
    close();
    yield;
  }
  const prep: TenantPrep = { generic, always, single: marks.single, shared: marks.shared, roots, rootFields, groups: marks.groups, byModel: new WeakMap() };
  // Each CRD's root fields by operation (from ~25,000 name strings at 1,000 CRDs, kept per model):
  // made here, not by the first tenant that may read everything (50 ms on its request).
  for (let i = 0; i < resources.length; i++) {
    entriesOf(prep, resources[i]!);
    if (i % 100 === 99) yield;
  }
  return prep;
}

/** The generic KubernetesObject's types, the directives' and introspection's, and all they reach. */
function typesEveryTenantHas(generic: GraphQLNamedType | undefined): Set<GraphQLNamedType> {
  const always = new Set<GraphQLNamedType>();
  const stack: GraphQLNamedType[] = [];
  for (const start of [...(generic ? [generic] : []), ...typesOfEverySchema().map(namedOf)]) {
    if (always.has(start)) continue;
    always.add(start);
    stack.push(start);
    while (stack.length) {
      for (const ref of namedReferences(stack.pop()!)) {
        if (!always.has(ref)) {
          always.add(ref);
          stack.push(ref);
        }
      }
    }
  }
  return always;
}

/** The full schema's root types and, per root field ("Query.x"), where it is (group and bits still unset). */
function rootsOf(full: GraphQLSchema): { roots: RootOfFull[]; rootFields: Map<string, RootFieldEntry> } {
  const roots: RootOfFull[] = [];
  const rootFields = new Map<string, RootFieldEntry>();
  for (const [name, type] of [['Query', full.getQueryType()], ['Mutation', full.getMutationType()], ['Subscription', full.getSubscriptionType()]] as const) {
    // The config the root type was made with, when it declared one: toConfig() would build and
    // copy every root field (thousands at 1,000 CRDs).
    const declared = type ? declaredFieldsOf(type) : undefined;
    const config = !type ? { name, fields: {} } : declared ? { name: type.name, fields: declared } : type.toConfig();
    const { fields, ...base } = config;
    const names = Object.keys(fields);
    names.forEach((field, at) => rootFields.set(`${name}.${field}`, { root: roots.length, at, group: -1, bits: 0 }));
    roots.push({ name, base, fields, names });
  }
  return { roots, rootFields };
}

/** The groups of root fields: those the schema builder recorded, then every root field in none on its own. */
function fieldGroups(full: GraphQLSchema, rootFields: ReadonlyMap<string, RootFieldEntry>): string[][] {
  const grouped = new Set<string>();
  const groups: string[][] = [];
  for (const group of rootFieldGroupsOf(full)) {
    const fields = group.filter((f) => rootFields.has(f) && !grouped.has(f));
    for (const f of fields) grouped.add(f);
    if (fields.length) groups.push(fields);
  }
  for (const field of rootFields.keys()) if (!grouped.has(field)) groups.push([field]);
  return groups;
}

/** Which groups, and which bits within each, reach every type (TenantPrep's single and shared). */
class Membership {
  readonly single = new Map<GraphQLNamedType, number>();
  readonly shared = new Map<GraphQLNamedType, number[]>();
  private group = -1;
  private readonly always: ReadonlySet<GraphQLNamedType>;

  constructor(always: ReadonlySet<GraphQLNamedType>) {
    this.always = always;
  }

  get groups(): number {
    return this.group + 1;
  }

  /**
   * Opens a group for the direct references in `direct` (reference → its bit) and marks what each
   * reaches; returns the group and, per bit, the bits it implies (itself and the references it
   * reaches, transitively).
   */
  markGroup(direct: ReadonlyMap<GraphQLNamedType, number>): { group: number; implies: Map<number, number> } {
    this.group++;
    const implies = new Map<number, number>();
    for (const [ref, bit] of direct) implies.set(bit, this.walk(ref, bit, direct) | bit);
    for (let changed = true; changed; ) {
      changed = false;
      for (const [bit, mask] of implies) {
        let closed = mask;
        for (const [other, more] of implies) if (mask & other) closed |= more;
        if (closed !== mask) {
          implies.set(bit, closed);
          changed = true;
        }
      }
    }
    return { group: this.group, implies };
  }

  /** Marks what `start` reaches with `bit`, stopping at the group's other direct references; returns their bits. */
  private walk(start: GraphQLNamedType, bit: number, direct: ReadonlyMap<GraphQLNamedType, number>): number {
    let implied = 0;
    const pending = [start];
    while (pending.length) {
      const type = pending.pop()!;
      if (this.always.has(type)) continue;
      const other = type === start ? undefined : direct.get(type);
      if (other !== undefined) {
        implied |= other;
        continue;
      }
      if (!this.mark(type, bit)) continue;
      for (const ref of namedReferences(type)) if (!this.always.has(ref)) pending.push(ref);
    }
    return implied;
  }

  /** Records that the current group reaches `type` through `bit`; false when it already had. */
  private mark(type: GraphQLNamedType, bit: number): boolean {
    const group = this.group;
    const code = this.single.get(type);
    if (code !== undefined) {
      if (code >>> 16 === group) {
        if (code & bit) return false;
        this.single.set(type, code | bit);
      } else {
        this.single.delete(type);
        this.shared.set(type, [code >>> 16, code & (GROUP - 1), group, bit]);
      }
      return true;
    }
    const owners = this.shared.get(type);
    if (owners === undefined) {
      if (group < SINGLE_GROUPS) this.single.set(type, group * GROUP + bit);
      else this.shared.set(type, [group, bit]);
    } else if (owners[owners.length - 2] === group) {
      if (owners[owners.length - 1]! & bit) return false;
      owners[owners.length - 1]! |= bit;
    } else owners.push(group, bit);
    return true;
  }
}

/** Whether a tenant whose groups allow `masks` reaches `type` (the root types are the tenant's own). */
function reaches(prep: TenantPrep, masks: Int32Array, type: GraphQLNamedType): boolean {
  if (prep.always.has(type)) return true;
  const code = prep.single.get(type);
  if (code !== undefined) return (masks[code >>> 16]! & code & (GROUP - 1)) !== 0;
  const owners = prep.shared.get(type);
  if (owners === undefined) return false;
  for (let i = 0; i < owners.length; i += 2) if ((masks[owners[i]!]! & owners[i + 1]!) !== 0) return true;
  return false;
}

/** Which root fields a tenant view has (positions per root type, unsorted) and its groups' bits. */
interface Selection {
  readonly chosen: number[][];
  readonly masks: Int32Array;
  readonly visibleCrds: ReadonlySet<string>;
}

function emptySelection(prep: TenantPrep, visibleCrds: ReadonlySet<string>): Selection & { choose(entry: RootFieldEntry): void } {
  const masks = new Int32Array(prep.groups);
  const chosen: number[][] = prep.roots.map(() => []);
  return {
    chosen,
    masks,
    visibleCrds,
    choose: (entry) => {
      chosen[entry.root]!.push(entry.at);
      masks[entry.group]! |= entry.bits;
    },
  };
}

/** Per operation, the entries of a CRD's root fields that `full` has, made once per model and full schema. */
function entriesOf(prep: TenantPrep, r: ResourceModel): Record<keyof RootFieldNames, readonly RootFieldEntry[]> {
  let byOp = prep.byModel.get(r);
  if (!byOp) {
    const names = rootFieldsByOp(r);
    byOp = {} as Record<keyof RootFieldNames, RootFieldEntry[]>;
    for (const [op] of fieldOps) byOp[op] = names[op].flatMap((name) => prep.rootFields.get(name) ?? []);
    prep.byModel.set(r, byOp);
  }
  return byOp;
}

/**
 * The selection filterSchema(full, allowedRootFields(resources, perms)) makes, from each allowed
 * operation's entries: no set of the allowed names and no lookup per name (a tenant that may read
 * everything is allowed ~7,000 root fields at 1,000 CRDs, half its cost when looked up by name).
 */
function selectionOf(prep: TenantPrep, resources: readonly ResourceModel[], perms: AccessRights): Selection {
  const crds = new Set<string>();
  const selection = emptySelection(prep, crds);
  for (const head of ['Query.apiResources', 'Query.resourcesInCategory']) {
    const entry = prep.rootFields.get(head);
    if (entry) selection.choose(entry);
  }
  let patches = false;
  const refs = refsOf(resources);
  for (let i = 0; i < resources.length; i++) {
    const r = resources[i]!;
    let byOp: Record<keyof RootFieldNames, readonly RootFieldEntry[]> | undefined;
    for (const [op, [verb, sub]] of fieldOps) {
      if (!perms.anywhere(verb, refs[i]!, sub)) continue;
      byOp ??= entriesOf(prep, r);
      for (const entry of byOp[op]) selection.choose(entry);
      patches ||= op === 'patch';
    }
    if (byOp) crds.add(r.crdName);
  }
  // applyYaml applies what the caller may patch (server-side apply is a patch).
  const applyYaml = patches ? prep.rootFields.get('Mutation.applyYaml') : undefined;
  if (applyYaml) selection.choose(applyYaml);
  return selection;
}

export function filterSchema(full: GraphQLSchema, allowed: ReadonlySet<string>, visibleCrds: ReadonlySet<string>): GraphQLSchema {
  const prep = prepareTenantViews(full);
  // The allowed fields of each root type in its order, and each group's bits: one lookup per
  // allowed field (a tenant is allowed a few of thousands of root fields, or most of them).
  const selection = emptySelection(prep, visibleCrds);
  for (const name of allowed) {
    const entry = prep.rootFields.get(name);
    if (entry) selection.choose(entry);
  }
  return viewOf(full, prep, selection);
}

/** The tenant view of `full` with the selected root fields and the types they reach. */
function viewOf(full: GraphQLSchema, prep: TenantPrep, { chosen, masks, visibleCrds }: Selection): GraphQLSchema {
  let listable: Set<string> | undefined;
  // The Query fields of the view, when resourcesInCategory first asks.
  const mayList = (field: string) => (listable ??= new Set(chosen[0]!.map((at) => prep.roots[0]!.names[at]!))).has(field);
  const pick = (index: number): GraphQLObjectType | undefined => {
    const { name, base, fields: all, names } = prep.roots[index]!;
    const positions = Int32Array.from(chosen[index]!).sort();
    if (!positions.length) return undefined;
    const fields: GraphQLFieldConfigMap<unknown, unknown> = {};
    for (const at of positions) {
      const field = names[at]!;
      const cfg = all[field]!;
      if (name === 'Query' && (field === 'apiResources' || field === 'resourcesInCategory') && cfg.resolve) {
        const inner = cfg.resolve;
        // A category lists what the tenant may list, as kubectl get <category> would.
        const shown = field === 'apiResources'
          ? (r: ResourceInfo) => visibleCrds.has(r.crdName)
          : (r: ResourceInfo) => visibleCrds.has(r.crdName) && r.listField !== null && mayList(r.listField);
        fields[field] = { ...cfg, resolve: async (...args) => ((await inner(...args)) as ResourceInfo[]).filter(shown) };
      } else fields[field] = cfg;
    }
    return rootObjectType({ ...base, fields });
  };
  const query = pick(0)!;
  const mutation = pick(1);
  const subscription = pick(2);
  // getType runs for every type a validated or executed document names: these are made once.
  const ownRoots = new Map<string, GraphQLObjectType>();
  for (const root of [query, mutation, subscription]) if (root) ownRoots.set(root.name, root);
  const fullRoots = new Set<GraphQLNamedType | null | undefined>([full.getQueryType(), full.getMutationType(), full.getSubscriptionType()]);
  // The schema graphql-js would collect from these roots (and KubernetesObject, reached only as
  // an implementation of KubernetesResource): the full schema was validated when it was built, and
  // a subset of its fields stays valid. Its type map is collected when first read (introspection,
  // printSchema); the lookups of validation and execution are answered from the prepared ones.
  return lazySchemaView(
    {
      query,
      ...(mutation ? { mutation } : {}),
      ...(subscription ? { subscription } : {}),
      ...(prep.generic ? { types: [prep.generic] } : {}),
    },
    (name) => {
      const root = ownRoots.get(name);
      if (root) return root;
      const type = full.getType(name);
      // The full schema's roots are not the tenant's (and a root it lacks is not there at all).
      if (!type || fullRoots.has(type)) return undefined;
      return reaches(prep, masks, type) ? type : undefined;
    },
  );
}

export interface TenantSchemaCacheEntry {
  key: string;
  schema: GraphQLSchema;
}

/** Filtered schemas keyed by (full schema, rights fingerprint); bounded, least recently used out, those of an older full schema out when a new one is first asked for. */
export class TenantSchemaCache {
  private readonly entries: LRUCache<string, TenantSchemaCacheEntry>;
  private readonly ids = new WeakMap<GraphQLSchema, number>();
  private nextId = 1;
  /** The last key made per rights: a fingerprint has 11 characters per resource, not to be copied into a new key on every request. */
  private readonly lastKeys = new WeakMap<AccessRights, { id: number; fingerprint: string; key: string }>();

  constructor(max = 256) {
    this.entries = new LRUCache({ max });
  }

  get(full: GraphQLSchema, resources: readonly ResourceModel[], perms: AccessRights): TenantSchemaCacheEntry {
    let id = this.ids.get(full);
    if (id === undefined) {
      id = this.nextId++;
      this.ids.set(full, id);
      // A new full schema replaces the previous ones: their tenant schemas are never asked for
      // again, and each would keep its full schema and prepared lookups alive until evicted.
      const current = `${id}:`;
      for (const key of [...this.entries.keys()]) if (!key.startsWith(current)) this.entries.delete(key);
    }
    const key = this.keyOf(id, perms.fingerprint(refsOf(resources)), perms);
    const hit = this.entries.get(key);
    if (hit) return hit;
    const prep = prepareTenantViews(full, resources);
    const entry = { key, schema: viewOf(full, prep, selectionOf(prep, resources, perms)) };
    this.entries.set(key, entry);
    return entry;
  }

  /** `${id}:${fingerprint}`, the same string as long as both are (its hash is then computed once). */
  private keyOf(id: number, fingerprint: string, perms: AccessRights): string {
    const last = this.lastKeys.get(perms);
    if (last && last.id === id && last.fingerprint === fingerprint) return last.key;
    const key = `${id}:${fingerprint}`;
    this.lastKeys.set(perms, { id, fingerprint, key });
    return key;
  }
}
