import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Histogram, Registry } from 'prom-client';
import { RequestHistogram } from '../../../src/plugins/request-histogram.ts';

const buckets = [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const opts = { name: 'crdgate_test_seconds', help: 'Test latency by "type" and outcome\\n', labelNames: ['type', 'outcome'] as const, buckets };

/** prom-client's Histogram and ours, each in its own registry, fed the same observations. */
function pair() {
  const theirs = new Registry();
  const ours = new Registry();
  return { theirs, ours, reference: new Histogram({ ...opts, labelNames: [...opts.labelNames], registers: [theirs] }), histogram: new RequestHistogram({ ...opts, registers: [ours] }) };
}

test('a request histogram scrapes as prom-client\'s Histogram given the same observations: text, JSON, every bound', async () => {
  const { theirs, ours, reference, histogram } = pair();
  assert.equal(await ours.metrics(), await theirs.metrics(), 'nothing observed yet');
  // On the bounds, between them, above the last, zero, and label sets in an order of first use.
  const values = [0, 0.002, 0.0021, 0.005, 0.3, 1, 29.9, 30, 30.01, 1000, ...buckets];
  const labelSets = [{ type: 'query', outcome: 'ok' }, { type: 'mutation', outcome: 'NOT_FOUND' }, { type: 'rest', outcome: 'ok' }, { type: 'query', outcome: 'BAD_REQUEST' }];
  values.forEach((v, i) => {
    const labels = labelSets[i % labelSets.length]!;
    reference.labels(labels).observe(v);
    if (i % 2) histogram.labels(labels).observe(v);
    else histogram.observe(labels, v);
  });
  assert.equal(await ours.metrics(), await theirs.metrics());
  assert.deepEqual(await ours.getMetricsAsJSON(), await theirs.getMetricsAsJSON());
  ours.setDefaultLabels({ pod: 'a' });
  theirs.setDefaultLabels({ pod: 'a' });
  assert.equal(await ours.metrics(), await theirs.metrics(), 'with default labels');
  ours.resetMetrics();
  theirs.resetMetrics();
  assert.equal(await ours.metrics(), await theirs.metrics(), 'after a reset');
});

test('a request histogram refuses what prom-client refuses: a value that is not a finite number', () => {
  const { histogram } = pair();
  assert.throws(() => histogram.labels({ type: 'query', outcome: 'ok' }).observe(Number.NaN), /not a valid number/);
  assert.throws(() => histogram.observe({ type: 'query', outcome: 'ok' }, Number.POSITIVE_INFINITY), /not a valid number/);
});
