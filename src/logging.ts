// The gateway's logger: pino, one JSON object per line on stdout (or a given destination). Log
// lines are built from chosen fields, never from whole requests, headers or identities; the redact
// list is the second line of defence, for a field added later by mistake.
import { pino, type DestinationStream, type Level, type Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;
export type LogLevel = Level;
export const logLevels: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];

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

export interface LoggerOptions {
  level?: LogLevel;
  /** Where lines go; default stdout, written synchronously so nothing is lost when the process exits. */
  destination?: DestinationStream;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  return pino({
    level: opts.level ?? 'info',
    base: { name: 'crdgate' },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Level names instead of numbers: readable without pino's tooling.
    formatters: { level: (label) => ({ level: label }) },
    redact: { paths: redactedPaths, censor: '[redacted]' },
  }, opts.destination ?? pino.destination(1));
}

/** The logger as the live schema and other parts want it (plain messages). */
export function messageLog(logger: Logger): { info(msg: string): void; warn(msg: string): void } {
  return { info: (msg) => logger.info(msg), warn: (msg) => logger.warn(msg) };
}
