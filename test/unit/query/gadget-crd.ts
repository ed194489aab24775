// One CRD version with every kind of field a where or orderBy can meet, for the query tests.
import { crdToModel } from '../../../src/model/crd-to-model.ts';
import type { ResourceModel, VersionModel } from '../../../src/model/resource-model.ts';
import { makeCrd } from '../crd-fixtures.ts';

export const GADGET_SPEC: Record<string, unknown> = {
  type: 'object',
  properties: {
    title: { type: 'string' },
    size: { type: 'integer' },
    count: { type: 'integer', format: 'int32' },
    ratio: { type: 'number' },
    enabled: { type: 'boolean' },
    phase: { type: 'string', enum: ['Pending', 'Running', 'Failed'] },
    expires: { type: 'string', format: 'date-time' },
    port: { 'x-kubernetes-int-or-string': true },
    tags: { type: 'array', items: { type: 'string' } },
    owners: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, weight: { type: 'integer' } } } },
    limits: { type: 'object', additionalProperties: { type: 'integer' } },
    settings: { type: 'object', additionalProperties: { type: 'string' } },
    extra: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
    nested: { type: 'object', properties: { level: { type: 'integer' }, note: { type: 'string' }, not: { type: 'string' } } },
    'max-size': { type: 'integer' },
    'a.b': { type: 'string' },
    a: { type: 'object', properties: { b: { type: 'string' } } },
    matrix: { type: 'array', items: { type: 'array', items: { type: 'string' } } },
  },
};

export function gadget(): { resource: ResourceModel; version: VersionModel } {
  const resource = crdToModel(makeCrd({
    kind: 'Gadget',
    versions: [{
      name: 'v1',
      schema: { type: 'object', properties: { spec: GADGET_SPEC, status: { type: 'object', properties: { observed: { type: 'integer' } } } } },
    }],
  }));
  return { resource, version: resource.versions[0]! };
}
