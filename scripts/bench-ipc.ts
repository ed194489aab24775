// The IPC commands a process measured by bench-operations.ts answers (the gateways of
// bench-gateway.ts and the plain Node proxy of bench-node-proxy.ts): its memory after a full GC,
// its CPU time, a CPU profile of a measured phase, a heap snapshot, and stop.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import v8 from 'node:v8';
import vm from 'node:vm';

/** Answers bench-operations.ts' commands; `port` is sent first, once the process serves. */
export function answerBenchCommands(port: number, stop: () => Promise<void>): void {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  let session: Session | undefined;
  process.on('message', async (m: { id: number; cmd: string; file?: string }) => {
    const reply = (value: unknown) => process.send!({ id: m.id, value });
    switch (m.cmd) {
      case 'memory': {
        for (let i = 0; i < 3; i++) gc();
        const u = process.memoryUsage();
        return reply({ heap: u.heapUsed, rss: u.rss });
      }
      case 'cpu': {
        const c = process.cpuUsage();
        return reply(c.user + c.system);
      }
      case 'profile-start':
        session = new Session();
        session.connect();
        await session.post('Profiler.enable');
        await session.post('Profiler.setSamplingInterval', { interval: 200 });
        await session.post('Profiler.start');
        return reply(true);
      case 'profile-stop': {
        const { profile } = await session!.post('Profiler.stop');
        session!.disconnect();
        writeFileSync(m.file!, JSON.stringify(profile));
        return reply(true);
      }
      case 'heap-snapshot':
        gc();
        return reply(v8.writeHeapSnapshot(m.file));
      case 'stop':
        await stop();
        reply(true);
        process.exit(0);
    }
  });
  process.send!({ id: 0, value: { port } });
}
