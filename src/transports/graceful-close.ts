// A close that lets in-flight requests finish: the server stops accepting, each keep-alive
// connection is ended (FIN after its pending writes) as soon as it has no request in flight, and
// whatever is left is cut at the deadline. Draining first (answers with Connection: close while the
// server still accepts) keeps clients from sending a request on a kept-alive connection just as it
// is ended.
//
// Hand-written on purpose: http.Server#close() (Node 19+) destroys every connection it deems idle,
// among them one whose response has ended but is still being flushed, which truncates large
// answers; http-terminator destroys idle sockets the same way, and stoppable (terminus) goes through
// http.Server#close(). net.Server#close() only stops accepting, which is all this needs of Node.
import { Server as NetServer, type Socket } from 'node:net';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';

export interface GracefulClose {
  /** From now on every answer closes its connection, so clients open new ones for what follows. */
  drain(): void;
  close(deadlineMs: number): Promise<void>;
}

export function gracefulClose(server: Server): GracefulClose {
  const inFlight = new Map<Socket, number>();
  let closing = false;
  let draining = false;
  server.on('connection', (socket: Socket) => {
    inFlight.set(socket, 0);
    socket.once('close', () => inFlight.delete(socket));
  });
  // WebSockets are closed by their own server (with 1001), not here.
  server.on('upgrade', (req: IncomingMessage) => inFlight.delete(req.socket));
  // Before the app's own listener, which may answer at once: the header must be set before that.
  server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    if (!inFlight.has(socket)) return;
    inFlight.set(socket, inFlight.get(socket)! + 1);
    if (draining && !res.headersSent) res.setHeader('Connection', 'close');
    res.once('close', () => {
      if (!inFlight.has(socket)) return;
      const n = inFlight.get(socket)! - 1;
      inFlight.set(socket, n);
      if (closing && n === 0) socket.end();
    });
  });
  const close = (deadlineMs: number) => new Promise<void>((resolve) => {
    closing = true;
    draining = true;
    const cut = setTimeout(() => {
      for (const socket of inFlight.keys()) socket.destroy();
    }, deadlineMs);
    NetServer.prototype.close.call(server, () => {
      clearTimeout(cut);
      resolve();
    });
    for (const [socket, n] of inFlight) if (n === 0) socket.end();
  });
  return {
    drain: () => {
      draining = true;
    },
    close,
  };
}
