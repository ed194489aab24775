// A port nobody listens on right now, for a process the test starts itself and may restart on
// the same port (a control plane, redis-server): listen(0) lets the kernel pick it.
import { createServer } from 'node:net';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
    s.on('error', reject);
  });
}
