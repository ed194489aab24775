// The server process of the subscription benchmark (bench-subscriptions.ts): the gateway, and in
// the same process — used only while the gateway is idle — the baseline, a plain `ws` server that
// broadcasts one pre-serialized frame per event to every socket. Both stamp each event as it
// becomes available for fan-out (the gateway: when its upstream watch delivers it, through a hub
// observer; the baseline: when it makes the frame), so the clients' latencies measure the same
// span. Driven over IPC.
import { Session } from 'node:inspector/promises';
import v8 from 'node:v8';
import { WebSocketServer, type WebSocket } from 'ws';
import { createGateway } from '../src/gateway.ts';
import { KubeClient } from '../src/kube/kube-client.ts';
import { loadFile } from '../src/kube/kube-config.ts';

v8.setFlagsFromString('--expose-gc');
const gc = (await import('node:vm')).runInNewContext('gc') as () => void;

const [kubeconfig, namespace] = process.argv.slice(2) as [string, string];
const client = new KubeClient(loadFile(kubeconfig));
const gateway = await createGateway({ client, watchGraceMs: 1000, explorer: false });
const server = await gateway.listen(0);
const hub = gateway.operations.hub;
const key = { group: 'stable.example.com', version: 'v1', plural: 'crontabs', namespace };

/** When each event (by resourceVersion) reached the hub. */
let receipts = new Map<string, number>();
/** The phase being measured, and how many of its changes the hub got: events the apiserver has not sent yet are not the gateway's to deliver. */
let phase = '';
let phaseEvents = 0;
const now = () => performance.timeOrigin + performance.now();
hub.observe(key, {
  initial: () => {},
  event: (e) => {
    receipts.set(e.resourceVersion, now());
    if ((e.object.metadata as { annotations?: Record<string, string> }).annotations?.['bench.crdgate.io/phase'] === phase) phaseEvents++;
  },
});

const baseline = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
await new Promise((resolve) => baseline.once('listening', resolve));
const baselineSockets = new Set<WebSocket>();
baseline.on('connection', (ws) => {
  baselineSockets.add(ws);
  ws.on('close', () => baselineSockets.delete(ws));
  ws.on('error', () => {});
});

/** One baseline frame, `bytes` long, stamped with the time it was made. */
function baselineFrame(phase: number, seq: number, bytes: number): Buffer {
  const head = `{"id":"1","type":"next","payload":{"p":${phase},"seq":${seq},"t":${now()},"pad":"`;
  return Buffer.from(`${head}${'x'.repeat(Math.max(0, bytes - head.length - 4))}"}}`);
}

function sendToAll(frame: Buffer): void {
  for (const ws of baselineSockets) ws.send(frame, { binary: false });
}

/** Broadcasts `rate` events per second for `seconds`, each frame `bytes` long, to every baseline socket. */
function broadcast(rate: number, seconds: number, bytes: number, phase: number): Promise<number> {
  const total = Math.round(rate * seconds);
  const t0 = performance.now();
  let sent = 0;
  return new Promise((resolve) => {
    const tick = () => {
      const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate) + 1);
      while (sent < due) sendToAll(baselineFrame(phase, sent++, bytes));
      if (sent < total) setTimeout(tick, 1);
      else resolve(sent);
    };
    tick();
  });
}

/**
 * The baseline fed the way the gateway is: a plain watch of the same CronTabs (the client class
 * the gateway uses, no hub), one pre-serialized frame broadcast per event of the phase as it
 * arrives. The apiserver and the producer then load the machine as in the gateway's phase, and
 * the events arrive with the same timing.
 */
let watchFeed: AbortController | undefined;
async function startWatchFeed(phase: number, bytes: number): Promise<void> {
  const list = await client.request<{ metadata: { resourceVersion: string } }>('GET', `/apis/stable.example.com/v1/namespaces/${namespace}/crontabs`);
  watchFeed = new AbortController();
  let seq = 0;
  let opened!: () => void;
  const open = new Promise<void>((resolve) => (opened = resolve));
  void client.watch<{ metadata: { annotations?: Record<string, string> } }>(`/apis/stable.example.com/v1/namespaces/${namespace}/crontabs`, {
    query: { watch: true, resourceVersion: list.metadata.resourceVersion },
    signal: watchFeed.signal,
    onOpen: opened,
    onEvent: (e) => {
      if (e.object.metadata.annotations?.['bench.crdgate.io/phase'] === String(phase)) sendToAll(baselineFrame(phase, seq++, bytes));
    },
  }).catch(() => {});
  await open;
}

let session: Session | undefined;
let cpuMark = process.cpuUsage();

process.on('message', async (m: { id: number; cmd: string; args?: Record<string, number> }) => {
  const reply = (value: unknown) => process.send!({ id: m.id, value });
  switch (m.cmd) {
    case 'stats':
      return reply(hub.stats());
    case 'memory': {
      for (let i = 0; i < 3; i++) gc();
      const u = process.memoryUsage();
      return reply({ heap: u.heapUsed, rss: u.rss });
    }
    case 'cpu-mark':
      cpuMark = process.cpuUsage();
      receipts = new Map();
      phase = String(m.args?.phase ?? '');
      phaseEvents = 0;
      return reply(true);
    case 'cpu': {
      const d = process.cpuUsage(cpuMark);
      return reply((d.user + d.system) / 1000);
    }
    case 'phase-events':
      return reply(phaseEvents);
    case 'receipts':
      return reply([...receipts]);
    case 'baseline-sockets':
      return reply(baselineSockets.size);
    case 'broadcast':
      return reply(await broadcast(m.args!.rate!, m.args!.seconds!, m.args!.bytes!, m.args!.phase!));
    case 'watch-feed-start':
      await startWatchFeed(m.args!.phase!, m.args!.bytes!);
      return reply(true);
    case 'watch-feed-stop':
      watchFeed?.abort();
      return reply(true);
    case 'profile-start':
      session = new Session();
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.start');
      return reply(true);
    case 'profile-stop': {
      const { profile } = await session!.post('Profiler.stop');
      session!.disconnect();
      return reply(profile);
    }
    case 'stop':
      baseline.close();
      await gateway.stop();
      reply(true);
      process.exit(0);
  }
});
process.send!({ id: 0, value: { port: (server.address() as { port: number }).port, baselinePort: (baseline.address() as { port: number }).port } });
