// RFC 3339 date-times as Kubernetes reads them: the shape and a real instant; instants exact to the
// nanosecond across offsets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dateTimeParts, epochNanos, isDateTime } from '../../../src/model/date-time.ts';

test('real instants are date-times; impossible dates and times, which Date would roll over, are not', () => {
  for (const ok of ['2024-02-29T12:34:56Z', '2000-02-29T00:00:00Z', '1999-12-31T23:59:59.999999999-23:59', '0001-01-01T00:00:00Z', '2026-11-30t10:00:00z', '2026-04-30 10:00:00+05:30',
    // Offsets Kubernetes stores (Go's parser takes +24:00 and +01:60; the CRD format check, any two digits).
    '2026-01-01T00:00:00+24:00', '2026-01-01T00:00:00+01:60', '2026-01-01T00:00:00-99:99']) {
    assert.ok(isDateTime(ok), ok);
  }
  for (const bad of ['2023-02-29T00:00:00Z', '1900-02-29T00:00:00Z', '2026-11-31T00:00:00Z', '2026-00-10T00:00:00Z', '2026-13-01T00:00:00Z',
    '2026-01-00T00:00:00Z', '2026-01-01T24:00:00Z', '2026-01-01T00:60:00Z', '2026-01-01T00:00:60Z', '2026-01-01T00:00:00', 'tomorrow', '2026-1-01T00:00:00Z']) {
    assert.equal(isDateTime(bad), false, bad);
    assert.equal(epochNanos(bad), undefined, bad);
  }
  assert.deepEqual(dateTimeParts('2024-02-29T12:34:56.5-01:30'), { year: 2024, month: 2, day: 29, hour: 12, minute: 34, second: 56, fraction: '5', offsetMinutes: -90 });
});

test('instants count offsets, fractions to the nanosecond and years before 100', () => {
  assert.equal(epochNanos('1970-01-01T00:00:00.000000001Z'), 1n);
  assert.equal(epochNanos('1970-01-01T01:00:00+01:00'), 0n);
  assert.equal(epochNanos('1970-01-02T00:00:00+24:00'), 0n);
  assert.equal(epochNanos('1970-01-01T02:00:00+01:60'), 0n);
  assert.equal(epochNanos('2024-02-29T12:34:56.123456789Z'), BigInt(Date.UTC(2024, 1, 29, 12, 34, 56)) * 1_000_000n + 123_456_789n);
  assert.equal(epochNanos('0099-01-01T00:00:00Z'), BigInt(new Date(Date.UTC(2000, 0, 1)).setUTCFullYear(99)) * 1_000_000n);
});
