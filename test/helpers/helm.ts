// The real helm, built from Go modules by `npm test` (scripts/build-helm.ts; CRDGATE_TEST_HELM),
// run with its cache, config and data in a directory of the test's own, so nothing outside it is
// read or written.
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let home: string | undefined;

export function helm(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const bin = process.env.CRDGATE_TEST_HELM;
  if (!bin) throw new Error('CRDGATE_TEST_HELM is not set; run the tests with `npm test`, which builds helm');
  home ??= mkdtempSync(join(tmpdir(), 'crdgate-helm-'));
  const env = {
    PATH: process.env.PATH,
    HOME: home,
    HELM_CACHE_HOME: join(home, 'cache'),
    HELM_CONFIG_HOME: join(home, 'config'),
    HELM_DATA_HOME: join(home, 'data'),
    // helm reads a kubeconfig even to render; point it at none rather than the user's.
    KUBECONFIG: join(home, 'no-kubeconfig'),
  };
  return new Promise((resolve) => {
    execFile(bin, args, { env, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as NodeJS.ErrnoException).code === 'number' ? Number((err as NodeJS.ErrnoException).code) : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}
