// Parsed documents, kept for the documents clients send again. A parsed document is ~50 times its
// source in heap (a 330-character mutation: 18 KB of AST), and every document kept in a long-lived
// cache is promoted to the old space, which each major GC then marks along with the schema. Clients
// that write values inline send a new document with every request: keeping those would grow the
// old space for nothing. So a document is parsed and kept only on its second sighting; one-off
// documents die young. The first sighting leaves only a 32-bit hash of the source in a fixed table
// (no string kept, no entry allocated): remembering each one-off source in a least-recently-used
// set cost a new document several µs of bookkeeping and promoted its text to the old space.
import { parse, type DocumentNode, type ParseOptions } from 'graphql';
import { LRUCache } from 'lru-cache';

export interface DocumentCacheOptions {
  /** Bound of the kept documents, in characters of their source (their AST is ~50× that in heap). */
  readonly maxSourceChars?: number;
  /** How many sources seen once are remembered (by a hash of their text; a power of two). */
  readonly seenSlots?: number;
  /** A source longer than this is never kept (parsed for each request). */
  readonly maxEntryChars?: number;
}

const defaults = { maxSourceChars: 512 * 1024, seenSlots: 4096, maxEntryChars: 64 * 1024 };

export class DocumentCache {
  private readonly documents: LRUCache<string, DocumentNode>;
  /** Hashes of sources seen once, each in the slot its low bits name (0: empty); a newer source takes the slot. */
  private readonly seen: Int32Array;
  private readonly parseOptions: ParseOptions | undefined;
  private readonly maxEntryChars: number;

  constructor(parseOptions?: ParseOptions, options: DocumentCacheOptions = {}) {
    this.parseOptions = parseOptions;
    const maxSourceChars = options.maxSourceChars ?? defaults.maxSourceChars;
    const slots = options.seenSlots ?? defaults.seenSlots;
    if (!(slots >= 1 && (slots & (slots - 1)) === 0)) throw new RangeError(`seenSlots must be a power of two, got ${slots}`);
    this.maxEntryChars = Math.min(options.maxEntryChars ?? defaults.maxEntryChars, maxSourceChars);
    this.documents = new LRUCache({ maxSize: maxSourceChars, sizeCalculation: (_doc, source) => Math.max(1, source.length) });
    this.seen = new Int32Array(slots);
  }

  /**
   * The parsed document of a source seen before, parsed now if this is its second sighting;
   * undefined the first time (the caller parses it and the result is not kept) and for a source
   * that does not parse (the caller's own parse reports the syntax error).
   */
  get(source: string): DocumentNode | undefined {
    const kept = this.documents.get(source);
    if (kept) return kept;
    if (source.length > this.maxEntryChars) return undefined;
    const hash = hashOf(source);
    const slot = hash & (this.seen.length - 1);
    if (this.seen[slot] !== hash) {
      this.seen[slot] = hash;
      return undefined;
    }
    // Seen before (or, once in 2^32, another source of the same hash: it is then kept too, within the bound).
    this.seen[slot] = 0;
    let document: DocumentNode;
    try {
      document = parse(source, this.parseOptions);
    } catch {
      return undefined;
    }
    this.documents.set(source, document);
    return document;
  }

  /**
   * The parsed document of a source that is kept, without counting a sighting: for a caller that
   * may leave the request to another that calls get.
   */
  peek(source: string): DocumentNode | undefined {
    return this.documents.get(source);
  }

  /** How many documents are kept (for tests and diagnostics). */
  get size(): number {
    return this.documents.size;
  }
}

/** FNV-1a over the UTF-16 code units, never 0 (the empty slot). */
function hashOf(source: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < source.length; i++) hash = Math.imul(hash ^ source.charCodeAt(i), 0x01000193);
  return hash || 1;
}

const shared = new WeakMap<object, DocumentCache>();
const sharedDefault = new DocumentCache();

/**
 * One cache per parse options, shared by the servers that use them (one Apollo Server per tenant
 * schema parses the same documents: parsing does not depend on the schema).
 */
export function sharedDocumentCache(parseOptions?: ParseOptions): DocumentCache {
  if (!parseOptions) return sharedDefault;
  let cache = shared.get(parseOptions);
  if (!cache) shared.set(parseOptions, (cache = new DocumentCache(parseOptions)));
  return cache;
}
