// The connection to Redis, where replicas of the gateway share per-tenant budgets and APQ
// documents (--redis-url). Commands fail at once while it is down (no offline queue, a command
// timeout), so a request never waits on Redis: budgets then refuse with UNAVAILABLE (fail closed)
// and the APQ cache answers "not found" (clients send the whole document). Losing and regaining
// the connection is logged once each, not once per request or reconnect attempt. A Redis that
// stops answering without closing the connection (frozen, or cut off by the network, which TCP
// notices only after minutes) is found by a PING every second: it counts as unreachable from the
// first PING that times out until one is answered, and commands are not sent to it meanwhile.
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
  return /^(NOAUTH|WRONGPASS)\b/.test(err.message) || /^ERR .*\bDB index\b/i.test(err.message);
}

export function connectRedis(url: string, opts: RedisConnectionOptions = {}): RedisConnection {
  const where = redisLocation(url);
  const maxDelay = opts.maxReconnectDelayMs ?? 2000;
  const client = new Redis(url, {
    enableOfflineQueue: false,
    commandTimeout: opts.commandTimeoutMs ?? 2000,
    connectTimeout: 5000,
    maxRetriesPerRequest: 0,
    retryStrategy: (attempt) => Math.min(attempt * 100, maxDelay),
  });
  let up = false;
  // Whether the loss was logged: "unreachable" once per outage, "reachable again" once after it.
  let downLogged = false;
  let closing = false;
  let stalled = false;
  let refusal: string | undefined;
  const waiters = new Set<(ok: boolean) => void>();
  const back = () => {
    up = true;
    stalled = false;
    if (downLogged) opts.log?.info(`Redis at ${where} is reachable again: shared budgets and APQ documents are back`);
    downLogged = false;
    for (const w of waiters) w(true);
  };
  let wrongDatabase = false;
  client.on('ready', () => {
    // Connected, but not to the database asked for: not usable, whatever ioredis says.
    if (wrongDatabase) return;
    refusal = undefined;
    back();
  });
  client.on('error', (err: Error) => {
    if (!settingsRefused(err)) return;
    refusal = err.message;
    if (/DB index/i.test(err.message)) wrongDatabase = true;
    for (const w of waiters) w(false);
  });
  const lost = (why: string) => {
    up = false;
    if (closing || downLogged) return;
    downLogged = true;
    opts.log?.warn(`Redis at ${where} is unreachable (${why}): requests that need a tenant budget are refused with 503 UNAVAILABLE, and APQ clients must send whole documents, until it is back`);
  };
  client.on('error', (err: Error) => lost(err.message || (err as NodeJS.ErrnoException).code || err.name));
  client.on('close', () => lost('connection closed'));
  const commandTimeoutMs = opts.commandTimeoutMs ?? 2000;
  let pinging = false;
  const heartbeat = setInterval(() => {
    if (pinging || client.status !== 'ready') return;
    pinging = true;
    client.ping().then(() => {
      if (stalled) back();
    }, () => {
      if (client.status !== 'ready' || closing) return;
      stalled = true;
      lost(`it did not answer within ${commandTimeoutMs} ms`);
    }).finally(() => {
      pinging = false;
    });
  }, opts.heartbeatMs ?? 1000);
  heartbeat.unref();
  return {
    client,
    where,
    get up() {
      return up;
    },
    get refusal() {
      return refusal;
    },
    ready(timeoutMs) {
      if (up) return Promise.resolve(true);
      if (refusal !== undefined) return Promise.resolve(false);
      return new Promise<boolean>((resolve) => {
        const done = (ok: boolean) => {
          clearTimeout(timer);
          waiters.delete(done);
          resolve(ok);
        };
        const timer = setTimeout(() => done(false), timeoutMs);
        waiters.add(done);
      });
    },
    async close() {
      closing = true;
      clearInterval(heartbeat);
      try {
        await client.quit();
      } catch {
        client.disconnect();
      }
    },
  };
}
