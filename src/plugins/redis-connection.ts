// The connection to Redis, where replicas of the gateway share per-tenant budgets and APQ
// documents (--redis-url). Commands fail at once while it is down (no offline queue, a command
// timeout), so a request never waits on Redis: budgets then refuse with UNAVAILABLE (fail closed)
// and the APQ cache answers "not found" (clients send the whole document). Losing and regaining
// the connection is logged once each, not once per request or reconnect attempt. A Redis that
// stops answering without closing the connection (frozen, or cut off by the network, which TCP
// notices only after minutes) is found by a PING every second: it counts as unreachable from the
// second PING in a row that times out until one is answered, and commands are not sent to it
// meanwhile.
import { Redis } from 'ioredis';
import { ApiError } from '../api-errors.ts';

export interface RedisConnectionLog {
  info(msg: string): void;
  warn(msg: string): void;
}

export interface RedisConnectionOptions {
  log?: RedisConnectionLog;
  /** Longest wait for one command before it fails (and the request with it). */
  commandTimeoutMs?: number;
  /** Longest wait between reconnect attempts. */
  maxReconnectDelayMs?: number;
  /** How often an idle check (PING) asks whether Redis still answers. */
  heartbeatMs?: number;
}

export interface RedisConnection {
  readonly client: Redis;
  /** The URL without its user info, for logs. */
  readonly where: string;
  /** True while commands can be sent (connected, and the last PING answered in time). */
  readonly up: boolean;
  /**
   * Resolves true once connected; false if that takes longer than timeoutMs, or at once when Redis
   * refuses the URL's credentials (see `refusal`).
   */
  ready(timeoutMs: number): Promise<boolean>;
  /** Redis' answer when it refused the credentials (NOAUTH, WRONGPASS): no retry will change it. */
  readonly refusal: string | undefined;
  close(): Promise<void>;
}

/** The URL to show: scheme, host, port and database, never a user name or password. */
export function redisLocation(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname && u.pathname !== '/' ? u.pathname : ''}`;
  } catch {
    return 'redis (unparsable URL)';
  }
}

/** The refusal of a request whose budget cannot be checked because Redis is unreachable. */
export function sharedStateUnavailable(cause?: unknown): ApiError {
  return new ApiError('UNAVAILABLE',
    'the gateway cannot check this tenant\'s budgets: its shared state (Redis) is unreachable; retry shortly',
    { reason: 'SharedStateUnavailable', retryAfterSeconds: 1 }, { cause });
}

/**
 * Redis refusing the URL's settings, as opposed to being down: its credentials (none given, or
 * wrong ones), or its database number (over the server's `databases`; ioredis would go on in
 * database 0, which other deployments may use).
 */
function settingsRefused(err: Error): boolean {
  return /^(NOAUTH|WRONGPASS)\b/.test(err.message) || refusedDatabase(err.message);
}

/** Redis' refusal of the URL's database number (SELECT of one over its `databases`). */
export function refusedDatabase(message: string): boolean {
  return /^ERR .*\bDB index\b/i.test(message);
}

/** Whether Redis can be used, each change logged once per outage, and who waits for the first connection. */
class Health {
  up = false;
  closing = false;
  /** Redis' words when it refused the URL's settings (credentials, database). */
  refusal: string | undefined;
  /** Connected to another database than the URL's: not usable, whatever ioredis says. */
  wrongDatabase = false;
  private downLogged = false;
  private readonly waiters = new Set<(ok: boolean) => void>();
  private readonly where: string;
  private readonly log: RedisConnectionLog | undefined;

  constructor(where: string, log: RedisConnectionLog | undefined) {
    this.where = where;
    this.log = log;
  }

  back(): void {
    if (this.wrongDatabase) return;
    this.up = true;
    if (this.downLogged) this.log?.info(`Redis at ${this.where} is reachable again: shared budgets and APQ documents are back`);
    this.downLogged = false;
    for (const w of this.waiters) w(true);
  }

  lost(why: string): void {
    this.up = false;
    if (this.closing || this.downLogged) return;
    this.downLogged = true;
    this.log?.warn(`Redis at ${this.where} is unreachable (${why}): requests that need a tenant budget are refused with 503 UNAVAILABLE, and APQ clients must send whole documents, until it is back`);
  }

  refused(message: string): void {
    this.refusal = message;
    if (refusedDatabase(message)) this.wrongDatabase = true;
    for (const w of this.waiters) w(false);
  }

  ready(timeoutMs: number): Promise<boolean> {
    if (this.up) return Promise.resolve(true);
    if (this.refusal !== undefined) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve(ok);
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      this.waiters.add(done);
    });
  }
}

/**
 * A PING every heartbeatMs while connected. Two late in a row make Redis unreachable: one PING can
 * time out with its answer already arrived, unread while this process's own event loop was busy.
 */
function startHeartbeat(client: Redis, health: Health, everyMs: number, timeoutMs: number): NodeJS.Timeout {
  let pinging = false;
  let late = 0;
  let stalled = false;
  const timer = setInterval(() => {
    if (pinging || client.status !== 'ready') return;
    pinging = true;
    client.ping().then(() => {
      late = 0;
      if (!stalled) return;
      stalled = false;
      health.back();
    }, (err: Error) => {
      if (client.status !== 'ready' || health.closing || ++late < 2) return;
      stalled = true;
      health.lost(/timed out/i.test(err.message) ? `two PINGs in a row got no answer within ${timeoutMs} ms` : err.message);
    }).finally(() => {
      pinging = false;
    });
  }, everyMs);
  timer.unref();
  // A new connection starts with no late PING against it.
  client.on('ready', () => {
    late = 0;
  });
  return timer;
}

export function connectRedis(url: string, opts: RedisConnectionOptions = {}): RedisConnection {
  const where = redisLocation(url);
  const maxDelay = opts.maxReconnectDelayMs ?? 2000;
  const commandTimeoutMs = opts.commandTimeoutMs ?? 2000;
  const client = new Redis(url, {
    enableOfflineQueue: false,
    commandTimeout: commandTimeoutMs,
    connectTimeout: 5000,
    maxRetriesPerRequest: 0,
    retryStrategy: (attempt) => Math.min(attempt * 100, maxDelay),
  });
  const health = new Health(where, opts.log);
  // Each connection selects the URL's database anew: a refusal counts for that connection only.
  client.on('connect', () => {
    health.wrongDatabase = false;
  });
  client.on('ready', () => {
    if (health.wrongDatabase) return;
    health.refusal = undefined;
    health.back();
  });
  client.on('error', (err: Error) => {
    if (settingsRefused(err)) health.refused(err.message);
    health.lost(err.message || (err as NodeJS.ErrnoException).code || err.name);
  });
  client.on('close', () => health.lost('connection closed'));
  const heartbeat = startHeartbeat(client, health, opts.heartbeatMs ?? 1000, commandTimeoutMs);
  return {
    client,
    where,
    get up() {
      return health.up;
    },
    get refusal() {
      return health.refusal;
    },
    ready: (timeoutMs) => health.ready(timeoutMs),
    async close() {
      health.closing = true;
      clearInterval(heartbeat);
      try {
        await client.quit();
      } catch {
        client.disconnect();
      }
    },
  };
}
