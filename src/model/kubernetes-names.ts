// The names a request path may carry, checked before a request leaves the gateway. Without this,
// `namespace: ""` drops the namespace from the path (a list across all namespaces), an encoded NUL
// reaches the apiserver as a namespace (an empty list of a namespace that cannot exist), and "."
// or ".." as a name moves the request to another URL. Kubernetes names every namespace with a
// DNS label, so refusing anything else turns away no real namespace.

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Why `namespace` cannot name a namespace, or undefined when it can. */
export function namespaceNameProblem(namespace: string): string | undefined {
  if (namespace.length <= 63 && DNS_LABEL.test(namespace)) return undefined;
  return `${JSON.stringify(namespace)} is not a namespace name: a lowercase RFC 1123 label (at most 63 of a-z, 0-9 and "-", beginning and ending with a letter or digit)`;
}

/** Why `name` cannot be the name segment of an object path, or undefined when it can. */
export function objectNameProblem(name: string): string | undefined {
  if (name === '') return 'the name must not be empty';
  // Kubernetes' own path segment rule (path.IsValidPathSegmentName): "a/scale" would name the
  // scale subresource of "a", and "%" is what such a slash is encoded with.
  if (name === '.' || name === '..') return `${JSON.stringify(name)} cannot be a name`;
  if (name.includes('/') || name.includes('%')) return `${JSON.stringify(name)} cannot be a name: it may not contain "/" or "%"`;
  if (!name.isWellFormed()) return 'the name is not valid Unicode text';
  return undefined;
}
