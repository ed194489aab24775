// What went over the wire: every number of a JSON or YAML text as the digits it was written with.
// JavaScript reads 9223372036854775807 and 9223372036854776000 as the same number, so tests that
// check "no digit changed" compare these texts instead of parsed numbers.
import { isMap, isScalar, isSeq, parseDocument, type Node } from 'yaml';

/** A number as written, e.g. { '#': '9223372036854775807' } or { '#': '1e+21' }. */
export interface NumberText {
  readonly '#': string;
}

/** JSON text → its value, with each number replaced by a NumberText. */
export function jsonNumberTexts(text: string): any {
  const reviver = (_key: string, value: unknown, context?: { source?: string }) => (typeof value === 'number' ? { '#': context!.source! } : value);
  return JSON.parse(text, reviver as (key: string, value: unknown) => unknown);
}

/** YAML text → its value, with each number replaced by a NumberText. */
export function yamlNumberTexts(text: string): any {
  const doc = parseDocument(text, { intAsBigInt: true });
  if (doc.errors.length) throw doc.errors[0];
  const walk = (node: unknown): unknown => {
    if (isMap(node)) return Object.fromEntries(node.items.map((pair) => [String((pair.key as { value?: unknown }).value), walk(pair.value)]));
    if (isSeq(node)) return node.items.map(walk);
    if (isScalar(node)) return typeof node.value === 'number' || typeof node.value === 'bigint' ? { '#': node.source } : node.value;
    return node === null || node === undefined ? null : (node as Node).toJSON();
  };
  return walk(doc.contents);
}
