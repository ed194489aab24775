// Writing a watch feed to an HTTP response, whatever its wire format (watch-frames.ts): events
// leave as the hub pushes them, with the same byte-based flow control as graphql-ws. The hub
// pages a backlog as the socket drains, and a client whose socket holds more than the bound unsent
// is ended by the feed (SLOW_CONSUMER).
import type { Response } from 'express';
import type { WatchFeed } from '../contract/operations.ts';
import type { FrameCache } from './watch-frames.ts';

/** A client that does not take the end of its stream (it stopped reading) is cut this long after. */
const endGraceMs = 10_000;

/** Writes the feed's events until it ends; resolves with the error that ended it, if any. */
export function streamFeed(feed: WatchFeed, res: Response, frames: FrameCache): Promise<unknown> {
  return new Promise<unknown>((resolve) => {
    const drained = new DrainWaiters(res);
    let corked = false;
    // Node's response drops what it holds corked when it is ended before being uncorked (an end
    // in the same turn as the last events, as a feed that fails after a page of its backlog does).
    const uncork = () => {
      if (!corked) return;
      corked = false;
      res.uncork();
    };
    feed.start({
      next(e) {
        const frame = frames.of(e);
        if (frame === undefined || res.destroyed) return;
        // Events of one tick (a page of a backlog) leave in one write.
        if (!corked) {
          corked = true;
          res.cork();
          process.nextTick(uncork);
        }
        res.write(frame);
      },
      end: (error) => {
        uncork();
        resolve(error);
      },
      buffered: () => (res.destroyed ? 0 : res.writableLength),
      onDrain: (fn) => drained.add(fn),
    });
    // After start: a feed failed before it (a schema change while the watch was being set up) is
    // closed already, and its end, given at start, says why.
    feed.onClose(() => {
      uncork();
      resolve(undefined);
    });
  });
}

/** Ends the response; a client that stopped reading and never takes the end is cut. */
export function endStream(res: Response): void {
  if (res.destroyed) return;
  const cut = setTimeout(() => res.destroy(), endGraceMs);
  cut.unref();
  res.once('close', () => clearTimeout(cut));
  res.end();
}

/** Callbacks for the response's next drain (or its close), with one listener however many wait. */
class DrainWaiters {
  private readonly res: Response;
  private fns: (() => void)[] = [];

  constructor(res: Response) {
    this.res = res;
  }

  add(fn: () => void): void {
    if (this.res.destroyed) {
      queueMicrotask(fn);
      return;
    }
    this.fns.push(fn);
    if (this.fns.length > 1) return;
    const flush = () => {
      this.res.off('drain', flush);
      this.res.off('close', flush);
      const fns = this.fns;
      this.fns = [];
      for (const f of fns) f();
    };
    this.res.on('drain', flush);
    this.res.on('close', flush);
  }
}
