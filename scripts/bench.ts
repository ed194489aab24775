// `npm run bench`: every benchmark, one after the other (they would distort each other in
// parallel on a small machine), each appending its table to BENCHMARKS.md with the date and the
// machine. Speed and memory targets live here, never in timed tests.
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { machine } from './bench-common.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const only = process.argv.slice(2);
const corpus = process.env.CRDGATE_CRD_CORPUS ?? join(root, '..', 'shared', 'crds');

function run(name: string, script: string, args: string[], capture: boolean, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (only.length && !only.includes(name)) return undefined;
  console.log(`bench: ${name}`);
  const r = spawnSync(process.execPath, ['--expose-gc', join(root, 'scripts', script), ...args], {
    cwd: root, env, stdio: capture ? ['ignore', 'pipe', 'inherit'] : 'inherit', encoding: 'utf8', maxBuffer: 64 << 20,
  });
  if (r.status !== 0) {
    console.error(`bench: ${name} failed (exit ${r.status})`);
    process.exitCode = 1;
    return undefined;
  }
  if (capture) process.stdout.write(r.stdout);
  return r.stdout;
}

if (existsSync(corpus)) {
  // As the gateway runs: bin/crdgate.js sets production mode.
  const table = run('schema', 'bench-schema.ts', [corpus], true, { ...process.env, NODE_ENV: process.env.NODE_ENV ?? 'production' });
  if (table) {
    appendFileSync(join(root, 'BENCHMARKS.md'), `\n## Schema and OpenAPI build (${new Date().toISOString().slice(0, 10)})\n\nMachine: ${machine()}. The real CRD corpus copied under distinct groups to reach each count. Targets at 1,000 CRDs: full build ≤1 s, heap ≤300 MB, one CRD change ≤50 ms, a new document validated in ≤2 ms.\n\n${table.trim()}\n`);
  }
} else {
  console.log(`bench: schema skipped: no CRD corpus at ${corpus} (set CRDGATE_CRD_CORPUS)`);
}
run('operations', 'bench-operations.ts', [], false);
// New documents against a schema of 200 real CRDs: values inline against the same with variables.
if (existsSync(corpus)) run('operations-inline', 'bench-operations.ts', ['--cases', 'create,createInline', '--corpus', corpus], false);
// The tenant request path (token → tenant → caller context → schema view) at 1,000 real CRDs.
if (existsSync(corpus)) {
  const tenantPath = run('tenant-path', 'bench-tenant-path.ts', ['--corpus', corpus], true);
  if (tenantPath) {
    appendFileSync(join(root, 'BENCHMARKS.md'), `\n## Tenant request path (${new Date().toISOString().slice(0, 10)})\n\n\`node scripts/bench-tenant-path.ts\`: bearer token → verified claims → tenant → caller context → the tenant's schema view, in one process; ten clients each sending its own token again.\n\n${tenantPath.trim()}\n`);
  }
}
run('subscriptions', 'bench-subscriptions.ts', [], false);
run('query', 'bench-query.ts', [], false);
const json = run('json', 'bench-json.ts', [], true);
if (json) {
  appendFileSync(join(root, 'BENCHMARKS.md'), `\n## Exact numbers on the request path (${new Date().toISOString().slice(0, 10)})\n\n\`node scripts/bench-json.ts\`: each stage that reads or writes JSON through src/kube/lossless-json.ts against what it did before, in one process. The control row (the same code on both sides) shows the noise.\n\n${json.trim()}\n`);
}
