import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, ApiErrorCode, codeOfHttpStatus, fromKubeError, httpHeadersOf, internalErrorReporter, toGraphQLError, toProblem } from '../../src/api-errors.ts';
import { callerText, LEFT_OUT } from '../../src/kube/internal-addresses.ts';
import { KubeApiError, type KubeStatus } from '../../src/kube/kube-client.ts';

const kube = (http: number, status: KubeStatus, retryAfter?: number) => new KubeApiError(http, { kind: 'Status', status: 'Failure', code: http, ...status }, retryAfter);

test('Kubernetes Status reasons map to stable codes and HTTP statuses', () => {
  const cases: [number, string, string, number][] = [
    [404, 'NotFound', 'NOT_FOUND', 404],
    [409, 'AlreadyExists', 'ALREADY_EXISTS', 409],
    [409, 'Conflict', 'CONFLICT', 409],
    [422, 'Invalid', 'INVALID', 422],
    [403, 'Forbidden', 'FORBIDDEN', 403],
    [401, 'Unauthorized', 'UNAUTHENTICATED', 401],
    [410, 'Expired', 'GONE', 410],
    [410, 'Gone', 'GONE', 410],
    [429, 'TooManyRequests', 'TOO_MANY_REQUESTS', 429],
    [415, 'UnsupportedMediaType', 'UNSUPPORTED_MEDIA_TYPE', 415],
    [504, 'Timeout', 'TIMEOUT', 504],
    [500, 'ServerTimeout', 'TIMEOUT', 504],
    [503, 'ServiceUnavailable', 'UNAVAILABLE', 503],
    [400, 'BadRequest', 'BAD_REQUEST', 400],
    [413, 'RequestEntityTooLarge', 'BAD_REQUEST', 413],
    [500, 'InternalError', 'INTERNAL', 500],
  ];
  for (const [http, reason, code, status] of cases) {
    const e = fromKubeError(kube(http, { reason, message: `m-${reason}` }));
    assert.equal(e.code, code, reason);
    assert.equal(e.httpStatus, status, reason);
    assert.equal(e.message, `m-${reason}`);
    assert.equal(e.details.reason, reason);
  }
});

test('without a reason, the HTTP status decides; a transport failure is UNAVAILABLE', () => {
  assert.equal(fromKubeError(kube(502, {})).code, 'UNAVAILABLE');
  assert.equal(fromKubeError(kube(418, {})).code, 'BAD_REQUEST');
  assert.equal(fromKubeError(kube(418, {})).httpStatus, 400);
  assert.deepEqual([fromKubeError(kube(413, {})).code, fromKubeError(kube(413, {})).httpStatus], ['BAD_REQUEST', 413]);
  // An object etcd cannot take: the apiserver's 500 is the request's fault, never worth a retry.
  const huge = fromKubeError(kube(500, { reason: 'InternalError', message: 'etcdserver: request is too large' }));
  assert.deepEqual([huge.code, huge.httpStatus, huge.title, huge.message], ['BAD_REQUEST', 413, 'Payload too large', 'etcdserver: request is too large']);
  assert.equal(fromKubeError(kube(500, { reason: 'InternalError', message: 'etcdserver: leader changed' })).code, 'INTERNAL');
  // The gateway's own bad requests whose status says which (Node's parser, its body limit).
  for (const [reason, status] of [['RequestEntityTooLarge', 413], ['RequestHeaderFieldsTooLarge', 431], ['RequestTimeout', 408], ['BadRequest', 400]] as const) {
    assert.equal(new ApiError('BAD_REQUEST', 'x', { reason }).httpStatus, status, reason);
    assert.equal(new ApiError('BAD_REQUEST', 'x', { reason }).title,
      { RequestEntityTooLarge: 'Payload too large', RequestHeaderFieldsTooLarge: 'Request header fields too large', RequestTimeout: 'Request timeout', BadRequest: 'Bad request' }[reason]);
  }
  assert.equal(new ApiError('INVALID', 'x', { reason: 'RequestTimeout' }).httpStatus, 422, 'only bad requests');
  const down = fromKubeError(new KubeApiError(0, { code: 0, message: 'cannot reach the Kubernetes API at https://x: ECONNREFUSED' }));
  assert.equal(down.code, 'UNAVAILABLE');
  assert.match(down.message, /ECONNREFUSED/);
  assert.equal(fromKubeError(new Error('boom')).code, 'INTERNAL');
  assert.equal(fromKubeError(new Error('boom')).message, 'internal error', 'internal details are not shown to clients');
});

test('one HTTP status → code table: every status the catalog answers with maps back to a code with that status', () => {
  for (const code of Object.values(ApiErrorCode)) {
    const status = new ApiError(code, 'x').httpStatus;
    assert.equal(new ApiError(codeOfHttpStatus(status), 'x').httpStatus, status, `${code} (${status})`);
  }
  assert.equal(codeOfHttpStatus(499), 'CANCELLED');
  assert.equal(codeOfHttpStatus(413), 'BAD_REQUEST');
  assert.equal(codeOfHttpStatus(502), 'UNAVAILABLE');
  assert.equal(codeOfHttpStatus(418), 'BAD_REQUEST');
  assert.equal(codeOfHttpStatus(507), 'INTERNAL');
  assert.equal(codeOfHttpStatus(0), 'UNAVAILABLE');
});

test('INVALID keeps one cause per field, mapped to a GraphQL path', () => {
  const e = fromKubeError(kube(422, {
    reason: 'Invalid', message: 'CronTab.stable.example.com "x" is invalid',
    details: { causes: [
      { reason: 'FieldValueInvalid', message: 'Invalid value: "string": spec.replicas in body must be of type integer', field: 'spec.replicas' },
      { reason: 'FieldValueRequired', message: 'Required value', field: 'spec.jvm-options.-Xmx' },
    ] },
  }), (field) => field === 'spec.jvm-options.-Xmx' ? ['spec', 'jvm_options', '_Xmx'] : field.split('.'));
  assert.deepEqual(e.details.causes, [
    { type: 'FieldValueInvalid', message: 'Invalid value: "string": spec.replicas in body must be of type integer', field: 'spec.replicas', path: ['spec', 'replicas'] },
    { type: 'FieldValueRequired', message: 'Required value', field: 'spec.jvm-options.-Xmx', path: ['spec', 'jvm_options', '_Xmx'] },
  ]);
});

test('TOO_MANY_REQUESTS carries retryAfter; GONE tells the client to relist', () => {
  assert.equal(fromKubeError(kube(429, { reason: 'TooManyRequests' }, 7)).details.retryAfterSeconds, 7);
  assert.equal(fromKubeError(kube(429, { reason: 'TooManyRequests', details: { retryAfterSeconds: 3 } })).details.retryAfterSeconds, 3);
  assert.equal(fromKubeError(kube(429, { reason: 'TooManyRequests' })).details.retryAfterSeconds, 1);
  assert.match(fromKubeError(kube(410, { reason: 'Expired' })).details.hint!, /list again/);
});

test('GraphQL and problem+json renderings carry the same code and details', () => {
  const e = new ApiError('CONFLICT', 'the object has been modified', { reason: 'Conflict', currentResourceVersion: '42' });
  const g = toGraphQLError(e, ['updateCronTab']);
  assert.equal(g.extensions.code, 'CONFLICT');
  assert.equal(g.extensions.currentResourceVersion, '42');
  assert.equal(g.extensions.httpStatus, 409);
  assert.deepEqual(g.path, ['updateCronTab']);
  assert.deepEqual(toProblem(e, '/rest/x'), {
    type: 'urn:crdgate:problem:conflict', title: 'Conflict', status: 409, detail: 'the object has been modified',
    code: 'CONFLICT', instance: '/rest/x', reason: 'Conflict', currentResourceVersion: '42',
  });
});

test('graphql-js keeps the code when it wraps an ApiError thrown by a resolver', async () => {
  const { graphql, buildSchema } = await import('graphql');
  const schema = buildSchema('type Query { thing: String }');
  const result = await graphql({
    schema,
    source: '{ thing }',
    rootValue: { thing: () => { throw new ApiError('NOT_FOUND', 'crontabs "x" not found', { reason: 'NotFound' }); } },
  });
  assert.equal(result.errors?.[0]?.message, 'crontabs "x" not found');
  assert.deepEqual(result.errors?.[0]?.extensions, { code: 'NOT_FOUND', httpStatus: 404, reason: 'NotFound' });
});

test('the bearer challenge of a 401 is printable ASCII whatever the message repeats of a token (CR LF, NUL, quotes, non-Latin-1)', () => {
  const challenge = (message: string) => httpHeadersOf(new ApiError('UNAUTHENTICATED', message))['WWW-Authenticate']!;
  assert.equal(challenge('unknown key id "x\r\nSet-Cookie: a=b"'), 'Bearer realm="crdgate", error="invalid_token", error_description="unknown key id x??Set-Cookie: a=b"');
  assert.equal(challenge('kid "a\u0000b\\c" 团 é'), 'Bearer realm="crdgate", error="invalid_token", error_description="kid a?bc ? ?"');
  assert.equal(challenge('the token expired at 2026-01-01T00:00:00.000Z'), 'Bearer realm="crdgate", error="invalid_token", error_description="the token expired at 2026-01-01T00:00:00.000Z"');
});

test('a 403 of the impersonation itself is the gateway\'s: UNAVAILABLE without its identity; the caller\'s own 403 stays FORBIDDEN', () => {
  const forbidden = (message: string, details: KubeStatus['details']) => fromKubeError(new KubeApiError(403, { kind: 'Status', status: 'Failure', reason: 'Forbidden', code: 403, message, details }));
  for (const [message, details] of [
    ['users "alice" is forbidden: User "system:serviceaccount:crdgate:crdgate" cannot impersonate resource "users" in API group "" at the cluster scope', { name: 'alice', kind: 'users' }],
    ['crontabs.stable.example.com "x" is forbidden: User "system:serviceaccount:crdgate:crdgate" cannot impersonate-on:user-info:get resource "crontabs" in API group "stable.example.com" in the namespace "a"', { name: 'x', group: 'stable.example.com', kind: 'crontabs' }],
  ] as const) {
    const e = forbidden(message, details);
    assert.equal(e.code, 'UNAVAILABLE');
    assert.equal(e.details.kubernetesCode, 403);
    assert.doesNotMatch(JSON.stringify(toProblem(e)), /serviceaccount|crdgate:crdgate/);
  }
  const own = forbidden('crontabs.stable.example.com "x" is forbidden: User "alice" cannot get resource "crontabs" in API group "stable.example.com" in the namespace "b"', { name: 'x', kind: 'crontabs' });
  assert.equal(own.code, 'FORBIDDEN');
});

test('an impersonation refusal is told by the identity the Status names, in every form Kubernetes 1.37 gives, and by its wording where it names none', () => {
  const forbidden = (message: string, details: KubeStatus['details']) => fromKubeError(new KubeApiError(403, { kind: 'Status', status: 'Failure', reason: 'Forbidden', code: 403, message, details }));
  // As the apiserver answered a gateway allowed impersonate-on:…:list on crontabs but not the identity itself.
  const partial: [string, KubeStatus['details']][] = [
    ['users.authentication.k8s.io "dave" is forbidden: User "gw" cannot impersonate:user-info resource "users" in API group "authentication.k8s.io" at the cluster scope', { name: 'dave', group: 'authentication.k8s.io', kind: 'users' }],
    ['serviceaccounts.authentication.k8s.io "default" is forbidden: User "gw" cannot impersonate:serviceaccount resource "serviceaccounts" in API group "authentication.k8s.io" in the namespace "a"', { name: 'default', group: 'authentication.k8s.io', kind: 'serviceaccounts' }],
  ];
  // The legacy check's identities, told by the details alone (whatever the wording).
  const legacy: [string, KubeStatus['details']][] = [
    ['forbidden', { name: 'alice', kind: 'users' }],
    ['forbidden', { name: 'team', kind: 'groups' }],
    ['forbidden', { name: '1234', group: 'authentication.k8s.io', kind: 'uids' }],
    ['forbidden', { name: 'a', group: 'authentication.k8s.io', kind: 'userextras/scopes' }],
    // A service account is a resource the gateway may read: told by the wording.
    ['serviceaccounts "sa" is forbidden: User "gw" cannot impersonate resource "serviceaccounts" in API group "" in the namespace "a"', { name: 'sa', kind: 'serviceaccounts' }],
  ];
  for (const [message, details] of [...partial, ...legacy]) {
    const e = forbidden(message, details);
    assert.equal(e.code, 'UNAVAILABLE', `${message} ${JSON.stringify(details)}`);
    assert.doesNotMatch(JSON.stringify(toProblem(e)), /"gw"|dave/);
  }
  // The caller's own 403s stay theirs, service accounts and core-group reads included.
  for (const [message, details] of [
    ['serviceaccounts "default" is forbidden: User "alice" cannot get resource "serviceaccounts" in API group "" in the namespace "default"', { name: 'default', kind: 'serviceaccounts' }],
    ['users.example.com "u" is forbidden: User "alice" cannot get resource "users" in API group "example.com" at the cluster scope', { name: 'u', group: 'example.com', kind: 'users' }],
  ] as const) {
    assert.equal(forbidden(message, details).code, 'FORBIDDEN', message);
  }
});

test('a request without any credentials gets a bare bearer challenge, with no error code (RFC 6750 §3.1)', () => {
  const missing = new ApiError('UNAUTHENTICATED', 'a bearer token is required: send Authorization: Bearer <token>', { authReason: 'TOKEN_MISSING' });
  assert.equal(httpHeadersOf(missing)['WWW-Authenticate'], 'Bearer realm="crdgate"');
  const malformed = new ApiError('UNAUTHENTICATED', 'the Authorization header must be "Bearer <token>"', { authReason: 'TOKEN_MALFORMED' });
  assert.equal(httpHeadersOf(malformed)['WWW-Authenticate'], 'Bearer realm="crdgate", error="invalid_token", error_description="the Authorization header must be Bearer <token>"');
});

test('where the apiserver says how its own call to a webhook or an aggregated API failed, callers do not read the addresses; denials reach them unchanged', () => {
  const reported: { cause: unknown; code: string }[] = [];
  const report = internalErrorReporter((_id, cause, code) => reported.push({ cause, code }));
  const status = (code: number, reason: string, message: string) => new KubeApiError(code, { code, reason, message, details: { causes: [{ message: message.replace(/^Internal error occurred: /, '') }] } });
  // As kube-apiserver 1.37 words them (admission and conversion webhooks, the aggregator's proxy).
  const failures = [
    status(500, 'InternalError', 'Internal error occurred: failed calling webhook "deny.example.com": failed to call webhook: Post "https://nothere.default.svc:443/validate?timeout=2s": dial tcp: lookup nothere.default.svc on 10.96.0.10:53: no such host'),
    status(500, 'InternalError', 'Internal error occurred: failed calling webhook "deny.example.com": failed to call webhook: Post "https://127.0.0.1:9/validate?timeout=2s": dial tcp 127.0.0.1:9: connect: connection refused'),
    status(500, 'InternalError', 'conversion webhook for stable.example.com/v2, Kind=CronTab failed: Post "https://convert.conv.svc:443/convert?timeout=30s": context deadline exceeded'),
    status(503, 'ServiceUnavailable', 'error trying to reach service: dial tcp 10.96.3.4:443: i/o timeout'),
  ];
  const expected = [
    `Internal error occurred: failed calling webhook "deny.example.com": failed to call webhook: ${LEFT_OUT}`,
    `Internal error occurred: failed calling webhook "deny.example.com": failed to call webhook: ${LEFT_OUT}`,
    `conversion webhook for stable.example.com/v2, Kind=CronTab failed: ${LEFT_OUT}`,
    `error trying to reach service: ${LEFT_OUT}`,
  ];
  for (const [i, failure] of failures.entries()) {
    const e = fromKubeError(failure);
    assert.equal(e.message, expected[i]);
    assert.equal(e.details.causes?.[0]?.message, expected[i]!.replace(/^Internal error occurred: /, ''));
    const answers = JSON.stringify([toProblem(e), toGraphQLError(e).toJSON()]);
    assert.doesNotMatch(answers, /svc|10\.96|127\.0\.0\.1|https:|dial /, answers);
    report(toGraphQLError(e), 'r');
    assert.equal(reported.at(-1)?.cause, failure, 'the log gets the whole message');
    assert.equal(reported.at(-1)?.code, e.code);
  }
  assert.deepEqual(failures.map((f) => fromKubeError(f).code), ['INTERNAL', 'INTERNAL', 'INTERNAL', 'UNAVAILABLE']);
  // A denial is written for users, whatever it says, and an apiserver's 5xx without such a phrase stays.
  for (const kept of [
    status(403, 'Forbidden', 'admission webhook "deny.example.com" denied the request: see Post "https://docs.example.com/policy": replicas must be below 100'),
    status(422, 'Invalid', 'ValidatingAdmissionPolicy \'replicas\' with binding \'replicas\' denied request: replicas must be below 100'),
    status(500, 'InternalError', 'Internal error occurred: resource quota evaluation timed out'),
  ]) {
    assert.equal(fromKubeError(kept).message, kept.status.message);
    report(fromKubeError(kept), 'r');
  }
  assert.equal(reported.length, failures.length + 1, 'only the cut ones and the internal one are logged');
  assert.equal(callerText('dial tcp 10.0.0.1:443: connect: connection refused', 503), LEFT_OUT);
  // A cut error wrapped on its way to the caller (a direct watch adds its resume point) is logged too.
  const wrapped = new ApiError('UNAVAILABLE', 'wrapped', { resourceVersion: '7' }, { cause: fromKubeError(failures[3]!) });
  report(toGraphQLError(wrapped), 'r');
  assert.equal(reported.length, failures.length + 2);
  assert.equal(reported.at(-1)?.cause, failures[3], 'the log gets the whole message of the wrapped error');
});

test('the other forms of the apiserver\'s failed calls that name addresses are cut too', () => {
  for (const [text, kept] of [
    ['error trying to reach service: read tcp 10.0.0.5:51234->10.244.1.7:4443: read: connection reset by peer', 'error trying to reach service: '],
    ['error trying to reach service: write tcp 10.0.0.5:51234->10.244.1.7:4443: write: broken pipe', 'error trying to reach service: '],
    ['failed calling webhook "x": tls: failed to verify certificate: x509: certificate is valid for hook.other.svc, not hook.ns.svc', 'failed calling webhook "x": tls: failed to verify certificate: '],
    ['the server is currently unable to handle the request (Trying to reach: \'https://10.1.2.3:443/apis/metrics.k8s.io/v1beta1\')', 'the server is currently unable to handle the request ('],
  ] as const) {
    assert.equal(callerText(text, 503), `${kept}${LEFT_OUT}`);
    assert.equal(callerText(text, 403), text, 'a denial is never cut');
  }
});
