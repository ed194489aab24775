// Schema and OpenAPI build cost at 100, 500 and 1,000 CRDs: the real CRD corpus, copied under
// distinct groups until each count is reached. Prints a markdown table.
//
//   NODE_ENV=production node scripts/bench-schema.ts [corpus-dir]
//                         (default: <repo>/../shared/crds or CRDGATE_CRD_CORPUS)
//
// The gateway runs in production mode (bin/crdgate.js sets it; graphql-js skips its
// development checks there), so `npm run bench` runs this with NODE_ENV=production too.

import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import { GraphQLSchema, parse, validate, validateSchema } from 'graphql';
import type { DocumentNode } from 'graphql';
import { parseAllDocuments } from 'yaml';
import { createSchemaBuilder } from '../src/graphql/schema-builder.ts';
import { validateDocument } from '../src/graphql/document-validation.ts';
import { crdToModel } from '../src/model/crd-to-model.ts';
import type { ResourceModel } from '../src/model/resource-model.ts';
import { createOpenApiBuilder } from '../src/rest/openapi-builder.ts';
import { PermissionSet } from '../src/auth/permissions.ts';
import { prepareTenantViews, TenantSchemaCache } from '../src/graphql/tenant-schema.ts';

export interface BenchRow {
  readonly crds: number;
  readonly modelMs: number;
  readonly buildMs: number;
  /** CPU time of the process (all its threads: V8's GC helpers too) while the models and the GraphQL schema were made, in ms. */
  readonly modelsAndSchemaCpuMs: number;
  readonly openapiMs: number;
  readonly heapMB: number;
  readonly changeMs?: number;
  readonly validateSchemaMs?: number;
  /**
   * The first documents validated after the cold build, as a freshly started gateway's first
   * requests are: a query, then a mutation (each the first of its root type), parsed and validated
   * by the gateway's rules, in ms. Nothing has read the schema's fields, nor run a validation, before.
   */
  readonly coldFirstQueryMs?: number;
  readonly coldFirstMutationMs?: number;
  /** The process' CPU time of the two, in ms. */
  readonly coldFirstQueryCpuMs?: number;
  readonly coldFirstMutationCpuMs?: number;
  /** A new document (an inline-value create mutation) parsed and validated by the gateway's rules, median of 21. */
  readonly firstQueryValidationMs?: number;
  /** The same by graphql-js' validate (specifiedRules), median of 5. */
  readonly graphqlJsNewDocumentMs?: number;
  readonly cachedQueryValidationMs?: number;
  /** The filtered schema of one tenant (100 distinct RBAC fingerprints): median and slowest, in ms. */
  readonly tenantMedianMs?: number;
  readonly tenantMaxMs?: number;
  /** The most CPU time (the process', all its threads) one tenant took, in ms. */
  readonly tenantMaxCpuMs?: number;
  /** Heap the 100 cached tenant schemas hold, in MB. */
  readonly tenantHeapMB?: number;
  /** The lookups every tenant schema of one full schema shares, prepared once (when idle after a change), in ms. */
  readonly tenantPrepareMs?: number;
  /** Heap those lookups hold, in MB. */
  readonly tenantPrepareHeapMB?: number;
  /** The first introspection of a tenant that may read everything (its type map collected then), in ms. */
  readonly tenantIntrospectionMs?: number;
}

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

export async function loadCorpus(dir: string): Promise<Record<string, any>[]> {
  const crds = new Map<string, Record<string, any>>();
  const walk = async (path: string): Promise<void> => {
    if ((await stat(path)).isDirectory()) {
      for (const name of (await readdir(path)).sort()) await walk(join(path, name));
    } else if (/\.ya?ml$/.test(path)) {
      for (const doc of parseAllDocuments(await readFile(path, 'utf8'))) {
        const crd = doc.toJS();
        if (crd?.kind === 'CustomResourceDefinition' && !crds.has(crd.metadata.name)) crds.set(crd.metadata.name, crd);
      }
    }
  };
  await walk(dir);
  return [...crds.values()];
}

/**
 * The i-th copy of a CRD lives in group `c<i>.<group>`, so copies never clash. Every copy has
 * objects of its own, as CRDs decoded from the API have: nothing in the build may profit from two
 * CRDs sharing one object.
 */
export function copies(corpus: readonly Record<string, any>[], count: number): Record<string, any>[] {
  const out: Record<string, any>[] = [];
  for (let i = 0; out.length < count; i++) {
    for (const crd of corpus) {
      if (out.length === count) break;
      if (i === 0) {
        out.push(crd);
        continue;
      }
      const group = `c${i}.${crd.spec.group}`;
      const copy = structuredClone(crd);
      copy.metadata.name = `${crd.spec.names.plural}.${group}`;
      copy.spec.group = group;
      out.push(copy);
    }
  }
  return out;
}

/** Wall time and the process' CPU time (all threads) of run(), in ms: on a busy machine the first includes waits for a core. */
function timeWithCpu(run: () => void): { wall: number; cpu: number } {
  const cpu = process.cpuUsage();
  const [, wall] = time(run);
  const used = process.cpuUsage(cpu);
  return { wall, cpu: (used.user + used.system) / 1000 };
}

function time<T>(run: () => T): [T, number] {
  const start = performance.now();
  const result = run();
  return [result, performance.now() - start];
}

function heapUsed(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

const INLINE_MUTATION = (field: string, _input: string, i: number) => `mutation {
  ${field}(namespace: "bench", input: { metadata: { name: "ct-${i}" }, spec: { cronSpec: "*/5 * * * *", image: "example/bench:${i}", replicas: ${i % 5} } }) { metadata { name uid } spec { replicas } }
}`;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const TYPICAL_QUERY = (field: string) => `query Typical($ns: String!, $name: String!) {
  one: ${field}(namespace: $ns, name: $name) { apiVersion kind metadata { name namespace labels resourceVersion creationTimestamp } spec { cronSpec image replicas } }
}`;

export async function runSchemaBenchmark(corpusDir: string, counts: readonly number[] = [100, 500, 1000]): Promise<BenchRow[]> {
  const corpus = await loadCorpus(corpusDir);
  // The example CronTab gives the typical query something to ask for at every size.
  corpus.unshift((await import('yaml')).parse(await readFile(new URL('../deploy/examples/crontab-crd.yaml', import.meta.url), 'utf8')));
  const rows: BenchRow[] = [];
  for (const count of counts) {
    const crds = copies(corpus, count);
    const baseline = heapUsed();
    const cpuBefore = process.cpuUsage();
    const [models, modelMs] = time(() => crds.map((crd) => crdToModel(crd)));
    const builder = createSchemaBuilder({ assumeValid: true });
    const openapi = createOpenApiBuilder();
    const [result, buildMs] = time(() => builder.build(models));
    const cpu = process.cpuUsage(cpuBefore);
    const modelsAndSchemaCpuMs = (cpu.user + cpu.system) / 1000;
    // As a freshly started gateway's first requests come: after the build, before any forced GC
    // (the full GCs that measure the heap leave pages for V8's sweeper that a first allocation
    // waits for, a cost of the benchmark's own GCs).
    const firstDocuments = count === counts.at(-1) ? coldFirstDocuments(result.schema) : {};
    const [, openapiMs] = time(() => openapi.build(models));
    const heapMB = (heapUsed() - baseline) / 2 ** 20;
    let row: BenchRow = { crds: count, modelMs, buildMs, modelsAndSchemaCpuMs, openapiMs, heapMB };
    if (count === counts.at(-1)) {
      row = { ...row, ...firstDocuments };
      row = { ...row, ...incrementalFigures(models, builder, openapi, result.schema) };
      row = { ...row, ...await tenantFigures(result.schema, result.resources) };
    }
    rows.push(row);
  }
  return rows;
}

function coldFirstDocuments(schema: GraphQLSchema): Partial<BenchRow> {
  const first = (text: string) => timeWithCpu(() => {
    const errors = validateDocument(schema, parse(text));
    if (errors.length > 0) throw new Error(errors.map(String).join('\n'));
  });
  const query = first(TYPICAL_QUERY('cronTab_v1_stable_example_com'));
  const mutation = first(INLINE_MUTATION('createCronTab_stable_example_com', 'CronTab_v1_stable_example_com_Input', 0));
  return { coldFirstQueryMs: query.wall, coldFirstMutationMs: mutation.wall, coldFirstQueryCpuMs: query.cpu, coldFirstMutationCpuMs: mutation.cpu };
}

function incrementalFigures(
  models: ResourceModel[],
  builder: ReturnType<typeof createSchemaBuilder>,
  openapi: ReturnType<typeof createOpenApiBuilder>,
  schema: GraphQLSchema,
): Partial<BenchRow> {
  // One CRD changes: a new field in the spec of the last one.
  const target = models.length - 1;
  const source = models[target]!;
  const changedRaw = structuredClone(source.versions[0]!.rawSchema) as Record<string, any>;
  changedRaw['properties'] ??= {};
  changedRaw['properties']['benchmarkAddedField'] = { type: 'string' };
  const crd = {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: source.crdName },
    spec: {
      group: source.group,
      scope: source.scope,
      names: { kind: source.kind, listKind: source.listKind, plural: source.plural, singular: source.singular },
      versions: source.versions.map((v, i) => ({
        name: v.name,
        served: v.served,
        storage: v.storage,
        schema: { openAPIV3Schema: i === 0 ? changedRaw : v.rawSchema },
        subresources: { ...(v.subresources.status ? { status: {} } : {}), ...(v.subresources.scale ? { scale: v.subresources.scale } : {}) },
      })),
    },
  };
  const changed = [...models];
  // A running gateway prepares for the next change when idle after a full build (live-schema.ts).
  builder.prepareIncremental();
  const [, changeMs] = time(() => {
    changed[target] = crdToModel(crd);
    builder.build(changed);
    openapi.build(changed);
  });
  // The builder runs with assumeValid (validation skipped); measure what validation would cost.
  const unvalidated = new GraphQLSchema({ ...schema.toConfig(), assumeValid: false });
  const [, validateSchemaMs] = time(() => validateSchema(unvalidated));
  const queryText = TYPICAL_QUERY('cronTab_v1_stable_example_com');
  const cache = new Map<string, DocumentNode>();
  const validated = (text: string): DocumentNode => {
    let document = cache.get(text);
    if (!document) {
      document = parse(text);
      const errors = validateDocument(schema, document);
      if (errors.length > 0) throw new Error(errors.map(String).join('\n'));
      cache.set(text, document);
    }
    return document;
  };
  // New documents, as a client writing values inline sends them: parsed and validated each time,
  // by the gateway's rules and by graphql-js' own (which list every type name per validation).
  const newDocument = (i: number) => INLINE_MUTATION('createCronTab_stable_example_com', 'CronTab_v1_stable_example_com_Input', i);
  validated(newDocument(-1));
  const firstQueryValidationMs = median(Array.from({ length: 21 }, (_, i) => time(() => validated(newDocument(i)))[1]));
  const graphqlJsNewDocumentMs = median(Array.from({ length: 5 }, (_, i) => time(() => validate(schema, parse(newDocument(100 + i))))[1]));
  const runs = 10000;
  const [, cachedTotal] = time(() => {
    for (let i = 0; i < runs; i++) validated(queryText);
  });
  return { changeMs, validateSchemaMs, firstQueryValidationMs, graphqlJsNewDocumentMs, cachedQueryValidationMs: cachedTotal / runs };
}

/**
 * 100 tenants with distinct rights, as a multi-team cluster has them: each team reads (get, list,
 * watch) the CRDs of a few API groups in its namespace and writes (create, update, patch, delete)
 * some of them; one in ten also reads everything. Each tenant's filtered schema is built once (the
 * gateway caches it per fingerprint); the figures are per tenant.
 */
async function tenantFigures(schema: GraphQLSchema, resources: readonly ResourceModel[]): Promise<Partial<BenchRow>> {
  const groups = [...new Set(resources.map((r) => r.group))].sort();
  const tenants = Array.from({ length: 100 }, (_, i) => {
    const read = groups.filter((_, g) => (g * 7 + i * 13) % 100 < 8 + (i % 5));
    const write = read.filter((_, g) => g % 3 === i % 3);
    const rules = [
      { verbs: ['get', 'list', 'watch'], apiGroups: i % 10 === 0 ? ['*'] : read, resources: ['*'] },
      { verbs: ['create', 'update', 'patch', 'delete'], apiGroups: write, resources: ['*', '*/status'] },
    ];
    return new PermissionSet({ user: `tenant-${i}` }, new Map([[`team-${i}`, rules]]), new Map());
  });
  const cache = new TenantSchemaCache();
  const refs = resources.map((r) => ({ group: r.group, plural: r.plural, namespaced: r.scope === 'Namespaced' }));
  const fingerprints = new Set(tenants.map((t) => t.fingerprint(refs)));
  if (fingerprints.size !== tenants.length) throw new Error(`tenants share rights: ${fingerprints.size} fingerprints for ${tenants.length}`);
  // A running gateway prepares these when idle after each schema change (gateway.ts).
  const beforePrepare = heapUsed();
  const [, tenantPrepareMs] = time(() => prepareTenantViews(schema, resources));
  const tenantPrepareHeapMB = (heapUsed() - beforePrepare) / 2 ** 20;
  const baseline = heapUsed();
  // The full GCs that measure the heap leave ~1 GB of pages for V8's concurrent sweeper: without a
  // pause, the first tenant's allocations wait for it (100-150 ms measured on that tenant alone,
  // 15-40 ms for the same tenant after the pause), a cost of the benchmark's own GCs, not of the
  // tenant schema.
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const measured = tenants.map((perms) => timeWithCpu(() => cache.get(schema, resources, perms)));
  const times = measured.map((m) => m.wall);
  const tenantMaxCpuMs = Math.max(...measured.map((m) => m.cpu));
  const tenantHeapMB = (heapUsed() - baseline) / 2 ** 20;
  // Validation and execution look types up without it; introspection and printSchema collect the type map.
  const readsAll = cache.get(schema, resources, tenants[0]!).schema;
  const [, tenantIntrospectionMs] = time(() => readsAll.getTypeMap());
  return { tenantMedianMs: median(times), tenantMaxMs: Math.max(...times), tenantMaxCpuMs, tenantHeapMB, tenantPrepareMs, tenantPrepareHeapMB, tenantIntrospectionMs };
}

export function benchmarkTable(rows: readonly BenchRow[]): string {
  const ms = (n: number | undefined) => (n === undefined ? '' : n < 1 ? n.toFixed(4) : n < 10 ? n.toFixed(1) : n.toFixed(0));
  const lines = [
    '| CRDs | models (ms) | GraphQL schema (ms) | models + GraphQL, CPU (ms) | OpenAPI (ms) | heap (MB) | first query / mutation validated after the cold build, ms (CPU ms) | one CRD changed (ms) | validateSchema (ms) | new document validated (ms) | the same, graphql-js validate (ms) | query validation, cached (ms) | tenant schema, median / max of 100, ms (CPU max) | 100 tenant schemas, heap (MB) | tenant lookups prepared, ms / heap MB | reads-all tenant, type map collected (ms) |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.crds} | ${ms(r.modelMs)} | ${ms(r.buildMs)} | ${ms(r.modelsAndSchemaCpuMs)} | ${ms(r.openapiMs)} | ${r.heapMB.toFixed(0)} | ${r.coldFirstQueryMs === undefined ? '' : `${ms(r.coldFirstQueryMs)} / ${ms(r.coldFirstMutationMs)} (${ms(r.coldFirstQueryCpuMs)} / ${ms(r.coldFirstMutationCpuMs)})`} | ${ms(r.changeMs)} | ${ms(r.validateSchemaMs)} | ${ms(r.firstQueryValidationMs)} | ${ms(r.graphqlJsNewDocumentMs)} | ${ms(r.cachedQueryValidationMs)} | ${r.tenantMedianMs === undefined ? '' : `${ms(r.tenantMedianMs)} / ${ms(r.tenantMaxMs)} (${ms(r.tenantMaxCpuMs)})`} | ${r.tenantHeapMB === undefined ? '' : r.tenantHeapMB.toFixed(0)} | ${r.tenantPrepareMs === undefined ? '' : `${ms(r.tenantPrepareMs)} / ${r.tenantPrepareHeapMB!.toFixed(0)}`} | ${ms(r.tenantIntrospectionMs)} |`,
    ),
  ];
  return lines.join('\n');
}

if (import.meta.main) {
  const dir = process.argv[2] ?? process.env['CRDGATE_CRD_CORPUS'] ?? fileURLToPath(new URL('../../shared/crds', import.meta.url));
  if (!existsSync(dir)) {
    console.error(`no CRD corpus at ${dir}; pass a directory of CRD files`);
    process.exit(1);
  }
  console.log(benchmarkTable(await runSchemaBenchmark(dir)));
}
