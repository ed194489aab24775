// The sources `npm run build` strips ahead of time (scripts/build-js.ts) and how bin/crdgate.js
// loads them: as JavaScript while they match the build, stripped at run time once edited.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { buildCompiledSources, compiledPath } from '../../scripts/build-js.ts';

const project = mkdtempSync(join(tmpdir(), 'crdgate-compiled-'));
after(() => rmSync(project, { recursive: true, force: true }));

// A project shaped like crdgate's: bin/crdgate.js as shipped, and a src/main.ts whose serve()
// (what `crdgate help` calls) reports whether the run-time type stripper was loaded.
mkdirSync(join(project, 'bin'));
mkdirSync(join(project, 'src', 'cli'), { recursive: true });
copyFileSync(new URL('../../bin/crdgate.js', import.meta.url), join(project, 'bin', 'crdgate.js'));
writeFileSync(join(project, 'package.json'), '{ "type": "module" }\n');
const main = `import { greeting } from './cli/greeting.ts';
interface Report { greeting: string; stripper: boolean; line: number }
export async function serve(_argv: readonly string[]): Promise<number> {
  const report: Report = { greeting: greeting('crdgate'), stripper: process.moduleLoadList.some((m: string) => m.includes('amaro')), line: Number(/main\\.ts:(\\d+)/.exec(new Error().stack ?? '')?.[1]) };
  console.log(JSON.stringify(report));
  return 0;
}
`;
writeFileSync(join(project, 'src', 'main.ts'), main);
const greetingSource = (word: string) => `export function greeting(name: string): string {\n  return \`${word}, \${name as string}\`;\n}\n`;
writeFileSync(join(project, 'src', 'cli', 'greeting.ts'), greetingSource('hello'));

function run(): { greeting: string; stripper: boolean; line: number } {
  const r = spawnSync(process.execPath, [join(project, 'bin', 'crdgate.js'), 'help'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim());
}

describe('sources stripped ahead of time', () => {
  it('without a build, the sources run through Node.js\' type stripping', () => {
    assert.deepEqual(run(), { greeting: 'hello, crdgate', stripper: true, line: 4 });
  });

  it('after a build, they load as JavaScript with the lines of the TypeScript', () => {
    assert.deepEqual(buildCompiledSources(project), { files: 2 });
    const written = readFileSync(compiledPath(project, readFileSync(join(project, 'src', 'main.ts'))), 'utf8');
    assert.doesNotMatch(written, /interface|: Promise<number>/);
    assert.equal(written.split('\n').length, main.split('\n').length);
    assert.deepEqual(run(), { greeting: 'hello, crdgate', stripper: false, line: 4 });
  });

  it('a source edited since the build runs as edited, never as the stale build', () => {
    writeFileSync(join(project, 'src', 'cli', 'greeting.ts'), greetingSource('goodbye'));
    assert.deepEqual(run(), { greeting: 'goodbye, crdgate', stripper: true, line: 4 });
  });

  it('a new build replaces what no source names any more', () => {
    const before = readdirSync(join(project, 'dist', 'js'));
    buildCompiledSources(project);
    const now = readdirSync(join(project, 'dist', 'js'));
    assert.equal(now.length, 2);
    assert.equal(now.filter((n) => !before.includes(n)).length, 1);
    assert.deepEqual(run(), { greeting: 'goodbye, crdgate', stripper: false, line: 4 });
  });

  it('a source Node.js cannot strip fails the build with its path', () => {
    writeFileSync(join(project, 'src', 'cli', 'legacy.ts'), 'enum Color { Red }\nexport const c = Color.Red;\n');
    assert.throws(() => buildCompiledSources(project), /src\/cli\/legacy\.ts: /);
    rmSync(join(project, 'src', 'cli', 'legacy.ts'));
  });
});
