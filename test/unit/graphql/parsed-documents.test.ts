import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GraphQLError, print } from 'graphql';
import { ParsedDocuments } from '../../../src/graphql/parsed-documents.ts';

test('the same text gives the same parsed document; another text another one', () => {
  const docs = new ParsedDocuments();
  const q = 'subscription { watch { type } }';
  const a = docs.parse(q);
  assert.equal(docs.parse(q), a);
  assert.equal(docs.parse(`${q} `) === a, false, 'the key is the exact text');
  assert.equal(print(a), print(docs.parse(`${q} `)));
  assert.equal(docs.size, 2);
  assert.equal(docs.sourceBytes, 2 * Buffer.byteLength(q) + 1);
});

test('a text that does not parse throws the GraphQLError each time and is not kept', () => {
  const docs = new ParsedDocuments();
  for (let i = 0; i < 2; i++) assert.throws(() => docs.parse('subscription {'), GraphQLError);
  assert.equal(docs.size, 0);
});

test('parse options apply (noLocation)', () => {
  assert.ok(new ParsedDocuments().parse('{ a }').loc);
  assert.equal(new ParsedDocuments({ noLocation: true }).parse('{ a }').loc, undefined);
});

test('bounded in source bytes: the least recently used go first, a text over a quarter of the bound is parsed but not kept', () => {
  const text = (i: number) => `query Q${i} { field${'x'.repeat(80)} }`;
  const size = Buffer.byteLength(text(10));
  const docs = new ParsedDocuments(undefined, size * 4);
  const first = docs.parse(text(10));
  docs.parse(text(11));
  docs.parse(text(12));
  docs.parse(text(13));
  assert.equal(docs.size, 4);
  assert.equal(docs.parse(text(10)), first, 'used again: now the most recent');
  docs.parse(text(14));
  assert.equal(docs.size, 4);
  assert.ok(docs.sourceBytes <= size * 4);
  assert.equal(docs.parse(text(10)), first, 'kept: 11 went instead');
  const eleven = docs.parse(text(11));
  assert.equal(docs.parse(text(11)), eleven);
  const big = `{ a${'b'.repeat(size * 2)} }`;
  assert.notEqual(docs.parse(big), docs.parse(big), 'too big to keep');
  assert.ok(docs.sourceBytes <= size * 4);
  assert.throws(() => new ParsedDocuments(undefined, Number.NaN), RangeError);
});
