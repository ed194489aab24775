// The block `crdgate serve` prints once it serves: URLs, the kubectl command, and how to authenticate.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { shellPath, startupBlock } from '../../src/startup-block.ts';

test('local mode: the URLs, kubectl, and each demo tenant with its token', () => {
  const block = startupBlock({
    base: 'http://127.0.0.1:4000',
    kubectl: 'test/cluster/bin/kubectl --kubeconfig .state/cluster/kubeconfig get crontabs -A',
    auth: { kind: 'demo', tenants: [{ name: 'tenant-a', token: 'aaa.bbb.ccc' }, { name: 'tenant-b', token: 'ddd.eee.fff' }], validHours: 12 },
    localCluster: true,
  });
  assert.equal(block, `
  crdgate is ready

  Explorer        http://127.0.0.1:4000/
  REST reference  http://127.0.0.1:4000/docs/rest
  GraphQL         http://127.0.0.1:4000/graphql (subscriptions: graphql-ws on the same path)
  kubectl         test/cluster/bin/kubectl --kubeconfig .state/cluster/kubeconfig get crontabs -A

  Demo tenants: pick one in the explorer, or send its token (valid 12 h):
    tenant-a  Authorization: Bearer aaa.bbb.ccc
    tenant-b  Authorization: Bearer ddd.eee.fff

  Ctrl-C stops crdgate and the local control plane.

`);
});

test('another cluster: a tenants file, or authentication off; never a token', () => {
  const withTenants = startupBlock({ base: 'http://localhost:8080', kubectl: 'kubectl get crd', auth: { kind: 'tenants', file: '/etc/crdgate/tenants.yaml' }, localCluster: false });
  assert.match(withTenants, /Authentication: send Authorization: Bearer <token>; tenants from \/etc\/crdgate\/tenants\.yaml/);
  assert.match(withTenants, /Ctrl-C stops crdgate\.\n/);
  const off = startupBlock({ base: 'http://localhost:8080', kubectl: 'kubectl get crd', auth: { kind: 'off' }, localCluster: false });
  assert.match(off, /Authentication: off/);
  assert.doesNotMatch(off + withTenants, /Demo tenants/);
});

test('paths as typed from the working directory, quoted when a shell needs it', () => {
  assert.equal(shellPath('/repo/test/cluster/bin/kubectl', '/repo'), 'test/cluster/bin/kubectl');
  assert.equal(shellPath('/elsewhere/kubeconfig', '/repo'), '/elsewhere/kubeconfig');
  assert.equal(shellPath('/repo/my state/kubeconfig', '/repo'), "'my state/kubeconfig'");
  assert.equal(shellPath("/x/it's", '/repo'), "'/x/it'\\''s'");
});
