// The production-hardening settings: mode, GraphQL limits, rate limits, metrics, logs, shutdown,
// tracing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig, type GatewayConfig } from '../../../src/config/config.ts';
import { CrdgateError } from '../../../src/errors.ts';

const defaults = { stateDir: '/state' };
const load = (argv: string[], env: NodeJS.ProcessEnv = {}): GatewayConfig => {
  const c = loadConfig(argv, env, defaults);
  assert.ok(c !== 'help');
  return c;
};

test('mode: flag over CRDGATE_MODE; absent means "decide at start" (production unless the local cluster runs)', () => {
  assert.equal(load([]).mode, undefined);
  assert.equal(load([], { CRDGATE_MODE: 'local' }).mode, 'local');
  assert.equal(load(['--mode', 'production'], { CRDGATE_MODE: 'local' }).mode, 'production');
  assert.throws(() => load(['--mode', 'dev']), (err: unknown) => err instanceof CrdgateError && /mode from flag: "dev" is not one of production, local/.test(err.message));
});

test('GraphQL limits from flags and CRDGATE_* variables; zero and junk are refused, one line each', () => {
  const c = load(['--max-depth', '7', '--max-cost', '500'], { CRDGATE_MAX_ALIASES: '3', CRDGATE_MAX_TOKENS: '900', CRDGATE_DEFAULT_PAGE_SIZE: '50', CRDGATE_SUBSCRIPTION_COST_FACTOR: '4', CRDGATE_MAX_DIRECTIVES: '9' });
  assert.deepEqual(c.limits, { maxDepth: 7, maxAliases: 3, maxDirectives: 9, maxTokens: 900, maxCost: 500, defaultPageSize: 50, subscriptionCostFactor: 4 });
  assert.equal(load(['--max-depth', '8'], { CRDGATE_MAX_DEPTH: '9' }).limits.maxDepth, 8);
  assert.throws(() => load(['--max-depth', '0'], { CRDGATE_MAX_COST: 'lots' }), (err: unknown) => {
    assert.ok(err instanceof CrdgateError);
    const lines = err.message.split('\n');
    assert.equal(lines.length, 2);
    assert.match(lines[0]!, /^max-depth from flag: "0" is not a whole number from 1 to 1000$/);
    assert.match(lines[1]!, /^max-cost from CRDGATE_MAX_COST: "lots"/);
    return true;
  });
});

test('rate limits from flags and CRDGATE_* variables; 0 turns a budget off; the queue wait keeps its default', () => {
  const c = load(['--rate-limit', '0', '--max-watches', '7'], { CRDGATE_MAX_CONNECTIONS: '0', CRDGATE_RATE_BURST: '9', CRDGATE_MAX_CONCURRENT_CALLS: '4', CRDGATE_KUBE_RETRIES: '1', CRDGATE_KUBE_RETRY_MAX_DELAY: '250' });
  assert.deepEqual(c.rateLimits, { requestsPerSecond: 0, burst: 9, maxConcurrentCalls: 4, maxQueueWaitMs: 1000, maxWatches: 7, maxConnections: 0, kubeRetries: 1, kubeRetryMaxDelayMs: 250 });
  assert.throws(() => load(['--kube-retries', '11']), /kube-retries from flag: "11" is not a whole number from 0 to 10/);
});

test('metrics, logs and shutdown: flags over CRDGATE_* variables; bad values one line each', () => {
  const c = load(['--metrics-port', '0', '--shutdown-timeout', '5000'], { CRDGATE_METRICS_HOST: 'main', CRDGATE_LOG_LEVEL: 'debug', CRDGATE_SHUTDOWN_DELAY: '1500' });
  assert.equal(c.metricsPort, 0);
  assert.equal(c.metricsHost, 'main');
  assert.equal(c.logLevel, 'debug');
  assert.equal(c.shutdownTimeoutMs, 5000);
  assert.equal(c.shutdownDelayMs, 1500);
  assert.equal(load(['--log-level', 'warn'], { CRDGATE_LOG_LEVEL: 'debug' }).logLevel, 'warn');
  assert.equal(c.logFormat, 'auto');
  assert.equal(load([], { CRDGATE_LOG_FORMAT: 'json' }).logFormat, 'json');
  assert.equal(load(['--log-format', 'pretty'], { CRDGATE_LOG_FORMAT: 'json' }).logFormat, 'pretty');
  assert.throws(() => load(['--log-level', 'loud', '--metrics-port', '70000', '--log-format', 'xml']), (err: unknown) => {
    assert.ok(err instanceof CrdgateError);
    assert.deepEqual(err.message.split('\n'), [
      'metrics-port from flag: "70000" is not a whole number from 0 to 65535',
      'log-level from flag: "loud" is not one of fatal, error, warn, info, debug, trace',
      'log-format from flag: "xml" is not one of auto, pretty, json',
    ]);
    return true;
  });
});

test('trace sample ratio: from 0 to 1, flag over environment; anything else is refused with its source', () => {
  assert.equal(load(['--trace-sample-ratio', '0.1']).tracing.sampleRatio, 0.1);
  assert.equal(load([], { CRDGATE_TRACE_SAMPLE_RATIO: '0' }).tracing.sampleRatio, 0);
  assert.equal(load(['--trace-sample-ratio', '1'], { CRDGATE_TRACE_SAMPLE_RATIO: '.5' }).tracing.sampleRatio, 1);
  for (const bad of ['1.5', '-0.1', 'half', '', '1e-2', 'NaN']) {
    assert.throws(() => load([`--trace-sample-ratio=${bad}`]), new RegExp(`trace-sample-ratio from flag: "${bad}" is not a number from 0 to 1`), bad);
  }
});

test('tracing: off unless otlp; the endpoint from the flag, CRDGATE_OTLP_ENDPOINT, then OTEL_EXPORTER_OTLP_ENDPOINT', () => {
  assert.deepEqual(load([]).tracing, { exporter: 'none', endpoint: undefined, serviceName: 'crdgate', sampleRatio: 1 });
  assert.deepEqual(load([], { CRDGATE_TRACING: 'otlp', OTEL_SERVICE_NAME: 'gw-eu' }).tracing, { exporter: 'otlp', endpoint: undefined, serviceName: 'gw-eu', sampleRatio: 1 });
  assert.equal(load(['--tracing', 'none'], { CRDGATE_TRACING: 'otlp' }).tracing.exporter, 'none');
  const otel = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel:4318' };
  assert.equal(load(['--tracing', 'otlp'], otel).tracing.endpoint, 'http://otel:4318');
  assert.equal(load(['--tracing', 'otlp'], { ...otel, CRDGATE_OTLP_ENDPOINT: 'https://mine:4318' }).tracing.endpoint, 'https://mine:4318');
  assert.equal(load(['--tracing', 'otlp', '--otlp-endpoint', 'http://flag:4318'], { ...otel, CRDGATE_OTLP_ENDPOINT: 'https://mine:4318' }).tracing.endpoint, 'http://flag:4318');
  // Another program's OTEL_ setting is not crdgate's problem while crdgate does not trace.
  assert.equal(load([], { OTEL_EXPORTER_OTLP_ENDPOINT: 'collector' }).tracing.exporter, 'none');
  assert.throws(() => load(['--tracing', 'jaeger'], { CRDGATE_OTLP_ENDPOINT: 'grpc://x:4317' }), (err: unknown) => {
    assert.ok(err instanceof CrdgateError);
    assert.deepEqual(err.message.split('\n'), [
      'tracing from flag: "jaeger" is not one of otlp, none',
      'otlp-endpoint from CRDGATE_OTLP_ENDPOINT: "grpc://x:4317" is not an http:// or https:// URL',
    ]);
    return true;
  });
  assert.throws(() => load(['--tracing', 'otlp'], { OTEL_EXPORTER_OTLP_ENDPOINT: 'collector' }),
    /^CrdgateError: otlp-endpoint from OTEL_EXPORTER_OTLP_ENDPOINT: "collector" is not an http:\/\/ or https:\/\/ URL$/);
});

test('tenants: an empty value (flag, config file) is refused, not read as "no tenants file" (which would turn authentication off)', () => {
  for (const argv of [['--tenants', ''], ['--tenants='], ['--tenants', '  ']]) {
    assert.throws(() => load(argv), (err: unknown) => err instanceof CrdgateError && /^tenants from flag: .*not a tenants file or none/.test(err.message), JSON.stringify(argv));
  }
  assert.equal(load(['--tenants', 'none']).tenants, 'none');
  assert.equal(load(['--tenants', 'tenants.yaml']).tenants, 'tenants.yaml');
});
