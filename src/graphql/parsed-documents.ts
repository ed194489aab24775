// Parsed documents by their text. Every subscriber of a dashboard sends the same subscription,
// and a parsed document (its AST, and the tokens and locations its nodes point to) costs several
// KB: kept per subscription for its lifetime, that was most of an idle subscriber's memory. The
// documents are immutable once parsed (graphql-js never changes them), so subscriptions of the
// same text share one. Bounded in source bytes, least recently used first out; a document larger
// than a quarter of the bound is parsed and not kept.
import { parse, type DocumentNode, type ParseOptions } from 'graphql';

export const defaultParsedDocumentBytes = 4 << 20;

export class ParsedDocuments {
  private readonly documents = new Map<string, DocumentNode>();
  private readonly maxBytes: number;
  private readonly options: ParseOptions | undefined;
  private bytes = 0;

  constructor(options?: ParseOptions, maxBytes = defaultParsedDocumentBytes) {
    if (!(maxBytes >= 0)) throw new RangeError(`maxBytes must be a number ≥ 0, got ${maxBytes}`);
    this.options = options;
    this.maxBytes = maxBytes;
  }

  /** The document of this text, parsed once while it stays in the cache; throws parse's GraphQLError. */
  parse(source: string): DocumentNode {
    const hit = this.documents.get(source);
    if (hit) {
      // Most recently used goes last.
      this.documents.delete(source);
      this.documents.set(source, hit);
      return hit;
    }
    const document = parse(source, this.options);
    const size = Buffer.byteLength(source);
    if (size > this.maxBytes / 4) return document;
    this.documents.set(source, document);
    this.bytes += size;
    for (const [oldest] of this.documents) {
      if (this.bytes <= this.maxBytes) break;
      this.documents.delete(oldest);
      this.bytes -= Buffer.byteLength(oldest);
    }
    return document;
  }

  get size(): number {
    return this.documents.size;
  }

  get sourceBytes(): number {
    return this.bytes;
  }
}
