// What a subscriber of one served version of a CRD depends on, as one hash: when it is the same
// before and after a CRD change, the subscriber's GraphQL types (named per version, see
// graphql-type-names.ts), the objects it receives and the selectors it may use are the same, and
// its subscription goes on. Everything that could change them is in the hash; only what cannot is
// left out, so that an unsure case ends the subscription:
//   - left out: the other versions (their types are their own), this version's printer columns
//     and deprecation (neither reaches a watch event nor a document's validity), and the
//     descriptions of its schema (documentation only);
//   - kept: the CRD's name, everything of the spec but the versions (group,
//     names, scope, conversion: a webhook converts the objects this version serves), this
//     version's whole entry otherwise (served, storage, schema with defaults, subresources,
//     selectable fields, anything unknown to us).
// Apart from the hash: a version the version-less GraphQL fields stood for and no longer stand for
// (a subscription through them was validated against this version's types, and those fields now
// mean another version). One that becomes their version had no subscription through them.
import { createHash } from 'node:crypto';
import type { CrdObject } from '../catalog/crd-catalog.ts';
import { defaultVersionOf } from '../graphql/resource-fields.ts';
import { stringifyJson } from '../kube/lossless-json.ts';
import type { ResourceModel } from '../model/resource-model.ts';

const cache = new WeakMap<CrdObject, Map<string, string>>();

/** The hash of what a subscriber of `version` depends on; computed once per CRD object and version. */
export function servedVersionHash(crd: CrdObject, version: string): string {
  let perVersion = cache.get(crd);
  if (!perVersion) cache.set(crd, (perVersion = new Map()));
  let hash = perVersion.get(version);
  if (hash === undefined) {
    hash = createHash('sha256').update(stringifyJson(servedVersionView(crd, version))).digest('hex');
    perVersion.set(version, hash);
  }
  return hash;
}

/**
 * Whether the subscribers of `version` see the same API in `now` as in `before` (two objects of one
 * CRD): the same hash, and the version-less fields still theirs if they were.
 */
export function sameServedVersion(before: { crd: CrdObject; model: ResourceModel }, now: { crd: CrdObject; model: ResourceModel }, version: string): boolean {
  if (defaultVersionOf(before.model)?.name === version && defaultVersionOf(now.model)?.name !== version) return false;
  return servedVersionHash(before.crd, version) === servedVersionHash(now.crd, version);
}

function servedVersionView(crd: CrdObject, version: string): unknown {
  const { versions, ...rest } = crd.spec;
  const entry: Record<string, unknown> = versions.find((v) => v.name === version) ?? { name: version };
  const { additionalPrinterColumns: _columns, deprecated: _deprecated, deprecationWarning: _warning, schema, ...kept } = entry;
  return {
    crd: crd.metadata.name,
    spec: rest,
    version: { ...kept, schema: withoutDescriptions(schema) },
  };
}

/** Schema keywords whose value is a schema, or a map or list of schemas. */
const SUBSCHEMA = new Set(['items', 'additionalProperties', 'additionalItems', 'not']);
const SUBSCHEMA_MAP = new Set(['properties', 'patternProperties', 'definitions', 'dependencies']);
const SUBSCHEMA_LIST = new Set(['allOf', 'anyOf', 'oneOf']);

/**
 * The schema without its descriptions. Walks schema positions only: a `description` inside a
 * default, an enum or an example is a value, and a property named description is a field.
 */
function withoutDescriptions(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutDescriptions);
  if (!isObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (key === 'description' && typeof v === 'string') continue;
    if (key === 'openAPIV3Schema' || SUBSCHEMA.has(key) || SUBSCHEMA_LIST.has(key)) out[key] = withoutDescriptions(v);
    else if (SUBSCHEMA_MAP.has(key) && isObject(v)) out[key] = Object.fromEntries(Object.entries(v).map(([k, s]) => [k, withoutDescriptions(s)]));
    else out[key] = v;
  }
  return out;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
