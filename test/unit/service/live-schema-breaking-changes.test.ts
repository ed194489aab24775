// The breaking-change log after a CRD change, against the real CRD corpus: the same line as
// graphql-inspector's diff of the two whole schemas gives, without stalling requests meanwhile.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { diff, CriticalityLevel } from '@graphql-inspector/core';
import type { GraphQLSchema } from 'graphql';
import { LiveSchema } from '../../../src/service/live-schema.ts';
import { notImplementedOperations } from '../../../src/graphql/not-implemented-operations.ts';
import { buildGraphQLSchema } from '../../../src/graphql/schema-builder.ts';
import { tryCrdToModel } from '../../../src/model/crd-to-model.ts';
import type { CrdObject, CrdSnapshot } from '../../../src/catalog/crd-catalog.ts';
import { corpusAvailable, corpusDir, crdFiles } from '../../helpers/crd-corpus.ts';

type Props = Record<string, { properties?: Props; [k: string]: unknown }>;
type Version = { name: string; served: boolean; storage: boolean; schema?: { openAPIV3Schema: { properties?: Props } } };

function corpusCrds(): CrdObject[] {
  const crds = new Map<string, CrdObject>();
  for (const file of crdFiles(corpusDir)) {
    for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
      const crd = doc.toJSON() as CrdObject | null;
      if (crd?.kind !== 'CustomResourceDefinition' || crds.has(crd.metadata.name)) continue;
      crd.metadata.resourceVersion = '1';
      crd.metadata['creationTimestamp'] = '2024-01-01T00:00:00Z';
      crds.set(crd.metadata.name, crd);
    }
  }
  return [...crds.values()].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
}

/** The whole schema, built from scratch by graphql-js' own constructor. */
function wholeSchema(crds: readonly CrdObject[]): GraphQLSchema {
  const models = crds.flatMap((c) => {
    const r = tryCrdToModel({ apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', ...c });
    return r.ok ? [r.model] : [];
  });
  return buildGraphQLSchema(models).schema;
}

/** The line the gateway logged when it diffed both whole schemas (its comparison before the change to parts). */
async function wholeDiffLine(before: readonly CrdObject[], after: readonly CrdObject[]): Promise<string | undefined> {
  const old = wholeSchema(before);
  const changes = await diff(old, wholeSchema(after));
  const breaking = changes.filter((c) => c.criticality.level === CriticalityLevel.Breaking);
  const roots = new Set(['Query', 'Mutation', 'Subscription']);
  const rank = (c: (typeof breaking)[number]) => (c.path !== undefined && roots.has(c.path.split('.')[0]!) ? 0 : 1);
  breaking.sort((a, b) => rank(a) - rank(b));
  if (!breaking.length) return undefined;
  const shown = breaking.slice(0, 20).map((c) => c.message).join('; ');
  return `schema change breaks clients (${breaking.length} change(s)): ${shown}${breaking.length > 20 ? '; …' : ''}`;
}

/** Runs `work` and gives the longest time the event loop did not get a turn meanwhile. */
async function longestStall(work: () => Promise<void>): Promise<number> {
  let last = performance.now();
  let longest = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 1);
  try {
    await new Promise((r) => setTimeout(r, 5));
    last = performance.now();
    await work();
  } finally {
    clearInterval(timer);
  }
  return Math.max(longest, performance.now() - last);
}

const withRv = (crd: CrdObject, rv: number, patch: (c: CrdObject) => void = () => {}): CrdObject => {
  const c = structuredClone(crd);
  c.metadata.resourceVersion = String(rv);
  patch(c);
  return c;
};

describe('breaking changes of a CRD change, at ~150 corpus CRDs', () => {
  it('logs what the whole diff logs, and requests get turns while it is compared', async (t) => {
    if (!corpusAvailable(t)) return;
    const all = corpusCrds();
    const base = all.slice(0, 150);
    const warnings: string[] = [];
    const live = new LiveSchema({ operations: notImplementedOperations, log: { info: () => {}, warn: (m) => warnings.push(m) } });
    let generation = 0;
    let current = base;
    const named = (name: string) => current.find((c) => c.metadata.name === name)!;
    const change = async (next: CrdObject[]) => {
      const expected = await wholeDiffLine(current, next);
      warnings.length = 0;
      live.rebuild({ generation: ++generation, crds: next } satisfies CrdSnapshot);
      const stall = await longestStall(() => live.whenReported());
      current = next;
      return { expected, logged: warnings.find((w) => w.startsWith('schema change breaks clients')), stall };
    };
    live.rebuild({ generation: ++generation, crds: base });
    // Patches the schema from here on (the builder's bookkeeping is done).
    await change(base.filter((c) => c.metadata.name !== base[3]!.metadata.name));

    const target = 'certificates.cert-manager.io';
    assert.ok(current.some((c) => c.metadata.name === target), `${target} is among the first 150`);
    const removed = await change(current.filter((c) => c.metadata.name !== target));
    assert.ok(removed.expected?.includes('was removed'), 'the removal breaks clients');
    assert.equal(removed.logged, removed.expected, 'a removed CRD: the whole diff\'s line');
    assert.ok(removed.stall < 100, `the comparison gave the event loop a turn at least every 100 ms (longest wait ${removed.stall.toFixed(0)} ms)`);

    const readded = await change([...current, all.find((c) => c.metadata.name === target)!].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name)));
    assert.equal(readded.expected, undefined, 'adding a CRD breaks nothing');
    assert.equal(readded.logged, undefined);

    const narrowed = await change(current.map((c) => c.metadata.name !== target ? c : withRv(named(target), 7, (crd) => {
      const versions = crd.spec.versions as unknown as Version[];
      const spec = versions.find((v) => v.storage)!.schema!.openAPIV3Schema.properties!['spec']!.properties!;
      delete spec[Object.keys(spec)[0]!];
    })));
    assert.ok(narrowed.expected !== undefined, 'a property removed breaks clients');
    assert.equal(narrowed.logged, narrowed.expected, 'a property removed: the whole diff\'s line');
    assert.ok(narrowed.stall < 100, `longest wait ${narrowed.stall.toFixed(0)} ms`);

    // More than a patch takes: the schema is built from scratch (its type map collected in slices).
    const many = new Set(current.slice(20, 45).map((c) => c.metadata.name));
    const storm = await change(current.filter((c) => !many.has(c.metadata.name)));
    assert.equal(storm.logged, storm.expected, '25 CRDs removed at once: the whole diff\'s line');
    assert.ok(storm.stall < 100, `longest wait ${storm.stall.toFixed(0)} ms`);
  });
});
