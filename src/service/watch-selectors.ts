// Label and field selectors, evaluated by the gateway on objects from a shared watch. The syntax
// and semantics follow k8s.io/apimachinery/pkg/labels and pkg/fields, so a subscriber gets the
// same objects from the shared watch as from its own filtered watch on the apiserver.
import { ApiError } from '../api-errors.ts';
import { stringifyJson } from '../kube/lossless-json.ts';
import { objectNameProblem } from '../model/kubernetes-names.ts';

export type Matcher = (obj: Record<string, unknown>) => boolean;

/** The matcher of an empty selector: one function for every subscriber that has none. */
export const matchAll: Matcher = () => true;

/** The conjunction of matchers, leaving out matchAll: matchAll itself when nothing is left. */
export function allOf(...matchers: (Matcher | undefined)[]): Matcher {
  const real = matchers.filter((m): m is Matcher => m !== undefined && m !== matchAll);
  if (real.length === 0) return matchAll;
  if (real.length === 1) return real[0]!;
  if (real.length === 2) {
    const [a, b] = real as [Matcher, Matcher];
    return (o) => a(o) && b(o);
  }
  return (o) => real.every((m) => m(o));
}

type Requirement =
  | { key: string; op: 'in' | 'notin'; values: string[] }
  | { key: string; op: 'exists' | '!' }
  | { key: string; op: '=' | '!='; values: [string] }
  | { key: string; op: 'gt' | 'lt'; values: [string] };

const labelKey = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const labelValue = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

/** Parses a label selector ("app=web,tier!=db,env in (a,b),!legacy,release") into a matcher. */
export function parseLabelSelector(selector: string | undefined): Matcher {
  const reqs = parseRequirements(selector ?? '');
  if (!reqs.length) return matchAll;
  return (obj) => {
    const labels = ((obj.metadata as { labels?: Record<string, string> } | undefined)?.labels) ?? {};
    return reqs.every((r) => matchLabel(r, labels));
  };
}

function matchLabel(r: Requirement, labels: Record<string, string>): boolean {
  const has = Object.hasOwn(labels, r.key);
  const v = labels[r.key];
  switch (r.op) {
    case 'exists':
      return has;
    case '!':
      return !has;
    case '=':
      return has && v === r.values[0];
    case '!=':
      return !has || v !== r.values[0];
    case 'in':
      return has && r.values.includes(v!);
    case 'notin':
      return !has || !r.values.includes(v!);
    case 'gt':
    case 'lt': {
      const a = has ? int64(v!) : undefined;
      if (a === undefined) return false;
      const b = BigInt(r.values[0]);
      return r.op === 'gt' ? a > b : a < b;
    }
  }
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** A decimal 64-bit integer, as Go's strconv.ParseInt reads it for > and <; undefined for anything else. */
function int64(s: string): bigint | undefined {
  if (!/^[-+]?\d+$/.test(s)) return undefined;
  const n = BigInt(s);
  return n < INT64_MIN || n > INT64_MAX ? undefined : n;
}

function parseRequirements(input: string): Requirement[] {
  const s = input.trim();
  if (!s) return [];
  const reqs: Requirement[] = [];
  for (const part of splitTopLevel(s)) {
    const p = part.trim();
    if (!p) throw invalid('label', input, 'empty requirement');
    let m: RegExpExecArray | null;
    if ((m = /^!\s*([^\s=!<>(),]+)$/.exec(p))) {
      reqs.push({ key: checkKey(m[1]!, input), op: '!' });
    } else if ((m = /^([^\s=!<>(),]+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(p))) {
      const values = m[3]!.split(',').map((x) => x.trim());
      if (values.length === 1 && values[0] === '') throw invalid('label', input, `"${m[2]}" needs at least one value`);
      reqs.push({ key: checkKey(m[1]!, input), op: m[2] as 'in' | 'notin', values: values.map((v) => checkValue(v, input)) });
    } else if ((m = /^([^\s=!<>(),]+)\s*(==|=|!=)\s*([^\s=!<>(),]*)$/.exec(p))) {
      reqs.push({ key: checkKey(m[1]!, input), op: m[2] === '!=' ? '!=' : '=', values: [checkValue(m[3]!, input)] });
    } else if ((m = /^([^\s=!<>(),]+)\s*(<|>)\s*(-?\d+)$/.exec(p))) {
      if (int64(m[3]!) === undefined) throw invalid('label', input, `for '>' and '<' the value must be an integer, not "${m[3]}"`);
      reqs.push({ key: checkKey(m[1]!, input), op: m[2] === '>' ? 'gt' : 'lt', values: [m[3]!] });
    } else if ((m = /^([^\s=!<>(),]+)$/.exec(p))) {
      reqs.push({ key: checkKey(m[1]!, input), op: 'exists' });
    } else {
      throw invalid('label', input, `cannot parse "${p}"`);
    }
  }
  return reqs;
}

/** Splits on commas that are not inside parentheses. */
function splitTopLevel(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

function checkKey(key: string, input: string): string {
  const name = key.includes('/') ? key.slice(key.indexOf('/') + 1) : key;
  if (!labelKey.test(key) || name.length > 63 || key.length > 317) throw invalid('label', input, `invalid label key "${key}"`);
  return key;
}

function checkValue(value: string, input: string): string {
  if (value.length > 63 || !labelValue.test(value)) throw invalid('label', input, `invalid label value "${value}"`);
  return value;
}

/**
 * Parses a field selector ("metadata.name=x,spec.cronSpec!=y"). Kubernetes supports only =, ==
 * and != on fields, and for custom resources only metadata.name, metadata.namespace and the CRD's
 * selectableFields; other fields are refused as the apiserver refuses them.
 */
export function parseFieldSelector(selector: string | undefined, selectable: readonly string[] = []): Matcher {
  // As fields.ParseSelector, which trims nothing: a blank around a field name makes another name
  // (refused as not supported), a blank in a value is part of the value, a blank term is refused.
  const s = selector ?? '';
  if (!s) return matchAll;
  const allowed = new Set(['metadata.name', 'metadata.namespace', ...selectable.map((p) => p.replace(/^\./, ''))]);
  const reqs: { path: string[]; neg: boolean; value: string }[] = [];
  // As fields.ParseSelector: terms split at unescaped commas, empty terms skipped.
  for (const part of splitFieldTerms(s)) {
    if (!part) continue;
    const term = splitFieldTerm(part);
    if (!term) throw invalid('field', s, `cannot parse "${part}"`);
    if (!allowed.has(term.field)) {
      const blanks = term.field !== term.field.trim() ? 'with its blanks, which Kubernetes does not trim;' : '';
      const label = blanks ? JSON.stringify(term.field) : term.field;
      throw invalid('field', s, `field label not supported: ${label} (${blanks ? `${blanks} ` : ''}supported: ${[...allowed].join(', ')})`);
    }
    reqs.push({ path: term.field.split('.'), neg: term.operator === '!=', value: unescapeFieldValue(term.value, s) });
  }
  return (obj) =>
    reqs.every((r) => {
      let v: unknown = obj;
      for (const k of r.path) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
      // The apiserver compares the field's string form; an absent field is the empty string.
      const str = v === undefined || v === null ? '' : typeof v === 'object' ? stringifyJson(v) : String(v);
      return r.neg ? str !== r.value : str === r.value;
    });
}

/**
 * The one object name a field selector pins, as the apiserver's RequestInfo reads it for a list
 * or watch: `FieldSelector.RequiresExactMatch("metadata.name")`, kept only when it is a valid path
 * segment name. Kubernetes then authorizes the request for that name, so a Role limited to
 * resourceNames allows it. Like ParseSelector, the terms are sorted (bytewise) before the first
 * `metadata.name=` or `==` one is taken: with two names, the first in that order, which the
 * selector's other term then contradicts. A selector that does not parse pins nothing (the
 * apiserver then sets no name either).
 */
export function pinnedName(selector: string | undefined): string | undefined {
  if (!selector) return undefined;
  const terms = splitFieldTerms(selector).filter((t) => t !== '');
  terms.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  let name: string | undefined;
  try {
    for (const part of terms) {
      const term = splitFieldTerm(part);
      if (!term) return undefined;
      const value = unescapeFieldValue(term.value, selector);
      if (name === undefined && term.field === 'metadata.name' && term.operator !== '!=') name = value;
    }
  } catch {
    return undefined;
  }
  // An empty name is no name (RequestInfo keeps it, but as the absence of one).
  return name !== undefined && objectNameProblem(name) === undefined ? name : undefined;
}

/** As fields' splitTerm: the first operator from the left (!= before == before = at one place), nothing trimmed. */
function splitFieldTerm(term: string): { field: string; operator: string; value: string } | undefined {
  const m = FIELD_OPERATOR.exec(term);
  if (!m) return undefined;
  return { field: term.slice(0, m.index), operator: m[0], value: term.slice(m.index + m[0].length) };
}

/** The leftmost operator; at one place the alternatives are tried in splitTerm's order. */
const FIELD_OPERATOR = /!=|==?/;

function splitFieldTerms(s: string): string[] {
  const terms: string[] = [];
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '\\') i++;
    else if (s[i] === ',') {
      terms.push(s.slice(start, i));
      start = i + 1;
    }
  }
  terms.push(s.slice(start));
  return terms;
}

/** A field selector value: \\, \, and \= stand for themselves; a bare , or = and any other escape are refused. */
function unescapeFieldValue(value: string, input: string): string {
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c === ',' || c === '=') throw invalid('field', input, `unescaped character in value: ${JSON.stringify(c)}`);
    if (c !== '\\') {
      out += c;
      continue;
    }
    const next = value[++i];
    if (next !== '\\' && next !== ',' && next !== '=') throw invalid('field', input, `invalid escape sequence: \\${next ?? ''}`);
    out += next;
  }
  return out;
}

function invalid(kind: 'label' | 'field', input: string, why: string): ApiError {
  return new ApiError('BAD_REQUEST', `invalid ${kind} selector "${input}": ${why}`, { reason: 'BadRequest' });
}
