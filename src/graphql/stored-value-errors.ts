// graphql-js' own Int, String, Boolean and ID refuse a value of another type with an error of no
// code, which reaches clients as an internal fault. On a custom resource's field such a value is
// what Kubernetes kept from before the CRD's schema changed the field's type: it is the typed error
// the gateway's own scalars (Int64, Float) give it, INVALID with reason StoredValueInvalid. These
// scalars cannot be replaced by same-named ones as Float is: introspection's own fields use them.
import { GraphQLError, type ExecutionResult } from 'graphql';
import { storedValueExtensions, storedValueMessage } from './scalars.ts';

/** graphql-js 16's words when one of its scalars cannot serialize a value, and the value as it shows it. */
const refusal = /^(Int|String|Boolean|ID) cannot represent [^:]*value: ([\s\S]*)$/;

/** The result, with an output value refused by graphql-js' scalars as a StoredValueInvalid error. */
export function typedStoredValueErrors<R extends ExecutionResult>(result: R): R {
  if (!result.errors?.some(isScalarRefusal)) return result;
  return { ...result, errors: result.errors.map((e) => (isScalarRefusal(e) ? storedValueInvalid(e) : e)) };
}

/** The same for a result that may be a promise. */
export function typedStoredValueErrorsOf<R extends ExecutionResult>(result: R | Promise<R>): R | Promise<R> {
  return result instanceof Promise ? result.then(typedStoredValueErrors) : typedStoredValueErrors(result);
}

/** A field's error that is a scalar's refusal of the value it was given: thrown by its serialize, so located by execution. */
function isScalarRefusal(e: GraphQLError): boolean {
  const original = e.originalError;
  return e.path !== undefined && original instanceof GraphQLError && original.path === undefined
    && original.extensions.code === undefined && refusal.test(original.message);
}

function storedValueInvalid(e: GraphQLError): GraphQLError {
  const [words, type, shown] = refusal.exec(e.originalError!.message)!;
  return new GraphQLError(beyondInt32.test(words) ? int32Message(shown!) : storedValueMessage(type!, shown!), { nodes: e.nodes, path: e.path, extensions: storedValueExtensions() });
}

/** Int's refusal of a whole number outside 32 bits: a value Kubernetes accepts in a `format: int32` field. */
const beyondInt32 = /^Int cannot represent non 32-bit signed integer value/;

/** Kubernetes does not enforce `format: int32`, so such a value may have been written as it is. */
function int32Message(shown: string): string {
  return `the stored value ${shown} is beyond the 32-bit range of GraphQL's Int, this field's type: its schema says format: int32, `
    + 'which Kubernetes does not enforce; the REST facade answers the object as stored';
}
