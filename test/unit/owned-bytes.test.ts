// Kept bytes own their memory: no slice of Node's shared pool, every character intact.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ownedBytes } from '../../src/owned-bytes.ts';

test('the UTF-8 of the text, in a buffer of exactly its length that shares no slab', () => {
  for (const text of ['', '{"data":{}}', 'ü€𝄞 and 9007199254740993', 'x'.repeat(5000)]) {
    const bytes = ownedBytes(text);
    assert.equal(bytes.toString('utf8'), text);
    assert.equal(bytes.length, Buffer.byteLength(text));
    assert.equal(bytes.byteOffset, 0);
    assert.equal(bytes.buffer.byteLength, bytes.length);
  }
});
