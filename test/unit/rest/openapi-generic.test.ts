// openapi.yaml (the REST facade for any CRD) is generated from code and committed: it must be
// current, structurally sound, and describe every route form and the shared contract.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { ApiErrorCode, ApiError, toProblem } from '../../../src/api-errors.ts';
import { buildGenericOpenApiDocument, renderGenericOpenApi } from '../../../src/rest/openapi-generic.ts';
import { OpenApiValidator } from '../../helpers/openapi-validator.ts';
import { checkOpenApiStructure } from '../openapi-structure.ts';

const committed = readFileSync(new URL('../../../openapi.yaml', import.meta.url), 'utf8');
const doc = buildGenericOpenApiDocument() as Record<string, any>;

describe('openapi.yaml', () => {
  it('is current: run `npm run generate` and commit openapi.yaml when this fails', () => {
    assert.ok(committed === renderGenericOpenApi(), 'openapi.yaml is stale: run `npm run generate` and commit openapi.yaml');
    assert.deepEqual(parse(committed), doc);
  });

  it('is structurally sound OpenAPI 3.1', () => {
    assert.deepEqual(checkOpenApiStructure(doc), []);
  });

  it('describes every route form of the facade with group, version and plural as parameters', () => {
    const ns = '/rest/{group}/{version}/namespaces/{namespace}/{plural}';
    const cl = '/rest/{group}/{version}/{plural}';
    const methods = (p: string) => Object.keys(doc.paths[p] ?? {}).filter((k) => k !== 'parameters').sort();
    assert.deepEqual(methods(ns), ['delete', 'get', 'post']);
    assert.deepEqual(methods(`${ns}/{name}`), ['delete', 'get', 'patch', 'put']);
    assert.deepEqual(methods(`${ns}/{name}/status`), ['get', 'patch', 'put']);
    assert.deepEqual(methods(`${ns}/{name}/scale`), ['get', 'patch', 'put']);
    assert.deepEqual(methods(cl), ['delete', 'get', 'post']);
    assert.deepEqual(methods(`${cl}/{name}`), ['delete', 'get', 'patch', 'put']);
    assert.deepEqual(methods(`${cl}/{name}/status`), ['get', 'patch', 'put']);
    assert.deepEqual(methods('/openapi.json'), ['get']);
    assert.deepEqual(methods('/openapi.yaml'), ['get']);
    assert.deepEqual(Object.keys(doc.paths[`${ns}/{name}`].patch.requestBody.content),
      ['application/merge-patch+json', 'application/json-patch+json', 'application/apply-patch+yaml']);
    assert.ok(doc.paths[ns].get.responses['200'].content['text/event-stream']);
    assert.equal(doc.paths[ns].post.responses['201'] !== undefined && doc.paths[ns].post.responses['200'] === undefined, true, 'create answers 201');
    assert.deepEqual(doc.components.securitySchemes.bearerAuth, { ...doc.components.securitySchemes.bearerAuth, type: 'http', scheme: 'bearer' });
  });

  it('its Problem schema accepts what toProblem renders, and nothing else', () => {
    const v = new OpenApiValidator(doc);
    const problem = { $ref: '#/components/schemas/Problem' };
    const full = new ApiError('INVALID', 'CronTab "x" is invalid', {
      reason: 'Invalid', kubernetesCode: 422, name: 'x', kind: 'CronTab', group: 'stable.example.com',
      causes: [{ type: 'FieldValueInvalid', message: 'bad', field: 'spec.replicas', path: ['spec', 'replicas', 0] }],
      retryAfterSeconds: 1, currentResourceVersion: '7', hint: 'list again',
    });
    assert.deepEqual(v.check(toProblem(full, '/rest/x?y=1'), problem, 'problem'), []);
    for (const code of Object.values(ApiErrorCode)) assert.deepEqual(v.check(toProblem(new ApiError(code, 'm')), problem, code), []);
    assert.notDeepEqual(v.check({ ...toProblem(full), surprise: 1 }, problem, 'extra'), [], 'an undocumented field fails');
    assert.notDeepEqual(v.check({ ...toProblem(full), code: 'NOPE' }, problem, 'code'), []);
  });

  it('its watch event schema accepts Kubernetes watch events and a problem in ERROR', () => {
    const v = new OpenApiValidator(doc);
    const event = { $ref: '#/components/schemas/WatchEvent' };
    assert.deepEqual(v.check({ type: 'ADDED', object: { metadata: { name: 'a' } } }, event, 'added'), []);
    assert.deepEqual(v.check({ type: 'BOOKMARK', object: { kind: 'CronTab', metadata: { resourceVersion: '5', annotations: { 'k8s.io/initial-events-end': 'true' } } } }, event, 'bookmark'), []);
    assert.deepEqual(v.check({ type: 'ERROR', object: toProblem(new ApiError('GONE', 'too old')) }, event, 'error'), []);
    assert.notDeepEqual(v.check({ type: 'ERROR', object: { kind: 'Status' } }, event, 'status'), []);
    assert.notDeepEqual(v.check({ type: 'CHANGED', object: {} }, event, 'type'), []);
  });
});
