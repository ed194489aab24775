// The YAML config file: keys named like the flags, validated like them, unknown keys refused, and
// the precedence flags > environment > file > defaults.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileKeys, loadConfig, type GatewayConfig } from '../../../src/config/config.ts';
import { CrdgateError } from '../../../src/errors.ts';
import { flagTable } from '../../../src/config/flags.ts';

const dir = mkdtempSync(join(tmpdir(), 'crdgate-config-file-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function file(text: string): string {
  const path = join(dir, `crdgate-${n++}.yaml`);
  writeFileSync(path, text);
  return path;
}
const load = (argv: string[], env: NodeJS.ProcessEnv = {}): GatewayConfig => {
  const c = loadConfig(argv, env, { stateDir: '/state' });
  assert.ok(c !== 'help');
  return c;
};
function problems(argv: string[], env: NodeJS.ProcessEnv = {}): string[] {
  try {
    load(argv, env);
  } catch (err) {
    assert.ok(err instanceof CrdgateError);
    assert.equal(err.code, 'CONFIG_INVALID');
    return err.message.split('\n');
  }
  assert.fail('expected CONFIG_INVALID');
}

test('settings from the file, under the flags\' names, with YAML numbers and booleans', () => {
  const path = file(`
port: 5000
host: 0.0.0.0
max-depth: 9
install-examples: false
rate-limit: 20
metrics-port: 9100
log-level: warn
shutdown-timeout: 10000
tenants: /etc/crdgate/tenants.yaml
tracing: otlp
otlp-endpoint: http://collector:4318
trace-sample-ratio: 0.05
`);
  const c = load(['--config', path]);
  assert.equal(c.port, 5000);
  assert.equal(c.host, '0.0.0.0');
  assert.equal(c.limits.maxDepth, 9);
  assert.equal(c.installExamples, false);
  assert.equal(c.rateLimits.requestsPerSecond, 20);
  assert.equal(c.metricsPort, 9100);
  assert.equal(c.logLevel, 'warn');
  assert.equal(c.shutdownTimeoutMs, 10000);
  assert.equal(c.tenants, '/etc/crdgate/tenants.yaml');
  assert.deepEqual(c.tracing, { exporter: 'otlp', endpoint: 'http://collector:4318', serviceName: 'crdgate', sampleRatio: 0.05 });
  assert.equal(c.configFile, path);
  // CRDGATE_CONFIG names the file too.
  assert.equal(load([], { CRDGATE_CONFIG: path }).port, 5000);
});

test('precedence: flags > CRDGATE_* > PORT/KUBECONFIG > file > defaults', () => {
  const path = file('port: 5000\nmax-depth: 9\nkubeconfig: /from-file\nlog-level: warn\n');
  assert.equal(load(['--config', path]).port, 5000);
  assert.equal(load(['--config', path], { PORT: '6000' }).port, 6000);
  assert.equal(load(['--config', path], { PORT: '6000', CRDGATE_PORT: '7000' }).port, 7000);
  assert.equal(load(['--config', path, '--port', '8000'], { PORT: '6000', CRDGATE_PORT: '7000' }).port, 8000);
  assert.equal(load(['--config', path], { KUBECONFIG: '/from-env' }).kubeconfig, '/from-env');
  assert.equal(load(['--config', path], { CRDGATE_MAX_DEPTH: '4' }).limits.maxDepth, 4);
  assert.equal(load(['--config', path, '--max-depth', '3'], { CRDGATE_MAX_DEPTH: '4' }).limits.maxDepth, 3);
  assert.equal(load(['--config', path]).rateLimits.burst, 100, 'absent from everything: the default');
});

test('unknown keys, wrong values and wrong shapes are refused, one line each, naming the file', () => {
  const path = file('port: eighty\nmax-dept: 9\nlog-level: loud\nhost: [a, b]\nhelp: true\nconfig: other.yaml\n');
  const lines = problems(['--config', path]);
  assert.deepEqual(lines.sort(), [
    `config file ${path}: host must be a single value, not a list`,
    `config file ${path}: unknown key "config"`,
    `config file ${path}: unknown key "help"`,
    `config file ${path}: unknown key "max-dept"; did you mean "max-depth"?`,
    `log-level from ${path}: "loud" is not one of fatal, error, warn, info, debug, trace`,
    `port from ${path}: "eighty" is not a whole number from 0 to 65535`,
  ].sort());
});

test('a missing file, a file that is not YAML, and a file that is not a mapping', () => {
  assert.deepEqual(problems(['--config', join(dir, 'nope.yaml')]), [`config file ${join(dir, 'nope.yaml')} cannot be read: it does not exist`]);
  const broken = file('port: [1, 2\n');
  const [line, ...more] = problems(['--config', broken]);
  assert.match(line!, new RegExp(`^config file ${broken.replace(/[.]/g, '\\.')} is not valid YAML: `));
  assert.equal(more.length, 0);
  const list = file('- port: 1\n');
  assert.deepEqual(problems(['--config', list]), [`config file ${list} must be a mapping of settings (keys named like the flags: port, max-depth, ...)`]);
  // An empty file is no settings.
  assert.equal(load(['--config', file('')]).port, 4000);
});

test('every setting can be in the file', () => {
  assert.ok(fileKeys.includes('port') && fileKeys.includes('kube-retry-max-delay') && fileKeys.includes('shutdown-delay'));
  assert.ok(!fileKeys.includes('help') && !fileKeys.includes('config'));
  assert.ok(fileKeys.includes('tracing') && fileKeys.includes('otlp-endpoint') && fileKeys.includes('trace-sample-ratio'));
  assert.ok(fileKeys.includes('watch-buffer-bytes') && fileKeys.includes('watch-window-bytes') && fileKeys.includes('watch-unavailable-after'));
  assert.ok(fileKeys.includes('rbac-stale-after'));
  assert.ok(fileKeys.includes('query-cache-max-bytes') && fileKeys.includes('query-cache-idle') && fileKeys.includes('query-max-scan'));
  assert.ok(fileKeys.includes('log-format') && fileKeys.includes('log-writes'));
  assert.ok(fileKeys.includes('redis-url') && fileKeys.includes('cors-origins'));
  assert.ok(fileKeys.includes('log-flush-delay') && fileKeys.includes('max-connections'));
  assert.equal(fileKeys.length, 48);
});

test('cors-origins in the file: a YAML list or one comma-separated value; other settings still refuse a list', () => {
  assert.deepEqual(load(['--config', file('cors-origins:\n  - https://a.example\n  - http://localhost:5173\n')]).corsOrigins, ['https://a.example', 'http://localhost:5173']);
  assert.deepEqual(load(['--config', file('cors-origins: https://a.example,https://b.example\n')]).corsOrigins, ['https://a.example', 'https://b.example']);
  const wildcard = file('cors-origins: ["*"]\n');
  assert.deepEqual(problems(['--config', wildcard]), [`cors-origins from ${wildcard}: "*" is not ${flagTable['cors-origins'].parse.expected}`]);
  const ports = file('port: [1, 2]\n');
  assert.deepEqual(problems(['--config', ports]), [`config file ${ports}: port must be a single value, not a list`]);
});

test('tenants: "" in the file is refused (an empty value would otherwise turn authentication off)', () => {
  const path = file('tenants: ""\n');
  assert.deepEqual(problems(['--config', path]), [`tenants from ${path}: "" is not a tenants file or none`]);
});
