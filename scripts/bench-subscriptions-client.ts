// The client side of bench-subscriptions.ts, run in its own process (child_process.fork) so that
// the subscribers' work does not share the gateway's event loop. It opens real graphql-ws clients
// over loopback, spreads the subscriptions over them, and measures for every received event the
// time since the change's send time (an annotation the benchmark writes into each patch).
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

type Command =
  | { cmd: 'connect'; url: string; subscriptions: number; sockets: number; namespace: string }
  | { cmd: 'phase'; phase: string }
  | { cmd: 'report' }
  | { cmd: 'disconnect' };

const SENT = 'bench.crdgate.io/sent';
const PHASE = 'bench.crdgate.io/phase';
const query = `subscription($ns: String) { watchCronTab_stable_example_com(namespace: $ns) { type resourceVersion object { metadata { name annotations } } } }`;

let clients: Client[] = [];
let disposers: (() => void)[] = [];
let phase = '';
let latencies: number[] = [];
let received = 0;
let perSubscriber: Int32Array = new Int32Array(0);
const errors = new Map<string, number>();

const now = () => performance.timeOrigin + performance.now();

function send(msg: unknown): void {
  process.send!(msg);
}

function connect(c: Extract<Command, { cmd: 'connect' }>): void {
  clients = Array.from({ length: c.sockets }, () => createClient({
    url: c.url,
    webSocketImpl: WebSocket,
    lazy: false,
    retryAttempts: 0,
    keepAlive: 0,
  }));
  perSubscriber = new Int32Array(c.subscriptions);
  for (let i = 0; i < c.subscriptions; i++) {
    const client = clients[i % clients.length]!;
    disposers.push(client.subscribe<{ watchCronTab_stable_example_com: { object: { metadata: { annotations?: Record<string, string> } } | null } }>(
      { query, variables: { ns: c.namespace } },
      {
        next: (r) => {
          const a = r.data?.watchCronTab_stable_example_com?.object?.metadata?.annotations;
          if (!a || a[PHASE] !== phase) return;
          received++;
          perSubscriber[i]!++;
          latencies.push(now() - Number(a[SENT]));
        },
        error: (err) => {
          const code = Array.isArray(err) ? String((err[0] as { extensions?: { code?: string } })?.extensions?.code ?? 'GRAPHQL') : 'SOCKET';
          errors.set(code, (errors.get(code) ?? 0) + 1);
        },
        complete: () => {},
      },
    ));
  }
}

function percentile(sorted: Float64Array, p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

process.on('message', async (m: Command) => {
  switch (m.cmd) {
    case 'connect':
      connect(m);
      send({ ok: 'connect' });
      break;
    case 'phase':
      phase = m.phase;
      latencies = [];
      received = 0;
      perSubscriber.fill(0);
      errors.clear();
      send({ ok: 'phase' });
      break;
    case 'report': {
      const sorted = Float64Array.from(latencies).sort();
      let min = Infinity;
      for (const n of perSubscriber) min = Math.min(min, n);
      send({
        ok: 'report', received, p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1) ?? NaN,
        minPerSubscriber: perSubscriber.length ? min : 0, errors: Object.fromEntries(errors),
      });
      break;
    }
    case 'disconnect':
      for (const d of disposers) d();
      await Promise.all(clients.map((c) => c.dispose()));
      clients = [];
      disposers = [];
      send({ ok: 'disconnect' });
      break;
  }
});
send({ ok: 'started' });
