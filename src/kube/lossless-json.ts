// Exact numbers in JSON and YAML text, for every path in and out of the gateway. Kubernetes keeps
// int64 values exactly (and integers of any size in preserve-unknown-fields), but a JavaScript
// number is a double: JSON.parse reads 9223372036854775807 as 9223372036854775808. So integers
// beyond Number.MAX_SAFE_INTEGER are read into a bigint (JSON.parse's source text access) and
// written back as JSON numbers with every digit (JSON.rawJSON). Everything else is what
// Kubernetes (Go float64) makes of it too: 0.1 and 1e+21 travel unchanged, -0 becomes 0 there.
import { parse as parseYamlText } from 'yaml';

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
  if (!Number.isFinite(value)) throw new SyntaxError(`the number ${source ?? String(value)} is beyond the range of a 64-bit float`);
  return value;
}

/** JSON text from a client → value, with integers beyond 2^53 as bigint. Throws SyntaxError on bad text. */
export function parseJson(text: string): unknown {
  return LONG_DIGIT_RUN_OR_EXPONENT.test(text) ? parseExactly(text) : JSON.parse(text);
}

/** JSON text from the apiserver → value, with integers beyond 2^53 as bigint. */
export function parseKubernetesJson(text: string): unknown {
  return LONG_DIGIT_RUN.test(text) ? parseExactly(text) : JSON.parse(text);
}

function parseExactly(text: string): unknown {
  try {
    return JSON.parse(text, exactNumbers as (key: string, value: unknown) => unknown);
  } catch (err) {
    // The reviver walks the value recursively; a document nested thousands deep exhausts the stack.
    if (err instanceof RangeError) throw new SyntaxError('the JSON is nested too deeply');
    throw err;
  }
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
  let text: string | undefined;
  try {
    text = JSON.stringify(value, null, space);
  } catch (err) {
    if (!(err instanceof TypeError)) throw err;
    text = JSON.stringify(value, bigintAsNumber, space);
  }
  return text ?? 'null';
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

/**
 * Options for the yaml library's stringify, for every YAML the gateway writes. YAML 1.1 quoting:
 * kubectl (sigs.k8s.io/yaml), PyYAML and SnakeYAML read YAML 1.1, where an unquoted yes, on, y,
 * Off, 1_000, 0b101, 12:30:00 or 2026-12-05 is a boolean, number or date, not the string it was;
 * with it, such strings are quoted, as `kubectl get -o yaml` quotes them (no %YAML directive is
 * written, and YAML 1.2 readers read the same values). Objects repeated in a value are written
 * out again rather than as anchors and aliases, which few readers expect.
 */
export const writtenYamlOptions = { version: '1.1', aliasDuplicateObjects: false } as const;

/** Options for the yaml library that read every integer as bigint; `exactYamlReviver` then narrows. */
export const exactYamlOptions = { intAsBigInt: true } as const;

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
