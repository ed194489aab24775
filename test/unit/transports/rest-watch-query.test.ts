// What a `?watch=true` request asks the operations for, and which parameter combinations it
// refuses: the apiserver's semantics. Without a resourceVersion, or with "0", the current objects
// come first (Kubernetes' "Get State and Start at Most Recent" and "Start at Any");
// sendInitialEvents needs resourceVersionMatch=NotOlderThan, which in turn needs sendInitialEvents,
// refused otherwise with 422 and the apiserver's causes (test/integration/rest-watch-semantics.test.ts
// puts the same requests to both side by side).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { ApiError, toProblem } from '../../../src/api-errors.ts';
import type { CallerContext } from '../../../src/contract/caller-context.ts';
import type { KubeWatchEvent, WatchArgs, WatchFeed } from '../../../src/contract/operations.ts';
import { serveWatch } from '../../../src/transports/rest-watch.ts';
import { failedFeed } from '../../../src/streams/feed.ts';
import type { Target } from '../../../src/transports/rest-request.ts';

const target = { resource: { group: 'stable.example.com', kind: 'CronTab' }, version: { name: 'v1' }, namespace: 'ns' } as unknown as Target;

/** A feed that sends nothing and ends when cancelled (the stream's end cancels it). */
function idle(): WatchFeed {
  let end: (() => void) | undefined;
  return { start: (sink) => (end = () => sink.end()), cancel: () => end?.(), fail: () => end?.(), onClose() {} };
}

/** The watch arguments a request becomes, or the problem it is refused with. */
async function ask(query: string, headers: Record<string, string> = {}): Promise<{ args?: WatchArgs; status: number; problem?: Record<string, any> }> {
  let args: WatchArgs | undefined;
  const app = express();
  app.get('/w', (req, res) => {
    // As the app's context does: the signal fires when the client goes away, and ends the feed.
    const gone = new AbortController();
    res.on('close', () => gone.abort());
    serveWatch(req, res, target, {
      watch: async (r) => {
        args = r.args;
        const feed = idle();
        r.context.signal?.addEventListener('abort', () => feed.cancel(), { once: true });
        return feed;
      },
      context: { signal: gone.signal } as CallerContext, heartbeatMs: 60_000, wire: 'sse',
    }).catch((err: unknown) => {
      const e = err as ApiError;
      res.status(e.httpStatus).json(toProblem(e, req.originalUrl));
    });
  });
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const controller = new AbortController();
  try {
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/w?${query}`, { signal: controller.signal, headers });
    if (res.status !== 200) return { status: res.status, problem: await res.json() as Record<string, any> };
    return { status: 200, args };
  } finally {
    controller.abort();
    server.closeAllConnections();
    server.close();
  }
}

const initial = (a: WatchArgs | undefined) => ({ rv: a?.resourceVersion, initial: a?.sendInitialEvents === true, match: a?.resourceVersionMatch });

test('without a resourceVersion, or with "0", the current objects come first', async () => {
  assert.deepEqual(initial((await ask('watch=true')).args), { rv: undefined, initial: true, match: undefined });
  assert.deepEqual(initial((await ask('watch=true&resourceVersion=0')).args), { rv: '0', initial: true, match: undefined });
});

test('a resourceVersion alone resumes after it; sendInitialEvents=false starts from now without the current objects', async () => {
  assert.deepEqual(initial((await ask('watch=true&resourceVersion=42')).args), { rv: '42', initial: false, match: undefined });
  const none = await ask('watch=true&sendInitialEvents=false&resourceVersionMatch=NotOlderThan');
  assert.deepEqual(initial(none.args), { rv: undefined, initial: false, match: undefined });
  const resumed = await ask('watch=true&sendInitialEvents=false&resourceVersionMatch=NotOlderThan&resourceVersion=42');
  assert.deepEqual(initial(resumed.args), { rv: '42', initial: false, match: undefined });
});

test('sendInitialEvents with a resourceVersion asks for an initial state not older than it', async () => {
  const got = await ask('watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&resourceVersion=42');
  assert.deepEqual(initial(got.args), { rv: '42', initial: true, match: 'NotOlderThan' });
  // Bookmarks are not required: the apiserver then sends the objects without the end marker.
  const quiet = await ask('watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=false');
  assert.equal(quiet.status, 200);
  assert.deepEqual(initial(quiet.args), { rv: undefined, initial: true, match: undefined });
});

test('a reconnecting EventSource resumes exactly from its Last-Event-ID, whatever its URL asks for first', async () => {
  const got = await ask('watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&resourceVersion=10', { 'last-event-id': '42' });
  assert.deepEqual(initial(got.args), { rv: '42', initial: false, match: undefined });
  assert.deepEqual(initial((await ask('watch=true', { 'last-event-id': '42' })).args), { rv: '42', initial: false, match: undefined });
});

test('contradicting parameters are refused as the apiserver refuses them: 422 Invalid, naming resourceVersionMatch', async () => {
  const cases: [string, string[]][] = [
    ['watch=true&sendInitialEvents=true', ['Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan']],
    ['watch=true&sendInitialEvents=false', ['Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan']],
    ['watch=true&resourceVersionMatch=NotOlderThan', ['Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided']],
    ['watch=true&sendInitialEvents=true&resourceVersionMatch=Exact&allowWatchBookmarks=true', [
      'Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan',
      'Unsupported value: "Exact": supported values: "NotOlderThan"',
    ]],
  ];
  for (const [query, messages] of cases) {
    const got = await ask(query);
    assert.equal(got.status, 422, query);
    assert.equal(got.problem?.code, 'INVALID', query);
    assert.equal(got.problem?.reason, 'Invalid', query);
    assert.deepEqual(got.problem?.causes.map((c: { field: string; message: string }) => [c.field, c.message]),
      messages.map((m) => ['resourceVersionMatch', m]), query);
  }
});

/** The SSE event names a stream writes for a feed that delivers `events` and ends (with `error`) in one turn. */
async function eventNames(query: string, events: KubeWatchEvent[], error?: unknown, given?: WatchFeed): Promise<{ names: string[]; bookmarksAsked: boolean | undefined }> {
  let bookmarksAsked: boolean | undefined;
  const app = express();
  app.get('/w', (req, res) => {
    void serveWatch(req, res, target, {
      watch: async (r) => {
        bookmarksAsked = r.args.allowWatchBookmarks;
        return given ?? {
          start: (sink) => {
            for (const e of events) sink.next(e);
            sink.end(error);
          },
          cancel() {}, fail() {}, onClose() {},
        } satisfies WatchFeed;
      },
      context: {} as CallerContext, heartbeatMs: 60_000, wire: 'sse',
    });
  });
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const text = await (await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/w?${query}`)).text();
    return { names: [...text.matchAll(/^event: (\w+)$/gm)].map((m) => m[1]!), bookmarksAsked };
  } finally {
    server.closeAllConnections();
    server.close();
  }
}

const meta = (name: string, rv: string, annotations?: Record<string, string>) => ({ name, namespace: 'ns', resourceVersion: rv, ...(annotations ? { annotations } : {}) });

test('events and the end of the feed in one turn all reach the client, an ERROR after them', async () => {
  const events: KubeWatchEvent[] = [{ type: 'ADDED', object: { metadata: meta('a', '5') } }, { type: 'MODIFIED', object: { metadata: meta('a', '6') } }];
  assert.deepEqual((await eventNames('watch=true', events)).names, ['ADDED', 'MODIFIED']);
  const gone = new ApiError('SCHEMA_CHANGED', 'the resource changed', { reason: 'SchemaChanged' });
  assert.deepEqual((await eventNames('watch=true', events, gone)).names, ['ADDED', 'MODIFIED', 'ERROR']);
});

test('a feed that failed before the stream started (a schema change while the watch was set up) sends its ERROR', async () => {
  const gone = new ApiError('SCHEMA_CHANGED', 'the resource changed', { reason: 'SchemaChanged' });
  assert.deepEqual((await eventNames('watch=true', [], undefined, failedFeed(gone))).names, ['ERROR']);
});

test('bookmarks, the end of the initial state among them, only when the client asks for them, as Kubernetes', async () => {
  const events: KubeWatchEvent[] = [
    { type: 'ADDED', object: { metadata: meta('a', '5') } },
    { type: 'BOOKMARK', object: { metadata: meta('', '6', { 'k8s.io/initial-events-end': 'true' }) } },
    { type: 'BOOKMARK', object: { metadata: meta('', '7') } },
    { type: 'MODIFIED', object: { metadata: meta('a', '8') } },
  ];
  assert.deepEqual(await eventNames('watch=true', events), { names: ['ADDED', 'MODIFIED'], bookmarksAsked: false });
  assert.deepEqual(await eventNames('watch=true&allowWatchBookmarks=false', events), { names: ['ADDED', 'MODIFIED'], bookmarksAsked: false });
  assert.deepEqual(await eventNames('watch=true&allowWatchBookmarks=true', events), { names: ['ADDED', 'INITIAL_STATE_DONE', 'BOOKMARK', 'MODIFIED'], bookmarksAsked: true });
});
