import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSchema, parse, type GraphQLObjectType } from 'graphql';
import { selectsCallerDependentField, sharedResultStats, SharedSelections } from '../../../src/graphql/shared-subscription-results.ts';

function schemaWithCounter() {
  const schema = buildSchema('type Obj { name: String, mine: String } type Event { type: String, object: Obj } type Query { x: Int } type Subscription { watch: Event }');
  let resolved = 0;
  const obj = schema.getType('Obj') as GraphQLObjectType;
  obj.getFields().name!.resolve = (o: { metadata: { name: string } }) => {
    resolved++;
    return o.metadata.name;
  };
  obj.getFields().mine!.resolve = (_o, _a, ctx: { user: string }) => ctx.user;
  obj.getFields().mine!.extensions = { callerDependent: true };
  schema.getSubscriptionType()!.getFields().watch!.resolve = (e: unknown) => e;
  return { schema, resolved: () => resolved };
}

test('members of a group (same schema, document, operation name, variables) share one execution and one serialized payload per event', () => {
  const { schema, resolved } = schemaWithCounter();
  const groups = new SharedSelections();
  const q = 'subscription { watch { type object { name } } }';
  const args = (source: string, variableValues?: Record<string, unknown>) => ({ schema, document: parse(source), variableValues: variableValues ?? null, contextValue: { user: 'u' } });
  const a = groups.join(args(q), q);
  const b = groups.join(args(q), q);
  const other = 'subscription { watch { object { name } } }';
  const c = groups.join(args(other), other);
  const d = groups.join(args(q, { v: 1 }), q);
  assert.equal(a, b);
  assert.notEqual(a, c);
  assert.notEqual(a, d, 'other variables, another group');
  assert.equal(groups.size, 3);
  const before = { ...sharedResultStats };
  const event = { type: 'ADDED', object: { metadata: { name: 'a "quoted" \u0000 name' } } };
  const pa = a.payloadOf(event);
  const pb = b.payloadOf(event);
  assert.ok(pa instanceof Buffer);
  assert.equal(pa, pb, 'the same bytes, not a copy');
  assert.deepEqual(JSON.parse(pa.toString()), { data: { watch: { type: 'ADDED', object: { name: 'a "quoted" \u0000 name' } } } });
  assert.deepEqual(JSON.parse((c.payloadOf(event) as Buffer).toString()), { data: { watch: { object: { name: 'a "quoted" \u0000 name' } } } });
  assert.equal(resolved(), 2, 'one execution per group, not per member');
  assert.equal(sharedResultStats.executed - before.executed, 2);
  assert.equal(sharedResultStats.shared - before.shared, 1);
  a.leave();
  assert.equal(groups.size, 3);
  b.leave();
  assert.equal(groups.size, 2, 'a group goes with its last member');
});

test('an operation selecting a field that depends on the caller is executed per subscriber', () => {
  const { schema } = schemaWithCounter();
  const groups = new SharedSelections();
  const q = 'subscription { watch { object { name mine } } }';
  assert.equal(selectsCallerDependentField(schema, parse(q)), true);
  assert.equal(selectsCallerDependentField(schema, parse('subscription { watch { ...F } } fragment F on Event { object { name } }')), false);
  const alice = groups.join({ schema, document: parse(q), contextValue: { user: 'alice' } }, q);
  const bob = groups.join({ schema, document: parse(q), contextValue: { user: 'bob' } }, q);
  assert.notEqual(alice, bob);
  const event = { type: 'ADDED', object: { metadata: { name: 'x' } } };
  assert.deepEqual(JSON.parse((alice.payloadOf(event) as Buffer).toString()).data.watch.object.mine, 'alice');
  assert.deepEqual(JSON.parse((bob.payloadOf(event) as Buffer).toString()).data.watch.object.mine, 'bob');
});

test('errors of a result are formatted by the server\'s formatter, once for the group', () => {
  const schema = buildSchema('type Event { type: String! } type Query { x: Int } type Subscription { watch: Event }');
  schema.getSubscriptionType()!.getFields().watch!.resolve = (e: unknown) => e;
  let formatted = 0;
  const groups = new SharedSelections({ formatErrors: (errors) => {
    formatted++;
    return errors.map((e) => ({ message: `formatted: ${e.message}` }));
  } });
  const q = 'subscription { watch { type } }';
  const g = groups.join({ schema, document: parse(q) }, q);
  groups.join({ schema, document: parse(q) }, q);
  const event = { type: null };
  const payload = JSON.parse((g.payloadOf(event) as Buffer).toString()) as { errors: { message: string }[] };
  g.payloadOf(event);
  assert.match(payload.errors[0]!.message, /^formatted: Cannot return null for non-nullable field Event.type/);
  assert.equal(formatted, 1);
});
