import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from '../../../src/api-errors.ts';
import type { CallerContext } from '../../../src/contract/caller-context.ts';
import type { KubeList, ListArgs, OperationRequest } from '../../../src/contract/operations.ts';
import { decodePosition, encodePosition, partitionedList } from '../../../src/service/partitioned-list.ts';

type Req = OperationRequest<ListArgs, CallerContext>;
const req = (args: ListArgs): Req => ({ resource: {} as Req['resource'], version: {} as Req['version'], args, context: {} });
const item = (ns: string, name: string) => ({ metadata: { namespace: ns, name } });

/** A list per call: the call's namespace and arguments are recorded; `answer` decides. */
function service(answer: (r: Req, call: number) => KubeList) {
  const calls: string[] = [];
  return {
    calls,
    list: async (r: Req) => {
      calls.push(`${r.namespace} rv=${r.args.resourceVersion ?? '-'} match=${r.args.resourceVersionMatch ?? '-'} continue=${r.args.continue ?? '-'}`);
      return answer(r, calls.length);
    },
  };
}

const gone = () => new ApiError('GONE', 'too old resource version: 10 (20)', { reason: 'Expired' });

test('the first namespace fixes the resourceVersion; the others are read at exactly it', async () => {
  const svc = service((r) => ({ metadata: { resourceVersion: r.namespace === 'a' ? '10' : '99' }, items: [item(r.namespace!, 'x')] }));
  const list = await partitionedList(svc, req({}), ['b', 'a', 'c']);
  assert.deepEqual(svc.calls, ['a rv=- match=- continue=-', 'b rv=10 match=Exact continue=-', 'c rv=10 match=Exact continue=-']);
  assert.equal(list.metadata?.resourceVersion, '10');
  assert.equal(list.items.length, 3);
});

test('a continue token carries the snapshot: the next page reads the next namespace at it, a cut namespace with its own token', async () => {
  const svc = service((r) => r.namespace === 'a' && !r.args.continue
    ? { metadata: { resourceVersion: '10', continue: 'k8s-token' }, items: [item('a', '1')] }
    : { metadata: { resourceVersion: '10' }, items: [item(r.namespace!, '2')] });
  const first = await partitionedList(svc, req({ limit: 1 }), ['a', 'b']);
  assert.deepEqual(decodePosition(first.metadata!.continue!), { ns: 'a', c: 'k8s-token', rv: '10' });
  const second = await partitionedList(svc, req({ limit: 5, continue: first.metadata!.continue! }), ['a', 'b']);
  assert.equal(second.metadata?.resourceVersion, '10');
  assert.deepEqual(svc.calls.slice(1), ['a rv=- match=- continue=k8s-token', 'b rv=10 match=Exact continue=-']);
});

test('a snapshot compacted away during a listing starts it over; during paging it is GONE; a caller\'s own Exact rv is its GONE', async () => {
  let compacted = 1;
  const svc = service((r) => {
    if (r.args.resourceVersionMatch === 'Exact' && r.args.resourceVersion === '10' && compacted-- > 0) throw gone();
    return { metadata: { resourceVersion: svc.calls.length === 1 ? '10' : '30' }, items: [item(r.namespace!, 'x')] };
  });
  const list = await partitionedList(svc, req({}), ['a', 'b']);
  assert.deepEqual(svc.calls, ['a rv=- match=- continue=-', 'b rv=10 match=Exact continue=-', 'a rv=- match=- continue=-', 'b rv=30 match=Exact continue=-']);
  assert.equal(list.metadata?.resourceVersion, '30');

  const paging = service(() => {
    throw gone();
  });
  const token = encodePosition({ ns: 'b', rv: '10' });
  await assert.rejects(partitionedList(paging, req({ continue: token }), ['a', 'b']), (e: unknown) => e instanceof ApiError && e.code === 'GONE' && /continue token has expired/.test(e.message));
  assert.equal(paging.calls.length, 1, 'no restart with a continue token');

  const exact = service(() => {
    throw gone();
  });
  await assert.rejects(partitionedList(exact, req({ resourceVersion: '10', resourceVersionMatch: 'Exact' }), ['a', 'b']), (e: unknown) => e instanceof ApiError && e.code === 'GONE' && !/continue/.test(e.message));
  assert.equal(exact.calls.length, 1);
});

test('a listing that keeps losing its snapshot gives up with GONE after three tries', async () => {
  let n = 0;
  const svc = service((r) => {
    if (r.args.resourceVersionMatch === 'Exact') throw gone();
    return { metadata: { resourceVersion: String(10 + n++) }, items: [] };
  });
  await assert.rejects(partitionedList(svc, req({}), ['a', 'b']), (e: unknown) => e instanceof ApiError && e.code === 'GONE');
  assert.equal(svc.calls.length, 6);
});

test('namespaces come in the order of a cluster-wide list: by their storage key, so team-a before team', async () => {
  // etcd keys are <namespace>/<name>, and "-" sorts before "/": kubectl get -A lists team-a first.
  const svc = service((r) => ({ metadata: { resourceVersion: '10' }, items: [item(r.namespace!, 'x')] }));
  const all = await partitionedList(svc, req({}), ['team', 'team-a', 'a', 'team-a-b']);
  assert.deepEqual(all.items.map((o) => (o.metadata as { namespace: string }).namespace), ['a', 'team-a-b', 'team-a', 'team']);
  // Paged one namespace at a time, the continue token resumes in the same order.
  const seen: string[] = [];
  let cont: string | undefined;
  do {
    const page = await partitionedList(svc, req({ limit: 1, continue: cont }), ['team', 'team-a', 'a', 'team-a-b']);
    seen.push(...page.items.map((o) => (o.metadata as { namespace: string }).namespace));
    cont = page.metadata?.continue;
  } while (cont);
  assert.deepEqual(seen, ['a', 'team-a-b', 'team-a', 'team']);
});
