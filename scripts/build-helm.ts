// Builds helm from Go modules (the small module in test/helm pins helm.sh/helm/v4), for the tests
// that lint, render and dry-run the chart in deploy/helm. It shares Go's module and build caches
// with the local control plane, and is skipped when test/helm/bin/helm was built from the same
// go.mod, go.sum and Go release. `npm run build:helm` builds it ahead of time (to warm a machine).
import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findGo, repoRoot } from '../src/local-cluster/build-launcher.ts';

export const helmModuleDir = join(repoRoot, 'test', 'helm');
export const helmPath = join(helmModuleDir, 'bin', 'helm');
const stampPath = join(helmModuleDir, 'bin', 'helm.stamp');

/** The helm release test/helm/go.mod pins. */
export function helmVersion(): string {
  const m = /^\s*(?:require\s+)?helm\.sh\/helm\/v4\s+(v\d+\.\d+\.\d+)\s*$/m.exec(readFileSync(join(helmModuleDir, 'go.mod'), 'utf8'));
  if (!m?.[1]) throw new Error('test/helm/go.mod does not require helm.sh/helm/v4');
  return m[1];
}

export async function buildHelm(opts: { log?: (line: string) => void } = {}): Promise<{ helm: string; seconds: number; built: boolean }> {
  const started = performance.now();
  const go = await findGo();
  const goVersion = await output(go, ['env', 'GOVERSION']);
  const version = helmVersion();
  const stamp = createHash('sha256')
    .update(goVersion)
    .update(readFileSync(join(helmModuleDir, 'go.mod')))
    .update(readFileSync(join(helmModuleDir, 'go.sum')))
    .digest('hex');
  if (existsSync(helmPath) && existsSync(stampPath) && readFileSync(stampPath, 'utf8') === stamp) {
    return { helm: helmPath, seconds: (performance.now() - started) / 1000, built: false };
  }
  opts.log?.(`building helm ${version} from Go modules with ${go}; the first build takes several minutes`);
  mkdirSync(join(helmModuleDir, 'bin'), { recursive: true });
  // The version helm reports (helm version) is set at link time, as helm's own Makefile does.
  const ldflags = `-s -w -X helm.sh/helm/v4/internal/version.version=${version} -X helm.sh/helm/v4/internal/version.gitTreeState=clean`;
  await output(go, ['build', '-trimpath', '-ldflags', ldflags, '-o', helmPath, 'helm.sh/helm/v4/cmd/helm']);
  writeFileSync(stampPath, stamp);
  return { helm: helmPath, seconds: (performance.now() - started) / 1000, built: true };
}

/** Runs a go command in test/helm; resolves its stdout, rejects with the end of its stderr. */
function output(go: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(go, args, {
      cwd: helmModuleDir,
      // As for the control plane: never fetch another toolchain, no VCS stamping.
      env: { ...process.env, GOTOOLCHAIN: process.env.GOTOOLCHAIN ?? 'local', GOFLAGS: process.env.GOFLAGS ?? '-buildvcs=false' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d));
    p.stderr.on('data', (d: Buffer) => {
      err += d;
      if (err.length > 64_000) err = err.slice(-32_000);
    });
    p.on('error', (e) => reject(new Error(`cannot run ${go}: ${e.message}`)));
    p.on('exit', (code) => {
      if (code === 0) resolve(out.trim());
      else reject(new Error(`go ${args[0]} in test/helm exited ${code}:\n${err.trim().split('\n').slice(-15).join('\n')}`));
    });
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const built = await buildHelm({ log: (line) => console.error(line) });
  console.log(`helm: ${built.helm}, ${built.built ? 'built' : 'up to date'} in ${built.seconds.toFixed(1)} s`);
}
