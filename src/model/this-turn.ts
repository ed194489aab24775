// A value shared by everything that runs in the current synchronous run (a start's or a list's
// batch of CRDs is converted and built in one loop) and dropped when that run ends, so a cache
// made this way never outlives its batch and never holds a model nobody else holds.

/** A getter of the value `make` gives, made once per synchronous run. */
export function thisTurn<T>(make: () => T): () => T {
  let value: T | undefined;
  let made = false;
  return () => {
    if (!made) {
      value = make();
      made = true;
      queueMicrotask(() => {
        value = undefined;
        made = false;
      });
    }
    return value as T;
  };
}
