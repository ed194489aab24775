// The HTTP application without listen(): main.ts listens, tests drive it with supertest.
import express, { type Express } from 'express';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { expressMiddleware } from '@as-integrations/express5';
import { explorerRouter } from './explorer.ts';
import type { SchemaGateway } from './schema-gateway.ts';
import type { CallerContext } from '../service/resource-service.ts';

export interface Readiness {
  ready: boolean;
  /** Why the gateway is not ready, one line each. */
  reasons: string[];
}

export interface AppOptions {
  gateway: SchemaGateway;
  readiness: () => Readiness;
  /** Largest accepted request body (express/body-parser syntax). */
  bodyLimit?: string;
  /** The caller's context for one GraphQL request (identity, cancellation). */
  context?: (req: express.Request, res: express.Response) => Promise<CallerContext> | CallerContext;
  /** The GraphiQL explorer at `/`, and at `/graphql` for browsers; `false` leaves it out. */
  explorer?: { defaultQuery?: string } | false;
}

export interface App {
  app: Express;
  apollo: ApolloServer;
  stop(): Promise<void>;
}

export async function createApp(opts: AppOptions): Promise<App> {
  const apollo = new ApolloServer({
    gateway: opts.gateway,
    // The default landing page loads Apollo Sandbox from a CDN; the explorer is served locally.
    plugins: [ApolloServerPluginLandingPageDisabled()],
    csrfPrevention: true,
    // main.ts owns signal handling; Apollo's own handler would re-raise the signal and kill the
    // process before the rest of the gateway has stopped.
    stopOnTerminationSignals: false,
    // Clients get the error catalog's code and message, never a server stack trace.
    includeStacktraceInErrorResponses: false,
  });
  await apollo.start();

  const app = express();
  app.disable('x-powered-by');
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', (_req, res) => {
    const r = opts.readiness();
    res.status(r.ready ? 200 : 503).json(r.ready ? { status: 'ready' } : { status: 'not ready', reasons: r.reasons });
  });
  if (opts.explorer !== false) app.use(explorerRouter({ graphqlPath: '/graphql', ...opts.explorer }));
  const context = opts.context ?? defaultContext;
  app.use('/graphql', express.json({ limit: opts.bodyLimit ?? '1mb' }), expressMiddleware(apollo, {
    context: async ({ req, res }) => context(req, res),
  }));
  return { app, apollo, stop: () => apollo.stop() };
}

/** Without tenants: the gateway's own identity, and a signal that fires when the client goes away. */
export function defaultContext(req: express.Request, res: express.Response): CallerContext {
  return { signal: clientGone(req, res), requestId: requestIdOf(req) };
}

/** Aborts when the client disconnects before the response is complete, so upstream calls stop. */
export function clientGone(_req: express.Request, res: express.Response): AbortSignal {
  const controller = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) controller.abort(new Error('the client went away'));
  });
  return controller.signal;
}

let requestCounter = 0;
export function requestIdOf(req: express.Request): string {
  const given = req.get('x-request-id');
  if (given && /^[\w.:-]{1,128}$/.test(given)) return given;
  return `${Date.now().toString(36)}-${(requestCounter++).toString(36)}`;
}
