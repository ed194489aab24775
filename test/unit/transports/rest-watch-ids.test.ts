// The `id:` of SSE watch events is what an EventSource sends back as Last-Event-ID when it
// reconnects, and the gateway resumes from it. During the initial state the objects come in store
// order, each with its own resourceVersion: resuming from one of them would skip the objects not
// yet sent, so only the end of the initial state (and what follows) may move the resume point.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeWatchEvent, WatchFeed } from '../../../src/contract/operations.ts';
import type { Target } from '../../../src/transports/rest-request.ts';
import { watchServer } from './watch-server.ts';

const target = {
  resource: { group: 'stable.example.com', kind: 'CronTab' },
  version: { name: 'v1' },
  namespace: 'ns',
  sub: undefined,
} as unknown as Target;

const obj = (name: string, rv: string) => ({ apiVersion: 'stable.example.com/v1', kind: 'CronTab', metadata: { name, namespace: 'ns', resourceVersion: rv } });

/** A feed that sends these events, then stays open until cancelled. */
function feedOf(events: KubeWatchEvent[]): WatchFeed {
  let closed = false;
  const closeFns: (() => void)[] = [];
  const close = () => {
    if (closed) return;
    closed = true;
    for (const fn of closeFns) fn();
  };
  return {
    start(sink) {
      for (const e of events) sink.next(e);
    },
    cancel: close,
    fail: close,
    onClose: (fn) => (closed ? fn() : closeFns.push(fn)),
  };
}

/** The stream's events with the Last-Event-ID an EventSource would hold after each (the SSE rules). */
async function lastEventIds(query: string, events: KubeWatchEvent[], count: number): Promise<{ event: string; lastEventId: string }[]> {
  const server = await watchServer(target, 'sse', 60_000, () => feedOf(events));
  const controller = new AbortController();
  try {
    const res = await fetch(`${server.url}?${query}`, { signal: controller.signal });
    const decoder = new TextDecoder();
    let text = '';
    const out: { event: string; lastEventId: string }[] = [];
    let lastEventId = '';
    for await (const chunk of res.body!) {
      text += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = text.indexOf('\n\n')) >= 0) {
        const block = text.slice(0, end);
        text = text.slice(end + 2);
        let event = '';
        for (const line of block.split('\n')) {
          if (line.startsWith('id:')) lastEventId = line.slice(3).trim();
          if (line.startsWith('event:')) event = line.slice(6).trim();
        }
        if (event) out.push({ event, lastEventId });
      }
      if (out.length >= count) break;
    }
    return out;
  } finally {
    controller.abort();
    server.close();
  }
}

const initialState: KubeWatchEvent[] = [
  // Store order, not resourceVersion order: b (rv 100) is sent after a (rv 200).
  { type: 'ADDED', object: obj('a', '200'), resourceVersion: '200' },
  { type: 'ADDED', object: obj('b', '100'), resourceVersion: '100' },
  { type: 'BOOKMARK', object: { metadata: { resourceVersion: '300', annotations: { 'k8s.io/initial-events-end': 'true' } } }, resourceVersion: '300' },
  { type: 'MODIFIED', object: obj('a', '301') },
];

test('an EventSource cut during the initial state reconnects without a resume point that would skip objects', async () => {
  const expected = [
    { event: 'ADDED', lastEventId: '' },
    { event: 'ADDED', lastEventId: '' },
    { event: 'INITIAL_STATE_DONE', lastEventId: '300' },
    { event: 'MODIFIED', lastEventId: '301' },
  ];
  // Kubernetes sends the current objects first without a resourceVersion, and with sendInitialEvents
  // from one (an initial state not older than it).
  for (const query of ['watch=true', 'watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan',
    'watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&resourceVersion=150']) {
    assert.deepEqual(await lastEventIds(`${query}&allowWatchBookmarks=true`, initialState, 4), expected, query);
  }
  // Without bookmarks the end of the initial state is not sent, and still ends the objects without an id.
  assert.deepEqual(await lastEventIds('watch=true', initialState, 3), [expected[0], expected[1], expected[3]]);
});

test('after a resume, every event moves the resume point', async () => {
  const events: KubeWatchEvent[] = [
    { type: 'ADDED', object: obj('c', '302') },
    { type: 'MODIFIED', object: obj('a', '303') },
  ];
  const got = await lastEventIds('watch=true&resourceVersion=301', events, 2);
  assert.deepEqual(got, [{ event: 'ADDED', lastEventId: '302' }, { event: 'MODIFIED', lastEventId: '303' }]);
});
