// Contract checks against an OpenAPI 3.1 document (the gateway's live /openapi.json): finds the
// operation by method and path template, and validates a request (path, query and header
// parameters, content type, body, bearer token) and a response (status, content type, required
// headers, body; for text/event-stream every event's data) with ajv's JSON Schema 2020-12 draft.
// Every check returns the problems it found, so a test can assert there are none, or that a
// request the facade must refuse is indeed outside the document.
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { parse as parseYaml } from 'yaml';

type Json = Record<string, any>;
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => void;
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'];

export interface Matched {
  template: string;
  method: string;
  operation: Json;
  pathParams: Record<string, string>;
  parameters: Json[];
}

export interface RequestToCheck {
  method: string;
  /** Path and query, e.g. /rest/g/v/crontabs?watch=true. */
  url: string;
  headers?: Record<string, string | undefined>;
  body?: string;
}

export interface ResponseToCheck {
  status: number;
  headers: Headers | Record<string, string | null | undefined>;
  body: string;
}

export interface SseEvent {
  id?: string;
  event?: string;
  data: string;
}

export class OpenApiValidator {
  readonly doc: Json;
  private readonly ajv: Ajv2020;
  private readonly compiled = new Map<string, (data: unknown) => boolean>();
  private readonly requireBearer: boolean;

  constructor(doc: Json, opts: { requireBearer?: boolean } = {}) {
    this.doc = doc;
    this.requireBearer = opts.requireBearer ?? false;
    this.ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
    addFormats(this.ajv);
    // OpenAPI's format names that JSON Schema does not define.
    this.ajv.addFormat('int32', { type: 'number', validate: (n: number) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31 });
    this.ajv.addFormat('int64', { type: 'number', validate: (n: number) => Number.isInteger(n) });
    this.ajv.addFormat('float', { type: 'number', validate: () => true });
    this.ajv.addFormat('double', { type: 'number', validate: () => true });
    this.ajv.addSchema(doc, 'openapi.json');
  }

  static async fetch(baseUrl: string, headers: Record<string, string> = {}, opts: { requireBearer?: boolean } = {}): Promise<OpenApiValidator> {
    const res = await fetch(`${baseUrl}/openapi.json`, { headers });
    if (res.status !== 200) throw new Error(`GET /openapi.json answered ${res.status}: ${await res.text()}`);
    return new OpenApiValidator(await res.json() as Json, opts);
  }

  /** The operation for a method and a concrete path; literal segments win over parameters. */
  find(method: string, url: string): Matched | undefined {
    const path = new URL(url, 'http://x').pathname;
    const segments = path.split('/').map(decodeURIComponent);
    let best: { m: Matched; literals: number } | undefined;
    for (const [template, item] of Object.entries<Json>(this.doc.paths ?? {})) {
      const op = item[method.toLowerCase()];
      if (!op) continue;
      const parts = template.split('/');
      if (parts.length !== segments.length) continue;
      const pathParams: Record<string, string> = {};
      let literals = 0;
      let ok = true;
      for (let i = 0; i < parts.length && ok; i++) {
        const m = /^\{(.+)\}$/.exec(parts[i]!);
        if (m) pathParams[m[1]!] = segments[i]!;
        else if (parts[i] === segments[i]) literals++;
        else ok = false;
      }
      if (!ok || (best && best.literals >= literals)) continue;
      const parameters = [...(item.parameters ?? []), ...(op.parameters ?? [])].map((p: Json) => this.deref(p));
      best = { m: { template, method: method.toLowerCase(), operation: op, pathParams, parameters }, literals };
    }
    return best?.m;
  }

  /** Problems of a request against the document (empty: the document allows it). */
  checkRequest(r: RequestToCheck): string[] {
    const where = `${r.method} ${r.url}`;
    const m = this.find(r.method, r.url);
    if (!m) return [`${where}: no operation in the document`];
    const problems: string[] = [];
    const headers = lower(r.headers ?? {});
    const query = new URL(r.url, 'http://x').searchParams;
    for (const name of new Set(query.keys())) {
      if (!m.parameters.some((p) => p.in === 'query' && p.name === name)) problems.push(`${where}: query parameter ${name} is not documented`);
    }
    for (const p of m.parameters) {
      const raw = p.in === 'path' ? m.pathParams[p.name] : p.in === 'query' ? query.get(p.name) ?? undefined : p.in === 'header' ? headers[p.name.toLowerCase()] : undefined;
      if (raw === undefined) {
        if (p.required) problems.push(`${where}: required ${p.in} parameter ${p.name} is missing`);
        continue;
      }
      const json = p.content?.['application/json'];
      if (json) {
        // A parameter whose value is JSON text (OpenAPI's `content` form).
        let value: unknown;
        try {
          value = JSON.parse(raw);
        } catch {
          problems.push(`${where}: ${p.in} parameter ${p.name} is not JSON`);
          continue;
        }
        problems.push(...this.check(value, json.schema, `${where}: ${p.in} parameter ${p.name}`));
        continue;
      }
      problems.push(...this.check(coerce(raw, p.schema, p), p.schema, `${where}: ${p.in} parameter ${p.name}`));
    }
    if (this.requireBearer && (this.doc.security ?? []).some((s: Json) => 'bearerAuth' in s) && !/^Bearer \S+$/.test(headers['authorization'] ?? '')) {
      problems.push(`${where}: no bearer token (security: bearerAuth)`);
    }
    const rb = m.operation.requestBody ? this.deref(m.operation.requestBody) : undefined;
    const hasBody = r.body !== undefined && r.body !== '';
    if (!rb) {
      if (hasBody) problems.push(`${where}: the operation takes no request body`);
      return problems;
    }
    if (!hasBody) {
      if (rb.required) problems.push(`${where}: a request body is required`);
      return problems;
    }
    const type = mediaType(headers['content-type']);
    const media = rb.content?.[type];
    if (!media) return [...problems, `${where}: request Content-Type ${type || '(none)'} is not one of ${Object.keys(rb.content ?? {}).join(', ')}`];
    const parsed = parseBody(type, r.body!);
    if ('error' in parsed) return [...problems, `${where}: request body: ${parsed.error}`];
    problems.push(...this.check(parsed.value, media.schema, `${where}: request body`));
    return problems;
  }

  /** Problems of a response to a request; for event streams, every event's data is checked. */
  checkResponse(req: RequestToCheck, res: ResponseToCheck): string[] {
    const where = `${req.method} ${req.url} → ${res.status}`;
    const m = this.find(req.method, req.url);
    if (!m) return [`${where}: no operation in the document`];
    const responses = m.operation.responses ?? {};
    const specRef = responses[String(res.status)] ?? responses[`${String(res.status)[0]}XX`] ?? responses.default;
    if (!specRef) return [`${where}: status ${res.status} is not documented (${Object.keys(responses).join(', ')})`];
    const spec = this.deref(specRef);
    const problems: string[] = [];
    const header = (name: string) => (res.headers instanceof Headers ? res.headers.get(name) : lower(res.headers as Record<string, string | undefined>)[name.toLowerCase()]) ?? undefined;
    for (const [name, h] of Object.entries<Json>(spec.headers ?? {})) {
      const value = header(name);
      if (value === undefined) {
        if (h.required) problems.push(`${where}: required response header ${name} is missing`);
      } else problems.push(...this.check(coerce(value, h.schema), h.schema, `${where}: response header ${name}`));
    }
    const content = spec.content as Json | undefined;
    if (!content) {
      if (res.body) problems.push(`${where}: the document describes no response body`);
      return problems;
    }
    const type = mediaType(header('content-type'));
    // A JSON watch is answered as application/json, as the apiserver answers it: its lines are the
    // stream=watch type's, as Kubernetes' own document lists them.
    const watchLines = type === 'application/json' && isWatch(req.url) ? content['application/json;stream=watch'] : undefined;
    if (watchLines) return [...problems, ...this.checkLines(res.body, watchLines.schema, where)];
    const media = content[type];
    if (!media) return [...problems, `${where}: response Content-Type ${type || '(none)'} is not one of ${Object.keys(content).join(', ')}`];
    if (type === 'text/event-stream') {
      for (const e of parseSse(res.body)) {
        let data: unknown;
        try {
          data = JSON.parse(e.data);
        } catch {
          problems.push(`${where}: event ${e.event ?? 'message'} data is not JSON: ${e.data.slice(0, 200)}`);
          continue;
        }
        problems.push(...this.check(data, media.schema, `${where}: event ${e.event ?? 'message'} (id ${e.id ?? '-'})`));
      }
      return problems;
    }
    const parsed = parseBody(type, res.body);
    if ('error' in parsed) return [...problems, `${where}: response body: ${parsed.error}`];
    problems.push(...this.check(parsed.value, media.schema, `${where}: response body`));
    return problems;
  }

  /** Problems of a stream of JSON values, one a line (keep-alive spaces between them). */
  private checkLines(body: string, schema: Json | undefined, where: string): string[] {
    const problems: string[] = [];
    for (const [i, line] of body.split('\n').entries()) {
      if (!line.trim()) continue;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        problems.push(`${where}: line ${i + 1} is not JSON: ${line.slice(0, 200)}`);
        continue;
      }
      problems.push(...this.check(value, schema, `${where}: line ${i + 1}`));
    }
    return problems;
  }

  /** Problems of one value against a schema of the document (a $ref into it, or inline). */
  check(value: unknown, schema: Json | undefined, what: string): string[] {
    if (!schema) return [];
    const key = JSON.stringify(schema);
    let validate = this.compiled.get(key);
    if (!validate) {
      validate = this.ajv.compile(rebase(schema)) as (data: unknown) => boolean;
      this.compiled.set(key, validate);
    }
    if (validate(value)) return [];
    const errors = (validate as unknown as { errors?: { instancePath: string; message?: string; params?: unknown }[] }).errors ?? [];
    return errors.slice(0, 8).map((e) => `${what}: ${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
  }

  /** Follows a local $ref (parameters, responses, request bodies). */
  deref(value: Json): Json {
    let v = value;
    for (let i = 0; v && typeof v.$ref === 'string' && i < 10; i++) {
      v = v.$ref.slice(2).split('/').map((s: string) => s.replace(/~1/g, '/').replace(/~0/g, '~')).reduce((o: Json, k: string) => o?.[k], this.doc);
    }
    return v;
  }
}

/** Points local $refs of an inline schema at the document added to ajv. */
function rebase(schema: Json): Json {
  return JSON.parse(JSON.stringify(schema), (k, v) => (k === '$ref' && typeof v === 'string' && v.startsWith('#/') ? `openapi.json${v}` : v));
}

function lower(h: Record<string, string | null | undefined>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined && v !== null) out[k.toLowerCase()] = v;
  return out;
}

function isWatch(url: string): boolean {
  return ['true', '1'].includes(new URL(url, 'http://x').searchParams.get('watch') ?? '');
}

function mediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase();
}

function parseBody(type: string, text: string): { value: unknown } | { error: string } {
  try {
    return { value: type.endsWith('yaml') ? parseYaml(text) : JSON.parse(text) };
  } catch (err) {
    return { error: `not ${type.endsWith('yaml') ? 'YAML' : 'JSON'}: ${(err as Error).message.split('\n')[0]}` };
  }
}

/** Query and header values are strings; compare them with their schema's type. */
function coerce(raw: string, schema: Json | undefined, parameter?: Json): unknown {
  const type = schema?.type;
  // style: form, explode: false — a comma-separated list.
  if (type === 'array' && parameter?.explode === false) return raw.split(',').map((item) => coerce(item, schema?.items));
  if (type === 'integer' || type === 'number') return /^-?\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw;
  if (type === 'boolean') return raw === 'true' ? true : raw === 'false' ? false : raw;
  return raw;
}

/** Splits an event stream into events (comments dropped, multi-line data joined). */
export function parseSse(text: string): SseEvent[] {
  const events: SseEvent[] = [];
  for (const block of text.split(/\r?\n\r?\n/)) {
    const e: SseEvent = { data: '' };
    const data: string[] = [];
    for (const line of block.split(/\r?\n/)) {
      if (!line || line.startsWith(':')) continue;
      const i = line.indexOf(':');
      const field = i < 0 ? line : line.slice(0, i);
      const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
      if (field === 'data') data.push(value);
      else if (field === 'id') e.id = value;
      else if (field === 'event') e.event = value;
    }
    if (!data.length) continue;
    e.data = data.join('\n');
    events.push(e);
  }
  return events;
}

export const HTTP_METHODS = METHODS;
