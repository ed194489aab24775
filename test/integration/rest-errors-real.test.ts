// Two errors of the REST facade provoked for real, without fakes, as graphql-errors.test.ts does
// for GraphQL: 429 from the apiserver's API Priority and Fairness (a priority level with one share
// that rejects, for carol's crontabs in one namespace, and parallel lists through a gateway acting
// as carol), and 410 for a continue token compacted away (a control plane of its own that
// compacts etcd every second). Every request and response is checked against the gateway's live
// /openapi.json.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { burstUntilRejected, setupApfReject, type ApfRejectSetup } from '../helpers/apf-reject.ts';
import { startCompactingCluster, type CompactingCluster } from '../helpers/compacting-cluster.ts';
import { eventually, startGateway, type RunningGateway } from '../helpers/graphql-client.ts';
import { OpenApiValidator } from '../helpers/openapi-validator.ts';
import { kubeConfigFor } from '../helpers/test-cluster.ts';

interface Reply {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

/** A GET of the facade; the request must be one the document allows. */
async function get(doc: OpenApiValidator, origin: string, path: string): Promise<Reply> {
  assert.deepEqual(doc.checkRequest({ method: 'GET', url: path }), [], 'the request must be one the document allows');
  const res = await fetch(`${origin}${path}`, { signal: AbortSignal.timeout(60_000) });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

function assertDocumented(doc: OpenApiValidator, path: string, r: Reply): void {
  assert.deepEqual(doc.checkResponse({ method: 'GET', url: path }, { status: r.status, headers: r.headers, body: r.text }), [],
    `the ${r.status} response must match the document`);
}

function assertProblem(r: Reply, status: number, code: string, reason: string): void {
  assert.equal(r.status, status, r.text);
  assert.equal(r.headers.get('content-type')?.split(';')[0], 'application/problem+json', r.text);
  assert.equal(r.json?.status, status, r.text);
  assert.equal(r.json.code, code, r.text);
  assert.equal(r.json.reason, reason, r.text);
  assert.equal(r.json.kubernetesCode, status, r.text);
  assert.equal(r.json.type, `urn:crdgate:problem:${code.toLowerCase().replace(/_/g, '-')}`);
  assert.doesNotMatch(r.text, /stack|\.ts:\d+:\d+|node:internal/i, 'no stack trace in a problem');
}

const origin = (gw: RunningGateway) => gw.url.replace(/\/graphql$/, '');

describe('429: API Priority and Fairness rejects carol beyond her one concurrency share', () => {
  let apf: ApfRejectSetup;
  let carol: RunningGateway | undefined;
  before(async () => {
    apf = await setupApfReject({ user: 'carol', prefix: 'rest-apf' });
  });
  after(async () => {
    await carol?.stop();
    await apf?.cleanup();
  });

  test('a REST list answers 429 with Retry-After and a TOO_MANY_REQUESTS problem', async () => {
    carol = await eventually('carol to be allowed to read CRDs', () => startGateway(kubeConfigFor('carol'), {}, 5_000), 30_000);
    const base = origin(carol);
    const doc = await OpenApiValidator.fetch(base);
    const path = `/rest/stable.example.com/v1/namespaces/${apf.namespace}/crontabs`;
    // Carol's grant works before the burst: a lone list is served in full.
    const lone = await eventually('carol to be allowed to list crontabs', async () => {
      const r = await get(doc, base, path);
      return r.status === 200 ? r : undefined;
    }, 30_000);
    assert.equal(lone.json.items.length, apf.objects);
    assertDocumented(doc, path, lone);

    const burst = await burstUntilRejected(() => get(doc, base, path), (r) =>
      r.status === 200 && r.json?.items?.length === apf.objects ? 'served' : r.status === 429 ? 'rejected' : 'other');
    assert.deepEqual(burst.other.map((r) => `${r.status} ${r.text.slice(0, 300)}`), [], 'every answer is a full list or a 429');
    assert.ok(burst.rejected, `the apiserver rejected some of carol's lists with 429 (${burst.bursts} bursts, ${burst.served} served)`);
    const r = burst.rejected;
    assertProblem(r, 429, 'TOO_MANY_REQUESTS', 'TooManyRequests');
    // APF answers with a text/plain body (not a Status): the detail is that text.
    assert.equal(r.json.detail, 'Too many requests, please try again later.');
    assert.equal(r.json.title, 'Too many requests');
    assert.equal(r.json.instance, path);
    const retryAfter = r.headers.get('retry-after');
    assert.match(retryAfter ?? '', /^\d+$/, `Retry-After is a number of seconds: ${retryAfter}`);
    assert.ok(Number(retryAfter) >= 1, `Retry-After: ${retryAfter}`);
    assert.equal(r.json.retryAfterSeconds, Number(retryAfter), 'the problem and the header agree');
    assertDocumented(doc, path, r);
  });
});

describe('410: an expired continue token on a REST list', () => {
  let cc: CompactingCluster | undefined;
  let gw: RunningGateway | undefined;
  before(async () => {
    cc = await startCompactingCluster('crdgate-rest-gone-');
  });
  after(async () => {
    await gw?.stop();
    await cc?.stop();
  });

  test('continuing a list after its resourceVersion was compacted → 410 GONE, telling the client to restart the listing', async () => {
    await cc!.seedCronTabs(6);
    gw = await startGateway(cc!.kc);
    const base = origin(gw);
    const doc = await OpenApiValidator.fetch(base);
    const list = '/rest/stable.example.com/v1/namespaces/default/crontabs';

    const first = await get(doc, base, `${list}?limit=2`);
    assert.equal(first.status, 200, first.text);
    assertDocumented(doc, `${list}?limit=2`, first);
    assert.deepEqual(first.json.items.map((i: { metadata: { name: string } }) => i.metadata.name), ['page-0', 'page-1']);
    const token = first.json.metadata.continue as string;
    assert.ok(token, `the first page carries a continue token: ${first.text.slice(0, 300)}`);

    const next = `${list}?limit=2&continue=${encodeURIComponent(token)}`;
    // Writes move etcd past the token's revision; the apiserver compacts it away within seconds.
    const expired = await eventually('the continue token to expire', async () => {
      await cc!.advance();
      const r = await get(doc, base, next);
      if (r.status === 200) {
        assertDocumented(doc, next, r);
        return undefined;
      }
      return r;
    }, 60_000);
    assertProblem(expired, 410, 'GONE', 'Expired');
    assert.equal(expired.json.title, 'Gone');
    assert.equal(expired.json.instance, next);
    assert.match(expired.json.detail, /The provided continue parameter is too old to display a consistent list result/);
    assert.match(expired.json.detail, /restart the listing without a continue token/);
    assert.equal(expired.json.hint, 'restart the listing from the first page');
    assert.equal(expired.headers.get('retry-after'), null, 'nothing to wait for: the client must restart instead');
    assertDocumented(doc, next, expired);

    // The hint works: a list from the start is served again.
    const restarted = await get(doc, base, `${list}?limit=2`);
    assert.equal(restarted.status, 200, restarted.text);
    assert.equal(restarted.json.items.length, 2);
  });
});
