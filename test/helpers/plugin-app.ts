// The gateway's HTTP app around a small schema, with the given plugins wired as the gateway wires
// them (pluginAppOptions): for plugin tests that need no cluster.
import type { ApolloServer } from '@apollo/server';
import type express from 'express';
import { buildSchema, type GraphQLObjectType, type GraphQLSchema } from 'graphql';
import type { Caller } from '../../src/auth/authenticate.ts';
import type { CallerContext } from '../../src/contract/caller-context.ts';
import { pluginAppOptions } from '../../src/gateway.ts';
import type { GatewayPlugin } from '../../src/plugins/gateway-plugin.ts';
import { createApp, defaultContext, newApollo } from '../../src/transports/create-app.ts';
import { SchemaGateway } from '../../src/transports/schema-gateway.ts';

export interface PluginAppOptions {
  /** With tenants: who a request's Authorization header is (throw an ApiError to refuse it). */
  authenticate?: (authorization: string | undefined) => Promise<Caller>;
  /** Sees each GraphQL request before its context is made. */
  onGraphQL?: (req: express.Request) => void;
  /** The GraphQL context of a request; default: the gateway's without tenants. */
  context?: (req: express.Request, res: express.Response) => CallerContext;
}

export async function pluginApp(plugins: GatewayPlugin[], schema: GraphQLSchema, opts: PluginAppOptions = {}): Promise<{ app: express.Express; stop(): Promise<void> }> {
  const { app, stop } = await createApp({
    gateway: new SchemaGateway(schema),
    readiness: () => ({ ready: true, reasons: [] }),
    explorer: false,
    ...pluginAppOptions(plugins),
    ...(opts.authenticate ? { tenants: { authenticate: opts.authenticate, schemaFor: async () => ({ key: 'all', schema }) } } : {}),
    context: (req, res): CallerContext => {
      opts.onGraphQL?.(req);
      return opts.context?.(req, res) ?? defaultContext(req, res);
    },
  });
  return { app, stop };
}

/** A schema from SDL with resolvers by type and field, for small test apps. */
export function schemaOf(sdl: string, resolvers: Record<string, Record<string, (...args: any[]) => unknown>>): GraphQLSchema {
  const schema = buildSchema(sdl);
  for (const [typeName, fields] of Object.entries(resolvers)) {
    const type = schema.getType(typeName) as GraphQLObjectType;
    for (const [field, resolve] of Object.entries(fields)) type.getFields()[field]!.resolve = resolve;
  }
  return schema;
}

/** The gateway's Apollo Server (its operation pipeline included) with the given plugins, started; for executeOperation. */
export async function pluginApollo(plugins: GatewayPlugin[], schema: GraphQLSchema): Promise<ApolloServer> {
  const options = pluginAppOptions(plugins);
  const apollo = newApollo(new SchemaGateway(schema), options.apollo, undefined, options.checkOperation);
  await apollo.start();
  return apollo;
}
