// The one catalog of crdgate's own errors. Each has a stable code; code elsewhere never invents an
// error inline, it throws a CrdgateError with one of these codes and a message that says what is
// wrong and what to do.
export const ErrorCode = {
  CONFIG_INVALID: 'CONFIG_INVALID',
  KUBECONFIG_INVALID: 'KUBECONFIG_INVALID',
  CLUSTER_UNREACHABLE: 'CLUSTER_UNREACHABLE',
  PORT_IN_USE: 'PORT_IN_USE',
  LOCAL_CLUSTER_BUILD: 'LOCAL_CLUSTER_BUILD',
  LOCAL_CLUSTER_START: 'LOCAL_CLUSTER_START',
  EXAMPLES_INSTALL: 'EXAMPLES_INSTALL',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export class CrdgateError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CrdgateError';
    this.code = code;
  }
}

/** Everything a log reader needs to find where `err` was thrown: its stack when it has one. */
export function errorWithStack(err: unknown): string {
  return err instanceof Error ? err.stack ?? err.message : String(err);
}

/** One line for a human: a CrdgateError's message, or the first line of anything else. */
export function describeError(err: unknown): string {
  if (err instanceof CrdgateError) return err.message;
  if (err instanceof Error) return err.message.split('\n')[0] ?? String(err);
  return String(err);
}
