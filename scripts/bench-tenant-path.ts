// The tenant request path in one process, as every API request with a bearer token takes it before
// any operation runs: token → verified claims → tenant → caller context → the tenant's schema view
// (its permission set, then its pruned schema), over a schema of 1,000 real CRDs. CPU µs and bytes
// allocated per request, for HS256 (a shared secret) and RS256 and ES256 (a key set, the usual
// production setup), ten clients each sending its own token again and again.
//
//   node --expose-gc scripts/bench-tenant-path.ts [--corpus DIR] [--baseline CHECKOUT] [--rounds 7] [--requests 10000]
//
// --baseline: another checkout of crdgate (e.g. a worktree at an older commit) whose Authenticator
// runs the same path, batches of the two alternated, so the table shows the baseline against this
// checkout (the same checkout on both sides shows the noise). The
// permission sets and schema views are this checkout's in both. Without a corpus it exits 1 (as
// bench-schema.ts), and `npm run bench` skips it.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { createRequire } from 'node:module';
import type { GraphQLSchema } from 'graphql';
import { copies, loadCorpus } from './bench-schema.ts';
import { cpuAndAllocation, machine, median } from './bench-common.ts';
import { crdToModel } from '../src/model/crd-to-model.ts';
import { createSchemaBuilder } from '../src/graphql/schema-builder.ts';
import { prepareTenantViews, refsOf, TenantSchemaCache } from '../src/graphql/tenant-schema.ts';
import { Permissions } from '../src/auth/permissions.ts';
import type { Caller } from '../src/auth/authenticate.ts';
import type { TenantConfig } from '../src/auth/tenant-config.ts';
import type { CallerContext } from '../src/contract/caller-context.ts';
import type { KubeClient } from '../src/kube/kube-client.ts';
import type { ResourceModel } from '../src/model/resource-model.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values: args } = parseArgs({
  options: {
    corpus: { type: 'string', default: process.env.CRDGATE_CRD_CORPUS ?? join(root, '..', 'shared', 'crds') },
    baseline: { type: 'string' },
    rounds: { type: 'string', default: '7' },
    requests: { type: 'string', default: '10000' },
  },
});
const rounds = Number(args.rounds);
const requests = Number(args.requests);
const jwt = createRequire(import.meta.url)('jsonwebtoken') as typeof import('jsonwebtoken');

interface Authenticates { authenticate(authorization: string | undefined): Promise<Caller> }
type AuthenticatorClass = new (config: TenantConfig, opts: { fetcher?: (uri: string) => Promise<{ keys: unknown }> }) => Authenticates;

interface Case { name: string; config: TenantConfig; fetcher?: () => Promise<{ keys: unknown }>; tokens: string[] }

const issuer = 'https://issuer.bench';
const groupsOf = (i: number) => [`team-${i}`];
const claimsOf = (i: number) => ({ iss: issuer, aud: 'crdgate', sub: `user-${i}`, team: `team-${i}`, groups: groupsOf(i), exp: Math.floor(Date.now() / 1000) + 3600 });
const tenantsOf = (): TenantConfig['tenants'] => [{ name: 'teams', match: {}, user: 'oidc:{sub}', groups: ['{groups}'], extra: {} }];

function cases(): Case[] {
  const secret = randomBytes(48);
  const hs: Case = {
    name: 'HS256 (secret)',
    config: { file: 'tenants.yaml', auth: { mode: 'jwt', issuer, audience: ['crdgate'], algorithms: ['HS256'], key: { kind: 'secret', secret, file: 'hs.key' }, clockToleranceSeconds: 30, maxGroups: 256 }, tenants: tenantsOf() },
    tokens: Array.from({ length: 10 }, (_, i) => jwt.sign(claimsOf(i), secret, { algorithm: 'HS256' })),
  };
  const keySet = (name: string, algorithm: 'RS256' | 'ES256', pair: { privateKey: KeyObject; publicKey: KeyObject }): Case => ({
    name: `${algorithm} (key set)`,
    config: { file: 'tenants.yaml', auth: { mode: 'jwt', issuer, audience: ['crdgate'], algorithms: [algorithm], key: { kind: 'jwks', uri: 'https://issuer.bench/jwks', cacheMaxAgeMs: 600_000, requestsPerMinute: 10 }, clockToleranceSeconds: 30, maxGroups: 256 }, tenants: tenantsOf() },
    fetcher: async () => ({ keys: [{ ...pair.publicKey.export({ format: 'jwk' }), kid: name, alg: algorithm, use: 'sig' }] }),
    tokens: Array.from({ length: 10 }, (_, i) => jwt.sign(claimsOf(i), pair.privateKey, { algorithm, keyid: name })),
  });
  return [
    hs,
    keySet('rsa-1', 'RS256', generateKeyPairSync('rsa', { modulusLength: 2048 })),
    keySet('ec-1', 'ES256', generateKeyPairSync('ec', { namedCurve: 'P-256' })),
  ];
}

/** Kubernetes as Permissions asks it: one namespace; team-i reads and writes the CRDs of a few API groups. */
function fakeCluster(resources: readonly ResourceModel[]): KubeClient {
  const groups = [...new Set(resources.map((r) => r.group))].sort();
  const client = {
    server: 'https://bench',
    async request(method: string, path: string, opts: { impersonate?: { groups?: string[] } }) {
      if (method === 'GET') return { items: path.endsWith('/namespaces') ? [{ metadata: { name: 'team', resourceVersion: '1' } }] : [], metadata: { resourceVersion: '1' } };
      if (path.endsWith('/selfsubjectrulesreviews')) {
        const i = Number(/team-(\d+)/.exec(opts.impersonate?.groups?.join(' ') ?? '')?.[1] ?? 0);
        const read = groups.filter((_, g) => (g * 7 + i * 13) % 100 < 10);
        return { status: { resourceRules: [
          { verbs: ['get', 'list', 'watch'], apiGroups: read, resources: ['*'] },
          { verbs: ['create', 'update', 'patch', 'delete'], apiGroups: read.filter((_, g) => g % 2 === 0), resources: ['*'] },
        ] } };
      }
      return { status: { allowed: false } };
    },
    watch(_path: string, opts: { signal?: AbortSignal; onOpen?: () => void }) {
      opts.onOpen?.();
      return new Promise<void>((done) => opts.signal?.addEventListener('abort', () => done()));
    },
  };
  return client as unknown as KubeClient;
}

interface Path { authenticator: Authenticates; tokens: string[] }

/** One request's work before its operation runs. */
async function request(path: Path, i: number, schema: GraphQLSchema, resources: readonly ResourceModel[], permissions: Permissions, views: TenantSchemaCache): Promise<unknown> {
  const caller = await path.authenticator.authenticate(`Bearer ${path.tokens[i % path.tokens.length]}`);
  const context: CallerContext = { identity: caller.identity, tenant: caller.tenant, expiresAt: caller.expiresAt, requestId: `r${i}` };
  const perms = await permissions.of(context.identity!, refsOf(resources));
  return views.get(schema, resources, perms).schema;
}

/** CPU µs and bytes allocated per request over one batch (bench-common's cpuAndAllocation: no forced GC). */
async function batch(path: Path, schema: GraphQLSchema, resources: readonly ResourceModel[], permissions: Permissions, views: TenantSchemaCache): Promise<{ cpuUs: number; bytes: number }> {
  const used = await cpuAndAllocation(async () => {
    for (let i = 0; i < requests; i++) await request(path, i, schema, resources, permissions, views);
  });
  return { cpuUs: used.cpuUs / requests, bytes: used.bytes / requests };
}

const spread = (xs: number[]) => `${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)}`;

async function main(): Promise<void> {
  if (!existsSync(args.corpus)) {
    console.error(`no CRD corpus at ${args.corpus}; pass --corpus DIR`);
    process.exit(1);
  }
  const models = copies(await loadCorpus(args.corpus), 1000).map((crd) => crdToModel(crd));
  const { schema, resources } = createSchemaBuilder({ assumeValid: true }).build(models);
  prepareTenantViews(schema, resources);
  const implementations: [string, AuthenticatorClass][] = [['this checkout', (await import('../src/auth/authenticate.ts')).Authenticator as AuthenticatorClass]];
  if (args.baseline) {
    const old = (await import(resolve(args.baseline, 'src/auth/authenticate.ts'))).Authenticator as AuthenticatorClass;
    implementations.unshift(['baseline', old]);
  }
  const permissions = new Permissions(fakeCluster(resources), { ttlMs: 3_600_000 });
  permissions.start();
  await permissions.of({ user: 'nobody' }, []);
  await new Promise((r) => setTimeout(r, 50));
  const views = new TenantSchemaCache();
  console.log(`Machine: ${machine()}. ${resources.length} CRDs, ${rounds} rounds of ${requests} requests per implementation, alternated; medians (min–max).\n`);
  console.log('| token | code | CPU µs/request | bytes allocated/request |');
  console.log('| --- | --- | --- | --- |');
  for (const c of cases()) {
    const paths = implementations.map(([name, A]) => [name, { authenticator: new A(c.config, c.fetcher ? { fetcher: c.fetcher } : {}), tokens: c.tokens }] as const);
    for (const [, p] of paths) for (let i = 0; i < 200; i++) await request(p, i, schema, resources, permissions, views); // warm-up
    const results = new Map<string, { cpuUs: number; bytes: number }[]>();
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 ? [...paths].reverse() : paths;
      for (const [name, p] of order) results.set(name, [...(results.get(name) ?? []), await batch(p, schema, resources, permissions, views)]);
    }
    for (const [name, rs] of results) {
      const cpu = rs.map((x) => x.cpuUs);
      const bytes = rs.map((x) => x.bytes / 1024);
      console.log(`| ${c.name} | ${name} | ${median(cpu).toFixed(1)} (${spread(cpu)}) | ${median(bytes).toFixed(1)} KiB (${spread(bytes)}) |`);
    }
  }
  await permissions.stop();
}

await main();
