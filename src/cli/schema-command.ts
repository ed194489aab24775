// `crdgate schema <file|dir>...` prints the GraphQL SDL of the CRDs found;
// `crdgate openapi [--json] <file|dir>...` prints the OpenAPI document of the REST facade.
// Both work offline. Problems go to stderr, one line each, and make the exit code 1; the CRDs
// that are fine are still printed. Notes (documents that are not CRDs, skipped) go to stderr
// too, before the problems, and leave the exit code alone.

import { printSchema } from 'graphql';
import { buildGraphQLSchema } from '../graphql/schema-builder.ts';
import { buildOpenApiDocument } from '../rest/openapi-builder.ts';
import { stringifyJson, stringifyYaml } from '../kube/lossless-json.ts';
import { loadCrdFiles, where } from './crd-documents.ts';
import type { LoadedCrds } from './crd-documents.ts';

export interface CommandIO {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
}

export const EXIT_OK = 0;
export const EXIT_PROBLEMS = 1;
export const EXIT_USAGE = 2;

const SCHEMA_USAGE = `Usage: crdgate schema <file|dir>...

Prints the GraphQL schema (SDL, with descriptions) that crdgate serves for the
CustomResourceDefinitions in the given files. Directories are searched recursively
for .yaml, .yml and .json files; YAML files may contain several documents.
Documents that are not CRDs are skipped with a note on stderr; a file named on
the command line that holds no CRD at all is an error.
`;

const OPENAPI_USAGE = `Usage: crdgate openapi [--json] <file|dir>...

Prints the OpenAPI 3.1 document of the REST facade for the CustomResourceDefinitions
in the given files, as YAML (or JSON with --json).
`;

export async function runSchemaCommand(args: string[], io: CommandIO): Promise<number> {
  const parsed = parseArgs(args, [], SCHEMA_USAGE, io);
  if (typeof parsed === 'number') return parsed;
  const loaded = await loadCrdFiles(parsed.paths);
  const models = loaded.models.map((entry) => entry.model);
  const problems = [...loaded.problems];
  if (models.length > 0) {
    const result = buildGraphQLSchema(models);
    problems.push(...builderProblems(result.problems, loaded));
    io.stdout.write(`${printSchema(result.schema)}\n`);
  }
  return finish(loaded.notes, problems, models.length, parsed.paths, io);
}

export async function runOpenapiCommand(args: string[], io: CommandIO): Promise<number> {
  const parsed = parseArgs(args, ['--json'], OPENAPI_USAGE, io);
  if (typeof parsed === 'number') return parsed;
  const loaded = await loadCrdFiles(parsed.paths);
  const problems = [...loaded.problems];
  // The same CRDs as the GraphQL schema: a CRD the schema refuses (a kind conflict) is refused here too.
  const models = loaded.models.map((entry) => entry.model);
  if (models.length > 0) {
    const result = buildGraphQLSchema(models);
    problems.push(...builderProblems(result.problems, loaded));
    const document = buildOpenApiDocument(result.resources);
    io.stdout.write(
      parsed.flags.has('--json')
        ? `${stringifyJson(document, 2)}\n`
        : stringifyYaml(document, { lineWidth: 0 }),
    );
  }
  return finish(loaded.notes, problems, models.length, parsed.paths, io);
}

function parseArgs(
  args: readonly string[],
  knownFlags: readonly string[],
  usage: string,
  io: CommandIO,
): { paths: string[]; flags: Set<string> } | number {
  const paths: string[] = [];
  const flags = new Set<string>();
  let onlyPaths = false;
  for (const arg of args) {
    if (!onlyPaths && (arg === '--help' || arg === '-h')) {
      io.stdout.write(usage);
      return EXIT_OK;
    }
    if (!onlyPaths && arg === '--') onlyPaths = true;
    else if (!onlyPaths && arg.startsWith('-') && arg !== '-') {
      if (!knownFlags.includes(arg)) {
        io.stderr.write(`unknown option ${arg}\n${usage}`);
        return EXIT_USAGE;
      }
      flags.add(arg);
    } else paths.push(arg);
  }
  if (paths.length === 0) {
    io.stderr.write(usage);
    return EXIT_USAGE;
  }
  return { paths, flags };
}

function builderProblems(problems: readonly { crdName: string; message: string }[], loaded: LoadedCrds): string[] {
  return problems.map((problem) => {
    const entry = loaded.models.find((m) => m.model.crdName === problem.crdName);
    return `${entry ? where(entry.source) : problem.crdName}: CRD ${problem.crdName} left out: ${problem.message}`;
  });
}

function finish(notes: readonly string[], problems: readonly string[], found: number, paths: readonly string[], io: CommandIO): number {
  for (const note of notes) io.stderr.write(`${note.replace(/\n/g, ' ')}\n`);
  for (const problem of problems) io.stderr.write(`${problem.replace(/\n/g, ' ')}\n`);
  if (found === 0 && problems.length === 0) {
    io.stderr.write(`no CustomResourceDefinition found in ${paths.join(', ')}\n`);
    return EXIT_PROBLEMS;
  }
  return problems.length > 0 ? EXIT_PROBLEMS : EXIT_OK;
}
