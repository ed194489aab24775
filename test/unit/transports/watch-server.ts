// A REST watch served over HTTP for unit tests: serveWatch on an Express route, with the request's
// signal firing when the client goes away (as the app's context does) and cancelling the feed (as
// the hub's feeds do). The caller fetches `${url}?query` and closes the server when done.
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import express from 'express';
import type { CallerContext } from '../../../src/contract/caller-context.ts';
import type { WatchArgs, WatchFeed } from '../../../src/contract/operations.ts';
import { serveWatch } from '../../../src/transports/rest-watch.ts';
import type { Target } from '../../../src/transports/rest-request.ts';
import type { WatchWire } from '../../../src/transports/watch-frames.ts';

export interface WatchServer {
  url: string;
  close(): void;
}

export async function watchServer(target: Target, wire: WatchWire, heartbeatMs: number, feed: (args: WatchArgs) => WatchFeed): Promise<WatchServer> {
  const app = express();
  app.get('/w', (req, res) => {
    const gone = new AbortController();
    res.on('close', () => gone.abort());
    void serveWatch(req, res, target, {
      watch: async (r) => {
        const f = feed(r.args);
        r.context.signal?.addEventListener('abort', () => f.cancel(), { once: true });
        return f;
      },
      context: { signal: gone.signal } as CallerContext, heartbeatMs, wire,
    });
  });
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/w`,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}
