// When live watches re-check their callers after RBAC changes. Changes come in bursts (an apply of
// many objects) or as steady churn (controllers updating Roles): the re-check waits for a quiet
// moment (delayMs), but never longer than maxWaitMs after the first change it has not handled, so
// churn cannot postpone a revocation. The apiserver's own authorizer follows RBAC objects a moment
// later than the gateway's watch of them does, so each re-check is repeated at followUpsMs.
import debounce from 'lodash.debounce';

export interface RecheckScheduleOptions {
  delayMs: number;
  maxWaitMs: number;
  /** Offsets, from each re-check, of its repetitions. */
  followUpsMs: readonly number[];
}

export interface RecheckSchedule {
  /** An RBAC object changed. */
  changed(): void;
  cancel(): void;
}

/**
 * `recheck(true)` is a repetition: cached answers should be dropped first. `final`: the last run
 * of its series (a series cut short by the next one never has one; that one covers it).
 */
export function recheckSchedule(recheck: (repeat: boolean, final: boolean) => void, opts: RecheckScheduleOptions): RecheckSchedule {
  let followUps: NodeJS.Timeout[] = [];
  const clearFollowUps = () => {
    for (const t of followUps) clearTimeout(t);
    followUps = [];
  };
  const run = debounce(() => {
    // This re-check covers what the earlier repetitions would have; start the series anew.
    clearFollowUps();
    const last = opts.followUpsMs.length - 1;
    recheck(false, last < 0);
    followUps = opts.followUpsMs.map((ms, i) => {
      const t = setTimeout(() => recheck(true, i === last), ms);
      t.unref?.();
      return t;
    });
  }, opts.delayMs, { maxWait: opts.maxWaitMs, leading: false, trailing: true });
  return {
    changed: () => run(),
    cancel: () => {
      run.cancel();
      clearFollowUps();
    },
  };
}
