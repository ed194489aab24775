// The answer's media type apolloHandler's pipeline gives Apollo, per Accept value, also once more
// values have been seen than it remembers. Over HTTP, against what Apollo answers, see apollo-entry.test.ts.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { answerType } from '../../../src/transports/answer-type.ts';

it('chooses per Accept value, and leaves no Accept and unacceptable ones to Apollo', () => {
  for (let round = 0; round < 2; round++) {
    for (let i = 0; i < 200; i++) {
      assert.equal(answerType(`application/graphql-response+json;q=0.${(i % 8) + 2}, application/json;q=0.1, x/${i}`), 'application/graphql-response+json; charset=utf-8');
      assert.equal(answerType(`application/json, x/${i}`), 'application/json; charset=utf-8');
      assert.equal(answerType(`text/html, y/${i}`), undefined);
    }
  }
  assert.equal(answerType(undefined), undefined);
  assert.equal(answerType(''), undefined);
  assert.equal(answerType('*/*'), 'application/json; charset=utf-8');
});
