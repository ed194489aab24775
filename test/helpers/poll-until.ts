// Waiting on a real control plane: poll a probe until it yields a value or a deadline passes, so
// tests never sleep for a guessed duration and fail with what they last saw.
import { setTimeout as delay } from 'node:timers/promises';

export interface PollOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** More of what was seen, for the timeout's message (the state the probe looked at). */
  detail?: () => string;
}

/**
 * Calls probe until it returns something other than undefined/null/false and returns that. A
 * probe that throws is retried too; on timeout the last value or error is in the message.
 */
export async function pollUntil<T>(what: string, probe: () => Promise<T | undefined | null | false> | T | undefined | null | false, opts: PollOptions = {}): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const intervalMs = opts.intervalMs ?? 100;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== null && value !== false) return value;
      last = value;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) {
      const seen = last instanceof Error ? `${last.name}: ${last.message}` : JSON.stringify(last);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${seen}${opts.detail ? `; ${opts.detail()}` : ''})`);
    }
    await delay(intervalMs);
  }
}
