// Subscribers of one resource get the same events from the shared watch, and many of them send
// the same subscription document. Executing the selection set once per (event, operation) instead
// of once per subscriber keeps the cost of an event nearly independent of the audience size. The
// subscribers of an event run within moments of each other, so a small recent-results cache is
// enough and memory stays bounded.
import { createSourceEventStream, execute, print, type DocumentNode, type ExecutionArgs, type ExecutionResult } from 'graphql';
import { mapStream } from '../watch/map-stream.ts';

const printed = new WeakMap<DocumentNode, string>();
const objectIds = new WeakMap<object, number>();
let nextObjectId = 1;
const recent = new Map<string, ExecutionResult | Promise<ExecutionResult>>();
const maxRecent = 1024;

function operationKey(args: ExecutionArgs): string {
  let text = printed.get(args.document);
  if (text === undefined) {
    text = print(args.document);
    printed.set(args.document, text);
  }
  return `${args.operationName ?? ''}\u0000${JSON.stringify(args.variableValues ?? {})}\u0000${text}`;
}

export const sharedResultStats = { executed: 0, shared: 0 };

/** graphql-ws's `subscribe`, with results shared between subscribers of the same event and operation. */
export async function subscribeShared(args: ExecutionArgs): Promise<AsyncIterable<ExecutionResult> | ExecutionResult> {
  const source = await createSourceEventStream(args);
  if (!(Symbol.asyncIterator in (source as object))) return source as ExecutionResult;
  const opKey = operationKey(args);
  return mapStream(source as AsyncIterable<{ type?: string; object?: object | null; resourceVersion?: string }>, (event) => {
    // The event's object is the watch hub's, the same instance for every subscriber.
    const shared = event?.object;
    if (!shared || typeof shared !== 'object') return execute({ ...args, rootValue: event });
    let id = objectIds.get(shared);
    if (id === undefined) objectIds.set(shared, (id = nextObjectId++));
    const key = `${id}\u0000${event.type}\u0000${event.resourceVersion ?? ''}\u0000${opKey}`;
    const hit = recent.get(key);
    if (hit) {
      sharedResultStats.shared++;
      return hit;
    }
    sharedResultStats.executed++;
    const result = execute({ ...args, rootValue: event });
    recent.set(key, result);
    if (recent.size > maxRecent) recent.delete(recent.keys().next().value!);
    return result;
  });
}
