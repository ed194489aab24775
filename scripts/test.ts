// `npm test`: type-check, build the local control plane, start ONE real cluster for the whole run,
// install the example CRDs, run every unit and integration test with node's test runner, and always
// tear the cluster down (also on failure or Ctrl-C).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { buildLauncher, kubectlPath, repoRoot } from '../src/local-cluster/build-launcher.ts';
import { buildHelm } from './build-helm.ts';
import { launchCluster, type LocalCluster } from '../src/local-cluster/launch-cluster.ts';
import { progressTargetFor } from '../src/local-cluster/progress-display.ts';
import { installExampleCrds } from '../src/local-cluster/install-examples.ts';
import { describeError } from '../src/errors.ts';

const started = performance.now();
const say = (msg: string) => console.log(`[test] ${msg}`);
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(1)}s`;

// The project pins its own Node.js; a test run on anything older is a setup bug worth failing on.
say(`node ${process.version}`);
if (Number(process.versions.node.split('.')[0]) < 24) {
  console.error(`[test] crdgate needs Node.js 24; this is ${process.version}. Run the tests with \`npm test\` after \`npm install\`.`);
  process.exit(1);
}

// `npm test -- [--skip-typecheck] [test files...]`: the flag is for iterating on one file while
// the type-check is run separately (`npm run typecheck`); `npm test` alone always type-checks.
const skipTypecheck = process.argv.includes('--skip-typecheck');
const testArgs = process.argv.slice(2).filter((a) => a !== '--skip-typecheck');
let cluster: LocalCluster | undefined;
let stateDir: string | undefined;
let runner: ReturnType<typeof spawn> | undefined;
let cleaningUp: Promise<void> | undefined;

function cleanup(): Promise<void> {
  cleaningUp ??= (async () => {
    runner?.kill('SIGTERM');
    await cluster?.stop();
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  })();
  return cleaningUp;
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    say(`${sig}: stopping`);
    void cleanup().then(() => process.exit(130));
  });
}

function runStep(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  return new Promise((resolveStep) => {
    runner = spawn(cmd, args, { cwd: repoRoot, stdio: 'inherit', env });
    runner.on('exit', (code, signal) => resolveStep(code ?? (signal ? 1 : 0)));
    runner.on('error', (err) => {
      console.error(`[test] cannot run ${cmd}: ${err.message}`);
      resolveStep(1);
    });
  });
}

async function main(): Promise<number> {
  if (skipTypecheck) {
    say('type-check skipped (--skip-typecheck)');
  } else {
    say('type-check (tsc --noEmit)');
    const tsc = await runStep(process.execPath, [join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '--noEmit', '-p', repoRoot]);
    if (tsc !== 0) {
      console.error('[test] type-check failed');
      return tsc;
    }
    say(`type-check passed (${elapsed()})`);
  }

  // The explorer's browser test drives Debian's Chromium; install it when it is missing.
  const chromium = await runStep('bash', [join(repoRoot, 'scripts', 'ensure-chromium.sh')]);
  if (chromium !== 0) return chromium;
  // The shared-state tests start Debian's redis-server.
  const redis = await runStep('bash', [join(repoRoot, 'scripts', 'ensure-redis.sh')]);
  if (redis !== 0) return redis;
  // The README's Quick tour test runs its curl commands as written.
  const curl = await runStep('bash', [join(repoRoot, 'scripts', 'ensure-curl.sh')]);
  if (curl !== 0) return curl;

  const build = await buildLauncher({ log: say, progress: progressTargetFor(process.stdout, say) });
  say(`local control plane built in ${build.seconds.toFixed(1)}s`);
  // helm for the chart's tests, after the control plane: it reuses the modules that build fetched.
  const helm = await buildHelm({ log: (l) => say(l) });
  say(`helm ${helm.built ? 'built' : 'up to date'} in ${helm.seconds.toFixed(1)}s`);

  stateDir = mkdtempSync(join(tmpdir(), 'crdgate-test-'));
  const t0 = performance.now();
  cluster = await launchCluster({ dataDir: join(stateDir, 'cluster'), logFile: join(stateDir, 'cluster.log') });
  say(`kube-apiserver ${cluster.info.version.split(' ')[1]} ready at ${cluster.info.server} in ${((performance.now() - t0) / 1000).toFixed(1)}s`);

  const kc = new KubeConfig();
  kc.loadFromFile(cluster.info.kubeconfig);
  const crds = await installExampleCrds(kc);
  say(`example CRDs established: ${crds.join(', ')}`);

  const env = {
    ...process.env,
    KUBECONFIG: cluster.info.kubeconfig,
    CRDGATE_TEST_CLUSTER: cluster.infoPath,
    CRDGATE_TEST_KUBECTL: kubectlPath,
    CRDGATE_TEST_HELM: helm.helm,
  };
  const patterns = testArgs.length ? testArgs : ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts'];
  say(`running ${patterns.join(' ')}`);
  const code = await runStep(process.execPath, ['--test', '--test-timeout=180000', ...patterns], env);
  say(`tests finished with code ${code} after ${elapsed()} in total`);
  return code;
}

let exitCode = 1;
try {
  exitCode = await main();
} catch (err) {
  console.error(`[test] ${describeError(err)}`);
  if (cluster) console.error(`[test] control plane log: ${cluster.logFile}`);
  exitCode = 1;
} finally {
  await cleanup();
}
process.exit(exitCode);
