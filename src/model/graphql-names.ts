// Kubernetes property names and enum values → GraphQL names, reversibly and deterministically.
//
// A GraphQL name matches /^[_A-Za-z][_0-9A-Za-z]*$/ and must not start with `__` (reserved for
// introspection). Names that already qualify are never changed. The mapping of a property set is
// a function of that set alone (never of other types or other CRDs), so it is stable, and every
// object type keeps its own two-way table, which makes it reversible.

const VALID_NAME = /^[_A-Za-z][_0-9A-Za-z]*$/;

export function isValidGraphQLName(name: string): boolean {
  return VALID_NAME.test(name) && !name.startsWith('__');
}

/**
 * The readable candidate for an invalid name: every character outside [_0-9A-Za-z] becomes `_`,
 * a leading digit gets a `_` prefix, a leading run of underscores shrinks to one, and the empty
 * name becomes `_`. Collisions are settled by mapPropertyNames.
 */
export function sanitizeName(name: string): string {
  let out = name.replace(/[^_0-9A-Za-z]/g, '_');
  if (out === '') out = '_';
  if (/^[0-9]/.test(out)) out = `_${out}`;
  out = out.replace(/^_{2,}/, '_');
  return out;
}

/**
 * Maps one object's property names. Valid names map to themselves and are claimed first; the
 * invalid ones, in code-unit order of their raw names, take their sanitized form, or that form
 * with the first free suffix `_2`, `_3`, ... when it is already taken (`a-b` and `a_b` →
 * `a_b` stays, `a-b` becomes `a_b_2`).
 */
export function mapPropertyNames(names: readonly string[]): Map<string, string> {
  const result = new Map<string, string>();
  const taken = new Set<string>();
  const invalid: string[] = [];
  for (const name of names) {
    if (isValidGraphQLName(name)) {
      result.set(name, name);
      taken.add(name);
    } else {
      invalid.push(name);
    }
  }
  invalid.sort(compareCodeUnits);
  for (const name of invalid) {
    const mapped = firstFree(sanitizeName(name), taken);
    result.set(name, mapped);
    taken.add(mapped);
  }
  return result;
}

/** The first of `base`, `base_2`, `base_3`, ... not in `taken` (`_` continues as `_2`, never `__2`). */
export function firstFree(base: string, taken: ReadonlySet<string>): string {
  if (!taken.has(base)) return base;
  const stem = base.endsWith('_') ? base : `${base}_`;
  for (let i = 2; ; i++) {
    const candidate = `${stem}${i}`;
    if (!taken.has(candidate)) return candidate;
  }
}

const RESERVED_ENUM_VALUES = new Set(['true', 'false', 'null']);

/**
 * GraphQL enum value names for a Kubernetes enum, or undefined when the enum should stay a
 * scalar. The rule: every value is a non-empty string containing a letter or digit; a valid
 * value keeps its name; otherwise each character outside [_0-9A-Za-z] becomes `_`, a leading
 * digit gets a `_` prefix, a leading `__` shrinks to `_`, and `true`/`false`/`null` get a `_`
 * suffix. If two values end up with the same name the enum stays a scalar: suffixes like `_2`
 * would make the names depend on value order and read like different values.
 */
export function mapEnumValues(values: readonly unknown[]): EnumMapping | undefined {
  if (values.length === 0) return undefined;
  const names: { name: string; value: string }[] = [];
  const seen = new Set<string>();
  for (const value of values) {
    if (typeof value !== 'string' || !/[0-9A-Za-z]/.test(value)) return undefined;
    let name = isValidGraphQLName(value) ? value : sanitizeName(value);
    if (RESERVED_ENUM_VALUES.has(name)) name = `${name}_`;
    if (seen.has(name)) {
      // A duplicated raw value (it happens in real CRDs) is one GraphQL value, not a clash.
      if (names.some((entry) => entry.value === value)) continue;
      return undefined;
    }
    seen.add(name);
    names.push({ name, value });
  }
  return names;
}

export type EnumMapping = readonly { readonly name: string; readonly value: string }[];

export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** `CronTab` → `cronTab`, `HTTPRoute` → `httpRoute`, `URL` → `url`. */
export function lowerCamel(name: string): string {
  const match = /^[A-Z]+/.exec(name);
  if (!match) return name;
  const upper = match[0];
  if (upper.length === name.length) return name.toLowerCase();
  if (upper.length === 1) return name[0]!.toLowerCase() + name.slice(1);
  // The last capital of a run starts the next word: HTTPRoute → http + Route.
  return upper.slice(0, -1).toLowerCase() + name.slice(upper.length - 1);
}

/** A GraphQL field name as a type-name part: `dest_port` → `DestPort`, `_Xmx` → `Xmx`. */
export function pascalPart(graphqlName: string): string {
  // A schema build asks for every property of every version: the same few thousand names.
  let part = pascalParts.get(graphqlName);
  if (part === undefined) {
    if (pascalParts.size >= MAX_PASCAL_PARTS) pascalParts.clear();
    part = pascalPartOf(graphqlName);
    pascalParts.set(graphqlName, part);
  }
  return part;
}

const pascalParts = new Map<string, string>();
const MAX_PASCAL_PARTS = 50_000;

function pascalPartOf(graphqlName: string): string {
  // Most names have no `_`: one word, its first letter upper-cased (what the general case gives).
  if (graphqlName !== '' && !graphqlName.includes('_')) {
    const word = graphqlName[0]!.toUpperCase() + graphqlName.slice(1);
    return /^[0-9]/.test(word) ? `N${word}` : word;
  }
  const words = graphqlName.split('_').filter((w) => w !== '');
  let out = words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
  if (out === '') out = 'Field';
  if (/^[0-9]/.test(out)) out = `N${out}`;
  return out;
}
