import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../../src/config/config.ts';
import { CrdgateError } from '../../../src/errors.ts';
import { defaultQueryLimits } from '../../../src/plugins/query-limits.ts';
import { defaultRateLimits } from '../../../src/plugins/rate-limits.ts';

const defaults = { stateDir: '/state' };

test('defaults', () => {
  const c = loadConfig([], {}, defaults);
  assert.notEqual(c, 'help');
  assert.deepEqual(c, {
    host: '127.0.0.1', port: 4000, kubeconfig: undefined, localCluster: 'auto', stateDir: '/state',
    localClusterPort: 0, installExamples: true, kubeTimeoutMs: 30000, tenants: undefined, rbacStaleAfterMs: 2000,
    mode: undefined, corsOrigins: [], watch: { bufferBytes: 8 << 20, windowBytes: 32 << 20, unavailableAfterMs: 30_000 },
    limits: defaultQueryLimits, rateLimits: defaultRateLimits,
    metricsPort: 9464, metricsHost: '127.0.0.1', logLevel: 'info', logFormat: 'auto', logWrites: 'async', logFlushDelayMs: 5, shutdownTimeoutMs: 25000, shutdownDelayMs: 0, configFile: undefined,
    persistedOperations: { mode: 'apq', file: undefined, cacheSize: 4 << 20 },
    tracing: { exporter: 'none', endpoint: undefined, serviceName: 'crdgate', sampleRatio: 1 },
    queryCache: { maxBytes: 256 * 2 ** 20, maxStores: 256, idleMs: 300_000, maxScan: 20_000 },
    redisUrl: undefined,
  });
});

test('redis-url: flag over CRDGATE_REDIS_URL; only redis:// or rediss:// with a host; a refused URL is never echoed', () => {
  const fromEnv = loadConfig([], { CRDGATE_REDIS_URL: 'redis://redis.crdgate:6379/2' }, defaults);
  assert.ok(fromEnv !== 'help');
  assert.equal(fromEnv.redisUrl, 'redis://redis.crdgate:6379/2');
  const fromFlag = loadConfig(['--redis-url', 'rediss://:pw@cache:6380'], { CRDGATE_REDIS_URL: 'redis://other' }, defaults);
  assert.ok(fromFlag !== 'help');
  assert.equal(fromFlag.redisUrl, 'rediss://:pw@cache:6380');
  assert.equal((loadConfig(['--redis-url', 'redis://cache/'], {}, defaults) as { redisUrl?: string }).redisUrl, 'redis://cache/');
  // ioredis would send SELECT NaN for a path that is not a database number, and fail unhandled.
  for (const bad of ['http://user:s3cret@cache:6379', 'redis://', 'cache:6379', 'not a url s3cret', 'redis://:s3cret@cache:6379/abc', 'redis://cache/1/2', 'redis://cache/-1',
    'redis://cache:6379?db=abc', 'redis://:s3cret@cache?enableOfflineQueue=1&commandTimeout=60000', 'redis://cache/2#x', 'redis://:s3cret%zz@cache:6379', 'redis://us%er:s3cret@cache']) {
    assert.throws(() => loadConfig(['--redis-url', bad], {}, defaults), (err: unknown) => {
      assert.ok(err instanceof CrdgateError);
      assert.equal(err.message, 'redis-url from flag: not a redis:// or rediss:// URL with a host, a database number as its path if any (redis://host:6379/2), no query, and valid %-escapes in its user and password');
      assert.doesNotMatch(err.message, /s3cret/);
      return true;
    }, bad);
  }
});

test('flags win over CRDGATE_* variables, which win over PORT and KUBECONFIG', () => {
  const env = { PORT: '1111', CRDGATE_PORT: '2222', KUBECONFIG: '/k1', CRDGATE_KUBECONFIG: '/k2' };
  const fromEnv = loadConfig([], env, defaults);
  assert.ok(fromEnv !== 'help');
  assert.equal(fromEnv.port, 2222);
  assert.equal(fromEnv.kubeconfig, '/k2');
  const fromFlags = loadConfig(['--port', '3333', '--kubeconfig', '/k3'], env, defaults);
  assert.ok(fromFlags !== 'help');
  assert.equal(fromFlags.port, 3333);
  assert.equal(fromFlags.kubeconfig, '/k3');
  const generic = loadConfig([], { PORT: '1111', KUBECONFIG: '/k1' }, defaults);
  assert.ok(generic !== 'help');
  assert.equal(generic.port, 1111);
  assert.equal(generic.kubeconfig, '/k1');
});

test('every invalid setting is reported, one line each', () => {
  assert.throws(
    () => loadConfig(['--port', '70000', '--local-cluster', 'sometimes'], { CRDGATE_KUBE_TIMEOUT: 'soon', CRDGATE_INSTALL_EXAMPLES: 'maybe' }, defaults),
    (err: unknown) => {
      assert.ok(err instanceof CrdgateError);
      assert.equal(err.code, 'CONFIG_INVALID');
      const lines = err.message.split('\n');
      assert.equal(lines.length, 4);
      assert.match(lines[0]!, /^port from flag: "70000" is not a whole number from 0 to 65535$/);
      assert.match(err.message, /local-cluster from flag: "sometimes" is not one of auto, always, never/);
      assert.match(err.message, /kube-timeout from CRDGATE_KUBE_TIMEOUT: "soon"/);
      assert.match(err.message, /install-examples from CRDGATE_INSTALL_EXAMPLES: "maybe" is not true or false/);
      return true;
    },
  );
});

test('a variable a flag overrides is not read: Kubernetes\' service links put CRDGATE_PORT=tcp://… beside a Service named crdgate', () => {
  const links = { CRDGATE_PORT: 'tcp://10.96.0.12:80', CRDGATE_METRICS_PORT: 'tcp://10.96.0.13:9464' };
  const c = loadConfig(['--port', '8080', '--metrics-port', '9464'], links, defaults);
  assert.ok(c !== 'help');
  assert.deepEqual([c.port, c.metricsPort], [8080, 9464]);
  // Without the flag, the variable is the setting, and its problem is told.
  assert.throws(() => loadConfig([], { CRDGATE_PORT: 'tcp://10.96.0.12:80' }, defaults), /port from CRDGATE_PORT: "tcp:\/\/10\.96\.0\.12:80" is not a whole number from 0 to 65535$/);
});

test('a flag followed by a value that starts with a dash: one line saying how to write it', () => {
  assert.throws(() => loadConfig(['--port', '-1'], {}, defaults), (err: unknown) => {
    assert.ok(err instanceof CrdgateError);
    assert.equal(err.message, '--port is followed by a value that starts with a dash: write it --port=<value> (see crdgate --help)');
    return true;
  });
  assert.throws(() => loadConfig(['--port=-1'], {}, defaults), /port from flag: "-1" is not a whole number from 0 to 65535$/);
});

test('an unknown flag is refused naming the nearest known one, and a pointer to --help', () => {
  const refusal = (argv: string[]) => {
    try {
      loadConfig(argv, {}, defaults);
    } catch (err) {
      assert.ok(err instanceof CrdgateError && err.code === 'CONFIG_INVALID');
      return err.message;
    }
    assert.fail(`${argv.join(' ')} was accepted`);
  };
  assert.equal(refusal(['--prot', '1']), 'unknown flag --prot; did you mean --port? (see crdgate --help)');
  assert.equal(refusal(['--max-dept', '3']), 'unknown flag --max-dept; did you mean --max-depth? (see crdgate --help)');
  assert.equal(refusal(['--metric-port=9']), 'unknown flag --metric-port; did you mean --metrics-port? (see crdgate --help)');
  assert.equal(refusal(['--tenant', 'x']), 'unknown flag --tenant; did you mean --tenants? (see crdgate --help)');
  assert.equal(refusal(['--hepl']), 'unknown flag --hepl; did you mean --help? (see crdgate --help)');
  assert.equal(refusal(['--redis', 'redis://r']), 'unknown flag --redis; did you mean --redis-url? (see crdgate --help)');
  // Nothing plausible: no guess, only the pointer.
  assert.equal(refusal(['--colour']), 'unknown flag --colour (see crdgate --help)');
  assert.equal(refusal(['--metrics', '1']), 'unknown flag --metrics (see crdgate --help)');
  assert.equal(refusal(['-x']), 'unknown flag -x (see crdgate --help)');
});

test('--help', () => {
  assert.equal(loadConfig(['--help'], {}, defaults), 'help');
});

test('persisted operations: a manifest means the allow-list; allow-list without one is refused', () => {
  const withFile = loadConfig(['--persisted-operations', '/ops.json'], {}, defaults);
  assert.ok(withFile !== 'help');
  assert.deepEqual(withFile.persistedOperations, { mode: 'allow-list', file: '/ops.json', cacheSize: 4 << 20 });
  assert.throws(() => loadConfig(['--persisted-operations-mode', 'allow-list'], {}, defaults), /allow-list needs --persisted-operations/);
  assert.throws(() => loadConfig([], { CRDGATE_PERSISTED_OPERATIONS_MODE: 'sometimes' }, defaults), /persisted-operations-mode from CRDGATE_PERSISTED_OPERATIONS_MODE: "sometimes"/);
});

test('a metrics port that is also the API port on a shared address is refused before anything starts', () => {
  const refused = (argv: string[], env: NodeJS.ProcessEnv = {}) => {
    try {
      loadConfig(argv, env, defaults);
    } catch (err) {
      return (err as Error).message;
    }
    return undefined;
  };
  const message = 'metrics-port 4000 is also the API port (--port) on an address they share; choose another --metrics-port, 0 to turn the metrics listener off, or --metrics-host main to serve /metrics on the API port';
  assert.equal(refused(['--metrics-port', '4000']), message, 'both on 127.0.0.1 by default');
  assert.equal(refused(['--port', '4000', '--host', '0.0.0.0', '--metrics-port', '4000']), message, 'a wildcard API address holds the port on loopback too');
  assert.equal(refused(['--metrics-port', '4000', '--metrics-host', '::'], {}), message);
  assert.equal(refused(['--host', 'localhost', '--metrics-port', '4000']), message, 'localhost is 127.0.0.1');
  assert.equal(refused([], { PORT: '9464' })?.replace(/9464/g, 'N'), message.replace(/4000/g, 'N'), 'the default metrics port as the platform\'s PORT');
  assert.equal(refused(['--metrics-port', '4000', '--metrics-host', 'main']), undefined, 'main: one listener');
  assert.equal(refused(['--port', '0', '--metrics-port', '0']), undefined);
  assert.equal(refused(['--host', '10.0.0.5', '--metrics-port', '4000']), undefined, 'two specific addresses may share a port number');
});

test('loopback addresses: 127.0.0.0/8, ::1 and localhost, nothing else', async () => {
  const { isLoopback } = await import('../../../src/config/config.ts');
  for (const h of ['127.0.0.1', '127.1.2.3', '127.255.255.255', '::1', '[::1]', 'localhost', 'LOCALHOST', '::ffff:127.0.0.1', '0:0:0:0:0:0:0:1']) assert.equal(isLoopback(h), true, h);
  for (const h of ['0.0.0.0', '::', '10.0.0.1', '128.0.0.1', '127.0.0.256', 'localhost.example.com', '127.0.0.1.nip.io', '::ffff:10.0.0.1', '']) assert.equal(isLoopback(h), false, h);
});
