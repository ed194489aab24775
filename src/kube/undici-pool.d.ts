// undici's Pool on its own (see pooled-request.ts): the module is the class undici's index exports.
declare module 'undici/lib/dispatcher/pool.js' {
  import { Pool } from 'undici';
  export default Pool;
}
