// A bad value written inline in a document is refused with the path of that value inside its
// argument (and its location), as the same value in a variable is, over HTTP and over graphql-ws:
// in a large input object the location alone leaves the client counting braces.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { buildSchema } from 'graphql';
import { createApp } from '../../../src/transports/create-app.ts';
import { SchemaGateway } from '../../../src/transports/schema-gateway.ts';
import { attachWebSocket, type WebSocketHandle } from '../../../src/transports/graphql-ws-server.ts';
import { openClient, Subscription, waitUntil } from '../../helpers/subscription-client.ts';

const schema = buildSchema(`
  input Spec { replicas: Int, images: [String!], limits: Limits }
  input Limits { cpu: Float!, memory: Int }
  input Obj { name: String!, spec: Spec }
  enum Color { RED }
  type Query { a(n: Int, obj: Obj, color: Color): Int }
  type Subscription { s(obj: Obj): Int }
`);

interface Answer { errors?: { message: string; locations?: { line: number; column: number }[]; extensions?: { code?: string } }[] }

let port = 0;
let ws: WebSocketHandle;
let close: () => Promise<void>;

before(async () => {
  const app = await createApp({ gateway: new SchemaGateway(schema), readiness: () => ({ ready: true, reasons: [] }), explorer: false });
  const server = app.app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  port = (server.address() as AddressInfo).port;
  ws = attachWebSocket(server, { path: '/graphql', schema: () => schema });
  close = async () => {
    await ws.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
});
after(() => close());

async function post(query: string, variables?: Record<string, unknown>): Promise<Answer> {
  const res = await fetch(`http://127.0.0.1:${port}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
  return await res.json() as Answer;
}

describe('errors of inline values name their path', () => {
  it('a nested literal: its path in the argument, its location, as the variable error gives its path', async () => {
    const inline = await post('{ a(obj: {name: "x", spec: {replicas: "many"}}) }');
    assert.deepEqual(inline.errors?.map((e) => [e.message, e.locations, e.extensions?.code]), [[
      'Argument "obj" has an invalid value at "obj.spec.replicas": Int cannot represent non-integer value: "many"', [{ line: 1, column: 39 }], 'GRAPHQL_VALIDATION_FAILED',
    ]]);
    const variable = await post('query($o: Obj) { a(obj: $o) }', { o: { name: 'x', spec: { replicas: 'many' } } });
    assert.match(variable.errors![0]!.message, /at "o\.spec\.replicas"/);
  });

  it('list items, missing and unknown input fields, enums, top-level arguments and variable defaults', async () => {
    const answer = await post('query($d: Obj = {name: 1}) { a(n: "x", color: BLUE, obj: {name: "x", spec: {images: ["a", 2], limits: {memory: 1}, nope: 1}}) b: a(obj: $d) }');
    assert.deepEqual(answer.errors?.map((e) => e.message), [
      'Variable "$d" has an invalid default value at "d.name": String cannot represent a non string value: 1',
      'Argument "n" has an invalid value: Int cannot represent non-integer value: "x"',
      'Argument "color" has an invalid value: Value "BLUE" does not exist in "Color" enum.',
      'Argument "obj" has an invalid value at "obj.spec.images[1]": String cannot represent a non string value: 2',
      'Argument "obj" has an invalid value at "obj.spec.limits": Field "Limits.cpu" of required type "Float!" was not provided.',
      'Argument "obj" has an invalid value at "obj.spec.nope": Field "nope" is not defined by type "Spec".',
    ]);
  });

  it('errors that are not about a value are as graphql-js reports them', async () => {
    const answer = await post('{ a(zzz: 1) nope }');
    assert.deepEqual(answer.errors?.map((e) => e.message), ['Unknown argument "zzz" on field "Query.a".', 'Cannot query field "nope" on type "Query".']);
  });

  it('over graphql-ws as over HTTP', async () => {
    const client = openClient(`http://127.0.0.1:${port}`);
    try {
      const sub = new Subscription(client, 'subscription { s(obj: {name: "x", spec: {replicas: "many"}}) }');
      await waitUntil(() => sub.error !== undefined, 5000, 'the subscription is refused');
      assert.equal(sub.error![0]!.message, 'Argument "obj" has an invalid value at "obj.spec.replicas": Int cannot represent non-integer value: "many"');
    } finally {
      await client.dispose();
    }
  });
});
