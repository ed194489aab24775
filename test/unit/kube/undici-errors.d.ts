// undici's error classes: pooled-request.test.ts makes each to check how a call that ends with it is told.
declare module 'undici/lib/core/errors.js' {
  const errors: Record<string, new (...args: any[]) => Error>;
  export default errors;
}
