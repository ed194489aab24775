// Finds the cluster to talk to: an explicit kubeconfig, then ~/.kube/config, then the in-cluster
// service account. Returns undefined when there is none, so `crdgate serve` can start the local
// control plane instead. A kubeconfig that exists but is broken is an error, never a fallback.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { KubeConfig } from './kubeconfig.ts';
import { CrdgateError } from '../errors.ts';

export interface ResolvedKubeConfig {
  kc: KubeConfig;
  source: string;
}

const inClusterTokenPath = '/var/run/secrets/kubernetes.io/serviceaccount/token';

export function resolveKubeConfig(explicit: string | undefined, env: NodeJS.ProcessEnv = process.env): ResolvedKubeConfig | undefined {
  if (explicit) {
    // KUBECONFIG may list several files; like kubectl, use the first that exists.
    const files = explicit.split(delimiter).filter(Boolean);
    const found = files.find((f) => existsSync(f));
    if (!found) {
      throw new CrdgateError('KUBECONFIG_INVALID', `kubeconfig ${explicit} does not exist; fix the path, or unset it to use ~/.kube/config or the local cluster`);
    }
    return { kc: loadFile(found), source: found };
  }
  const home = join(env.HOME ?? homedir(), '.kube', 'config');
  if (existsSync(home)) return { kc: loadFile(home), source: home };
  if (env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT && existsSync(inClusterTokenPath)) {
    const kc = new KubeConfig();
    kc.loadFromCluster();
    return { kc, source: 'in-cluster service account' };
  }
  return undefined;
}

export function loadFile(path: string): KubeConfig {
  const kc = new KubeConfig();
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new CrdgateError('KUBECONFIG_INVALID', `cannot read kubeconfig ${path}: ${(err as Error).message}`);
  }
  try {
    kc.loadFromString(text);
  } catch (err) {
    throw new CrdgateError('KUBECONFIG_INVALID', `kubeconfig ${path} is not valid: ${(err as Error).message.split('\n')[0]}`);
  }
  const cluster = kc.getCurrentCluster();
  if (!kc.getCurrentContext() || !cluster) {
    throw new CrdgateError('KUBECONFIG_INVALID', `kubeconfig ${path} has no current context with a cluster; set current-context`);
  }
  // kubectl refuses such a context too. Without its user the credentials are gone, and with them
  // the cluster's CA (both are applied only for a user): the start would fail on TLS, or proceed
  // as an anonymous caller, with a message that points anywhere but here.
  const context = kc.getContextObject(kc.getCurrentContext());
  if (context?.user && !kc.getCurrentUser()) {
    throw new CrdgateError('KUBECONFIG_INVALID', `kubeconfig ${path}: context ${context.name} names the user ${context.user}, which the kubeconfig does not define; fix the context's user`);
  }
  try {
    new URL(cluster.server);
  } catch {
    throw new CrdgateError('KUBECONFIG_INVALID', `kubeconfig ${path}: cluster ${cluster.name} has no valid server URL ("${cluster.server}")`);
  }
  return kc;
}
