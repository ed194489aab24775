// A root type's field map builds a field when it is first read: a document's validation and
// execution read a few of a root type's thousands of fields. Read whole, the map is graphql-js'
// own, in the same order with the same fields.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GraphQLInt, GraphQLList, GraphQLNonNull, GraphQLObjectType, GraphQLString, graphqlSync, printType } from 'graphql';
import type { GraphQLFieldConfig, GraphQLFieldConfigMap } from 'graphql';
import { lazySchema, rootObjectType } from '../../../src/graphql/lazy-schema.ts';

/** Field configs whose arguments count how often graphql-js reads them (once per field it builds). */
function countedConfigs(count: number): { fields: GraphQLFieldConfigMap<unknown, unknown>; reads: Map<string, number> } {
  const reads = new Map<string, number>();
  const fields: GraphQLFieldConfigMap<unknown, unknown> = {};
  for (let i = count - 1; i >= 0; i--) {
    const name = `field${i}`;
    const config: GraphQLFieldConfig<unknown, unknown> = {
      type: i % 2 ? GraphQLString : new GraphQLNonNull(new GraphQLList(GraphQLInt)),
      description: `Field ${i}.`,
      ...(i % 3 ? { deprecationReason: 'old' } : {}),
      resolve: () => (i % 2 ? `value ${i}` : [i]),
      extensions: { index: i },
    };
    Object.defineProperty(config, 'args', {
      enumerable: true,
      get: () => {
        reads.set(name, (reads.get(name) ?? 0) + 1);
        return { first: { type: GraphQLInt, defaultValue: i, description: 'How many.' }, after: { type: GraphQLString } };
      },
    });
    fields[name] = config;
  }
  return { fields, reads };
}

test('a root field is built when read, alone, once', () => {
  const { fields, reads } = countedConfigs(50);
  const root = rootObjectType({ name: 'Query', fields });
  const map = root.getFields();
  assert.equal(reads.size, 0);
  assert.equal(map['field7']!.name, 'field7');
  assert.equal(map['field7'], root.getFields()['field7']);
  assert.deepEqual([...reads], [['field7', 1]]);
  assert.equal(map['missing'], undefined);
  assert.equal(map['toString'], undefined);
  assert.equal('field3' in map, true);
  assert.equal('missing' in map, false);
  assert.deepEqual([...reads], [['field7', 1]]);
});

test('read whole, the map is graphql-js\' own: same order, same fields', () => {
  const { fields, reads } = countedConfigs(40);
  const lazy = rootObjectType({ name: 'Query', fields, description: 'Root.' });
  const eager = new GraphQLObjectType({ name: 'Query', fields, description: 'Root.' });
  // One field read before the whole map.
  assert.equal(lazy.getFields()['field11']!.args[0]!.defaultValue, 11);
  assert.deepEqual(Object.keys(lazy.getFields()), Object.keys(eager.getFields()));
  assert.deepEqual(Object.values(lazy.getFields()), Object.values(eager.getFields()));
  assert.deepEqual(Object.entries(lazy.getFields()), Object.entries(eager.getFields()));
  const forIn: string[] = [];
  for (const key in lazy.getFields()) forIn.push(key);
  assert.deepEqual(forIn, Object.keys(eager.getFields()));
  assert.equal(printType(lazy), printType(eager));
  assert.deepEqual(lazy.toConfig().fields, eager.toConfig().fields);
  // Each field built once by the lazy map (the eager type built each once too).
  for (const count of reads.values()) assert.equal(count, 2);
  assert.equal(reads.size, 40);
});

test('two root types over the same configs share their fields; a schema of them runs and introspects like graphql-js\'', () => {
  const { fields } = countedConfigs(6);
  const one = rootObjectType({ name: 'Query', fields });
  const two = rootObjectType({ name: 'Query', fields: { field1: fields['field1']!, field4: fields['field4']! } });
  assert.equal(one.getFields()['field1'], two.getFields()['field1']);
  const lazy = lazySchema({ query: rootObjectType({ name: 'Query', fields }) });
  const eager = lazySchema({ query: new GraphQLObjectType({ name: 'Query', fields }) });
  for (const source of ['{ field1 field4 field5(first: 2) }', '{ __type(name: "Query") { fields(includeDeprecated: true) { name args { name defaultValue } isDeprecated } } }', '{ nope }']) {
    assert.deepEqual(graphqlSync({ schema: lazy, source }), graphqlSync({ schema: eager, source }), source);
  }
});
