// Tenants for local development: an HMAC secret and a tenants file in the state directory, with
// the same tenant rules as deploy/examples/tenants/tenants.yaml, and demo tokens to paste into
// the explorer. Never for production: a shared secret signs every token.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import jwt from 'jsonwebtoken';
import { loadTenantConfig, type TenantConfig } from '../auth/tenant-config.ts';

export const devIssuer = 'crdgate-local';
export const devAudience = 'crdgate';

export function ensureDevTenants(stateDir: string): TenantConfig {
  mkdirSync(stateDir, { recursive: true });
  const secretFile = join(stateDir, 'dev-tenants.secret');
  const file = join(stateDir, 'dev-tenants.yaml');
  if (!existsSync(secretFile)) writeFileSync(secretFile, randomBytes(48), { mode: 0o600 });
  writeFileSync(file, `# Written by crdgate for local development; see deploy/examples/tenants/tenants.yaml.
auth:
  issuer: ${devIssuer}
  audience: ${devAudience}
  algorithms: [HS256]
  secretFile: dev-tenants.secret
tenants:
  - name: tenant-a
    match: { tenant: a }
    user: "tenant-a:{sub}"
    groups: ["tenant-a"]
  - name: tenant-b
    match: { tenant: b }
    user: "tenant-b:{sub}"
    groups: ["tenant-b"]
`);
  return loadTenantConfig(file);
}

/** A signed demo token for a tenant ("a" or "b"), valid for the given hours. */
export function mintDevToken(stateDir: string, tenant: string, hours = 12): string {
  const secret = readFileSync(join(stateDir, 'dev-tenants.secret'));
  return jwt.sign({ tenant }, secret, { algorithm: 'HS256', issuer: devIssuer, audience: devAudience, subject: `demo-${tenant}`, expiresIn: `${hours}h` });
}
