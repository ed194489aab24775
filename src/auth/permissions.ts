// A caller's permissions on custom resources, computed by Kubernetes: one SelfSubjectRulesReview
// per namespace made AS the caller (impersonated), plus SubjectAccessReviews for what rules reviews
// cannot answer (all-namespaces and cluster-scoped access). Cached per identity for a short time
// and dropped whenever an RBAC object or the set of namespaces changes.
import type { Impersonation, KubeClient } from '../kube/kube-client.ts';
import { kubeListWatch } from '../kube/list-watch.ts';
import { Reflector } from '../kube/reflector.ts';
import { fromKubeError } from '../api-errors.ts';
import { AccessReviewer, identityKey } from './access-review.ts';
import type { ResourceRef, Verb } from '../contract/access.ts';

interface ResourceRule {
  verbs: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
}

/** What one identity may do; answers are synchronous once computed. */
export class PermissionSet {
  readonly identity: Impersonation;
  private readonly rules: Map<string, ResourceRule[]>;
  private readonly clusterAnswers: Map<string, boolean>;

  constructor(identity: Impersonation, rules: Map<string, ResourceRule[]>, clusterAnswers: Map<string, boolean>) {
    this.identity = identity;
    this.rules = rules;
    this.clusterAnswers = clusterAnswers;
  }

  /** Whether the namespace's rules allow the verb (they include what cluster-wide bindings grant there). */
  rulesAllowIn(verb: Verb, r: ResourceRef, namespace: string, subresource?: string): boolean {
    const rules = this.rules.get(namespace);
    return !!rules && rulesAllow(rules, verb, r.group, r.plural, subresource);
  }

  /** Namespaces in which the verb is allowed on the resource (namespaced resources). */
  namespacesWhere(verb: Verb, r: ResourceRef, subresource?: string): string[] {
    const out: string[] = [];
    for (const [ns, rules] of this.rules) if (rulesAllow(rules, verb, r.group, r.plural, subresource)) out.push(ns);
    return out.sort();
  }

  allowedIn(verb: Verb, r: ResourceRef, namespace: string | undefined, subresource?: string): boolean {
    if (!r.namespaced || !namespace) return this.clusterWide(verb, r, subresource);
    if (this.clusterWide(verb, r, subresource)) return true;
    const rules = this.rules.get(namespace);
    return !!rules && rulesAllow(rules, verb, r.group, r.plural, subresource);
  }

  /** Across all namespaces at once (or on a cluster-scoped resource). */
  clusterWide(verb: Verb, r: ResourceRef, subresource?: string): boolean {
    return this.clusterAnswers.get(clusterKey(verb, r, subresource)) === true;
  }

  /** Allowed anywhere: in some namespace, or cluster-wide. */
  anywhere(verb: Verb, r: ResourceRef, subresource?: string): boolean {
    return this.clusterWide(verb, r, subresource) || (r.namespaced && this.namespacesWhere(verb, r, subresource).length > 0);
  }

  /** Identical for callers with the same effective rights: such callers share a schema. */
  fingerprint(resources: readonly ResourceRef[]): string {
    const parts: string[] = [];
    for (const r of resources) {
      let bits = '';
      for (const [verb, sub] of fingerprintVerbs) bits += this.anywhere(verb, r, sub) ? '1' : '0';
      parts.push(bits);
    }
    return parts.join('.');
  }
}

const fingerprintVerbs: [Verb, string | undefined][] = [
  ['get', undefined], ['list', undefined], ['watch', undefined], ['create', undefined], ['update', undefined],
  ['patch', undefined], ['delete', undefined], ['deletecollection', undefined], ['update', 'status'], ['get', 'scale'], ['update', 'scale'],
];

function clusterKey(verb: Verb, r: ResourceRef, sub?: string): string {
  return `${verb}|${r.group}|${r.plural}|${sub ?? ''}`;
}

function rulesAllow(rules: ResourceRule[], verb: string, group: string, plural: string, subresource?: string): boolean {
  const resource = subresource ? `${plural}/${subresource}` : plural;
  return rules.some((rule) =>
    (rule.verbs.includes(verb) || rule.verbs.includes('*'))
    && (rule.apiGroups ?? []).some((g) => g === group || g === '*')
    && (rule.resources ?? []).some((x) => x === resource || x === '*' || (subresource !== undefined && x === `*/${subresource}`))
    // A rule limited to resourceNames does not allow the verb in general.
    && !(rule.resourceNames && rule.resourceNames.length));
}

export interface PermissionsOptions {
  ttlMs?: number;
  now?: () => number;
}

export class Permissions {
  private readonly client: KubeClient;
  readonly reviewer: AccessReviewer;
  private readonly ttlMs: number;
  private readonly now: () => number;
  private cache = new Map<string, { at: number; generation: number; set: Promise<PermissionSet> }>();
  private generation = 0;
  private readonly reflectors: Reflector<Record<string, unknown>>[] = [];
  private readonly namespaces: Reflector<Record<string, unknown>>;
  private readonly listeners = new Set<() => void>();
  private readonly nsSynced: Promise<void>;
  private readonly latestSets = new Map<string, PermissionSet>();
  private resolveNsSynced: () => void = () => {};

  constructor(client: KubeClient, opts: PermissionsOptions = {}) {
    this.client = client;
    this.ttlMs = opts.ttlMs ?? 10_000;
    this.now = opts.now ?? Date.now;
    this.reviewer = new AccessReviewer(client, { ttlMs: this.ttlMs, now: this.now });
    const onChange = () => this.invalidate();
    this.nsSynced = new Promise((resolve) => (this.resolveNsSynced = resolve));
    this.namespaces = new Reflector({
      source: kubeListWatch(client, '/api/v1/namespaces'),
      keyOf: (o) => String((o.metadata as { name?: string }).name),
      resourceVersionOf: (o) => (o.metadata as { resourceVersion?: string }).resourceVersion,
      onEvent: (e) => {
        if (e.type !== 'MODIFIED') onChange();
      },
      onSynced: () => this.resolveNsSynced(),
    });
    this.reflectors.push(this.namespaces);
    for (const kind of ['roles', 'rolebindings', 'clusterroles', 'clusterrolebindings']) {
      this.reflectors.push(new Reflector({
        source: kubeListWatch(client, `/apis/rbac.authorization.k8s.io/v1/${kind}`),
        keyOf: (o) => `${(o.metadata as { namespace?: string }).namespace ?? ''}/${(o.metadata as { name?: string }).name}`,
        resourceVersionOf: (o) => (o.metadata as { resourceVersion?: string }).resourceVersion,
        onEvent: onChange,
      }));
    }
  }

  start(): void {
    for (const r of this.reflectors) r.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.reflectors.map((r) => r.stop()));
  }

  /** Called when RBAC may have changed; live watches re-check their callers. */
  onInvalidate(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  invalidate(): void {
    this.forget();
    for (const l of this.listeners) l();
  }

  /** Drops cached answers without telling listeners (they are re-checking already). */
  forget(): void {
    this.generation++;
    this.cache = new Map();
    this.reviewer.invalidate();
  }

  get version(): number {
    return this.generation;
  }

  /**
   * The most recently computed permissions of an identity, whatever resources they were asked
   * for: their namespace rules are complete. Live watches filter each event with it, so the
   * newest answer from Kubernetes applies at once.
   */
  latest(who: Impersonation): PermissionSet | undefined {
    return this.latestSets.get(identityKey(who));
  }

  /** The permissions of an identity on the given resources (namespaced rules + cluster-wide answers). */
  of(who: Impersonation, resources: readonly ResourceRef[]): Promise<PermissionSet> {
    const key = `${identityKey(who)}#${resources.map((r) => `${r.group}/${r.plural}`).join(',')}`;
    const hit = this.cache.get(key);
    if (hit && hit.generation === this.generation && this.now() - hit.at < this.ttlMs) return hit.set;
    const set = this.compute(who, resources);
    this.cache.set(key, { at: this.now(), generation: this.generation, set });
    set.catch(() => this.cache.delete(key));
    return set;
  }

  private async compute(who: Impersonation, resources: readonly ResourceRef[]): Promise<PermissionSet> {
    await this.nsSynced;
    const namespaces = [...this.namespaces.store.keys()];
    const rules = new Map<string, ResourceRule[]>();
    await Promise.all(namespaces.map(async (ns) => {
      try {
        const res = await this.client.request<{ status?: { resourceRules?: ResourceRule[] } }>('POST', '/apis/authorization.k8s.io/v1/selfsubjectrulesreviews', {
          body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectRulesReview', spec: { namespace: ns } },
          impersonate: who,
          timeoutMs: 10_000,
        });
        rules.set(ns, res.status?.resourceRules ?? []);
      } catch (err) {
        throw fromKubeError(err);
      }
    }));
    const answers = new Map<string, boolean>();
    const questions: [Verb, ResourceRef, string | undefined][] = [];
    for (const r of resources) {
      // Cluster-wide answers matter for lists and watches across namespaces, and for every verb
      // on cluster-scoped resources.
      const pairs: [Verb, string | undefined][] = r.namespaced ? [['list', undefined], ['watch', undefined]] : fingerprintVerbs;
      for (const [verb, sub] of pairs) {
        // Skip reviews the namespace rules already rule out: nothing granted anywhere means no.
        if (r.namespaced && !namespaces.some((ns) => rulesAllow(rules.get(ns) ?? [], verb, r.group, r.plural, sub))) continue;
        questions.push([verb, r, sub]);
      }
    }
    await Promise.all(questions.map(async ([verb, r, sub]) => {
      const ok = await this.reviewer.allowed(who, { verb, group: r.group, resource: r.plural, subresource: sub });
      answers.set(clusterKey(verb, r, sub), ok);
    }));
    const set = new PermissionSet(who, rules, answers);
    const key = identityKey(who);
    this.latestSets.delete(key);
    this.latestSets.set(key, set);
    // Bounded: identities not seen for a while fall out first.
    if (this.latestSets.size > 10_000) this.latestSets.delete(this.latestSets.keys().next().value!);
    return set;
  }
}
