// A caller's permissions on custom resources, computed by Kubernetes: SelfSubjectRulesReviews made
// AS the caller (impersonated) in the namespaces where its rules may differ (review-namespaces.ts),
// plus SubjectAccessReviews for what rules reviews cannot answer (all-namespaces and cluster-scoped
// access). Cached per identity (bounded, for a short time) and dropped whenever an RBAC object or
// the set of namespaces changes. The watch of RBAC objects reports its failures, retries with
// backoff, and tells listeners when it has been failing for too long (the view is stale), so live
// subscriptions can be re-checked by other means.
//
// What a caller costs in memory stays small and goes: the rules lists Kubernetes answers are
// shared by every caller given the same ones (a tenant's users all are), expired answers are
// purged, and the newest permissions of an identity are kept only while it has live watches (they
// were kept for 10,000 identities, about 45 KB each, whether they watched or not).
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Impersonation, KubeClient } from '../kube/kube-client.ts';
import { kubeListWatch } from '../kube/list-watch.ts';
import { Reflector } from '../kube/reflector.ts';
import { fromKubeError } from '../api-errors.ts';
import { describeError } from '../errors.ts';
import { AccessReviewer, identityKey, reviewFailure } from './access-review.ts';
import type { ReviewLane } from './review-queue.ts';
import { SharedAnswer } from './shared-answer.ts';
import type { ResourceRef, Verb } from '../contract/access.ts';
import { planNamespaces, type RoleBindingLike } from './review-namespaces.ts';
import { changeScope, type ChangeScope, type RbacObject } from './rbac-change-scope.ts';

interface ResourceRule {
  verbs: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
}

/**
 * A resource, or one object of it by name: a list or watch whose field selector pins
 * metadata.name, which Kubernetes authorizes for that name (RBAC rules limited to resourceNames
 * that include it allow it). A named ref stands for a watch: its permission set holds the
 * cluster-wide answers for list and watch only.
 */
export interface AccessRef extends ResourceRef {
  name?: string;
}

/** What one identity may do; answers are synchronous once computed. */
export class PermissionSet {
  readonly identity: Impersonation;
  private readonly rules: Map<string, ResourceRule[]>;
  private readonly clusterAnswers: Map<string, boolean>;
  /** The cluster-wide grants among fingerprintVerbs, per group and plural: a bit per pair (made on first use). */
  private clusterMasks: Map<string, Map<string, number>> | undefined;
  /** Per group and plural, the fingerprintVerbs pairs allowed anywhere: [cluster-wide bits, bits in some namespace]. */
  private readonly rights = new Map<string, Map<string, [number, number]>>();
  private lastRef: ResourceRef | undefined;
  private lastMask = 0;
  /** The last fingerprint, and the refs it was computed for: every request of a caller asks for it. */
  private lastFingerprint: { refs: readonly ResourceRef[]; value: string } | undefined;

  /** The order in which its computation started: a later one holds newer answers. */
  readonly seq: number;

  constructor(identity: Impersonation, rules: Map<string, ResourceRule[]>, clusterAnswers: Map<string, boolean>, seq = 0) {
    this.identity = identity;
    this.rules = rules;
    this.clusterAnswers = clusterAnswers;
    this.seq = seq;
  }

  /** Whether the namespace's rules allow the verb (they include what cluster-wide bindings grant there). */
  rulesAllowIn(verb: Verb, r: AccessRef, namespace: string, subresource?: string): boolean {
    const rules = this.rules.get(namespace);
    return !!rules && rulesAllow(rules, verb, r, subresource);
  }

  /** Namespaces in which the verb is allowed on the resource (namespaced resources). */
  namespacesWhere(verb: Verb, r: AccessRef, subresource?: string): string[] {
    const out: string[] = [];
    // Namespaces without bindings of their own share one rules list: judge each list once.
    const judged = new Map<ResourceRule[], boolean>();
    for (const [ns, rules] of this.rules) {
      let ok = judged.get(rules);
      if (ok === undefined) judged.set(rules, (ok = rulesAllow(rules, verb, r, subresource)));
      if (ok) out.push(ns);
    }
    return out.sort();
  }

  allowedIn(verb: Verb, r: AccessRef, namespace: string | undefined, subresource?: string): boolean {
    if (!r.namespaced || !namespace) return this.clusterWide(verb, r, subresource);
    if (this.clusterWide(verb, r, subresource)) return true;
    const rules = this.rules.get(namespace);
    return !!rules && rulesAllow(rules, verb, r, subresource);
  }

  /** Across all namespaces at once (or on a cluster-scoped resource); for a named ref, on that object. */
  clusterWide(verb: Verb, r: AccessRef, subresource?: string): boolean {
    return this.clusterAnswers.get(clusterKey(verb, r, subresource)) === true;
  }

  /** Allowed anywhere: in some namespace, or cluster-wide. */
  anywhere(verb: Verb, r: ResourceRef, subresource?: string): boolean {
    const pair = pairIndex(verb, subresource);
    if (pair < 0) return this.clusterWide(verb, r, subresource) || (r.namespaced && this.namespacesWhere(verb, r, subresource).length > 0);
    return (this.rightsMask(r) & (1 << pair)) !== 0;
  }

  /** Identical for callers with the same effective rights: such callers share a schema. */
  fingerprint(resources: readonly ResourceRef[]): string {
    if (this.lastFingerprint?.refs === resources) return this.lastFingerprint.value;
    const parts: string[] = [];
    for (const r of resources) parts.push(maskBits(this.rightsMask(r)));
    const value = parts.join('.');
    this.lastFingerprint = { refs: resources, value };
    return value;
  }

  /**
   * The fingerprintVerbs pairs allowed anywhere on a resource, a bit each: worked out once per
   * resource for all of them. The schema of a tenant asks about every pair of every resource
   * (11,000 questions at 1,000 CRDs, twice: fingerprint and root fields), each of which cost a
   * key string and a walk of the rules when asked one by one.
   */
  private rightsMask(r: ResourceRef): number {
    // Callers ask about each pair of one resource in a row.
    if (this.lastRef === r) return this.lastMask;
    let byPlural = this.rights.get(r.group);
    if (!byPlural) this.rights.set(r.group, (byPlural = new Map()));
    let masks = byPlural.get(r.plural);
    if (!masks) byPlural.set(r.plural, (masks = [this.clusterMask(r), this.namespaceMask(r)]));
    this.lastRef = r;
    return (this.lastMask = r.namespaced ? masks[0] | masks[1] : masks[0]);
  }

  private clusterMask(r: ResourceRef): number {
    if (!this.clusterMasks) {
      this.clusterMasks = new Map();
      for (const [key, ok] of this.clusterAnswers) {
        const [verb, group, plural, sub, name] = key.split('|') as [Verb, string, string, string, string | undefined];
        const pair = pairIndex(verb, sub || undefined);
        // An answer about one object is no right on the resource as a whole.
        if (!ok || pair < 0 || name !== undefined) continue;
        let byPlural = this.clusterMasks.get(group);
        if (!byPlural) this.clusterMasks.set(group, (byPlural = new Map()));
        byPlural.set(plural, (byPlural.get(plural) ?? 0) | (1 << pair));
      }
    }
    return this.clusterMasks.get(r.group)?.get(r.plural) ?? 0;
  }

  /** The pairs some namespace's rules allow (namespacesWhere(...).length > 0 for each). */
  private namespaceMask(r: ResourceRef): number {
    let mask = 0;
    const judged = new Set<ResourceRule[]>();
    for (const rules of this.rules.values()) {
      if (judged.has(rules)) continue;
      judged.add(rules);
      for (const rule of rules) mask |= ruleMask(rule, r.group, r.plural);
    }
    return mask;
  }
}

/** The fingerprintVerbs pairs one rule allows on a resource, a bit each: rulesAllow([rule], ...) for every pair in one pass. */
function ruleMask(rule: ResourceRule, group: string, plural: string): number {
  if (rule.resourceNames && rule.resourceNames.length) return 0;
  if (!(rule.apiGroups ?? []).some((g) => g === group || g === '*')) return 0;
  const resources = rule.resources ?? [];
  const anyVerb = rule.verbs.includes('*');
  let mask = 0;
  for (let pair = 0; pair < fingerprintVerbs.length; pair++) {
    const [verb, sub] = fingerprintVerbs[pair]!;
    if (!anyVerb && !rule.verbs.includes(verb)) continue;
    for (const x of resources) {
      if (x === '*' || (sub === undefined ? x === plural : x === `*/${sub}` || x === `${plural}/${sub}`)) {
        mask |= 1 << pair;
        break;
      }
    }
  }
  return mask;
}

const fingerprintVerbs: [Verb, string | undefined][] = [
  ['get', undefined], ['list', undefined], ['watch', undefined], ['create', undefined], ['update', undefined],
  ['patch', undefined], ['delete', undefined], ['deletecollection', undefined], ['update', 'status'], ['get', 'scale'], ['update', 'scale'],
];

/** The position of (verb, subresource) in fingerprintVerbs; -1 when it is not there. */
function pairIndex(verb: Verb, subresource: string | undefined): number {
  for (let i = 0; i < fingerprintVerbs.length; i++) {
    const [v, sub] = fingerprintVerbs[i]!;
    if (v === verb && sub === subresource) return i;
  }
  return -1;
}

const maskStrings: string[] = [];

/** A mask as the fingerprint writes it: '1' or '0' per pair of fingerprintVerbs, in order. */
function maskBits(mask: number): string {
  let bits = maskStrings[mask];
  if (bits === undefined) {
    bits = '';
    for (let pair = 0; pair < fingerprintVerbs.length; pair++) bits += mask & (1 << pair) ? '1' : '0';
    maskStrings[mask] = bits;
  }
  return bits;
}

function digest(text: string): string {
  return createHash('sha256').update(text).digest('base64url');
}

function clusterKey(verb: Verb, r: AccessRef, sub?: string): string {
  const key = `${verb}|${r.group}|${r.plural}|${sub ?? ''}`;
  return r.name === undefined ? key : `${key}|${r.name}`;
}

function rulesAllow(rules: ResourceRule[], verb: string, r: AccessRef, subresource?: string): boolean {
  const resource = subresource ? `${r.plural}/${subresource}` : r.plural;
  return rules.some((rule) =>
    (rule.verbs.includes(verb) || rule.verbs.includes('*'))
    && (rule.apiGroups ?? []).some((g) => g === r.group || g === '*')
    && (rule.resources ?? []).some((x) => x === resource || x === '*' || (subresource !== undefined && x === `*/${subresource}`))
    && namesAllow(rule, r.name));
}

/**
 * A rule limited to resourceNames does not allow the verb in general, only on a request for one
 * of those names (as RBAC's ResourceMatches: an empty list is no limit).
 */
function namesAllow(rule: ResourceRule, name: string | undefined): boolean {
  if (!rule.resourceNames || !rule.resourceNames.length) return true;
  return name !== undefined && rule.resourceNames.includes(name);
}

/**
 * A number per resource list content (group, plural and scope of each resource, in order), so that
 * a permission set's cache key does not join 1,000 strings on every request of a tenant. The same
 * list object (a schema's, see refsOf) finds its number at once; another object with the same
 * content finds the same number while that content is remembered. Numbers are never reused: a
 * forgotten content gets a new one, which costs a cache miss, never a wrong answer.
 */
export class ResourceListIds {
  private readonly byList = new WeakMap<readonly ResourceRef[], number>();
  private readonly byContent: LRUCache<string, number>;
  private next = 1;

  constructor(max = 1024) {
    this.byContent = new LRUCache({ max });
  }

  idOf(resources: readonly AccessRef[]): number {
    let id = this.byList.get(resources);
    if (id !== undefined) return id;
    // A name comes last; it has no "/" (it pins a watch only as a path segment name), so no name
    // can read as the refs after it.
    const content = resources.map((r) => `${r.group}/${r.plural}/${r.namespaced ? 'n' : 'c'}${r.name === undefined ? '' : `/${r.name}`}`).join(',');
    id = this.byContent.get(content);
    if (id === undefined) this.byContent.set(content, (id = this.next++));
    this.byList.set(resources, id);
    return id;
  }
}

export interface PermissionsOptions {
  /** How long answers are cached (they are also dropped when RBAC objects change). */
  ttlMs?: number;
  /** Identities (times resource lists) whose answers are cached at most. */
  maxEntries?: number;
  now?: () => number;
  /** Reviews in flight at most (access, rules and token reviews together). */
  concurrency?: number;
  /** Callers' reviews waiting for a slot at most; past it, UNAVAILABLE (retry shortly). */
  maxWaiting?: number;
  /** How long the watch of RBAC objects may fail before listeners hear that the view is stale. */
  staleAfterMs?: number;
  /** How often listeners hear it while the view stays stale. */
  staleCheckMs?: number;
  log?: { warn(msg: string): void; info(msg: string): void };
}

export type RbacViewState = 'stale' | 'fresh';

const rbacKinds = ['roles', 'rolebindings', 'clusterroles', 'clusterrolebindings'] as const;

export class Permissions {
  private readonly client: KubeClient;
  readonly reviewer: AccessReviewer;
  private readonly now: () => number;
  private readonly cache: LRUCache<string, SharedAnswer<PermissionSet>>;
  /** Namespace rules per identity, whatever resources its permission sets are for. */
  private readonly rulesCache: LRUCache<string, SharedAnswer<Map<string, ResourceRule[]>>>;
  /** Rules lists and namespace maps by content: callers with the same rules share one copy. */
  private readonly interned = new LRUCache<string, { id: number; rules: ResourceRule[] }>({ max: 4_096 });
  private readonly internedMaps = new LRUCache<string, Map<string, ResourceRule[]>>({ max: 1_024 });
  private internedIds = 0;
  private purgeTimer: NodeJS.Timeout | undefined;
  private readonly ttlMs: number;
  private generation = 0;
  /** Names the resource lists of cache keys by number: a tenant's request asks about every resource. */
  private readonly lists = new ResourceListIds();
  private readonly reflectors: Reflector<Record<string, unknown>>[] = [];
  private readonly namespaces: Reflector<Record<string, unknown>>;
  private readonly roleBindings: Reflector<Record<string, unknown>>;
  private readonly listeners = new Set<(scope: ChangeScope) => void>();
  private readonly viewListeners = new Set<(state: RbacViewState) => void>();
  private readonly nsSynced: Promise<void>;
  /** Identities with live watches (how many), and their newest permissions. */
  private readonly watched = new Map<string, { count: number; set?: PermissionSet }>();
  private seq = 0;
  private resolveNsSynced: () => void = () => {};
  private readonly staleAfterMs: number;
  private readonly staleCheckMs: number;
  private staleSince: number | undefined;
  private staleTimer: NodeJS.Timeout | undefined;
  private announcedStale = false;
  private readonly log: PermissionsOptions['log'];

  constructor(client: KubeClient, opts: PermissionsOptions = {}) {
    this.client = client;
    const ttlMs = (this.ttlMs = opts.ttlMs ?? 10_000);
    this.now = opts.now ?? Date.now;
    this.log = opts.log;
    this.staleAfterMs = opts.staleAfterMs ?? 2_000;
    this.staleCheckMs = opts.staleCheckMs ?? 1_000;
    const maxEntries = opts.maxEntries ?? 10_000;
    this.reviewer = new AccessReviewer(client, { ttlMs, now: this.now, concurrency: opts.concurrency, maxWaiting: opts.maxWaiting, maxEntries: maxEntries * 4 });
    this.cache = new LRUCache({ max: maxEntries, ttl: ttlMs, perf: { now: this.now } });
    this.rulesCache = new LRUCache({ max: maxEntries, ttl: ttlMs, perf: { now: this.now } });
    this.nsSynced = new Promise((resolve) => (this.resolveNsSynced = resolve));
    this.namespaces = this.reflect('namespaces', '/api/v1/namespaces', (e) => {
      if (e.type !== 'MODIFIED') this.invalidate('everyone');
    }, () => this.resolveNsSynced());
    const rbac = rbacKinds.map((kind) => this.reflect(kind, `/apis/rbac.authorization.k8s.io/v1/${kind}`, (e) => {
      const stores = { roleBindings: rbac[1]!.store.values() as Iterable<RbacObject>, clusterRoleBindings: rbac[3]!.store.values() as Iterable<RbacObject> };
      this.invalidate(changeScope(kind, [e.object as RbacObject, e.previous as RbacObject | undefined], stores));
    }));
    this.roleBindings = rbac[1]!;
  }

  private reflect(kind: string, path: string, onEvent: (e: { type: string; object: Record<string, unknown>; previous?: Record<string, unknown> }) => void, onSynced?: () => void): Reflector<Record<string, unknown>> {
    const meta = (o: Record<string, unknown>) => (o.metadata ?? {}) as { namespace?: string; name?: string; resourceVersion?: string };
    const r = new Reflector<Record<string, unknown>>({
      source: kubeListWatch(this.client, path),
      keyOf: (o) => `${meta(o).namespace ?? ''}/${meta(o).name}`,
      resourceVersionOf: (o) => meta(o).resourceVersion,
      onEvent,
      onSynced,
      onError: (err, retryInMs) => this.watchFailed(kind, err, retryInMs),
    });
    this.reflectors.push(r);
    return r;
  }

  start(): void {
    for (const r of this.reflectors) r.start();
    this.purgeTimer = setInterval(() => this.purgeStale(), this.ttlMs);
    this.purgeTimer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.staleTimer);
    this.staleTimer = undefined;
    clearInterval(this.purgeTimer);
    await Promise.all(this.reflectors.map((r) => r.stop()));
  }

  /** Called when RBAC may have changed, with whom it may concern; live watches re-check those callers. */
  onInvalidate(listener: (scope: ChangeScope) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Called every staleCheckMs with 'stale' while the watch of RBAC objects has been failing for
   * longer than staleAfterMs, and once with 'fresh' when it has recovered.
   */
  onViewState(listener: (state: RbacViewState) => void): () => void {
    this.viewListeners.add(listener);
    return () => this.viewListeners.delete(listener);
  }

  /** How long the RBAC view has been stale (0: it is current). */
  staleForMs(): number {
    if (this.reflectors.every((r) => r.healthy)) this.staleSince = undefined;
    return this.staleSince === undefined ? 0 : this.now() - this.staleSince;
  }

  private watchFailed(kind: string, err: unknown, retryInMs: number): void {
    this.log?.warn(`watching ${kind} for RBAC changes failed (${describeError(err)}); retrying in ${Math.round(retryInMs)} ms`);
    this.staleSince ??= this.now();
    if (this.staleTimer) return;
    this.staleTimer = setInterval(() => this.checkStale(), this.staleCheckMs);
    this.staleTimer.unref();
  }

  private checkStale(): void {
    const stale = this.staleForMs();
    if (stale === 0) {
      clearInterval(this.staleTimer);
      this.staleTimer = undefined;
      if (!this.announcedStale) return;
      this.announcedStale = false;
      this.log?.info('the watch of RBAC objects has recovered');
      for (const l of this.viewListeners) l('fresh');
      return;
    }
    if (stale < this.staleAfterMs) return;
    if (!this.announcedStale) this.log?.warn(`the RBAC view has been stale for ${Math.round(stale)} ms: live subscriptions are re-checked with SubjectAccessReviews until the watch recovers`);
    this.announcedStale = true;
    for (const l of this.viewListeners) l('stale');
  }

  invalidate(scope: ChangeScope = 'everyone'): void {
    this.forget();
    for (const l of this.listeners) l(scope);
  }

  /** Drops cached answers without telling listeners (they are re-checking already). */
  forget(): void {
    this.generation++;
    this.cache.clear();
    this.rulesCache.clear();
    this.reviewer.invalidate();
  }

  get version(): number {
    return this.generation;
  }

  /** Expired answers go: lru-cache would keep them until their room is needed. */
  purgeStale(): void {
    this.cache.purgeStale();
    this.rulesCache.purgeStale();
    this.reviewer.purgeStale();
  }

  /**
   * An identity has a live watch (until the returned function is called): its newest
   * permissions are kept for latest(). Other callers' are not kept beyond the caches' TTL.
   */
  retain(who: Impersonation): () => void {
    const key = identityKey(who);
    let entry = this.watched.get(key);
    if (!entry) this.watched.set(key, (entry = { count: 0 }));
    entry.count++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--entry.count === 0 && this.watched.get(key) === entry) this.watched.delete(key);
    };
  }

  /**
   * The most recently computed permissions of an identity with live watches, whatever resources
   * they were asked for: their namespace rules are complete. Live watches filter each event with
   * it, so the newest answer from Kubernetes applies at once.
   */
  latest(who: Impersonation): PermissionSet | undefined {
    return this.watched.get(identityKey(who))?.set;
  }

  /** A computation that started earlier than the one behind the current answer must not replace it. */
  private offerLatest(key: string, set: PermissionSet): void {
    const entry = this.watched.get(key);
    if (entry && (entry.set?.seq ?? 0) < set.seq) entry.set = set;
  }

  /**
   * The permissions of an identity on the given resources (namespaced rules + cluster-wide answers).
   * A live subscription's re-check asks in the 'recheck' lane, behind waiting callers.
   */
  of(who: Impersonation, resources: readonly AccessRef[], lane: ReviewLane = 'caller', signal?: AbortSignal): Promise<PermissionSet> {
    const id = identityKey(who);
    const key = `${id}#${this.lists.idOf(resources)}`;
    const hit = this.cache.get(key);
    if (hit && !hit.abandoned) {
      // The answer may be a re-check's, still waiting in the re-check lane.
      if (lane === 'caller') this.reviewer.promote(id);
      if (this.watched.has(id)) void hit.promise.then((set) => this.offerLatest(id, set), () => {});
      return hit.join(signal);
    }
    const set = new SharedAnswer((shared) => this.compute(who, resources, lane, shared));
    this.cache.set(key, set);
    set.promise.catch(() => {
      if (this.cache.peek(key) === set) this.cache.delete(key);
    });
    return set.join(signal);
  }

  private async compute(who: Impersonation, resources: readonly AccessRef[], lane: ReviewLane, signal: AbortSignal): Promise<PermissionSet> {
    const seq = ++this.seq;
    await this.nsSynced;
    const rules = await this.rulesOf(who, lane, signal);
    const answers = new Map<string, boolean>();
    const questions: [Verb, AccessRef, string | undefined][] = [];
    const distinctRules = [...new Set(rules.values())];
    for (const r of resources) {
      // Cluster-wide answers matter for lists and watches across namespaces, and for every verb
      // on cluster-scoped resources; a named ref is a watch's.
      const pairs: [Verb, string | undefined][] = r.namespaced || r.name !== undefined ? [['list', undefined], ['watch', undefined]] : fingerprintVerbs;
      for (const [verb, sub] of pairs) {
        // Skip reviews the namespace rules already rule out: nothing granted anywhere means no.
        if (r.namespaced && !distinctRules.some((list) => rulesAllow(list, verb, r, sub))) continue;
        questions.push([verb, r, sub]);
      }
    }
    await allOrNone(signal, questions, async ([verb, r, sub], s) => {
      const ok = await this.reviewer.allowed(who, { verb, group: r.group, resource: r.plural, subresource: sub, name: r.name }, lane, s);
      answers.set(clusterKey(verb, r, sub), ok);
    });
    const set = new PermissionSet(who, rules, answers, seq);
    this.offerLatest(identityKey(who), set);
    return set;
  }

  private rulesOf(who: Impersonation, lane: ReviewLane, signal: AbortSignal): Promise<Map<string, ResourceRule[]>> {
    const key = identityKey(who);
    const hit = this.rulesCache.get(key);
    if (hit && !hit.abandoned) {
      if (lane === 'caller') this.reviewer.promote(key);
      return hit.join(signal);
    }
    const namespaces = [...this.namespaces.store.keys()].map((k) => k.slice(1));
    const rules = new SharedAnswer((shared) => this.namespaceRules(who, namespaces, lane, shared));
    this.rulesCache.set(key, rules);
    rules.promise.catch(() => {
      if (this.rulesCache.peek(key) === rules) this.rulesCache.delete(key);
    });
    return rules.join(signal);
  }

  /** The rules of every namespace: reviewed where the identity's RoleBindings are, shared elsewhere. */
  private async namespaceRules(who: Impersonation, namespaces: string[], lane: ReviewLane, signal: AbortSignal): Promise<Map<string, ResourceRule[]>> {
    // Until the RoleBindings are known, every namespace is reviewed.
    const plan = this.roleBindings.hasSynced
      ? planNamespaces(namespaces, this.roleBindings.store.values() as Iterable<RoleBindingLike>, { user: who.user, groups: who.groups })
      : { own: namespaces };
    const reviewed = [...plan.own, ...(plan.representative === undefined ? [] : [plan.representative])];
    const answers = await allOrNone(signal, reviewed, (ns, s) => this.rulesReview(who, ns, lane, s));
    const rules = new Map<string, ResourceRule[]>();
    reviewed.forEach((ns, i) => rules.set(ns, answers[i]!));
    if (plan.representative !== undefined) {
      const shared = rules.get(plan.representative)!;
      for (const ns of namespaces) if (!rules.has(ns)) rules.set(ns, shared);
    }
    return this.internMap(rules);
  }

  /** The same rules list as an earlier answer's, if there was one: callers share their rules. */
  private intern(rules: ResourceRule[]): { id: number; rules: ResourceRule[] } {
    const content = digest(JSON.stringify(rules));
    let known = this.interned.get(content);
    if (!known) this.interned.set(content, (known = { id: ++this.internedIds, rules }));
    return known;
  }

  /** The same namespace map as an earlier caller's (every namespace to the same lists), if there was one. */
  private internMap(rules: Map<string, ResourceRule[]>): Map<string, ResourceRule[]> {
    const seen = new Map<ResourceRule[], { id: number; rules: ResourceRule[] }>();
    const parts: string[] = [];
    for (const [ns, list] of rules) {
      let known = seen.get(list);
      if (!known) seen.set(list, (known = this.intern(list)));
      rules.set(ns, known.rules);
      parts.push(`${ns}=${known.id}`);
    }
    // Hashed: with thousands of namespaces the content is as long as their names.
    const content = digest(parts.join(','));
    let known = this.internedMaps.get(content);
    if (!known) this.internedMaps.set(content, (known = rules));
    return known;
  }

  private rulesReview(who: Impersonation, namespace: string, lane: ReviewLane, signal: AbortSignal): Promise<ResourceRule[]> {
    return this.reviewer.limited(async (s) => {
      this.reviewer.stats.rulesReviews++;
      try {
        const res = await this.client.request<{ status?: { resourceRules?: ResourceRule[] } }>('POST', '/apis/authorization.k8s.io/v1/selfsubjectrulesreviews', {
          body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectRulesReview', spec: { namespace } },
          impersonate: who,
          timeoutMs: 10_000,
          signal: s,
        });
        return res.status?.resourceRules ?? [];
      } catch (err) {
        throw reviewFailure(err, 'SelfSubjectRulesReview');
      }
    }, lane, identityKey(who), signal);
  }
}

/**
 * fn for every item, with a signal that also aborts at the first failure: a computation that
 * failed (its caller already has the error) sends none of its other reviews, which would
 * otherwise wait in the queue for no one.
 */
async function allOrNone<T, R>(signal: AbortSignal, items: readonly T[], fn: (item: T, signal: AbortSignal) => Promise<R>): Promise<R[]> {
  const failed = new AbortController();
  const either = AbortSignal.any([signal, failed.signal]);
  return Promise.all(items.map((item) => fn(item, either).catch((err: unknown) => {
    failed.abort(err);
    throw err;
  })));
}
