// A gateway built in-process and listening on a free port, and a small client that POSTs GraphQL
// to it over real HTTP, so the tests see exactly what a client sees (status, headers, JSON body).
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { KubeConfig } from '@kubernetes/client-node';
import { createGateway, type Gateway, type GatewayOptions } from '../../src/gateway.ts';
import { KubeClient, type KubeClientOptions } from '../../src/kube/kube-client.ts';
import { pollUntil } from './poll-until.ts';

export interface GraphQLErrorJson {
  message: string;
  path?: (string | number)[];
  locations?: { line: number; column: number }[];
  extensions?: Record<string, any>;
}

export interface GraphQLResult<T = any> {
  status: number;
  headers: Headers;
  /** The raw body, for assertions on what must never be in it (stack traces). */
  text: string;
  data?: T | null;
  errors?: GraphQLErrorJson[];
}

export interface RunningGateway {
  gateway: Gateway;
  server: Server;
  /** http://127.0.0.1:PORT/graphql */
  url: string;
  stop(): Promise<void>;
}

export async function startGateway(kc: KubeConfig, clientOptions: KubeClientOptions = {}, syncTimeoutMs?: number,
  options: Partial<Omit<GatewayOptions, 'client'>> = { explorer: false }): Promise<RunningGateway> {
  const gateway = await createGateway({ ...options, client: new KubeClient(kc, clientOptions), ...(syncTimeoutMs ? { syncTimeoutMs } : {}) });
  const server = await gateway.listen(0);
  const { port } = server.address() as AddressInfo;
  return { gateway, server, url: `http://127.0.0.1:${port}/graphql`, stop: () => gateway.stop() };
}

/** POSTs one GraphQL operation as application/json and parses the answer. */
export async function gql<T = any>(url: string, query: string, variables?: Record<string, unknown>,
  opts: { headers?: Record<string, string>; signal?: AbortSignal } = {}): Promise<GraphQLResult<T>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', ...opts.headers },
    body: JSON.stringify({ query, ...(variables ? { variables } : {}) }),
    signal: opts.signal ?? AbortSignal.timeout(60_000),
  });
  return parseResult<T>(response);
}

export async function parseResult<T>(response: Response): Promise<GraphQLResult<T>> {
  const text = await response.text();
  let body: { data?: T | null; errors?: GraphQLErrorJson[] } = {};
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON (e.g. an HTML error page): callers assert on status and text.
  }
  return { status: response.status, headers: response.headers, text, data: body.data, errors: body.errors };
}

/** The data of a response that must have succeeded, with the errors in the failure message. */
export async function gqlData<T = any>(url: string, query: string, variables?: Record<string, unknown>): Promise<T> {
  const r = await gql<T>(url, query, variables);
  assert.equal(r.errors, undefined, `unexpected errors: ${JSON.stringify(r.errors, null, 2)}`);
  assert.equal(r.status, 200, r.text);
  assert.ok(r.data, `no data: ${r.text}`);
  return r.data;
}

/** The one error of a response that must have failed, after checking it carries no stack trace. */
export function onlyError(r: GraphQLResult, code: string): GraphQLErrorJson {
  assertNoStackTrace(r);
  assert.ok(r.errors?.length, `expected an error ${code}, got ${r.text}`);
  assert.equal(r.errors.length, 1, `expected exactly one error, got ${r.text}`);
  const err = r.errors[0]!;
  assert.equal(err.extensions?.code, code, `expected ${code}, got ${r.text}`);
  return err;
}

export function assertNoStackTrace(r: GraphQLResult): void {
  assert.doesNotMatch(r.text, /stacktrace/i, 'no stack trace in the response');
  assert.doesNotMatch(r.text, /\bat [\w.<>]+ \(|\.ts:\d+:\d+|node:internal/, 'no stack frames in the response');
}

/** Polls until check() returns a value (see pollUntil), or fails at the deadline. */
export function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  return pollUntil(what, check, { timeoutMs });
}
