// The CSRF check apolloHandler runs for Apollo Server: the decision per Content-Type value, also
// once more values have been seen than it remembers. Over HTTP, byte for byte against what Apollo
// answers, see apollo-entry.test.ts.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { csrfRefusal } from '../../../src/transports/csrf-prevention.ts';

it('refuses simple content types without a preflight header, for more distinct values than it remembers', () => {
  for (let round = 0; round < 2; round++) {
    for (let i = 0; i < 200; i++) {
      const simple = ['text/plain', 'Multipart/Form-Data', 'application/x-www-form-urlencoded'][i % 3]!;
      const refused = csrfRefusal({ 'content-type': `${simple}; v=${i}` });
      assert.equal(refused?.extensions.code, 'BAD_REQUEST', `${simple}; v=${i}`);
      assert.deepEqual((refused?.extensions.http as { status?: number } | undefined)?.status, 400);
      assert.equal(csrfRefusal({ 'content-type': `${simple}; v=${i}`, 'apollo-require-preflight': '1' }), undefined);
      assert.equal(csrfRefusal({ 'content-type': `${simple}; v=${i}`, 'x-apollo-operation-name': '' })?.extensions.code, 'BAD_REQUEST');
      assert.equal(csrfRefusal({ 'content-type': `application/json; v=${i}` }), undefined);
      assert.equal(csrfRefusal({ 'content-type': `text/plain/${i}` }), undefined, 'a type that does not parse is let through, as Apollo does');
    }
  }
  assert.equal(csrfRefusal({})?.extensions.code, 'BAD_REQUEST');
  assert.equal(csrfRefusal({ 'x-apollo-operation-name': 'Q' }), undefined);
});
