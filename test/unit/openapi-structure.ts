// Structural checks of an OpenAPI 3.1 document: the parts a client generator trips over.
// Returns the problems found (empty when fine).

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const COMPONENT_KEY = /^[a-zA-Z0-9.\-_]+$/;

export function checkOpenApiStructure(doc: Record<string, any>): string[] {
  const problems: string[] = [];
  if (doc['openapi'] !== '3.1.0') problems.push('openapi must be 3.1.0');
  if (typeof doc['info']?.title !== 'string' || typeof doc['info']?.version !== 'string') problems.push('info.title and info.version are required');
  const operationIds = new Set<string>();
  for (const [path, item] of Object.entries<Record<string, any>>(doc['paths'] ?? {})) {
    if (!path.startsWith('/')) problems.push(`${path}: paths start with /`);
    const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
    for (const method of Object.keys(item)) {
      if (method === 'parameters' || method === 'summary' || method === 'description') continue;
      if (!METHODS.includes(method)) {
        problems.push(`${path}: unknown key ${method}`);
        continue;
      }
      const op = item[method];
      if (typeof op.operationId !== 'string') problems.push(`${path} ${method}: no operationId`);
      else if (operationIds.has(op.operationId)) problems.push(`${path} ${method}: duplicate operationId ${op.operationId}`);
      else operationIds.add(op.operationId);
      if (!op.responses || Object.keys(op.responses).length === 0) problems.push(`${path} ${method}: no responses`);
      const params = [...(item['parameters'] ?? []), ...(op.parameters ?? [])].map((p: any) => resolve(doc, p));
      const pathParams = params.filter((p: any) => p?.in === 'path').map((p: any) => p.name);
      for (const name of templated) if (!pathParams.includes(name)) problems.push(`${path} ${method}: path parameter ${name} is not declared`);
      for (const name of pathParams) if (!templated.includes(name)) problems.push(`${path} ${method}: parameter ${name} is not in the path`);
    }
  }
  for (const [section, entries] of Object.entries<Record<string, unknown>>(doc['components'] ?? {})) {
    for (const key of Object.keys(entries)) if (!COMPONENT_KEY.test(key)) problems.push(`components.${section}.${key}: invalid key`);
  }
  walkRefs(doc, doc, '#', problems);
  return problems;
}

function resolve(doc: Record<string, any>, value: any): any {
  if (value && typeof value.$ref === 'string') return lookup(doc, value.$ref);
  return value;
}

function lookup(doc: Record<string, any>, ref: string): unknown {
  if (!ref.startsWith('#/')) return undefined;
  let current: any = doc;
  for (const part of ref.slice(2).split('/')) {
    const key = part.replace(/~1/g, '/').replace(/~0/g, '~');
    if (current === null || typeof current !== 'object' || !(key in current)) return undefined;
    current = current[key];
  }
  return current;
}

function walkRefs(doc: Record<string, any>, value: unknown, at: string, problems: string[]): void {
  if (Array.isArray(value)) {
    value.forEach((item, i) => walkRefs(doc, item, `${at}/${i}`, problems));
    return;
  }
  if (value === null || typeof value !== 'object') return;
  const record = value as Record<string, unknown>;
  // Under `properties` the keys are property names (one may well be "$ref"), not keywords.
  if (typeof record['$ref'] === 'string' && !at.endsWith('/properties') && lookup(doc, record['$ref']) === undefined) {
    problems.push(`${at}: dangling $ref ${record['$ref']}`);
  }
  for (const [key, child] of Object.entries(record)) walkRefs(doc, child, `${at}/${key}`, problems);
}
