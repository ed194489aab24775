// The changes of a schema change that break clients, as graphql-inspector's diff of the two whole
// schemas finds them, at the cost of what changed. A whole diff walks every field of every type
// (~0.7 s at 200 CRDs, and it builds the fields a lazy schema left unbuilt), once per rebuild: a
// CRD storm spent most of its CPU there, stalling every request. Only the root fields of CRDs whose
// types were rebuilt can differ (a CRD that did not change keeps its fragment: the same root field
// group, the same type objects), so the diff runs on small schemas made of those root fields, the
// root fields of no CRD (apiResources, applyYaml), and what they reach, one CRD at a time, yielding
// to the event loop in between.
import { GraphQLSchema, type GraphQLFieldConfigMap, type GraphQLNamedType, type GraphQLObjectType } from 'graphql';
import { collectInSlices, declaredFieldsOf, isCollected, rootFieldGroupsOf, rootObjectType } from './lazy-schema.ts';

export interface BreakingChange {
  readonly message: string;
  readonly path?: string;
}

const ROOTS = ['Query', 'Mutation', 'Subscription'] as const;
type RootName = (typeof ROOTS)[number];

/** Root fields to compare ("Query.x"), and where each side has them: in the schema's order. */
interface Chunk {
  readonly before: (readonly string[])[];
  readonly after: (readonly string[])[];
}

/** Where a root field stands in its schema: after the head (group -1), by group and place in it. */
type Positions = Map<string, readonly [number, number]>;

/**
 * The breaking changes from `before` to `after`, in the order the log shows them: those of root
 * fields first (root type by root type, each in its field order), then the others.
 * `nextTurn` is awaited between CRDs (the next turn of the event loop).
 */
export async function breakingChanges(before: GraphQLSchema, after: GraphQLSchema, nextTurn: () => Promise<void> = setImmediatePromise): Promise<BreakingChange[]> {
  const { diff, CriticalityLevel } = await import('@graphql-inspector/core');
  const groupsBefore = rootFieldGroupsOf(before);
  const groupsAfter = rootFieldGroupsOf(after);
  const kept = new Set(groupsAfter);
  const removed = groupsBefore.filter((g) => !kept.has(g));
  const had = new Set(groupsBefore);
  const added = groupsAfter.filter((g) => !had.has(g));
  const positions: Positions = new Map();
  const place = (groups: readonly (readonly string[])[], only: ReadonlySet<readonly string[]>) =>
    groups.forEach((g, i) => only.has(g) && g.forEach((f, j) => positions.has(f) || positions.set(f, [i, j])));
  place(groupsBefore, new Set(removed));
  place(groupsAfter, new Set(added));
  const headBefore = headFields(before, groupsBefore);
  const headAfter = headFields(after, groupsAfter);
  [...headBefore, ...headAfter].forEach((f, i) => positions.has(f) || positions.set(f, [-1, i]));
  const chunks = chunksOf(removed, added);
  if (chunks.length === 0) chunks.push({ before: [], after: [] });
  chunks[0]!.before.unshift(headBefore);
  chunks[0]!.after.unshift(headAfter);
  const found: { change: BreakingChange & { type: string }; key: number[] }[] = [];
  for (const [i, chunk] of chunks.entries()) {
    if (i > 0) await nextTurn();
    const [partBefore, partAfter] = await comparableParts(before, after, chunk, nextTurn);
    const changes = await diff(partBefore, partAfter);
    changes.forEach((c, j) => {
      if (c.criticality.level === CriticalityLevel.Breaking) found.push({ change: c, key: orderKey(c, positions, i, j) });
    });
  }
  found.sort((a, b) => compareKeys(a.key, b.key));
  const seen = new Set<string>();
  return found.map((f) => f.change).filter((c) => !seen.has(`${c.path}\n${c.message}`) && !!seen.add(`${c.path}\n${c.message}`)).map(({ message, path }) => (path === undefined ? { message } : { message, path }));
}

/** The log line of breaking changes (the first 20 shown); undefined when there are none. */
export function breakingChangesLine(changes: readonly BreakingChange[]): string | undefined {
  if (changes.length === 0) return undefined;
  const shown = changes.slice(0, 20).map((c) => c.message).join('; ');
  return `schema change breaks clients (${changes.length} change(s)): ${shown}${changes.length > 20 ? '; …' : ''}`;
}

/**
 * Where graphql-inspector's whole diff puts a change, after the log's ranking (root fields
 * first): removed types before the changes within types, root types in their order, removed fields
 * before changed ones, fields in their schema's order; the others by CRD, then as the diff gave them.
 */
function orderKey(change: { type: string; path?: string }, positions: Positions, chunk: number, index: number): number[] {
  const [typeName, field] = change.path?.split('.') ?? [];
  const root = ROOTS.indexOf(typeName as RootName);
  const typeRemoved = change.type === 'TYPE_REMOVED' ? 0 : 1;
  if (root === -1) return [1, change.path === undefined ? 0 : 1, typeRemoved, chunk, index];
  const [group, place] = (field === undefined ? undefined : positions.get(`${typeName}.${field}`)) ?? [-2, 0];
  return [0, typeRemoved, root, change.type === 'FIELD_REMOVED' ? 0 : 1, group, place, chunk, index];
}

function compareKeys(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/**
 * The changed root field groups, those that share a field together (a CRD's groups before and
 * after its change; two CRDs that swapped names), each chunk in its schema's group order.
 */
function chunksOf(removed: readonly (readonly string[])[], added: readonly (readonly string[])[]): Chunk[] {
  const chunkOf = new Map<string, Chunk>();
  const chunks: Chunk[] = [];
  const join = (group: readonly string[], side: 'before' | 'after') => {
    const joined = new Set<Chunk>();
    for (const f of group) {
      const c = chunkOf.get(f);
      if (c) joined.add(c);
    }
    const [target, ...others] = joined.size ? [...joined] : [{ before: [], after: [] } as Chunk];
    if (!joined.size) chunks.push(target!);
    for (const other of others) {
      target!.before.push(...other.before);
      target!.after.push(...other.after);
      chunks.splice(chunks.indexOf(other), 1);
      for (const g of [...other.before, ...other.after]) for (const f of g) chunkOf.set(f, target!);
    }
    target![side].push(group);
    for (const f of group) chunkOf.set(f, target!);
  };
  for (const g of removed) join(g, 'before');
  for (const g of added) join(g, 'after');
  return chunks;
}

/** The root fields of no CRD's group ("Query.apiResources"): they come first in each root type. */
function headFields(schema: GraphQLSchema, groups: readonly (readonly string[])[]): string[] {
  const grouped = new Set<string>();
  for (const root of ROOTS) {
    const first = groups.find((g) => g.some((f) => f.startsWith(`${root}.`)))?.find((f) => f.startsWith(`${root}.`));
    if (first !== undefined) grouped.add(first);
  }
  const head: string[] = [];
  for (const root of ROOTS) {
    const type = rootOf(schema, root);
    if (!type) continue;
    for (const name in fieldConfigsOf(type)) {
      if (grouped.has(`${root}.${name}`)) break;
      head.push(`${root}.${name}`);
    }
  }
  return head;
}

/**
 * The parts of both schemas a chunk's root fields reach, each also holding the types of the other
 * part that its whole schema has (a type two CRDs share, of which one changed): a name in one part
 * only is then one that only one whole schema has, as the whole diff sees it.
 */
async function comparableParts(before: GraphQLSchema, after: GraphQLSchema, chunk: Chunk, nextTurn: () => Promise<void>): Promise<[GraphQLSchema, GraphQLSchema]> {
  const extraBefore = new Map<string, GraphQLNamedType>();
  const extraAfter = new Map<string, GraphQLNamedType>();
  for (;;) {
    const partBefore = partOf(before, chunk.before.flat(), [...extraBefore.values()]);
    const partAfter = partOf(after, chunk.after.flat(), [...extraAfter.values()]);
    const grew = (await adopt(partBefore, partAfter, after, extraAfter, nextTurn)) | (await adopt(partAfter, partBefore, before, extraBefore, nextTurn));
    if (!grew) return [partBefore, partAfter];
  }
}

/** Adds to `extra` the types `part` has and `other` lacks that `whole` has; 1 when any was added. */
async function adopt(part: GraphQLSchema, other: GraphQLSchema, whole: GraphQLSchema, extra: Map<string, GraphQLNamedType>, nextTurn: () => Promise<void>): Promise<number> {
  const missing = Object.keys(part.getTypeMap()).filter((name) => !name.startsWith('__') && other.getType(name) === undefined && !extra.has(name));
  if (missing.length === 0) return 0;
  // A lookup of a name the builder's index lacks would collect a deferred schema's whole type map at once.
  while (!isCollected(whole) && !collectInSlices(whole, sliceOf(10))) await nextTurn();
  let grew = 0;
  for (const name of missing) {
    const type = whole.getType(name);
    if (type !== undefined) {
      extra.set(name, type);
      grew = 1;
    }
  }
  return grew;
}

function sliceOf(ms: number): () => boolean {
  const deadline = performance.now() + ms;
  return () => performance.now() >= deadline;
}

/** A schema of `schema`'s root fields named in `fields` (and `types`), as its root types order them. */
function partOf(schema: GraphQLSchema, fields: readonly string[], types: readonly GraphQLNamedType[]): GraphQLSchema {
  const roots: Partial<Record<RootName, GraphQLObjectType>> = {};
  for (const root of ROOTS) {
    const type = rootOf(schema, root);
    if (!type) continue;
    const configs = fieldConfigsOf(type);
    const picked: GraphQLFieldConfigMap<unknown, unknown> = {};
    for (const f of fields) {
      const name = f.slice(root.length + 1);
      if (f.startsWith(`${root}.`) && Object.hasOwn(configs, name)) picked[name] = configs[name]!;
    }
    roots[root] = rootObjectType({ name: root, fields: picked });
  }
  return new GraphQLSchema({ query: roots.Query, mutation: roots.Mutation, subscription: roots.Subscription, types, assumeValid: true });
}

function rootOf(schema: GraphQLSchema, root: RootName): GraphQLObjectType | null | undefined {
  return root === 'Query' ? schema.getQueryType() : root === 'Mutation' ? schema.getMutationType() : schema.getSubscriptionType();
}

function fieldConfigsOf(type: GraphQLObjectType): GraphQLFieldConfigMap<unknown, unknown> {
  return (declaredFieldsOf(type) ?? type.toConfig().fields) as GraphQLFieldConfigMap<unknown, unknown>;
}

const setImmediatePromise = () => new Promise<void>((resolve) => setImmediate(resolve));
