import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { buildSchema, validateSchema } from 'graphql';
import { parse, stringify } from 'yaml';
import { runOpenapiCommand, runSchemaCommand } from '../../src/cli/schema-command.ts';
import { makeCrd } from './crd-fixtures.ts';
import { checkOpenApiStructure } from './openapi-structure.ts';

function captureIO() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: { stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => err.push(s) } },
    stdout: () => out.join(''),
    stderrLines: () => err.join('').split('\n').filter((l) => l !== ''),
  };
}

let dir: string;
const examples = new URL('../../deploy/examples/', import.meta.url);

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'crdgate-cli-'));
  await mkdir(join(dir, 'nested', 'deeper'), { recursive: true });
  await writeFile(join(dir, 'crontab.yaml'), await readFile(new URL('crontab-crd.yaml', examples), 'utf8'));
  // Several documents: a Namespace (skipped with a note), a CRD, an empty document, a broken CRD.
  const broken = makeCrd({ kind: 'Broken' }) as Record<string, any>;
  broken.spec.scope = 'Everywhere';
  await writeFile(
    join(dir, 'nested', 'multi.yml'),
    [
      stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'x' } }),
      stringify(makeCrd({ group: 'multi.example.com', kind: 'Gadget' })),
      '',
      stringify(broken),
    ].join('---\n'),
  );
  await writeFile(join(dir, 'nested', 'deeper', 'bad.yaml'), 'apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nspec: [unclosed\n');
  await writeFile(join(dir, 'nested', 'deeper', 'list.json'), JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [makeCrd({ group: 'json.example.com', kind: 'Doohickey' })] }));
  await writeFile(join(dir, 'nested', 'notes.txt'), 'not read: wrong extension');
  await writeFile(join(dir, 'plain.yaml'), 'just: a mapping\n');
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('crdgate schema', () => {
  it('prints the SDL of the good CRDs and one line per problem, exiting non-zero', async () => {
    const c = captureIO();
    const code = await runSchemaCommand([dir], c.io);
    assert.equal(code, 1);
    const schema = buildSchema(c.stdout());
    assert.deepEqual(validateSchema(schema), []);
    for (const type of ['CronTab_v1_stable_example_com', 'Gadget_v1_multi_example_com', 'Doohickey_v1_json_example_com']) {
      assert.ok(schema.getType(type), type);
    }
    assert.equal(schema.getType('Broken_v1_stable_example_com'), undefined);
    assert.match(c.stdout(), /"""/, 'descriptions are printed');
    const lines = c.stderrLines();
    assert.equal(lines.length, 4, lines.join('\n'));
    // Documents that are not CRDs, in files found in a folder: a note each file, not a problem.
    assert.equal(lines[0], `${join(dir, 'nested', 'multi.yml')}: skipped 1 document that is not a CRD (Namespace)`);
    assert.equal(lines[1], `${join(dir, 'plain.yaml')}: no CustomResourceDefinition, skipped (1 document: not a Kubernetes object)`);
    assert.match(lines[2]!, new RegExp(`^${escape(join(dir, 'nested', 'deeper', 'bad.yaml'))}:1: invalid YAML`));
    assert.match(lines[3]!, new RegExp(`^${escape(join(dir, 'nested', 'multi.yml'))}:4: CRD brokens.stable.example.com spec.scope: must be Namespaced or Cluster`));
  });

  it('reads the project\'s example folder (CRDs, objects, RBAC, a tenants file): notes for what it skips, exit 0', async () => {
    const c = captureIO();
    const folder = fileURLToPath(examples).replace(/\/$/, '');
    assert.equal(await runSchemaCommand([folder], c.io), 0, c.stderrLines().join('\n'));
    assert.ok(buildSchema(c.stdout()).getType('CronTab_v1_stable_example_com'));
    assert.deepEqual(c.stderrLines(), [
      `${join(folder, 'crontabs.yaml')}: no CustomResourceDefinition, skipped (6 documents: Namespace ×2, CronTab ×3, ClusterCronTab)`,
      `${join(folder, 'tenants', 'tenants.yaml')}: no CustomResourceDefinition, skipped (1 document: not a Kubernetes object)`,
      `${join(folder, 'tenants-rbac.yaml')}: no CustomResourceDefinition, skipped (5 documents: ClusterRole ×2, RoleBinding ×2, ClusterRoleBinding)`,
    ]);
  });

  it('a file given by name with no CRD at all is an error; with CRDs, what else it holds is a note', async () => {
    const c = captureIO();
    const objects = fileURLToPath(new URL('crontabs.yaml', examples));
    assert.equal(await runSchemaCommand([join(dir, 'crontab.yaml'), objects, join(dir, 'plain.yaml')], c.io), 1);
    assert.deepEqual(c.stderrLines(), [
      `${objects}: no CustomResourceDefinition in this file (6 documents: Namespace ×2, CronTab ×3, ClusterCronTab)`,
      `${join(dir, 'plain.yaml')}: no CustomResourceDefinition in this file (1 document: not a Kubernetes object)`,
    ]);
    assert.ok(buildSchema(c.stdout()).getType('CronTab_v1_stable_example_com'), 'the CRDs found are still printed');
    const mixed = captureIO();
    assert.equal(await runSchemaCommand([join(dir, 'nested', 'multi.yml')], mixed.io), 1, 'the broken CRD is a problem');
    assert.deepEqual(mixed.stderrLines().filter((l) => / skipped /.test(l)), [`${join(dir, 'nested', 'multi.yml')}: skipped 1 document that is not a CRD (Namespace)`]);
  });

  it('exits 0 with nothing on stderr when every CRD is fine', async () => {
    const c = captureIO();
    const code = await runSchemaCommand([join(dir, 'crontab.yaml'), new URL('clustercrontab-crd.yaml', examples).pathname], c.io);
    assert.equal(code, 0);
    assert.deepEqual(c.stderrLines(), []);
    assert.ok(buildSchema(c.stdout()).getType('ClusterCronTab_v1_stable_example_com'));
  });

  it('reports a CRD defined twice, a missing file, and still prints the rest', async () => {
    const c = captureIO();
    const file = join(dir, 'crontab.yaml');
    const code = await runSchemaCommand([file, file, join(dir, 'missing.yaml')], c.io);
    assert.equal(code, 1);
    const lines = c.stderrLines();
    assert.equal(lines.length, 2, lines.join('\n'));
    assert.match(lines[0]!, /crontab\.yaml:1: CRD crontabs\.stable\.example\.com is defined again \(first at .*crontab\.yaml:1\)/);
    assert.match(lines[1]!, /missing\.yaml: cannot read: ENOENT/);
    assert.ok(buildSchema(c.stdout()).getType('CronTab_v1_stable_example_com'));
  });

  it('says so when no CRD is found, and explains its usage', async () => {
    let c = captureIO();
    assert.equal(await runSchemaCommand([join(dir, 'nested', 'notes.txt')], c.io), 1);
    c = captureIO();
    assert.equal(await runSchemaCommand([], c.io), 2);
    assert.match(c.stderrLines()[0]!, /^Usage: crdgate schema/);
    c = captureIO();
    assert.equal(await runSchemaCommand(['--frobnicate', dir], c.io), 2);
    assert.match(c.stderrLines()[0]!, /unknown option --frobnicate/);
    c = captureIO();
    assert.equal(await runSchemaCommand(['--help'], c.io), 0);
    assert.match(c.stdout(), /^Usage: crdgate schema/);
  });
});

describe('crdgate openapi', () => {
  it('prints YAML by default and JSON with --json, with the same problems reported', async () => {
    const yamlRun = captureIO();
    assert.equal(await runOpenapiCommand([dir], yamlRun.io), 1);
    const fromYaml = parse(yamlRun.stdout());
    assert.deepEqual(checkOpenApiStructure(fromYaml), []);
    assert.ok(fromYaml.paths['/rest/multi.example.com/v1/namespaces/{namespace}/gadgets/{name}']);
    const schemaRun = captureIO();
    await runSchemaCommand([dir], schemaRun.io);
    assert.deepEqual(yamlRun.stderrLines(), schemaRun.stderrLines(), 'the same notes and problems as crdgate schema');

    const jsonRun = captureIO();
    assert.equal(await runOpenapiCommand(['--json', join(dir, 'crontab.yaml')], jsonRun.io), 0);
    const fromJson = JSON.parse(jsonRun.stdout());
    assert.equal(fromJson.openapi, '3.1.0');
    assert.ok(fromJson.components.schemas['com.example.stable.v1.CronTab']);
    assert.doesNotMatch(yamlRun.stdout(), /^\s*[&*]\w/m, 'no YAML anchors or aliases');
  });
});

describe('crdgate schema and openapi in a pipe', () => {
  // `crdgate openapi crd.yaml | head` closes the pipe after the first bytes: the command stops
  // quietly, as Unix tools do, instead of a stack trace for the EPIPE of its next write.
  for (const command of ['schema', 'openapi']) {
    it(`${command}: a reader that stops early ends it quietly`, async () => {
      const bin = fileURLToPath(new URL('../../bin/crdgate.js', import.meta.url));
      const crd = fileURLToPath(new URL('crontab-crd.yaml', examples));
      // The shell's pipe, as a user's; the command's exit code follows its stderr.
      const script = `{ "$0" "$1" ${command} "$2"; echo "exit $?" >&2; } | head -c 1 >/dev/null`;
      const child = spawn('sh', ['-c', script, process.execPath, bin, crd], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
      await once(child, 'close');
      assert.equal(stderr, 'exit 0\n');
    });
  }
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
