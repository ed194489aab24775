// A CRD with every kind of filterable field (Gadget, in a group of its own) and a deterministic
// dataset of its objects, created fast (many requests in flight) on the real control plane.
import type { KubeClient } from '../../src/kube/kube-client.ts';
import { pollUntil } from './poll-until.ts';

export interface Gadget {
  apiVersion: string;
  kind: 'Gadget';
  metadata: { name: string; namespace: string; labels: Record<string, string>; ownerReferences?: Record<string, unknown>[] };
  spec: Record<string, unknown>;
}

export function gadgetCrd(group: string): Record<string, unknown> {
  const spec = {
    type: 'object',
    properties: {
      title: { type: 'string' },
      size: { type: 'integer' },
      big: { type: 'integer', format: 'int64' },
      count: { type: 'integer', format: 'int32' },
      ratio: { type: 'number' },
      enabled: { type: 'boolean' },
      phase: { type: 'string', enum: ['Pending', 'Running', 'Failed'] },
      expires: { type: 'string', format: 'date-time' },
      port: { 'x-kubernetes-int-or-string': true },
      tags: { type: 'array', items: { type: 'string' } },
      owners: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, weight: { type: 'integer' } } } },
      limits: { type: 'object', additionalProperties: { type: 'integer' } },
      settings: { type: 'object', additionalProperties: { type: 'string' } },
      extra: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
      nested: { type: 'object', properties: { level: { type: 'integer' }, note: { type: 'string' } } },
    },
  };
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `gadgets.${group}` },
    spec: {
      group,
      scope: 'Namespaced',
      names: { kind: 'Gadget', listKind: 'GadgetList', plural: 'gadgets', singular: 'gadget' },
      versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', properties: { spec } } } }],
    },
  };
}

const BASE_BIG = 2n ** 60n;
const BASE_TIME = Date.UTC(2030, 0, 1);

/** The i-th object of a namespace: every field a function of i, some absent, some null-ish. */
export function gadget(group: string, namespace: string, i: number, owner?: { name: string; uid: string }): Gadget {
  const spec: Record<string, unknown> = {
    // Mixed case: code-unit order puts upper case first.
    title: `${i % 2 ? 'T' : 't'}-${String((i * 7919) % 1000).padStart(3, '0')}`,
    size: i,
    // Beyond 2^53: neighbours differ in the last digits, which a float64 would lose.
    big: BASE_BIG + BigInt((i * 7919) % 4999),
    count: i % 97,
    ratio: (i % 13) / 4,
    enabled: i % 3 === 0,
    phase: ['Pending', 'Running', 'Failed'][i % 3],
    // Distinct instants, written with different offsets and fractions.
    expires: timestamp(BASE_TIME + ((i * 37) % 5003) * 60_000 + (i % 4) * 125, i),
    port: i % 4 === 0 ? 'http' : 8000 + (i % 4),
    settings: { zone: `z${i % 3}` },
    nested: { level: i % 9, ...(i % 2 ? { note: `n${i % 5}` } : {}) },
  };
  if (i % 11 !== 0) spec['tags'] = i % 5 === 0 ? [] : [`t${i % 3}`, `x${i % 7}`];
  if (i % 2) spec['owners'] = [{ name: `o${i % 4}`, weight: i % 6 }, { name: 'common', weight: 1 }];
  if (i % 4 !== 1) spec['limits'] = { cpu: i % 8, ...(i % 3 ? { mem: i % 5 } : {}) };
  if (i % 10 === 0) spec['extra'] = { anything: { nested: true } };
  const labels: Record<string, string> = { app: i % 2 ? 'web' : 'db', shard: String(i % 10) };
  if (i % 7 === 0) labels['tier'] = 'gold';
  return {
    apiVersion: `${group}/v1`,
    kind: 'Gadget',
    metadata: {
      name: `g-${String(i).padStart(5, '0')}`, namespace, labels,
      ...(owner && i % 50 === 0 ? { ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: owner.name, uid: owner.uid }] } : {}),
    },
    spec,
  };
}

function timestamp(ms: number, i: number): string {
  const iso = new Date(ms).toISOString();
  if (i % 3 === 0) return iso.replace(/\.\d+Z$/, (m) => (m === '.000Z' ? 'Z' : m));
  // The same instant two hours ahead, written with its offset.
  const shifted = new Date(ms + 2 * 3_600_000).toISOString();
  return `${shifted.slice(0, -1)}+02:00`;
}

/** Runs fn for 0..n-1 with `inFlight` calls at a time. */
export async function parallel(n: number, inFlight: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(inFlight, n) }, async () => {
    while (next < n) await fn(next++);
  }));
}

export async function installGadgetCrd(admin: KubeClient, group: string): Promise<void> {
  await admin.request('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', { body: gadgetCrd(group) });
  await pollUntil('the Gadget CRD to be established', async () => {
    const crd = await admin.request<{ status?: { conditions?: { type: string; status: string }[] } }>('GET', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gadgets.${group}`);
    return crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True');
  }, { timeoutMs: 30_000 });
}
