// Kubernetes patterns are Go's RE2; OpenAPI 3.1's are ECMAScript's, which JavaScript validators
// (ajv and all built on it) compile: Go's inline flags become scoped groups, a pattern JavaScript
// cannot read keeps its text as x-kubernetes-pattern, and Go's duration format is not JSON
// Schema's (ISO 8601).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { convertResourceSchema, ecmaPattern } from '../../../src/rest/openapi-schema-conversion.ts';

test('Go inline flags hold to the end of their group: each becomes a scoped group there', () => {
  const cases: [string, string, string[], string[]][] = [
    // prometheus-operator's PrometheusRule and AlertmanagerConfig
    ['^(?i)(abort|warn)?$', '^(?i:(abort|warn)?$)', ['ABORT', 'Warn', ''], ['abortx']],
    ['^((?i)sun|mon|tues)day$', '^((?i:sun|mon|tues))day$', ['SUNday', 'Monday'], ['SUNDAY', 'friday']],
    ['a(?P<x>b)(?i)c', 'a(?<x>b)(?i:c)', ['abC'], ['ABc']],
    ['^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', ['a-b'], ['-a']],
    ['[(?i)]x', '[(?i)]x', ['(x', 'ix'], ['Ix']],
  ];
  for (const [go, ecma, matches, misses] of cases) {
    assert.equal(ecmaPattern(go), ecma, go);
    const r = new RegExp(ecma, 'u');
    for (const m of matches) assert.ok(r.test(m), `${ecma} ~ ${m}`);
    for (const m of misses) assert.ok(!r.test(m), `${ecma} !~ ${m}`);
  }
  for (const unreadable of ['(?U)a+', 'a{2,1}', '[[:alpha:]]\\z']) assert.equal(ecmaPattern(unreadable), undefined, unreadable);
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
  assert.deepEqual(p['mode'], { type: 'string', pattern: '^(?i:(abort|warn)?$)' });
  assert.deepEqual(p['lazy'], { type: 'string', 'x-kubernetes-pattern': '(?U)a+' });
  assert.deepEqual(p['refresh'], { type: 'string', 'x-kubernetes-format': 'duration' });
  assert.deepEqual(p['at'], { type: 'string', format: 'date-time' });
});
