// The one place where the query cache meets the watch hub: an in-process observation of the
// hub's upstream (its store, then every change), turned into store updates. The objects are the
// hub's own instances, so the cache holds no copies, and a filtered list and a watch of one
// resource share one upstream list+watch.
import { ApiError } from '../api-errors.ts';
import type { KubeObject } from '../contract/operations.ts';
import type { WatchHub, WatchKey } from './watch-hub.ts';

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
    let closing = false;
    const observation = hub.observe(key, {
      initial(objects, resourceVersion) {
        for (const object of objects.values()) handlers.apply('ADDED', object, resourceVersion);
        handlers.progress(resourceVersion, true);
      },
      event: (e) => handlers.apply(e.type, e.object, e.resourceVersion),
      resynced: (resourceVersion) => handlers.progress(resourceVersion, false),
      bookmark: (resourceVersion) => handlers.progress(resourceVersion, false),
      end(error) {
        if (closing) return;
        handlers.failed(error ?? new ApiError('UNAVAILABLE', 'the watch behind the query cache ended'));
      },
    });
    return {
      stop: () => {
        closing = true;
        observation.close();
      },
    };
  };
}
