// Every setting of `crdgate serve`, declared once: its flag, environment variables, config file
// key, how its value is read, its default, and the text that --help and the README's flag tables
// show (both rendered from here; `npm run generate` writes the README's, a test checks them).
import { logFormats, logLevels, type LogFormat, type LogLevel } from '../logging.ts';
import { defaultLogFlushDelayMs, logWriteModes, type LogWrites } from '../log-writes.ts';
import { defaultQueryLimits, type GatewayMode } from '../plugins/query-limits.ts';
import { defaultRateLimits } from '../plugins/rate-limits.ts';

/** How a raw value (a flag, an environment variable, a file value as text) is read. */
export interface Parser<T> {
  read(raw: string): { ok: true; value: T } | { ok: false };
  /** What a valid value is, for "… is not <expected>". */
  readonly expected: string;
}

export interface FlagSpec<T> {
  readonly group: FlagGroup;
  readonly short?: string;
  /** Read after CRDGATE_<NAME>, in this order (names other tools set too). */
  readonly alsoEnv?: readonly string[];
  /** The value's placeholder in --help. */
  readonly value: string;
  readonly parse: Parser<T>;
  readonly default: T;
  /** The default as the README and --help show it (Markdown); the default itself when absent. */
  readonly shownDefault?: string;
  /** What the setting does (Markdown): the README's meaning column and the --help line. */
  readonly meaning: string;
  /** Not a config file key: the config file cannot name itself. */
  readonly notInFile?: boolean;
  /** The value may hold a credential: a refusal does not repeat it. */
  readonly secret?: boolean;
  /** A comma-separated list: the config file may also give it as a YAML list. */
  readonly list?: boolean;
}

export type FlagGroup = 'server' | 'watches' | 'limits' | 'budgets' | 'persisted' | 'queries' | 'operations' | 'scaling';

/** The groups, in the order of the README's tables and of --help. */
export const flagGroups: readonly { id: FlagGroup; title: string }[] = [
  { id: 'server', title: 'Server and cluster' },
  { id: 'watches', title: 'Subscriptions and watches (GraphQL over WebSocket, SSE)' },
  { id: 'limits', title: 'GraphQL limits (a document over any of them is refused with BAD_REQUEST naming the limit)' },
  { id: 'budgets', title: 'Budgets per tenant (excess: TOO_MANY_REQUESTS / 429 with Retry-After; 0 = unlimited)' },
  { id: 'persisted', title: 'Persisted operations' },
  { id: 'queries', title: 'Filtered and sorted lists (where, orderBy): the query cache' },
  { id: 'operations', title: 'Operations: metrics, logs, shutdown, traces' },
  { id: 'scaling', title: 'Scaling out: state the replicas share' },
];

export const text: Parser<string> = { read: (raw) => ({ ok: true, value: raw }), expected: 'text' };

/**
 * The tenants file or none. An empty value is refused: read as "not given" it would leave a real
 * cluster served with authentication off (a --tenants="$UNSET" or a blank setting in a file).
 */
export const tenantsFile: Parser<string> = { read: (raw) => (raw.trim() ? { ok: true, value: raw } : { ok: false }), expected: 'a tenants file or none' };

export function wholeNumber(min: number, max: number): Parser<number> {
  return {
    read(raw) {
      const n = Number(raw);
      return /^\d+$/.test(raw.trim()) && Number.isInteger(n) && n >= min && n <= max ? { ok: true, value: n } : { ok: false };
    },
    expected: `a whole number from ${min} to ${max}`,
  };
}

export function oneOf<T extends string>(values: readonly T[]): Parser<T> {
  return {
    read: (raw) => ((values as readonly string[]).includes(raw) ? { ok: true, value: raw as T } : { ok: false }),
    expected: `one of ${values.join(', ')}`,
  };
}

export const boolean: Parser<boolean> = {
  read: (raw) => (/^(true|1|yes)$/i.test(raw) ? { ok: true, value: true } : /^(false|0|no)$/i.test(raw) ? { ok: true, value: false } : { ok: false }),
  expected: 'true or false',
};

export const httpUrl: Parser<string> = {
  read: (raw) => (URL.canParse(raw) && /^https?:$/.test(new URL(raw).protocol) ? { ok: true, value: raw } : { ok: false }),
  expected: 'an http:// or https:// URL',
};

/** ioredis decodes the user and password of the URL: a malformed %-escape would stop the start with "URI malformed". */
function decodable(part: string): boolean {
  try {
    decodeURIComponent(part);
    return true;
  } catch {
    return false;
  }
}

export const redisUrl: Parser<string> = {
  // The path, if any, is the database number (ioredis would send SELECT NaN for another). No query:
  // ioredis reads its parameters as options that win over the gateway's own (db, enableOfflineQueue,
  // commandTimeout: requests would wait on a Redis that does not answer).
  read(raw) {
    const u = URL.canParse(raw) ? new URL(raw) : undefined;
    const ok = u && /^rediss?:$/.test(u.protocol) && u.hostname && /^(\/\d{0,9})?$/.test(u.pathname) && !u.search && !u.hash && decodable(u.username) && decodable(u.password);
    return ok ? { ok: true, value: raw } : { ok: false };
  },
  expected: 'a redis:// or rediss:// URL with a host, a database number as its path if any (redis://host:6379/2), no query, and valid %-escapes in its user and password',
};

export const ratio: Parser<number> = {
  read(raw) {
    const r = Number(raw);
    return /^\s*(\d+(\.\d*)?|\.\d+)\s*$/.test(raw) && r >= 0 && r <= 1 ? { ok: true, value: r } : { ok: false };
  },
  expected: 'a number from 0 to 1',
};

/**
 * Browser origins, comma-separated: each exactly `scheme://host[:port]` of http or https, as a
 * browser sends it in Origin (no path, no trailing slash, no `*`, no `null`); empty: none.
 */
export const originList: Parser<readonly string[]> = {
  read(raw) {
    const origins = raw.split(',').map((o) => o.trim()).filter(Boolean);
    const exact = (o: string) => !o.includes('*') && URL.canParse(o) && /^https?:$/.test(new URL(o).protocol) && new URL(o).origin === o;
    return origins.every(exact) ? { ok: true, value: [...new Set(origins)] } : { ok: false };
  },
  expected: 'a comma-separated list of origins such as https://app.example.com: scheme, host and port only, lowercase, no wildcard',
};

function flag<T>(spec: FlagSpec<T>): FlagSpec<T> {
  return spec;
}

export const defaultMetricsPort = 9464;

const q = defaultQueryLimits;
const r = defaultRateLimits;

/** The flags, in the order of the README's tables. */
export const flagTable = {
  port: flag({ group: 'server', short: 'p', alsoEnv: ['PORT'], value: 'N', parse: wholeNumber(0, 65535), default: 4000, meaning: 'listen port (0 picks a free one)' }),
  host: flag({ group: 'server', value: 'ADDR', parse: text, default: '127.0.0.1', meaning: 'listen address' }),
  kubeconfig: flag<string | undefined>({ group: 'server', alsoEnv: ['KUBECONFIG'], value: 'PATH', parse: text, default: undefined,
    shownDefault: '`~/.kube/config`, then in-cluster', meaning: 'the cluster to serve' }),
  'local-cluster': flag<'auto' | 'always' | 'never'>({ group: 'server', value: 'MODE', parse: oneOf(['auto', 'always', 'never'] as const), default: 'auto', shownDefault: '`auto`',
    meaning: '`auto`: start the local control plane when no cluster is configured; `always`; `never`' }),
  'state-dir': flag<string | undefined>({ group: 'server', value: 'PATH', parse: text, default: undefined, shownDefault: '`.state`',
    meaning: 'where the local control plane keeps its data' }),
  'local-cluster-port': flag({ group: 'server', value: 'N', parse: wholeNumber(0, 65535), default: 0, shownDefault: '0 (free port)',
    meaning: 'port of the local kube-apiserver' }),
  'install-examples': flag({ group: 'server', value: 'BOOL', parse: boolean, default: true, meaning: 'install `deploy/examples` into the local cluster' }),
  'kube-timeout': flag({ group: 'server', value: 'MS', parse: wholeNumber(100, 600_000), default: 30_000, meaning: 'deadline of each Kubernetes API call, in ms' }),
  tenants: flag<string | undefined>({ group: 'server', value: 'FILE|none', parse: tenantsFile, default: undefined,
    shownDefault: 'required with a kubeconfig or in-cluster config (local cluster: demo tenants)',
    meaning: 'the tenants file (JWT or Kubernetes TokenReview authentication, see [Tenants file](#tenants-file)). Without it, crdgate refuses to serve a real cluster (one line, exit code 2); `none` turns authentication off deliberately (every caller acts as the gateway\'s own identity: with the kustomize base\'s RBAC that identity may impersonate anyone; the Helm chart with `tenants=none` grants it no impersonation), with a warning line when `--host` is not loopback (127.0.0.0/8, ::1, localhost)' }),
  'rbac-stale-after': flag({ group: 'server', value: 'MS', parse: wholeNumber(100, 600_000), default: 2000,
    meaning: 'ms the gateway\'s watch of RBAC objects may fail before live subscriptions are re-checked with SubjectAccessReviews every second (see [Revocation](#revocation))' }),
  mode: flag<GatewayMode | undefined>({ group: 'server', value: 'MODE', parse: oneOf(['production', 'local'] as const), default: undefined,
    shownDefault: '`production` (local cluster: `local`)',
    meaning: '`production` refuses introspection and drops "Did you mean …?" from errors; `local` allows both (the explorer\'s docs need introspection; type names are suggested for the first three unknown ones of a document)' }),
  'cors-origins': flag<readonly string[]>({ group: 'server', value: 'ORIGINS', parse: originList, default: [], shownDefault: 'none (same origin only)', list: true,
    meaning: 'origins (`https://app.example.com`, comma-separated or a YAML list in the config file; exact, no `*`) whose pages may call `/graphql`, `/rest` (SSE watches included) and `/openapi.json`/`.yaml` from a browser: CORS allowing `Authorization`, `Content-Type` and Apollo Client\'s headers, without credentials (cookies are never needed); other origins get no CORS headers. WebSocket subscriptions do not use CORS' }),
  config: flag<string | undefined>({ group: 'server', value: 'FILE', parse: text, default: undefined, shownDefault: 'none', notInFile: true,
    meaning: 'the YAML config file (see above)' }),

  'watch-buffer-bytes': flag({ group: 'watches', value: 'BYTES', parse: wholeNumber(64 << 10, 1 << 30), default: 8 << 20, shownDefault: '8 MiB',
    meaning: 'bytes a subscriber\'s connection may hold unsent before its subscription ends with `SLOW_CONSUMER` (and the last resourceVersion it got); initial states, resumes and relists are sent in pages of an eighth of it (at most 1 MiB) as the connection drains' }),
  'watch-window-bytes': flag({ group: 'watches', value: 'BYTES', parse: wholeNumber(1 << 20, 16 * 2 ** 30), default: 32 << 20, shownDefault: '32 MiB',
    meaning: 'bytes of recent events each upstream watch keeps to resume subscribers from (objects no longer current count in full, current ones are shared with the store); an older resume point goes to the apiserver, which answers `GONE` once it no longer has it' }),
  'watch-unavailable-after': flag({ group: 'watches', value: 'MS', parse: wholeNumber(1000, 3_600_000), default: 30_000,
    meaning: 'how long an upstream watch may keep failing (other than 401, 403 and 404, which end its subscriptions at once) before its subscribers end with `UNAVAILABLE` and their last resourceVersion, in ms' }),

  'max-depth': flag({ group: 'limits', value: 'N', parse: wholeNumber(1, 1000), default: q.maxDepth, meaning: 'selection depth' }),
  'max-aliases': flag({ group: 'limits', value: 'N', parse: wholeNumber(1, 100_000), default: q.maxAliases, meaning: 'aliases in one document' }),
  'max-directives': flag({ group: 'limits', value: 'N', parse: wholeNumber(1, 100_000), default: q.maxDirectives, meaning: 'directives in one document' }),
  'max-tokens': flag({ group: 'limits', value: 'N', parse: wholeNumber(1, 10_000_000), default: q.maxTokens, meaning: 'lexical tokens in one document' }),
  'max-cost': flag({ group: 'limits', value: 'N', parse: wholeNumber(1, 1_000_000_000), default: q.maxCost, meaning: 'operation cost (see above)' }),
  'default-page-size': flag({ group: 'limits', value: 'N', parse: wholeNumber(1, 1_000_000), default: q.defaultPageSize,
    meaning: 'page assumed for a list without `limit`/`first`' }),
  'subscription-cost-factor': flag({ group: 'limits', value: 'N', parse: wholeNumber(1, 1_000_000), default: q.subscriptionCostFactor,
    meaning: 'cost multiplier of a subscription' }),

  'rate-limit': flag({ group: 'budgets', value: 'N', parse: wholeNumber(0, 1_000_000), default: r.requestsPerSecond,
    meaning: 'requests per second per tenant (token bucket; 0: unlimited)' }),
  'rate-burst': flag({ group: 'budgets', value: 'N', parse: wholeNumber(0, 1_000_000), default: r.burst, meaning: 'requests a tenant may make at once after a quiet spell' }),
  'max-concurrent-calls': flag({ group: 'budgets', value: 'N', parse: wholeNumber(0, 100_000), default: r.maxConcurrentCalls,
    meaning: 'Kubernetes operations in flight per tenant (0: unlimited)' }),
  'max-watches': flag({ group: 'budgets', value: 'N', parse: wholeNumber(0, 1_000_000), default: r.maxWatches,
    meaning: 'open subscriptions and SSE watches per tenant (0: unlimited)' }),
  'max-connections': flag({ group: 'budgets', value: 'N', parse: wholeNumber(0, 1_000_000), default: r.maxConnections,
    meaning: 'open WebSocket connections per tenant (0: unlimited); one more is closed with 1013 once authenticated' }),
  'kube-retries': flag({ group: 'budgets', value: 'N', parse: wholeNumber(0, 10), default: r.kubeRetries, meaning: 'retries of a call the apiserver refused with 429 (0: none)' }),
  'kube-retry-max-delay': flag({ group: 'budgets', value: 'MS', parse: wholeNumber(0, 60_000), default: r.kubeRetryMaxDelayMs, meaning: 'longest wait before such a retry, in ms' }),

  'persisted-operations': flag<string | undefined>({ group: 'persisted', value: 'FILE', parse: text, default: undefined, shownDefault: 'none',
    meaning: 'the manifest file (turns the allow-list on)' }),
  'persisted-operations-mode': flag<'apq' | 'allow-list' | undefined>({ group: 'persisted', value: 'MODE', parse: oneOf(['apq', 'allow-list'] as const), default: undefined,
    shownDefault: '`allow-list` with a manifest, else `apq`', meaning: '`apq` or `allow-list`' }),
  'apq-cache-size': flag({ group: 'persisted', value: 'BYTES', parse: wholeNumber(1024, 1 << 30), default: 4 << 20,
    meaning: 'bytes of remembered documents (least recently used go first)' }),

  'query-cache-max-bytes': flag({ group: 'queries', value: 'N', parse: wholeNumber(0, 2 ** 45), default: 256 * 2 ** 20, shownDefault: '268435456 (256 MiB)',
    meaning: 'estimated JSON bytes the caches of all resources may hold together (parsed, the objects take about three times that on the heap, shared with the watch hub; see BENCHMARKS.md); beyond it the least recently used stop, and a resource too large alone is read from the apiserver for `--query-cache-idle`; 0 turns the cache off' }),
  'query-cache-max-stores': flag({ group: 'queries', value: 'N', parse: wholeNumber(1, 100_000), default: 256,
    meaning: 'caches (one per resource version and namespace, or all namespaces) running at once, each holding a watch of the apiserver; beyond it the least recently used stop. A resource whose lists name more than 8 namespaces gets one cache of all its namespaces instead' }),
  'query-cache-idle': flag({ group: 'queries', value: 'MS', parse: wholeNumber(1000, 86_400_000), default: 300_000,
    meaning: 'a resource\'s cache that no list has used for this long stops, in ms' }),
  'query-max-scan': flag({ group: 'queries', value: 'N', parse: wholeNumber(1, 10_000_000), default: 20_000,
    meaning: 'objects a filtered list (`consistency: STRONG`, or a caller whose right to list is limited to names) or one hop of relations may read from the apiserver before it is refused with `BAD_REQUEST` (`QueryTooLarge`)' }),

  'metrics-port': flag({ group: 'operations', value: 'N', parse: wholeNumber(0, 65535), default: defaultMetricsPort,
    meaning: 'port of the Prometheus `/metrics` listener; 0 turns it off' }),
  'metrics-host': flag({ group: 'operations', value: 'ADDR|main', parse: text, default: '127.0.0.1',
    meaning: 'address of that listener; `main` serves `/metrics` on the API port instead' }),
  'log-level': flag<LogLevel>({ group: 'operations', value: 'LEVEL', parse: oneOf(logLevels), default: 'info', shownDefault: '`info`',
    meaning: '`fatal`, `error`, `warn`, `info`, `debug` (adds `/healthz`, `/readyz` and `/metrics` requests), `trace` (adds a line when each request arrives)' }),
  'log-format': flag<LogFormat>({ group: 'operations', value: 'FORMAT', parse: oneOf(logFormats), default: 'auto', shownDefault: '`auto`',
    meaning: '`pretty`: readable lines; `json`: one JSON object per line (use it in production; the kustomize base sets it); `auto`: pretty when stdout is a terminal, else JSON' }),
  'log-writes': flag<LogWrites>({ group: 'operations', value: 'async|sync', parse: oneOf(logWriteModes), default: 'async', shownDefault: '`async`',
    meaning: 'JSON lines on stdout: `async` queues lines and writes them together, `--log-flush-delay` after the first (queued lines are written when the process exits, a fatal error included); `sync` writes each line before its request ends (for environments that kill the process without letting it exit)' }),
  'log-flush-delay': flag({ group: 'operations', value: 'MS', parse: wholeNumber(0, 1000), default: defaultLogFlushDelayMs,
    meaning: 'with `--log-writes async`, how long the first queued line waits for others before the queue is written (at once when 8 KiB are queued), in ms; 0 writes at the end of each turn of the event loop' }),
  'shutdown-timeout': flag({ group: 'operations', value: 'MS', parse: wholeNumber(0, 3_600_000), default: 25_000,
    meaning: 'after SIGTERM, how long in-flight HTTP requests may take before their connections are cut, in ms' }),
  'shutdown-delay': flag({ group: 'operations', value: 'MS', parse: wholeNumber(0, 600_000), default: 0,
    meaning: 'after SIGTERM, how long `/readyz` answers 503 while the gateway still accepts (time for load balancers to notice), in ms' }),
  tracing: flag<'otlp' | 'none'>({ group: 'operations', value: 'otlp|none', parse: oneOf(['otlp', 'none'] as const), default: 'none', shownDefault: '`none`',
    meaning: '`otlp` sends OpenTelemetry traces to an OTLP/HTTP collector (JSON bodies), as service `OTEL_SERVICE_NAME` (default `crdgate`)' }),
  'otlp-endpoint': flag<string | undefined>({ group: 'operations', alsoEnv: ['OTEL_EXPORTER_OTLP_ENDPOINT'], value: 'URL', parse: httpUrl, default: undefined,
    shownDefault: '`http://localhost:4318`', meaning: 'the collector\'s base URL (`/v1/traces` is added)' }),
  'trace-sample-ratio': flag({ group: 'operations', value: 'R', parse: ratio, default: 1, shownDefault: '`1`',
    meaning: 'share of requests traced (0 to 1) when the caller sends no `traceparent`' }),

  'redis-url': flag<string | undefined>({ group: 'scaling', value: 'URL', parse: redisUrl, default: undefined, shownDefault: 'none', secret: true,
    meaning: '`redis://` or `rediss://` URL (it may carry a user and password; they are never logged) of the Redis that replicas share budgets and APQ documents through' }),
};

export type FlagName = keyof typeof flagTable;
export type FlagValues = { [K in FlagName]: (typeof flagTable)[K] extends FlagSpec<infer T> ? T : never };

export const flagNames = Object.keys(flagTable) as FlagName[];

/** CRDGATE_<NAME>, then the flag's other variables. */
export function envNamesOf(name: FlagName): string[] {
  return [`CRDGATE_${name.toUpperCase().replace(/-/g, '_')}`, ...(flagTable[name].alsoEnv ?? [])];
}

/** The keys a config file may have: every setting's flag name. */
export const fileKeys: readonly string[] = flagNames.filter((n) => !flagTable[n].notInFile);
