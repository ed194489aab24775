// Parsed documents by their text. Every subscriber of a dashboard sends the same subscription,
// and a parsed document (its AST, and the tokens and locations its nodes point to) costs several
// KB: kept per subscription for its lifetime, that was most of an idle subscriber's memory. The
// documents are immutable once parsed (graphql-js never changes them), so subscriptions of the
// same text share one. Bounded in source bytes, least recently used first out; a document larger
// than a quarter of the bound is parsed and not kept.
import { parse, type DocumentNode, type ParseOptions } from 'graphql';
import { LRUCache } from 'lru-cache';

export const defaultParsedDocumentBytes = 4 << 20;

export class ParsedDocuments {
  private readonly documents: LRUCache<string, DocumentNode>;
  private readonly options: ParseOptions | undefined;

  constructor(options?: ParseOptions, maxBytes = defaultParsedDocumentBytes) {
    if (!(maxBytes >= 1)) throw new RangeError(`maxBytes must be a number ≥ 1, got ${maxBytes}`);
    this.options = options;
    this.documents = new LRUCache({
      maxSize: maxBytes,
      maxEntrySize: Math.max(1, Math.floor(maxBytes / 4)),
      sizeCalculation: (_doc, source) => Math.max(1, Buffer.byteLength(source)),
    });
  }

  /** The document of this text, parsed once while it stays in the cache; throws parse's GraphQLError. */
  parse(source: string): DocumentNode {
    const hit = this.documents.get(source);
    if (hit) return hit;
    const document = parse(source, this.options);
    this.documents.set(source, document);
    return document;
  }

  get size(): number {
    return this.documents.size;
  }

  get sourceBytes(): number {
    return this.documents.calculatedSize;
  }
}
