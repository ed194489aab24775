// A Prometheus histogram for the per-request hot path: observations go to plain counters per label
// set, made once, and prom-client formats them at scrape time exactly as its own Histogram does
// (the same metric object shape, so the registry writes the same text and JSON). prom-client's
// Histogram, even through a bound child, builds a label object and a hash string for every
// observation and validates the labels each time; the request metrics observe two histograms on
// every request.
import type { Registry } from 'prom-client';

/** The counts of one label set: one slot per upper bound, then +Inf. */
export interface HistogramCell {
  observe(value: number): void;
}

interface Cell extends HistogramCell {
  readonly labels: Record<string, string>;
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

/** One value as prom-client's Histogram gives it (exemplar null for buckets, undefined for sum and count). */
interface ValuePair {
  labels: Record<string, string | number>;
  sharedLabels?: Record<string, string>;
  value: number;
  metricName: string;
  exemplar?: null;
}

export class RequestHistogram<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly labelNames: readonly L[];
  private readonly upperBounds: readonly number[];
  private cells = new Map<string, Cell>();

  constructor(opts: { name: string; help: string; labelNames: readonly L[]; buckets: readonly number[]; registers: Registry[] }) {
    this.name = opts.name;
    this.help = opts.help;
    this.labelNames = opts.labelNames;
    this.upperBounds = [...opts.buckets].sort((a, b) => a - b);
    for (const r of opts.registers) r.registerMetric(this as never);
  }

  /** The cell of a label set, made on first use: keep it, and observe through it. */
  labels(values: Record<L, string>): HistogramCell {
    const key = this.labelNames.map((n) => values[n]).join('\u0000');
    let cell = this.cells.get(key);
    if (!cell) {
      const labels: Record<string, string> = {};
      for (const n of this.labelNames) labels[n] = values[n];
      cell = newCell(labels, this.upperBounds);
      this.cells.set(key, cell);
    }
    return cell;
  }

  observe(values: Record<L, string>, value: number): void {
    this.labels(values).observe(value);
  }

  /** The number of observations per label set, in the order the sets were first used. */
  *counts(): Iterable<{ labels: Readonly<Record<string, string>>; count: number }> {
    for (const cell of this.cells.values()) yield { labels: cell.labels, count: cell.count };
  }

  reset(): void {
    this.cells = new Map();
  }

  /** prom-client's Histogram.getForPromString(): buckets (cumulative), +Inf, sum and count per label set. */
  getForPromString(): { name: string; help: string; type: string; values: ValuePair[]; aggregator: string } {
    const values: ValuePair[] = [];
    const bucket = `${this.name}_bucket`;
    for (const cell of this.cells.values()) {
      let acc = 0;
      this.upperBounds.forEach((le, i) => {
        acc += cell.counts[i]!;
        values.push({ labels: { le }, value: acc, metricName: bucket, exemplar: null, sharedLabels: cell.labels });
      });
      values.push(
        { labels: { le: '+Inf' }, value: cell.count, metricName: bucket, exemplar: null, sharedLabels: cell.labels },
        { labels: {}, value: cell.sum, metricName: `${this.name}_sum`, exemplar: undefined, sharedLabels: cell.labels },
        { labels: {}, value: cell.count, metricName: `${this.name}_count`, exemplar: undefined, sharedLabels: cell.labels },
      );
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  /** prom-client's Histogram.get(): the same values with the label set spread into each value's labels. */
  get(): ReturnType<RequestHistogram<L>['getForPromString']> {
    const data = this.getForPromString();
    data.values = data.values.map(({ sharedLabels, labels, ...rest }) => ({ ...rest, labels: { ...labels, ...sharedLabels } }));
    return data;
  }
}

function newCell(labels: Record<string, string>, upperBounds: readonly number[]): Cell {
  const counts = new Float64Array(upperBounds.length);
  const cell: Cell = {
    labels, counts, sum: 0, count: 0,
    observe(value: number) {
      if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${value}`);
      // A value above the last bound counts only in +Inf (the count).
      for (let i = 0; i < upperBounds.length; i++) {
        if (value <= upperBounds[i]!) {
          counts[i]!++;
          break;
        }
      }
      cell.sum += value;
      cell.count++;
    },
  };
  return cell;
}
