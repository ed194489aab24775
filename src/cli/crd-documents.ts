// Finding CRDs in files: directories are walked for .yaml/.yml/.json, YAML files may hold
// several documents, `kind: List` is unpacked. Documents that are not CRDs (other kinds, or not
// Kubernetes objects at all, such as a tenants file) are skipped with one note line per file:
// a folder of manifests holds objects, RBAC and settings beside its CRDs. A file given by name
// that holds no CRD at all is a problem, as it was surely meant to. Everything else that is wrong
// becomes one problem line `file:document: what is wrong` (documents counted from 1), and never
// stops the other files from being read.

import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { LineCounter, parseAllDocuments } from 'yaml';
import { tryCrdToModel } from '../model/crd-to-model.ts';
import { exactYamlOptions, exactYamlReviver, parseJson } from '../kube/lossless-json.ts';
import type { ResourceModel } from '../model/resource-model.ts';

export interface CrdSource {
  readonly file: string;
  /** 1-based position of the document in its file, plus `items[i]` inside a List. */
  readonly document: string;
}

export interface LoadedCrds {
  readonly models: readonly { readonly model: ResourceModel; readonly source: CrdSource }[];
  /** One line each, `file:document: problem` (or `file: problem` when the file is unreadable). */
  readonly problems: readonly string[];
  /** One line per file with documents that are not CRDs, skipped: not problems. */
  readonly notes: readonly string[];
}

const CRD_FILE = /\.(ya?ml|json)$/i;

export async function loadCrdFiles(paths: readonly string[]): Promise<LoadedCrds> {
  const models: { model: ResourceModel; source: CrdSource }[] = [];
  const problems: string[] = [];
  const notes: string[] = [];
  const seen = new Map<string, CrdSource>();
  for (const entry of await expandPaths(paths)) {
    if ('problem' in entry) {
      problems.push(entry.problem);
      continue;
    }
    const file = entry.file;
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      problems.push(`${file}: cannot read: ${errorMessage(error)}`);
      continue;
    }
    const documents = parseCrdText(file, text);
    const skipped = skippedLine(file, documents, entry.named);
    if (skipped) (skipped.problem ? problems : notes).push(skipped.line);
    for (const found of documents) {
      if ('skipped' in found) continue;
      if ('problem' in found) {
        problems.push(found.problem);
        continue;
      }
      const first = seen.get(found.model.crdName);
      if (first) {
        problems.push(`${where(found.source)}: CRD ${found.model.crdName} is defined again (first at ${where(first)}); this copy is ignored`);
        continue;
      }
      seen.set(found.model.crdName, found.source);
      models.push(found);
    }
  }
  return { models, problems, notes };
}

/**
 * The line about a file's documents that are not CRDs: a note, or a problem when the file was
 * named and holds nothing else (no CRD, not even a broken one, and no invalid document).
 */
function skippedLine(file: string, found: readonly Found[], named: boolean): { line: string; problem: boolean } | undefined {
  const skipped = found.flatMap((f) => ('skipped' in f ? [f.skipped] : []));
  if (skipped.length === 0) return undefined;
  const counts = new Map<string, number>();
  for (const what of skipped) counts.set(what, (counts.get(what) ?? 0) + 1);
  const kinds = [...counts].map(([what, n]) => (n > 1 ? `${what} ×${n}` : what)).join(', ');
  if (skipped.length === found.length) {
    const summary = `${skipped.length} document${skipped.length === 1 ? '' : 's'}: ${kinds}`;
    return named ? { line: `${file}: no CustomResourceDefinition in this file (${summary})`, problem: true }
      : { line: `${file}: no CustomResourceDefinition, skipped (${summary})`, problem: false };
  }
  return { line: `${file}: skipped ${skipped.length} document${skipped.length === 1 ? ' that is not a CRD' : 's that are not CRDs'} (${kinds})`, problem: false };
}

export function where(source: CrdSource): string {
  return `${source.file}:${source.document}`;
}

/** A CRD, a problem, or a document that is not a CRD (its kind, or why it is no Kubernetes object). */
type Found = { model: ResourceModel; source: CrdSource } | { problem: string } | { skipped: string };

/** The CRDs of one file's text, and one problem per document that is wrong. */
export function parseCrdText(file: string, text: string): Found[] {
  const out: Found[] = [];
  if (/\.json$/i.test(file)) {
    try {
      collect(parseJson(text), { file, document: '1' }, out);
    } catch (error) {
      out.push({ problem: `${file}:1: invalid JSON: ${errorMessage(error)}` });
    }
    return out;
  }
  const lineCounter = new LineCounter();
  // Numbers as the apiserver gives them to a live gateway: big integers (such as a maximum of
  // 9223372036854775000) as bigint, so a file builds the same schema as the installed CRD.
  const documents = parseAllDocuments(text, { prettyErrors: false, lineCounter, ...exactYamlOptions });
  const list = Array.isArray(documents) ? documents : [];
  list.forEach((doc, i) => {
    const source = { file, document: String(i + 1) };
    if (doc.errors.length > 0) {
      const first = doc.errors[0]!;
      const line = lineCounter.linePos(first.pos[0]).line;
      out.push({ problem: `${where(source)}: invalid YAML${line > 0 ? ` at line ${line}` : ''}: ${first.message.split('\n')[0]}` });
      return;
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 1000, reviver: exactYamlReviver });
    } catch (error) {
      out.push({ problem: `${where(source)}: invalid YAML: ${errorMessage(error)}` });
      return;
    }
    collect(value, source, out);
  });
  return out;
}

function collect(value: unknown, source: CrdSource, out: Found[]): void {
  if (value === null || value === undefined) return; // an empty document, e.g. after a trailing ---
  if (typeof value !== 'object' || Array.isArray(value)) {
    out.push({ skipped: 'not a Kubernetes object' });
    return;
  }
  const object = value as Record<string, unknown>;
  const { apiVersion, kind } = object;
  const claimsCrd = kind === 'CustomResourceDefinition' || (typeof apiVersion === 'string' && apiVersion.startsWith('apiextensions.k8s.io/'));
  if (claimsCrd) {
    const result = tryCrdToModel(object);
    if (result.ok) out.push({ model: result.model, source });
    else out.push({ problem: `${where(source)}: ${result.error.message}` });
    return;
  }
  if (kind === 'List' && Array.isArray(object['items'])) {
    object['items'].forEach((item, i) => collect(item, { file: source.file, document: `${source.document}: items[${i}]` }, out));
    return;
  }
  const isObject = typeof apiVersion === 'string' && apiVersion !== '' && typeof kind === 'string' && kind !== '';
  out.push({ skipped: isObject ? kind : 'not a Kubernetes object' });
}

/** A file to read, and whether it was named (rather than found in a folder). */
type PathEntry = { file: string; named: boolean } | { problem: string };

/** Files in argument order (directories expanded in name order), with unreadable paths in place. */
async function expandPaths(paths: readonly string[]): Promise<PathEntry[]> {
  const entries: PathEntry[] = [];
  for (const path of paths) {
    let info;
    try {
      info = await stat(path);
    } catch (error) {
      entries.push({ problem: `${path}: cannot read: ${errorMessage(error)}` });
      continue;
    }
    if (info.isDirectory()) entries.push(...(await walk(path)));
    else entries.push({ file: path, named: true });
  }
  return entries;
}

async function walk(dir: string): Promise<PathEntry[]> {
  let dirents;
  try {
    dirents = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    return [{ problem: `${dir}: cannot read: ${errorMessage(error)}` }];
  }
  dirents.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const entries: PathEntry[] = [];
  for (const dirent of dirents) {
    const path = join(dir, dirent.name);
    if (dirent.isDirectory()) entries.push(...(await walk(path)));
    else if (CRD_FILE.test(dirent.name) && (dirent.isFile() || dirent.isSymbolicLink())) entries.push({ file: path, named: false });
  }
  return entries;
}

function errorMessage(error: unknown): string {
  if (error && typeof error === 'object' && 'code' in error && typeof error.code === 'string' && error.code.startsWith('E')) {
    const message = 'message' in error && typeof error.message === 'string' ? error.message : '';
    return message.split(',')[0] ?? error.code;
  }
  return error instanceof Error ? error.message.split('\n')[0]! : String(error);
}
