// Writes the generated files that are committed: schema/*.graphql from deploy/examples,
// openapi.yaml (the REST facade for any CRD), and the README's flag tables (from the flag table).

import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderSchemaFiles, SCHEMA_DIR } from '../src/cli/schema-files.ts';
import { GENERIC_OPENAPI_FILE, renderGenericOpenApi } from '../src/rest/openapi-generic.ts';
import { withFlagTables } from '../src/config/flag-docs.ts';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const files = await renderSchemaFiles(repoRoot);
await mkdir(join(repoRoot, SCHEMA_DIR), { recursive: true });
// A CRD removed from deploy/examples must not leave its old schema file behind.
for (const name of await readdir(join(repoRoot, SCHEMA_DIR))) {
  if (name.endsWith('.graphql') && !files.has(`${SCHEMA_DIR}/${name}`)) await rm(join(repoRoot, SCHEMA_DIR, name));
}
files.set(GENERIC_OPENAPI_FILE, renderGenericOpenApi());
files.set('README.md', withFlagTables(await readFile(join(repoRoot, 'README.md'), 'utf8')));
for (const [path, content] of files) {
  await writeFile(join(repoRoot, path), content);
  console.log(`wrote ${path}`);
}
