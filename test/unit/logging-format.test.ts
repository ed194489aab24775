// Pretty and JSON log lines from the same records: the fields of a request line all present in
// both, redaction alike, and the format chosen by the flag or by whether stdout is a terminal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger, prettyMessage, resolveLogFormat } from '../../src/logging.ts';

function memory() {
  let text = '';
  const destination = new Writable({
    write(chunk, _enc, cb) {
      text += String(chunk);
      cb();
    },
  });
  return { destination, text: () => text };
}

const requestLine = {
  requestId: 'req-1', method: 'POST', path: '/graphql', status: 200, code: 'ok', durationMs: 8.4,
  type: 'query', operation: 'ListCronTabs', tenant: 'tenant-a',
};

test('auto is pretty on a terminal and JSON elsewhere; an explicit format wins', () => {
  assert.equal(resolveLogFormat('auto', true), 'pretty');
  assert.equal(resolveLogFormat('auto', false), 'json');
  assert.equal(resolveLogFormat('json', true), 'json');
  assert.equal(resolveLogFormat('pretty', false), 'pretty');
});

test('a request reads as one pretty line with every field of the JSON line', () => {
  const json = memory();
  createLogger({ destination: json.destination }).info(requestLine, 'request');
  const record = JSON.parse(json.text()) as Record<string, unknown>;
  for (const [k, v] of Object.entries(requestLine)) assert.equal(record[k], v, k);

  const pretty = memory();
  createLogger({ format: 'pretty', destination: pretty.destination, colors: false }).info(requestLine, 'request');
  const lines = pretty.text().trimEnd().split('\n');
  assert.equal(lines.length, 1, pretty.text());
  assert.match(lines[0]!, /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: POST \/graphql query ListCronTabs tenant tenant-a → 200 ok 8\.4 ms \[req-1\]$/);
});

test('other pretty lines keep their fields, including ones named like a request\'s', () => {
  const pretty = memory();
  const log = createLogger({ format: 'pretty', destination: pretty.destination, colors: false });
  log.info('GraphQL API at http://127.0.0.1:4000/graphql');
  log.warn({ code: 'CONFLICT', attempt: 2 }, 'retrying');
  const text = pretty.text();
  assert.match(text, /INFO: GraphQL API at http:\/\/127\.0\.0\.1:4000\/graphql\n/);
  assert.match(text, /WARN: retrying \(code: CONFLICT\)\n\s+attempt: 2\n/);
  assert.doesNotMatch(text, /^\{/m, 'no JSON');
});

test('pretty lines are redacted like JSON lines', () => {
  const pretty = memory();
  createLogger({ format: 'pretty', destination: pretty.destination, colors: false }).error({ authorization: 'Bearer secret-token', token: 'x.y.z' }, 'oops');
  assert.doesNotMatch(pretty.text(), /secret-token|x\.y\.z/);
  assert.match(pretty.text(), /\[redacted\]/);
});

test('a request without tenants, and one the client abandoned', () => {
  assert.equal(prettyMessage({ msg: 'request', method: 'GET', path: '/rest/x', status: 499, code: 'CANCELLED', durationMs: 3, requestId: 'r', type: 'rest', tenant: '', aborted: true }, 'msg'),
    'GET /rest/x rest tenant (none) → 499 CANCELLED 3 ms (client went away) [r]');
  assert.equal(prettyMessage({ msg: 'request', method: 'GET', path: '/', status: 200, code: 'ok', durationMs: 1, requestId: 'r' }, 'msg'), 'GET / → 200 ok 1 ms [r]');
});
