// When live watches re-check after RBAC changes: after a quiet moment, but never later than the
// maximum wait after the first unhandled change, however the changes go on; then repeated.
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import { recheckSchedule } from '../../../src/service/recheck-schedule.ts';

describe('re-check schedule', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 }));
  afterEach(() => mock.timers.reset());

  const record = () => {
    const runs: { at: number; repeat: boolean }[] = [];
    const start = Date.now();
    const s = recheckSchedule((repeat) => runs.push({ at: Date.now() - start, repeat }), { delayMs: 250, maxWaitMs: 1000, followUpsMs: [750, 2250, 3750] });
    return { runs, s, start };
  };
  const advance = (ms: number, step = 10) => {
    for (let t = 0; t < ms; t += step) mock.timers.tick(step);
  };

  it('one change: a re-check after the delay, then the repetitions', () => {
    const { runs, s } = record();
    s.changed();
    advance(5000);
    assert.deepEqual(runs, [{ at: 250, repeat: false }, { at: 1000, repeat: true }, { at: 2500, repeat: true }, { at: 4000, repeat: true }]);
    s.cancel();
  });

  it('a burst collapses into one re-check after its last change', () => {
    const { runs, s } = record();
    for (let i = 0; i < 5; i++) {
      s.changed();
      advance(50);
    }
    advance(300);
    assert.deepEqual(runs.map((r) => r.at), [450]);
    s.cancel();
  });

  it('a change every 100 ms cannot postpone the re-check beyond the maximum wait', () => {
    const { runs, s } = record();
    for (let i = 0; i < 50; i++) {
      s.changed();
      advance(100);
    }
    const first = runs.filter((r) => !r.repeat).map((r) => r.at);
    // Churn for 5 s: a re-check at least once a second, the first one a second after the first change.
    assert.equal(first[0], 1000);
    for (let i = 1; i < first.length; i++) assert.ok(first[i]! - first[i - 1]! <= 1000, first.join(', '));
    assert.ok(first.length >= 4, first.join(', '));
    s.cancel();
  });

  it('cancel stops the pending re-check and its repetitions', () => {
    const { runs, s } = record();
    s.changed();
    advance(300);
    s.cancel();
    advance(5000);
    assert.deepEqual(runs.map((r) => r.at), [250]);
  });
});
