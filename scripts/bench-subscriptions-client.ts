// The client process of the subscription benchmark (bench-subscriptions.ts): N WebSockets to the
// gateway (graphql-transport-ws by hand, one subscription each) or to the baseline server, doing
// the same work per message (JSON.parse, read the event's stamp). It records when each message
// arrived; the latency is that minus the time the server had the event (sent in the baseline's
// frame; for the gateway, its hub's receipt time of that resourceVersion, given at report time).
import WebSocket from 'ws';

type Command =
  | { cmd: 'connect'; url: string; mode: 'gateway' | 'baseline'; sockets: number; namespace: string }
  | { cmd: 'phase'; phase: number }
  | { cmd: 'count' }
  | { cmd: 'report'; receipts?: [string, number][] }
  | { cmd: 'cpu-mark' }
  | { cmd: 'cpu' }
  | { cmd: 'disconnect' };

const PHASE = 'bench.crdgate.io/phase';
const query = 'subscription($ns: String) { watchCronTab_stable_example_com(namespace: $ns) { type resourceVersion object { metadata { name annotations } } } }';

let sockets: WebSocket[] = [];
let phase = -1;
/** Per message of the phase: the event's key (baseline: its send time; gateway: its resourceVersion) and the arrival time. */
let keys = new Float64Array(1 << 20);
let arrivals = new Float64Array(1 << 20);
let received = 0;
let mode: 'gateway' | 'baseline' = 'gateway';
const errors = new Map<string, number>();
let cpuMark = process.cpuUsage();

const now = () => performance.timeOrigin + performance.now();

function record(key: number): void {
  if (received === keys.length) {
    const k = new Float64Array(keys.length * 2);
    k.set(keys);
    keys = k;
    const a = new Float64Array(arrivals.length * 2);
    a.set(arrivals);
    arrivals = a;
  }
  keys[received] = key;
  arrivals[received++] = now();
}

function onGatewayMessage(data: WebSocket.RawData): void {
  const m = JSON.parse(String(data)) as { type: string; payload?: { data?: Record<string, { resourceVersion: string; object: { metadata: { annotations?: Record<string, string> } } | null }> } | { extensions?: { code?: string } }[] };
  if (m.type === 'next') {
    const e = (m.payload as { data: Record<string, { resourceVersion: string; object: { metadata: { annotations?: Record<string, string> } } | null }> }).data['watchCronTab_stable_example_com']!;
    if (Number(e.object?.metadata.annotations?.[PHASE]) === phase) record(Number(e.resourceVersion));
  } else if (m.type === 'error') {
    const code = String((m.payload as { extensions?: { code?: string } }[])[0]?.extensions?.code ?? 'GRAPHQL');
    errors.set(code, (errors.get(code) ?? 0) + 1);
  }
}

function onBaselineMessage(data: WebSocket.RawData): void {
  const m = JSON.parse(String(data)) as { payload: { p: number; t: number } };
  if (m.payload.p === phase) record(m.payload.t);
}

function open(url: string, namespace: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = mode === 'gateway' ? new WebSocket(url, 'graphql-transport-ws', { perMessageDeflate: false }) : new WebSocket(url, { perMessageDeflate: false });
    ws.on('error', (err) => reject(err));
    ws.on('close', () => errors.set('CLOSED', (errors.get('CLOSED') ?? 0) + 1));
    if (mode === 'baseline') {
      ws.on('message', onBaselineMessage);
      ws.once('open', () => resolve(ws));
      return;
    }
    ws.once('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: {} })));
    ws.once('message', () => {
      ws.on('message', onGatewayMessage);
      ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query, variables: { ns: namespace } } }));
      resolve(ws);
    });
  });
}

async function connect(c: Extract<Command, { cmd: 'connect' }>): Promise<void> {
  mode = c.mode;
  let next = 0;
  // A few hundred handshakes at a time: the server's accept queue is not the subject here.
  await Promise.all(Array.from({ length: 200 }, async () => {
    while (next < c.sockets) {
      next++;
      sockets.push(await open(c.url, c.namespace));
    }
  }));
}

function percentile(sorted: Float64Array, p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function report(receipts: [string, number][] | undefined): Record<string, unknown> {
  const at = receipts ? new Map(receipts.map(([rv, t]) => [Number(rv), t])) : undefined;
  const lat = new Float64Array(received);
  let first = Infinity;
  let last = 0;
  let n = 0;
  for (let i = 0; i < received; i++) {
    const sent = at ? at.get(keys[i]!) : keys[i]!;
    if (sent === undefined) continue;
    lat[n++] = arrivals[i]! - sent;
    first = Math.min(first, arrivals[i]!);
    last = Math.max(last, arrivals[i]!);
  }
  const sorted = lat.subarray(0, n).sort();
  return { received, p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1) ?? NaN, first, last, errors: Object.fromEntries(errors) };
}

process.on('message', async (m: Command) => {
  switch (m.cmd) {
    case 'connect':
      await connect(m);
      return process.send!({ ok: sockets.length });
    case 'phase':
      phase = m.phase;
      received = 0;
      errors.clear();
      return process.send!({ ok: 'phase' });
    case 'count':
      return process.send!({ received });
    case 'report':
      return process.send!(report(m.receipts));
    case 'cpu-mark':
      cpuMark = process.cpuUsage();
      return process.send!({ ok: 'cpu-mark' });
    case 'cpu': {
      const d = process.cpuUsage(cpuMark);
      return process.send!({ ms: (d.user + d.system) / 1000 });
    }
    case 'disconnect': {
      const closing = sockets.map((ws) => new Promise<void>((resolve) => {
        if (ws.readyState === WebSocket.CLOSED) return resolve();
        ws.once('close', () => resolve());
        ws.terminate();
      }));
      await Promise.all(closing);
      sockets = [];
      return process.send!({ ok: 'disconnect' });
    }
  }
});
process.send!({ ok: 'started' });
