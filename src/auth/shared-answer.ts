// One review (or a set of them) that several requests wait for at once: asked once, and dropped
// as soon as every request waiting for it has gone. Without the second half, the reviews of
// callers who had disconnected still ran, minutes later, ahead of the callers who were waiting
// (a soak test queued 74,000 of them with no client connected).
import { ApiError } from '../api-errors.ts';

export function cancelled(): ApiError {
  return new ApiError('CANCELLED', 'the request was cancelled before Kubernetes was asked', { reason: 'Cancelled' });
}

export class SharedAnswer<T> {
  private readonly controller = new AbortController();
  private waiters = 0;
  /** A waiter that cannot go away (no signal): the answer is kept asked for. */
  private pinned = false;
  private settled = false;
  readonly promise: Promise<T>;

  constructor(ask: (signal: AbortSignal) => Promise<T>) {
    this.promise = ask(this.controller.signal);
    // Registered before any waiter's: an answer is never abandoned once it is there. An abandoned
    // one rejects with nobody waiting.
    const settle = () => {
      this.settled = true;
    };
    this.promise.then(settle, settle);
  }

  /** Every waiter went: a cache must not hand it to a new one. */
  get abandoned(): boolean {
    return this.controller.signal.aborted;
  }

  /** The answer, for a waiter that goes away when `signal` aborts (none: it waits for good). */
  join(signal?: AbortSignal): Promise<T> {
    if (!signal) {
      this.pinned = true;
      return this.promise;
    }
    if (signal.aborted) {
      this.release();
      return Promise.reject(cancelled());
    }
    this.waiters++;
    return new Promise<T>((resolve, reject) => {
      let left = false;
      const leave = () => {
        if (left) return;
        left = true;
        signal.removeEventListener('abort', onAbort);
        this.waiters--;
        this.release();
      };
      const onAbort = () => {
        leave();
        reject(cancelled());
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.promise.then((v) => {
        leave();
        resolve(v);
      }, (err: unknown) => {
        leave();
        reject(err);
      });
    });
  }

  private release(): void {
    if (this.waiters === 0 && !this.pinned && !this.settled) this.controller.abort();
  }
}
