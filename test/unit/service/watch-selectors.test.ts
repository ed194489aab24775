import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allOf, matchAll, parseFieldSelector, parseLabelSelector, type Matcher } from '../../../src/service/watch-selectors.ts';

const obj = (name: string, labels: Record<string, string> = {}) => ({ metadata: { name, namespace: 'a', labels } });

test('empty selectors give the one shared matchAll; allOf of nothing real is matchAll', () => {
  assert.equal(parseLabelSelector(undefined), matchAll);
  assert.equal(parseLabelSelector(''), matchAll);
  assert.equal(parseFieldSelector(' '), matchAll);
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
