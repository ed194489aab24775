// The shape of an RFC 6902 JSON patch, checked before it goes to Kubernetes. Kubernetes' own
// reading is lenient where it costs data (an add or replace without a value writes null) and
// terse where it refuses (every bad operation is "the server rejected our request due to an
// error in our request", naming none), so both APIs refuse a malformed operation themselves,
// naming it.

const OPS = ['add', 'remove', 'replace', 'move', 'copy', 'test'] as const;
const NEEDS_VALUE = new Set(['add', 'replace', 'test']);
const NEEDS_FROM = new Set(['move', 'copy']);

/** What is wrong with one operation: where (`[i]`, `[i].path`) and why; undefined when nothing is. */
export interface JsonPatchProblem {
  readonly at: string;
  readonly problem: string;
}

/** The first malformed operation of a JSON patch, or undefined. */
export function jsonPatchProblem(ops: readonly unknown[]): JsonPatchProblem | undefined {
  for (const [i, item] of ops.entries()) {
    const problem = operationProblem(item, `[${i}]`);
    if (problem) return problem;
  }
  return undefined;
}

function operationProblem(item: unknown, at: string): JsonPatchProblem | undefined {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) return { at, problem: 'an operation is an object with "op" and "path"' };
  const op = item as Record<string, unknown>;
  if (typeof op['op'] !== 'string' || !(OPS as readonly string[]).includes(op['op'])) {
    return { at: `${at}.op`, problem: `expected one of ${OPS.join(', ')}, got ${JSON.stringify(op['op'] ?? null)}` };
  }
  const name = op['op'];
  const path = pointerProblem(op['path'], `${at}.path`);
  if (path) return path;
  if (NEEDS_VALUE.has(name) && !Object.hasOwn(op, 'value')) return { at, problem: `${name} needs a value (null to write null)` };
  if (!NEEDS_FROM.has(name)) return undefined;
  if (op['from'] === undefined || op['from'] === null) return { at, problem: `${name} needs from, the pointer it reads` };
  const from = pointerProblem(op['from'], `${at}.from`);
  if (from) return from;
  const [source, target] = [op['from'] as string, op['path'] as string];
  if (name === 'move' && target.startsWith(`${source}/`)) return { at, problem: `move cannot move ${JSON.stringify(source)} into its own child ${JSON.stringify(target)}` };
  return undefined;
}

/** RFC 6901: empty, or "/" then tokens in which ~ is followed by 0 or 1. */
function pointerProblem(pointer: unknown, at: string): JsonPatchProblem | undefined {
  if (typeof pointer !== 'string') return { at, problem: `expected a JSON pointer string, got ${JSON.stringify(pointer ?? null)}` };
  if (pointer !== '' && !pointer.startsWith('/')) return { at, problem: `${JSON.stringify(pointer)} is not a JSON pointer (it must be empty or start with /)` };
  if (/~(?![01])/.test(pointer)) return { at, problem: `${JSON.stringify(pointer)} is not a JSON pointer (~ must be followed by 0 or 1)` };
  return undefined;
}
