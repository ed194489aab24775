// Strips the types of the gateway's sources (src/**/*.ts) ahead of time, so that `crdgate` runs
// them as JavaScript: Node.js' type stripping at run time loads a WebAssembly compiler that stays
// in the process for its whole life (about 28 MiB of RSS at idle). Run by `npm install`/`npm ci`
// (prepare) and before `npm start` (prestart); `npm run build` runs it by hand.
//
// Each output is named by the SHA-256 of the TypeScript it comes from (dist/js/<hash>.js), and
// bin/crdgate.js serves a source from it only when the hashes match: a source edited since the
// last build is stripped at run time as before, never replaced by stale JavaScript. Types are
// stripped the way Node.js does it at run time (mode strip: types become blanks), so lines and
// columns of stack traces are those of the TypeScript file, which stays the module's URL.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { stripTypeScriptTypes } from 'node:module';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Where bin/crdgate.js looks for the stripped sources (the same rule is written there). */
export function compiledPath(root: string, source: Buffer): string {
  return join(root, 'dist', 'js', `${createHash('sha256').update(source).digest('hex')}.js`);
}

/**
 * Strips every src/**\/*.ts of root into root/dist/js and removes what no current source names.
 * Each file is written under a temporary name and renamed, so concurrent builds (npm start in two
 * terminals) and a gateway loading meanwhile only ever see whole files.
 */
export function buildCompiledSources(root: string = projectRoot): { files: number } {
  const out = join(root, 'dist', 'js');
  mkdirSync(out, { recursive: true });
  const current = new Set<string>();
  for (const entry of readdirSync(join(root, 'src'), { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts') || entry.name.endsWith('.d.ts')) continue;
    const file = join(entry.parentPath, entry.name);
    const source = readFileSync(file);
    const target = compiledPath(root, source);
    current.add(basename(target));
    if (existsSync(target)) continue;
    let js: string;
    try {
      js = stripTypeScriptTypes(source.toString('utf8'), { mode: 'strip' });
    } catch (err) {
      throw new Error(`${relative(root, file)}: ${(err as Error).message}`, { cause: err });
    }
    const temporary = `${target}.${process.pid}.tmp`;
    writeFileSync(temporary, js);
    renameSync(temporary, target);
  }
  for (const name of readdirSync(out)) {
    if (name.endsWith('.js') && !current.has(name)) rmSync(join(out, name), { force: true });
  }
  return { files: current.size };
}

if (import.meta.main) {
  const { files } = buildCompiledSources();
  if (!process.argv.includes('--quiet')) console.log(`stripped the types of ${files} sources into dist/js`);
}
