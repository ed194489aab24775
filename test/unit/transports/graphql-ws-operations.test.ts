// Every subscribe message is an API request as an HTTP one is: admitted by the tenant's budgets,
// refused with the codes Apollo gives the same errors over HTTP, and recorded (method 'WS') for
// request logs and metrics, whether a query or mutation answered, a subscription started, or the
// operation was refused before it ran.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { buildSchema, type ExecutionResult } from 'graphql';
import type { Client } from 'graphql-ws';
import { ApiError } from '../../../src/api-errors.ts';
import type { RequestRecord } from '../../../src/plugins/request-tracker.ts';
import { attachWebSocket, type WebSocketHandle } from '../../../src/transports/graphql-ws-server.ts';
import { firstAnswerOver, openClient, waitUntil } from '../../helpers/subscription-client.ts';

const schema = buildSchema(`
  enum Color { RED BLUE }
  type Query { a: Int missing: Int broken: Int }
  type Mutation { m: Int }
  type Subscription { colors(color: Color): Color }
`);
const fields = (type: 'Query' | 'Mutation' | 'Subscription') => (type === 'Query' ? schema.getQueryType() : type === 'Mutation' ? schema.getMutationType() : schema.getSubscriptionType())!.getFields();
fields('Query')['a']!.resolve = () => 1;
fields('Query')['missing']!.resolve = () => {
  throw new ApiError('NOT_FOUND', 'no such thing');
};
fields('Query')['broken']!.resolve = () => {
  throw new Error('a bug');
};
fields('Mutation')['m']!.resolve = () => 2;
fields('Subscription')['colors']!.subscribe = async function* (_s: unknown, args: { color?: string }) {
  yield { colors: args.color ?? 'RED' };
  await new Promise(() => {});
};

const records: RequestRecord[] = [];
const admitted: string[] = [];
let refuseAdmission = false;
let server: Server;
let ws: WebSocketHandle;
let client: Client;

before(async () => {
  server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  ws = attachWebSocket(server, {
    path: '/graphql',
    schema: () => schema,
    onOperationDone: (r) => records.push({ ...r }),
    admit: (tenant) => {
      admitted.push(tenant);
      if (refuseAdmission) throw new ApiError('TOO_MANY_REQUESTS', 'over budget', { retryAfterSeconds: 3 });
    },
  });
  client = openClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});

after(async () => {
  await client.dispose();
  await ws.close();
  server.close();
});

/** The first result (or the errors) of one operation; a subscription is left running. */
const firstResult = (payload: Parameters<typeof firstAnswerOver>[1]) => firstAnswerOver(client, payload) as Promise<ExecutionResult>;

/** The record of the operation `run` sends. */
async function recordOf(run: () => Promise<ExecutionResult>): Promise<{ record: RequestRecord; result: ExecutionResult }> {
  const seen = records.length;
  const result = await run();
  await waitUntil(() => records.length > seen, 5000, 'the operation to be recorded');
  assert.equal(records.length, seen + 1, 'one record per operation');
  return { record: records[seen]!, result };
}

test('a query and a mutation are recorded with their type, name and ok; a subscription once it has started', async () => {
  const q = await recordOf(() => firstResult({ query: 'query Q { a }' }));
  assert.deepEqual(q.result.data, { a: 1 });
  assert.equal(q.record.method, 'WS');
  assert.equal(q.record.path, '/graphql');
  assert.deepEqual([q.record.type, q.record.operationName, q.record.code, q.record.status, q.record.aborted], ['query', 'Q', 'ok', 200, false]);
  assert.ok(q.record.durationMs >= 0);
  assert.match(q.record.requestId, /^[0-9a-f-]{36}-.+$/, 'the connection id and the subscription id');
  const m = await recordOf(() => firstResult({ query: 'mutation { m }' }));
  assert.deepEqual([m.record.type, m.record.operationName, m.record.code], ['mutation', undefined, 'ok']);
  const s = await recordOf(() => firstResult({ query: 'query A { a } subscription S($c: Color) { colors(color: $c) }', operationName: 'S', variables: { c: 'BLUE' } }));
  assert.deepEqual(s.result.data, { colors: 'BLUE' });
  assert.deepEqual([s.record.type, s.record.operationName, s.record.code], ['subscription', 'S', 'ok']);
  assert.deepEqual(admitted, ['', '', ''], 'each operation admitted, as the tenant "" without tenants');
});

test('refusals carry Apollo\'s codes for clients and are recorded as HTTP requests are', async () => {
  const cases: [payload: Parameters<typeof firstResult>[0], type: string, code: string, status: number][] = [
    [{ query: '{ a' }, 'invalid', 'GRAPHQL_PARSE_FAILED', 400],
    [{ query: 'mutation M { nosuch }' }, 'mutation', 'GRAPHQL_VALIDATION_FAILED', 400],
    [{ query: 'query A { a } query B { a }' }, 'invalid', 'OPERATION_RESOLUTION_FAILURE', 400],
    [{ query: 'query A { a }', operationName: 'B' }, 'invalid', 'OPERATION_RESOLUTION_FAILURE', 400],
    [{ query: 'subscription($c: Color) { colors(color: $c) }', variables: { c: 'GREEN' } }, 'subscription', 'BAD_USER_INPUT', 400],
    [{ query: '{ missing }' }, 'query', 'NOT_FOUND', 404],
    [{ query: '{ broken }' }, 'query', 'INTERNAL', 500],
  ];
  for (const [payload, type, code, status] of cases) {
    const { record, result } = await recordOf(() => firstResult(payload));
    const what = JSON.stringify(payload);
    assert.deepEqual([record.type, record.code, record.status], [type, code, status], what);
    if (code !== 'BAD_USER_INPUT') assert.equal(result.errors?.[0]?.extensions?.code, code, `${what}: ${JSON.stringify(result.errors)}`);
  }
  const several = await firstResult({ query: 'query A { a } query B { a }' });
  assert.equal(several.errors?.[0]?.message, 'Must provide operation name if query contains multiple operations.');
});

test('an operation over the tenant\'s budget is refused with TOO_MANY_REQUESTS before its document is read', async () => {
  refuseAdmission = true;
  try {
    const { record, result } = await recordOf(() => firstResult({ query: '{ a' }));
    assert.equal(result.errors?.[0]?.extensions?.code, 'TOO_MANY_REQUESTS');
    assert.equal(result.errors?.[0]?.extensions?.retryAfterSeconds, 3);
    assert.deepEqual([record.type, record.code, record.status], ['unknown', 'TOO_MANY_REQUESTS', 429]);
  } finally {
    refuseAdmission = false;
  }
  const again = await firstResult({ query: '{ a }' });
  assert.deepEqual(again.data, { a: 1 }, 'the connection goes on');
});
