// Asserting on the Status the apiserver answers with, whichever client made the call:
// crdgate's KubeClient (KubeApiError) or @kubernetes/client-node (ApiException, body as text).
import assert from 'node:assert/strict';
import { ApiException } from '@kubernetes/client-node';
import { KubeApiError, type KubeStatus } from '../../src/kube/kube-client.ts';

/** The HTTP status and Kubernetes Status of a failed call, or undefined if it was not an API error. */
export function kubeErrorOf(err: unknown): { httpStatus: number; status: KubeStatus } | undefined {
  if (err instanceof KubeApiError) return { httpStatus: err.httpStatus, status: err.status };
  if (err instanceof ApiException) {
    let status: KubeStatus = {};
    try {
      status = JSON.parse(String(err.body)) as KubeStatus;
    } catch {
      status = { message: String(err.body) };
    }
    return { httpStatus: err.code, status };
  }
  return undefined;
}

/** Awaits call, asserts it fails with this HTTP status (and reason), and returns the Status. */
export async function rejectsWithStatus(call: Promise<unknown>, httpStatus: number, reason?: string): Promise<KubeStatus> {
  let outcome: unknown;
  try {
    outcome = await call;
  } catch (err) {
    const e = kubeErrorOf(err);
    if (!e) throw err;
    assert.equal(e.httpStatus, httpStatus, `expected HTTP ${httpStatus}, got ${e.httpStatus}: ${JSON.stringify(e.status)}`);
    if (reason !== undefined) assert.equal(e.status.reason, reason, `expected reason ${reason}: ${JSON.stringify(e.status)}`);
    return e.status;
  }
  assert.fail(`expected HTTP ${httpStatus}${reason ? ` (${reason})` : ''}, but the call succeeded: ${JSON.stringify(outcome)?.slice(0, 300)}`);
}

/** The HTTP status a call answers with: 200 when it succeeds, the error's status otherwise. */
export async function httpStatusOf(call: Promise<unknown>): Promise<number> {
  try {
    await call;
    return 200;
  } catch (err) {
    const e = kubeErrorOf(err);
    if (!e) throw err;
    return e.httpStatus;
  }
}
