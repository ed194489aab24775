// graphql-js' own scalars refusing a value a resolver returned become StoredValueInvalid; every
// other error (a resolver's own, a variable that does not coerce) is left as it was.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSchema, execute, GraphQLError, parse, type ExecutionResult } from 'graphql';
import { typedStoredValueErrors, typedStoredValueErrorsOf } from '../../../src/graphql/stored-value-errors.ts';

const schema = buildSchema('type Query { i: Int, big: Int, s: String, b: Boolean, id: ID, own: Int, arg(n: Int): Int }');
const rootValue = {
  i: 'abc', big: 2 ** 40, s: { a: [1] }, b: 'yes', id: true,
  own: () => { throw new GraphQLError('Int cannot represent non-integer value: "x"', { extensions: { code: 'BAD_USER_INPUT' } }); },
  arg: ({ n }: { n: number }) => n,
};

test('each scalar\'s refusal of an output value is INVALID / StoredValueInvalid, at its path, with the value as graphql-js shows it', () => {
  const r = typedStoredValueErrors(execute({ schema, rootValue, document: parse('{ i big s b id }') }) as ExecutionResult);
  assert.deepEqual({ ...r.data }, { i: null, big: null, s: null, b: null, id: null });
  const byPath = new Map(r.errors!.map((e) => [e.path![0], e]));
  const expected: Record<string, RegExp> = {
    i: /^the stored value "abc" is not a Int,/, big: /^the stored value 1099511627776 is beyond the 32-bit range of GraphQL's Int, this field's type: its schema says format: int32, which Kubernetes does not enforce;/,
    s: /^the stored value \{ a: \[1\] \} is not a String,/, b: /^the stored value "yes" is not a Boolean,/, id: /^the stored value true is not a ID,/,
  };
  for (const [key, words] of Object.entries(expected)) {
    const e = byPath.get(key)!;
    assert.match(e.message, words);
    assert.deepEqual(e.extensions, { code: 'INVALID', reason: 'StoredValueInvalid' });
    assert.equal(e.locations?.length, 1, 'located in the document');
  }
});

test('errors that are not an output value refused are left as they were', async () => {
  const own = execute({ schema, rootValue, document: parse('{ own }') }) as ExecutionResult;
  assert.equal(typedStoredValueErrors(own), own);
  const variable = execute({ schema, rootValue, document: parse('query($n: Int) { arg(n: $n) }'), variableValues: { n: 'x' } }) as ExecutionResult;
  assert.equal(typedStoredValueErrors(variable), variable);
  assert.match(variable.errors![0]!.message, /Variable "\$n" got invalid value/);
  const clean = await typedStoredValueErrorsOf(Promise.resolve({ data: { i: 1 } }));
  assert.deepEqual(clean, { data: { i: 1 } });
});
