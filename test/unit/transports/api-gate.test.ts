import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Request, Response } from 'express';
import { ApiError } from '../../../src/api-errors.ts';
import { apiGate } from '../../../src/transports/api-gate.ts';

/** Runs the gate on a request with these raw headers: the token it authenticated, or the code it refused with. */
async function gateOf(rawHeaders: string[]): Promise<string> {
  let outcome = '';
  const gate = apiGate({ authenticate: async (authorization) => {
    outcome = `caller of ${authorization}`;
    return { tenant: 'a' } as never;
  } }, (_req, _res, err) => (outcome = (err as ApiError).code));
  const headers: Record<string, string> = {};
  for (let i = 0; i < rawHeaders.length; i += 2) headers[rawHeaders[i]!.toLowerCase()] ??= rawHeaders[i + 1]!;
  const req = { rawHeaders, get: (name: string) => headers[name.toLowerCase()] } as unknown as Request;
  await gate(req, { locals: {} } as Response, () => {});
  return outcome;
}

test('a request with two Authorization headers is refused (Node would keep the first), one with a single one is authenticated', async () => {
  assert.equal(await gateOf(['Host', 'x', 'Authorization', 'Bearer a']), 'caller of Bearer a');
  assert.equal(await gateOf(['Authorization', 'Bearer a', 'authorization', 'Bearer b']), 'UNAUTHENTICATED');
  assert.equal(await gateOf(['AUTHORIZATION', 'Bearer a', 'X-Authorization', 'Bearer b']), 'caller of Bearer a');
});
