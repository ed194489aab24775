// API Priority and Fairness set up to reject, for real: a PriorityLevelConfiguration with one
// concurrency share and limitResponse Reject, and a FlowSchema sending one user's requests on
// crontabs in ONE namespace to it. Beside it, the RBAC the user needs to build a gateway (read
// CRDs) and to list crontabs there, and enough large CronTabs that parallel lists overlap. The
// FlowSchema matches only that namespace, so the same user elsewhere (other test files) and the
// gateway's CRD discovery are never throttled.
import assert from 'node:assert/strict';
import { kubectl, uniqueName } from './test-cluster.ts';

type Obj = Record<string, unknown>;

export interface ApfRejectSetup {
  /** The namespace whose crontabs the user is throttled on, holding `objects` CronTabs. */
  namespace: string;
  objects: number;
  /** Removes the flow control objects, the grants and the namespace. */
  cleanup(): Promise<void>;
}

export interface ApfRejectOptions {
  /** One of the test cluster's static-token users (carol has no groups and no grants). */
  user: string;
  /** Prefix of the namespace name. */
  prefix?: string;
  objects?: number;
}

async function kubectlOk(args: string[], input?: string): Promise<string> {
  const r = await kubectl(args, input === undefined ? {} : { input });
  assert.equal(r.code, 0, `kubectl ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

const apply = (objects: Obj[]) => kubectlOk(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }));

export async function setupApfReject(opts: ApfRejectOptions): Promise<ApfRejectSetup> {
  const name = uniqueName(`crdgate-test-apf-${opts.user}`);
  const namespace = uniqueName(opts.prefix ?? 'apf');
  const objects = opts.objects ?? 150;
  const userSubject = { apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: opts.user };
  await kubectlOk(['create', 'namespace', namespace]);
  const cleanup = async () => {
    await kubectl(['delete', 'flowschema,prioritylevelconfiguration,clusterrole,clusterrolebinding', name, '--ignore-not-found']);
    await kubectl(['delete', 'namespace', namespace, '--wait=false', '--ignore-not-found']);
  };
  try {
    await apply([
      { apiVersion: 'flowcontrol.apiserver.k8s.io/v1', kind: 'PriorityLevelConfiguration', metadata: { name },
        spec: { type: 'Limited', limited: { nominalConcurrencyShares: 1, lendablePercent: 0, limitResponse: { type: 'Reject' } } } },
      { apiVersion: 'flowcontrol.apiserver.k8s.io/v1', kind: 'FlowSchema', metadata: { name },
        spec: { priorityLevelConfiguration: { name }, matchingPrecedence: 90, distinguisherMethod: { type: 'ByUser' },
          rules: [{ subjects: [{ kind: 'User', user: { name: opts.user } }],
            resourceRules: [{ verbs: ['*'], apiGroups: ['stable.example.com'], resources: ['crontabs'], namespaces: [namespace] }] }] } },
      // A gateway needs to read CRDs to build its schema.
      { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name },
        rules: [{ apiGroups: ['apiextensions.k8s.io'], resources: ['customresourcedefinitions'], verbs: ['get', 'list', 'watch'] }] },
      { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name }, subjects: [userSubject] },
      { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'crontab-reader', namespace },
        rules: [{ apiGroups: ['stable.example.com'], resources: ['crontabs'], verbs: ['get', 'list'] }] },
      { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'reads-crontabs', namespace },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'crontab-reader' }, subjects: [userSubject] },
      // Large enough that a list takes a while and occupies more than one seat.
      ...Array.from({ length: objects }, (_, i) => ({
        apiVersion: 'stable.example.com/v1', kind: 'CronTab', metadata: { name: `load-${i}`, namespace },
        spec: { cronSpec: '* * * * *', image: 'x'.repeat(200), replicas: i },
      })),
    ]);
  } catch (err) {
    await cleanup();
    throw err;
  }
  return { namespace, objects, cleanup };
}

export interface BurstResult<T> {
  /** The first answer `isRejected` picked, or undefined if none came before the deadline. */
  rejected: T | undefined;
  /** How many answers `isServed` accepted over all bursts. */
  served: number;
  /** Answers that were neither served nor rejected. */
  other: T[];
  bursts: number;
}

/**
 * Sends bursts of `parallel` requests until one is rejected or the deadline passes. Every answer
 * is classified: served, rejected, or other (which the caller should assert is empty).
 */
export async function burstUntilRejected<T>(send: () => Promise<T>, classify: (answer: T) => 'served' | 'rejected' | 'other',
  opts: { parallel?: number; timeoutMs?: number } = {}): Promise<BurstResult<T>> {
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  const result: BurstResult<T> = { rejected: undefined, served: 0, other: [], bursts: 0 };
  while (!result.rejected && Date.now() < deadline) {
    const answers = await Promise.all(Array.from({ length: opts.parallel ?? 40 }, send));
    result.bursts++;
    for (const a of answers) {
      const kind = classify(a);
      if (kind === 'served') result.served++;
      else if (kind === 'rejected') result.rejected ??= a;
      else result.other.push(a);
    }
  }
  return result;
}
