// A timer for a point in time that may be weeks away. Node's setTimeout takes at most 2^31-1 ms
// (about 24.8 days) and fires after 1 ms for anything longer, which would end a long-lived
// token's subscriptions at once; longer waits are chained.
const maxDelay = 2 ** 31 - 1;

export function setTimer(fn: () => void, atMs: number, now: () => number = Date.now): { cancel(): void } {
  let timer: NodeJS.Timeout | undefined;
  let cancelled = false;
  const arm = () => {
    if (cancelled) return;
    const left = atMs - now();
    if (left <= 0) return fn();
    timer = setTimeout(arm, Math.min(left, maxDelay));
    timer.unref();
  };
  arm();
  return {
    cancel() {
      cancelled = true;
      clearTimeout(timer);
    },
  };
}
