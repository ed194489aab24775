// Persisted operations. Automatic persisted queries (APQ): a client sends the sha256 of a document
// instead of the document, and the document only the first time; the documents live in a cache of
// bounded size (least recently used out first), so clients cannot grow the gateway's memory by
// registering documents. The cache is this process's, or one in Redis that every replica shares
// (shared-documents.ts, with --redis-url). Optionally an allow-list: only the operations of a manifest (Apollo's
// persisted query manifest format) may run, sent by id (its sha256) or as their exact document;
// anything else is refused before it is parsed, with the catalog's FORBIDDEN.
//
// Apollo Server reads the persistedQuery extension after its plugins' requestDidStart: this plugin
// resolves it there (from the manifest or its own cache) and removes it, so Apollo's own unbounded
// choice of cache is never filled. A hash it does not know is left to Apollo, which answers
// PERSISTED_QUERY_NOT_FOUND, the signal for APQ clients to send the document.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { HeaderMap, type ApolloServerPlugin, type GraphQLRequest } from '@apollo/server';
import type { Request } from 'express';
import { GraphQLError } from 'graphql';
import { ApiError } from '../api-errors.ts';
import type { CallerContext } from '../contract/caller-context.ts';
import { everyRequest, type GatewayPlugin } from './gateway-plugin.ts';
import { LRUCache } from 'lru-cache';

export type PersistedOperationsMode = 'apq' | 'allow-list';

export interface PersistedOperation {
  /** The sha256 of body, hex. */
  id: string;
  name?: string;
  type: 'query' | 'mutation' | 'subscription';
  body: string;
}

export interface PersistedQueryManifest {
  format: 'apollo-persisted-query-manifest';
  version: 1;
  operations: PersistedOperation[];
}

export interface PersistedOperationsOptions {
  /** apq (default): any document may run, documents are cached by hash; allow-list: only the manifest's. */
  mode?: PersistedOperationsMode;
  /** A manifest file (required for allow-list; with apq its operations are known by hash from the start). */
  file?: string;
  /** The manifest itself, instead of a file. */
  manifest?: PersistedQueryManifest;
  /** Total size of the documents the APQ cache keeps (UTF-16 code units, ~bytes); default 4 MiB. */
  cacheSize?: number;
  /** Where APQ documents are kept instead of this process's cache (shared by replicas). */
  shared?: DocumentCache;
}

/** Where APQ documents are remembered, by hash. */
export interface DocumentCache {
  get(hash: string): string | undefined | Promise<string | undefined>;
  set(hash: string, document: string): void | Promise<void>;
}

export const defaultApqCacheSize = 4 << 20;

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** A string cache bounded by the total length of its keys and values; the least recently used go first. */
export class BoundedLruCache implements DocumentCache {
  private readonly lru: LRUCache<string, string>;
  readonly maxSize: number;

  constructor(maxSize: number) {
    this.maxSize = maxSize;
    // One entry may take at most a quarter of the cache, so a few huge documents cannot flush it.
    this.lru = new LRUCache<string, string>({ maxSize, maxEntrySize: maxSize / 4, sizeCalculation: (value, key) => key.length + value.length });
  }

  get(key: string): string | undefined {
    return this.lru.get(key);
  }

  set(key: string, value: string): void {
    this.lru.set(key, value);
  }

  delete(key: string): void {
    this.lru.delete(key);
  }

  get count(): number {
    return this.lru.size;
  }

  get totalSize(): number {
    return this.lru.calculatedSize;
  }
}

/** Checks a manifest document; every problem is reported with the file and the operation. */
export function parseManifest(doc: unknown, source = 'the manifest'): PersistedQueryManifest {
  const fail = (what: string): never => {
    throw new Error(`${source}: ${what}`);
  };
  if (!doc || typeof doc !== 'object') fail('not a JSON object');
  const m = doc as Record<string, unknown>;
  if (m.format !== 'apollo-persisted-query-manifest') fail(`format must be "apollo-persisted-query-manifest", not ${JSON.stringify(m.format)}`);
  if (m.version !== 1) fail(`version must be 1, not ${JSON.stringify(m.version)}`);
  if (!Array.isArray(m.operations)) fail('operations must be a list');
  const operations = (m.operations as unknown[]).map((o, i): PersistedOperation => {
    const op = o as Record<string, unknown>;
    const where = `operation ${i}${typeof op?.name === 'string' ? ` (${op.name})` : ''}`;
    if (!op || typeof op !== 'object') fail(`${where} is not an object`);
    if (typeof op.body !== 'string' || !op.body.trim()) fail(`${where} has no body`);
    if (typeof op.id !== 'string' || !/^[0-9a-f]{64}$/.test(op.id)) fail(`${where}: id must be the sha256 of the body, 64 lowercase hex digits`);
    if (op.id !== sha256Hex(op.body as string)) fail(`${where}: id ${String(op.id)} is not the sha256 of its body`);
    if (op.type !== 'query' && op.type !== 'mutation' && op.type !== 'subscription') fail(`${where}: type must be query, mutation or subscription`);
    return { id: op.id as string, type: op.type as PersistedOperation['type'], body: op.body as string, ...(typeof op.name === 'string' ? { name: op.name } : {}) };
  });
  return { format: 'apollo-persisted-query-manifest', version: 1, operations };
}

export function loadManifest(file: string): PersistedQueryManifest {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read the persisted operations file ${file}: ${(err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new Error(`${file}: not valid JSON: ${(err as Error).message}`);
  }
  return parseManifest(doc, file);
}

/** The refusal of a document that is not registered, in allow-list mode. */
export function notAllowedError(): ApiError {
  return new ApiError('FORBIDDEN',
    'only registered operations may run on this gateway (persisted operations allow-list): send a registered operation by its id (extensions.persistedQuery.sha256Hash) or its exact document',
    { reason: 'OperationNotRegistered' });
}

const refusedPlaceholder = '{ __typename }';

const nothingToDo: Promise<undefined> = Promise.resolve(undefined);

function asGraphQLError(e: ApiError): GraphQLError {
  return new GraphQLError(e.message, { originalError: e, extensions: { ...e.extensions, http: { status: e.httpStatus, headers: new HeaderMap() } } });
}

/**
 * What one request runs, or why it may not: the document for a known hash is filled in, a new
 * document is remembered (APQ), an unregistered one is refused (allow-list). Pure apart from the cache.
 */
export async function resolvePersisted(request: Pick<GraphQLRequest, 'query' | 'extensions'>, state: {
  mode: PersistedOperationsMode; byId: ReadonlyMap<string, PersistedOperation>; bodies: ReadonlySet<string>; cache: DocumentCache;
}, tenant?: string): Promise<{ query?: string; extensions?: Record<string, unknown>; refuse?: ApiError }> {
  const ext = request.extensions?.persistedQuery as { version?: unknown; sha256Hash?: unknown } | undefined;
  const allowList = state.mode === 'allow-list';
  const hash = ext && ext.version === 1 && typeof ext.sha256Hash === 'string' ? ext.sha256Hash : undefined;
  // Anything malformed (another version, no hash) is Apollo's to refuse, as it does today.
  if (ext && hash === undefined) return {};
  const withoutExt = () => {
    const { persistedQuery: _, ...rest } = request.extensions ?? {};
    return rest;
  };
  if (hash !== undefined && request.query === undefined) {
    const key = apqKey(hash, tenant);
    const known = state.byId.get(hash)?.body ?? (allowList || key === undefined ? undefined : await state.cache.get(key));
    if (known !== undefined) return { query: known, extensions: withoutExt() };
    // Not found: in allow-list mode it never will be; otherwise Apollo asks for the document.
    return allowList ? { refuse: notAllowedError() } : {};
  }
  if (hash !== undefined && typeof request.query === 'string') {
    // A hash that does not match its document is Apollo's to refuse ("provided sha does not match query").
    if (sha256Hex(request.query) !== hash) return {};
    if (allowList) return state.byId.has(hash) ? { extensions: withoutExt() } : { refuse: notAllowedError() };
    const key = apqKey(hash, tenant);
    if (key !== undefined) await state.cache.set(key, request.query);
    return { extensions: withoutExt() };
  }
  if (allowList && typeof request.query === 'string' && !state.bodies.has(request.query)) return { refuse: notAllowedError() };
  return {};
}

/**
 * Registered documents are kept per tenant: a tenant's hash that another tenant's client registered
 * would tell it that someone sent that exact document (literals included). Their room is shared:
 * one entry may take at most a quarter of it. Only a SHA-256 in hex is a key: a '/' in a hash
 * could reach into another tenant's (tenant/hash).
 */
function apqKey(hash: string, tenant: string | undefined): string | undefined {
  if (!/^[0-9a-f]{64}$/.test(hash)) return undefined;
  return tenant === undefined ? hash : `${tenant}/${hash}`;
}

export function persistedOperations(opts: PersistedOperationsOptions = {}): GatewayPlugin & { cache: BoundedLruCache; documents: DocumentCache } {
  const mode = opts.mode ?? 'apq';
  const manifest = opts.manifest ?? (opts.file ? loadManifest(opts.file) : undefined);
  if (mode === 'allow-list' && !manifest) throw new Error('persisted operations in allow-list mode need a manifest file');
  const byId = new Map((manifest?.operations ?? []).map((o) => [o.id, o]));
  const bodies = new Set((manifest?.operations ?? []).map((o) => o.body));
  const cache = new BoundedLruCache(opts.cacheSize ?? defaultApqCacheSize);
  const documents = opts.shared ?? cache;
  /** What one request runs, or its refusal: see resolvePersisted. */
  const resolveRequest = async ({ request, contextValue }: { request: GraphQLRequest; contextValue?: unknown }) => {
    const r = await resolvePersisted(request, { mode, byId, bodies, cache: documents }, (contextValue as CallerContext | undefined)?.tenant);
    if (r.refuse) {
      // Errors thrown this early become Apollo's catch-all 500; the refusal is thrown once the
      // operation is resolved instead, and the unregistered document is never parsed: a
      // trivial one takes its place.
      const refusal = asGraphQLError(r.refuse);
      request.query = refusedPlaceholder;
      request.operationName = undefined;
      const { persistedQuery: _, ...rest } = request.extensions ?? {};
      request.extensions = rest;
      return {
        async didResolveOperation() {
          throw refusal;
        },
      };
    }
    if (r.query !== undefined) request.query = r.query;
    if (r.extensions !== undefined) request.extensions = r.extensions;
    return undefined;
  };
  const plugin: ApolloServerPlugin = {
    // Not async: a request of APQ mode without the extension (nearly every request) gets the one
    // settled promise, without resolving or hashing anything.
    requestDidStart(start) {
      if (mode === 'apq' && start.request.extensions?.persistedQuery === undefined) return nothingToDo;
      return resolveRequest(start);
    },
  };
  return {
    name: 'persisted-operations',
    cache,
    documents,
    // WebSocket operations do not pass Apollo's plugins: the allow-list is checked here for them
    // (HTTP requests were checked before their document was parsed).
    checkOperation: ({ source, context }) => {
      if (mode === 'allow-list' && context.transport === 'ws' && !byId.has(sha256Hex(source)) && !bodies.has(source)) throw notAllowedError();
    },
    apollo: {
      plugins: [plugin],
      // What requestDidStart does something for: in APQ mode, a request with the extension only.
      needsPipeline: mode === 'apq' ? hasPersistedQuery : everyRequest,
      formatError: (formatted, error) => {
        const original = (error as GraphQLError | undefined)?.originalError;
        if (original instanceof ApiError && original.details.reason === 'OperationNotRegistered') {
          return { ...formatted, message: original.message, extensions: { ...original.extensions } };
        }
        return formatted;
      },
    },
  };
}

/**
 * Whether a GraphQL request carries the persistedQuery extension, as Apollo reads a request's
 * extensions (a POST body's; a GET's search parameter).
 */
function hasPersistedQuery(req: Request): boolean {
  if (req.method === 'GET') return typeof req.query['extensions'] === 'string';
  const extensions = (req.body as { extensions?: unknown } | undefined)?.extensions;
  return typeof extensions === 'object' && extensions !== null && (extensions as { persistedQuery?: unknown }).persistedQuery !== undefined;
}

/**
 * The plugin's options from the environment, until the configuration offers flags:
 * CRDGATE_PERSISTED_OPERATIONS (a manifest file), CRDGATE_PERSISTED_OPERATIONS_MODE (apq or
 * allow-list; allow-list when a file is given and no mode), CRDGATE_APQ_CACHE_SIZE.
 */
export function persistedOperationsFromEnv(env: NodeJS.ProcessEnv = process.env): PersistedOperationsOptions {
  const file = env.CRDGATE_PERSISTED_OPERATIONS || undefined;
  const modeText = env.CRDGATE_PERSISTED_OPERATIONS_MODE || (file ? 'allow-list' : 'apq');
  if (modeText !== 'apq' && modeText !== 'allow-list') throw new Error(`CRDGATE_PERSISTED_OPERATIONS_MODE must be apq or allow-list, not "${modeText}"`);
  const sizeText = env.CRDGATE_APQ_CACHE_SIZE;
  if (sizeText !== undefined && !/^\d+$/.test(sizeText)) throw new Error(`CRDGATE_APQ_CACHE_SIZE must be a whole number of bytes, not "${sizeText}"`);
  return { mode: modeText, ...(file ? { file } : {}), ...(sizeText !== undefined ? { cacheSize: Number(sizeText) } : {}) };
}
