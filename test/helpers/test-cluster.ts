// Access to the ONE real control plane that `npm test` starts for the whole run.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import type { ClusterInfo } from '../../src/local-cluster/launch-cluster.ts';

export function testCluster(): ClusterInfo {
  const path = process.env.CRDGATE_TEST_CLUSTER;
  if (!path) {
    throw new Error('integration tests need the real control plane that `npm test` starts; run them with `npm test` (or `npm test -- <file>`)');
  }
  return JSON.parse(readFileSync(path, 'utf8')) as ClusterInfo;
}

/** A KubeConfig for the admin, or for one of the launcher's static-token test users. */
export function kubeConfigFor(user: 'admin' | string = 'admin'): KubeConfig {
  const info = testCluster();
  const token = user === 'admin' ? info.adminToken : info.users.find((u) => u.name === user)?.token;
  if (!token) throw new Error(`the test cluster has no user ${user}`);
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'test', server: info.server, caFile: info.caFile, skipTLSVerify: false }],
    users: [{ name: user, token }],
    contexts: [{ name: 'test', cluster: 'test', user }],
    currentContext: 'test',
  });
  return kc;
}

/** Runs the real kubectl (built from the same Kubernetes release) against the test cluster. */
export function kubectl(args: string[], opts: { input?: string; user?: string } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const bin = process.env.CRDGATE_TEST_KUBECTL;
  if (!bin) throw new Error('CRDGATE_TEST_KUBECTL is not set; run the tests with `npm test`');
  const info = testCluster();
  const extra = opts.user && opts.user !== 'admin'
    ? ['--token', info.users.find((u) => u.name === opts.user)!.token]
    : [];
  return new Promise((resolve) => {
    const p = execFile(bin, ['--kubeconfig', info.kubeconfig, ...extra, ...args], { maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as NodeJS.ErrnoException).code === 'number' ? Number((err as NodeJS.ErrnoException).code) : 1) : 0;
      resolve({ code, stdout, stderr });
    });
    if (opts.input !== undefined) {
      p.stdin!.end(opts.input);
    }
  });
}

/** A namespace name unique to this test process, so test files never step on each other. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${process.pid.toString(36)}-${Math.random().toString(36).slice(2, 7)}`;
}
