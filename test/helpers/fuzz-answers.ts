// What every answer of the gateway must look like, whatever a client throws at it, and the traps
// the robustness tests set around a run: an answer is a typed error (a GraphQL error whose
// extensions.code is in the catalog, or an RFC 9457 problem with a code), never a stack trace or
// an HTML page; the process never sees an unhandled rejection or exception; the heap, after a
// collection, stays within a bound of where it started.
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ApiErrorCode } from '../../src/api-errors.ts';

/**
 * Codes a GraphQL error may carry: the catalog's, and Apollo Server's own for requests refused
 * before any resolver runs (parse, validation, variables, persisted queries). Apollo's
 * INTERNAL_SERVER_ERROR is not among them: it means an error escaped the catalog.
 */
export const graphqlCodes: ReadonlySet<string> = new Set([
  ...Object.values(ApiErrorCode),
  'GRAPHQL_PARSE_FAILED', 'GRAPHQL_VALIDATION_FAILED', 'BAD_USER_INPUT', 'BAD_REQUEST',
  'PERSISTED_QUERY_NOT_FOUND', 'PERSISTED_QUERY_NOT_SUPPORTED', 'OPERATION_RESOLUTION_FAILURE',
]);

export const catalogCodes: ReadonlySet<string> = new Set(Object.values(ApiErrorCode));

/** Codes a server error may carry after malformed input: the apiserver's or the network's trouble, never ours. */
const upstreamTrouble = new Set(['UNAVAILABLE', 'TIMEOUT', 'TOO_MANY_REQUESTS']);

export interface Answer {
  status: number;
  contentType: string;
  text: string;
}

const stackFrame = /\bat [\w.$<>]+ \(|\bat (?:file|node):|\.ts:\d+:\d+|\.js:\d+:\d+|node:internal|node_modules\//;

/**
 * The apiserver's own 500 passed through with its Status (it answers 500 to a resourceVersion
 * beyond uint64, for one): typed, and Kubernetes' to fix, not the gateway's.
 */
function fromApiserver(details: Record<string, unknown> | undefined): boolean {
  return details?.code === 'INTERNAL' && details.kubernetesCode === 500;
}

function commonFaults(a: Answer): string | undefined {
  if (/text\/html/i.test(a.contentType) || /<!doctype|<html|<pre>|<body/i.test(a.text)) return 'an HTML page';
  if (/stacktrace/i.test(a.text) || stackFrame.test(a.text)) return 'a stack trace';
  return undefined;
}

/**
 * Node's HTTP parser answers a request whose headers (URL included) exceed --max-http-header-size
 * with an empty 431 before the application sees it; that is the only answer without a body that
 * passes.
 */
const parserRefusal = (a: Answer) => a.status === 431 && a.text === '';

/** Why a GraphQL-over-HTTP answer is not a typed one, or undefined when it is. */
export function graphqlFault(a: Answer): string | undefined {
  if (parserRefusal(a)) return undefined;
  const common = commonFaults(a);
  if (common) return common;
  let body: { data?: unknown; errors?: { message?: unknown; extensions?: { code?: unknown } }[] };
  try {
    body = JSON.parse(a.text);
  } catch {
    return `a body that is not JSON (${a.status} ${a.contentType})`;
  }
  if (!body || typeof body !== 'object') return 'a body that is not a GraphQL response';
  if (a.status >= 400 && !body.errors?.length) return `status ${a.status} without errors`;
  for (const e of body.errors ?? []) {
    const code = e?.extensions?.code;
    if (typeof e?.message !== 'string') return 'an error without a message';
    if (typeof code !== 'string' || !graphqlCodes.has(code)) return `an error code outside the catalog: ${JSON.stringify(code)}`;
    if (code === 'INTERNAL' && !fromApiserver(e.extensions)) return `INTERNAL (${e.message})`;
  }
  if (a.status >= 500) {
    const errors = body.errors ?? [];
    if (!errors.every((e) => upstreamTrouble.has(e.extensions?.code as string) || fromApiserver(e.extensions))) {
      return `status ${a.status} (${errors.map((e) => e.extensions?.code).join(', ')})`;
    }
  }
  return undefined;
}

/** Why a REST answer is not a success or a typed problem, or undefined when it is. */
export function problemFault(a: Answer): string | undefined {
  if (parserRefusal(a)) return undefined;
  const common = commonFaults(a);
  if (common) return common;
  if (a.status < 400) return undefined;
  if (!/^application\/problem\+json/i.test(a.contentType)) return `status ${a.status} as ${a.contentType || 'no content type'}, not problem+json`;
  let p: { code?: unknown; status?: unknown; detail?: unknown };
  try {
    p = JSON.parse(a.text);
  } catch {
    return 'a problem that is not JSON';
  }
  if (typeof p.code !== 'string' || !catalogCodes.has(p.code)) return `a problem code outside the catalog: ${JSON.stringify(p.code)}`;
  if (p.status !== a.status) return `a problem whose status ${String(p.status)} is not the response's ${a.status}`;
  if (a.status >= 500 && !upstreamTrouble.has(p.code) && !fromApiserver(p)) return `status ${a.status} (${p.code}: ${String(p.detail)})`;
  return undefined;
}

/**
 * A bug the robustness tests found, with a failing test of its own: the fuzz run sets such answers
 * aside (counting them) so that it goes on looking for others.
 */
/** Fails with what was sent and what came back unless the answer is a typed one. */
export function assertTyped(kind: 'graphql' | 'rest', a: Answer, input: unknown): void {
  const fault = kind === 'graphql' ? graphqlFault(a) : problemFault(a);
  if (fault) assert.fail(`${fault} for ${describeInput(input)}\n→ ${a.status} ${a.contentType}\n${a.text.slice(0, 600)}`);
}

export function describeInput(input: unknown): string {
  const s = JSON.stringify(input, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v)) ?? String(input);
  return s.length > 800 ? `${s.slice(0, 800)}… (${s.length} characters)` : s;
}

/**
 * Records every unhandled rejection and uncaught exception while installed. With the listeners
 * installed the process survives them, so the test can fail with what happened instead of dying.
 */
export function crashTraps(): { readonly seen: readonly string[]; assertNone(): void; remove(): void } {
  const seen: string[] = [];
  const onRejection = (reason: unknown) => seen.push(`unhandled rejection: ${reason instanceof Error ? reason.stack : String(reason)}`);
  const onException = (err: Error) => seen.push(`uncaught exception: ${err.stack ?? String(err)}`);
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  return {
    seen,
    assertNone: () => assert.deepEqual(seen, [], 'the process saw an unhandled rejection or exception'),
    remove: () => {
      process.off('unhandledRejection', onRejection);
      process.off('uncaughtException', onException);
    },
  };
}

let gcFn: (() => void) | undefined | null = null;

/** The V8 collector, exposed at run time when the test runner did not pass --expose-gc. */
export function collector(): (() => void) | undefined {
  if (gcFn !== null) return gcFn;
  const given = (globalThis as { gc?: () => void }).gc;
  if (typeof given === 'function') return (gcFn = given);
  try {
    setFlagsFromString('--expose-gc');
    gcFn = runInNewContext('gc') as () => void;
  } catch {
    gcFn = undefined;
  }
  return gcFn;
}

/** Heap in use after full collections (several, so weak references and finalizers settle). */
export async function settledHeap(): Promise<number> {
  const gc = collector();
  for (let i = 0; i < 3; i++) {
    gc?.();
    await new Promise((r) => setImmediate(r));
  }
  return process.memoryUsage().heapUsed;
}

/** Fails when the heap grew more than factor × before + slackBytes. */
export function assertHeapBounded(before: number, after: number, what: string, factor = 1.5, slackBytes = 48 << 20): void {
  const mb = (n: number) => `${(n / (1 << 20)).toFixed(1)} MB`;
  assert.ok(after <= before * factor + slackBytes, `${what}: heap grew from ${mb(before)} to ${mb(after)} (bound ${mb(before * factor + slackBytes)})`);
}
