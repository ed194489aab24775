// Fresh namespaces per test file, so files run in any order and in parallel, and a way to delete
// them all at the end without waiting for the namespace controller.
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { kubeErrorOf } from './kube-status-assertions.ts';
import { kubeConfigFor, uniqueName } from './test-cluster.ts';

export interface TestNamespaces {
  /** Creates a namespace named prefix-<unique> and returns its name. */
  create(prefix: string): Promise<string>;
  /** Starts deleting every namespace created here; already deleted ones are fine. */
  deleteAll(): Promise<void>;
}

export function testNamespaces(kc: KubeConfig = kubeConfigFor('admin')): TestNamespaces {
  const core = kc.makeApiClient(CoreV1Api);
  const created: string[] = [];
  return {
    async create(prefix) {
      const name = uniqueName(prefix);
      await core.createNamespace({ body: { metadata: { name, labels: { 'crdgate.test/namespace': 'true' } } } });
      created.push(name);
      return name;
    },
    async deleteAll() {
      await Promise.all(created.splice(0).map(async (name) => {
        try {
          await core.deleteNamespace({ name });
        } catch (err) {
          if (kubeErrorOf(err)?.httpStatus !== 404) throw err;
        }
      }));
    },
  };
}
