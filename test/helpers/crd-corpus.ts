// The real-CRD corpus the tests check crdgate against: `<repo>/../shared/crds`, or the directory
// in CRDGATE_CRD_CORPUS. Outside CI a missing corpus skips those tests; in CI (CI=true) it fails
// them, so a broken checkout can never pass as "all green".
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';

export const corpusDir = process.env['CRDGATE_CRD_CORPUS'] ?? fileURLToPath(new URL('../../../shared/crds', import.meta.url));

/** Every .yaml/.yml/.json file under the corpus, in name order (directories walked depth-first). */
export function crdFiles(dir: string = corpusDir): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...crdFiles(path));
    else if (/\.(ya?ml|json)$/i.test(name)) out.push(path);
  }
  return out;
}

/** True when the corpus is there; otherwise skips the test, or fails it in CI. */
export function corpusAvailable(t: TestContext): boolean {
  if (existsSync(corpusDir)) return true;
  const why = `no CRD corpus at ${corpusDir}; set CRDGATE_CRD_CORPUS to run the real-world checks`;
  if (process.env['CI'] === 'true') throw new Error(`${why} (required in CI)`);
  t.skip(why);
  return false;
}
