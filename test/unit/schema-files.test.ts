import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { buildSchema, validateSchema } from 'graphql';
import { renderSchemaFiles, SCHEMA_DIR } from '../../src/cli/schema-files.ts';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const STALE = 'is stale: run `npm run generate` and commit the result';

describe('committed schema/*.graphql', () => {
  it('match what the example CRDs generate', async () => {
    const expected = await renderSchemaFiles(repoRoot);
    assert.ok(expected.has(`${SCHEMA_DIR}/crontabs.stable.example.com.graphql`));
    assert.ok(expected.has(`${SCHEMA_DIR}/examples.graphql`));
    for (const [path, content] of expected) {
      let actual: string | undefined;
      try {
        actual = await readFile(join(repoRoot, path), 'utf8');
      } catch {
        assert.fail(`${path} is missing: run \`npm run generate\` and commit the result`);
      }
      assert.ok(actual === content, `${path} ${STALE}`);
      assert.deepEqual(validateSchema(buildSchema(content)), []);
    }
    const committed = (await readdir(join(repoRoot, SCHEMA_DIR))).filter((n) => n.endsWith('.graphql'));
    for (const name of committed) {
      assert.ok(expected.has(`${SCHEMA_DIR}/${name}`), `${SCHEMA_DIR}/${name} has no example CRD any more: run \`npm run generate\``);
    }
  });
});
