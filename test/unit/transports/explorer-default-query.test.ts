// The explorer page is served before anyone authenticates. Its default query's relations example
// names a served resource: with tenants it would tell every visitor (and every tenant, whatever
// its rights) a CRD, so it is left out then; the local demo tenants' page keeps it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { explorerDefaultQuery } from '../../../src/gateway.ts';
import { crdToModel } from '../../../src/model/crd-to-model.ts';
import { defaultExplorerQuery } from '../../../src/transports/explorer-page.ts';
import { makeCrd } from '../crd-fixtures.ts';

const vaults = crdToModel(makeCrd({ group: 'secret.example.com', kind: 'Vault' }));

describe('the explorer default query', () => {
  it('with tenants names no resource', () => {
    const q = explorerDefaultQuery([vaults], { tenants: true, demoTenants: false });
    assert.equal(q, defaultExplorerQuery);
    assert.doesNotMatch(q, /vault|Vault|secret\.example\.com|secret_example_com/);
  });
  it('without tenants, and with the local demo tenants, follows relations on a served resource', () => {
    for (const demoTenants of [false, true]) {
      const q = explorerDefaultQuery([vaults], { tenants: demoTenants, demoTenants });
      assert.match(q, /query Relations \{\s+vaultList_secret_example_com\(first: 5\)/);
      assert.match(q, /children\(kind: "Vault"\)/);
    }
  });
});
