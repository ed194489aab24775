// Mapping an async stream without an async generator. A generator suspended in `await next()`
// cannot be returned until its source yields again, so a subscriber who leaves would stay attached
// to the shared watch until the next matching event (maybe never). Here return() goes straight
// through to the source, which ends at once.
export function mapStream<T, U>(
  source: AsyncIterable<T>,
  map: (item: T) => U | undefined | Promise<U | undefined>,
  hooks: { onEnd?: () => void; beforeEnd?: () => unknown } = {},
): AsyncIterableIterator<U> {
  const it = source[Symbol.asyncIterator]();
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    hooks.onEnd?.();
  };
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    async next(): Promise<IteratorResult<U>> {
      try {
        for (;;) {
          const r = await it.next();
          // A reason to end (an error to report) takes precedence over a plain end of the source.
          const failure = hooks.beforeEnd?.();
          if (failure) throw failure;
          if (r.done) {
            end();
            return { done: true, value: undefined };
          }
          const mapped = await map(r.value);
          if (mapped !== undefined) return { done: false, value: mapped };
        }
      } catch (err) {
        end();
        await it.return?.();
        throw err;
      }
    },
    async return(): Promise<IteratorResult<U>> {
      end();
      await it.return?.();
      return { done: true, value: undefined };
    },
    async throw(err: unknown): Promise<IteratorResult<U>> {
      end();
      await it.return?.();
      throw err;
    },
  };
}
