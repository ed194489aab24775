// Prints the CronTabs of namespace tenant-a, then every change to them, over GraphQL subscriptions
// (graphql-ws). Usage: TOKEN=<a demo token> node examples/watch-crontabs.mjs [ws://127.0.0.1:4000/graphql]
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const client = createClient({
  url: process.argv[2] ?? 'ws://127.0.0.1:4000/graphql',
  webSocketImpl: WebSocket,
  connectionParams: { authorization: `Bearer ${process.env.TOKEN}` },
});
const query = `subscription {
  watchCronTab_stable_example_com(namespace: "tenant-a", sendInitialEvents: true) {
    type object { metadata { name } spec { replicas } } } }`;
for await (const { data, errors } of client.iterate({ query })) {
  if (errors) throw new Error(errors.map((e) => e.message).join('; '));
  const { type, object } = data.watchCronTab_stable_example_com;
  console.log(type, object?.metadata.name ?? '', object?.spec?.replicas ?? '');
}
