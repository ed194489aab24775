// The short block `crdgate serve` prints for the person who started it, once it serves: where the
// explorer and the REST reference are, a kubectl command for the same cluster, and how to call as
// a tenant. It is written to the terminal, never through the logger: the demo tokens in it must not
// end up in log files or collectors.
import { isAbsolute, relative } from 'node:path';

export interface StartupFacts {
  /** The gateway's base URL, e.g. http://127.0.0.1:4000. */
  base: string;
  /** A kubectl command line for the cluster crdgate serves. */
  kubectl: string;
  auth:
    | { kind: 'off' }
    | { kind: 'tenants'; file: string }
    /** Local demo tenants, with a token for each. */
    | { kind: 'demo'; tenants: readonly { name: string; token: string }[]; validHours: number };
  localCluster: boolean;
}

export function startupBlock(f: StartupFacts): string {
  const lines = [
    '',
    '  crdgate is ready',
    '',
    `  Explorer        ${f.base}/`,
    `  REST reference  ${f.base}/docs/rest`,
    `  GraphQL         ${f.base}/graphql (subscriptions: graphql-ws on the same path)`,
    `  kubectl         ${f.kubectl}`,
    '',
  ];
  if (f.auth.kind === 'demo') {
    lines.push(`  Demo tenants: pick one in the explorer, or send its token (valid ${f.auth.validHours} h):`);
    const width = Math.max(...f.auth.tenants.map((t) => t.name.length));
    for (const t of f.auth.tenants) lines.push(`    ${t.name.padEnd(width)}  Authorization: Bearer ${t.token}`);
  } else if (f.auth.kind === 'tenants') {
    lines.push(`  Authentication: send Authorization: Bearer <token>; tenants from ${f.auth.file}`);
  } else {
    lines.push('  Authentication: off (every caller acts as crdgate\'s own Kubernetes identity)');
  }
  lines.push('', `  Ctrl-C stops crdgate${f.localCluster ? ' and the local control plane' : ''}.`, '');
  return lines.join('\n') + '\n';
}

/** A path as the user would type it from the working directory: relative below it, else absolute; quoted for a shell when needed. */
export function shellPath(path: string, cwd: string): string {
  const rel = relative(cwd, path);
  const shown = rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
  return /^[\w@%+=:,./-]+$/.test(shown) ? shown : `'${shown.replace(/'/g, `'\\''`)}'`;
}
