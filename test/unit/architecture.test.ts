// The layers of src/ as docs/architecture.md lists them, checked against the import graph: a file
// imports only from its own folder or from a layer below its own, never up and never sideways
// (two folders of one layer stay independent). Type-only imports count too: a type from a layer
// above is a dependency on that layer all the same.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import ts from 'typescript';

const root = fileURLToPath(new URL('../../', import.meta.url));

interface Layer {
  name: string;
  /** Folders end with '/'; anything else is one file. Paths are relative to src/. */
  members: string[];
}

/** The "Layers" block of docs/architecture.md: one layer a line, top first, `name: member member …`. */
function documentedLayers(markdown: string): Layer[] {
  const block = /<!-- layers -->\s*```[^\n]*\n([\s\S]*?)```/.exec(markdown);
  if (!block) throw new Error('docs/architecture.md has no ```-block after <!-- layers -->');
  return block[1]!.split('\n').filter((l) => l.trim()).map((line) => {
    const [name, rest] = line.split(/:\s+/, 2);
    return { name: name!.trim(), members: rest!.trim().split(/\s+/).map((m) => m.replace(/^src\//, '')) };
  }).reverse();
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? sourceFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

interface ImportEdge {
  from: string;
  to: string;
  line: number;
  typeOnly: boolean;
}

/** Relative imports of a file (static, re-exports and import() with a literal), as paths relative to src/. */
function importsOf(file: string, text: string, srcDir: string): ImportEdge[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const edges: ImportEdge[] = [];
  const add = (spec: ts.Expression, node: ts.Node, typeOnly: boolean) => {
    if (!ts.isStringLiteral(spec) || !spec.text.startsWith('.')) return;
    edges.push({
      from: relative(srcDir, file),
      to: relative(srcDir, resolve(dirname(file), spec.text)),
      line: sf.getLineAndCharacterOfPosition(node.getStart()).line + 1,
      typeOnly,
    });
  };
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node)) add(node.moduleSpecifier, node, node.importClause?.isTypeOnly ?? false);
    else if (ts.isExportDeclaration(node) && node.moduleSpecifier) add(node.moduleSpecifier, node, node.isTypeOnly);
    else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0]) add(node.arguments[0], node, false);
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return edges;
}

function layerIndex(layers: Layer[], path: string): number {
  return layers.findIndex((l) => l.members.some((m) => (m.endsWith('/') ? path.startsWith(m) : path === m)));
}

const folderOf = (path: string) => (path.includes('/') ? path.slice(0, path.indexOf('/') + 1) : path);

/** Every import that goes up a layer or sideways into another folder of the same layer. */
function layerViolations(layers: Layer[], edges: readonly ImportEdge[]): string[] {
  const out: string[] = [];
  for (const e of edges) {
    if (folderOf(e.from) === folderOf(e.to)) continue;
    const from = layerIndex(layers, e.from);
    const to = layerIndex(layers, e.to);
    if (to < from) continue;
    const how = to === from ? `sideways within the ${layers[from]!.name} layer` : `up from ${layers[from]!.name} to ${layers[to]!.name}`;
    out.push(`src/${e.from}:${e.line} imports src/${e.to} (${how}${e.typeOnly ? ', type-only' : ''})`);
  }
  return out;
}

const layers = documentedLayers(readFileSync(join(root, 'docs', 'architecture.md'), 'utf8'));
const srcDir = join(root, 'src');
const files = sourceFiles(srcDir);
const edges = files.flatMap((f) => importsOf(f, readFileSync(f, 'utf8'), srcDir));

test('every file of src/ belongs to exactly one documented layer', () => {
  const unplaced = files.map((f) => relative(srcDir, f)).filter((p) => layers.filter((l) => l.members.some((m) => (m.endsWith('/') ? p.startsWith(m) : p === m))).length !== 1);
  assert.deepEqual(unplaced, [], 'add each of these to exactly one layer in docs/architecture.md');
});

test('imports only go down the layers of docs/architecture.md', () => {
  assert.deepEqual(layerViolations(layers, edges), []);
});

test('the contract is types only: no code, no graphql, nothing a transport would drag in', () => {
  const contract = files.filter((f) => relative(srcDir, f).startsWith('contract/'));
  const bad: string[] = [];
  for (const f of contract) {
    const sf = ts.createSourceFile(f, readFileSync(f, 'utf8'), ts.ScriptTarget.Latest, true);
    for (const s of sf.statements) {
      const where = `src/${relative(srcDir, f)}:${sf.getLineAndCharacterOfPosition(s.getStart()).line + 1}`;
      if (ts.isImportDeclaration(s) && !s.importClause?.isTypeOnly) bad.push(`${where}: a value import`);
      else if (ts.isImportDeclaration(s) && !(s.moduleSpecifier as ts.StringLiteral).text.startsWith('.')) bad.push(`${where}: imports a package`);
      else if (ts.isFunctionDeclaration(s) || ts.isClassDeclaration(s)) bad.push(`${where}: code`);
    }
  }
  assert.deepEqual(bad, []);
});

test('the check itself: an upward, a sideways and a type-only upward import are each reported', () => {
  const sample: Layer[] = [{ name: 'low', members: ['model/'] }, { name: 'mid', members: ['graphql/', 'rest/'] }, { name: 'top', members: ['transports/'] }];
  const found = layerViolations(sample, [
    { from: 'model/a.ts', to: 'graphql/b.ts', line: 1, typeOnly: false },
    { from: 'rest/a.ts', to: 'graphql/b.ts', line: 2, typeOnly: false },
    { from: 'graphql/a.ts', to: 'transports/b.ts', line: 3, typeOnly: true },
    { from: 'transports/a.ts', to: 'model/b.ts', line: 4, typeOnly: false },
    { from: 'graphql/a.ts', to: 'graphql/c.ts', line: 5, typeOnly: false },
  ]);
  assert.deepEqual(found, [
    'src/model/a.ts:1 imports src/graphql/b.ts (up from low to mid)',
    'src/rest/a.ts:2 imports src/graphql/b.ts (sideways within the mid layer)',
    'src/graphql/a.ts:3 imports src/transports/b.ts (up from mid to top, type-only)',
  ]);
  const parsed = importsOf('/x/src/graphql/a.ts', "import type { T } from '../model/t.ts';\nexport { u } from './u.ts';\nawait import('../rest/r.ts');\n", '/x/src');
  assert.deepEqual(parsed.map((e) => [e.to, e.typeOnly]), [['model/t.ts', true], ['graphql/u.ts', false], ['rest/r.ts', false]]);
});
