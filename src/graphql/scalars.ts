// Custom scalars. Output serialization is lenient where strictness would lose data the API
// server already accepted; input parsing is strict and says what is wrong.

import { ApiErrorCode } from '../api-errors.ts';
import { GraphQLError, GraphQLScalarType, Kind, print } from 'graphql';
import type { ObjectValueNode, ValueNode } from 'graphql';

function inputError(message: string, node?: ValueNode): GraphQLError {
  return new GraphQLError(message, { ...(node ? { nodes: node } : {}), extensions: { code: ApiErrorCode.BAD_USER_INPUT } });
}

function literalToValue(node: ValueNode, variables: Record<string, unknown> | null | undefined): unknown {
  switch (node.kind) {
    case Kind.NULL:
      return null;
    case Kind.INT: {
      const n = Number(node.value);
      return Number.isSafeInteger(n) ? n : BigInt(node.value);
    }
    case Kind.FLOAT:
      return Number(node.value);
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
  serialize: (value) => jsonOut(value),
  parseValue: (value) => value,
  parseLiteral: (node, variables) => literalToValue(node, variables),
});

/**
 * Int64 values beyond 2^53 arrive as bigint (parseKubernetesJson), also deep inside a JSON value
 * (an object's `raw`, a preserved field): out as Int64 is, a decimal string. The value is copied
 * only where it holds one.
 */
function jsonOut(value: unknown): unknown {
  if (typeof value === 'bigint') return bigintOut(value);
  if (typeof value !== 'object' || value === null) return value;
  let copy: Record<string, unknown> | unknown[] | undefined;
  const entries = Array.isArray(value) ? value.entries() : Object.entries(value);
  for (const [k, v] of entries) {
    const out = jsonOut(v);
    if (out === v) continue;
    copy ??= Array.isArray(value) ? [...value] : { ...(value as Record<string, unknown>) };
    (copy as Record<string | number, unknown>)[k] = out;
  }
  return copy ?? value;
}

export const StringMapScalar = new GraphQLScalarType({
  name: 'StringMap',
  description:
    'A JSON object whose values are all strings, such as labels and annotations: ' +
    '{"app.kubernetes.io/name": "web"}. Keys are kept exactly as given.',
  serialize: (value) => value,
  parseValue: (value) => checkStringMap(value),
  parseLiteral: (node, variables) => {
    if (node.kind !== Kind.OBJECT) throw inputError(`StringMap must be an object, got ${print(node)}`, node);
    return checkStringMap(objectLiteral(node, variables), node);
  },
});

function checkStringMap(value: unknown, node?: ValueNode): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw inputError(`StringMap must be an object with string values, got ${JSON.stringify(value)}`, node);
  }
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw inputError(`StringMap value of ${JSON.stringify(key)} must be a string, got ${JSON.stringify(v)}`, node);
  }
  return value as Record<string, string>;
}

export const IntOrStringScalar = new GraphQLScalarType({
  name: 'IntOrString',
  description: 'An integer or a string (Kubernetes IntOrString), e.g. 8080 or "http" or "25%". Sent to Kubernetes as given.',
  serialize: (value) => value,
  parseValue: (value) => checkIntOrString(value),
  parseLiteral: (node) => {
    if (node.kind === Kind.INT) return checkIntOrString(Number(node.value), node);
    if (node.kind === Kind.STRING) return node.value;
    throw inputError(`IntOrString must be an integer or a string, got ${print(node)}`, node);
  },
});

function checkIntOrString(value: unknown, node?: ValueNode): number | string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
  throw inputError(`IntOrString must be an integer or a string, got ${JSON.stringify(value)}`, node);
}

// RFC 3339 date-time as Kubernetes writes and accepts it (metav1.Time and format: date-time).
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

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
  if (typeof value !== 'string' || !RFC3339.test(value)) {
    throw inputError(`DateTime must be an RFC 3339 date-time such as "2024-02-29T12:34:56Z", got ${JSON.stringify(value)}`, node);
  }
  return value;
}

const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

function bigintOut(value: bigint): number | string {
  return value >= MIN_SAFE && value <= MAX_SAFE ? Number(value) : value.toString();
}

/** Parsed Int64 values are numbers when they are safe integers and bigint beyond that. */
function toInt64(value: unknown, node?: ValueNode): number | bigint {
  let big: bigint;
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw inputError(`Int64 must be an integer, got ${value}`, node);
    if (Number.isSafeInteger(value)) return value;
    // An unsafe number has already lost precision in JSON parsing; refuse rather than guess.
    throw inputError(`Int64 ${value} is beyond 2^53; send it as a decimal string to keep every digit`, node);
  } else if (typeof value === 'bigint') {
    big = value;
  } else if (typeof value === 'string' && /^-?[0-9]+$/.test(value)) {
    big = BigInt(value);
  } else {
    throw inputError(`Int64 must be an integer or a decimal string, got ${JSON.stringify(value)}`, node);
  }
  if (big < INT64_MIN || big > INT64_MAX) throw inputError(`Int64 ${big} is out of the 64-bit range`, node);
  return big >= MIN_SAFE && big <= MAX_SAFE ? Number(big) : big;
}

export const Int64Scalar = new GraphQLScalarType({
  name: 'Int64',
  description:
    'A 64-bit integer. Input: a number or a decimal string (use a string beyond 2^53 = ' +
    '9007199254740992). Output: a number when it is a safe integer, otherwise a decimal string, ' +
    'so no digit is ever lost.',
  serialize: (value) => {
    if (typeof value === 'bigint') return bigintOut(value);
    if (typeof value === 'number' && Number.isInteger(value)) return value;
    if (typeof value === 'string' && /^-?[0-9]+$/.test(value)) return bigintOut(BigInt(value));
    throw new GraphQLError(`Int64 cannot represent ${JSON.stringify(value)}`);
  },
  parseValue: (value) => toInt64(value),
  parseLiteral: (node) => {
    if (node.kind === Kind.INT) return toInt64(BigInt(node.value), node);
    if (node.kind === Kind.STRING) return toInt64(node.value, node);
    throw inputError(`Int64 must be an integer or a decimal string, got ${print(node)}`, node);
  },
});

export const CUSTOM_SCALARS = [JSONScalar, StringMapScalar, IntOrStringScalar, DateTimeScalar, Int64Scalar] as const;
