// Custom scalars. Output serialization is lenient where strictness would lose data the API
// server already accepted; input parsing is strict and says what is wrong.
//
// Integers beyond 2^53 are bigint in memory (variables and bodies are parsed losslessly, see
// lossless-json.ts) and leave every scalar as a JSON number with every digit (JSON.rawJSON), as
// Kubernetes writes them, so any JSON.stringify of a result keeps them exact.

import { isDateTime } from '../model/date-time.ts';
import { ApiErrorCode } from '../api-errors.ts';
import { GraphQLError, GraphQLFloat, GraphQLScalarType, Kind, print } from 'graphql';
import type { ObjectValueNode, ValueNode } from 'graphql';
import { exactInteger, rawInteger, stringifyJson, withRawIntegers } from '../kube/lossless-json.ts';

function inputError(message: string, node?: ValueNode): GraphQLError {
  return new GraphQLError(message, { ...(node ? { nodes: node } : {}), extensions: { code: ApiErrorCode.BAD_USER_INPUT } });
}

function literalToValue(node: ValueNode, variables: Record<string, unknown> | null | undefined): unknown {
  switch (node.kind) {
    case Kind.NULL:
      return null;
    case Kind.INT:
      return exactInteger(BigInt(node.value));
    case Kind.FLOAT:
      return finiteFloat(node);
    case Kind.STRING:
    case Kind.ENUM:
      return node.value;
    case Kind.BOOLEAN:
      return node.value;
    case Kind.LIST:
      return node.values.map((v) => literalToValue(v, variables));
    case Kind.OBJECT:
      return objectLiteral(node, variables);
    case Kind.VARIABLE:
      return variables ? variables[node.name.value] : undefined;
  }
}

/** A float literal as a double, as Kubernetes reads it; beyond the double range it is refused, not Infinity. */
function finiteFloat(node: ValueNode & { value: string }): number {
  const n = Number(node.value);
  if (!Number.isFinite(n)) throw inputError(`${node.value} is beyond the range of a 64-bit float`, node);
  return n;
}

function objectLiteral(node: ObjectValueNode, variables: Record<string, unknown> | null | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of node.fields) out[field.name.value] = literalToValue(field.value, variables);
  return out;
}

export const JSONScalar = new GraphQLScalarType({
  name: 'JSON',
  description:
    'Any JSON value, carried unchanged: the parts of a resource its schema leaves open ' +
    '(x-kubernetes-preserve-unknown-fields, untyped values) and raw Kubernetes payloads. ' +
    'Object keys are Kubernetes names, never renamed.',
  serialize: (value) => withRawIntegers(value),
  parseValue: (value) => value,
  parseLiteral: (node, variables) => literalToValue(node, variables),
});

export const StringMapScalar = new GraphQLScalarType({
  name: 'StringMap',
  description:
    'A JSON object whose values are all strings, such as labels and annotations: ' +
    '{"app.kubernetes.io/name": "web"}. Keys are kept exactly as given. In a MERGE patch a null value deletes its key.',
  serialize: (value) => value,
  parseValue: (value) => checkStringMap(value),
  parseLiteral: (node, variables) => {
    if (node.kind !== Kind.OBJECT) throw inputError(`StringMap must be an object, got ${print(node)}`, node);
    return checkStringMap(objectLiteral(node, variables), node);
  },
});

/** Values are strings, or null: in a MERGE patch null deletes the key (whole objects refuse it, see toKubernetes). */
function checkStringMap(value: unknown, node?: ValueNode): Record<string, string | null> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw inputError(`StringMap must be an object with string values, got ${describe(value)}`, node);
  }
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== 'string' && v !== null) throw inputError(`StringMap value of ${JSON.stringify(key)} must be a string (or null, to delete the key in a MERGE patch), got ${describe(v)}`, node);
  }
  return value as Record<string, string | null>;
}

export const IntOrStringScalar = new GraphQLScalarType({
  name: 'IntOrString',
  description: 'An integer or a string (Kubernetes IntOrString), e.g. 8080 or "http" or "25%". Sent to Kubernetes as given; integers keep every digit.',
  serialize: (value) => (typeof value === 'bigint' ? rawInteger(value) : value),
  parseValue: (value) => checkIntOrString(value),
  parseLiteral: (node) => {
    if (node.kind === Kind.INT) return exactInteger(BigInt(node.value));
    if (node.kind === Kind.STRING) return node.value;
    throw inputError(`IntOrString must be an integer or a string, got ${print(node)}`, node);
  },
});

function checkIntOrString(value: unknown, node?: ValueNode): number | bigint | string {
  if (typeof value === 'string' || typeof value === 'bigint') return value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
  throw inputError(`IntOrString must be an integer or a string, got ${describe(value)}`, node);
}

/** A value for an error message, bigint included. */
function describe(value: unknown): string {
  return value === undefined || typeof value === 'function' || typeof value === 'symbol' ? String(value) : stringifyJson(value);
}


export const DateTimeScalar = new GraphQLScalarType({
  name: 'DateTime',
  description: 'An RFC 3339 date-time string such as "2024-02-29T12:34:56Z", passed through unchanged.',
  serialize: (value) => (value instanceof Date ? value.toISOString() : value),
  parseValue: (value) => checkDateTime(value),
  parseLiteral: (node) => {
    if (node.kind !== Kind.STRING) throw inputError(`DateTime must be a string, got ${print(node)}`, node);
    return checkDateTime(node.value, node);
  },
});

function checkDateTime(value: unknown, node?: ValueNode): string {
  // The shape and a real instant (no February 30, no 24:00 or :60), as Kubernetes reads it.
  if (typeof value !== 'string' || !isDateTime(value)) {
    throw inputError(`DateTime must be an RFC 3339 date-time of a real instant such as "2024-02-29T12:34:56Z", got ${describe(value)}`, node);
  }
  return value;
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** Parsed Int64 values are numbers when they are safe integers and bigint beyond that. */
function toInt64(value: unknown, node?: ValueNode): number | bigint {
  let big: bigint;
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw inputError(`Int64 must be an integer, got ${value}`, node);
    if (Number.isSafeInteger(value)) return value;
    // Request bodies are parsed losslessly (a big integer arrives as bigint); an unsafe number has
    // lost digits on a path that parsed it as a double (variables in a GET query string).
    throw inputError(`Int64 ${value} is beyond 2^53 and has lost digits on the way; send it in a POST body or as a decimal string`, node);
  } else if (typeof value === 'bigint') {
    big = value;
  } else if (typeof value === 'string' && /^-?[0-9]+$/.test(value)) {
    big = BigInt(value);
  } else {
    throw inputError(`Int64 must be an integer or a decimal string, got ${describe(value)}`, node);
  }
  if (big < INT64_MIN || big > INT64_MAX) throw inputError(`Int64 ${big} is out of the 64-bit range`, node);
  return exactInteger(big);
}

/**
 * A value the apiserver holds that its field's type cannot represent: Kubernetes keeps objects as
 * stored when a CRD's schema changes a field's type. The field is null with this error (a typed
 * one, not an internal fault); the REST facade answers the object as stored.
 */
function storedValueError(type: string, value: unknown): GraphQLError {
  return new GraphQLError(storedValueMessage(type, describe(value)), { extensions: storedValueExtensions() });
}

export const storedValueExtensions = () => ({ code: ApiErrorCode.INVALID, reason: 'StoredValueInvalid' });

export function storedValueMessage(type: string, describedValue: string): string {
  return `the stored value ${describedValue} is not a ${type}, the type the CRD's schema now gives this field `
    + '(Kubernetes keeps objects as they were stored before a schema change); the REST facade answers the object as stored';
}

export const Int64Scalar = new GraphQLScalarType({
  name: 'Int64',
  description:
    'A 64-bit integer, always a JSON number with every digit, as Kubernetes writes it (beyond ' +
    '2^53 = 9007199254740992, read it with a parser that keeps digits, e.g. JSON.parse with ' +
    'source text access). Input: a number (exact in a POST body) or a decimal string.',
  serialize: (value) => {
    if (typeof value === 'bigint') return rawInteger(value);
    if (typeof value === 'number' && Number.isInteger(value)) return value;
    if (typeof value === 'string' && /^-?[0-9]+$/.test(value)) return rawInteger(BigInt(value));
    throw storedValueError('Int64', value);
  },
  parseValue: (value) => toInt64(value),
  parseLiteral: (node) => {
    if (node.kind === Kind.INT) return toInt64(BigInt(node.value), node);
    if (node.kind === Kind.STRING) return toInt64(node.value, node);
    throw inputError(`Int64 must be an integer or a decimal string, got ${print(node)}`, node);
  },
});

/**
 * GraphQL's Float, for Kubernetes `number` fields. Kubernetes keeps a whole number there exactly
 * (kubectl can store 9007199254740993 in a `type: number` field), so this Float, which replaces
 * graphql-js' own under the same name (the SDL does not change), carries integers beyond 2^53 as
 * bigint in and as JSON numbers with every digit out. Everything else is graphql-js' Float.
 */
export const FloatScalar = new GraphQLScalarType({
  name: 'Float',
  description: GraphQLFloat.description,
  serialize: (value) => {
    if (typeof value === 'bigint') return rawInteger(value);
    try {
      return GraphQLFloat.serialize(value);
    } catch {
      throw storedValueError('Float', value);
    }
  },
  parseValue: (value) => (typeof value === 'bigint' ? value : GraphQLFloat.parseValue(value)),
  parseLiteral: (node) => {
    if (node.kind === Kind.INT) return exactInteger(BigInt(node.value));
    if (node.kind === Kind.FLOAT) return finiteFloat(node);
    return GraphQLFloat.parseLiteral(node);
  },
});

export const CUSTOM_SCALARS = [JSONScalar, StringMapScalar, IntOrStringScalar, DateTimeScalar, Int64Scalar, FloatScalar] as const;
