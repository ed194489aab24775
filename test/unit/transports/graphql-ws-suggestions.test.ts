// Over WebSocket as over HTTP, hideSuggestions leaves "Did you mean …?" out of every error a
// subscribe message can get: validation's, and those of variables that do not coerce (which
// graphql-js reports when the subscription starts, with the suggestions unless told otherwise).
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { buildSchema } from 'graphql';
import { attachWebSocket } from '../../../src/transports/graphql-ws-server.ts';
import { openClient, Subscription, waitUntil } from '../../helpers/subscription-client.ts';

const schema = buildSchema('enum Color { RED BLUE } type Query { a: Int } type Subscription { colors(color: Color): Color }');
(schema.getSubscriptionType()!.getFields()['colors']!).subscribe = async function* (_s: unknown, args: { color?: string }) {
  yield { colors: args.color ?? 'RED' };
};

for (const hideSuggestions of [true, false]) {
  test(`the errors of a subscription's variables ${hideSuggestions ? 'hide' : 'give'} suggestions when hideSuggestions is ${hideSuggestions}`, async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const ws = attachWebSocket(server, { path: '/graphql', schema: () => schema, hideSuggestions });
    const client = openClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    try {
      const sub = new Subscription(client, 'subscription S($c: Color) { colors(color: $c) }', { c: 'REDD' });
      await waitUntil(() => sub.error !== undefined, 5000, 'the subscription is refused');
      assert.match(sub.error![0]!.message, /^Variable "\$c" got invalid value "REDD"; Value "REDD" does not exist in "Color" enum\./);
      assert.equal(/Did you mean/.test(sub.error![0]!.message), !hideSuggestions, sub.error![0]!.message);
    } finally {
      await client.dispose();
      await ws.close();
      server.close();
    }
  });
}
