// Request logs without a cluster: one JSON line per request with the fields operators need, the
// request id taken from X-Request-Id or generated (and the same id everywhere in the request), and
// nothing of a token: not from the Authorization header, the query string, or a careless field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import request from 'supertest';
import { ApiError } from '../../../src/api-errors.ts';
import type { Caller } from '../../../src/auth/authenticate.ts';
import { requestIdOf } from '../../../src/transports/create-app.ts';
import { pluginApp, schemaOf } from '../../helpers/plugin-app.ts';
import { sendProblem } from '../../../src/transports/rest-router.ts';
import { pino } from 'pino';
import { createLogger, flatLineWriter, isoTime, type LogLevel } from '../../../src/logging.ts';
import { requestLogging } from '../../../src/plugins/request-logging.ts';
import type { RequestRecord } from '../../../src/plugins/request-tracker.ts';

function memoryLogger(level: LogLevel = 'info') {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      cb();
    },
  });
  return { logger: createLogger({ level, destination }), lines, records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

// A JWT-shaped token: every 6-character piece of it must be absent from the logs.
const token = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSIsInRlbmFudCI6ImEiLCJncm91cHMiOlsic2VjcmV0LWdyb3VwIl19.c2lnbmF0dXJlLXRoYXQtbXVzdC1uZXZlci1sZWFr';
function assertNoPartOfToken(text: string) {
  for (let i = 0; i + 6 <= token.length; i += 3) {
    const piece = token.slice(i, i + 6);
    if (piece === 'eyJhbG' && !text.includes('eyJhbGciOiJIUzI1')) continue; // too generic alone
    assert.ok(!text.includes(piece), `the log contains "${piece}" of the token:\n${text}`);
  }
}

async function appWith(logger: ReturnType<typeof memoryLogger>['logger']) {
  const plugin = requestLogging({ logger });
  const schema = schemaOf('type Query { hello: String } type Mutation { touch: String }', { Query: { hello: () => 'hi' }, Mutation: { touch: () => 'ok' } });
  const seenIds: string[] = [];
  // As the gateway's app does: the transport gives the request its id, then the plugins run.
  const { app, stop } = await pluginApp([plugin], schema, {
    authenticate: async () => ({ tenant: 'tenant-a', identity: { user: 'alice', groups: ['secret-group'] }, claims: { token } }) as unknown as Caller,
    onGraphQL: (req) => void seenIds.push(requestIdOf(req)),
  });
  app.get('/rest/things', (req, res) => {
    seenIds.push(requestIdOf(req));
    sendProblem(req, res, new ApiError('FORBIDDEN', 'no', { reason: 'Forbidden' }));
  });
  return { app, apollo: { stop }, seenIds };
}

test('one JSON line per request: method, path, operation, tenant, status, code, duration, request id', async () => {
  const mem = memoryLogger();
  const { app, apollo, seenIds } = await appWith(mem.logger);
  try {
    const r = await request(app).post('/graphql').set('x-request-id', 'req-abc.1').send({ query: 'mutation Touch { touch }', operationName: 'Touch' });
    assert.equal(r.status, 200);
    assert.equal(r.headers['x-request-id'], 'req-abc.1', 'echoed');
    await request(app).get('/rest/things?limit=5');
    await request(app).get('/healthz');
    const [gql, rest, ...rest2] = mem.records();
    assert.equal(rest2.length, 0, 'probes are not logged at info level');
    assert.equal(gql!.msg, 'request');
    assert.equal(gql!.level, 'info');
    assert.equal(gql!.requestId, 'req-abc.1');
    assert.equal(gql!.method, 'POST');
    assert.equal(gql!.path, '/graphql');
    assert.equal(gql!.type, 'mutation');
    assert.equal(gql!.operation, 'Touch');
    assert.equal(gql!.tenant, 'tenant-a');
    assert.equal(gql!.status, 200);
    assert.equal(gql!.code, 'ok');
    assert.equal(typeof gql!.durationMs, 'number');
    assert.match(String(gql!.time), /^\d{4}-\d\d-\d\dT/);
    assert.equal(rest!.path, '/rest/things', 'no query string');
    assert.equal(rest!.status, 403);
    assert.equal(rest!.code, 'FORBIDDEN');
    assert.equal(rest!.type, 'rest');
    // A generated id for the REST request: the same one the route saw and the response carries.
    assert.equal(seenIds[0], 'req-abc.1');
    assert.equal(seenIds[1], rest!.requestId);
    assert.ok(String(rest!.requestId).length > 0);
  } finally {
    await apollo.stop();
  }
});

test('an ill-formed X-Request-Id is replaced by a generated one', async () => {
  const mem = memoryLogger();
  const { app, apollo, seenIds } = await appWith(mem.logger);
  try {
    const r = await request(app).get('/rest/things').set('x-request-id', 'bad id with spaces "and quotes"');
    const [line] = mem.records();
    assert.notEqual(line!.requestId, 'bad id with spaces "and quotes"');
    assert.match(String(line!.requestId), /^[\w.:-]+$/);
    assert.equal(r.headers['x-request-id'], line!.requestId);
    assert.equal(seenIds[0], line!.requestId);
  } finally {
    await apollo.stop();
  }
});

test('a request with a bearer token (header, query string, caller claims) logs no part of the token, at any level', async () => {
  const mem = memoryLogger('trace');
  const { app, apollo } = await appWith(mem.logger);
  try {
    await request(app).post(`/graphql?access_token=${token}`).set('authorization', `Bearer ${token}`).send({ query: '{ hello }' });
    await request(app).get(`/rest/things?token=${token}`).set('authorization', `Bearer ${token}`);
    await request(app).get('/healthz').set('authorization', `Bearer ${token}`);
    // At trace level each request has two lines: 'request received' and its outcome.
    assert.equal(mem.lines.length, 6);
    assert.deepEqual(mem.records().map((r) => r['msg']), ['request received', 'request', 'request received', 'request', 'request received', 'request']);
    const text = mem.lines.join('\n');
    assertNoPartOfToken(text);
    assert.doesNotMatch(text, /secret-group|alice/, 'no identity beyond the tenant');
  } finally {
    await apollo.stop();
  }
});

test('the redact list catches tokens and headers put into a log line by mistake', () => {
  const mem = memoryLogger();
  mem.logger.info({ authorization: `Bearer ${token}`, token, headers: { authorization: `Bearer ${token}`, cookie: token },
    req: { headers: { Authorization: token }, token }, caller: { claims: { token }, secret: token } }, 'careless');
  const text = mem.lines.join('\n');
  assertNoPartOfToken(text);
  assert.match(text, /\[redacted\]/);
});

test('the time of a line is pino\'s ISO text, also across seconds, days and years', () => {
  const pinoIso = (ms: number) => `,"time":"${new Date(ms).toISOString()}"`;
  const start = Date.UTC(2026, 11, 31, 23, 59, 58, 990);
  for (let ms = start; ms < start + 2_500; ms += 3) assert.equal(isoTime(ms), pinoIso(ms));
  // Out of order (a clock set back), and each edge of the milliseconds' padding.
  for (const ms of [0, 9, 10, 99, 100, 999, 1_000, start, start - 86_400_000, 4_102_444_799_999]) assert.equal(isoTime(ms), pinoIso(ms));
  assert.match(isoTime(), /^,"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"$/);
});

test('a request line is the line pino writes for the same record: every field, in order, escaped alike', () => {
  const mem = memoryLogger('debug');
  const fields = ['requestId', 'method', 'path', 'status', 'code', 'durationMs', 'type', 'operation', 'tenant', 'aborted'];
  const write = flatLineWriter(mem.logger, fields);
  assert.ok(write, 'the gateway\'s JSON logger has a flat writer');
  const records: Record<string, unknown>[] = [
    { requestId: 'req-abc.1', method: 'POST', path: '/graphql', status: 200, code: 'ok', durationMs: 1.3, type: 'query', operation: 'Get', tenant: 'tenant-a', aborted: undefined },
    { requestId: 'x', method: 'GET', path: '/rest/g/v1/namespaces/a"b\\c/things', status: 403, code: 'FORBIDDEN', durationMs: 0, type: 'rest', operation: undefined, tenant: '', aborted: true },
    { requestId: 'y', method: 'POST', path: '/graphql/\u0001\n\t\u007f', status: 500, code: 'INTERNAL', durationMs: Number.NaN, type: 'unknown', operation: 'Ünïcödé ✓ 𝔘 \u2028', tenant: undefined, aborted: false },
    { requestId: '', method: 'DELETE', path: `/rest/${'p'.repeat(150)}`, status: 499, code: 'CANCELLED', durationMs: 12345.6, type: undefined, operation: 'q'.repeat(100), tenant: 't', aborted: undefined },
  ];
  const untimed = (line: string) => line.replace(/"time":"[^"]+"/, '"time":"T"');
  for (const [i, record] of records.entries()) {
    const level = i === 2 ? 'error' : i === 3 ? 'debug' : 'info';
    assert.equal(write(level, record, 'request'), true);
    mem.logger[level](record, 'request');
    const [ours, pinos] = mem.lines.splice(0);
    assert.equal(untimed(ours!), untimed(pinos!));
    assert.deepEqual(Object.keys(JSON.parse(ours!)), ['level', 'time', 'name', ...fields.filter((f) => record[f] !== undefined), 'msg']);
  }
  // Values of repeating fields are kept as text once made: the same line the second time, past the cap too, and a
  // NaN, an infinity, false and a value of another type in the same field are not taken for one another.
  const repeating = flatLineWriter(mem.logger, fields, fields);
  assert.ok(repeating);
  const more = Array.from({ length: 300 }, (_, i) => ({ ...records[i % records.length]!, path: i % 50 ? `/rest/p${i}` : `/rest/${'x'.repeat(300)}${i}`, status: i % 2 ? 200 : Number.POSITIVE_INFINITY, aborted: i % 3 ? false : 'false' }));
  for (const record of [...records, ...records, ...more, ...records]) {
    assert.equal(repeating('info', record, 'request'), true);
    mem.logger.info(record, 'request');
    const [ours, pinos] = mem.lines.splice(0);
    assert.equal(untimed(ours!), untimed(pinos!));
  }
  // A value that is not flat is left to pino (nothing written); a redacted field or another logger gets no writer.
  assert.equal(write('info', { requestId: { nested: true } }, 'request'), false);
  assert.equal(mem.lines.length, 0);
  assert.equal(flatLineWriter(mem.logger, ['requestId', 'token']), undefined);
  assert.equal(flatLineWriter(pino({}, new Writable({ write: (_c, _e, cb) => cb() })), fields), undefined);
});

test('consecutive request lines carry only their own fields, through the flat writer and through pino', () => {
  const full: RequestRecord = { method: 'POST', path: '/graphql', type: 'query', operationName: `Get${'x'.repeat(120)}`, code: 'ok', status: 200, durationMs: 1.26, tenant: 'tenant-a', requestId: 'r1', aborted: true };
  const bare: RequestRecord = { method: 'GET', path: '/rest/g/v1/things', type: undefined, operationName: undefined, code: 'ok', status: 503, durationMs: 0.04, tenant: undefined, requestId: 'r2', aborted: false };
  const expected = (r: RequestRecord) => {
    const line: Record<string, unknown> = { level: r.status >= 500 ? 'error' : 'info', name: 'crdgate', requestId: r.requestId, method: r.method, path: r.path, status: r.status, code: r.code, durationMs: Math.round(r.durationMs * 10) / 10 };
    if (r.type) line.type = r.type;
    if (r.operationName) line.operation = r.operationName.slice(0, 100);
    if (r.tenant !== undefined) line.tenant = r.tenant;
    if (r.aborted) line.aborted = true;
    line.msg = 'request';
    return line;
  };
  const pinoLines: string[] = [];
  const viaPino = pino({ base: { name: 'crdgate' }, formatters: { level: (label: string) => ({ level: label }) } }, new Writable({
    write(chunk, _enc, cb) {
      pinoLines.push(String(chunk).trim());
      cb();
    },
  }));
  // The gateway's JSON logger (the flat writer), then another pino logger (pino writes the line).
  const gateways = memoryLogger('debug');
  for (const [logger, written] of [[gateways.logger, gateways.lines], [viaPino, pinoLines]] as const) {
    const plugin = requestLogging({ logger });
    for (const r of [full, bare, full, bare, bare, full]) plugin.onRequestDone!(r);
    const records = written.splice(0).map((l) => {
      const { time: _time, pid: _pid, hostname: _hostname, ...rest } = JSON.parse(l) as Record<string, unknown>;
      return rest;
    });
    assert.deepEqual(records, [full, bare, full, bare, bare, full].map(expected));
  }
});

test('a subscription\'s end is one line: why it ended and how long it ran, at info, warn or error by who ended it', async () => {
  const { logger, records } = memoryLogger();
  const plugin = requestLogging({ logger });
  const end = (code: string) => plugin.onSubscriptionEnd!({ requestId: 'conn-7', tenant: 'tenant-a', operationName: 'Watch', code, durationMs: 1234.56 });
  end('CANCELLED');
  end('SLOW_CONSUMER');
  end('INTERNAL');
  await new Promise((r) => setTimeout(r, 20));
  const lines = records();
  assert.deepEqual(lines.map((l) => [l.level, l.msg, l.code]), [
    ['info', 'subscription ended', 'CANCELLED'], ['warn', 'subscription ended', 'SLOW_CONSUMER'], ['error', 'subscription ended', 'INTERNAL'],
  ]);
  assert.deepEqual([lines[0]!.requestId, lines[0]!.type, lines[0]!.operation, lines[0]!.tenant, lines[0]!.durationMs], ['conn-7', 'subscription', 'Watch', 'tenant-a', 1234.6]);
});
