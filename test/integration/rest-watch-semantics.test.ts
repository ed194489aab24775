// `?watch=true` on the REST facade against the apiserver's own watch, side by side: the same
// request, as the same user, to both, and the same events (the facade's as SSE, the apiserver's
// as JSON lines) or the same refusal. Asked with `Accept: application/json`, the facade answers in
// the apiserver's own format: the same Content-Type, events, objects and ERROR Status. Kubernetes' semantics: without a resourceVersion, or with
// "0", the current objects come first as ADDED; a resourceVersion alone starts after it;
// sendInitialEvents needs resourceVersionMatch=NotOlderThan (and the reverse), and with a
// resourceVersion asks for an initial state not older than it; the initial state ends with a
// bookmark annotated k8s.io/initial-events-end when bookmarks are allowed. Plain bookmarks are
// left out of the comparison: the apiserver sends them about once a minute, the facade after a
// relist.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { readFileSync } from 'node:fs';
import { createGateway, type Gateway } from '../../src/gateway.ts';
import { KubeClient } from '../../src/kube/kube-client.ts';
import { parseKubernetesJson } from '../../src/kube/lossless-json.ts';
import { SseClient } from '../helpers/sse-client.ts';
import { kubeConfigFor, testCluster } from '../helpers/test-cluster.ts';
import { testNamespaces } from '../helpers/test-namespaces.ts';

const G = 'stable.example.com';
const namespaces = testNamespaces();
const kube = new KubeClient(kubeConfigFor('admin'));
let gateway: Gateway;
let base: string;

interface CronTab { metadata: { name: string; resourceVersion: string } }

const kubePath = (ns: string) => `/apis/${G}/v1/namespaces/${ns}/crontabs`;
const create = (ns: string, name: string) => kube.request<CronTab>('POST', kubePath(ns), {
  body: { apiVersion: `${G}/v1`, kind: 'CronTab', metadata: { name }, spec: { cronSpec: '@hourly' } },
});

/** An event as both sides are compared: its type and object name, the initial state's end, an error's reason. */
function label(type: string, object: any): string | undefined {
  if (type === 'BOOKMARK') return object?.metadata?.annotations?.['k8s.io/initial-events-end'] === 'true' ? 'INITIAL_STATE_DONE' : undefined;
  if (type === 'ERROR') return `ERROR:${object?.reason}`;
  return `${type}:${object?.metadata?.name}`;
}

interface WatchEvent { type: string; object: any }
interface Seen { status: number; contentType?: string; events: string[]; raw: WatchEvent[]; causes?: string[] }

/** How the facade is asked: as an EventSource would, or as a Kubernetes client would. */
type Wire = 'sse' | 'json';
const acceptOf: Record<Wire, string> = { sse: 'text/event-stream', json: 'application/json' };

/** The apiserver's own watch, as the admin: its status, then its events as they come. */
function apiserverWatch(path: string, accept: string): { seen: Seen; close(): void; done: Promise<void> } {
  const info = testCluster();
  const seen: Seen = { status: 0, events: [], raw: [] };
  const url = new URL(`${info.server}${path}`);
  let body = '';
  let finish!: () => void;
  const done = new Promise<void>((r) => (finish = r));
  const req = request(url, { ca: readFileSync(info.caFile), headers: { authorization: `Bearer ${info.adminToken}`, accept } }, (res) => {
    seen.status = res.statusCode ?? 0;
    seen.contentType = res.headers['content-type'];
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      body += chunk;
      if (seen.status !== 200) return;
      let nl: number;
      while ((nl = body.indexOf('\n')) >= 0) {
        const line = body.slice(0, nl);
        body = body.slice(nl + 1);
        if (!line) continue;
        const e = parseKubernetesJson(line) as WatchEvent;
        seen.raw.push(e);
        const l = label(e.type, e.object);
        if (l) seen.events.push(l);
      }
    });
    res.on('end', () => {
      if (seen.status !== 200) seen.causes = ((parseKubernetesJson(body) as any).details?.causes ?? []).map((c: any) => `${c.field}: ${c.message}`);
      finish();
    });
    res.on('close', finish);
  });
  req.on('error', finish);
  req.end();
  return { seen, close: () => req.destroy(), done };
}

/** The facade's watch of the same path, as SSE or as Kubernetes' JSON stream. */
async function facadeWatch(path: string, accept: string): Promise<{ seen: Seen; close(): void; client: SseClient }> {
  const client = new SseClient(`${base}${path.replace(/^\/apis\//, '/rest/')}`, { accept });
  await client.open();
  const seen: Seen = { status: client.status, contentType: String(client.headers['content-type']), events: [], raw: [] };
  if (client.status !== 200) {
    await client.ended;
    const problem = JSON.parse(client.raw) as { causes?: { field: string; message: string }[] };
    seen.causes = (problem.causes ?? []).map((c) => `${c.field}: ${c.message}`);
  }
  return { seen, close: () => client.close(), client };
}

function facadeEvents(c: SseClient): string[] {
  return c.events.map((e) => label(e.json?.type, e.json?.object)).filter((l) => l !== undefined);
}

/** The initial ADDED events come in store order on one side and key order on the other: compare them as a set. */
function normalized(events: string[]): string[] {
  const end = events.findIndex((e) => !e.startsWith('ADDED:') || e === 'ADDED:later');
  const cut = end < 0 ? events.length : end;
  return [...events.slice(0, cut).sort(), ...events.slice(cut)];
}

/** The changes of a stream (not its bookmarks or errors): type, name and resourceVersion, in order of name. */
function changes(raw: WatchEvent[]): string[] {
  return raw.filter((e) => ['ADDED', 'MODIFIED', 'DELETED'].includes(e.type))
    .map((e) => `${e.type}:${e.object.metadata.name}@${e.object.metadata.resourceVersion}`).sort();
}

/** Opens both watches, makes one change (an object named "later" in a namespace of its own), and returns what each side said. */
async function sideBySide(ns: string, query: string, wire: Wire = 'sse', expectEnd: RegExp = /ADDED:later|ERROR/): Promise<{ apiserver: Seen; facade: Seen }> {
  const path = `${kubePath(ns)}?${query}`;
  const k = apiserverWatch(path, wire === 'json' ? acceptOf.json : 'application/json');
  const f = await facadeWatch(path, acceptOf[wire]);
  try {
    if (f.seen.status !== 200) {
      await k.done;
      return { apiserver: k.seen, facade: f.seen };
    }
    // Both have sent their initial state (if any) before the change, so it lands after it on both.
    await new Promise((r) => setTimeout(r, 1_500));
    await create(ns, 'later').catch(() => {});
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && !(k.seen.events.some((e) => expectEnd.test(e)) && facadeEvents(f.client).some((e) => expectEnd.test(e)))) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const facade = { ...f.seen, events: normalized(facadeEvents(f.client)), raw: f.client.events.map((e) => e.json as WatchEvent) };
    return { apiserver: { ...k.seen, events: normalized(k.seen.events) }, facade };
  } finally {
    k.close();
    f.close();
  }
}

before(async () => {
  gateway = await createGateway({ client: kube, explorer: false, watchGraceMs: 200 });
  const server = await gateway.listen(0);
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

after(async () => {
  await gateway?.stop();
  await namespaces.deleteAll();
});

describe('REST watch semantics, side by side with the apiserver', () => {
  /** A namespace with objects "one" and "two"; rv: the list's resourceVersion, first: "one"'s. */
  async function fixture(prefix: string): Promise<{ ns: string; first: string; rv: string }> {
    const ns = await namespaces.create(prefix);
    const one = await create(ns, 'one');
    await create(ns, 'two');
    const list = await kube.request<{ metadata: { resourceVersion: string } }>('GET', kubePath(ns));
    return { ns, first: one.metadata.resourceVersion, rv: list.metadata.resourceVersion };
  }

  const cases: [string, (f: { first: string; rv: string }) => string, string[]][] = [
    ['no resourceVersion: the current objects, then changes', () => 'watch=true&allowWatchBookmarks=true',
      ['ADDED:one', 'ADDED:two', 'INITIAL_STATE_DONE', 'ADDED:later']],
    ['no resourceVersion, no bookmarks: the current objects without the end marker', () => 'watch=true&allowWatchBookmarks=false',
      ['ADDED:one', 'ADDED:two', 'ADDED:later']],
    ['bookmarks not asked for: no end marker either', () => 'watch=true',
      ['ADDED:one', 'ADDED:two', 'ADDED:later']],
    ['resourceVersion=0: the current objects', () => 'watch=true&resourceVersion=0&allowWatchBookmarks=true',
      ['ADDED:one', 'ADDED:two', 'INITIAL_STATE_DONE', 'ADDED:later']],
    ['a resourceVersion alone: exactly what follows it', (f) => `watch=true&resourceVersion=${f.first}&allowWatchBookmarks=true`,
      ['ADDED:two', 'ADDED:later']],
    ['sendInitialEvents: the current objects, the end marker, changes', () => 'watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true',
      ['ADDED:one', 'ADDED:two', 'INITIAL_STATE_DONE', 'ADDED:later']],
    ['sendInitialEvents with a resourceVersion: an initial state not older than it', (f) => `watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&resourceVersion=${f.first}`,
      ['ADDED:one', 'ADDED:two', 'INITIAL_STATE_DONE', 'ADDED:later']],
    ['sendInitialEvents without bookmarks: the objects without the end marker', () => 'watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=false',
      ['ADDED:one', 'ADDED:two', 'ADDED:later']],
    ['sendInitialEvents=false: changes only', () => 'watch=true&sendInitialEvents=false&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true',
      ['ADDED:later']],
    ['sendInitialEvents=false with a resourceVersion: what follows it', (f) => `watch=true&sendInitialEvents=false&resourceVersionMatch=NotOlderThan&resourceVersion=${f.first}`,
      ['ADDED:two', 'ADDED:later']],
  ];
  for (const wire of ['sse', 'json'] as const) {
    for (const [what, query, expected] of cases) {
      it(`${what} (${wire})`, async () => {
        const f = await fixture(`${wire}-sem`);
        const q = query(f);
        const { apiserver, facade } = await sideBySide(f.ns, q, wire);
        assert.equal(apiserver.status, 200, q);
        assert.deepEqual(apiserver.events, expected, `the apiserver, ${q}`);
        assert.equal(facade.status, 200, q);
        if (wire === 'json') assertSameJsonStream(facade, apiserver, q);
        assert.deepEqual(facade.events, apiserver.events, `the facade, ${q}`);
      });
    }

    it(`an initial state newer than anything seen yet: the apiserver's Timeout, on both (${wire})`, async () => {
      const f = await fixture(`${wire}-ahead`);
      const q = `watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&resourceVersion=${BigInt(f.rv) + 1_000_000n}`;
      const { apiserver, facade } = await sideBySide(f.ns, q, wire, /ERROR/);
      assert.deepEqual(apiserver.events, ['ERROR:Timeout']);
      if (wire === 'json') assertSameJsonStream(facade, apiserver, q);
      assert.deepEqual(facade.events, apiserver.events);
    });

    it(`a resourceVersion too old for the apiserver: its 410 Expired, on both (${wire})`, async () => {
      const f = await fixture(`${wire}-expired`);
      const q = 'watch=true&resourceVersion=1';
      const { apiserver, facade } = await sideBySide(f.ns, q, wire, /ERROR/);
      assert.deepEqual(apiserver.events, ['ERROR:Expired']);
      assert.match(apiserver.raw[0]!.object.message, /too old resource version: 1 /);
      if (wire === 'json') {
        assertSameJsonStream(facade, apiserver, q);
        assert.match(facade.raw[0]!.object.message, /too old resource version: 1 /);
        assert.equal(facade.raw[0]!.object.details.problem.code, 'GONE', 'the gateway\'s problem, kept');
      }
      assert.deepEqual(facade.events, apiserver.events);
    });
  }

  /**
   * The facade's JSON stream is the apiserver's: its Content-Type, the same changes with the same
   * resourceVersions, bookmarks of the same kind, ERROR events with the same Status.
   */
  function assertSameJsonStream(facade: Seen, apiserver: Seen, q: string): void {
    assert.equal(facade.contentType, apiserver.contentType, `the Content-Type, ${q}`);
    assert.deepEqual(changes(facade.raw), changes(apiserver.raw), `the changes, ${q}`);
    const bookmarks = (s: Seen) => s.raw.filter((e) => e.type === 'BOOKMARK').map((e) => `${e.object.apiVersion}/${e.object.kind}`);
    assert.deepEqual([...new Set(bookmarks(facade))], [...new Set(bookmarks(apiserver))], `the bookmarks' kind, ${q}`);
    const status = (s: Seen) => s.raw.filter((e) => e.type === 'ERROR')
      .map(({ object: o }) => ({ kind: o.kind, apiVersion: o.apiVersion, status: o.status, reason: o.reason, code: o.code }));
    assert.deepEqual(status(facade), status(apiserver), `the ERROR Status, ${q}`);
  }

  it('contradicting parameters: 422 with the same causes', async () => {
    const ns = await namespaces.create('sse-invalid');
    for (const q of ['watch=true&sendInitialEvents=true', 'watch=true&sendInitialEvents=false&allowWatchBookmarks=true',
      'watch=true&resourceVersionMatch=NotOlderThan', 'watch=true&sendInitialEvents=true&resourceVersionMatch=Exact&allowWatchBookmarks=true']) {
      const { apiserver, facade } = await sideBySide(ns, q);
      assert.equal(apiserver.status, 422, q);
      assert.equal(facade.status, 422, q);
      assert.ok(apiserver.causes?.length, q);
      assert.deepEqual(facade.causes, apiserver.causes, q);
    }
  });
});
