// A patched record must read exactly like the plain object a fresh assembly of the same parts
// gives: same keys in the same order, same values, and it must refuse what it cannot patch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assembleRecord, patchRecord, type RecordParts } from '../../../src/model/ordered-record.ts';

const seg = (prefix: string, n: number, tag = ''): Record<string, string> => Object.fromEntries(Array.from({ length: n }, (_, i) => [`${prefix}.${i}`, `${prefix}${i}${tag}`]));
const parts = (segments: Record<string, string>[], tail: Record<string, string> = { z: 'tail' }): RecordParts<string> => ({ head: { h: 'head' }, segments, tail });

function assertSame(view: Record<string, string>, plain: Record<string, string>): void {
  assert.deepEqual(Object.keys(view), Object.keys(plain), 'keys in order');
  assert.equal(JSON.stringify(view), JSON.stringify(plain), 'serialized in order');
  assert.deepEqual(Object.entries(view), Object.entries(plain));
  const forIn: string[] = [];
  for (const key in view) forIn.push(key);
  assert.deepEqual(forIn, Object.keys(plain), 'for-in in order');
  for (const key of Object.keys(plain)) {
    assert.equal(view[key], plain[key]);
    assert.ok(key in view);
    assert.ok(Object.hasOwn(view, key));
  }
  assert.equal(view['missing'], undefined);
  assert.equal('missing' in view, false);
  assert.equal(Object.getPrototypeOf(view), Object.prototype);
}

test('adding, changing and removing segments gives what a fresh assembly gives, order included', () => {
  const a = seg('a', 3), b = seg('b', 4), c = seg('c', 2), d = seg('d', 5);
  let current = assembleRecord(parts([a, b, c]));
  let segments = [a, b, c];
  const b2 = seg('b', 4, "'"), d2 = seg('d', 2, '"');
  const steps: [string, Record<string, string>[], Record<string, string>?][] = [
    ['add in the middle', [a, d, b, c]],
    ['change one, same keys', [a, d, b2, c]],
    ['change one, other keys', [a, d2, b2, c]],
    ['remove the first', [d2, b2, c]],
    ['add at the end, new tail', [d2, b2, c, seg('e', 1)], { y: 'other tail' }],
  ];
  for (const [what, next, tail] of steps) {
    const before = new Set(segments);
    const after = new Set(next);
    const removed = segments.filter((s) => !after.has(s));
    const added = next.filter((s) => !before.has(s));
    const patched = patchRecord(current, parts(next, tail), removed, added);
    assert.ok(patched, `${what}: patched`);
    assertSame(patched, assembleRecord(parts(next, tail)));
    current = patched;
    segments = next;
  }
});

test('a patched record is read-only and the previous one is left as it was', () => {
  const a = seg('a', 2), b = seg('b', 2);
  const first = assembleRecord(parts([a]));
  const snapshot = JSON.stringify(first);
  const patched = patchRecord(first, parts([a, b]), [], [b])!;
  assert.equal(JSON.stringify(first), snapshot);
  assert.throws(() => {
    (patched as Record<string, string>)['x'] = 'y';
  }, TypeError);
  assert.throws(() => {
    delete (patched as Record<string, string>)['a.0'];
  }, TypeError);
});

test('a key in two parts is refused, so the caller assembles from scratch', () => {
  const a = seg('a', 2), b = seg('b', 2);
  const first = assembleRecord(parts([a, b]));
  assert.equal(patchRecord(first, parts([a, b, { 'a.1': 'again' }]), [], [{ 'a.1': 'again' }]), undefined, 'with a kept segment');
  assert.equal(patchRecord(first, parts([a, b], { 'b.0': 'tail' }), [], []), undefined, 'with the tail');
  const shared = assembleRecord(parts([a, { 'a.0': 'again' }]));
  assert.equal(patchRecord(shared, parts([a]), [{ 'a.0': 'again' }], []), undefined, 'a previous record whose parts shared a key');
});

test('a long run of patches stays equal to a fresh assembly (past the flattening)', () => {
  const segments = Array.from({ length: 20 }, (_, i) => seg(`s${i}`, 3));
  let current = assembleRecord(parts(segments));
  for (let round = 0; round < 40; round++) {
    const k = (round * 7) % segments.length;
    const old = segments[k]!;
    segments[k] = seg(`s${k}`, 1 + (round % 4), `r${round}`);
    const patched = patchRecord(current, parts(segments), [old], [segments[k]!]);
    assert.ok(patched);
    assertSame(patched, assembleRecord(parts(segments)));
    current = patched;
  }
});
