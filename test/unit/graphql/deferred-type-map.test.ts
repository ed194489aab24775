// A trusted full build leaves graphql-js' type map uncollected (lazy-schema.ts, deferredSchema):
// starting the gateway (Apollo Server over HTTP, graphql-ws) and serving queries must not collect
// it, since at 1,000 CRDs the collection costs about a second. What collects it: introspection,
// printSchema, and the preparation for the next change, which a running gateway does when idle.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import request from 'supertest';
import { parse } from 'yaml';
import { createSchemaBuilder } from '../../../src/graphql/schema-builder.ts';
import { isCollected } from '../../../src/graphql/lazy-schema.ts';
import { crdToModel } from '../../../src/model/crd-to-model.ts';
import { createApp } from '../../../src/transports/create-app.ts';
import { attachWebSocket } from '../../../src/transports/graphql-ws-server.ts';
import { SchemaGateway } from '../../../src/transports/schema-gateway.ts';
import { InMemoryOperations } from '../in-memory-operations.ts';

const crd = (file: string) => crdToModel(parse(readFileSync(fileURLToPath(new URL(`../../../deploy/examples/${file}`, import.meta.url)), 'utf8')));
const models = [crd('crontab-crd.yaml'), crd('clustercrontab-crd.yaml')];

test('a started gateway serves queries and mutations without collecting the type map', async () => {
  const builder = createSchemaBuilder({ operations: new InMemoryOperations(), assumeValid: true });
  const { schema } = builder.build(models);
  assert.ok(!isCollected(schema), 'the build does not collect');
  const gateway = new SchemaGateway(schema);
  const { app, stop } = await createApp({ gateway, readiness: () => ({ ready: true, reasons: [] }), explorer: false });
  const server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const ws = attachWebSocket(server, { path: '/graphql', schema: () => gateway.current });
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const created = await request(url).post('/graphql').send({
      query: 'mutation New($ns: String!, $input: CronTab_v1_stable_example_com_Input!) { createCronTab_stable_example_com(namespace: $ns, input: $input) { metadata { name } spec { replicas } } }',
      variables: { ns: 'default', input: { metadata: { name: 'one' }, spec: { cronSpec: '* * * * *', image: 'img', replicas: 2 } } },
    });
    assert.deepEqual(created.body, { data: { createCronTab_stable_example_com: { metadata: { name: 'one' }, spec: { replicas: 2 } } } });
    const listed = await request(url).post('/graphql').send({
      query: 'query List($where: CronTab_v1_stable_example_com_Where) { cronTabList_stable_example_com(namespace: "default", where: $where) { edges { node { metadata { name } } } } }',
      variables: { where: { spec: { replicas: { eq: 2 } } } },
    });
    assert.deepEqual(listed.body, { data: { cronTabList_stable_example_com: { edges: [{ node: { metadata: { name: 'one' } } }] } } });
    assert.ok(!isCollected(schema), 'starting and serving did not collect');
    const unknown = await request(url).post('/graphql').send({ query: 'query Q($x: NoSuchType) { apiResources { kind } }' });
    assert.match(unknown.body.errors[0].message, /Unknown type "NoSuchType"/);
    // The unknown name was looked up in the collected type map, as graphql-js would.
    assert.ok(isCollected(schema), 'an unknown type name collects');
  } finally {
    await ws.close();
    server.close();
    await stop();
  }
});

test('known names answer before the collection; the preparation for the next change collects', () => {
  const builder = createSchemaBuilder({ operations: new InMemoryOperations(), assumeValid: true });
  const { schema } = builder.build(models);
  for (const name of ['CronTab_v1_stable_example_com', 'CronTab_v1_stable_example_com_Input', 'CronTab_v1_stable_example_com_Where', 'String', 'Query', 'Mutation', 'KubernetesResource']) {
    assert.equal(schema.getType(name)?.name, name);
  }
  assert.ok(!isCollected(schema));
  builder.prepareIncremental();
  assert.ok(isCollected(schema));
  const names = Object.keys(schema.getTypeMap());
  for (const name of names) assert.equal(schema.getType(name), schema.getTypeMap()[name]);
  assert.equal(schema.getType('NoSuchType'), undefined);
});
