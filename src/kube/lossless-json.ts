// Exact numbers in JSON and YAML text, for every path in and out of the gateway. Kubernetes keeps
// int64 values exactly (and integers of any size in preserve-unknown-fields), but a JavaScript
// number is a double: JSON.parse reads 9223372036854775807 as 9223372036854775808. So integers
// beyond Number.MAX_SAFE_INTEGER are read into a bigint (JSON.parse's source text access) and
// written back as JSON numbers with every digit (JSON.rawJSON). Everything else is what
// Kubernetes (Go float64) makes of it too: 0.1 and 1e+21 travel unchanged, -0 becomes 0 there.
import { randomUUID } from 'node:crypto';
import { stringTag } from 'yaml/util';
import { parse as parseYamlText, Schema, stringify as stringifyYamlText, type CollectionTag, type CreateNodeOptions, type DocumentOptions, type ScalarTag, type SchemaOptions, type Tags, type ToStringOptions } from 'yaml';

/** JSON.rawJSON and JSON.isRawJSON (Node 24), which TypeScript's ES2024 library does not declare. */
const RawJson = JSON as unknown as { rawJSON(text: string): object; isRawJSON(value: unknown): boolean };

const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const INTEGER = /^-?\d+$/;

/**
 * Text that may hold an integer JSON.parse alone would round: one beyond 2^53 has at least 16
 * digits. Most texts have no such run and skip the reviver, which costs time.
 */
const LONG_DIGIT_RUN = /\d{16}/;
/**
 * The same, or a number with a three-digit exponent (1e400 would become Infinity, then null):
 * what a client may send. The apiserver never writes such a number (Go's encoder cannot).
 */
const LONG_DIGIT_RUN_OR_EXPONENT = /\d{16}|\d[eE]\+?\d{3}/;

/** A number where it is a safe integer, otherwise the bigint (the in-memory form of big integers). */
export function exactInteger(value: bigint): number | bigint {
  return value >= MIN_SAFE && value <= MAX_SAFE ? Number(value) : value;
}

/**
 * JSON.parse's reviver that keeps integers beyond 2^53 exact (as bigint) and refuses numbers a
 * double cannot hold (1e400 would become Infinity, and then null); Kubernetes refuses those too.
 */
export function exactNumbers(_key: string, value: unknown, context?: { source?: string }): unknown {
  if (typeof value !== 'number' || Number.isSafeInteger(value)) return value;
  const source = context?.source;
  if (source !== undefined && INTEGER.test(source)) return BigInt(source);
  if (!Number.isFinite(value)) throw new UnrepresentableNumberError(new UnrepresentableNumber(source ?? String(value)).problem);
  return value;
}

/** The refusal of exactNumbers: a SyntaxError as JSON.parse's own, told apart without reading its words. */
export class UnrepresentableNumberError extends SyntaxError {}

/** A number a double cannot hold, left in its place by exactNumbersOrMarked so that the caller can say where it was. */
export class UnrepresentableNumber {
  readonly source: string;

  constructor(source: string) {
    this.source = source;
  }

  get problem(): string {
    return `the number ${this.source} is beyond the range of a 64-bit float`;
  }

  /** Written back as it came (graphql-ws echoes a ping's payload in its pong). */
  toJSON(): unknown {
    return RawJson.rawJSON(this.source);
  }
}

/**
 * exactNumbers, but a number a double cannot hold becomes an UnrepresentableNumber instead of
 * failing the whole text: for a message of which only one part is refused (a graphql-ws message
 * refuses its operation, not its connection). Find it with firstUnrepresentable.
 */
export function exactNumbersOrMarked(key: string, value: unknown, context?: { source?: string }): unknown {
  if (typeof value === 'number' && !Number.isFinite(value)) return new UnrepresentableNumber(context?.source ?? String(value));
  return exactNumbers(key, value, context);
}

/**
 * The first UnrepresentableNumber in a parsed value, with its path (`variables.n`, `list[2]`);
 * undefined when there is none. Walks with its own stack: a value may nest as deep as its text.
 */
export function firstUnrepresentable(value: unknown): { path: string; number: UnrepresentableNumber } | undefined {
  const stack: [unknown, string][] = [[value, '']];
  while (stack.length) {
    const [v, path] = stack.pop()!;
    if (v instanceof UnrepresentableNumber) return { path, number: v };
    if (v === null || typeof v !== 'object') continue;
    const entries = Array.isArray(v) ? v.map((item, i) => [item, `${path}[${i}]`] as [unknown, string])
      : Object.entries(v).map(([k, item]) => [item, path ? `${path}.${k}` : k] as [unknown, string]);
    for (let i = entries.length - 1; i >= 0; i--) stack.push(entries[i]!);
  }
  return undefined;
}

/**
 * How deep JSON from a client may nest. Kubernetes stores up to 10,000 levels, but no real object
 * comes near 100, and a value nested thousands deep exhausts the stack of code that walks it
 * (JSON.stringify, structuredClone, GraphQL's input coercion) after it has been accepted.
 */
export const maxClientNesting = 1_000;

/**
 * JSON text from a client → value, with integers beyond 2^53 as bigint. Throws SyntaxError on bad
 * text, and on text nested deeper than maxClientNesting.
 */
export function parseJson(text: string): unknown {
  if (nestedDeeperThan(text, maxClientNesting)) throw new SyntaxError(`the JSON is nested more than ${maxClientNesting} levels deep`);
  return LONG_DIGIT_RUN_OR_EXPONENT.test(text) ? parseExactly(text) : JSON.parse(text);
}

/** Whether the brackets of JSON text nest deeper than `limit` (strings do not count). */
export function nestedDeeperThan(text: string, limit: number): boolean {
  // Each level takes at least two characters, and an opening bracket: text with fewer cannot nest that deep.
  return text.length > 2 * limit && openingBrackets(text, limit) > limit && nestingExceeds(text, limit);
}

/** How many `[` and `{` the text holds, strings included, counted up to just past `limit` (indexOf runs at native speed). */
function openingBrackets(text: string, limit: number): number {
  let n = 0;
  for (const bracket of ['[', '{']) {
    for (let i = text.indexOf(bracket); i >= 0 && n <= limit; i = text.indexOf(bracket, i + 1)) n++;
  }
  return n;
}

/** Whether the brackets of JSON text nest deeper than `limit`, read one by one (strings are skipped). */
function nestingExceeds(text: string, limit: number): boolean {
  let depth = 0;
  for (let i = pastStrings(text, 0); i < text.length; i = pastStrings(text, i + 1)) {
    const c = text.charCodeAt(i);
    if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

/** JSON text from the apiserver → value, with integers beyond 2^53 as bigint. */
export function parseKubernetesJson(text: string): unknown {
  return LONG_DIGIT_RUN.test(text) ? parseExactly(text) : JSON.parse(text);
}

function parseExactly(text: string): unknown {
  try {
    return JSON.parse(text, exactNumbers as (key: string, value: unknown) => unknown);
  } catch (err) {
    // The reviver walks the value recursively: a document nested thousands of levels deep (which
    // Kubernetes stores, up to 10,000) exhausts the stack. JSON.parse alone does not recurse.
    if (isStackOverflow(err)) return parseExactlyDeep(text);
    throw err;
  }
}

/**
 * parseExactly without a reviver, for any depth: each integer beyond 2^53 is turned into a string
 * holding an unguessable marker before JSON.parse, and back into a bigint by a walk with a stack
 * of its own. A number a double cannot hold is refused, as the reviver refuses it.
 */
function parseExactlyDeep(text: string): unknown {
  const marker = `\\u0000exact-${randomUUID()}:`;
  const parsedMarker = JSON.parse(`"${marker}"`) as string;
  let out = '';
  let copied = 0;
  for (let i = pastStrings(text, 0); i < text.length;) {
    const c = text.charCodeAt(i);
    if (c !== 0x2d && (c < 0x30 || c > 0x39)) {
      i = pastStrings(text, i + 1);
      continue;
    }
    let end = i + 1;
    while (end < text.length && isNumberChar(text.charCodeAt(end))) end++;
    const source = text.slice(i, end);
    const value = Number(source);
    if (!Number.isFinite(value)) throw new UnrepresentableNumberError(new UnrepresentableNumber(source).problem);
    if (INTEGER.test(source) && !Number.isSafeInteger(value)) {
      out += `${text.slice(copied, i)}"${marker}${source}"`;
      copied = end;
    }
    i = pastStrings(text, end);
  }
  const value: unknown = JSON.parse(copied === 0 ? text : out + text.slice(copied));
  return copied === 0 ? value : replaceMarked(value, parsedMarker);
}

/** `i`, or, where a JSON string starts there, the index after it (and after any string right behind it). */
function pastStrings(text: string, i: number): number {
  while (text.charCodeAt(i) === 0x22) i = stringEnd(text, i);
  return i;
}

/** The index after the JSON string that starts at `start` (its opening quote). */
function stringEnd(text: string, start: number): number {
  let i = start + 1;
  for (;;) {
    const quote = text.indexOf('"', i);
    if (quote < 0) return text.length;
    let backslashes = 0;
    while (text.charCodeAt(quote - 1 - backslashes) === 0x5c) backslashes++;
    if (backslashes % 2 === 0) return quote + 1;
    i = quote + 1;
  }
}

function isNumberChar(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x65 || c === 0x45 || c === 0x2b || c === 0x2d;
}

/** The value with each string that starts with `marker` replaced by the bigint after it, walked with a stack of its own. */
function replaceMarked(root: unknown, marker: string): unknown {
  const read = (v: unknown): unknown => (typeof v === 'string' && v.startsWith(marker) ? BigInt(v.slice(marker.length)) : v);
  const stack: unknown[] = [root];
  while (stack.length) {
    const v = stack.pop();
    if (v === null || typeof v !== 'object') continue;
    const o = v as Record<string, unknown>;
    for (const key of Object.keys(o)) {
      const item = o[key];
      if (typeof item === 'string') o[key] = read(item);
      else if (item !== null && typeof item === 'object') stack.push(item);
    }
  }
  return read(root);
}

/** A JSON number with every digit of the integer, for JSON.stringify (with or without a replacer). */
export function rawInteger(value: bigint): object {
  return RawJson.rawJSON(value.toString());
}

/** JSON.stringify's replacer that writes a bigint as a JSON number with every digit. */
export function bigintAsNumber(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? rawInteger(value) : value;
}

/**
 * Value → JSON text, bigint values as JSON numbers with every digit. Plain JSON.stringify runs
 * first: it throws on the first bigint, and only then is the slower replacer needed.
 */
export function stringifyJson(value: unknown, space?: number): string {
  try {
    return stringifyWithBigints(value, space) ?? 'null';
  } catch (err) {
    // JSON.stringify recurses: a value nested thousands of levels deep exhausts the stack.
    if (isStackOverflow(err)) return stringifyDeep(value);
    throw err;
  }
}

function stringifyWithBigints(value: unknown, space: number | undefined): string | undefined {
  try {
    return JSON.stringify(value, null, space);
  } catch (err) {
    if (!(err instanceof TypeError)) throw err;
    return JSON.stringify(value, bigintAsNumber, space);
  }
}

/** V8's RangeError for an exhausted stack (not, say, one for a string longer than V8 allows). */
function isStackOverflow(err: unknown): boolean {
  return err instanceof RangeError && /call stack/i.test(err.message);
}

/**
 * Compact JSON text of a value of any depth, as JSON.stringify with bigintAsNumber writes it (toJSON,
 * raw JSON, members that JSON has no value for left out, or null in arrays), built with a stack of
 * its own instead of recursion.
 */
export function stringifyDeep(root: unknown): string {
  const parts: string[] = [];
  // Each frame: a container being written and the keys (or indexes) still to write.
  type Frame = { array: boolean; value: Record<string, unknown>; keys: string[]; next: number; wrote: boolean };
  const stack: Frame[] = [];
  /** Writes a scalar, or opens a container (pushed on the stack); false when JSON has no value for it. */
  const write = (input: unknown, key: string): boolean => {
    let v = input;
    if (v !== null && typeof v === 'object' && typeof (v as { toJSON?: unknown }).toJSON === 'function' && !RawJson.isRawJSON(v)) {
      v = (v as { toJSON(key: string): unknown }).toJSON(key);
    }
    switch (typeof v) {
      case 'string':
        parts.push(JSON.stringify(v));
        return true;
      case 'number':
        parts.push(Number.isFinite(v) ? String(v) : 'null');
        return true;
      case 'bigint':
        parts.push(v.toString());
        return true;
      case 'boolean':
        parts.push(v ? 'true' : 'false');
        return true;
      case 'object':
        if (v === null) parts.push('null');
        else if (RawJson.isRawJSON(v)) parts.push((v as { rawJSON: string }).rawJSON);
        else {
          const array = Array.isArray(v);
          parts.push(array ? '[' : '{');
          stack.push({ array, value: v as Record<string, unknown>, keys: array ? [] : Object.keys(v), next: 0, wrote: false });
        }
        return true;
      default:
        return false;
    }
  };
  if (!write(root, '')) return 'null';
  while (stack.length) {
    const f = stack.at(-1)!;
    const length = f.array ? (f.value as unknown as unknown[]).length : f.keys.length;
    if (f.next >= length) {
      stack.pop();
      parts.push(f.array ? ']' : '}');
      continue;
    }
    const i = f.next++;
    const key = f.array ? String(i) : f.keys[i]!;
    const mark = parts.length;
    if (f.wrote) parts.push(',');
    if (!f.array) parts.push(`${JSON.stringify(key)}:`);
    if (write(f.value[key], key)) f.wrote = true;
    else if (f.array) {
      parts.push('null');
      f.wrote = true;
    } else parts.length = mark;
  }
  return parts.join('');
}

/**
 * The value with each bigint replaced by its JSON number (JSON.rawJSON), copied only along the
 * paths that hold one: for results that something else serializes with plain JSON.stringify
 * (GraphQL responses over HTTP and WebSocket).
 */
export function withRawIntegers(value: unknown): unknown {
  if (typeof value === 'bigint') return rawInteger(value);
  if (value === null || typeof value !== 'object' || RawJson.isRawJSON(value)) return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      const out = withRawIntegers(item);
      if (out !== item) (copy ??= value.slice())[i] = out;
    }
    return copy ?? value;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  let copy: Record<string, unknown> | undefined;
  const object = value as Record<string, unknown>;
  for (const key in object) {
    const item = object[key];
    const out = withRawIntegers(item);
    if (out !== item) (copy ??= { ...object })[key] = out;
  }
  return copy ?? value;
}

/** YAML text → value, with the same numbers as parseJson gives for the same value in JSON. */
export function parseYaml(text: string): unknown {
  return parseYamlText(text, exactYamlReviver, exactYamlOptions);
}

// How kubectl and client-go (go-yaml, through sigs.k8s.io/yaml) read a plain scalar, where YAML
// 1.2 reads it otherwise: YAML 1.1's booleans (y, yes, on, off, n, no), integers after removing
// every _ (1_000), with a leading 0 as octal (017 is 15) and Go's base prefixes in either case
// (0b101, 0O17, 0X1F, +0x1F, -0b11), and floats after removing every _ (1_000.5). Read as YAML
// 1.2, the same manifest would mean other values through the gateway than through kubectl.
const GO_TRUE = /^(?:[yY]|[yY]es|YES|[tT]rue|TRUE|[oO]n|ON)$/;
const goBool: ScalarTag = {
  tag: 'tag:yaml.org,2002:bool',
  default: true,
  test: /^(?:[yY]|[yY]es|YES|[nN]|[nN]o|NO|[tT]rue|TRUE|[fF]alse|FALSE|[oO]n|ON|[oO]ff|OFF)$/,
  resolve: (text: string) => GO_TRUE.test(text),
};
const goInt: ScalarTag = {
  tag: 'tag:yaml.org,2002:int',
  default: true,
  test: /^[-+]?(?:0[bB][01_]+|0[oO][0-7_]+|0[xX][0-9a-fA-F_]+|[0-9][0-9_]*)$/,
  resolve: (text: string) => goInteger(text.replace(/_/g, '')),
};
const goFloat: ScalarTag = {
  tag: 'tag:yaml.org,2002:float',
  default: true,
  test: /^[-+]?(?:\.[0-9_]+|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?$/,
  resolve: (text: string) => Number(text.replace(/_/g, '')),
};

/**
 * YAML 1.1's explicit tags as go-yaml (and so kubectl) reads them into JSON, where the yaml library
 * would make a Buffer, a Set, a Map or a Date of them (written as JSON: {"type":"Buffer",…}, {}, {},
 * a new time string): !!binary is its bytes decoded as text, !!set a map of nulls, !!omap and
 * !!pairs the sequence of one-key maps as written, !!timestamp the text as written.
 */
const goExplicitTags: (ScalarTag | CollectionTag)[] = [
  { tag: 'tag:yaml.org,2002:binary', resolve: goBinary },
  { tag: 'tag:yaml.org,2002:timestamp', resolve: (text: string) => text },
  { tag: 'tag:yaml.org,2002:set', collection: 'map', resolve: (map) => map },
  { tag: 'tag:yaml.org,2002:omap', collection: 'seq', resolve: (seq) => seq },
  { tag: 'tag:yaml.org,2002:pairs', collection: 'seq', resolve: (seq) => seq },
];

/** !!binary as go-yaml reads it: standard base64 (whitespace aside) decoded, as text; anything else is refused, as kubectl refuses it. */
function goBinary(text: string, onError: (message: string) => void): string {
  const compact = text.replace(/\s+/g, '');
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(compact)) {
    onError('!!binary needs base64 text');
    return text;
  }
  return Buffer.from(compact, 'base64').toString('utf8');
}

/** An integer as Go's strconv.ParseInt(text, 0, 64) reads it (base from the prefix; 0 alone: octal), exact. */
function goInteger(text: string): bigint | number {
  const negative = text.startsWith('-');
  const digits = text.replace(/^[-+]/, '');
  let value: bigint;
  if (/^0[bBoOxX]/.test(digits)) value = BigInt(`0${digits[1]!.toLowerCase()}${digits.slice(2)}`);
  else if (/^0[0-7]+$/.test(digits)) value = BigInt(`0o${digits.slice(1)}`);
  // A leading 0 before an 8 or 9 is no octal: go-yaml then reads it as a float, a whole number.
  else value = BigInt(digits);
  return negative ? -value : value;
}

/**
 * Options for the yaml library: plain scalars read as kubectl reads them (go-yaml's YAML 1.1
 * tags first), << merge keys as go-yaml has them, every integer as bigint (`exactYamlReviver`
 * then narrows).
 */
export const exactYamlOptions = { intAsBigInt: true, merge: true, customTags: (tags: Tags) => [goBool, goInt, goFloat, ...goExplicitTags, ...tags] } as const;

/**
 * The yaml library's reviver for `exactYamlOptions`: safe integers back to numbers, big ones kept
 * as bigint, and numbers beyond the double range (1e400, .inf) refused, as JSON cannot carry them.
 */
export function exactYamlReviver(_key: unknown, value: unknown): unknown {
  if (typeof value === 'bigint') return exactInteger(value);
  if (typeof value === 'number' && !Number.isFinite(value)) {
    throw new SyntaxError(`${String(value)} is not a number JSON can carry`);
  }
  return value;
}

/**
 * Integers Go's strconv reads with base 0, as go-yaml (kubectl, client-go) resolves a plain
 * scalar, beyond YAML 1.1's own forms: an upper-case prefix (0X1F, 0O17, 0B1).
 */
const goPrefixedInteger: ScalarTag = {
  tag: 'tag:yaml.org,2002:int',
  default: true,
  test: /^[-+]?0[BOXbox][0-9a-fA-F_]+$/,
  resolve: (text: string) => text,
};

/**
 * The schemas whose readers must read our YAML strings as strings too: YAML 1.1, which kubectl,
 * client-go (go-yaml) and PyYAML read (there `on`, `y`, `017`, `1_000` and `1:20` are booleans
 * and numbers, which YAML 1.2 writes unquoted), and go-yaml's own integer forms.
 */
const yamlReaderTags = [...new Schema({ schema: 'yaml-1.1' }).tags, goPrefixedInteger];

/**
 * Value → YAML text that every Kubernetes client reads back as the same value: integers with
 * every digit (bigint), and a string quoted wherever a YAML 1.1 or 1.2 reader would take it for
 * something else, as kubectl's own YAML quotes it.
 */
export function stringifyYaml(value: unknown, options: DocumentOptions & SchemaOptions & CreateNodeOptions & ToStringOptions = {}): string {
  try {
    // No folding of long strings: the yaml library's fold of a string nested deep enough (60+
    // columns) reads back with an extra line break, and kubectl does not fold either.
    return stringifyYamlText(value, { aliasDuplicateObjects: false, lineWidth: 0, ...options, compat: yamlReaderTags, customTags: withEscapedBreaks });
  } catch (err) {
    // The yaml library recurses too: a value nested thousands of levels deep is written as JSON,
    // which every YAML reader reads as the same value.
    // Characters YAML readers take for line breaks, or refuse, are escaped (only strings hold them).
    if (isStackOverflow(err)) return `${stringifyDeep(value).replace(YAML_BREAK_OR_CONTROL_ALL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}\n`;
    throw err;
  }
}

/**
 * Characters a YAML reader takes for a line break (U+0085, U+2028, U+2029: kubectl's go-yaml
 * fails on them, or drops them, in a plain or quoted scalar) or that YAML text may not hold as
 * they are (other controls): a string with any of them is written double-quoted with escapes.
 */
const YAML_BREAK_OR_CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u2028\u2029\ufeff\ufffe\uffff]/;
const YAML_BREAK_OR_CONTROL_ALL = new RegExp(YAML_BREAK_OR_CONTROL.source, 'g');

/**
 * The yaml library's string tag, writing a string with YAML_BREAK_OR_CONTROL as an escaped
 * double-quoted scalar, and `=` quoted: YAML 1.1's value key, which PyYAML refuses to read plain.
 */
function withEscapedBreaks(tags: Tags): Tags {
  const escaping: ScalarTag = {
    ...stringTag,
    stringify: (item, ctx, onComment, onChompKeep) => (typeof item.value === 'string' && (YAML_BREAK_OR_CONTROL.test(item.value) || item.value === '=')
      ? escapedDoubleQuoted(item.value)
      : stringTag.stringify!(item, ctx, onComment, onChompKeep)),
  };
  return [escaping, ...tags.filter((t) => t !== stringTag)];
}

function escapedDoubleQuoted(text: string): string {
  let out = '"';
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (c === 0x85) out += '\\N';
    else if (c === 0x2028) out += '\\L';
    else if (c === 0x2029) out += '\\P';
    else if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else if (c === 0xfeff || c === 0xfffe || c === 0xffff) out += `\\u${c.toString(16)}`;
    else out += ch;
  }
  return `${out}"`;
}
