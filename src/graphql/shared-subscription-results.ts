// Subscribers of one resource get the same events from the shared watch, and many of them send
// the same subscription document. Executing the selection set once per (event, operation) instead
// of once per subscriber keeps the cost of an event nearly independent of the audience size. The
// subscribers of an event run within moments of each other, so a small recent-results cache is
// enough and memory stays bounded.
import { createSourceEventStream, execute, print, TypeInfo, visit, visitWithTypeInfo, type DocumentNode, type ExecutionArgs, type ExecutionResult, type GraphQLSchema } from 'graphql';
import { bigintAsNumber, stringifyJson } from '../kube/lossless-json.ts';
import { mapStream } from '../streams/map-stream.ts';
import { isRelationField } from './relation-types.ts';

const printed = new WeakMap<DocumentNode, string>();
const objectIds = new WeakMap<object, number>();
let nextObjectId = 1;
// Plain Maps evicted oldest-first, not lru-cache: this runs per event and subscriber on the
// fan-out path measured in BENCHMARKS.md, and a result is only wanted within moments of its first use.
const recent = new Map<string, ExecutionResult | Promise<ExecutionResult>>();
const maxRecent = 1024;

const operationIds = new Map<string, number>();
let nextOperationId = 1;

/**
 * A short id for an operation (document, name, variables): the per-event cache key is built for
 * every subscriber of every event, so it must not carry the whole document text.
 */
function operationKey(args: ExecutionArgs): number {
  let text = printed.get(args.document);
  if (text === undefined) {
    text = print(args.document);
    printed.set(args.document, text);
  }
  const full = `${args.operationName ?? ''}\u0000${stringifyJson(args.variableValues ?? {})}\u0000${text}`;
  let id = operationIds.get(full);
  if (id === undefined) {
    id = nextOperationId++;
    operationIds.set(full, id);
    // Bounded: ids of operations not seen for long are dropped (a re-subscription gets a new id).
    if (operationIds.size > 10_000) operationIds.delete(operationIds.keys().next().value!);
  }
  return id;
}

const relationDocuments = new WeakMap<DocumentNode, boolean>();

/** Whether the document selects a relation field anywhere (fragments included). */
function selectsRelations(schema: GraphQLSchema, document: DocumentNode): boolean {
  let found = relationDocuments.get(document);
  if (found === undefined) {
    found = false;
    const typeInfo = new TypeInfo(schema);
    visit(document, visitWithTypeInfo(typeInfo, {
      Field: () => {
        const def = typeInfo.getFieldDef();
        if (def && isRelationField(def)) found = true;
      },
    }));
    relationDocuments.set(document, found);
  }
  return found;
}

/**
 * Relation fields are read as the subscriber: a result that selects them is shared only between
 * subscribers acting as the same Kubernetes identity.
 */
function audienceKey(args: ExecutionArgs): string {
  if (!selectsRelations(args.schema, args.document)) return '';
  const identity = (args.contextValue as { identity?: unknown } | undefined)?.identity;
  return identity === undefined ? '-' : JSON.stringify(identity);
}

export const sharedResultStats = { executed: 0, shared: 0, serialized: 0 };

/** Results handed to more than one subscriber; their JSON is written once (see transports/graphql-ws-server.ts). */
export const sharedResults = new WeakSet<object>();

/** graphql-ws's `subscribe`, with results shared between subscribers of the same event and operation. */
export async function subscribeShared(args: ExecutionArgs): Promise<AsyncIterable<ExecutionResult> | ExecutionResult> {
  const source = await createSourceEventStream(args);
  if (!(Symbol.asyncIterator in (source as object))) return source as ExecutionResult;
  const opKey = `${operationKey(args)}\u0000${audienceKey(args)}`;
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
    if (result instanceof Promise) void result.then((r) => sharedResults.add(r), () => {});
    else sharedResults.add(result);
    recent.set(key, result);
    if (recent.size > maxRecent) recent.delete(recent.keys().next().value!);
    return result;
  });
}

const tokenOf = new WeakMap<object, string>();
const textOf = new Map<string, string>();
let nextToken = 1;
const tokenPattern = /"\\u0000crdgate-result:(\d+)"/;

/**
 * graphql-ws serializes every message it sends. For a shared result, the replacer puts a short
 * token where the payload goes, and `expandResultTokens` swaps the result's JSON (made once) in
 * on the way to the socket.
 */
export function replaceSharedPayload(this: unknown, key: string, value: unknown): unknown {
  if (key !== 'payload' || !value || typeof value !== 'object' || !sharedResults.has(value)) return bigintAsNumber(key, value);
  let token = tokenOf.get(value);
  if (token === undefined) {
    token = String(nextToken++);
    tokenOf.set(value, token);
    textOf.set(token, stringifyJson(value));
    sharedResultStats.serialized++;
    if (textOf.size > maxRecent) textOf.delete(textOf.keys().next().value!);
  }
  return `\u0000crdgate-result:${token}`;
}

export function expandResultTokens(data: string): string {
  const m = tokenPattern.exec(data);
  if (!m) return data;
  const text = textOf.get(m[1]!);
  // An evicted token can only belong to a message that is no longer being sent: drop it loudly.
  if (text === undefined) throw new Error('a shared subscription result expired before it was sent');
  return data.slice(0, m.index) + text + data.slice(m.index + m[0].length);
}
