// The floor of the operations benchmark: a plain Node.js HTTP server, in a process of its own, that
// receives the benchmark's GraphQL POST bodies, makes the same single call to the apiserver the
// gateway makes (the gateway's KubeClient: same agent and keep-alive, same cancellation when the
// client goes away, same Audit-ID header) and answers the apiserver's object wrapped as
// {"data":{...}}, without GraphQL: the request is recognised by its root field and arguments, and
// only the JSON it must read is parsed. It is the cost of one more Node.js HTTP hop on this
// machine, the least any gateway written for Node.js adds. Driven over IPC like the gateways
// (bench-ipc.ts). Knows the benchmark's operations only: get, list, create and merge patch of
// CronTabs with variables (a document with its values inline is refused with 400).
//
//   node scripts/bench-node-proxy.ts KUBECONFIG
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { KubeClient } from '../src/kube/kube-client.ts';
import { loadFile } from '../src/kube/kube-config.ts';
import { stringifyJson } from '../src/kube/lossless-json.ts';
import { answerBenchCommands } from './bench-ipc.ts';

const client = new KubeClient(loadFile(process.argv[2]!));
const group = 'stable.example.com';
const base = (namespace: string) => `/apis/${group}/v1/namespaces/${encodeURIComponent(namespace)}/crontabs`;
const LIMIT = 1024 * 1024;
let ids = 0;

interface Body { query?: string; variables?: Record<string, any> }

/** The apiserver call a benchmark operation makes, and how its answer becomes the GraphQL data. */
async function call(body: Body, signal: AbortSignal, auditId: string): Promise<Record<string, unknown>> {
  const query = body.query ?? '';
  const root = /\{\s*(\w+)\s*\(([^)]*)\)/.exec(query);
  if (!root) throw new Error('no root field');
  const [, field, args] = root as unknown as [string, string, string];
  const namespace = /namespace:\s*"([^"]*)"/.exec(args)?.[1] ?? 'default';
  const opts = { signal, headers: { 'Audit-ID': auditId } };
  const v = body.variables ?? {};
  switch (field) {
    case 'cronTab_stable_example_com':
      return { [field]: await client.request('GET', `${base(namespace)}/${encodeURIComponent(String(v['name']))}`, opts) };
    case 'cronTabList_stable_example_com': {
      const first = /first:\s*(\d+)/.exec(args)?.[1];
      const list = await client.request<{ items: unknown[]; metadata: { resourceVersion: string } }>('GET', base(namespace), { ...opts, query: { limit: first } });
      return { [field]: { edges: list.items.map((node) => ({ node })), resourceVersion: list.metadata.resourceVersion } };
    }
    case 'createCronTab_stable_example_com':
      if (!v['input']) throw new Error('values inline');
      return { [field]: await client.request('POST', base(namespace), { ...opts, body: { apiVersion: `${group}/v1`, kind: 'CronTab', ...v['input'] } }) };
    case 'patchCronTab_stable_example_com':
      return { [field]: await client.request('PATCH', `${base(namespace)}/${encodeURIComponent(String(v['name']))}`, { ...opts, body: v['patch'], contentType: 'application/merge-patch+json' }) };
    default:
      throw new Error(`unknown field ${field}`);
  }
}

function answer(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (c: Buffer) => {
    size += c.length;
    if (size > LIMIT) req.destroy();
    else chunks.push(c);
  });
  req.on('end', async () => {
    const controller = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) controller.abort();
    });
    let body: Body;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Body;
    } catch {
      return answer(res, 400, '{"errors":[{"message":"the request body is not JSON"}]}');
    }
    try {
      const data = await call(body, controller.signal, `proxy-${(ids++).toString(36)}`);
      answer(res, 200, stringifyJson({ data }));
    } catch (err) {
      answer(res, (err as { httpStatus?: number }).httpStatus || 400, JSON.stringify({ errors: [{ message: (err as Error).message }] }));
    }
  });
}

const server = createServer({ keepAliveTimeout: 30_000 }, handle);
server.listen(0, '127.0.0.1', () => {
  answerBenchCommands((server.address() as { port: number }).port, async () => {
    server.close();
    await client.close();
  });
});
