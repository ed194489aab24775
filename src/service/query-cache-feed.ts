// The one place where the query cache meets the watch hub: a subscription with the initial state
// (sendInitialEvents), turned into synchronous store updates. The objects are the hub's own
// instances, so the cache holds no copies. When the hub offers an in-process observer API, only
// this file changes.
import { ApiError, fromKubeError } from '../api-errors.ts';
import type { KubeObject } from '../contract/operations.ts';
import { initialEventsEndAnnotation, type WatchHub, type WatchKey } from './watch-hub.ts';

export interface FeedHandlers {
  apply(type: 'ADDED' | 'MODIFIED' | 'DELETED', object: KubeObject, resourceVersion: string): void;
  /** The stream stands at resourceVersion; initialStateDone once, when every existing object has been applied. */
  progress(resourceVersion: string, initialStateDone: boolean): void;
  /** The feed ended for good (the watch failed, the CRD went away, the gateway stops). */
  failed(err: ApiError): void;
}

export interface Feed {
  stop(): void;
}

export type FeedFactory = (key: WatchKey, handlers: FeedHandlers) => Feed;

export function hubFeed(hub: WatchHub): FeedFactory {
  return (key, handlers) => {
    const stopped = new AbortController();
    const events = hub.subscribe(key, {
      sendInitialEvents: true,
      signal: stopped.signal,
      // The whole collection arrives at once as the initial state, and this consumer applies each
      // event synchronously, so it never falls behind: no queue bound can be right here.
      queueSize: Number.MAX_SAFE_INTEGER,
    });
    void (async () => {
      try {
        for await (const e of events) {
          if (e.type === 'BOOKMARK') {
            const annotations = (e.object['metadata'] as { annotations?: Record<string, string> } | undefined)?.annotations;
            handlers.progress(e.resourceVersion, annotations?.[initialEventsEndAnnotation] === 'true');
          } else {
            handlers.apply(e.type, e.object, e.resourceVersion);
          }
        }
        if (!stopped.signal.aborted) handlers.failed(new ApiError('UNAVAILABLE', 'the watch behind the query cache ended'));
      } catch (err) {
        if (!stopped.signal.aborted) handlers.failed(fromKubeError(err));
      }
    })();
    return { stop: () => stopped.abort() };
  };
}
