// openAPIV3Schema (a structural schema, as parsed JSON) → the typed field tree of the model.

import { CrdModelError } from './crd-model-error.ts';
import { stringifyJson } from '../kube/lossless-json.ts';
import { isValidGraphQLName, mapEnumValues, mapPropertyNames, firstFree } from './graphql-names.ts';
import { RELATION_FIELDS } from './graphql-type-names.ts';
import { thisTurn } from './this-turn.ts';
import type {
  Constraints,
  EnumModel,
  ObjectNode,
  PropertyModel,
  SchemaNode,
  ValidationRule,
} from './resource-model.ts';

type RawSchema = Record<string, unknown>;

const KNOWN_TYPES = new Set(['object', 'array', 'string', 'integer', 'number', 'boolean']);
const COMBINATORS = ['allOf', 'anyOf', 'oneOf'] as const;

export interface SchemaContext {
  readonly crdName: string;
}

/** A step of the path below the root: a property's name, or a literal suffix such as `.items`. */
type Step = string | { readonly suffix: string };

const ITEMS: Step = { suffix: '.items' };
const ADDITIONAL: Step = { suffix: '.additionalProperties' };

/**
 * One conversion's context. The path of the node being converted is kept as a stack of steps and
 * written out only for an error: a CRD that converts (nearly all) never formats a path.
 */
interface Walk {
  readonly crdName: string;
  readonly root: string;
  readonly steps: Step[];
  readonly shared: SharedNodes;
}

/**
 * Converted nodes by a candidate key of the sub-schema they were made from (see candidateKey).
 * Real CRDs repeat large sub-schemas (a PodSpec, a container, status conditions, a secret
 * reference) within one version, across the versions of a CRD and across CRDs: a sub-schema
 * equal, as JSON, to one converted before gets that node instead of a new copy. Conversion is a
 * function of the sub-schema's value alone (the path only names errors, and an equal value was
 * converted without one), so the shared node is exactly the node a new conversion would give.
 * The key only finds candidates: equality is always checked on the whole value.
 *
 * So a model is a graph, not a tree: one node can sit at several places of one or several
 * models. Nodes are never changed after conversion; whatever is cached per node (filters,
 * property indexes) must depend on the node alone, never on where it was reached.
 */
type SharedNodes = Map<string, { readonly raw: RawSchema; readonly node: SchemaNode }[]>;

// Candidates kept per description: bounds the comparisons for a description used by many
// different sub-schemas.
const MAX_CANDIDATES = 8;

/**
 * The nodes of the CRDs converted in the current synchronous run (a start's or a list's batch of
 * CRDs is converted in one loop), dropped when the run ends.
 */
const sharedNodes = thisTurn((): SharedNodes => new Map());

function pathOf(walk: Walk): string {
  let out = walk.root;
  for (const step of walk.steps) out += typeof step === 'string' ? `.properties[${JSON.stringify(step)}]` : step.suffix;
  return out;
}

/** The root of a version schema: always an object with apiVersion, kind and a typed metadata. */
export function convertRootSchema(raw: unknown, path: string, ctx: SchemaContext): ObjectNode {
  const walk: Walk = { crdName: ctx.crdName, root: path, steps: [], shared: sharedNodes() };
  const node = convertSchema(raw, walk);
  if (node.kind !== 'object' && node.kind !== 'json') {
    fail(walk, '', `the root schema must be of type object, not ${node.kind}`);
  }
  const base: ObjectNode =
    node.kind === 'object'
      ? node
      : {
          ...node,
          kind: 'object',
          properties: [],
          embeddedResource: false,
          // A root that only preserves unknown fields still gets typed apiVersion/kind/metadata.
          ...(node.reason === 'preserve-unknown-fields' ? { unknownFieldsName: '_unknownFields' } : {}),
        };
  return withRelationNamesFree(withPlainHeader(withResourceHeader(base, node.kind === 'json' && node.reason === 'preserve-unknown-fields')));
}

/**
 * Every resource's object type implements the KubernetesResource interface, whose apiVersion and
 * kind are Strings: at the root they are served as plain strings whatever the schema says about
 * them (an enum or a format there constrains values Kubernetes sets itself).
 */
function withPlainHeader(node: ObjectNode): ObjectNode {
  const properties = node.properties.map((p): PropertyModel => {
    if (p.name !== 'apiVersion' && p.name !== 'kind') return p;
    const { description, nullable, hasDefault, default: value, format } = p.node;
    const enumValues = p.node.kind === 'string' && p.node.enum ? { enum: { values: p.node.enum.values } } : {};
    return {
      ...p,
      node: {
        ...emptyBase(),
        ...(description !== undefined ? { description } : {}),
        nullable,
        hasDefault,
        ...(hasDefault ? { default: value } : {}),
        ...(format !== undefined && format !== 'date-time' ? { format } : {}),
        constraints: p.node.constraints,
        validations: p.node.validations,
        kind: 'string',
        ...enumValues,
      },
    };
  });
  return { ...node, properties };
}

/**
 * The relation fields (owners, children, events) belong to every resource's object type; a
 * property of the same name at the root of a schema gets the first free `_2`, `_3`, ... instead.
 */
function withRelationNamesFree(node: ObjectNode): ObjectNode {
  const reserved = new Set<string>(RELATION_FIELDS);
  if (!node.properties.some((p) => reserved.has(p.graphqlName))) return node;
  const taken = new Set([...reserved, ...node.properties.map((p) => p.graphqlName)]);
  if (node.unknownFieldsName !== undefined) taken.add(node.unknownFieldsName);
  const properties = node.properties.map((p) => {
    if (!reserved.has(p.graphqlName)) return p;
    const graphqlName = firstFree(p.graphqlName, taken);
    taken.add(graphqlName);
    return { ...p, graphqlName };
  });
  return { ...node, properties };
}

/** The node of the schema at the walk's current path. */
function convertSchema(raw: unknown, walk: Walk): SchemaNode {
  const schema = asSchema(raw, walk, '');
  const key = candidateKey(schema);
  if (key === undefined) return convertOwn(schema, walk);
  const candidates = walk.shared.get(key);
  if (candidates !== undefined) {
    for (const candidate of candidates) if (sameJson(candidate.raw, schema)) return candidate.node;
  }
  const node = convertOwn(schema, walk);
  if (candidates === undefined) walk.shared.set(key, [{ raw: schema, node }]);
  else if (candidates.length < MAX_CANDIDATES) candidates.push({ raw: schema, node });
  return node;
}

/**
 * Where equal sub-schemas are looked for: under their description, or for an undocumented object
 * (some CRDs are generated without descriptions) under its property names. Other undocumented
 * schemas (mostly leaves) cost less to convert than to look up.
 */
function candidateKey(schema: RawSchema): string | undefined {
  const description = schema['description'];
  if (typeof description === 'string') return description;
  const properties = schema['properties'];
  if (!isPlainObject(properties)) return undefined;
  let key = '\u0000';
  for (const name in properties) key += `${name}\u0000`;
  return key;
}

function convertOwn(schema: RawSchema, walk: Walk): SchemaNode {
  const merged = hasCombinators(schema) ? mergeCombinators(schema, walk) : schema;
  return convertMerged(merged, schema, walk);
}

/**
 * Whether two JSON values are equal: the same keys in the same order, the same numbers (-0 is
 * not 0, a bigint is not a number), arrays of equal items. Objects other than plain ones are
 * equal only to themselves.
 */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return typeof a !== 'number' || Object.is(a, b);
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameJson(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const proto = Object.getPrototypeOf(a);
  if (proto !== Object.getPrototypeOf(b) || (proto !== Object.prototype && proto !== null)) return false;
  // b's keys are read in order by for-in (plain objects: own keys only, as Object.keys gives them)
  // against a's list, without a second list: a CRD's schema is compared whole against an equal one.
  const keysA = Object.keys(a);
  let i = 0;
  for (const key in b) {
    if (key !== keysA[i++] || !sameJson((a as RawSchema)[key], (b as RawSchema)[key])) return false;
  }
  return i === keysA.length;
}

/** The node of a child schema, one step below the walk's current path. */
function convertChild(raw: unknown, walk: Walk, step: Step): SchemaNode {
  walk.steps.push(step);
  const node = convertSchema(raw, walk);
  walk.steps.pop();
  return node;
}

function hasCombinators(schema: RawSchema): boolean {
  return schema['allOf'] !== undefined || schema['anyOf'] !== undefined || schema['oneOf'] !== undefined;
}

function convertMerged(schema: RawSchema, original: RawSchema, walk: Walk): SchemaNode {
  const base = baseOf(schema, original, walk);
  const type = schema['type'];
  if (type !== undefined && (typeof type !== 'string' || !KNOWN_TYPES.has(type))) {
    fail(walk, '.type', `unknown type ${stringifyJson(type)} (expected one of ${[...KNOWN_TYPES].join(', ')})`);
  }
  // Each node is its base with the kind's keys added in place: the base is this node's own, and
  // the keys end up in the order a `{ ...base, kind, ... }` literal gives, without copying it.
  const node = base as Building;
  if (schema['x-kubernetes-int-or-string'] === true) return finish(node, 'intOrString');

  const preserve = schema['x-kubernetes-preserve-unknown-fields'] === true;
  const embedded = schema['x-kubernetes-embedded-resource'] === true;
  const properties = schema['properties'];
  const additional = schema['additionalProperties'];
  if (properties !== undefined && !isPlainObject(properties)) {
    fail(walk, '.properties', 'must be an object mapping property names to schemas');
  }
  if (additional !== undefined && typeof additional !== 'boolean' && !isPlainObject(additional)) {
    fail(walk, '.additionalProperties', 'must be a boolean or a schema');
  }

  const looksLikeObject =
    type === 'object' || (type === undefined && (properties !== undefined || isPlainObject(additional) || embedded));
  if (looksLikeObject) {
    const mapType = schema['x-kubernetes-map-type'];
    const names = properties === undefined ? undefined : Object.keys(properties);
    const hasProperties = names !== undefined && names.length > 0;
    if (!hasProperties && isPlainObject(additional) && !embedded) {
      const values = convertChild(additional, walk, ADDITIONAL);
      if (mapType === 'granular' || mapType === 'atomic') node.mapType = mapType;
      node.kind = 'map';
      node.values = values;
      return node as unknown as SchemaNode;
    }
    if (!hasProperties && !embedded) {
      // `type: object` with nothing declared: either everything is preserved or, when not, the
      // API server prunes it to {}. A JSON value covers both without losing anything.
      node.kind = 'json';
      node.reason = preserve || additional === true ? 'preserve-unknown-fields' : 'untyped';
      return node as unknown as SchemaNode;
    }
    const props = hasProperties ? convertProperties(properties as RawSchema, names, schema, walk) : [];
    // Non-structural schemas can combine properties with additionalProperties; the undeclared
    // rest is then reachable the same way as preserved unknown fields.
    const keepsUnknown = preserve || additional === true || isPlainObject(additional);
    if (mapType === 'granular' || mapType === 'atomic') node.mapType = mapType;
    node.kind = 'object';
    node.properties = props;
    node.embeddedResource = embedded;
    let object = node as unknown as ObjectNode;
    if (embedded) object = withResourceHeader(object, false);
    if (keepsUnknown) (object as unknown as Building).unknownFieldsName = freeUnknownFieldsName(object.properties);
    return object;
  }

  switch (type) {
    case 'array': {
      const items = schema['items'];
      const listType = schema['x-kubernetes-list-type'];
      const keys = schema['x-kubernetes-list-map-keys'];
      const itemsNode =
        items === undefined
          ? ({ ...emptyBase(), kind: 'json', reason: 'untyped' } as const)
          : Array.isArray(items)
            ? fail(walk, '.items', 'tuple arrays (items as a list) are not allowed in structural schemas')
            : convertChild(items, walk, ITEMS);
      node.kind = 'array';
      node.items = itemsNode;
      if (listType === 'atomic' || listType === 'set' || listType === 'map') node.listType = listType;
      if (Array.isArray(keys) && keys.every((k) => typeof k === 'string')) node.listMapKeys = keys as string[];
      return node as unknown as SchemaNode;
    }
    case 'string':
      return withEnum(finish(node, 'string'), schema, true);
    case 'integer':
      node.kind = 'integer';
      node.int32 = schema['format'] === 'int32';
      return withEnum(node as unknown as SchemaNode, schema, false);
    case 'number':
      return withEnum(finish(node, 'number'), schema, false);
    case 'boolean':
      return withEnum(finish(node, 'boolean'), schema, false);
    default:
      if (type === undefined && isPlainObject(schema['items'])) {
        return convertMerged({ ...schema, type: 'array' }, original, walk);
      }
      node.kind = 'json';
      node.reason = preserve ? 'preserve-unknown-fields' : 'untyped';
      return node as unknown as SchemaNode;
  }
}

/** A node's base while the kind's own keys are added to it. */
type Building = Base & { [key: string]: unknown };

/** Adds the kind, the node's last key. */
function finish(node: Building, kind: SchemaNode['kind']): SchemaNode {
  node.kind = kind;
  return node as unknown as SchemaNode;
}

/** Adds the enum, when the schema has one, as the node's last key. */
function withEnum(node: SchemaNode, schema: RawSchema, named: boolean): SchemaNode {
  const e = schema['enum'] === undefined ? undefined : enumOf(schema, named);
  if (e !== undefined) (node as unknown as Building).enum = e;
  return node;
}

function convertProperties(properties: RawSchema, names: readonly string[], schema: RawSchema, walk: Walk): PropertyModel[] {
  const required = requiredOf(schema['required']);
  // Nearly every property name is already a GraphQL name: the mapping is needed only otherwise.
  let mapping: Map<string, string> | undefined;
  for (const name of names) {
    if (!isValidGraphQLName(name)) {
      mapping = mapPropertyNames(names);
      break;
    }
  }
  const out: PropertyModel[] = new Array(names.length);
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    out[i] = {
      name,
      graphqlName: mapping === undefined ? name : mapping.get(name)!,
      required: required !== undefined && required(name),
      node: convertChild(properties[name], walk, name),
    };
  }
  return out;
}

/** Whether a name is in the schema's `required` list (strings only); undefined when it lists none. */
function requiredOf(raw: unknown): ((name: string) => boolean) | undefined {
  if (!Array.isArray(raw) || raw.length === 0) return undefined;
  if (raw.length <= 8) return (name) => raw.includes(name);
  const set = new Set<unknown>(raw);
  return (name) => set.has(name);
}

/** `_unknownFields`, or its first free variant among the object's GraphQL field names. */
function freeUnknownFieldsName(properties: readonly PropertyModel[]): string {
  const name = '_unknownFields';
  if (!properties.some((p) => p.graphqlName.startsWith(name))) return name;
  return firstFree(name, new Set(properties.map((p) => p.graphqlName)));
}

/** Adds apiVersion, kind and metadata (as ObjectMeta) to an object that is a whole resource. */
function withResourceHeader(node: ObjectNode, preserveRest: boolean): ObjectNode {
  const byName = new Map(node.properties.map((p) => [p.name, p]));
  const header: PropertyModel[] = [];
  for (const name of ['apiVersion', 'kind'] as const) {
    const existing = byName.get(name);
    header.push(existing ?? { name, graphqlName: name, required: false, node: { ...emptyBase(), kind: 'string' } });
  }
  const meta = byName.get('metadata');
  header.push({
    name: 'metadata',
    graphqlName: 'metadata',
    required: meta?.required ?? false,
    node: { ...emptyBase(), ...(meta?.node.description ? { description: meta.node.description } : {}), kind: 'objectMeta' },
  });
  const rest = node.properties.filter((p) => p.name !== 'apiVersion' && p.name !== 'kind' && p.name !== 'metadata');
  const properties = [...header, ...rest];
  const result: ObjectNode = { ...node, properties };
  if (preserveRest || node.unknownFieldsName !== undefined) {
    return { ...result, unknownFieldsName: freeUnknownFieldsName(properties) };
  }
  return result;
}

function enumOf(schema: RawSchema, named: boolean): EnumModel | undefined {
  const raw = schema['enum'];
  if (!Array.isArray(raw)) return undefined;
  const values = raw.filter((v) => v !== null);
  if (values.length === 0) return undefined;
  const graphqlValues = named ? mapEnumValues(values) : undefined;
  return graphqlValues ? { values, graphqlValues } : { values };
}

interface Base {
  description?: string;
  nullable: boolean;
  hasDefault: boolean;
  default?: unknown;
  format?: string;
  validations: ValidationRule[];
  constraints: Constraints;
}

/** Built by assignment in the order the node's keys always had: no temporary objects per node. */
function baseOf(schema: RawSchema, original: RawSchema, walk: Walk): Base {
  const description = schema['description'];
  const format = schema['format'];
  const hasDefault = Object.hasOwn(schema, 'default');
  const base = {} as Base;
  if (typeof description === 'string') base.description = description;
  base.nullable = schema['nullable'] === true;
  base.hasDefault = hasDefault;
  if (hasDefault) base.default = schema['default'];
  if (typeof format === 'string') base.format = format;
  const validations = schema['x-kubernetes-validations'];
  base.validations = validations === undefined ? [] : validationsOf(validations, walk);
  base.constraints = constraintsOf(schema, original);
  return base;
}

function emptyBase() {
  return { nullable: false, hasDefault: false, validations: [], constraints: {} };
}

function validationsOf(raw: unknown, walk: Walk): ValidationRule[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) fail(walk, '.x-kubernetes-validations', 'must be a list of validation rules');
  return raw.map((entry, i) => {
    if (!isPlainObject(entry) || typeof entry['rule'] !== 'string') {
      fail(walk, `.x-kubernetes-validations[${i}]`, 'must be an object with a string `rule`');
    }
    const rule: { -readonly [K in keyof ValidationRule]: ValidationRule[K] } = { rule: entry['rule'] };
    for (const key of ['message', 'messageExpression', 'reason', 'fieldPath'] as const) {
      if (typeof entry[key] === 'string') rule[key] = entry[key];
    }
    if (typeof entry['optionalOldSelf'] === 'boolean') rule.optionalOldSelf = entry['optionalOldSelf'];
    return rule;
  });
}

const NUMERIC_CONSTRAINTS = [
  'minLength',
  'maxLength',
  'minimum',
  'maximum',
  'minItems',
  'maxItems',
  'minProperties',
  'maxProperties',
  'multipleOf',
] as const;

function constraintsOf(schema: RawSchema, original: RawSchema): Constraints {
  const out: { -readonly [K in keyof Constraints]: Constraints[K] } = {};
  for (const key of NUMERIC_CONSTRAINTS) {
    // The apiserver writes bounds such as 9223372036854775000 with every digit: they arrive as bigint.
    const value = schema[key];
    if (typeof value === 'number' || typeof value === 'bigint') out[key] = value;
  }
  if (typeof schema['pattern'] === 'string') out.pattern = schema['pattern'];
  if (schema['exclusiveMinimum'] === true) out.exclusiveMinimum = true;
  if (schema['exclusiveMaximum'] === true) out.exclusiveMaximum = true;
  if (schema['uniqueItems'] === true) out.uniqueItems = true;
  if (hasCombinators(original) || original['not'] !== undefined) {
    const combinators = summarizeCombinators(original);
    if (combinators) out.combinators = combinators;
  }
  return out;
}

function summarizeCombinators(schema: RawSchema): string | undefined {
  const parts: string[] = [];
  for (const key of [...COMBINATORS, 'not'] as const) {
    const value = schema[key];
    if (value === undefined) continue;
    const branches = Array.isArray(value) ? value : [value];
    parts.push(`${key}: ${branches.map(summarizeBranch).join(' | ')}`);
  }
  return parts.length > 0 ? parts.join('; ') : undefined;
}

function summarizeBranch(branch: unknown): string {
  if (!isPlainObject(branch)) return stringifyJson(branch);
  if (Array.isArray(branch['required']) && Object.keys(branch).length === 1) {
    return `required(${branch['required'].join(', ')})`;
  }
  const text = stringifyJson(branch);
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

/**
 * Folds allOf/anyOf/oneOf branches into the shape: they only validate, but a non-structural
 * schema may declare properties only inside a branch, and those must stay reachable.
 */
function mergeCombinators(schema: RawSchema, walk: Walk): RawSchema {
  let merged: RawSchema | undefined;
  const branchTypes = new Set<unknown>();
  for (const key of COMBINATORS) {
    const branches = schema[key];
    if (branches === undefined) continue;
    if (!Array.isArray(branches)) fail(walk, `.${key}`, 'must be a list of schemas');
    branches.forEach((branch, i) => {
      walk.steps.push({ suffix: `.${key}[${i}]` });
      const branchSchema = mergeCombinators(asSchema(branch, walk, ''), walk);
      walk.steps.pop();
      if (branchSchema['type'] !== undefined) branchTypes.add(branchSchema['type']);
      merged = mergeShape(merged ?? { ...schema }, branchSchema, key === 'allOf', false);
    });
  }
  if (!merged) return schema;
  // The main schema's own type wins; branches that agree on one type lend it; branches of
  // different types (anyOf: [integer, string] without int-or-string) leave the value untyped.
  if (schema['type'] === undefined && branchTypes.size === 1) merged['type'] = [...branchTypes][0];
  return merged;
}

function mergeShape(target: RawSchema, branch: RawSchema, addRequired: boolean, copyType: boolean): RawSchema {
  const out: RawSchema = { ...target };
  if (isPlainObject(branch['properties'])) {
    const props: RawSchema = isPlainObject(out['properties']) ? { ...out['properties'] } : {};
    for (const [name, sub] of Object.entries(branch['properties'])) {
      const existing = props[name];
      props[name] = isPlainObject(existing) && isPlainObject(sub) ? mergeShape(existing, sub, true, true) : (existing ?? sub);
    }
    out['properties'] = props;
  }
  if (isPlainObject(branch['items'])) {
    out['items'] = isPlainObject(out['items']) ? mergeShape(out['items'], branch['items'], true, true) : branch['items'];
  }
  if (out['additionalProperties'] === undefined && branch['additionalProperties'] !== undefined) {
    out['additionalProperties'] = branch['additionalProperties'];
  }
  if (copyType && out['type'] === undefined && typeof branch['type'] === 'string') out['type'] = branch['type'];
  for (const flag of ['x-kubernetes-preserve-unknown-fields', 'x-kubernetes-int-or-string', 'x-kubernetes-embedded-resource']) {
    if (branch[flag] === true && out[flag] === undefined) out[flag] = true;
  }
  if (addRequired && Array.isArray(branch['required'])) {
    const required = new Set<unknown>(Array.isArray(out['required']) ? out['required'] : []);
    for (const r of branch['required']) required.add(r);
    out['required'] = [...required];
  }
  return out;
}

function asSchema(raw: unknown, walk: Walk, suffix: string): RawSchema {
  if (!isPlainObject(raw)) fail(walk, suffix, `must be a schema object, got ${describeValue(raw)}`);
  return raw;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${stringifyJson(value)}`;
}

/** Throws the problem at the walk's current path plus `suffix`. */
function fail(walk: Walk, suffix: string, problem: string): never {
  throw new CrdModelError(walk.crdName, pathOf(walk) + suffix, problem);
}
