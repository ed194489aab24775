// A model's content hash is computed when first read: the builders (GraphQL, OpenAPI) and the live
// schema compare a cached model with a new one by identity first, so a cold build serializes no
// spec, and a rebuild hashes only the CRDs whose model is new.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { getNamedType, type GraphQLObjectType } from 'graphql';
import { contentHashOf, crdToModel } from '../../../src/model/crd-to-model.ts';
import type { ResourceModel } from '../../../src/model/resource-model.ts';
import { createSchemaBuilder } from '../../../src/graphql/schema-builder.ts';
import { createOpenApiBuilder } from '../../../src/rest/openapi-builder.ts';

const example = (name: string) => parse(readFileSync(new URL(`../../../deploy/examples/${name}`, import.meta.url), 'utf8'));

/** The model of a CRD, counting the reads of its content hash. */
function counted(crd: Record<string, any>, reads: Map<string, number>): ResourceModel {
  const model = crdToModel(crd);
  const hash = Object.getOwnPropertyDescriptor(model, 'contentHash')!.get!;
  Object.defineProperty(model, 'contentHash', {
    get() {
      reads.set(model.crdName, (reads.get(model.crdName) ?? 0) + 1);
      return hash.call(model);
    },
  });
  return model;
}

describe('content hash', () => {
  it('is the sha256 of the name and the spec as given, computed on first read', () => {
    const crd = example('crontab-crd.yaml');
    const model = crdToModel(crd);
    assert.equal(model.contentHash, contentHashOf(crd.metadata.name, crd.spec));
    assert.equal(model.contentHash, model.contentHash);
    assert.equal(JSON.parse(JSON.stringify(model)).contentHash, model.contentHash, 'serialized with the model');
  });

  for (const assumeValid of [true, false]) {
    it(`a cold build reads no hash; a rebuild only those of new models (assumeValid: ${assumeValid})`, () => {
      const reads = new Map<string, number>();
      const crontab = example('crontab-crd.yaml');
      const cluster = example('clustercrontab-crd.yaml');
      const models = [counted(crontab, reads), counted(cluster, reads)];
      const graphql = createSchemaBuilder({ assumeValid });
      const openapi = createOpenApiBuilder();
      const first = graphql.build(models);
      const document = openapi.build(models);
      assert.deepEqual([...reads], [], 'no hash read by a cold build');
      // The same models again: reused by identity.
      assert.equal(graphql.build(models).resources[0], first.resources[0]);
      openapi.build(models);
      assert.deepEqual([...reads], []);
      // A new model of the same content (a status update): its hash and the cached one's, and the
      // fragments are reused (the same object type).
      const again = [counted(structuredClone(crontab), reads), models[1]!];
      const rebuilt = graphql.build(again);
      assert.equal(rebuilt.schema.getType('CronTab_v1_stable_example_com'), first.schema.getType('CronTab_v1_stable_example_com'));
      assert.deepEqual(JSON.stringify(openapi.build(again)), JSON.stringify(document));
      assert.deepEqual([...reads.keys()], ['crontabs.stable.example.com']);
      // A changed spec: rebuilt.
      const changed = structuredClone(crontab);
      changed.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.added = { type: 'string' };
      const third = graphql.build([crdToModel(changed), models[1]!]);
      assert.notEqual(third.schema.getType('CronTab_v1_stable_example_com'), first.schema.getType('CronTab_v1_stable_example_com'));
      const spec = getNamedType((third.schema.getType('CronTab_v1_stable_example_com') as GraphQLObjectType).getFields()['spec']!.type) as GraphQLObjectType;
      assert.ok(spec.getFields()['added'], 'the new field is there');
    });
  }
});
