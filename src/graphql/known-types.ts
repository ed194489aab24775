// The types a trusted schema's lookups answer from before its type map is collected
// (lazy-schema.ts, deferredSchema): those of every schema, the roots, and every type each CRD's
// fragment made.
//
// One map of every name costs ~100 ms at 1,000 CRDs (~200,000 insertions into one growing hash
// table), paid on every start for lookups of which a running gateway makes a few. Every name a CRD
// makes starts with its encoded kind and `_` (graphql-type-names.ts), so the fragments are indexed
// by that lead, and a lead's map is made at its first lookup, from the few fragments of that kind:
// a lookup of a CRD's type costs the insertions of that kind's types once (~0.1 ms).

import type { GraphQLNamedType } from 'graphql';
import { encodeKind } from '../model/graphql-type-names.ts';

/** The name's part before its first `_` (the encoded kind's, for a name a CRD made); the whole name when it has none. */
function leadOf(name: string): string {
  const end = name.indexOf('_');
  return end === -1 ? name : name.slice(0, end);
}

function duplicate(name: string): Error {
  return new Error(`Schema must contain uniquely named types but contains multiple types named "${name}".`);
}

/** Where a CRD's types are looked up: under the lead of its names, but those it made under another name. */
export interface TypesIndexed {
  readonly lead: string;
  readonly types: readonly GraphQLNamedType[];
  /** Its types whose names do not start with the lead and `_` (a shared filter type the first CRD to need it makes). */
  readonly foreign: readonly GraphQLNamedType[];
}

/** How the types made for a CRD of this kind are looked up: worked out when they are made (each type's name is read while it is fresh). */
export function indexTypes(kind: string, types: readonly GraphQLNamedType[]): TypesIndexed {
  const lead = leadOf(encodeKind(kind));
  const prefix = `${lead}_`;
  let foreign: GraphQLNamedType[] | undefined;
  for (const type of types) if (!type.name.startsWith(prefix)) (foreign ??= []).push(type);
  return { lead, types, foreign: foreign ?? NONE };
}

const NONE: readonly GraphQLNamedType[] = Object.freeze([]);

/** What a schema's lookups answer from: each name to the type of that name. */
export class KnownTypes {
  /** The types every schema has, the roots, and the few a CRD made under another name. */
  readonly #eager: Map<string, GraphQLNamedType>;
  /** Per lead, the types of the CRDs whose names start with it, as made. */
  readonly #byLead = new Map<string, (readonly GraphQLNamedType[])[]>();
  /** Per lead, the map made at its first lookup. */
  readonly #maps = new Map<string, Map<string, GraphQLNamedType>>();

  /**
   * `crds`: the types made for each CRD, indexed (indexTypes).
   * @throws Error when two of the types kept at once share a name, as graphql-js' constructor would
   * (the names of one lead's CRDs are checked when that lead's map is made).
   */
  constructor(base: Iterable<GraphQLNamedType>, crds: Iterable<TypesIndexed>) {
    this.#eager = new Map();
    for (const type of base) this.#keep(type);
    for (const { lead, types, foreign } of crds) {
      // A lookup must find these under their own names.
      for (const type of foreign) this.#keep(type);
      const list = this.#byLead.get(lead);
      if (list) list.push(types);
      else this.#byLead.set(lead, [types]);
    }
  }

  #keep(type: GraphQLNamedType): void {
    const existing = this.#eager.get(type.name);
    if (existing !== undefined && existing !== type) throw duplicate(type.name);
    this.#eager.set(type.name, type);
  }

  /**
   * The type of that name, or undefined.
   * @throws Error when two types of the name's kind share a name.
   */
  get(name: string): GraphQLNamedType | undefined {
    const found = this.#eager.get(name);
    if (found !== undefined) return found;
    const lead = leadOf(name);
    return (this.#maps.get(lead) ?? this.#mapOf(lead))?.get(name);
  }

  #mapOf(lead: string): Map<string, GraphQLNamedType> | undefined {
    const lists = this.#byLead.get(lead);
    if (lists === undefined) return undefined;
    const map = new Map<string, GraphQLNamedType>();
    for (const types of lists) {
      for (const type of types) {
        const existing = map.get(type.name) ?? this.#eager.get(type.name);
        if (existing !== undefined && existing !== type) throw duplicate(type.name);
        map.set(type.name, type);
      }
    }
    this.#maps.set(lead, map);
    return map;
  }

  /** Every type known, by name (every lead's map made): for the tests that compare them with the collected ones. */
  all(): ReadonlyMap<string, GraphQLNamedType> {
    const all = new Map(this.#eager);
    for (const lead of this.#byLead.keys()) for (const [name, type] of this.#maps.get(lead) ?? this.#mapOf(lead)!) all.set(name, type);
    return all;
  }
}
