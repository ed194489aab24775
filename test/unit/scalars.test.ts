import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GraphQLError, parseValue } from 'graphql';
import { DateTimeScalar, FloatScalar, Int64Scalar, IntOrStringScalar, JSONScalar, StringMapScalar } from '../../src/graphql/scalars.ts';

const literal = (text: string) => parseValue(text);
/** The JSON text a serialized value becomes in a response (plain JSON.stringify, as Apollo and graphql-ws use). */
const wire = (value: unknown) => JSON.stringify(value);

describe('Int64', () => {
  it('serializes every integer as a JSON number with every digit', () => {
    assert.equal(Int64Scalar.serialize(42), 42);
    assert.equal(wire(Int64Scalar.serialize(9007199254740993n)), '9007199254740993');
    assert.equal(wire(Int64Scalar.serialize(-9223372036854775808n)), '-9223372036854775808');
    assert.equal(wire(Int64Scalar.serialize('9223372036854775807')), '9223372036854775807');
    assert.equal(wire(Int64Scalar.serialize('12')), '12');
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
    assert.equal(Int64Scalar.parseValue(9223372036854775807n), 9223372036854775807n);
    assert.throws(() => Int64Scalar.parseValue(2 ** 60), /lost digits on the way/);
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
  it('keeps integers beyond 2^53, in and out', () => {
    assert.equal(IntOrStringScalar.parseValue(9223372036854775807n), 9223372036854775807n);
    assert.equal(IntOrStringScalar.parseLiteral(literal('9007199254740993')), 9007199254740993n);
    assert.equal(wire(IntOrStringScalar.serialize(9007199254740993n)), '9007199254740993');
    assert.throws(() => IntOrStringScalar.parseValue(2 ** 60), /integer or a string, got 1152921504606847000/);
  });
});

describe('Float', () => {
  it('is graphql-js Float for doubles', () => {
    assert.equal(FloatScalar.serialize(0.1), 0.1);
    assert.equal(FloatScalar.parseValue(1e21), 1e21);
    assert.equal(FloatScalar.parseLiteral(literal('1.5e300')), 1.5e300);
    assert.throws(() => FloatScalar.parseValue('1'), GraphQLError);
    assert.throws(() => FloatScalar.serialize('x'), GraphQLError);
  });
  it('keeps whole numbers beyond 2^53 exact, as Kubernetes does in number fields', () => {
    assert.equal(FloatScalar.parseValue(9007199254740993n), 9007199254740993n);
    assert.equal(FloatScalar.parseLiteral(literal('9223372036854775807')), 9223372036854775807n);
    assert.equal(wire(FloatScalar.serialize(9007199254740993n)), '9007199254740993');
  });
  it('refuses literals beyond the double range instead of reading Infinity', () => {
    assert.throws(() => FloatScalar.parseLiteral(literal('1e400')), /beyond the range of a 64-bit float/);
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
  it('JSON keeps big integers at any depth, in literals and out', () => {
    assert.deepEqual(JSONScalar.parseLiteral(literal('{a: [9223372036854775807, 1, 0.1]}')), { a: [9223372036854775807n, 1, 0.1] });
    const value = { config: { 'max.compaction.lag.ms': 9223372036854775807n, 'retention.ms': 604800000 }, l: [1, [-9223372036854775808n]] };
    assert.equal(wire(JSONScalar.serialize(value)),
      '{"config":{"max.compaction.lag.ms":9223372036854775807,"retention.ms":604800000},"l":[1,[-9223372036854775808]]}');
    assert.equal(value.config['max.compaction.lag.ms'], 9223372036854775807n, 'the resolved value itself is not changed');
    const plain = { a: [1, 'x'], b: { c: null } };
    assert.equal(JSONScalar.serialize(plain), plain, 'a value without bigint is not copied');
    assert.throws(() => JSONScalar.parseLiteral(literal('{a: 1e400}')), /beyond the range of a 64-bit float/);
  });
  it('StringMap insists on string values', () => {
    assert.deepEqual(StringMapScalar.parseValue({ 'app.kubernetes.io/name': 'web' }), { 'app.kubernetes.io/name': 'web' });
    assert.throws(() => StringMapScalar.parseValue({ a: 1 }), /value of "a" must be a string/);
    assert.throws(() => StringMapScalar.parseValue(['a']), /must be an object/);
    assert.throws(() => StringMapScalar.parseLiteral(literal('"a"')), /must be an object/);
  });
});
