// The gateway's logger: pino, one JSON object per line on stdout (or a given destination), or the
// same records as readable lines (pino-pretty, in this process and synchronous, so nothing is lost
// when the process exits) for a person at a terminal. JSON lines on stdout are queued by default
// and written a few ms after the first of them (logDestination): one write per batch, not per line.
// Log lines are built from chosen fields, never from whole requests, headers or identities; the
// redact list is the second line of defence, for a field added later by mistake.
import { pino, type DestinationStream, type Level, type Logger as PinoLogger } from 'pino';
import { createRequire } from 'node:module';
import { defaultLogFlushDelayMs, logDestination, type LogWrites } from './log-writes.ts';

export type Logger = PinoLogger;
export type LogLevel = Level;
export const logLevels: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];
export type LogFormat = 'auto' | 'pretty' | 'json';
export const logFormats: readonly LogFormat[] = ['auto', 'pretty', 'json'];

/** auto: pretty for a person at a terminal, JSON for everything else (pipes, files, log collectors). */
export function resolveLogFormat(format: LogFormat, stdoutIsTerminal: boolean): 'pretty' | 'json' {
  return format === 'auto' ? (stdoutIsTerminal ? 'pretty' : 'json') : format;
}

/**
 * Top-level fields whose values are replaced before a line is written. Log lines are flat records
 * built field by field; wildcard paths would make the redaction walk every line (it was the
 * largest cost of request logging), for fields that are never nested.
 */
export const redactedPaths = [
  'authorization', 'Authorization', 'token', 'password', 'secret', 'cookie', 'jwt', 'claims', 'bearer',
  'headers', 'identity', 'connectionParams',
  // Whole objects that must never be logged, should one be passed by mistake.
  'req', 'request', 'res', 'caller', 'context',
];

/**
 * pino's isoTime (`,"time":"2026-12-04T03:40:00.123Z"`), the same text, with the date and time up to
 * the second formatted once per second: a Date and toISOString for every line was the largest part
 * of writing a request line after the write itself.
 */
export function isoTime(now: number = Date.now()): string {
  // Lines written in the same millisecond (a busy gateway) share its text.
  if (now === isoSecond.now) return isoSecond.text;
  const second = Math.floor(now / 1000);
  if (second !== isoSecond.second) {
    // "2026-12-04T03:40:00" of "2026-12-04T03:40:00.000Z" (years 0-9999: always 19 characters).
    isoSecond.prefix = `,"time":"${new Date(second * 1000).toISOString().slice(0, 19)}.`;
    isoSecond.second = second;
  }
  const ms = now - second * 1000;
  isoSecond.now = now;
  isoSecond.text = `${isoSecond.prefix}${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}Z"`;
  return isoSecond.text;
}

const isoSecond = { second: Number.NaN, prefix: '', now: Number.NaN, text: '' };

export interface LoggerOptions {
  level?: LogLevel;
  /** Default json. */
  format?: 'pretty' | 'json';
  /** Where lines go; default stdout through logDestination. */
  destination?: DestinationStream;
  /** How JSON lines are written to stdout when no destination is given; default async. */
  writes?: LogWrites;
  /** With async writes: how long the first queued line may wait for others, in ms. */
  flushDelayMs?: number;
  /** Colours in pretty lines; default: when the terminal supports them (and NO_COLOR is not set). */
  colors?: boolean;
}

/** The `name` of every line (pino's base). */
const loggerName = 'crdgate';

export function createLogger(opts: LoggerOptions = {}): Logger {
  const options = {
    level: opts.level ?? 'info',
    base: { name: loggerName },
    timestamp: isoTime,
    // Level names instead of numbers: readable without pino's tooling.
    formatters: { level: (label: string) => ({ level: label }) },
    redact: { paths: redactedPaths, censor: '[redacted]' },
  };
  if (opts.format === 'pretty') {
    // Loaded only for readable lines (a person at a terminal): JSON logs never need it.
    const pretty = createRequire(import.meta.url)('pino-pretty') as typeof import('pino-pretty');
    return pino(options, pretty({
      sync: true,
      destination: opts.destination ?? 1,
      colorize: opts.colors,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: ['pid', 'hostname', 'name', ...requestFields].join(','),
      messageFormat: prettyMessage,
    }));
  }
  const destination = opts.destination ?? logDestination(1, opts.writes ?? 'async', opts.flushDelayMs ?? defaultLogFlushDelayMs);
  const logger = pino(options, destination);
  // A multistream wants each line's level and message alongside: only pino writes to it.
  if (!(destination as unknown as Record<symbol, unknown>)[pino.symbols.needsMetadataGsym]) flatWriters.set(logger, { destination, redacted: new Set(redactedPaths) });
  return logger;
}

/** What a flat line writer needs of a JSON logger createLogger made: where it writes, what it redacts. */
const flatWriters = new WeakMap<Logger, { destination: DestinationStream; redacted: ReadonlySet<string> }>();

/** Writes one record of the given fields; false when a value is not a string, number or boolean (nothing is written). */
export type FlatLineWriter = (level: LogLevel, record: Readonly<Record<string, unknown>>, msg: string) => boolean;

/**
 * A writer of records with a fixed set of flat fields (the request line) for a JSON logger made by
 * createLogger: the line pino would write for `logger[level](record, msg)` (the same fields in the
 * same order, undefined ones left out), without pino's generic serialization of each line, which
 * was most of a request's logging cost. Undefined for any other logger (pino writes then), and when
 * one of the fields is redacted. The caller checks the level is enabled.
 */
export function flatLineWriter(logger: Logger, fields: readonly string[], repeating: readonly string[] = []): FlatLineWriter | undefined {
  const target = flatWriters.get(logger);
  if (!target || fields.some((f) => target.redacted.has(f))) return undefined;
  const keys = fields.map((f) => `,${JSON.stringify(f)}:`);
  // For fields whose values come from a small set (a method, a status code, its name): the key and
  // the value's JSON as one string, made once per value (up to repeatCap of them, then as any other).
  const pieces = fields.map((f) => (repeating.includes(f) ? new Map<unknown, string>() : undefined));
  const heads: Record<string, string> = {};
  for (const l of logLevels) heads[l] = `{"level":${JSON.stringify(l)}`;
  const name = `,"name":${JSON.stringify(loggerName)}`;
  let tail = { msg: '', text: ',"msg":""}\n' };
  return (level, record, msg) => {
    let line = heads[level]! + isoTime() + name;
    for (let i = 0; i < fields.length; i++) {
      const value = record[fields[i]!];
      if (value === undefined) continue;
      const cache = pieces[i];
      let piece = cache?.get(value);
      if (piece === undefined) {
        const json = flatJson(value);
        if (json === undefined) return false;
        piece = keys[i]! + json;
        if (cache && cache.size < repeatCap && (typeof value === 'number' || (typeof value === 'string' && value.length <= repeatMaxLength))) cache.set(value, piece);
      }
      line += piece;
    }
    if (tail.msg !== msg) tail = { msg, text: `,"msg":${JSON.stringify(msg)}}\n` };
    target.destination.write(line + tail.text);
    return true;
  };
}

/** A string's, number's or boolean's JSON as pino writes it (null for NaN and infinities); undefined for anything else. */
function flatJson(value: unknown): string | undefined {
  return typeof value === 'string' ? JSON.stringify(value)
    : typeof value === 'number' ? (Number.isFinite(value) ? String(value) : 'null')
      : typeof value === 'boolean' ? String(value) : undefined;
}

/** Values of a repeating field whose pieces a flat line writer keeps. */
const repeatCap = 256;
/** Longer values (a long path a client made up) are never kept: what is kept stays under ~50 KB a field. */
const repeatMaxLength = 200;

/** The fields of a request line (src/plugins/request-logging.ts), which pretty lines put into the message. */
const requestFields = ['requestId', 'method', 'path', 'type', 'operation', 'tenant', 'status', 'code', 'durationMs', 'aborted'];

/**
 * The message of a pretty line. A request reads as one line: method, path, operation type and name,
 * tenant, status, code, duration, request id. pino-pretty's ignore list is global, so on any other
 * line the same fields are added back after the message: no field is ever hidden.
 */
export function prettyMessage(log: Record<string, unknown>, messageKey: string): string {
  const msg = String(log[messageKey] ?? '');
  const present = requestFields.filter((f) => log[f] !== undefined);
  if (msg !== 'request' || typeof log.method !== 'string') {
    return present.length ? `${msg} (${present.map((f) => `${f}: ${String(log[f])}`).join(', ')})` : msg;
  }
  const parts: unknown[] = [log.method, log.path];
  if (log.type !== undefined) parts.push(log.type);
  if (log.operation !== undefined) parts.push(log.operation);
  if (log.tenant !== undefined) parts.push(`tenant ${log.tenant === '' ? '(none)' : String(log.tenant)}`);
  parts.push('→', log.status, log.code, `${String(log.durationMs)} ms`);
  if (log.aborted) parts.push('(client went away)');
  parts.push(`[${String(log.requestId)}]`);
  return parts.join(' ');
}

/** The logger as the live schema and other parts want it (plain messages). */
export function messageLog(logger: Logger): { info(msg: string): void; warn(msg: string): void } {
  return { info: (msg) => logger.info(msg), warn: (msg) => logger.warn(msg) };
}
