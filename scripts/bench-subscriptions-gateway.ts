// The gateway of the subscription benchmark, in a process of its own so that the patch producer
// and the clients do not share its event loop. Driven over IPC by bench-subscriptions.ts.
import { Session } from 'node:inspector/promises';
import v8 from 'node:v8';
import { createGateway } from '../src/gateway.ts';
import { KubeClient } from '../src/kube/kube-client.ts';
import { loadFile } from '../src/kube/kube-config.ts';

v8.setFlagsFromString('--expose-gc');
const gc = (await import('node:vm')).runInNewContext('gc') as () => void;

const kubeconfig = process.argv[2]!;
const gateway = await createGateway({ client: new KubeClient(loadFile(kubeconfig)), watchGraceMs: 1000, explorer: false });
const server = await gateway.listen(0);
const hub = gateway.operations.hub;
let session: Session | undefined;

process.on('message', async (m: { id: number; cmd: string }) => {
  const reply = (value: unknown) => process.send!({ id: m.id, value });
  switch (m.cmd) {
    case 'stats':
      return reply(hub.stats());
    case 'memory': {
      for (let i = 0; i < 3; i++) gc();
      const u = process.memoryUsage();
      return reply({ heap: u.heapUsed, rss: u.rss });
    }
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
      await gateway.stop();
      reply(true);
      process.exit(0);
  }
});
process.send!({ id: 0, value: { port: (server.address() as { port: number }).port } });
