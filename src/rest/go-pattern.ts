// Kubernetes patterns (Go's RE2 syntax) as ECMAScript ones, which OpenAPI 3.1 documents carry and
// JavaScript validators (ajv and all built on it) compile. Go's inline flags hold to the end of
// their group, across its `|`: the case-insensitive one becomes both cases of each letter ([aA]),
// which every engine reads; `m` and `s` become scoped groups `(?s:…)` (ECMAScript 2025), reopened
// after each `|`; a flag turned off (`-i`) or `U` has no translation. `(?P<name>` is `(?<name>`, and
// a `]` first in a class (a member, in Go) is escaped.

/** A group being read: whether its letters are caseless, and the scoped flag groups open in it. */
interface Group {
  caseless: boolean;
  scoped: string[];
}

/** The ECMAScript form of a Go pattern, or undefined when it has none (it does not compile as such). */
export function ecmaPattern(pattern: string): string | undefined {
  if (translated.has(pattern)) return translated.get(pattern);
  let ecma = translate(pattern);
  if (ecma !== undefined) {
    try {
      new RegExp(ecma, 'u');
    } catch {
      ecma = undefined;
    }
  }
  // CRDs repeat their patterns (gateway-api's hundreds of times): each is translated once.
  if (translated.size >= 10_000) translated.clear();
  translated.set(pattern, ecma);
  return ecma;
}

const translated = new Map<string, string | undefined>();

/** A group's opening that is copied as it is (but Go's named group): (?: (?= (?! (?<= (?<! (?<name> (?P<name>. */
const GROUP_PREFIX = /^\(\?(?:[:=!]|<[=!]|P?<[A-Za-z_][A-Za-z0-9_]*>)/;
const FLAGS = /^\(\?([a-zA-Z-]+)\)/;

function translate(pattern: string): string | undefined {
  const groups: Group[] = [{ caseless: false, scoped: [] }];
  let out = '';
  for (let i = 0; i < pattern.length;) {
    const top = groups.at(-1)!;
    const rest = pattern.slice(i);
    const c = pattern[i]!;
    if (c === '\\') {
      const escape = /^\\[pP]\{[^}]*\}/.exec(rest)?.[0] ?? rest.slice(0, 2);
      out += escape;
      i += escape.length;
    } else if (c === '[') {
      const cls = characterClass(pattern, i, top.caseless);
      if (!cls) return undefined;
      out += cls.text;
      i = cls.end;
    } else if (c === '(' && FLAGS.test(rest)) {
      const [whole, flags] = FLAGS.exec(rest)!;
      if (/[^ims]/.test(flags!)) return undefined;
      if (flags!.includes('i')) top.caseless = true;
      const scoped = flags!.replace('i', '');
      if (scoped) {
        out += `(?${scoped}:`;
        top.scoped.push(scoped);
      }
      i += whole.length;
    } else if (c === '(') {
      const prefix = GROUP_PREFIX.exec(rest)?.[0] ?? '(';
      out += prefix.replace('(?P<', '(?<');
      groups.push({ caseless: top.caseless, scoped: [] });
      i += prefix.length;
    } else if (c === '|') {
      out += `${')'.repeat(top.scoped.length)}|${top.scoped.map((f) => `(?${f}:`).join('')}`;
      i++;
    } else if (c === ')' && groups.length > 1) {
      out += `${')'.repeat(top.scoped.length)})`;
      groups.pop();
      i++;
    } else {
      out += top.caseless ? bothCases(c) : c;
      i++;
    }
  }
  return out + ')'.repeat(groups[0]!.scoped.length);
}

function bothCases(c: string): string {
  const [lower, upper] = [c.toLowerCase(), c.toUpperCase()];
  return lower === upper || lower.length !== 1 || upper.length !== 1 ? c : `[${lower}${upper}]`;
}

/** A character class from `[` at start: its ECMAScript text (both cases of its letters when caseless) and where it ends. */
function characterClass(pattern: string, start: number, caseless: boolean): { text: string; end: number } | undefined {
  let i = start + 1;
  let text = '[';
  if (pattern[i] === '^') text += pattern[i++];
  const extra: string[] = [];
  // Go: a `]` first is a member.
  if (pattern[i] === ']') {
    text += '\\]';
    i++;
  }
  for (; i < pattern.length && pattern[i] !== ']'; i++) {
    const c = pattern[i]!;
    if (c === '\\') {
      text += pattern.slice(i, i + 2);
      i++;
    } else if (c === '[' && pattern[i + 1] === ':') {
      return undefined; // POSIX classes ([[:alpha:]]) have no ECMAScript form
    } else if (pattern[i + 1] === '-' && pattern[i + 2] !== undefined && pattern[i + 2] !== ']') {
      const to = pattern[i + 2]!;
      text += `${c}-${to}`;
      if (caseless) extra.push(...otherCaseRange(c, to));
      i += 2;
    } else {
      text += c;
      if (caseless && bothCases(c) !== c) extra.push(c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase());
    }
  }
  if (i >= pattern.length) return undefined;
  return { text: `${text}${extra.join('')}]`, end: i + 1 };
}

/** A range of letters in the other case (a-z → A-Z); none when its ends are not letters of one case. */
function otherCaseRange(from: string, to: string): string[] {
  const flip = (c: string) => (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase());
  if (bothCases(from) === from || bothCases(to) === to) return [];
  if ((from === from.toLowerCase()) !== (to === to.toLowerCase())) return [];
  return [`${flip(from)}-${flip(to)}`];
}
