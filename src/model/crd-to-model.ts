// A CustomResourceDefinition (apiextensions.k8s.io/v1, as parsed JSON) → ResourceModel.
// Pure: no I/O. Every problem becomes a CrdModelError that names the CRD and the path.

import { createHash } from 'node:crypto';
import { CrdModelError } from './crd-model-error.ts';
import { stringifyJson } from '../kube/lossless-json.ts';
import { convertRootSchema, describeValue, isPlainObject } from './openapi-schema-to-node.ts';
import type {
  PrinterColumn,
  ResourceModel,
  ScaleSubresource,
  Scope,
  SelectableField,
  Subresources,
  VersionModel,
} from './resource-model.ts';

const CRD_API_VERSION = 'apiextensions.k8s.io/v1';
// Same rules the API server applies (DNS-1123 subdomain for groups, DNS-1035 label for
// versions and lowercased kinds); the GraphQL naming relies on them.
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL_1035 = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const KIND = /^[A-Za-z]([-A-Za-z0-9]*[A-Za-z0-9])?$/;

export type ModelResult = { ok: true; model: ResourceModel } | { ok: false; error: CrdModelError };

/** Like crdToModel, but returns the error instead of throwing it. */
export function tryCrdToModel(crd: unknown): ModelResult {
  try {
    return { ok: true, model: crdToModel(crd) };
  } catch (error) {
    if (error instanceof CrdModelError) return { ok: false, error };
    // A bug of ours must still not lose the CRD silently nor crash the caller.
    const name = crdNameOf(crd);
    return { ok: false, error: new CrdModelError(name, '', `could not be processed: ${String(error)}`) };
  }
}

/**
 * The CRD object must not be changed afterwards (decoded API answers and parsed files never are):
 * the content hash is computed from its spec when first read, and the sub-schemas of CRDs
 * converted later in the same synchronous run are compared with it to share converted nodes.
 *
 * @throws CrdModelError when the CRD is malformed.
 */
export function crdToModel(crd: unknown): ResourceModel {
  if (!isPlainObject(crd)) throw new CrdModelError(undefined, '', `must be an object, got ${describeValue(crd)}`);
  const name = crdNameOf(crd);
  const fail = (path: string, problem: string): never => {
    throw new CrdModelError(name, path, problem);
  };
  if (crd['kind'] !== 'CustomResourceDefinition') {
    fail('kind', `must be CustomResourceDefinition, got ${describeValue(crd['kind'])}`);
  }
  if (crd['apiVersion'] !== CRD_API_VERSION) {
    fail('apiVersion', `must be ${CRD_API_VERSION}, got ${describeValue(crd['apiVersion'])}`);
  }
  if (name === undefined) fail('metadata.name', 'is missing');
  const metadata = crd['metadata'] as Record<string, unknown>;
  const spec = crd['spec'];
  if (!isPlainObject(spec)) return fail('spec', 'is missing or not an object');

  const group = requireString(spec, 'group', 'spec.group', fail);
  if (!DNS_SUBDOMAIN.test(group)) fail('spec.group', `${JSON.stringify(group)} is not a valid DNS subdomain`);

  const names = spec['names'];
  if (!isPlainObject(names)) return fail('spec.names', 'is missing or not an object');
  const kind = requireString(names, 'kind', 'spec.names.kind', fail);
  if (!KIND.test(kind)) fail('spec.names.kind', `${JSON.stringify(kind)} is not a valid kind (letters, digits and inner dashes)`);
  const plural = requireString(names, 'plural', 'spec.names.plural', fail);
  if (!DNS_LABEL_1035.test(plural)) fail('spec.names.plural', `${JSON.stringify(plural)} must be a lowercase DNS label`);
  if (name !== `${plural}.${group}`) fail('metadata.name', `must be spec.names.plural + "." + spec.group = ${plural}.${group}`);
  const singular = optionalString(names, 'singular', 'spec.names.singular', fail) ?? kind.toLowerCase();
  const listKind = optionalString(names, 'listKind', 'spec.names.listKind', fail) ?? `${kind}List`;
  if (!KIND.test(listKind)) fail('spec.names.listKind', `${JSON.stringify(listKind)} is not a valid kind`);
  if (listKind === kind) fail('spec.names.listKind', 'must differ from spec.names.kind');
  const shortNames = stringList(names['shortNames'], 'spec.names.shortNames', fail);
  const categories = stringList(names['categories'], 'spec.names.categories', fail);

  const scope = spec['scope'];
  if (scope !== 'Namespaced' && scope !== 'Cluster') {
    fail('spec.scope', `must be Namespaced or Cluster, got ${describeValue(scope)}`);
  }

  const conversion = spec['conversion'];
  const strategy = isPlainObject(conversion) ? conversion['strategy'] : undefined;
  if (strategy !== undefined && strategy !== 'None' && strategy !== 'Webhook') {
    fail('spec.conversion.strategy', `must be None or Webhook, got ${describeValue(strategy)}`);
  }

  const rawVersions = spec['versions'];
  if (!Array.isArray(rawVersions) || rawVersions.length === 0) {
    return fail('spec.versions', 'must be a non-empty list');
  }
  const versions = rawVersions.map((raw, i) => versionModel(raw, `spec.versions[${i}]`, name!, fail));
  const seen = new Set<string>();
  for (const [i, v] of versions.entries()) {
    if (seen.has(v.name)) fail(`spec.versions[${i}].name`, `version ${v.name} is listed twice`);
    seen.add(v.name);
  }
  const storage = versions.filter((v) => v.storage);
  if (storage.length !== 1) {
    fail('spec.versions', `exactly one version must have storage: true, found ${storage.length}`);
  }

  const creationTimestamp = typeof metadata['creationTimestamp'] === 'string' ? metadata['creationTimestamp'] : undefined;
  const crdName = name!;
  let contentHash: string | undefined;
  return {
    crdName: name!,
    group,
    kind,
    listKind,
    plural,
    singular,
    shortNames,
    categories,
    scope: scope as Scope,
    versions,
    storageVersion: storage[0]!.name,
    conversionStrategy: strategy === 'Webhook' ? 'Webhook' : 'None',
    ...(creationTimestamp !== undefined ? { creationTimestamp } : {}),
    // Of the spec as given: models are built from objects nothing changes afterwards (decoded API
    // answers, parsed files).
    get contentHash() {
      return (contentHash ??= contentHashOf(crdName, spec));
    },
  };
}


/** sha256 over the CRD name and spec; status and metadata churn do not change it. */
export function contentHashOf(name: string, spec: unknown): string {
  return createHash('sha256').update(name).update('\u0000').update(stringifyJson(spec)).digest('hex');
}

function crdNameOf(crd: unknown): string | undefined {
  if (!isPlainObject(crd) || !isPlainObject(crd['metadata'])) return undefined;
  const name = crd['metadata']['name'];
  return typeof name === 'string' && name !== '' ? name : undefined;
}

type Fail = (path: string, problem: string) => never;

function versionModel(raw: unknown, path: string, crdName: string, fail: Fail): VersionModel {
  if (!isPlainObject(raw)) return fail(path, `must be an object, got ${describeValue(raw)}`);
  const name = requireString(raw, 'name', `${path}.name`, fail);
  if (!DNS_LABEL_1035.test(name)) fail(`${path}.name`, `${JSON.stringify(name)} must be a lowercase DNS label such as v1 or v1beta1`);
  const served = requireBoolean(raw, 'served', `${path}.served`, fail);
  const storage = requireBoolean(raw, 'storage', `${path}.storage`, fail);
  const deprecated = raw['deprecated'] === undefined ? false : requireBoolean(raw, 'deprecated', `${path}.deprecated`, fail);
  const deprecationWarning = optionalString(raw, 'deprecationWarning', `${path}.deprecationWarning`, fail);

  const schemaHolder = raw['schema'];
  const rawSchema = isPlainObject(schemaHolder) ? schemaHolder['openAPIV3Schema'] : undefined;
  if (!isPlainObject(rawSchema)) {
    return fail(`${path}.schema.openAPIV3Schema`, 'is missing; apiextensions.k8s.io/v1 requires a schema for every version');
  }
  const schema = convertRootSchema(rawSchema, `${path}.schema.openAPIV3Schema`, { crdName });

  return {
    name,
    served,
    storage,
    deprecated,
    ...(deprecationWarning !== undefined ? { deprecationWarning } : {}),
    subresources: subresourcesOf(raw['subresources'], `${path}.subresources`, fail),
    selectableFields: selectableFieldsOf(raw['selectableFields'], `${path}.selectableFields`, fail),
    additionalPrinterColumns: printerColumnsOf(raw['additionalPrinterColumns'], `${path}.additionalPrinterColumns`, fail),
    schema,
    rawSchema,
  };
}

function subresourcesOf(raw: unknown, path: string, fail: Fail): Subresources {
  if (raw === undefined || raw === null) return { status: false };
  if (!isPlainObject(raw)) return fail(path, `must be an object, got ${describeValue(raw)}`);
  const status = raw['status'] !== undefined && raw['status'] !== null;
  const scaleRaw = raw['scale'];
  if (scaleRaw === undefined || scaleRaw === null) return { status };
  if (!isPlainObject(scaleRaw)) return fail(`${path}.scale`, `must be an object, got ${describeValue(scaleRaw)}`);
  const scale: ScaleSubresource = {
    specReplicasPath: requireString(scaleRaw, 'specReplicasPath', `${path}.scale.specReplicasPath`, fail),
    statusReplicasPath: requireString(scaleRaw, 'statusReplicasPath', `${path}.scale.statusReplicasPath`, fail),
    ...optionalField(scaleRaw, 'labelSelectorPath', `${path}.scale.labelSelectorPath`, fail),
  };
  return { status, scale };
}

function selectableFieldsOf(raw: unknown, path: string, fail: Fail): SelectableField[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) return fail(path, 'must be a list');
  return raw.map((entry, i) => {
    if (!isPlainObject(entry)) return fail(`${path}[${i}]`, 'must be an object with a jsonPath');
    return { jsonPath: requireString(entry, 'jsonPath', `${path}[${i}].jsonPath`, fail) };
  });
}

function printerColumnsOf(raw: unknown, path: string, fail: Fail): PrinterColumn[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) return fail(path, 'must be a list');
  return raw.map((entry, i) => {
    const at = `${path}[${i}]`;
    if (!isPlainObject(entry)) return fail(at, 'must be an object');
    const priority = entry['priority'];
    if (priority !== undefined && typeof priority !== 'number') fail(`${at}.priority`, 'must be an integer');
    return {
      name: requireString(entry, 'name', `${at}.name`, fail),
      type: requireString(entry, 'type', `${at}.type`, fail),
      jsonPath: requireString(entry, 'jsonPath', `${at}.jsonPath`, fail),
      ...optionalField(entry, 'format', `${at}.format`, fail),
      ...optionalField(entry, 'description', `${at}.description`, fail),
      priority: typeof priority === 'number' ? priority : 0,
    };
  });
}

function requireString(obj: Record<string, unknown>, key: string, path: string, fail: Fail): string {
  const value = obj[key];
  if (typeof value !== 'string' || value === '') return fail(path, value === undefined ? 'is missing' : `must be a non-empty string, got ${describeValue(value)}`);
  return value;
}

function optionalString(obj: Record<string, unknown>, key: string, path: string, fail: Fail): string | undefined {
  const value = obj[key];
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') return fail(path, `must be a string, got ${describeValue(value)}`);
  return value;
}

function optionalField<K extends string>(obj: Record<string, unknown>, key: K, path: string, fail: Fail): { [P in K]?: string } {
  const value = optionalString(obj, key, path, fail);
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: string };
}

function requireBoolean(obj: Record<string, unknown>, key: string, path: string, fail: Fail): boolean {
  const value = obj[key];
  if (typeof value !== 'boolean') return fail(path, value === undefined ? 'is missing' : `must be true or false, got ${describeValue(value)}`);
  return value;
}

function stringList(raw: unknown, path: string, fail: Fail): string[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw) || !raw.every((s) => typeof s === 'string')) return fail(path, 'must be a list of strings');
  return raw as string[];
}
