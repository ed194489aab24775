// The APQ documents shared by every replica of the gateway, in Redis (--redis-url): a document
// registered through one replica runs by its hash on any other. Bounded like the in-process cache:
// the documents take at most `maxSize` bytes in all, one at most a quarter of that, and the least
// recently used go first. A hash, its document, its last use and the running total change together
// in one script, so replicas registering at once never leave the total wrong.
//
// Redis unreachable: a hash is "not found", so APQ clients send the whole document, which runs;
// it is just not remembered until Redis is back.
import type { Redis } from 'ioredis';
import type { DocumentCache } from './persisted-operations.ts';

// KEYS: documents (hash), last use (sorted set), total bytes. ARGV: hash, document, max bytes.
const storeScript = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 1 then
  redis.call('INCRBY', KEYS[3], string.len(ARGV[1]) + string.len(ARGV[2]))
end
redis.call('ZADD', KEYS[2], now, ARGV[1])
local max = tonumber(ARGV[3])
while tonumber(redis.call('GET', KEYS[3]) or '0') > max do
  local oldest = redis.call('ZPOPMIN', KEYS[2])
  if #oldest == 0 then break end
  local doc = redis.call('HGET', KEYS[1], oldest[1])
  if doc then
    redis.call('HDEL', KEYS[1], oldest[1])
    redis.call('DECRBY', KEYS[3], string.len(oldest[1]) + string.len(doc))
  end
end
return 1`;

// KEYS: documents, last use. ARGV: hash.
const fetchScript = `
local doc = redis.call('HGET', KEYS[1], ARGV[1])
if doc then
  local t = redis.call('TIME')
  redis.call('ZADD', KEYS[2], tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000), ARGV[1])
end
return doc`;

type ScriptClient = Redis & {
  crdgateApqStore(docs: string, used: string, total: string, hash: string, doc: string, max: number): Promise<number>;
  crdgateApqFetch(docs: string, used: string, hash: string): Promise<string | null>;
};

export class SharedDocuments implements DocumentCache {
  private readonly client: ScriptClient;
  readonly maxSize: number;
  private readonly keys: { docs: string; used: string; total: string };

  constructor(client: Redis, maxSize: number, prefix = 'crdgate:apq') {
    if (typeof (client as unknown as Partial<ScriptClient>).crdgateApqStore !== 'function') {
      client.defineCommand('crdgateApqStore', { numberOfKeys: 3, lua: storeScript });
      client.defineCommand('crdgateApqFetch', { numberOfKeys: 2, lua: fetchScript });
    }
    this.client = client as unknown as ScriptClient;
    this.maxSize = maxSize;
    this.keys = { docs: `${prefix}:documents`, used: `${prefix}:used`, total: `${prefix}:bytes` };
  }

  async get(hash: string): Promise<string | undefined> {
    try {
      return (await this.client.crdgateApqFetch(this.keys.docs, this.keys.used, hash)) ?? undefined;
    } catch {
      return undefined;
    }
  }

  async set(hash: string, document: string): Promise<void> {
    if (Buffer.byteLength(hash) + Buffer.byteLength(document) > this.maxSize / 4) return;
    try {
      await this.client.crdgateApqStore(this.keys.docs, this.keys.used, this.keys.total, hash, document, this.maxSize);
    } catch {
      // Not remembered: the client sends the document again next time.
    }
  }

  /** Documents and bytes stored, for tests. */
  async stats(): Promise<{ count: number; bytes: number }> {
    const [count, bytes] = await Promise.all([this.client.hlen(this.keys.docs), this.client.get(this.keys.total)]);
    return { count, bytes: Number(bytes ?? 0) };
  }
}
