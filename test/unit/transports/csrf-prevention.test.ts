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

it('takes a bearer token as the sign of a preflight, as clients that send GET queries rely on', () => {
  // urql's default (GET within the URL limit), Apollo Client's useGETForQueries and graphql-request's
  // method: 'GET' send no Content-Type and no Apollo header, only the caller's token. A page cannot
  // attach one cross-site without a preflight, and no browser sends a bearer token by itself.
  // A bare JWT too, which authentication takes as a bearer token (bearerToken in authenticate.ts).
  for (const authorization of ['Bearer abc.def', 'bearer abc', 'BEARER  x', 'eyJh.eyJ0.c2ln', 'a-b.c_d.']) {
    assert.equal(csrfRefusal({ authorization }), undefined, authorization);
    assert.equal(csrfRefusal({ authorization, 'content-type': 'text/plain' }), undefined, authorization);
  }
  // Schemes a browser sends by itself once the user logged in (Basic, Negotiate), and empty tokens, are no sign.
  for (const authorization of ['Basic dTpw', 'Negotiate abc', 'Bearer', 'Bearer ', '', 'Bearerabc', 'Basic a.b.c', 'a.b']) {
    assert.equal(csrfRefusal({ authorization })?.extensions.code, 'BAD_REQUEST', authorization);
  }
});
