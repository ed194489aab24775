import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allOf, matchAll, parseFieldSelector, parseLabelSelector, pinnedName, type Matcher } from '../../../src/service/watch-selectors.ts';

const obj = (name: string, labels: Record<string, string> = {}) => ({ metadata: { name, namespace: 'a', labels } });

test('empty selectors give the one shared matchAll; allOf of nothing real is matchAll', () => {
  assert.equal(parseLabelSelector(undefined), matchAll);
  assert.equal(parseLabelSelector(''), matchAll);
  assert.equal(parseFieldSelector(''), matchAll);
  assert.equal(allOf(matchAll, matchAll, undefined), matchAll);
  assert.equal(matchAll(obj('x')), true);
});

test('allOf is the conjunction of the real matchers, in order, whatever their number', () => {
  const calls: string[] = [];
  const named = (n: string, result: boolean): Matcher => (o) => {
    calls.push(n);
    return result && o !== undefined;
  };
  const one = named('one', true);
  assert.equal(allOf(matchAll, one, undefined), one, 'a single real matcher is used as it is');
  assert.equal(allOf(named('a', true), named('b', false))(obj('x')), false);
  assert.deepEqual(calls, ['a', 'b']);
  calls.length = 0;
  assert.equal(allOf(named('a', false), named('b', true))(obj('x')), false);
  assert.deepEqual(calls, ['a'], 'stops at the first refusal');
  calls.length = 0;
  assert.equal(allOf(named('a', true), named('b', true), named('c', true))(obj('x')), true);
  assert.equal(allOf(named('a', true), named('b', true), named('c', false))(obj('x')), false);
  const labels = parseLabelSelector('app=web');
  const fields = parseFieldSelector('metadata.name=n1');
  const both = allOf(labels, fields, undefined);
  assert.equal(both(obj('n1', { app: 'web' })), true);
  assert.equal(both(obj('n2', { app: 'web' })), false);
  assert.equal(both(obj('n1', { app: 'db' })), false);
});

test('label selectors compare with > and < as 64-bit integers, as Kubernetes does: exactly, and nothing beyond int64', () => {
  const big = obj('big', { n: '9007199254740993' });
  // 2^53 + 1 > 2^53, which doubles would call equal.
  assert.equal(parseLabelSelector('n>9007199254740992')(big), true);
  assert.equal(parseLabelSelector('n<9007199254740994')(big), true);
  // A label value beyond int64 is not an integer to Kubernetes: it matches neither.
  const huge = obj('huge', { n: '99999999999999999999' });
  assert.equal(parseLabelSelector('n>5')(huge), false);
  assert.equal(parseLabelSelector('n<5')(huge), false);
  assert.equal(parseLabelSelector('n>9223372036854775806')(obj('max', { n: '9223372036854775807' })), true);
  // A bound beyond int64 is refused, as the apiserver refuses it.
  assert.throws(() => parseLabelSelector('n>9223372036854775808'), /must be an integer/);
  assert.throws(() => parseLabelSelector('n<-9223372036854775809'), /must be an integer/);
});

test('field selectors read escapes and empty terms as the apiserver does', () => {
  const o = { metadata: { name: 'n1', namespace: 'a' }, spec: { color: 'red,blue=x\\y' } };
  const fields = (s: string) => parseFieldSelector(s, ['.spec.color']);
  // \, \= and \\ stand for themselves in a value; a comma between terms may be doubled or trailing.
  assert.equal(fields('spec.color=red\\,blue\\=x\\\\y')(o), true);
  assert.equal(fields('spec.color!=red\\,blue\\=x\\\\y')(o), false);
  assert.equal(fields('metadata.name=n1,')(o), true);
  assert.equal(fields(',metadata.name=n1,,metadata.namespace=a')(o), true);
  assert.equal(fields('metadata.name=a\\,b')(o), false);
  // An unescaped = or a dangling or unknown escape in a value is refused, as the apiserver refuses it.
  assert.throws(() => fields('metadata.name=x=y'), /unescaped/);
  assert.throws(() => fields('metadata.name=n1\\'), /invalid escape sequence/);
  assert.throws(() => fields('metadata.name=n\\1'), /invalid escape sequence/);
});

test('field selectors trim no blank, as the apiserver (fields.ParseSelector) does', () => {
  const o = { metadata: { name: 'n1', namespace: 'a' } };
  const fields = (s: string) => parseFieldSelector(s);
  // Around a field name a blank makes another name, which is not supported.
  const blanks = '(with its blanks, which Kubernetes does not trim; supported: metadata.name, metadata.namespace)';
  assert.throws(() => fields(' metadata.name=n1'), { message: `invalid field selector " metadata.name=n1": field label not supported: " metadata.name" ${blanks}` });
  assert.throws(() => fields('metadata.name = n1'), { message: `invalid field selector "metadata.name = n1": field label not supported: "metadata.name " ${blanks}` });
  assert.throws(() => fields('metadata.name=n1, metadata.namespace=a'), /field label not supported: " metadata\.namespace"/);
  // In a value a blank is part of it.
  assert.equal(fields('metadata.name=n1 ')(o), false);
  assert.equal(fields('metadata.name= n1')(o), false);
  assert.equal(fields('metadata.name!= n1')(o), true);
  // A blank term cannot be parsed; an empty one is skipped.
  assert.throws(() => fields(' '), /cannot parse " "/);
  assert.throws(() => fields('metadata.name=n1, '), /cannot parse " "/);
  // The first operator from the left splits the term; an empty field name is not supported.
  assert.equal(fields('metadata.name==n1')(o), true);
  assert.throws(() => fields('=n1'), /field label not supported:  \(supported/);
});

test('the name a field selector pins is the one the apiserver authorizes a list or watch for (RequiresExactMatch, then IsValidPathSegmentName)', () => {
  assert.equal(pinnedName('metadata.name=x'), 'x');
  assert.equal(pinnedName('metadata.name==x'), 'x');
  assert.equal(pinnedName('spec.cronSpec=y,metadata.name=ct-a'), 'ct-a', 'among other ANDed terms');
  assert.equal(pinnedName('metadata.namespace=ns,metadata.name=ct-a,metadata.name!=ct-b'), 'ct-a');
  assert.equal(pinnedName('metadata.name=a\\,b'), 'a,b', 'the value unescaped, as the selector matches it');
  // Not a pin: absent, negated, another field, or a selector that does not parse.
  for (const s of [undefined, '', 'metadata.name!=x', 'metadata.namespace=x', ' metadata.name=x', 'metadata.name=x\\q', 'metadata.name=x,nope']) {
    assert.equal(pinnedName(s), undefined, String(s));
  }
  // Two names: ParseSelector sorts the terms, RequiresExactMatch takes the first (the selector then matches nothing).
  assert.equal(pinnedName('metadata.name=b,metadata.name=a'), 'a');
  assert.equal(pinnedName('metadata.name=a,metadata.name==b'), 'b', '"==b" sorts before "=a"');
  // An empty first name is no name, even with another after it.
  assert.equal(pinnedName('metadata.name=,metadata.name=x'), undefined);
  // Names that are no path segment pin nothing: the apiserver leaves its RequestInfo without them.
  for (const s of ['metadata.name=a/b', 'metadata.name=a%2Fb', 'metadata.name=.', 'metadata.name=..']) assert.equal(pinnedName(s), undefined, s);
  assert.equal(pinnedName('metadata.name=...'), '...');
});
