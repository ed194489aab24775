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
const gateway = await createGateway({ client: new KubeClient(loadFile(kubeconfig)), watchGraceMs: 1000, explorer: false });
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

/** Broadcasts `rate` events per second for `seconds`, each frame `bytes` long, to every baseline socket. */
function broadcast(rate: number, seconds: number, bytes: number, phase: number): Promise<number> {
  const total = Math.round(rate * seconds);
  const t0 = performance.now();
  let sent = 0;
  return new Promise((resolve) => {
    const tick = () => {
      const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate) + 1);
      while (sent < due) {
        const head = `{"id":"1","type":"next","payload":{"p":${phase},"seq":${sent},"t":${now()},"pad":"`;
        const frame = Buffer.from(`${head}${'x'.repeat(Math.max(0, bytes - head.length - 4))}"}}`);
        for (const ws of baselineSockets) ws.send(frame, { binary: false });
        sent++;
      }
      if (sent < total) setTimeout(tick, 1);
      else resolve(sent);
    };
    tick();
  });
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
