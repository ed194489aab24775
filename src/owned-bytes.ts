// Bytes that are kept (a cached SSE frame, a group's payload, a subscription's frame prefix) are
// copied into memory of their own. Buffer.from slices small strings out of Node's shared 8 KiB
// pool, and a kept slice keeps its whole slab alive: up to 8 KiB per cached frame, none of it
// counted by the byte bounds that decide what is kept, and slabs carried into the old generation
// where only a full GC frees them.

/** `text` as UTF-8 in a buffer that owns its memory. */
export function ownedBytes(text: string): Buffer {
  const bytes = Buffer.allocUnsafeSlow(Buffer.byteLength(text));
  bytes.write(text);
  return bytes;
}
