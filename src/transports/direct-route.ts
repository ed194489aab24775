// The route nearly every request takes (POST /graphql) served without Express' router. The router
// costs each request a pass over every layer before the route (a path match and several debug()
// calls per layer, each with its rest arguments, even with debugging off) and the same again for
// every handler of the route: about a tenth of a get's CPU in the gateway. Here the same handlers
// (request id, the plugins' middleware, body reader, nesting refusal, API gate, Apollo) run in the
// same order from one array. Everything else (other methods and paths, an app mounted inside
// another) goes through the router as before, and so does every error: it is handed to the
// router's error handlers (the app's final handlers), which answer it as they always have.
import type { Express, NextFunction, Request, RequestHandler, Response } from 'express';

/** The error a direct request hands to the router, read by the router's first layer. */
const routedError = Symbol('crdgate.routed-error');

type WithRoutedError = Request & { [routedError]?: unknown };

/** The handlers of a direct route: the app's (before every route), then the route's own (mounted at its path). */
export interface DirectHandlers {
  app: readonly RequestHandler[];
  route: readonly RequestHandler[];
}

/**
 * Serves `method path` (the exact path, with or without a query string) with the handlers in order,
 * without the router; the route's own handlers see the request as the router shows it to a mounted
 * handler (the path in baseUrl, the rest in url). An error passed to next() (or thrown, or a
 * rejected promise) is answered by the app's error handlers. Call before anything is added to the
 * app: the layer that takes errors into the router must be its first, so that no error handler is
 * skipped and none runs twice. The last handler must answer: a request it passes on is an
 * internal error.
 */
export function serveWithoutRouter(app: Express, method: string, path: string, handlers: DirectHandlers): void {
  app.use(takeRoutedError);
  const all = [...handlers.app, mount(path), ...handlers.route];
  const handled = app as unknown as { handle: (req: Request, res: Response, callback?: NextFunction) => void };
  const routed = handled.handle.bind(app);
  const handle = (req: Request, res: Response, callback?: NextFunction) => {
    const url = req.url;
    const direct = callback === undefined && req.method === method && url.startsWith(path) && (url.length === path.length || url.charCodeAt(path.length) === 63 /* ? */);
    if (!direct) return routed(req, res, callback);
    prepare(app, req, res);
    runHandlers(all, req, res, (err) => {
      req.url = url;
      (req as WithRoutedError)[routedError] = err ?? new Error(`no handler answered ${method} ${path}`);
      routed(req, res);
    });
  };
  handled.handle = handle;
}

/** What the router does to a request it hands to a handler mounted at `path`. */
function mount(path: string): RequestHandler {
  return (req, _res, next) => {
    req.baseUrl = path;
    req.url = `/${req.url.slice(path.length)}`;
    next();
  };
}

/** What Express' app.handle does before it routes a request. */
function prepare(app: Express, req: Request, res: Response): void {
  if (app.enabled('x-powered-by')) res.setHeader('X-Powered-By', 'Express');
  req.res = res;
  res.req = req;
  Object.setPrototypeOf(req, app.request);
  Object.setPrototypeOf(res, app.response);
  if (!res.locals) res.locals = Object.create(null) as Response['locals'];
  // What the router sets on a request before its first layer.
  req.baseUrl = '';
  req.originalUrl = req.originalUrl || req.url;
}

/**
 * Calls the handlers in order, each with a next() that calls the following one, as the router's
 * layers do: a thrown error or a rejected promise is passed to next. `failed` gets an error, or
 * undefined when the last handler passed the request on.
 */
function runHandlers(handlers: readonly RequestHandler[], req: Request, res: Response, failed: (err: unknown) => void): void {
  let index = 0;
  const next = (err?: unknown) => {
    // As the router: a falsy value or 'route' is no error.
    if (err && err !== 'route') return failed(err);
    const handler = handlers[index++];
    if (!handler) return failed(undefined);
    try {
      const result = handler(req, res, next) as unknown;
      if (isThenable(result)) result.then(undefined, (error: unknown) => next(error || new Error('Rejected promise')));
    } catch (error) {
      next(error);
    }
  };
  next();
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as { then?: unknown }).then === 'function';
}

/** The router's first layer: an error of a direct request continues as an error of the router, to its error handlers. */
function takeRoutedError(req: Request, _res: Response, next: NextFunction): void {
  const err = (req as WithRoutedError)[routedError];
  if (err === undefined) return next();
  (req as WithRoutedError)[routedError] = undefined;
  next(err);
}
