// A request to the test cluster with full control over header lines. fetch (WHATWG Headers, and
// undici underneath) joins repeated headers into one "a, b" line; node:https sends an array value
// as one line per element, which is what Kubernetes needs for repeated Impersonate-* headers.
import { request } from 'node:https';
import { readFileSync } from 'node:fs';
import { testCluster } from './test-cluster.ts';

export interface HeaderLinesResponse<T> {
  status: number;
  body: T;
}

/** Sends one request as the admin (or with the given token); each array value becomes separate lines. */
export function requestWithHeaderLines<T = unknown>(method: string, path: string, opts: { headers?: Record<string, string | string[]>; body?: unknown; token?: string } = {}): Promise<HeaderLinesResponse<T>> {
  const info = testCluster();
  const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  const headers: Record<string, string | string[]> = {
    Accept: 'application/json',
    Authorization: `Bearer ${opts.token ?? info.adminToken}`,
    ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
    ...opts.headers,
  };
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, info.server), { method, headers, ca: readFileSync(info.caFile), timeout: 30_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
      });
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as T });
        } catch {
          reject(new Error(`${method} ${path} answered ${res.statusCode} with a body that is not JSON: ${text.slice(0, 300)}`));
        }
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}
