import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from '../../../src/api-errors.ts';
import type { CallerContext } from '../../../src/contract/caller-context.ts';
import type { OwnerLookup } from '../../../src/contract/relations.ts';
import type { ApiDiscovery, ApiResource } from '../../../src/service/api-discovery.ts';
import { relationOperations } from '../../../src/service/relation-service.ts';

const hiddenKind: ApiResource = { group: 'stable.example.com', version: 'v1', plural: 'clustercrontabs', kind: 'ClusterCronTab', namespaced: false };
const context: CallerContext = { identity: { user: 'ev', groups: [] } } as unknown as CallerContext;

/** A cluster that serves ClusterCronTab, which the caller may not use; every read of it is FORBIDDEN. */
function operations() {
  const reads: string[] = [];
  const discovery = {
    resolve: async (apiVersion: string, kind: string) => (kind === 'ClusterCronTab' && apiVersion === 'stable.example.com/v1' ? hiddenKind : undefined),
    byKind: async (kind: string) => (kind === 'ClusterCronTab' ? [hiddenKind] : []),
  } as unknown as ApiDiscovery;
  const forbidden = (r: ApiResource) => {
    reads.push(r.plural);
    return new ApiError('FORBIDDEN', `${r.plural}.${r.group} is forbidden`, { reason: 'Forbidden', group: r.group, kind: r.plural });
  };
  const reader = {
    get: async (r: ApiResource) => { throw forbidden(r); },
    list: async (r: ApiResource) => { throw forbidden(r); },
    maxScan: 20_000,
  };
  const known = async (r: ApiResource) => r !== hiddenKind;
  return { reads, ops: relationOperations({ discovery, reader, known }) };
}

const lookup = (kind: string, namespace?: string): OwnerLookup => ({
  reference: { apiVersion: 'stable.example.com/v1', kind, name: 'owner', uid: 'u-1' }, ...(namespace ? { namespace } : {}),
});

const described = (a: { ok: boolean; error?: ApiError }) => (a.ok ? 'ok' : { code: a.error!.code, message: a.error!.message, details: a.error!.details });

test('an owner of a custom kind the caller may not use is answered as an owner of a kind the cluster does not serve', async () => {
  const { reads, ops } = operations();
  for (const namespace of [undefined, 'team-a']) {
    const [hidden, missing] = await ops.owners({ args: { lookups: [lookup('ClusterCronTab', namespace), lookup('Nosuch', namespace)] }, context });
    assert.deepEqual(JSON.parse(JSON.stringify(described(hidden!)).replaceAll('ClusterCronTab', 'Nosuch')), described(missing!));
  }
  assert.deepEqual(reads, [], 'the hidden kind is never read, so its refusal cannot tell it exists');
});
