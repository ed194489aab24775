// Whom an RBAC object's change may concern, so that live subscriptions re-check only those
// identities: a RoleBinding naming nobody who watches re-checks no one (it re-checked every live
// subscriber, four times). A binding concerns the subjects it names, before and after the change;
// a Role or ClusterRole, the subjects of the bindings that refer to it, as the gateway's watch of
// them shows them. Whatever is not sure concerns everyone: a namespace (it changes every
// all-namespace scope), a kind this code does not know, a system: group (Kubernetes adds some the
// gateway never sends).
import { subjectMayName, type BindingSubject, type Subject } from './review-namespaces.ts';

/** 'everyone', or the subjects named (with the namespace of the binding naming them). */
export type ChangeScope = 'everyone' | { subject: BindingSubject; namespace: string }[];

export interface RbacObject {
  kind?: string;
  metadata?: { name?: string; namespace?: string };
  subjects?: BindingSubject[] | null;
  roleRef?: { kind?: string; name?: string };
}

export interface BindingStores {
  roleBindings: Iterable<RbacObject>;
  clusterRoleBindings: Iterable<RbacObject>;
}

type RbacKind = 'roles' | 'rolebindings' | 'clusterroles' | 'clusterrolebindings';

export function changeScope(kind: RbacKind, objects: (RbacObject | undefined)[], stores: BindingStores): ChangeScope {
  const bindings: RbacObject[] = [];
  for (const o of objects) {
    if (!o) continue;
    if (kind === 'rolebindings' || kind === 'clusterrolebindings') bindings.push(o);
    else bindings.push(...bindingsOf(kind, o, stores));
  }
  const named: { subject: BindingSubject; namespace: string }[] = [];
  for (const b of bindings) {
    for (const subject of b.subjects ?? []) {
      if (subject.kind === 'Group' && subject.name?.startsWith('system:')) return 'everyone';
      if (subject.kind !== 'User' && subject.kind !== 'Group' && subject.kind !== 'ServiceAccount') return 'everyone';
      named.push({ subject, namespace: b.metadata?.namespace ?? '' });
    }
  }
  return named;
}

/** The bindings that refer to a Role (in its namespace) or a ClusterRole (anywhere). */
function bindingsOf(kind: 'roles' | 'clusterroles', role: RbacObject, stores: BindingStores): RbacObject[] {
  const name = role.metadata?.name;
  const refKind = kind === 'roles' ? 'Role' : 'ClusterRole';
  const refers = (b: RbacObject) => b.roleRef?.kind === refKind && b.roleRef.name === name;
  const out = [...stores.roleBindings].filter((b) => refers(b) && (kind === 'clusterroles' || b.metadata?.namespace === role.metadata?.namespace));
  if (kind === 'clusterroles') out.push(...[...stores.clusterRoleBindings].filter(refers));
  return out;
}

/** Whether a change of this scope may concern the identity. */
export function concerns(scope: ChangeScope, who: Subject): boolean {
  return scope === 'everyone' || scope.some((s) => subjectMayName(s.subject, who, s.namespace));
}

/** Two changes' scopes as one, each subject once: RBAC churn adds no entries after the first. */
export function joinScopes(a: ChangeScope | undefined, b: ChangeScope): ChangeScope {
  if (a === undefined) return b;
  if (a === 'everyone' || b === 'everyone') return 'everyone';
  const out = new Map<string, { subject: BindingSubject; namespace: string }>();
  for (const s of [...a, ...b]) out.set(JSON.stringify([s.subject.kind, s.subject.name, s.subject.namespace, s.namespace]), s);
  return [...out.values()];
}
