// Writes of example CronTabs straight to the apiserver (not through the gateway), for the tests
// that produce watch events in bulk, and the gateway URL they subscribe to.
import type { Server } from 'node:http';
import type { Gateway } from '../../src/gateway.ts';
import type { KubeClient } from '../../src/kube/kube-client.ts';

export type CronTab = { metadata: { name: string; resourceVersion: string } };

export const cronTabPath = (ns: string, name?: string) => `/apis/stable.example.com/v1/namespaces/${ns}/crontabs${name ? `/${name}` : ''}`;

/** Runs fn for 0..n-1, `width` at a time. */
export async function inParallel(n: number, width: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < n) await fn(next++);
  }));
}

export const createIn = (kube: KubeClient, ns: string, name: string, replicas = 1) => kube.request<CronTab>('POST', cronTabPath(ns), {
  body: { apiVersion: 'stable.example.com/v1', kind: 'CronTab', metadata: { name }, spec: { cronSpec: '@hourly', replicas } },
});

export const scaleIn = (kube: KubeClient, ns: string, name: string, replicas: number) =>
  kube.request<CronTab>('PATCH', cronTabPath(ns, name), { body: { spec: { replicas } }, contentType: 'application/merge-patch+json' });

/** Listens on a free port; the gateway's base URL. */
export async function listen(g: Gateway): Promise<string> {
  const server: Server = await g.listen(0);
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}
