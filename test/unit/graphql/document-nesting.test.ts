import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from 'graphql';
import { MAX_DOCUMENT_NESTING, nestingRefusal, nestsDeeperThan } from '../../../src/graphql/document-nesting.ts';

const selection = (n: number) => `${'{ a '.repeat(n)}${'}'.repeat(n)}`;

describe('document nesting, before parsing', () => {
  it('counts selection sets, list and object values, list types and argument lists', () => {
    assert.equal(nestsDeeperThan(selection(10), 10), false);
    assert.equal(nestsDeeperThan(selection(11), 10), true);
    // The selection set, the argument list and nine list levels: 11.
    assert.equal(nestsDeeperThan(`{ a(x: ${'['.repeat(9)}1${']'.repeat(9)}) }`, 10), true);
    assert.equal(nestsDeeperThan(`{ a(x: ${'['.repeat(9)}1${']'.repeat(9)}) }`, 11), false);
    assert.equal(nestsDeeperThan(`{ a(x: {b: {c: {d: 1}}}) }`, 4), true);
    assert.equal(nestsDeeperThan(`query($v: [[[Int]]]) { a }`, 3), true);
  });

  it('does not count what is inside strings, block strings and comments', () => {
    const noise = '{'.repeat(5000);
    assert.equal(nestsDeeperThan(`{ a(s: "${noise}", t: """${noise}""") # ${noise}\n }`, 3), false);
  });

  it('leaves lexical errors to the parser', () => {
    assert.equal(nestsDeeperThan(`{ a(s: "unterminated ${'{'.repeat(50)}`, 10), false);
  });

  it('refuses what would overflow the parser, and never allows more than the cap', () => {
    const deep = selection(100_000);
    assert.throws(() => parse(deep, { maxTokens: 1e9 }), RangeError, 'the parser itself cannot take it');
    const refusal = nestingRefusal(deep, 1e9);
    assert.equal(refusal?.code, 'BAD_REQUEST');
    assert.match(refusal!.message, new RegExp(`more than ${MAX_DOCUMENT_NESTING} levels`));
    assert.equal(nestingRefusal(selection(MAX_DOCUMENT_NESTING), 1e9), undefined);
    assert.doesNotThrow(() => parse(selection(MAX_DOCUMENT_NESTING), { maxTokens: 1e9 }), 'what the cap lets through parses');
    assert.equal(nestingRefusal(undefined), undefined, 'no source (a persisted query): nothing to check');
  });
});
