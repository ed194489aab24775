// The outcome of an HTTP request as the transport that answered it knows it: the error catalog's
// code of an error answer. Transports note it when they answer; request logs and metrics read it
// when the response is finished (res.locals: nothing reads a body back or wraps res.send).
import type { Response } from 'express';

export function noteErrorCode(res: Response, code: string): void {
  res.locals.errorCode = code;
}

export function errorCodeOf(res: Response): string | undefined {
  return res.locals.errorCode as string | undefined;
}
