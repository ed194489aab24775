// One declaration per flag (src/config/flags.ts) gives its parsing, environment variables, config
// file key, --help line and README table row: the README's tables are current, --help is grouped
// as the README is, and every flag really is read from each of its sources.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { configHelp, fileKeys, loadConfig, type GatewayConfig } from '../../../src/config/config.ts';
import { flagTableGroupsIn, withFlagTables } from '../../../src/config/flag-docs.ts';
import { envNamesOf, flagGroups, flagNames, flagTable, type FlagName } from '../../../src/config/flags.ts';

const readme = readFileSync(fileURLToPath(new URL('../../../README.md', import.meta.url)), 'utf8');
const dir = mkdtempSync(join(tmpdir(), 'crdgate-flag-table-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const load = (argv: string[], env: NodeJS.ProcessEnv = {}): GatewayConfig => {
  const c = loadConfig(argv, env, { stateDir: '/state' });
  assert.ok(c !== 'help');
  return c;
};

test('the README\'s flag tables are the ones the flag table renders (run `npm run generate` when not)', () => {
  assert.deepEqual(flagTableGroupsIn(readme), flagGroups.map((g) => g.id), 'one table per group, in the groups\' order');
  assert.ok(withFlagTables(readme) === readme, 'README.md\'s flag tables are stale: run `npm run generate` and commit the result');
  for (const name of flagNames) assert.match(readme, new RegExp(`^\\| \`--${name}\``, 'm'), `--${name} has a README row`);
});

test('--help lists every flag under its group, in the README\'s order', () => {
  const positions = flagNames.map((name) => {
    const at = configHelp.indexOf(`\n  --${name}${flagTable[name].short ? ',' : ' '}`);
    assert.ok(at >= 0, `--${name} is in --help`);
    const groupTitle = flagGroups.find((g) => g.id === flagTable[name].group)!.title;
    const titleAt = configHelp.indexOf(`  ${groupTitle}:`);
    const nextTitles = flagGroups.map((g) => configHelp.indexOf(`  ${g.title}:`)).filter((p) => p > titleAt);
    assert.ok(at > titleAt && nextTitles.every((p) => at < p), `--${name} is under "${groupTitle}"`);
    for (const env of envNamesOf(name)) assert.ok(configHelp.includes(env), `--help names ${env}`);
    return at;
  });
  assert.deepEqual(positions, [...positions].sort((a, b) => a - b), 'flags appear in the table\'s order');
});

/**
 * A valid value other than the default, what it turns into in the configuration, and the other
 * flags it needs to be used at all.
 */
const samples: Record<FlagName, [string, (c: GatewayConfig) => unknown, unknown, string[]?]> = {
  port: ['5001', (c) => c.port, 5001],
  host: ['0.0.0.0', (c) => c.host, '0.0.0.0'],
  kubeconfig: ['/k', (c) => c.kubeconfig, '/k'],
  'local-cluster': ['never', (c) => c.localCluster, 'never'],
  'state-dir': ['/s', (c) => c.stateDir, '/s'],
  'local-cluster-port': ['6443', (c) => c.localClusterPort, 6443],
  'install-examples': ['false', (c) => c.installExamples, false],
  'kube-timeout': ['1000', (c) => c.kubeTimeoutMs, 1000],
  tenants: ['none', (c) => c.tenants, 'none'],
  'rbac-stale-after': ['5000', (c) => c.rbacStaleAfterMs, 5000],
  mode: ['local', (c) => c.mode, 'local'],
  'cors-origins': ['https://app.example.com,http://localhost:5173', (c) => c.corsOrigins, ['https://app.example.com', 'http://localhost:5173']],
  config: ['', () => undefined, undefined],
  'watch-buffer-bytes': ['1048576', (c) => c.watch.bufferBytes, 1 << 20],
  'watch-window-bytes': ['2097152', (c) => c.watch.windowBytes, 2 << 20],
  'watch-unavailable-after': ['5000', (c) => c.watch.unavailableAfterMs, 5000],
  'max-depth': ['3', (c) => c.limits.maxDepth, 3],
  'max-aliases': ['4', (c) => c.limits.maxAliases, 4],
  'max-directives': ['5', (c) => c.limits.maxDirectives, 5],
  'max-tokens': ['6', (c) => c.limits.maxTokens, 6],
  'max-cost': ['7', (c) => c.limits.maxCost, 7],
  'default-page-size': ['8', (c) => c.limits.defaultPageSize, 8],
  'subscription-cost-factor': ['9', (c) => c.limits.subscriptionCostFactor, 9],
  'rate-limit': ['10', (c) => c.rateLimits.requestsPerSecond, 10],
  'rate-burst': ['11', (c) => c.rateLimits.burst, 11],
  'max-concurrent-calls': ['12', (c) => c.rateLimits.maxConcurrentCalls, 12],
  'max-watches': ['13', (c) => c.rateLimits.maxWatches, 13],
  'max-connections': ['17', (c) => c.rateLimits.maxConnections, 17],
  'kube-retries': ['2', (c) => c.rateLimits.kubeRetries, 2],
  'kube-retry-max-delay': ['100', (c) => c.rateLimits.kubeRetryMaxDelayMs, 100],
  'persisted-operations': ['/ops.json', (c) => c.persistedOperations.file, '/ops.json'],
  'persisted-operations-mode': ['apq', (c) => c.persistedOperations.mode, 'apq', ['--persisted-operations', '/ops.json']],
  'apq-cache-size': ['2048', (c) => c.persistedOperations.cacheSize, 2048],
  'query-cache-max-bytes': ['0', (c) => c.queryCache.maxBytes, 0],
  'query-cache-idle': ['60000', (c) => c.queryCache.idleMs, 60_000],
  'query-cache-max-stores': ['12', (c) => c.queryCache.maxStores, 12],
  'query-max-scan': ['500', (c) => c.queryCache.maxScan, 500],
  'metrics-port': ['0', (c) => c.metricsPort, 0],
  'metrics-host': ['main', (c) => c.metricsHost, 'main'],
  'log-level': ['debug', (c) => c.logLevel, 'debug'],
  'log-format': ['json', (c) => c.logFormat, 'json'],
  'log-writes': ['sync', (c) => c.logWrites, 'sync'],
  'log-flush-delay': ['0', (c) => c.logFlushDelayMs, 0],
  'shutdown-timeout': ['1', (c) => c.shutdownTimeoutMs, 1],
  'shutdown-delay': ['2', (c) => c.shutdownDelayMs, 2],
  tracing: ['otlp', (c) => c.tracing.exporter, 'otlp'],
  // OTEL_EXPORTER_OTLP_ENDPOINT is read only when crdgate traces.
  'otlp-endpoint': ['http://collector:4318', (c) => c.tracing.endpoint, 'http://collector:4318', ['--tracing', 'otlp']],
  'trace-sample-ratio': ['0.5', (c) => c.tracing.sampleRatio, 0.5],
  'redis-url': ['redis://cache:6379', (c) => c.redisUrl, 'redis://cache:6379'],
};

test('every flag is read from its flag, each of its environment variables and its config file key', () => {
  for (const name of flagNames) {
    if (name === 'config') continue;
    const [raw, read, expected, needs = []] = samples[name];
    assert.notDeepEqual(read(load(needs)), expected, `the sample of --${name} is not its default`);
    assert.deepEqual(read(load([...needs, `--${name}`, raw])), expected, `--${name}`);
    for (const env of envNamesOf(name)) assert.deepEqual(read(load(needs, { [env]: raw })), expected, env);
    assert.ok(fileKeys.includes(name), `${name} is a config file key`);
    const path = join(dir, `${name}.yaml`);
    writeFileSync(path, `${name}: "${raw}"\n`);
    assert.deepEqual(read(load([...needs, '--config', path])), expected, `${name} in the config file`);
  }
});

test('a value the flag\'s parser refuses is reported with the flag, its source and what is expected', () => {
  // Any text names a file, so the tenants flag's refused value is the empty one.
  const invalid: Partial<Record<string, string>> = { tenants: '' };
  for (const name of flagNames) {
    if (flagTable[name].parse.expected === 'text') continue;
    const bad = invalid[name] ?? 'not valid at all';
    const given = flagTable[name].secret ? '' : ` "${bad}" is`;
    const expected = flagTable[name].parse.expected.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    assert.throws(() => load([`--${name}`, bad]), new RegExp(`^CrdgateError: ${name} from flag:${given} not ${expected}$`), name);
  }
});
