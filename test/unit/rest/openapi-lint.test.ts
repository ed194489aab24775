// Both OpenAPI documents of the REST facade lint clean with Redocly's recommended rules (see
// redocly.yaml for the one relaxation and why): the committed openapi.yaml, and the live
// document the builder makes for the example CRDs in deploy/examples.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { parse } from 'yaml';
import { crdToModel } from '../../../src/model/crd-to-model.ts';
import { buildOpenApiDocument } from '../../../src/rest/openapi-builder.ts';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const redocly = join(dirname(createRequire(import.meta.url).resolve('@redocly/cli/package.json')), 'bin', 'cli.js');
const dir = mkdtempSync(join(tmpdir(), 'crdgate-lint-'));
after(() => rmSync(dir, { recursive: true, force: true }));

interface LintResult { totals: { errors: number; warnings: number }; problems: { ruleId: string; message: string; location?: { pointer?: string }[] }[] }

function lint(file: string): Promise<LintResult> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [redocly, 'lint', file, '--config', join(repoRoot, 'redocly.yaml'), '--format', 'json'], {
      cwd: repoRoot,
      env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1' },
      maxBuffer: 32 << 20,
    }, (_err, stdout, stderr) => {
      // Exit code 1 means problems were found; the JSON report says which.
      const start = stdout.indexOf('{');
      if (start < 0) return reject(new Error(`redocly printed no report: ${stderr}`));
      resolve(JSON.parse(stdout.slice(start)) as LintResult);
    });
  });
}

const summary = (r: LintResult) => r.problems.map((p) => `${p.ruleId}: ${p.message} at ${p.location?.[0]?.pointer ?? ''}`);

describe('Redocly lint', () => {
  it('openapi.yaml has no errors and no warnings', async () => {
    const r = await lint('openapi.yaml');
    assert.deepEqual(summary(r), []);
    assert.deepEqual(r.totals, { ...r.totals, errors: 0, warnings: 0 });
  });

  it('the live document of the example CRDs has no errors and no warnings', async () => {
    const example = (name: string) => crdToModel(parse(readFileSync(join(repoRoot, 'deploy', 'examples', name), 'utf8')));
    const file = join(dir, 'live-openapi.json');
    writeFileSync(file, JSON.stringify(buildOpenApiDocument([example('crontab-crd.yaml'), example('clustercrontab-crd.yaml')])));
    const r = await lint(file);
    assert.deepEqual(summary(r), []);
    assert.deepEqual(r.totals, { ...r.totals, errors: 0, warnings: 0 });
  });

  it('would report a broken document (the check can fail)', async () => {
    const file = join(dir, 'broken.json');
    writeFileSync(file, JSON.stringify({ openapi: '3.1.0', info: { title: 't', version: '1' }, paths: { '/x': { get: { responses: { '200': { content: { 'application/json': { schema: { $ref: '#/components/schemas/Missing' } } } } } } } } }));
    const r = await lint(file);
    assert.ok(r.totals.errors > 0, JSON.stringify(summary(r)));
  });
});
