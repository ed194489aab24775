import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  isValidGraphQLName,
  lowerCamel,
  mapEnumValues,
  mapPropertyNames,
  pascalPart,
  sanitizeName,
} from '../../src/model/graphql-names.ts';

describe('property name mapping', () => {
  it('keeps valid names unchanged, including names that differ only by case', () => {
    const mapping = mapPropertyNames(['spec', 'proxyURL', 'proxyUrl', '_private', 'x1']);
    assert.deepEqual([...mapping], [
      ['spec', 'spec'],
      ['proxyURL', 'proxyURL'],
      ['proxyUrl', 'proxyUrl'],
      ['_private', '_private'],
      ['x1', 'x1'],
    ]);
  });

  it('maps every kind of invalid name to a valid one', () => {
    const raw = ['a-b', 'a.b', '$ref', 'a/b', '9lives', '__proto', '', '*', 'with space', 'x-kubernetes-int-or-string'];
    const mapping = mapPropertyNames(raw);
    for (const name of raw) {
      const mapped = mapping.get(name)!;
      assert.ok(isValidGraphQLName(mapped), `${JSON.stringify(name)} → ${JSON.stringify(mapped)} must be valid`);
    }
    assert.equal(mapping.get('$ref'), '_ref');
    assert.equal(mapping.get('9lives'), '_9lives');
    assert.equal(mapping.get('__proto'), '_proto');
    assert.equal(mapping.get('with space'), 'with_space');
    assert.equal(mapping.get('x-kubernetes-int-or-string'), 'x_kubernetes_int_or_string');
  });

  it('settles collisions after mapping with numbered suffixes, leaving valid names alone', () => {
    const mapping = mapPropertyNames(['a-b', 'a_b', 'a.b', 'a_b_2']);
    assert.equal(mapping.get('a_b'), 'a_b');
    assert.equal(mapping.get('a_b_2'), 'a_b_2');
    // Invalid names are settled in code-unit order: '-' (0x2d) sorts before '.' (0x2e).
    assert.equal(mapping.get('a-b'), 'a_b_3');
    assert.equal(mapping.get('a.b'), 'a_b_4');
    assert.equal(new Set(mapping.values()).size, 4);
  });

  it('is deterministic: the order properties are listed in does not matter', () => {
    const names = ['a-b', 'a.b', '*', '', 'x', 'a_b', '-', '$'];
    const forward = mapPropertyNames(names);
    const backward = mapPropertyNames([...names].reverse());
    for (const name of names) assert.equal(forward.get(name), backward.get(name));
  });

  it('is reversible: the mapping is one-to-one', () => {
    const names = ['', '_', '__', '-', '*', '$', '.', '/', ' ', '0', '_0', 'a-b', 'a_b', 'a b', 'a.b'];
    const mapping = mapPropertyNames(names);
    assert.equal(new Set(mapping.values()).size, names.length);
    for (const mapped of mapping.values()) assert.ok(isValidGraphQLName(mapped));
  });

  it('sanitizes predictably', () => {
    assert.equal(sanitizeName(''), '_');
    assert.equal(sanitizeName('-Xmx'), '_Xmx');
    assert.equal(sanitizeName('__'), '_');
    assert.equal(sanitizeName('1.2'), '_1_2');
  });
});

describe('enum value mapping', () => {
  it('keeps valid values and maps the rest readably', () => {
    const mapping = mapEnumValues(['Allow', 'digital signature', 's/mime', 'HTTP-01', 'v1.19', 'true', 'null', '/proc Mount Type'])!;
    assert.deepEqual(
      mapping.map((m) => m.name),
      ['Allow', 'digital_signature', 's_mime', 'HTTP_01', 'v1_19', 'true_', 'null_', '_proc_Mount_Type'],
    );
    assert.deepEqual(mapping.map((m) => m.value), ['Allow', 'digital signature', 's/mime', 'HTTP-01', 'v1.19', 'true', 'null', '/proc Mount Type']);
  });

  it('leaves enums a scalar when a value cannot be named sanely', () => {
    assert.equal(mapEnumValues([301, 302]), undefined, 'integer enums');
    assert.equal(mapEnumValues(['*', 'GET']), undefined, 'a value without letters or digits');
    assert.equal(mapEnumValues(['', 'a']), undefined, 'the empty string');
    assert.equal(mapEnumValues(['a-b', 'a_b']), undefined, 'two values with the same GraphQL name');
    assert.equal(mapEnumValues([true, false]), undefined, 'boolean enums');
  });

  it('treats a repeated raw value as one enum value', () => {
    assert.deepEqual(mapEnumValues(['A', 'B', 'A']), [
      { name: 'A', value: 'A' },
      { name: 'B', value: 'B' },
    ]);
  });
});

describe('name helpers', () => {
  it('camel-cases kinds with leading acronyms', () => {
    assert.equal(lowerCamel('CronTab'), 'cronTab');
    assert.equal(lowerCamel('HTTPRoute'), 'httpRoute');
    assert.equal(lowerCamel('URL'), 'url');
    assert.equal(lowerCamel('already'), 'already');
  });

  it('turns field names into type name parts that start upper case', () => {
    assert.equal(pascalPart('dest_port'), 'DestPort');
    assert.equal(pascalPart('_Xmx'), 'Xmx');
    assert.equal(pascalPart('_9lives'), 'N9lives');
    assert.equal(pascalPart('_'), 'Field');
  });
});
