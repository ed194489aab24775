// What `crdgate serve` loads before it knows what a run needs: modules only some runs use are
// loaded by those runs (each costs megabytes for as long as the process lives).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';

const main = new URL('../../src/main.ts', import.meta.url).href;
const createApp = new URL('../../src/transports/create-app.ts', import.meta.url).href;
const schemaGateway = new URL('../../src/transports/schema-gateway.ts', import.meta.url).href;

test('the gateway\'s entry loads no module that only some runs need', () => {
  const probe = `
    import { registerHooks } from 'node:module';
    const loaded = new Set();
    registerHooks({ resolve(s, c, next) { const r = next(s, c); loaded.add(r.url); return r; } });
    await import(${JSON.stringify(main)});
    // An Apollo Server as the gateway starts it (Apollo loads some of its plugins when it starts).
    const { newApollo } = await import(${JSON.stringify(createApp)});
    const { SchemaGateway } = await import(${JSON.stringify(schemaGateway)});
    const { buildSchema } = await import('graphql');
    const apollo = newApollo(new SchemaGateway(buildSchema('type Query { a: String }')));
    await apollo.start();
    await apollo.stop();
    console.log(JSON.stringify([...loaded]));
  `;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', probe], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  const loaded = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as string[];
  const packages = new Set(loaded.flatMap((u) => {
    const at = u.lastIndexOf('/node_modules/');
    if (at < 0) return [];
    const [scope, name] = u.slice(at + '/node_modules/'.length).split('/');
    return [scope!.startsWith('@') ? `${scope}/${name}` : scope!];
  }));
  assert.ok(packages.has('graphql') && packages.has('express'), 'the probe sees the gateway\'s modules');
  for (const onlySome of [
    'ioredis', // --redis-url
    '@opentelemetry/sdk-trace', '@opentelemetry/exporter-trace-otlp-http', // --tracing otlp
    'jsonwebtoken', 'jwks-rsa', // tenants files with JWT authentication, the local demo tenants
    'pino-pretty', // readable log lines
    '@graphql-inspector/core', // the first schema change
    '@apollo/usage-reporting-protobuf', // federated subgraphs' inline traces, never used
  ]) assert.ok(!packages.has(onlySome), `${onlySome} is loaded at start`);
  for (const file of ['src/local-cluster/launch-cluster.ts', 'src/local-cluster/install-examples.ts', 'src/local-cluster/dev-tenants.ts', 'src/plugins/tracing.ts', 'src/plugins/redis-connection.ts']) {
    assert.ok(!loaded.some((u) => u.endsWith(file)), `${file} is loaded at start`);
  }
});
