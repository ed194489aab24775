// The normalized, immutable description of one CustomResourceDefinition that every builder
// (GraphQL, OpenAPI) and the request/response converters work from. Produced by crd-to-model.ts.

export type Scope = 'Namespaced' | 'Cluster';

export interface ResourceModel {
  /** metadata.name of the CRD, always `<plural>.<group>`. */
  readonly crdName: string;
  readonly group: string;
  readonly kind: string;
  readonly listKind: string;
  readonly plural: string;
  readonly singular: string;
  readonly shortNames: readonly string[];
  readonly categories: readonly string[];
  readonly scope: Scope;
  /** In the order the CRD lists them, served or not. */
  readonly versions: readonly VersionModel[];
  readonly storageVersion: string;
  readonly conversionStrategy: 'None' | 'Webhook';
  /** metadata.creationTimestamp when known; decides which of two conflicting CRDs wins. */
  readonly creationTimestamp?: string;
  /**
   * sha256 of the CRD name and spec; the cache key of everything built from this model. Computed
   * when first read (serializing a large spec costs milliseconds): the builders compare a cached
   * model with a new one by identity first, so a cold build reads none.
   */
  readonly contentHash: string;
}

/** Whether two models of one CRD name were made from the same spec: the same model, or the same content hash. */
export function sameContent(a: ResourceModel, b: ResourceModel): boolean {
  return a === b || (a.crdName === b.crdName && a.contentHash === b.contentHash);
}

export interface VersionModel {
  readonly name: string;
  readonly served: boolean;
  readonly storage: boolean;
  readonly deprecated: boolean;
  readonly deprecationWarning?: string;
  readonly subresources: Subresources;
  readonly selectableFields: readonly SelectableField[];
  readonly additionalPrinterColumns: readonly PrinterColumn[];
  /**
   * The typed field tree of the whole object (apiVersion, kind, metadata, spec, status...).
   * Equal sub-schemas convert to one node, which then sits at several places of one or several
   * models (see openapi-schema-to-node.ts): nodes never change, and whatever is cached per node
   * must depend on the node alone, never on the path or the model it was reached from.
   */
  readonly schema: ObjectNode;
  /** The CRD's openAPIV3Schema exactly as given (for the REST facade, which speaks Kubernetes JSON). */
  readonly rawSchema: Readonly<Record<string, unknown>>;
}

export interface Subresources {
  readonly status: boolean;
  readonly scale?: ScaleSubresource;
}

export interface ScaleSubresource {
  readonly specReplicasPath: string;
  readonly statusReplicasPath: string;
  readonly labelSelectorPath?: string;
}

export interface SelectableField {
  readonly jsonPath: string;
}

export interface PrinterColumn {
  readonly name: string;
  readonly type: string;
  readonly jsonPath: string;
  readonly format?: string;
  readonly description?: string;
  readonly priority: number;
}

export interface ValidationRule {
  readonly rule: string;
  readonly message?: string;
  readonly messageExpression?: string;
  readonly reason?: string;
  readonly fieldPath?: string;
  readonly optionalOldSelf?: boolean;
}

/** A bound as the CRD gives it: beyond 2^53 a bigint (see lossless-json.ts). */
export type SchemaNumber = number | bigint;

/** Value constraints kept for documentation; the API server enforces them. */
export interface Constraints {
  readonly pattern?: string;
  readonly minLength?: SchemaNumber;
  readonly maxLength?: SchemaNumber;
  readonly minimum?: SchemaNumber;
  readonly maximum?: SchemaNumber;
  readonly exclusiveMinimum?: boolean;
  readonly exclusiveMaximum?: boolean;
  readonly minItems?: SchemaNumber;
  readonly maxItems?: SchemaNumber;
  readonly uniqueItems?: boolean;
  readonly minProperties?: SchemaNumber;
  readonly maxProperties?: SchemaNumber;
  readonly multipleOf?: SchemaNumber;
  /** Human summary of oneOf/anyOf/allOf/not, which only validate and never change the shape. */
  readonly combinators?: string;
}

interface NodeBase {
  readonly description?: string;
  readonly nullable: boolean;
  readonly hasDefault: boolean;
  readonly default?: unknown;
  readonly format?: string;
  readonly validations: readonly ValidationRule[];
  readonly constraints: Constraints;
}

export interface StringNode extends NodeBase {
  readonly kind: 'string';
  readonly enum?: EnumModel;
}

/** `format: int32` fits GraphQL Int; every other integer is a Kubernetes int64. */
export interface IntegerNode extends NodeBase {
  readonly kind: 'integer';
  readonly int32: boolean;
  readonly enum?: EnumModel;
}

export interface NumberNode extends NodeBase {
  readonly kind: 'number';
  readonly enum?: EnumModel;
}

export interface BooleanNode extends NodeBase {
  readonly kind: 'boolean';
  readonly enum?: EnumModel;
}

export interface IntOrStringNode extends NodeBase {
  readonly kind: 'intOrString';
}

/**
 * A value whose shape the schema leaves open: x-kubernetes-preserve-unknown-fields without
 * properties, `additionalProperties: true`, or no type at all. Carried as-is.
 */
export interface JsonNode extends NodeBase {
  readonly kind: 'json';
  readonly reason: 'preserve-unknown-fields' | 'untyped';
}

/** Kubernetes ObjectMeta: the top-level `metadata` and that of embedded resources. */
export interface ObjectMetaNode extends NodeBase {
  readonly kind: 'objectMeta';
}

export interface PropertyModel {
  /** The Kubernetes property name, exactly as in the CRD. */
  readonly name: string;
  /** The GraphQL field name; equal to `name` whenever `name` is a valid GraphQL name. */
  readonly graphqlName: string;
  readonly required: boolean;
  readonly node: SchemaNode;
}

export interface ObjectNode extends NodeBase {
  readonly kind: 'object';
  readonly properties: readonly PropertyModel[];
  /**
   * Set when x-kubernetes-preserve-unknown-fields sits beside typed properties: the fields the
   * schema does not declare are exposed together, as one JSON object, under this GraphQL name.
   */
  readonly unknownFieldsName?: string;
  readonly embeddedResource: boolean;
  readonly mapType?: 'granular' | 'atomic';
}

/** additionalProperties with a schema: a string-keyed map. */
export interface MapNode extends NodeBase {
  readonly kind: 'map';
  readonly values: SchemaNode;
  readonly mapType?: 'granular' | 'atomic';
}

export interface ArrayNode extends NodeBase {
  readonly kind: 'array';
  readonly items: SchemaNode;
  readonly listType?: 'atomic' | 'set' | 'map';
  readonly listMapKeys?: readonly string[];
}

export type SchemaNode =
  | StringNode
  | IntegerNode
  | NumberNode
  | BooleanNode
  | IntOrStringNode
  | JsonNode
  | ObjectMetaNode
  | ObjectNode
  | MapNode
  | ArrayNode;

export interface EnumModel {
  /** The allowed values exactly as the CRD lists them (null, for a nullable enum, excluded). */
  readonly values: readonly unknown[];
  /**
   * The GraphQL enum values, in the CRD's order, when every value can be named sanely (see
   * graphql-names.ts); absent when the enum stays a scalar.
   */
  readonly graphqlValues?: readonly EnumValueName[];
}

export interface EnumValueName {
  readonly name: string;
  readonly value: string;
}
