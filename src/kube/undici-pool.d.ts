// undici's Pool on its own (see pooled-request.ts): the module is the class undici's index exports.
declare module 'undici/lib/dispatcher/pool.js' {
  import { Pool } from 'undici';
  export default Pool;
}

// undici's internal symbols: pooled-request.ts reads kQueuedAbort (a queued call's way out of the queue).
declare module 'undici/lib/core/symbols.js' {
  const symbols: Record<string, symbol>;
  export default symbols;
}
