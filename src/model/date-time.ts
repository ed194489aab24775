// RFC 3339 date-times as Kubernetes reads them (metav1.Time, `format: date-time`): the shape, and a
// real date and time of day: a month 1–12, a day its month has, hours 0–23, minutes and seconds
// 0–59, as Go's time.Parse requires. JavaScript's Date would roll "2026-11-31" over to December 1
// and month 13 into the next year instead of refusing them. The offset is any two digits each, as
// the CRD validation of `date-time` accepts them (Go's parser takes up to +24:60), so every value
// Kubernetes stores has its instant.

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:[Zz]|([+-])(\d{2}):(\d{2}))$/;

export interface DateTimeParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  /** The fraction's digits as written ('' when none). */
  fraction: string;
  /** The offset east of UTC, in minutes. */
  offsetMinutes: number;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** The fields of an RFC 3339 date-time, or undefined when it is not one or names no real instant. */
export function dateTimeParts(s: string): DateTimeParts | undefined {
  const m = RFC3339.exec(s);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const [oh, om] = [Number(m[9] ?? 0), Number(m[10] ?? 0)];
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  return { year, month, day, hour, minute, second, fraction: m[7] ?? '', offsetMinutes: (m[8] === '-' ? -1 : 1) * (oh * 60 + om) };
}

export function isDateTime(s: string): boolean {
  return dateTimeParts(s) !== undefined;
}

/** Nanoseconds since the epoch of an RFC 3339 date-time; undefined when it is not one. */
export function epochNanos(s: string): bigint | undefined {
  const p = dateTimeParts(s);
  if (!p) return undefined;
  let ms = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  // Date.UTC reads years 0-99 as 1900-1999.
  if (p.year < 100) ms = new Date(ms).setUTCFullYear(p.year);
  const nanos = p.fraction ? BigInt(p.fraction.slice(0, 9).padEnd(9, '0')) : 0n;
  return BigInt(ms - p.offsetMinutes * 60_000) * 1_000_000n + nanos;
}
