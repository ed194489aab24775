// Installs deploy/examples (CRDs first, then the objects that use them) with server-side apply,
// so running it again on a persistent cluster is harmless.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KubernetesObject } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { CrdgateError, describeError } from '../errors.ts';
import { KubeClient, type KubeCredentials } from '../kube/kube-client.ts';
import { repoRoot } from './build-launcher.ts';

export const examplesDir = join(repoRoot, 'deploy', 'examples');

export function readManifests(dir: string, filter: (file: string) => boolean = () => true): KubernetesObject[] {
  const out: KubernetesObject[] = [];
  for (const file of readdirSync(dir).filter((f) => /\.ya?ml$/.test(f) && filter(f)).sort()) {
    const docs = parseAllDocuments(readFileSync(join(dir, file), 'utf8'));
    for (const [i, doc] of docs.entries()) {
      if (doc.errors.length) {
        throw new CrdgateError('EXAMPLES_INSTALL', `${file}:${i}: ${doc.errors[0]!.message}`);
      }
      const obj = doc.toJS() as KubernetesObject | null;
      if (obj) out.push(obj);
    }
  }
  return out;
}

const isCrd = (o: KubernetesObject) => o.kind === 'CustomResourceDefinition';

/** Applies the example CRDs and waits until each is Established. Returns their names. */
export async function installExampleCrds(kc: KubeCredentials, timeoutMs = 30_000): Promise<string[]> {
  const crds = readManifests(examplesDir, (f) => f.endsWith('-crd.yaml')).filter(isCrd);
  await applyAll(kc, crds);
  const names = crds.map((c) => c.metadata!.name!);
  await waitForCrdsEstablished(kc, names, timeoutMs);
  return names;
}

/** Applies every example object that is not a CRD (namespaces, sample CronTabs). */
export async function installExampleObjects(kc: KubeCredentials): Promise<number> {
  const objects = readManifests(examplesDir, (f) => !f.endsWith('-crd.yaml')).filter((o) => !isCrd(o));
  await applyAll(kc, objects);
  return objects.length;
}

async function applyAll(kc: KubeCredentials, objects: KubernetesObject[]): Promise<void> {
  const client = new KubeClient(kc);
  const discovery = new Map<string, { name: string; kind: string; namespaced: boolean }[]>();
  for (const obj of objects) {
    const what = `${obj.kind} ${obj.metadata?.namespace ? obj.metadata.namespace + '/' : ''}${obj.metadata?.name}`;
    try {
      const path = await objectPath(client, discovery, obj);
      await client.request('PATCH', path, {
        query: { fieldManager: 'crdgate-examples', force: true },
        body: obj,
        contentType: 'application/apply-patch+yaml',
      });
    } catch (err) {
      throw new CrdgateError('EXAMPLES_INSTALL', `cannot apply ${what}: ${describeError(err)}`, { cause: err });
    }
  }
}

/** The REST path of an object, from API discovery (kind → resource name and scope). */
async function objectPath(client: KubeClient, cache: Map<string, { name: string; kind: string; namespaced: boolean }[]>, obj: KubernetesObject): Promise<string> {
  const apiVersion = obj.apiVersion ?? '';
  const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  let resources = cache.get(base);
  if (!resources) {
    const list = await client.request<{ resources: { name: string; kind: string; namespaced: boolean }[] }>('GET', base);
    resources = list.resources.filter((r) => !r.name.includes('/'));
    cache.set(base, resources);
  }
  const r = resources.find((x) => x.kind === obj.kind);
  if (!r) throw new Error(`the cluster does not serve kind ${obj.kind} in ${apiVersion}`);
  const ns = r.namespaced ? `/namespaces/${encodeURIComponent(obj.metadata?.namespace ?? 'default')}` : '';
  return `${base}${ns}/${r.name}/${encodeURIComponent(obj.metadata!.name!)}`;
}

export async function waitForCrdsEstablished(kc: KubeCredentials, names: string[], timeoutMs: number): Promise<void> {
  const client = new KubeClient(kc);
  const deadline = Date.now() + timeoutMs;
  for (const name of names) {
    for (;;) {
      const crd = await client.request<{ status?: { conditions?: { type: string; status: string }[] } }>('GET', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${encodeURIComponent(name)}`);
      const established = crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True');
      if (established) break;
      if (Date.now() > deadline) {
        throw new CrdgateError('EXAMPLES_INSTALL', `CRD ${name} was not Established within ${timeoutMs / 1000}s`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
