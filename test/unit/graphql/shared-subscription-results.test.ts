import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSchema, parse, type ExecutionResult } from 'graphql';
import { sharedResultStats, subscribeShared } from '../../../src/graphql/shared-subscription-results.ts';

test('subscribers of the same event and operation share one execution', async () => {
  const shared = { metadata: { name: 'a' } };
  let resolved = 0;
  const schema = buildSchema('type Obj { name: String } type Event { type: String, object: Obj } type Query { x: Int } type Subscription { watch: Event }');
  const events = () => (async function* () {
    yield { type: 'ADDED', object: shared, resourceVersion: '5' };
  })();
  const rootValue = { watch: events };
  (schema.getType('Obj') as import('graphql').GraphQLObjectType).getFields().name!.resolve = (o: { metadata: { name: string } }) => {
    resolved++;
    return o.metadata.name;
  };
  (schema.getSubscriptionType()!.getFields().watch!).resolve = (e: unknown) => e;
  (schema.getSubscriptionType()!.getFields().watch!).subscribe = () => events();
  const run = async (query: string) => {
    const stream = (await subscribeShared({ schema, document: parse(query), rootValue })) as AsyncIterable<ExecutionResult>;
    const out: unknown[] = [];
    for await (const r of stream) out.push(JSON.parse(JSON.stringify(r.data)));
    return out;
  };
  const before = { ...sharedResultStats };
  const q = 'subscription { watch { type object { name } } }';
  const [a, b, c] = await Promise.all([run(q), run(q), run('subscription { watch { object { name } } }')]);
  assert.deepEqual(a, [{ watch: { type: 'ADDED', object: { name: 'a' } } }]);
  assert.deepEqual(b, a);
  assert.deepEqual(c, [{ watch: { object: { name: 'a' } } }]);
  assert.equal(resolved, 2, 'one execution per distinct operation, not per subscriber');
  assert.equal(sharedResultStats.executed - before.executed, 2);
  assert.equal(sharedResultStats.shared - before.shared, 1);
});

test('a shared result is serialized once and spliced into each message', async () => {
  const { replaceSharedPayload, expandResultTokens, sharedResults } = await import('../../../src/graphql/shared-subscription-results.ts');
  const result = { data: { watch: { type: 'ADDED', object: { name: 'a "quoted" \u0000 name' } } } };
  sharedResults.add(result);
  const before = sharedResultStats.serialized;
  const m1 = expandResultTokens(JSON.stringify({ id: '1', type: 'next', payload: result }, replaceSharedPayload));
  const m2 = expandResultTokens(JSON.stringify({ id: '2', type: 'next', payload: result }, replaceSharedPayload));
  assert.deepEqual(JSON.parse(m1), { id: '1', type: 'next', payload: result });
  assert.deepEqual(JSON.parse(m2), { id: '2', type: 'next', payload: result });
  assert.equal(sharedResultStats.serialized - before, 1);
  const unshared = { data: { x: 1 } };
  assert.equal(expandResultTokens(JSON.stringify({ payload: unshared }, replaceSharedPayload)), '{"payload":{"data":{"x":1}}}');
});
