// GraphQL subscriptions over WebSocket (the graphql-transport-ws protocol of graphql-ws) on the
// same port and path as the HTTP API. Each subscription runs on the schema that is current when
// it starts; a subscription whose resource goes away is ended by the live schema.
import type { IncomingMessage, Server } from 'node:http';
import { WebSocketServer } from 'ws';
import { useServer } from 'graphql-ws/use/ws';
import type { GraphQLSchema } from 'graphql';
import type { CallerContext } from '../service/resource-service.ts';

export interface WebSocketOptions {
  path: string;
  schema: () => GraphQLSchema;
  /** Builds the caller's context from the upgrade request and the connection_init payload. */
  context?: (request: IncomingMessage, connectionParams: Record<string, unknown> | undefined) => Promise<CallerContext> | CallerContext;
  /** Ping interval; graphql-ws closes connections that stop answering. */
  keepAliveMs?: number;
  /** Largest accepted message. */
  maxPayloadBytes?: number;
}

export interface WebSocketHandle {
  readonly wss: WebSocketServer;
  /** Closes every connection with 1001 (going away) and stops accepting new ones. */
  close(): Promise<void>;
}

export function attachWebSocket(server: Server, opts: WebSocketOptions): WebSocketHandle {
  const wss = new WebSocketServer({ server, path: opts.path, maxPayload: opts.maxPayloadBytes ?? 1 << 20 });
  const disposable = useServer<Record<string, unknown>>(
    {
      schema: () => opts.schema(),
      // graphql-ws calls return() on a subscription's event stream when the client completes it
      // or disconnects, which is what ends the subscriber in the watch hub.
      context: async (ctx) => (opts.context ? opts.context(ctx.extra.request, ctx.connectionParams) : {}),
    },
    wss,
    opts.keepAliveMs ?? 12_000,
  );
  return {
    wss,
    async close() {
      for (const client of wss.clients) client.close(1001, 'server shutting down');
      await disposable.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
