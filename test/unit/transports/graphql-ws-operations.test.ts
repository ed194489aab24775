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
import type { RequestRecord, SubscriptionEndRecord } from '../../../src/plugins/request-tracker.ts';
import { attachWebSocket, type WebSocketHandle } from '../../../src/transports/graphql-ws-server.ts';
import { firstAnswerOver, openClient, RawGraphQLSocket, waitUntil } from '../../helpers/subscription-client.ts';

const schema = buildSchema(`
  enum Color { RED BLUE }
  type Query { a: Int missing: Int broken: Int slow: Int }
  type Mutation { m: Int }
  type Subscription { colors(color: Color): Color bad: Int once: Int shed: Int refused: Int }
`);
const fields = (type: 'Query' | 'Mutation' | 'Subscription') => (type === 'Query' ? schema.getQueryType() : type === 'Mutation' ? schema.getMutationType() : schema.getSubscriptionType())!.getFields();
fields('Query')['a']!.resolve = () => {
  if (inScope) inScope.ran = true;
  return 1;
};
fields('Query')['missing']!.resolve = () => {
  throw new ApiError('NOT_FOUND', 'no such thing');
};
fields('Query')['broken']!.resolve = () => {
  throw new Error('a bug');
};
fields('Subscription')['refused']!.subscribe = () => {
  throw new ApiError('FORBIDDEN', 'not yours');
};
fields('Subscription')['once']!.subscribe = async function* () {
  yield { once: 1 };
};
fields('Subscription')['shed']!.subscribe = async function* () {
  yield { shed: 1 };
  throw new ApiError('SLOW_CONSUMER', 'fell behind');
};
// A server bug: graphql-js throws (not an error result) for a subscription that is no stream.
fields('Subscription')['bad']!.subscribe = () => 42;
/** Resolves the running `slow` fields. */
const slowOnes: (() => void)[] = [];
fields('Query')['slow']!.resolve = () => new Promise((resolve) => slowOnes.push(() => resolve(3)));
fields('Mutation')['m']!.resolve = () => 2;
/** One event, then nothing until it is ended, as the hub's feeds are: return() ends it at once. */
function oneThenQuiet<T>(value: T): AsyncIterableIterator<T> {
  let sent = false;
  let wake: ((r: IteratorResult<T>) => void) | undefined;
  const done = { done: true, value: undefined } as IteratorResult<T>;
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    next: () => {
      if (!sent) {
        sent = true;
        return Promise.resolve({ done: false, value });
      }
      return new Promise((resolve) => (wake = resolve));
    },
    return: () => {
      wake?.(done);
      return Promise.resolve(done);
    },
  };
}
fields('Subscription')['colors']!.subscribe = (_s: unknown, args: { color?: string }) => oneThenQuiet({ colors: args.color ?? 'RED' });

const records: RequestRecord[] = [];
const ends: SubscriptionEndRecord[] = [];
const reported: unknown[] = [];
const admitted: string[] = [];
let refuseAdmission = false;
/** What the plugins' socketOperation hook saw: each operation's start, whether it ran inside the scope, its outcome. */
const scoped: { type: string; name: string | undefined; requestId: string | undefined; ran: boolean; code?: string }[] = [];
let inScope: (typeof scoped)[number] | undefined;
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
    onSubscriptionEnd: (r) => {
      ends.push(r);
      if (r.operationName === 'Boom') throw new Error('a reader of ends failed');
    },
    reportInternal: (e) => void reported.push(e),
    socketOperation: (start) => {
      const entry: (typeof scoped)[number] = { type: start.type, name: start.name, requestId: start.context.requestId, ran: false };
      scoped.push(entry);
      return {
        run: (execute) => {
          inScope = entry;
          try {
            return execute();
          } finally {
            inScope = undefined;
          }
        },
        done: (code) => {
          entry.code = code;
        },
      };
    },
    // As the query limits word a refusal over HTTP.
    formatError: (formatted) => (/introspection/.test(formatted.message) ? { ...formatted, message: 'no introspection here', extensions: { ...formatted.extensions, code: 'BAD_REQUEST' } } : formatted),
    introspection: false,
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
  await new Promise((r) => setImmediate(r));
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
  assert.deepEqual(scoped.slice(0, 3).map((e) => [e.type, e.name, e.requestId, e.code]), [
    ['query', 'Q', q.record.requestId, 'ok'], ['mutation', undefined, m.record.requestId, 'ok'], ['subscription', 'S', s.record.requestId, 'ok'],
  ]);
  assert.equal(scoped[0]!.ran, true, 'the query ran inside the plugins\' scope');
});

test('refusals carry Apollo\'s codes for clients and are recorded as HTTP requests are', async () => {
  const cases: [payload: Parameters<typeof firstResult>[0], type: string, code: string, status: number][] = [
    [{ query: '{ a' }, 'invalid', 'GRAPHQL_PARSE_FAILED', 400],
    [{ query: 'mutation M { nosuch }' }, 'mutation', 'GRAPHQL_VALIDATION_FAILED', 400],
    [{ query: 'query A { a } query B { a }' }, 'invalid', 'OPERATION_RESOLUTION_FAILURE', 400],
    [{ query: 'query A { a }', operationName: 'B' }, 'invalid', 'OPERATION_RESOLUTION_FAILURE', 400],
    [{ query: 'query A { a }', operationName: '' }, 'invalid', 'OPERATION_RESOLUTION_FAILURE', 400],
    [{ query: '{ __schema { types { name } } }' }, 'query', 'BAD_REQUEST', 400],
    // Executed: 200 whatever the errors, as Apollo Server answers over HTTP, but for variables (400).
    [{ query: 'subscription($c: Color) { colors(color: $c) }', variables: { c: 'GREEN' } }, 'subscription', 'BAD_USER_INPUT', 400],
    [{ query: 'query($c: Boolean!) { a @include(if: $c) }', variables: { c: 'x' } }, 'query', 'BAD_USER_INPUT', 400],
    [{ query: '{ missing }' }, 'query', 'NOT_FOUND', 200],
    [{ query: '{ broken }' }, 'query', 'INTERNAL', 200],
    // A subscription that does not start: its error's status, as a REST watch's.
    [{ query: 'subscription { refused }' }, 'subscription', 'FORBIDDEN', 403],
  ];
  for (const [payload, type, code, status] of cases) {
    const { record, result } = await recordOf(() => firstResult(payload));
    const what = JSON.stringify(payload);
    assert.deepEqual([record.type, record.code, record.status], [type, code, status], what);
    assert.equal(result.errors?.[0]?.extensions?.code, code, `${what}: ${JSON.stringify(result.errors)}`);
  }
  const several = await firstResult({ query: 'query A { a } query B { a }' });
  assert.equal(several.errors?.[0]?.message, 'Must provide operation name if query contains multiple operations.');
  assert.equal((await firstResult({ query: 'query A { a }', operationName: '' })).errors?.[0]?.message, 'Unknown operation named "".');
  assert.equal((await firstResult({ query: '{ __schema { types { name } } }' })).errors?.[0]?.message, 'no introspection here', 'the plugins\' formatError');
});

test('an operation over the tenant\'s budget is refused with TOO_MANY_REQUESTS before it is validated; a subscription on a connection with nothing running by closing it to be retried (1013)', async () => {
  refuseAdmission = true;
  const raw = await RawGraphQLSocket.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  try {
    const { record, result } = await recordOf(() => firstResult({ query: '{ nosuch }' }));
    assert.equal(result.errors?.[0]?.extensions?.code, 'TOO_MANY_REQUESTS');
    assert.equal(result.errors?.[0]?.extensions?.retryAfterSeconds, 3);
    assert.deepEqual([record.type, record.code, record.status], ['query', 'TOO_MANY_REQUESTS', 429]);
    assert.equal((await firstResult({ query: '{ a' })).errors?.[0]?.extensions?.code, 'TOO_MANY_REQUESTS', 'a document that does not parse spends the budget too');
    // A connection with a live stream keeps it: the new subscription gets the error.
    refuseAdmission = false;
    const live = raw.subscribe('subscription { colors }');
    await waitUntil(() => raw.of(live, 'next').length === 1, 5000, 'a live stream');
    refuseAdmission = true;
    const refused = raw.subscribe('subscription { colors }');
    await waitUntil(() => raw.of(refused, 'error').length === 1, 5000, 'the refusal');
    assert.equal((raw.of(refused, 'error')[0]!.payload as { extensions?: { code?: string } }[])[0]?.extensions?.code, 'TOO_MANY_REQUESTS');
    assert.equal(raw.closeCode, undefined);
    // One with nothing running closes (the resubscribing after a restart of the gateway).
    const fresh = await RawGraphQLSocket.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    fresh.subscribe('subscription { colors }');
    await waitUntil(() => fresh.closeCode !== undefined, 5000, 'the connection to close');
    assert.equal(fresh.closeCode, 1013, 'graphql-ws clients reconnect after 1013 and subscribe again; an error message would end the subscription for good');
  } finally {
    refuseAdmission = false;
    raw.close();
  }
  const again = await firstResult({ query: '{ a }' });
  assert.deepEqual(again.data, { a: 1 }, 'the connection goes on');
});

/** Sends `first` (a slow query) under `id`, completes it while it runs, and sends `next` under the same id. */
async function reuseWhileRunning(raw: RawGraphQLSocket, id: string, first: string, next: string): Promise<void> {
  const send = (message: unknown) => raw.ws.send(JSON.stringify(message));
  send({ id, type: 'subscribe', payload: { query: first } });
  await waitUntil(() => slowOnes.length === 1, 5000, `${first} to run`);
  send({ id, type: 'complete' });
  send({ id, type: 'subscribe', payload: { query: next } });
}

test('an operation completed by its client while it runs is CANCELLED; its id sent again meanwhile starts once it has finished, with its own answer', async () => {
  const raw = await RawGraphQLSocket.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  try {
    const seen = records.length;
    await reuseWhileRunning(raw, 'x', 'query First { slow }', 'query Second { slow }');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(slowOnes.length, 1, 'the second waits for the first to finish');
    slowOnes.shift()!();
    await waitUntil(() => slowOnes.length === 1, 5000, 'the second to run');
    slowOnes.shift()!();
    await waitUntil(() => raw.of('x', 'complete').length === 1, 5000, 'the second\'s answer');
    assert.deepEqual(raw.of('x', 'next').map((m) => m.payload), [{ data: { slow: 3 } }], 'one answer under x: the second\'s');
    const byName = new Map(records.slice(seen).map((r) => [r.operationName, r]));
    assert.deepEqual([byName.get('First')?.code, byName.get('First')?.aborted], ['CANCELLED', true]);
    assert.deepEqual([byName.get('Second')?.code, byName.get('Second')?.aborted], ['ok', false]);
    assert.deepEqual(scoped.filter((e) => e.name === 'First' || e.name === 'Second').map((e) => e.code), ['CANCELLED', 'ok'], 'every scope told its outcome');
    assert.equal(raw.closeCode, undefined);
  } finally {
    raw.close();
  }
});

test('a live subscription restarted under its id (complete and subscribe in one write) runs as the new one, and complete stops it', async () => {
  const raw = await RawGraphQLSocket.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  try {
    const endsOfX = () => ends.filter((e) => e.requestId.endsWith('-y'));
    const before = endsOfX().length;
    raw.ws.send(JSON.stringify({ id: 'y', type: 'subscribe', payload: { query: 'subscription A { colors(color: BLUE) }' } }));
    await waitUntil(() => raw.of('y', 'next').length === 1, 5000, 'the first subscription\'s event');
    raw.ws.send(`${JSON.stringify({ id: 'y', type: 'complete' })}`);
    raw.ws.send(JSON.stringify({ id: 'y', type: 'subscribe', payload: { query: 'subscription B { colors }' } }));
    await waitUntil(() => raw.of('y', 'next').length === 2, 5000, 'the second subscription\'s event');
    assert.deepEqual(raw.of('y').map((m) => [m.type, (m.payload as { data?: unknown } | undefined)?.data]), [['next', { colors: 'BLUE' }], ['next', { colors: 'RED' }]], 'no complete the client did not ask for');
    raw.ws.send(JSON.stringify({ id: 'y', type: 'complete' }));
    await waitUntil(() => endsOfX().length === before + 2, 5000, 'both ends');
    assert.deepEqual(endsOfX().slice(before).map((e) => [e.operationName, e.code]), [['A', 'CANCELLED'], ['B', 'CANCELLED']]);
  } finally {
    raw.close();
  }
});

test('a subscription id that is no request id goes into the record as a digest', async () => {
  const raw = await RawGraphQLSocket.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  try {
    const seen = records.length;
    raw.ws.send(JSON.stringify({ id: 'evil\n[00:00] INFO: forged', type: 'subscribe', payload: { query: '{ a }' } }));
    await waitUntil(() => records.length > seen, 5000, 'the record');
    assert.match(records[seen]!.requestId, /^[0-9a-f-]{36}-[0-9a-f]{16}$/);
  } finally {
    raw.close();
  }
});

test('an operation whose execution throws fails alone with an internal error, recorded INTERNAL; the connection goes on', async () => {
  const { record, result } = await recordOf(() => firstResult({ query: 'subscription { bad }' }));
  assert.deepEqual(result.errors?.map((e) => [e.message, e.extensions?.code]), [['internal error', 'INTERNAL']]);
  assert.deepEqual([record.type, record.code, record.status], ['subscription', 'INTERNAL', 500]);
  assert.deepEqual((await firstResult({ query: '{ a }' })).data, { a: 1 });
});

test('a subscription that started has its end told: by itself (ok), by its client (CANCELLED), with an error (its code)', async () => {
  const raw = await RawGraphQLSocket.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  try {
    // This connection's ends (ids are per connection: another connection's "1" is another operation).
    const mine = () => ends.filter((e) => records.some((r) => r.requestId === e.requestId && r.requestId.startsWith(connectionOf(once))));
    const connectionOf = (id: string) => records.find((r) => r.operationName === 'Once' && r.requestId.endsWith(`-${id}`))!.requestId.slice(0, 36);
    const endOf = async (id: string, then?: () => void) => {
      await waitUntil(() => raw.of(id, 'next').length > 0, 5000, `the first event of ${id}`);
      then?.();
      await waitUntil(() => mine().some((e) => e.requestId.endsWith(`-${id}`)), 5000, `the end of ${id}`);
      return mine().find((e) => e.requestId.endsWith(`-${id}`))!;
    };
    const once = raw.subscribe('subscription Once { once }');
    const own = await endOf(once);
    assert.deepEqual([own.code, own.operationName, own.tenant], ['ok', 'Once', undefined]);
    assert.ok(own.durationMs >= 0);
    const colors = raw.subscribe('subscription { colors }');
    assert.equal((await endOf(colors, () => raw.ws.send(JSON.stringify({ id: colors, type: 'complete' })))).code, 'CANCELLED');
    const shed = raw.subscribe('subscription { shed }');
    assert.equal((await endOf(shed)).code, 'SLOW_CONSUMER');
    const left = raw.subscribe('subscription { colors }');
    assert.equal((await endOf(left, () => raw.close())).code, 'CANCELLED', 'a closed socket ends it too');
    const refused = ends.length;
    await firstResult({ query: 'subscription { nosuch }' });
    await new Promise((r) => setImmediate(r));
    assert.equal(ends.length, refused, 'a refused subscription never started: no end');
  } finally {
    raw.close();
  }
});

test('a reader of ends that throws changes nothing for the connection; its error is reported', async () => {
  const raw = await RawGraphQLSocket.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  try {
    const boom = raw.subscribe('subscription Boom { colors }');
    await waitUntil(() => raw.of(boom, 'next').length > 0, 5000, 'its first event');
    raw.ws.send(JSON.stringify({ id: boom, type: 'complete' }));
    await waitUntil(() => reported.some((e) => e instanceof Error && e.message === 'a reader of ends failed'), 5000, 'the report');
    const after = raw.subscribe('subscription After { once }');
    await waitUntil(() => raw.of(after, 'complete').length > 0, 5000, 'the next subscription on the same connection');
    assert.equal(raw.closeCode, undefined);
  } finally {
    raw.close();
  }
});

test('a subscribe waiting for its id is dropped when its connection closes, and a second one for the same id closes the connection', async () => {
  const port = (server.address() as AddressInfo).port;
  const seen = records.length;
  const raw = await RawGraphQLSocket.connect(`http://127.0.0.1:${port}`);
  await reuseWhileRunning(raw, 'z', 'query Old { slow }', 'subscription Waiting { colors }');
  await new Promise((r) => setTimeout(r, 20));
  raw.close();
  await waitUntil(() => raw.closeCode !== undefined, 5000, 'the close');
  slowOnes.shift()!();
  await waitUntil(() => records.length > seen, 5000, 'the old one\'s record');
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(records.slice(seen).map((r) => r.operationName), ['Old'], 'the waiting subscription never started');

  const again = await RawGraphQLSocket.connect(`http://127.0.0.1:${port}`);
  try {
    await reuseWhileRunning(again, 'w', 'query Old { slow }', 'query First { a }');
    again.ws.send(JSON.stringify({ id: 'w', type: 'subscribe', payload: { query: 'query Second { a }' } }));
    await waitUntil(() => again.closeCode !== undefined, 5000, 'the close');
    assert.equal(again.closeCode, 4409);
  } finally {
    slowOnes.shift()?.();
    again.close();
  }
});

test('the plugins\' scope is told the outcome without any reader of records', async () => {
  const bare = createServer();
  await new Promise<void>((resolve) => bare.listen(0, '127.0.0.1', resolve));
  const codes: string[] = [];
  const handle = attachWebSocket(bare, { path: '/graphql', schema: () => schema, socketOperation: () => ({ run: (execute) => execute(), done: (code) => void codes.push(code) }) });
  const c = openClient(`http://127.0.0.1:${(bare.address() as AddressInfo).port}`);
  try {
    assert.deepEqual((await firstAnswerOver(c, { query: '{ a }' })).data, { a: 1 });
    assert.deepEqual((await firstAnswerOver(c, { query: '{ missing }' })).errors?.[0]?.extensions?.code, 'NOT_FOUND');
    await waitUntil(() => codes.length === 2, 5000, 'both outcomes');
    assert.deepEqual(codes, ['ok', 'NOT_FOUND']);
  } finally {
    await c.dispose();
    await handle.close();
    bare.close();
  }
});
