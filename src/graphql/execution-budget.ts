// What one execution of an operation spends as it runs, where the cost limit's estimate cannot
// know the real size beforehand (the owners objects name, the documents of applyYaml fields). An
// HTTP request or a WebSocket operation has a context of its own; a subscription's context serves
// one execution per event, whose root value is the event.

type Spent = Map<string, number>;

const spentBy = new WeakMap<object, { byRoot: WeakMap<object, Spent>; withoutRoot: Spent }>();

/** Adds n to what this execution has spent of `what`, and returns the execution's total. */
export function spend(context: unknown, rootValue: unknown, what: string, n: number): number {
  // Without a context object nothing ties the fields of one execution together.
  if (typeof context !== 'object' || context === null) return n;
  let entry = spentBy.get(context);
  if (!entry) spentBy.set(context, (entry = { byRoot: new WeakMap(), withoutRoot: new Map() }));
  let spent = entry.withoutRoot;
  if (typeof rootValue === 'object' && rootValue !== null) {
    spent = entry.byRoot.get(rootValue) ?? new Map();
    entry.byRoot.set(rootValue, spent);
  }
  const total = (spent.get(what) ?? 0) + n;
  spent.set(what, total);
  return total;
}
