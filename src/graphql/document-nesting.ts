// How deeply a GraphQL document nests, found before it is parsed. graphql-js parses recursively:
// a selection 10,000 levels deep (or a list value nested as deep) exhausts the stack inside the
// parser, before any depth rule can look at the document, and only the token limit stood in the
// way. This scan is iterative: it counts what opens a level in the parser (a selection set, a list
// or object value, a list type, an argument list) with graphql-js' own lexer, so braces inside
// strings, block strings and comments do not count.
import { Lexer, Source, TokenKind } from 'graphql';
import { ApiError } from '../api-errors.ts';

/**
 * The nesting the parser's stack is known to survive with room to spare (it overflows near 2,000
 * levels of list values on Node's default stack). No setting raises the limit above it.
 */
export const MAX_DOCUMENT_NESTING = 1000;

const OPEN = new Set<string>([TokenKind.BRACE_L, TokenKind.BRACKET_L, TokenKind.PAREN_L]);
const CLOSE = new Set<string>([TokenKind.BRACE_R, TokenKind.BRACKET_R, TokenKind.PAREN_R]);

/**
 * True when the document nests deeper than `limit` (the scan stops there). A lexical error ends
 * the scan: the parser then reports it as the syntax error it is.
 */
export function nestsDeeperThan(source: string, limit: number): boolean {
  // Nesting can never exceed the number of opening characters: most documents stop here.
  let opening = 0;
  for (let i = 0; i < source.length && opening <= limit; i++) {
    const c = source.charCodeAt(i);
    if (c === 0x7b || c === 0x5b || c === 0x28) opening++;
  }
  if (opening <= limit) return false;
  const lexer = new Lexer(new Source(source));
  let depth = 0;
  try {
    for (let token = lexer.advance(); token.kind !== TokenKind.EOF; token = lexer.advance()) {
      if (OPEN.has(token.kind)) {
        if (++depth > limit) return true;
      } else if (CLOSE.has(token.kind)) depth--;
    }
  } catch {
    // A lexical error: left to the parser.
  }
  return false;
}

/** The refusal of a document that nests deeper than `limit`, or undefined; checked before parsing. */
export function nestingRefusal(source: unknown, limit: number = MAX_DOCUMENT_NESTING): ApiError | undefined {
  const max = Math.min(limit, MAX_DOCUMENT_NESTING);
  if (typeof source !== 'string' || !nestsDeeperThan(source, max)) return undefined;
  return new ApiError('BAD_REQUEST',
    `the document nests more than ${max} levels deep (selection sets, list and object values, argument lists) and is refused before parsing; `
    + `the limit follows the selection depth limit (--max-depth), with room for fragments and argument values, up to ${MAX_DOCUMENT_NESTING}`,
    { reason: 'QueryLimitExceeded' });
}
