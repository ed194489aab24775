import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { crdToModel } from '../../../src/model/crd-to-model.ts';
import { fieldPathMapper } from '../../../src/service/field-path-mapper.ts';

const crd = parse(readFileSync(new URL('../../../deploy/examples/clustercrontab-crd.yaml', import.meta.url), 'utf8'));
const map = fieldPathMapper(crdToModel(crd).versions[0]!.schema);

test('Kubernetes field paths map to the GraphQL names the client used', () => {
  const jvm = crdToModel(crd).versions[0]!.schema.properties.find((p) => p.name === 'spec')!;
  assert.equal(jvm.graphqlName, 'spec');
  assert.deepEqual(map('spec.replicas'), ['spec', 'replicas']);
  const mapped = map('spec.jvm-options.-Xmx');
  assert.equal(mapped?.length, 3);
  assert.notEqual(mapped?.[1], 'jvm-options', 'the invalid GraphQL name is mapped');
  assert.match(String(mapped?.[1]), /^[_A-Za-z][_0-9A-Za-z]*$/);
  assert.match(String(mapped?.[2]), /^[_A-Za-z][_0-9A-Za-z]*$/);
  assert.deepEqual(map('spec.targets[1].weight'), ['spec', 'targets', 1, 'weight']);
  assert.deepEqual(map('spec.env[LOG_LEVEL]'), ['spec', 'env', 'LOG_LEVEL']);
  assert.deepEqual(map('spec.unknownThing.deeper'), ['spec', 'unknownThing', 'deeper']);
  assert.deepEqual(map('metadata.name'), ['metadata', 'name']);
});

test('a storage key given as a cause\'s field (a conversion failure) is no path in the object', () => {
  assert.equal(map('/registry/stable.example.com/crontabs/default/a'), undefined);
});
