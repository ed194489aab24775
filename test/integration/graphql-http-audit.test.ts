// The GraphQL-over-HTTP protocol as the gateway speaks it on a real socket: the graphql-http
// server audits (every MUST individually), GET for queries only, the response media type, CSRF
// prevention and the body size limit.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { serverAudits } from 'graphql-http';
import { kubeConfigFor } from '../helpers/test-cluster.ts';
import { assertNoStackTrace, parseResult, startGateway, type RunningGateway } from '../helpers/graphql-client.ts';

let gw: RunningGateway;
before(async () => {
  // As `crdgate serve` runs it: the explorer included.
  gw = await startGateway(kubeConfigFor('admin'), {}, undefined, {});
});
after(async () => {
  await gw?.stop();
});

/** The SHOULD/MAY audits the gateway does not meet, by name prefix: the audit's status and why. */
const deviations: [string, 'warn' | 'notice', string][] = [
  // CSRF prevention: a GET without a preflight header (or a JSON content type) is refused.
  ['MAY accept application/x-www-form-urlencoded formatted GET requests', 'notice', 'CSRF prevention refuses a GET without a preflight header'],
  ['MAY allow URL-encoded JSON string {variables} parameter in GETs when accepting application/graphql-response+json', 'notice', 'CSRF prevention refuses a GET without a preflight header'],
  ['MAY allow URL-encoded JSON string {variables} parameter in GETs when accepting application/json', 'notice', 'CSRF prevention refuses a GET without a preflight header'],
  // Apollo Server answers a request that fails before execution with 400 whatever the client accepts.
  ['SHOULD use 200 status code on document parsing failure when accepting application/json', 'warn', 'Apollo Server answers 400'],
  ['SHOULD use 200 status code on document validation failure when accepting application/json', 'warn', 'Apollo Server answers 400'],
  ['SHOULD use a status code of 200 on variable coercion failure when accepting application/json', 'warn', 'Apollo Server answers 400'],
];

describe('graphql-http server audits', () => {
  const audits = serverAudits({ url: () => gw.url });
  const results: { name: string; status: string; reason?: string }[] = [];
  after(() => {
    // The SHOULD/MAY results that are not ok, for the record.
    for (const r of results.filter((x) => !x.name.startsWith('MUST'))) {
      console.log(`[audit] ${r.status.padEnd(6)} ${r.name}${r.reason ? ` — ${r.reason}` : ''}`);
    }
  });
  for (const audit of audits) {
    if (audit.name.startsWith('MUST')) {
      test(audit.name, async () => {
        const result = await audit.fn();
        results.push({ name: audit.name, status: result.status, ...(result.status !== 'ok' ? { reason: result.reason } : {}) });
        assert.equal(result.status, 'ok', result.status !== 'ok' ? `${result.reason}` : '');
      });
    } else {
      const deviation = deviations.find(([prefix]) => audit.name.startsWith(prefix));
      test(deviation ? `${audit.name}: not met on purpose (${deviation[2]})` : audit.name, async () => {
        const result = await audit.fn();
        results.push({ name: audit.name, status: result.status, ...(result.status !== 'ok' ? { reason: result.reason } : {}) });
        // Every SHOULD and MAY is met, but for the deviations below, which must stay what they are
        // (a change either way is a change of the API that someone decides, not an accident).
        assert.equal(result.status, deviation ? deviation[1] : 'ok', result.status !== 'ok' ? `${result.reason}` : '');
      });
    }
  }
});

describe('GET, media types, CSRF and size limits', () => {
  const query = '{ apiResources { kind group } }';

  test('GET /graphql?query=... runs a query (with a CSRF preflight header)', async () => {
    const res = await fetch(`${gw.url}?query=${encodeURIComponent(query)}`, {
      headers: { accept: 'application/graphql-response+json', 'apollo-require-preflight': 'true' },
    });
    const r = await parseResult<{ apiResources: { kind: string; group: string }[] }>(res);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.errors, undefined, r.text);
    assert.deepEqual(r.data!.apiResources.map((x) => x.kind).sort(), ['ClusterCronTab', 'CronTab']);
  });

  test('GET /graphql?query=... runs a query with only a bearer token, as urql sends queries by default', async () => {
    // urql (preferGetMethod 'within-url-limit'), Apollo Client's useGETForQueries and graphql-request's
    // GET send no Content-Type and no Apollo header: the caller's token is the sign of a preflight.
    const accept = 'application/graphql-response+json, application/graphql+json, application/json, text/event-stream, multipart/mixed';
    const res = await fetch(`${gw.url}?query=${encodeURIComponent(query)}`, { headers: { accept, authorization: 'Bearer any-token' } });
    const r = await parseResult<{ apiResources: { kind: string }[] }>(res);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.data!.apiResources.map((x) => x.kind).sort(), ['ClusterCronTab', 'CronTab']);
    // Without it (and without a preflight header) a GET is still refused as a possible CSRF.
    const bare = await fetch(`${gw.url}?query=${encodeURIComponent(query)}`, { headers: { accept } });
    assert.equal(bare.status, 400);
  });

  test('GET with variables and operationName', async () => {
    const q = 'query Named($ns: String) { cronTabList_stable_example_com(namespace: $ns, first: 1) { pageInfo { hasPreviousPage } } } query Other { apiResources { kind } }';
    const params = new URLSearchParams({ query: q, variables: JSON.stringify({ ns: 'default' }), operationName: 'Named' });
    const res = await fetch(`${gw.url}?${params}`, { headers: { accept: 'application/json', 'apollo-require-preflight': 'true' } });
    const r = await parseResult<Record<string, unknown>>(res);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.data, { cronTabList_stable_example_com: { pageInfo: { hasPreviousPage: false } } });
  });

  test('GET refuses a mutation with 405 and an Allow: POST header', async () => {
    const m = 'mutation { deleteClusterCronTab_stable_example_com(name: "must-not-run") { status { status } } }';
    const res = await fetch(`${gw.url}?query=${encodeURIComponent(m)}`, { headers: { accept: 'application/json', 'apollo-require-preflight': 'true' } });
    const r = await parseResult(res);
    assert.equal(r.status, 405, r.text);
    assert.equal(res.headers.get('allow'), 'POST');
    assert.equal(r.errors?.[0]?.message, 'GET requests only support query operations, not mutation operations');
    assertNoStackTrace(r);
  });

  test('Accept: application/graphql-response+json is honoured, application/json too', async () => {
    for (const accept of ['application/graphql-response+json', 'application/json']) {
      const res = await fetch(gw.url, { method: 'POST', headers: { 'content-type': 'application/json', accept }, body: JSON.stringify({ query }) });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', new RegExp(`^${accept.replace(/[+]/g, '\\+')}; charset=utf-8$`));
    }
    // graphql-response+json: a document that does not validate is a 400 (application/json keeps 200).
    const invalid = await fetch(gw.url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' }, body: JSON.stringify({ query: '{ noSuchField }' }) });
    const r = await parseResult(invalid);
    assert.equal(r.status, 400, r.text);
    assert.equal(r.errors?.[0]?.extensions?.code, 'GRAPHQL_VALIDATION_FAILED');
    assert.equal('data' in JSON.parse(r.text), false);
  });

  test('CSRF prevention refuses a simple cross-site request', async () => {
    for (const headers of [
      { 'content-type': 'text/plain', origin: 'https://evil.example' },
      { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' },
    ]) {
      const res = await fetch(gw.url, { method: 'POST', headers, body: JSON.stringify({ query }) });
      const text = await res.text();
      assert.equal(res.status, 400, text);
      assert.match(text, /This operation has been blocked as a potential Cross-Site Request Forgery/);
      assert.doesNotMatch(text, /apiResources/);
    }
    // A GET without a preflight-forcing header is a simple request too.
    const get = await fetch(`${gw.url}?query=${encodeURIComponent(query)}`, { headers: { accept: 'application/json' } });
    assert.equal(get.status, 400);
    assert.match(await get.text(), /Cross-Site Request Forgery/);
  });

  test('a body over the size limit is refused with 413, without a stack trace', async () => {
    const big = JSON.stringify({ query, variables: { pad: 'x'.repeat(4 * 1024 * 1024) } });
    const res = await fetch(gw.url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: big });
    const r = await parseResult(res);
    assert.equal(r.status, 413);
    assertNoStackTrace(r);
    assert.doesNotMatch(r.text, /node_modules|PayloadTooLargeError: .*\n\s+at /);
  });

  test('malformed JSON is a 400 without a stack trace', async () => {
    const res = await fetch(gw.url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: '{"query": ' });
    const r = await parseResult(res);
    assert.equal(r.status, 400);
    assertNoStackTrace(r);
    assert.doesNotMatch(r.text, /node_modules/);
  });
});
