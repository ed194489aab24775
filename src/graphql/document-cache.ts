// Parsed documents, kept for the documents clients send again. A parsed document is ~50 times its
// source in heap (a 330-character mutation: 18 KB of AST), and every document kept in a long-lived
// cache is promoted to the old space, which each major GC then marks along with the schema. Clients
// that write values inline send a new document with every request: keeping those would grow the
// old space for nothing. So a document is parsed and kept only on its second sighting (the first
// one leaves only its source text, in a small bounded set); one-off documents die young.
import { parse, type DocumentNode, type ParseOptions } from 'graphql';
import { LRUCache } from 'lru-cache';

export interface DocumentCacheOptions {
  /** Bound of the kept documents, in characters of their source (their AST is ~50× that in heap). */
  readonly maxSourceChars?: number;
  /** Bound of the sources seen once, in characters. */
  readonly maxSeenChars?: number;
  /** A source longer than this is never kept (parsed for each request). */
  readonly maxEntryChars?: number;
}

const defaults = { maxSourceChars: 512 * 1024, maxSeenChars: 256 * 1024, maxEntryChars: 64 * 1024 };

export class DocumentCache {
  private readonly documents: LRUCache<string, DocumentNode>;
  private readonly seen: LRUCache<string, true>;
  private readonly parseOptions: ParseOptions | undefined;
  private readonly maxEntryChars: number;

  constructor(parseOptions?: ParseOptions, options: DocumentCacheOptions = {}) {
    this.parseOptions = parseOptions;
    const maxSourceChars = options.maxSourceChars ?? defaults.maxSourceChars;
    const maxSeenChars = options.maxSeenChars ?? defaults.maxSeenChars;
    this.maxEntryChars = Math.min(options.maxEntryChars ?? defaults.maxEntryChars, maxSourceChars, maxSeenChars);
    this.documents = new LRUCache({ maxSize: maxSourceChars, sizeCalculation: (_doc, source) => Math.max(1, source.length) });
    this.seen = new LRUCache({ maxSize: maxSeenChars, sizeCalculation: (_v, source) => Math.max(1, source.length) });
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
    if (!this.seen.has(source)) {
      this.seen.set(source, true);
      return undefined;
    }
    let document: DocumentNode;
    try {
      document = parse(source, this.parseOptions);
    } catch {
      this.seen.delete(source);
      return undefined;
    }
    this.seen.delete(source);
    this.documents.set(source, document);
    return document;
  }

  /** How many documents are kept (for tests and diagnostics). */
  get size(): number {
    return this.documents.size;
  }
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
