// The outcome of an HTTP request as the transport that answered it knows it: the GraphQL operation
// it ran and the error catalog's code of an error answer. Transports note them as they go; request
// logs, metrics and traces read them when the response is finished (res.locals: nothing reads a
// body back, wraps res.send or hooks into the GraphQL pipeline a second time).
import type { Response } from 'express';

export type GraphQLOperationType = 'query' | 'mutation' | 'subscription';

export function noteErrorCode(res: Response, code: string): void {
  res.locals.errorCode = code;
}

export function errorCodeOf(res: Response): string | undefined {
  return res.locals.errorCode as string | undefined;
}

/** The GraphQL operation a request runs, once it is valid. */
export function noteOperation(res: Response, type: GraphQLOperationType, name: string | undefined): void {
  res.locals.operationType = type;
  res.locals.operationName = name;
}

/** The type of the operation noted on a response (read field by field: no object per request). */
export function operationTypeOf(res: Response): GraphQLOperationType | undefined {
  return res.locals.operationType as GraphQLOperationType | undefined;
}

export function operationNameOf(res: Response): string | undefined {
  return res.locals.operationName as string | undefined;
}
