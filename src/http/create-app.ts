// The HTTP application without listen(): main.ts listens, tests drive it with supertest.
import express, { type Express } from 'express';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { expressMiddleware } from '@as-integrations/express5';
import type { SchemaGateway } from './schema-gateway.ts';

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
  app.use('/graphql', express.json({ limit: opts.bodyLimit ?? '1mb' }), expressMiddleware(apollo));
  return { app, apollo, stop: () => apollo.stop() };
}
