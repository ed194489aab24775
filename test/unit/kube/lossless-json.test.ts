import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { bigintAsNumber, exactNumbers, maxClientNesting, parseJson, parseKubernetesJson, parseYaml, stringifyDeep, stringifyJson, stringifyYaml, withRawIntegers } from '../../../src/kube/lossless-json.ts';

describe('lossless JSON', () => {
  it('reads integers beyond 2^53 as bigint and the rest as JSON.parse does', () => {
    const text = '{"a":9007199254740991,"b":9007199254740993,"c":9223372036854775807,"d":-9223372036854775808,'
      + '"e":18446744073709551616,"f":0.1,"g":1e21,"h":1.5e300,"i":-0,"j":"9223372036854775807","k":[9007199254740992]}';
    const value = parseJson(text) as Record<string, unknown>;
    assert.equal(value['a'], 9007199254740991);
    assert.equal(value['b'], 9007199254740993n);
    assert.equal(value['c'], 9223372036854775807n);
    assert.equal(value['d'], -9223372036854775808n);
    assert.equal(value['e'], 18446744073709551616n);
    assert.equal(value['f'], 0.1);
    assert.equal(value['g'], 1e21);
    assert.equal(value['h'], 1.5e300);
    assert.ok(Object.is(value['i'], -0));
    assert.equal(value['j'], '9223372036854775807', 'digits in strings stay strings');
    assert.deepEqual(value['k'], [9007199254740992n]);
  });

  it('writes them back with every digit, and everything else as JSON.stringify does', () => {
    const text = '{"b":9007199254740993,"c":9223372036854775807,"d":-9223372036854775808,"e":18446744073709551616,"f":0.1,"g":1e+21,"h":1.5e+300}';
    assert.equal(stringifyJson(parseJson(text)), text);
    const plain = { a: [1, 'two', null, { b: true }], c: undefined, d: 'é"\n', e: -0 };
    assert.equal(stringifyJson(plain), JSON.stringify(plain));
    assert.equal(stringifyJson({ a: 1n }, 2), '{\n  "a": 1\n}');
    assert.equal(stringifyJson(undefined), 'null');
  });

  it('refuses numbers beyond the double range rather than turning them into null', () => {
    assert.throws(() => parseJson('{"a":1e400}'), /beyond the range of a 64-bit float/);
    assert.throws(() => parseJson('[-1.5E+309]'), /beyond the range of a 64-bit float/);
    assert.deepEqual(parseJson('[1e-400]'), [0], 'underflow is 0, as in Go');
  });

  it('refuses client JSON nested deeper than maxClientNesting as bad JSON, not a stack overflow; brackets in strings do not count', () => {
    const nested = (levels: number, inner = '9007199254740993') => `${'['.repeat(levels)}${inner}${']'.repeat(levels)}`;
    for (const levels of [maxClientNesting + 1, 50_000]) {
      assert.throws(() => parseJson(nested(levels)), (err: unknown) => err instanceof SyntaxError && /nested more than 1000 levels deep/.test(err.message));
    }
    assert.deepEqual(JSON.stringify(parseJson(nested(maxClientNesting)), bigintAsNumber), nested(maxClientNesting));
    // Many brackets, side by side rather than nested: read.
    const wide = `[${Array.from({ length: 5_000 }, () => '[{}]').join(',')}]`;
    assert.equal((parseJson(wide) as unknown[]).length, 5_000);
    const brackets = `"${'['.repeat(3_000)}\\\"${'{'.repeat(3_000)}"`;
    assert.equal((parseJson(`{"a":${brackets}}`) as { a: string }).a.length, 6_001);
  });

  it('reads Kubernetes JSON of any depth exactly (the apiserver stores up to 10,000 levels), and writes it back', () => {
    for (const levels of [10, 3_000, 10_000]) {
      const inner = '[9223372036854775807,"12345678901234567",1.5,-9007199254740993,"q\\"\\\\",{"k":18446744073709551615,"e":[]}]';
      const text = `${'{"a":'.repeat(levels)}${inner}${'}'.repeat(levels)}`;
      const value = parseKubernetesJson(text);
      let leaf: any = value;
      for (let i = 0; i < levels; i++) leaf = leaf.a;
      assert.deepEqual(leaf, [9223372036854775807n, '12345678901234567', 1.5, -9007199254740993n, 'q"\\', { k: 18446744073709551615n, e: [] }]);
      assert.equal(stringifyJson(value), text);
    }
  });

  it('writes values of any depth as JSON.stringify would, toJSON, raw JSON and left-out members included', () => {
    const sample = { a: [1, undefined, () => 1, 'x', { b: undefined, c: new Date(0), d: 12n, e: withRawIntegers(2n ** 70n), f: Infinity }], g: null, h: true };
    assert.equal(stringifyDeep(sample), JSON.stringify(sample, bigintAsNumber));
    let deep: unknown = sample;
    for (let i = 0; i < 20_000; i++) deep = [deep];
    assert.equal(stringifyJson(deep), `${'['.repeat(20_000)}${JSON.stringify(sample, bigintAsNumber)}${']'.repeat(20_000)}`);
  });

  it('keeps bad JSON a SyntaxError', () => {
    assert.throws(() => parseJson('{"a":'), SyntaxError);
    assert.throws(() => parseJson('{"a":12345678901234567,}'), SyntaxError);
  });

  it('round-trips any JSON value with integers of any size exactly', () => {
    const integer = fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }).map((n) => (n >= -(2n ** 53n) + 1n && n <= 2n ** 53n - 1n ? Number(n) : n));
    const leaf = fc.oneof(integer, fc.double({ noNaN: true, noDefaultInfinity: true }), fc.string(), fc.boolean(), fc.constant(null));
    const { value } = fc.letrec((tie) => ({
      value: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('value')), fc.dictionary(fc.string(), tie('value'))),
    }));
    // What the text says: -0 is written 0 (Kubernetes reads -0 as 0 too), and a double written
    // with all its digits (2^60 as 1152921504606846976) is an integer beyond 2^53.
    const asWritten = (v: unknown): number | bigint => (Object.is(v, -0) ? 0
      : typeof v === 'number' && /^-?\d+$/.test(String(v)) && !Number.isSafeInteger(v) ? BigInt(String(v)) : v as number);
    const asRead = (v: unknown): unknown => (Array.isArray(v) ? v.map(asRead)
      : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, asRead(x)])) : asWritten(v));
    fc.assert(fc.property(value, (v) => {
      const text = stringifyJson(v);
      assert.deepEqual(parseJson(text), asRead(v));
      assert.equal(stringifyJson(parseJson(text)), text);
    }));
  });

  it('gives JSON.parse a reviver with the same rules, for parsers that take one (graphql-ws)', () => {
    const reviver = exactNumbers as (key: string, value: unknown) => unknown;
    assert.deepEqual(JSON.parse('{"a":[9223372036854775807, 1.5]}', reviver), { a: [9223372036854775807n, 1.5] });
  });

  it('replaces bigint with raw JSON numbers for plain JSON.stringify, copying only what changes', () => {
    const shared = { untouched: [1, 2] };
    const value = { a: { b: [1, 9223372036854775807n] }, shared };
    const out = withRawIntegers(value) as typeof value;
    assert.equal(JSON.stringify(out), '{"a":{"b":[1,9223372036854775807]},"shared":{"untouched":[1,2]}}');
    assert.equal(out.shared, shared, 'parts without bigint are the same objects');
    assert.equal(value.a.b[1], 9223372036854775807n, 'the input is not changed');
    assert.equal(withRawIntegers(shared), shared);
  });
});

describe('lossless YAML', () => {
  it('reads the same numbers as the same value in JSON', () => {
    const yaml = 'a: 9007199254740991\nb: 9007199254740993\nc: 9223372036854775807\nd: -9223372036854775808\ne: 0.1\nf: 1e21\ng: 0x10\nh: [9007199254740992]\ni: "9223372036854775807"\n';
    assert.deepEqual(parseYaml(yaml), {
      a: 9007199254740991, b: 9007199254740993n, c: 9223372036854775807n, d: -9223372036854775808n, e: 0.1, f: 1e21, g: 16, h: [9007199254740992n], i: '9223372036854775807',
    });
  });

  it('refuses what JSON cannot carry', () => {
    assert.throws(() => parseYaml('a: .inf'), /not a number JSON can carry/);
    assert.throws(() => parseYaml('a: .nan'), /not a number JSON can carry/);
  });

  it('reads explicit YAML 1.1 tags as kubectl (go-yaml) does', () => {
    const yaml = 'b: !!binary aGVsbG8=\nb2: !!binary |\n  aGVs\n  bG8=\ns: !!set {a, b}\no: !!omap [a: 1, b: 2]\np: !!pairs [a: 1, a: 2]\n'
      + 't: !!timestamp 2001-12-14t21:59:43.10-05:00\nplain: 2001-12-14\n';
    assert.deepEqual(parseYaml(yaml), {
      b: 'hello', b2: 'hello', s: { a: null, b: null }, o: [{ a: 1 }, { b: 2 }], p: [{ a: 1 }, { a: 2 }], t: '2001-12-14t21:59:43.10-05:00', plain: '2001-12-14',
    });
    assert.throws(() => parseYaml('b: !!binary "not base64 !!"'), /!!binary needs base64 text/);
  });

  it('writes long strings at any depth as they are (no folding, whose text the library read back with a line break more), and `=` quoted (PyYAML refuses it plain)', () => {
    const text = 'operator represents a key\'s relationship to a set of values.\nValid operators are In, NotIn, Exists and DoesNotExist.';
    for (let depth = 0; depth < 80; depth += 7) {
      let value: unknown = { text, long: 'word '.repeat(40) };
      for (let i = 0; i < depth; i++) value = { k: value };
      assert.deepEqual(parseYaml(stringifyYaml(value)), value, `depth ${depth}`);
    }
    assert.equal(stringifyYaml({ matchType: '=', others: ['=', 'a=b', '=='] }), 'matchType: "="\nothers:\n  - "="\n  - a=b\n  - ==\n');
  });

  it('writes a value nested deeper than the yaml library can walk as JSON, which YAML readers read alike', () => {
    let deep: unknown = [9223372036854775807n];
    for (let i = 0; i < 10_000; i++) deep = { a: deep };
    const yaml = stringifyYaml(deep);
    assert.equal(yaml, `${stringifyJson(deep)}\n`);
    // Line separators and controls escaped there too, as JSON escapes (which YAML reads alike).
    let breaks: unknown = ['\u2028x\u0085\u0090\ufeff'];
    for (let i = 0; i < 10_000; i++) breaks = [breaks];
    const text = stringifyYaml(breaks);
    assert.ok(text.includes('"\\u2028x\\u0085\\u0090\\ufeff"'), text.slice(10_000, 10_100));
    assert.equal(stringifyJson(JSON.parse(text)), stringifyJson(breaks), 'JSON, which YAML readers read alike');
  });

  it('writes line separators and control characters escaped in double quotes, and reads them back', () => {
    const value = { a: '\u2028x', b: 'x\u2029', c: '\u0085y', 'k\u2028': 'q"\\\u0007', d: 'del\u007f', e: 'on', f: 'plain', g: '\ufeffbom\ufffe\uffff' };
    const yaml = stringifyYaml(value);
    assert.equal(yaml, 'a: "\\Lx"\nb: "x\\P"\nc: "\\Ny"\n"k\\L": "q\\"\\\\\\x07"\nd: "del\\x7f"\ne: "on"\nf: plain\ng: "\\ufeffbom\\ufffe\\uffff"\n');
    assert.deepEqual(parseYaml(yaml), value);
  });
});
