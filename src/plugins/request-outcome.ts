// The outcome of an HTTP request as the transport that answered it knows it: the GraphQL operation
// it ran and the error catalog's code of an error answer. Transports note them as they go; request
// logs, metrics and traces read them when the response is finished (res.locals: nothing reads a
// body back, wraps res.send or hooks into the GraphQL pipeline a second time).
import type { Response } from 'express';

export type GraphQLOperationType = 'query' | 'mutation' | 'subscription';

/**
 * What a GraphQL request ran, or tried to: the type of the operation its document selects (whether
 * or not the operation was then valid), or 'invalid' for a document that did not parse or selects
 * no operation (none named operationName, or several and no operationName).
 */
export type NotedOperationType = GraphQLOperationType | 'invalid';

export function noteErrorCode(res: Response, code: string): void {
  res.locals.errorCode = code;
}

export function errorCodeOf(res: Response): string | undefined {
  return res.locals.errorCode as string | undefined;
}

/** The GraphQL operation a request runs, or the one it was refused for (see NotedOperationType). */
export function noteOperation(res: Response, type: NotedOperationType, name: string | undefined): void {
  res.locals.operationType = type;
  res.locals.operationName = name;
}

/** The type of the operation noted on a response (read field by field: no object per request). */
export function operationTypeOf(res: Response): NotedOperationType | undefined {
  return res.locals.operationType as NotedOperationType | undefined;
}

export function operationNameOf(res: Response): string | undefined {
  return res.locals.operationName as string | undefined;
}
