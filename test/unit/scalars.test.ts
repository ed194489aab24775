import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GraphQLError, parseValue } from 'graphql';
import { DateTimeScalar, Int64Scalar, IntOrStringScalar, JSONScalar, StringMapScalar } from '../../src/graphql/scalars.ts';

const literal = (text: string) => parseValue(text);

describe('Int64', () => {
  it('serializes safe integers as numbers and larger ones as strings', () => {
    assert.equal(Int64Scalar.serialize(42), 42);
    assert.equal(Int64Scalar.serialize(9007199254740993n), '9007199254740993');
    assert.equal(Int64Scalar.serialize(-9223372036854775808n), '-9223372036854775808');
    assert.equal(Int64Scalar.serialize('12'), 12);
    assert.throws(() => Int64Scalar.serialize(1.5), GraphQLError);
  });
  it('parses numbers and decimal strings without precision loss', () => {
    assert.equal(Int64Scalar.parseValue(7), 7);
    assert.equal(Int64Scalar.parseValue('9223372036854775807'), 9223372036854775807n);
    assert.equal(Int64Scalar.parseLiteral(literal('9223372036854775807')), 9223372036854775807n);
    assert.equal(Int64Scalar.parseLiteral(literal('"-5"')), -5);
  });
  it('refuses fractions, unsafe numbers, out-of-range values and garbage', () => {
    assert.throws(() => Int64Scalar.parseValue(1.5), /must be an integer/);
    assert.throws(() => Int64Scalar.parseValue(2 ** 60), /send it as a decimal string/);
    assert.throws(() => Int64Scalar.parseValue('9223372036854775808'), /out of the 64-bit range/);
    assert.throws(() => Int64Scalar.parseValue('12abc'), /decimal string/);
    assert.throws(() => Int64Scalar.parseLiteral(literal('true')), /decimal string/);
  });
});

describe('IntOrString', () => {
  it('accepts integers and strings, nothing else', () => {
    assert.equal(IntOrStringScalar.parseValue(8080), 8080);
    assert.equal(IntOrStringScalar.parseValue('25%'), '25%');
    assert.equal(IntOrStringScalar.parseLiteral(literal('80')), 80);
    assert.equal(IntOrStringScalar.parseLiteral(literal('"http"')), 'http');
    assert.throws(() => IntOrStringScalar.parseValue(1.5), /integer or a string/);
    assert.throws(() => IntOrStringScalar.parseLiteral(literal('true')), /integer or a string/);
    assert.equal(IntOrStringScalar.serialize('5m'), '5m');
  });
});

describe('DateTime', () => {
  it('accepts RFC 3339 and passes it through unchanged', () => {
    assert.equal(DateTimeScalar.parseValue('2024-02-29T12:34:56Z'), '2024-02-29T12:34:56Z');
    assert.equal(DateTimeScalar.parseValue('2024-02-29T12:34:56.123+02:00'), '2024-02-29T12:34:56.123+02:00');
    assert.equal(DateTimeScalar.serialize('2024-02-29T12:34:56Z'), '2024-02-29T12:34:56Z');
  });
  it('refuses other formats', () => {
    assert.throws(() => DateTimeScalar.parseValue('yesterday'), /RFC 3339/);
    assert.throws(() => DateTimeScalar.parseValue('2024-02-29'), /RFC 3339/);
    assert.throws(() => DateTimeScalar.parseLiteral(literal('5')), /must be a string/);
  });
});

describe('JSON and StringMap', () => {
  it('JSON carries any value, including literals with variables', () => {
    assert.deepEqual(JSONScalar.parseLiteral(literal('{a: [1, "x", null, true, 1.5], b: {c: $v}}'), { v: 'var' }), {
      a: [1, 'x', null, true, 1.5],
      b: { c: 'var' },
    });
    assert.deepEqual(JSONScalar.parseValue({ 'x.y': 1 }), { 'x.y': 1 });
  });
  it('JSON serializes int64 values beyond 2^53 as decimal strings at any depth, copying only what holds one', () => {
    const plain = { a: [1, { b: 'x' }], c: null };
    assert.equal(JSONScalar.serialize(plain), plain, 'nothing to convert: the same value');
    const raw = { metadata: { name: 'n' }, spec: { counts: [1, 9007199254740993n], big: -9223372036854775808n, small: 5n } };
    const out = JSONScalar.serialize(raw) as Record<string, any>;
    assert.deepEqual(out, { metadata: { name: 'n' }, spec: { counts: [1, '9007199254740993'], big: '-9223372036854775808', small: 5 } });
    assert.equal(out['metadata'], raw.metadata, 'parts without one are shared');
    assert.equal(JSON.stringify(out), '{"metadata":{"name":"n"},"spec":{"counts":[1,"9007199254740993"],"big":"-9223372036854775808","small":5}}');
    assert.equal(raw.spec.big, -9223372036854775808n, 'the input is untouched');
  });
  it('StringMap insists on string values', () => {
    assert.deepEqual(StringMapScalar.parseValue({ 'app.kubernetes.io/name': 'web' }), { 'app.kubernetes.io/name': 'web' });
    assert.throws(() => StringMapScalar.parseValue({ a: 1 }), /value of "a" must be a string/);
    assert.throws(() => StringMapScalar.parseValue(['a']), /must be an object/);
    assert.throws(() => StringMapScalar.parseLiteral(literal('"a"')), /must be an object/);
  });
});
