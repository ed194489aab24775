// The gateway's own lifecycle on the real apiserver: what it starts before the HTTP app exists
// (the CRD catalog's watch, the RBAC watches, the plugins) is stopped again when the app cannot be
// created, so a failed start leaves nothing running behind.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createGateway } from '../../src/gateway.ts';
import { loadTenantConfig } from '../../src/auth/tenant-config.ts';
import { KubeClient } from '../../src/kube/kube-client.ts';
import type { GatewayPlugin } from '../../src/plugins/gateway-plugin.ts';
import { hmacSecret, TenantsDir } from '../helpers/jwt-issuer.ts';
import { pollUntil } from '../helpers/poll-until.ts';
import { kubeConfigFor } from '../helpers/test-cluster.ts';

const dir = new TenantsDir();
after(() => dir.remove());

/** Counts the watches open on the apiserver through the wrapped client. */
function watchCounter(): GatewayPlugin & { open: number; stopped: boolean } {
  const counter = {
    name: 'watch-counter',
    open: 0,
    stopped: false,
    wrapClient(client: KubeClient): KubeClient {
      const wrapped = Object.create(client) as KubeClient;
      wrapped.watch = (path, opts) => {
        counter.open++;
        return client.watch(path, opts).finally(() => counter.open--);
      };
      return wrapped;
    },
    // Apollo Server refuses to start once every watch is open: the CRD catalog's, and RBAC's of
    // namespaces, roles, role bindings, cluster roles and cluster role bindings.
    apollo: {
      plugins: [{
        serverWillStart: async () => {
          await pollUntil('the catalog and RBAC watches to open', () => counter.open >= 6);
          throw new Error('the Apollo server cannot start');
        },
      }],
    },
    stop() {
      counter.stopped = true;
    },
  };
  return counter;
}

test('an HTTP app that cannot be created leaves no watch running and stops the plugins', async () => {
  dir.write('hs.secret', hmacSecret());
  const tenants = loadTenantConfig(dir.writeConfig('tenants.yaml', {
    auth: { issuer: 'https://issuer.crdgate.test/', audience: 'crdgate-lifecycle', algorithms: ['HS256'], secretFile: 'hs.secret' },
    tenants: [{ name: 'a', match: { tenant: 'a' }, user: 'lifecycle-a:{sub}', groups: [] }],
  }));
  const counter = watchCounter();
  await assert.rejects(createGateway({ client: new KubeClient(kubeConfigFor('admin')), tenants, explorer: false, plugins: [counter] }),
    /the Apollo server cannot start/);
  await pollUntil('every watch to end', () => counter.open === 0);
  assert.equal(counter.stopped, true);
});
