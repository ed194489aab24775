// Which namespaces need a SelfSubjectRulesReview of their own for an identity. The rules of a
// namespace are what ClusterRoleBindings grant (the same everywhere) plus what its RoleBindings
// grant; in a namespace where no RoleBinding names the identity, its rules are exactly the
// cluster-wide ones. So one review in any such namespace stands for all of them, and a cluster with
// thousands of namespaces costs a new caller one review per namespace it is bound in, plus one.
//
// The bindings come from the gateway's own watch of RBAC objects. Every rule still comes from
// Kubernetes: a binding the watch has not seen yet can only make the answer narrower (fail
// closed), and a binding it still shows after its removal only costs a review that says so.

export interface BindingSubject {
  kind?: string;
  name?: string;
  namespace?: string;
}

export interface RoleBindingLike {
  metadata?: { namespace?: string };
  subjects?: BindingSubject[] | null;
}

export interface NamespacePlan {
  /** Namespaces with a RoleBinding that may name the identity: each is reviewed. */
  own: string[];
  /** One namespace (without such a binding) whose review stands for every other one; absent when there is none. */
  representative?: string;
}

export interface Subject {
  user: string;
  groups?: readonly string[];
}

/**
 * Whether a binding subject may name the identity. system: groups are matched whatever their name:
 * Kubernetes adds some (system:authenticated, system:serviceaccounts:<ns>) that the gateway does
 * not send itself, and reviewing one namespace too many is harmless.
 */
export function subjectMayName(s: BindingSubject, who: Subject, bindingNamespace: string): boolean {
  if (s.kind === 'User') return s.name === who.user;
  if (s.kind === 'Group') return !!s.name && (s.name.startsWith('system:') || (who.groups ?? []).includes(s.name));
  if (s.kind === 'ServiceAccount') return who.user === `system:serviceaccount:${s.namespace || bindingNamespace}:${s.name}`;
  // A kind this code does not know: review rather than guess.
  return true;
}

export function planNamespaces(namespaces: Iterable<string>, roleBindings: Iterable<RoleBindingLike>, who: Subject): NamespacePlan {
  const bound = new Set<string>();
  for (const rb of roleBindings) {
    const ns = rb.metadata?.namespace;
    if (!ns || bound.has(ns)) continue;
    if ((rb.subjects ?? []).some((s) => subjectMayName(s, who, ns))) bound.add(ns);
  }
  const own: string[] = [];
  let representative: string | undefined;
  for (const ns of [...namespaces].sort()) {
    if (bound.has(ns)) own.push(ns);
    else representative ??= ns;
  }
  return representative === undefined ? { own } : { own, representative };
}
