// A control plane of its own whose etcd is compacted every second, with the example CRDs. The
// shared test cluster compacts every 5 minutes (the default), so an old resourceVersion or
// continue token cannot be made to expire there on demand; here any write moves etcd past it and
// the next compaction removes it within seconds.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeClient } from '../../src/kube/kube-client.ts';
import { launchCluster, type LocalCluster } from '../../src/local-cluster/launch-cluster.ts';
import { installExampleCrds } from '../../src/local-cluster/install-examples.ts';

export interface CompactingCluster {
  cluster: LocalCluster;
  /** The admin's kubeconfig for this cluster. */
  kc: KubeConfig;
  client: KubeClient;
  /** Creates `count` CronTabs page-0, page-1... in `namespace` (default: default). */
  seedCronTabs(count: number, namespace?: string): Promise<void>;
  /** One write (a label on page-0) that moves etcd's revision forward. */
  advance(namespace?: string): Promise<void>;
  stop(): Promise<void>;
}

/** `extraFlags` go to kube-apiserver after the compaction interval (e.g. --watch-cache=false). */
export async function startCompactingCluster(prefix = 'crdgate-compacting-', extraFlags: string[] = []): Promise<CompactingCluster> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  let cluster: LocalCluster | undefined;
  try {
    cluster = await launchCluster({ dataDir: join(dir, 'cluster'), logFile: join(dir, 'cluster.log'), extraApiServerFlags: ['--etcd-compaction-interval=1s', ...extraFlags] });
    const kc = new KubeConfig();
    kc.loadFromFile(cluster.info.kubeconfig);
    await installExampleCrds(kc);
    const client = new KubeClient(kc);
    let bumps = 0;
    const path = (ns: string) => `/apis/stable.example.com/v1/namespaces/${ns}/crontabs`;
    const started = cluster;
    return {
      cluster: started,
      kc,
      client,
      async seedCronTabs(count, namespace = 'default') {
        for (let i = 0; i < count; i++) {
          await client.request('POST', path(namespace), {
            body: { apiVersion: 'stable.example.com/v1', kind: 'CronTab', metadata: { name: `page-${i}` }, spec: { cronSpec: 'x' } },
          });
        }
      },
      async advance(namespace = 'default') {
        await client.request('PATCH', `${path(namespace)}/page-0`, {
          body: { metadata: { labels: { bump: String(bumps++) } } }, contentType: 'application/merge-patch+json',
        });
      },
      async stop() {
        await started.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
