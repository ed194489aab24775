// A real, private redis-server per test file (Debian's package; `npm test` installs it when it is
// missing, with scripts/ensure-redis.sh): a free port on 127.0.0.1, nothing saved to disk. A test
// may stop it and start it again on the same port, to see the gateway through an outage.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pollUntil } from './poll-until.ts';
import { freePort } from './free-port.ts';

export const redisServerPath = process.env.CRDGATE_TEST_REDIS_SERVER || '/usr/bin/redis-server';

export interface TestRedis {
  readonly port: number;
  readonly url: string;
  /** Stops the server (SIGTERM) and waits for it to exit; its data is gone. */
  stop(): Promise<void>;
  /** Starts it again on the same port, empty. */
  start(): Promise<void>;
  /** Freezes it (SIGSTOP): connections stay open, nothing is answered, until resume(). */
  pause(): void;
  /** Lets a paused server go on (SIGCONT), with the commands sent meanwhile. */
  resume(): void;
  /** Stops it for good and removes its directory. */
  dispose(): Promise<void>;
}


/** True when something on the port answers PING with PONG. */
function pings(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    socket.setTimeout(1000, () => socket.destroy());
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (d) => {
      answer += d;
      if (answer.includes('\r\n')) socket.end();
    });
    socket.on('error', () => {});
    socket.on('close', () => resolve(answer.startsWith('+PONG')));
  });
}

export async function startRedis(): Promise<TestRedis> {
  if (!existsSync(redisServerPath)) {
    throw new Error(`${redisServerPath} is missing; \`npm test\` installs it (scripts/ensure-redis.sh), or: apt-get install -y redis-server`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'crdgate-redis-'));
  let child: ChildProcess | undefined;
  let output = '';
  const killOnExit = () => child?.kill('SIGKILL');
  process.on('exit', killOnExit);

  const launch = async (port: number) => {
    output = '';
    const p = spawn(redisServerPath, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
      '--dir', dir, '--loglevel', 'warning'], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = p;
    p.stdout!.on('data', (d) => (output += d));
    p.stderr!.on('data', (d) => (output += d));
    const exited = once(p, 'exit');
    await pollUntil(`redis-server on port ${port}`, async () => {
      if (p.exitCode !== null) throw new Error(`redis-server exited with ${p.exitCode}: ${output.trim()}`);
      return pings(port);
    }, { timeoutMs: 20_000, intervalMs: 50 }).catch(async (err: unknown) => {
      p.kill('SIGKILL');
      await exited;
      throw err;
    });
  };

  // The port was free a moment ago; another process may take it before redis-server binds it.
  let port = 0;
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    try {
      await launch(port);
      break;
    } catch (err) {
      if (attempt >= 3) throw err;
    }
  }

  const redis: TestRedis = {
    port,
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      const p = child;
      child = undefined;
      if (!p || p.exitCode !== null) return;
      const exited = once(p, 'exit');
      p.kill('SIGTERM');
      await exited;
    },
    async start() {
      if (child) throw new Error('redis-server is running');
      await launch(port);
    },
    pause() {
      child?.kill('SIGSTOP');
    },
    resume() {
      child?.kill('SIGCONT');
    },
    async dispose() {
      child?.kill('SIGCONT');
      await redis.stop();
      process.off('exit', killOnExit);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return redis;
}
