// client-go's retry.RetryOnConflict for the gateway's own read-modify-write operations: when
// someone else wrote between our read and our write, read again and retry, with exponential
// backoff and jitter, a bounded number of times.
import { ApiError } from '../api-errors.ts';
import { systemClock, type Clock } from '../kube/reflector.ts';

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  steps: number;
  initialMs: number;
  factor: number;
  jitter: number;
  signal?: AbortSignal;
  clock?: Clock;
}

// client-go's retry.DefaultBackoff: 10 ms, ×5, 10% jitter, 4 steps.
export const defaultRetry: Omit<RetryPolicy, 'signal' | 'clock'> = { steps: 4, initialMs: 10, factor: 5, jitter: 0.1 };

export async function retryOnConflict<T>(attempt: () => Promise<T>, policy: Partial<RetryPolicy> = {}): Promise<T> {
  const p = { ...defaultRetry, ...policy };
  const clock = p.clock ?? systemClock;
  const signal = p.signal ?? new AbortController().signal;
  let delay = p.initialMs;
  for (let i = 1; ; i++) {
    try {
      return await attempt();
    } catch (err) {
      const conflict = err instanceof ApiError && err.code === 'CONFLICT';
      if (!conflict || i >= p.steps || signal.aborted) throw err;
    }
    await clock.sleep(delay + clock.random() * p.jitter * delay, signal);
    delay *= p.factor;
  }
}
