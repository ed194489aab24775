// A REST watch in Kubernetes' own format for the clients that prefer JSON: which Accept values
// choose it over Server-Sent Events, and its lines as the apiserver writes them (one watch event
// a line, exact integers, bookmarks only when asked for, an ERROR event carrying a Status). The
// same requests side by side with the apiserver: test/integration/rest-watch-semantics.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, fromKubeError } from '../../../src/api-errors.ts';
import type { KubeObject, KubeWatchEvent, WatchArgs, WatchFeed } from '../../../src/contract/operations.ts';
import { KubeApiError } from '../../../src/kube/kube-client.ts';
import { parseKubernetesJson } from '../../../src/kube/lossless-json.ts';
import { restAnswerType } from '../../../src/transports/rest-answer-type.ts';
import type { Target } from '../../../src/transports/rest-request.ts';
import { errorFrame, jsonLine } from '../../../src/transports/watch-frames.ts';
import { watchServer } from './watch-server.ts';

const target = { resource: { group: 'stable.example.com', kind: 'CronTab' }, version: { name: 'v1' }, namespace: 'ns' } as unknown as Target;
const meta = (name: string, rv: string, annotations?: Record<string, string>) => ({ name, namespace: 'ns', resourceVersion: rv, ...(annotations ? { annotations } : {}) });

test('a watch is JSON, as the apiserver answers it, without an Accept, with any type, or when the client prefers application/json, q-values honoured', () => {
  for (const accept of [
    // Kubernetes' client libraries: the JavaScript client's Watch sends fetch's default, others none.
    undefined, '', '*/*', 'application/vnd.kubernetes.protobuf, */*',
    'application/json', 'application/json;stream=watch', 'application/json; stream=watch; charset=utf-8',
    'application/json, */*', 'application/json;q=0.9, text/event-stream;q=0.5',
    'text/event-stream;q=0.1, application/json;stream=watch;q=0.2',
    // kubectl get --watch: tables first, which the facade does not write, then plain JSON.
    'application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json',
  ]) assert.equal(restAnswerType(accept, true), 'application/json', String(accept));
});

test('a watch is SSE when the client prefers text/event-stream (EventSource sends it)', () => {
  for (const accept of ['text/event-stream', 'text/*', 'text/event-stream, application/json;q=0.5', 'text/event-stream;q=0.9, */*;q=0.8',
    'application/json;q=0.5, text/event-stream']) {
    assert.equal(restAnswerType(accept, true), 'text/event-stream', String(accept));
  }
});

test('an Accept allowing neither format is refused (undefined), and answers that are not watches are unchanged', () => {
  assert.equal(restAnswerType('application/xml', true), undefined);
  assert.equal(restAnswerType('application/yaml', true), undefined);
  assert.equal(restAnswerType('application/vnd.kubernetes.protobuf;stream=watch', true), undefined);
  assert.equal(restAnswerType(undefined, false), 'application/json');
  assert.equal(restAnswerType('text/event-stream', false), undefined);
  assert.equal(restAnswerType('application/yaml', false), 'application/yaml');
});

test('one watch event a line, as the apiserver writes it: unicode as is, an integer beyond 2^53 to the digit', () => {
  const object = parseKubernetesJson('{"apiVersion":"stable.example.com/v1","kind":"CronTab","metadata":{"name":"café-名前\\n😀","namespace":"ns","resourceVersion":"42"},"spec":{"big":9223372036854775807,"small":-12345678901234567891}}') as KubeObject;
  const line = jsonLine({ type: 'MODIFIED', object }, target, false)!;
  assert.equal(line, '{"type":"MODIFIED","object":{"apiVersion":"stable.example.com/v1","kind":"CronTab","metadata":{"name":"café-名前\\n😀","namespace":"ns","resourceVersion":"42"},"spec":{"big":9223372036854775807,"small":-12345678901234567891}}}\n');
  assert.equal(line.indexOf('\n'), line.length - 1, 'one line: the newline in the name is escaped');
});

test('bookmarks only when asked for, the end of the initial state as the apiserver\'s annotated bookmark', () => {
  const end: KubeWatchEvent = { type: 'BOOKMARK', object: { metadata: meta('', '9', { 'k8s.io/initial-events-end': 'true' }) } };
  assert.equal(jsonLine(end, target, false), undefined);
  assert.deepEqual(JSON.parse(jsonLine(end, target, true)!), {
    type: 'BOOKMARK',
    object: { apiVersion: 'stable.example.com/v1', kind: 'CronTab', metadata: { ...meta('', '9', { 'k8s.io/initial-events-end': 'true' }) } },
  });
  const relisted: KubeWatchEvent = { type: 'BOOKMARK', object: { metadata: {} }, resourceVersion: '11' };
  assert.equal(JSON.parse(jsonLine(relisted, target, true)!).object.metadata.resourceVersion, '11');
});

test('an ERROR event carries a Status: Kubernetes\' own for its errors, the gateway\'s codes mapped, the problem kept', () => {
  const expired = fromKubeError(new KubeApiError(410, { kind: 'Status', status: 'Failure', message: 'too old resource version: 1 (77)', reason: 'Expired', code: 410 }));
  const e = JSON.parse(errorFrame('json', expired, '/rest/w'));
  assert.equal(e.type, 'ERROR');
  const { details, ...status } = e.object;
  assert.deepEqual(status, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'too old resource version: 1 (77)', reason: 'Expired', code: 410 });
  assert.equal(details.problem.code, 'GONE');
  assert.equal(details.problem.instance, '/rest/w');
  assert.ok(details.problem.hint);

  const slow = JSON.parse(errorFrame('json', new ApiError('SLOW_CONSUMER', 'the subscriber fell behind; resume from 5', { resourceVersion: '5' }), '/rest/w')).object;
  assert.deepEqual([slow.reason, slow.code, slow.details.problem.code, slow.details.problem.resourceVersion], ['ServiceUnavailable', 503, 'SLOW_CONSUMER', '5']);
  const gone = JSON.parse(errorFrame('json', new ApiError('SCHEMA_CHANGED', 'crontabs.stable.example.com v1 is no longer served', { reason: 'SchemaChanged' }), '/rest/w')).object;
  assert.deepEqual([gone.reason, gone.code, gone.details.problem.code], ['Gone', 410, 'SCHEMA_CHANGED'], 'a reason Kubernetes does not have is not passed on');
  const shutdown = JSON.parse(errorFrame('json', new ApiError('UNAVAILABLE', 'the gateway is shutting down', { reason: 'ServiceUnavailable', retryAfterSeconds: 1 }), '/rest/w')).object;
  assert.deepEqual([shutdown.reason, shutdown.code, shutdown.details.retryAfterSeconds], ['ServiceUnavailable', 503, 1]);
});

/** A JSON watch served over HTTP: the feed's events, then its end with `error`; what the client got. */
async function jsonWatch(query: string, feed: (args: WatchArgs) => WatchFeed, headers: Record<string, string> = {}): Promise<{ contentType: string | null; body: string }> {
  const server = await watchServer(target, 'json', 100, feed);
  try {
    const res = await fetch(`${server.url}?${query}`, { headers });
    return { contentType: res.headers.get('content-type'), body: await res.text() };
  } finally {
    server.close();
  }
}

test('the stream: Content-Type application/json, its events a line each, an ERROR line at the end', async () => {
  const events: KubeWatchEvent[] = [{ type: 'ADDED', object: { metadata: meta('a', '5') } }, { type: 'MODIFIED', object: { metadata: meta('a', '6') } }];
  const error = new ApiError('SLOW_CONSUMER', 'the subscriber fell behind', { resourceVersion: '6' });
  const { contentType, body } = await jsonWatch('watch=true', () => ({
    start: (sink) => {
      for (const e of events) sink.next(e);
      sink.end(error);
    },
    cancel() {}, fail() {}, onClose() {},
  }));
  assert.equal(contentType, 'application/json');
  const lines = body.split('\n');
  assert.equal(lines.pop(), '', 'every line ends with a newline');
  assert.deepEqual(lines.map((l) => JSON.parse(l).type), ['ADDED', 'MODIFIED', 'ERROR']);
  assert.equal(JSON.parse(lines[2]!).object.details.problem.code, 'SLOW_CONSUMER');
});

test('idle: spaces keep it open (whitespace between JSON values, no empty line); Last-Event-ID, an SSE header, resumes nothing', async () => {
  let args: WatchArgs | undefined;
  const { body } = await jsonWatch('watch=true&timeoutSeconds=1', (a) => {
    args = a;
    let end: (() => void) | undefined;
    return { start: (sink) => (end = () => sink.end()), cancel: () => end?.(), fail: () => end?.(), onClose() {} };
  }, { 'last-event-id': '5' });
  assert.match(body, /^ {3,}$/, JSON.stringify(body));
  assert.equal(args?.resourceVersion, undefined);
  assert.equal(args?.sendInitialEvents, true, 'from now: the current objects first, as Kubernetes');
});
