// One page of a filtered, sorted list over a set of objects, wherever they come from (the shared
// cache, or a full list read from the apiserver as the caller). Pure.
import type { KubeObject } from '../contract/operations.ts';
import type { OrderTerm } from '../model/query-filter.ts';
import { compareKeys, sortKeyOf, type SortKey } from './query-order.ts';

export interface QueryPlan {
  readonly match: (obj: KubeObject) => boolean;
  readonly order: readonly OrderTerm[];
  /** Resume after this key (the cursor of the previous page). */
  readonly after?: SortKey;
  /** Objects per page; all of them when absent. */
  readonly limit?: number;
}

export interface QueryPage {
  readonly items: KubeObject[];
  readonly keys: SortKey[];
  /** Every match, on every page. */
  readonly totalCount: number;
  /** Matches after this page. */
  readonly remaining: number;
}

export function runQuery(objects: Iterable<KubeObject>, plan: QueryPlan): QueryPage {
  const matches: { obj: KubeObject; key: SortKey }[] = [];
  for (const obj of objects) if (plan.match(obj)) matches.push({ obj, key: sortKeyOf(obj, plan.order) });
  const terms = plan.order;
  matches.sort((a, b) => compareKeys(a.key, b.key, terms));
  let start = 0;
  if (plan.after) {
    // The first match after the cursor's key: matches are sorted, so a binary search finds it.
    const after = plan.after;
    let lo = 0;
    let hi = matches.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareKeys(matches[mid]!.key, after, terms) <= 0) lo = mid + 1;
      else hi = mid;
    }
    start = lo;
  }
  const end = plan.limit !== undefined && plan.limit > 0 ? Math.min(matches.length, start + plan.limit) : matches.length;
  const page = matches.slice(start, end);
  return {
    items: page.map((m) => m.obj),
    keys: page.map((m) => m.key),
    totalCount: matches.length,
    remaining: matches.length - end,
  };
}
