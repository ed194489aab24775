// A CRD's openAPIV3Schema (OpenAPI 3.0 dialect, structural) → a JSON Schema 2020-12 / OpenAPI
// 3.1 schema. Property names stay Kubernetes names: the REST facade speaks Kubernetes JSON.

import { ecmaPattern } from './go-pattern.ts';

type Schema = Record<string, unknown>;

export interface ConvertOptions {
  /** Where to point the top-level (and embedded resources') metadata. */
  readonly objectMetaRef: string;
}

export function convertResourceSchema(raw: Schema, options: ConvertOptions): Schema {
  const out = convert(raw, options);
  const properties: Schema = { ...((out['properties'] as Schema | undefined) ?? {}) };
  properties['apiVersion'] ??= { type: 'string', description: 'group/version of this object.' };
  properties['kind'] ??= { type: 'string' };
  properties['metadata'] = metadataRef(raw['properties'], options);
  out['type'] = 'object';
  out['properties'] = { apiVersion: properties['apiVersion'], kind: properties['kind'], metadata: properties['metadata'], ...properties };
  return out;
}

function metadataRef(rawProperties: unknown, options: ConvertOptions): Schema {
  const raw = isSchema(rawProperties) && isSchema(rawProperties['metadata']) ? rawProperties['metadata'] : undefined;
  const description = raw && typeof raw['description'] === 'string' ? { description: raw['description'] } : {};
  return { $ref: options.objectMetaRef, ...description };
}

function convert(raw: Schema, options: ConvertOptions): Schema {
  // One pass over the keys in their order (a for-in over a parsed JSON object lists its own keys
  // as Object.entries does, without the pair arrays): this runs for every node of every schema.
  const out: Schema = {};
  for (const key in raw) {
    const value = raw[key];
    switch (key) {
      case 'nullable':
      case 'exclusiveMinimum':
      case 'exclusiveMaximum':
      case 'example':
        break;
      case 'properties':
        if (isSchema(value)) {
          const props: Schema = {};
          for (const name in value) {
            const sub = value[name];
            props[name] = isSchema(sub) ? convert(sub, options) : sub;
          }
          out[key] = props;
        } else out[key] = value;
        break;
      case 'items':
      case 'not':
      case 'additionalProperties':
        out[key] = isSchema(value) ? convert(value, options) : value;
        break;
      case 'allOf':
      case 'anyOf':
      case 'oneOf':
        out[key] = Array.isArray(value) ? value.map((sub) => (isSchema(sub) ? convert(sub, options) : sub)) : value;
        break;
      case 'pattern': {
        // OpenAPI 3.1 patterns are ECMAScript's; one JavaScript cannot read keeps its Go text aside.
        const ecma = typeof value === 'string' ? ecmaPattern(value) : undefined;
        if (ecma !== undefined) out[key] = ecma;
        else out['x-kubernetes-pattern'] = value;
        break;
      }
      case 'format':
        // Kubernetes' duration is Go's ("1h30m"); JSON Schema's is ISO 8601's ("PT1H30M").
        if (value === 'duration') out['x-kubernetes-format'] = value;
        else out[key] = value;
        break;
      default:
        out[key] = value;
    }
  }
  if (raw['nullable'] === true) {
    if (typeof raw['type'] === 'string') out['type'] = [raw['type'], 'null'];
    if (Array.isArray(raw['enum']) && !raw['enum'].includes(null)) out['enum'] = [...raw['enum'], null];
  }
  // OpenAPI 3.0's boolean exclusive bounds are numbers in 3.1.
  for (const [flag, bound] of [['exclusiveMinimum', 'minimum'], ['exclusiveMaximum', 'maximum']] as const) {
    if (raw[flag] === true && isNumber(raw[bound])) {
      out[flag] = raw[bound];
      delete out[bound];
    } else if (isNumber(raw[flag])) {
      out[flag] = raw[flag];
    }
  }
  if (Object.hasOwn(raw, 'example')) out['examples'] = [raw['example']];
  if (raw['x-kubernetes-int-or-string'] === true && out['anyOf'] === undefined && out['oneOf'] === undefined) {
    out['anyOf'] = [{ type: 'integer' }, { type: 'string' }];
  }
  if (raw['x-kubernetes-embedded-resource'] === true) {
    // An embedded resource always has apiVersion, kind and ObjectMeta, declared or not.
    const props: Schema = isSchema(out['properties']) ? out['properties'] : {};
    props['apiVersion'] ??= { type: 'string' };
    props['kind'] ??= { type: 'string' };
    if (!isSchema(props['metadata']) || props['metadata']['properties'] === undefined) {
      props['metadata'] = { $ref: options.objectMetaRef };
    }
    out['properties'] = props;
  }
  return out;
}

/** Bounds beyond 2^53 arrive as bigint (see lossless-json.ts) and are written with every digit. */
function isNumber(value: unknown): value is number | bigint {
  return typeof value === 'number' || typeof value === 'bigint';
}

function isSchema(value: unknown): value is Schema {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
