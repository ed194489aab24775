// The live OpenAPI document describes the REST where/orderBy parameters exactly: what the parser
// accepts, the schema accepts, and what it refuses, the schema refuses.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildOpenApiDocument } from '../../../src/rest/openapi-builder.ts';
import { parseWhere } from '../../../src/model/query-filter.ts';
import { OpenApiValidator } from '../../helpers/openapi-validator.ts';
import { gadget } from './gadget-crd.ts';

const { resource, version } = gadget();
const doc = buildOpenApiDocument([resource]);
const validator = new OpenApiValidator(doc);
const path = '/rest/stable.example.com/v1/namespaces/{namespace}/gadgets';
const list = (doc.paths[path] as { get: { parameters: { name?: string; $ref?: string; schema?: Record<string, any>; content?: Record<string, { schema: unknown }> }[] } }).get;
const whereSchema = list.parameters.find((p) => p.name === 'where')!.content!['application/json']!.schema as Record<string, unknown>;
const accepts = (value: unknown) => validator.check(value, whereSchema, 'where').length === 0;
const parses = (value: unknown) => {
  try {
    parseWhere(value, version, 'kubernetes');
    return true;
  } catch {
    return false;
  }
};

describe('the live OpenAPI description of where and orderBy', () => {
  it('accepts what the parser accepts', () => {
    const good = [
      {},
      { spec: { size: { gt: 1, in: [1, '9007199254740993'] }, title: { prefix: 'a', lt: 'b' }, expires: { gte: '2030-01-01T00:00:00Z' } } },
      { spec: { owners: { some: { weight: { eq: 1 } }, isEmpty: false }, tags: { every: { contains: 'x' } } } },
      { spec: { limits: [{ key: 'cpu', value: { gte: 2 } }, { key: 'mem', exists: false }], settings: [{ key: 'z', eq: 'x' }] } },
      { spec: { nested: { not: { eq: 'x' } }, phase: { in: ['Failed'] }, port: { in: [80, 'http'] }, extra: { exists: true } } },
      { metadata: { labels: [{ key: 'a', exists: true }], ownerReferences: { some: { uid: { eq: 'u' } } }, generation: { gt: 1 } } },
      { or: [{ spec: { ratio: { lt: 2.5 } } }, { not: { spec: { 'max-size': { eq: 3 } } } }], and: [] },
    ];
    for (const w of good) {
      assert.ok(parses(w), `parser: ${JSON.stringify(w)}`);
      assert.deepEqual(validator.check(w, whereSchema, 'where'), [], JSON.stringify(w));
    }
  });

  it('refuses what the parser refuses', () => {
    const bad = [
      { spec: { nope: { eq: 1 } } },
      { spec: { phase: { eq: 'Done' } } },
      { spec: { size: { prefix: '1' } } },
      { spec: { enabled: { gt: true } } },
      { spec: { nested: { or: [] } } },
      { spec: { title: { regex: 'x' } } },
      { spec: { settings: [{ eq: 'x' }] } },
      { spec: { tags: { some: { gt: 1 } } } },
      { metadata: { labels: { key: 'a', eq: 'b' } } },
    ];
    for (const w of bad) {
      assert.equal(parses(w), false, `parser: ${JSON.stringify(w)}`);
      assert.equal(accepts(w), false, `schema: ${JSON.stringify(w)}`);
    }
  });

  it('lists the sortable fields, ascending and descending, for orderBy', () => {
    const orderBy = list.parameters.find((p) => p.name === 'orderBy')!;
    const values = orderBy.schema!['items'].enum as string[];
    for (const v of ['spec.size', '-spec.size', 'metadata.creationTimestamp', '-spec.expires', 'spec.max-size']) assert.ok(values.includes(v), v);
    assert.ok(!values.includes('spec.tags'));
    assert.deepEqual(validator.checkRequest({ method: 'GET', url: `${path.replace('{namespace}', 'n')}?orderBy=-spec.size,metadata.name&consistency=STRONG` }), []);
    assert.notDeepEqual(validator.checkRequest({ method: 'GET', url: `${path.replace('{namespace}', 'n')}?orderBy=spec.tags` }), []);
  });
});
