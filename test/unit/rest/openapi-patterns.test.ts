// Kubernetes patterns are Go's RE2; OpenAPI 3.1's are ECMAScript's, which JavaScript validators
// (ajv and all built on it) compile: Go's caseless flag becomes both cases of each letter (every
// engine reads that), its s and m flags scoped groups, a pattern without an ECMAScript form keeps
// its text as x-kubernetes-pattern, and Go's duration format is not JSON Schema's (ISO 8601).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ecmaPattern } from '../../../src/rest/go-pattern.ts';
import { convertResourceSchema } from '../../../src/rest/openapi-schema-conversion.ts';

test('Go inline flags hold to the end of their group, across its |: caseless letters become both cases, s and m scoped groups', () => {
  const cases: [string, string, string[], string[]][] = [
    // prometheus-operator's PrometheusRule and AlertmanagerConfig
    ['^(?i)(abort|warn)?$', '^([aA][bB][oO][rR][tT]|[wW][aA][rR][nN])?$', ['ABORT', 'Warn', ''], ['abortx']],
    ['^((?i)sun|mon|tues)day$', '^([sS][uU][nN]|[mM][oO][nN]|[tT][uU][eE][sS])day$', ['SUNday', 'Monday'], ['SUNDAY', 'friday']],
    // The flag holds across the alternatives after it, not only up to the first |.
    ['^(?i)ab|cd$', '^[aA][bB]|[cC][dD]$', ['ABx', 'xCD'], ['xab']],
    ['a(?i)b|c', 'a[bB]|[cC]', ['aB', 'C'], ['AB']],
    ['(?i)[a-c_x]+', '[a-c_xA-CX]+', ['aBx_'], ['d']],
    ['(?i)[^a]', '[^aA]', ['b'], ['A', 'a']],
    ['a(?s).b|c.d', 'a(?s:.b)|(?s:c.d)', ['a\nb', 'c\nd'], ['c\n']],
    ['a(?P<x>b)(?i)c', 'a(?<x>b)[cC]', ['abC'], ['ABc']],
    ['(?i)(?:x)(?=y)\\p{Lu}', '(?:[xX])(?=[yY])\\p{Lu}', ['xY', 'XY'], ['xy']],
    ['[]a]', '[\\]a]', [']', 'a'], ['b']],
    ['[\\[]x', '[\\[]x', ['[x'], ['x']],
    ['^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', ['a-b'], ['-a']],
  ];
  for (const [go, ecma, matches, misses] of cases) {
    assert.equal(ecmaPattern(go), ecma, go);
    const r = new RegExp(ecma, 'u');
    for (const m of matches) assert.ok(r.test(m), `${ecma} ~ ${m}`);
    for (const m of misses) assert.ok(!r.test(m), `${ecma} !~ ${m}`);
  }
  for (const untranslatable of ['(?U)a+', '(?-i)a', 'a{2,1}', '[[:alpha:]]', 'x\\z']) assert.equal(ecmaPattern(untranslatable), undefined, untranslatable);
});

test('a schema keeps a pattern JavaScript cannot read aside, and Go durations out of JSON Schema\'s format', () => {
  const out = convertResourceSchema({
    type: 'object',
    properties: {
      spec: { type: 'object', properties: {
        mode: { type: 'string', pattern: '^(?i)(abort|warn)?$' },
        lazy: { type: 'string', pattern: '(?U)a+' },
        refresh: { type: 'string', format: 'duration' },
        at: { type: 'string', format: 'date-time' },
      } },
    },
  }, { objectMetaRef: '#/m' }) as { properties: { spec: { properties: Record<string, Record<string, unknown>> } } };
  const p = out.properties.spec.properties;
  assert.deepEqual(p['mode'], { type: 'string', pattern: '^([aA][bB][oO][rR][tT]|[wW][aA][rR][nN])?$' });
  assert.deepEqual(p['lazy'], { type: 'string', 'x-kubernetes-pattern': '(?U)a+' });
  assert.deepEqual(p['refresh'], { type: 'string', 'x-kubernetes-format': 'duration' });
  assert.deepEqual(p['at'], { type: 'string', format: 'date-time' });
});
