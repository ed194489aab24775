// The tenants file: how to verify callers' JWTs, and rules that map a token's claims to the
// Kubernetes identity the gateway impersonates for that caller. Validated completely at start:
// every problem is reported, one line each, with where it is in the file.
//
// auth:
//   issuer: https://login.example.com/          # required: the iss every token must carry
//   audience: crdgate                            # required: an aud every token must contain
//   algorithms: [RS256]                          # required: the only algorithms accepted
//   jwksUri: https://login.example.com/jwks.json # or publicKeyFile: key.pem, or secretFile: hs.key
//   clockToleranceSeconds: 30
// tenants:
//   - name: team-a
//     match: { tenant: a }                       # every claim listed must equal (or contain) the value
//     user: "team-a:{sub}"                       # {claim} is replaced by the claim's value
//     groups: ["team-a", "{groups}"]             # a list claim expands to one group per element
//     extra: { tenant: ["a"] }
//     limits: { maxCost: 50000, maxWatches: 500 } # optional: this tenant's query limits (maxCost,
//                                                 # maxDepth, maxAliases, maxDirectives, maxTokens) and
//                                                 # budgets (requestsPerSecond, burst, maxConcurrentCalls,
//                                                 # maxWatches; 0: unlimited)
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse } from 'yaml';
import { CrdgateError } from '../errors.ts';
import { tenantBudgetKeys, tenantQueryLimitKeys, type TenantLimits } from '../contract/caller-context.ts';

export const asymmetricAlgorithms = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512'] as const;
export const symmetricAlgorithms = ['HS256', 'HS384', 'HS512'] as const;
export type JwtAlgorithm = (typeof asymmetricAlgorithms)[number] | (typeof symmetricAlgorithms)[number];

export type KeySource =
  | { kind: 'jwks'; uri: string; cacheMaxAgeMs: number; requestsPerMinute: number }
  | { kind: 'publicKey'; pem: string; file: string }
  | { kind: 'secret'; secret: Buffer; file: string };

export interface AuthConfig {
  issuer: string;
  audience: string[];
  algorithms: JwtAlgorithm[];
  key: KeySource;
  clockToleranceSeconds: number;
}

export interface TenantRule {
  name: string;
  match: Record<string, string>;
  user: string;
  groups: string[];
  extra: Record<string, string[]>;
  /** Overrides of the gateway's query limits for this tenant (higher or lower). */
  limits?: TenantLimits;
}

export interface TenantConfig {
  auth: AuthConfig;
  tenants: TenantRule[];
  file: string;
}

const claimTemplate = /\{([A-Za-z0-9_.:/-]+)\}/g;

export function loadTenantConfig(file: string): TenantConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CrdgateError('CONFIG_INVALID', `cannot read tenants file ${file}: ${(err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new CrdgateError('CONFIG_INVALID', `tenants file ${file} is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  return validateTenantConfig(doc, file);
}

/** Records a problem at a path of the file ("auth.issuer", "tenants[2].user"). */
type At = (path: string, msg: string) => void;

const isMapping = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

export function validateTenantConfig(doc: unknown, file: string): TenantConfig {
  const problems: string[] = [];
  const at: At = (path, msg) => problems.push(`${file}: ${path}: ${msg}`);
  if (!isMapping(doc)) throw new CrdgateError('CONFIG_INVALID', `${file}: must be a mapping with auth and tenants`);
  for (const k of Object.keys(doc)) if (k !== 'auth' && k !== 'tenants') at(k, 'unknown key (expected auth, tenants)');
  const auth = isMapping(doc.auth) ? validateAuth(doc.auth, file, at)
    : void at('auth', 'is required: issuer, audience, algorithms and one of jwksUri, publicKeyFile, secretFile');
  const tenants = validateTenants(doc.tenants, at);
  if (problems.length) throw new CrdgateError('CONFIG_INVALID', problems.join('\n'));
  return { auth: auth!, tenants, file };
}

const allAlgorithms: readonly string[] = [...asymmetricAlgorithms, ...symmetricAlgorithms];

function validateAuth(a: Record<string, unknown>, file: string, at: At): AuthConfig | undefined {
  const known = ['issuer', 'audience', 'algorithms', 'jwksUri', 'publicKeyFile', 'secretFile', 'clockToleranceSeconds', 'jwksCacheSeconds', 'jwksRequestsPerMinute'];
  for (const k of Object.keys(a)) if (!known.includes(k)) at(`auth.${k}`, `unknown key (expected one of ${known.join(', ')})`);
  const issuer = typeof a.issuer === 'string' && a.issuer ? a.issuer : (at('auth.issuer', 'is required (a string)'), '');
  const audience = typeof a.audience === 'string' && a.audience ? [a.audience]
    : Array.isArray(a.audience) && a.audience.length && a.audience.every((x) => typeof x === 'string' && x) ? (a.audience as string[])
      : (at('auth.audience', 'is required (a string or a list of strings)'), []);
  let algorithms: JwtAlgorithm[] = [];
  if (!Array.isArray(a.algorithms) || !a.algorithms.length) at('auth.algorithms', `is required: a list from ${allAlgorithms.join(', ')}`);
  else {
    for (const [i, alg] of a.algorithms.entries()) {
      if (typeof alg === 'string' && allAlgorithms.includes(alg)) algorithms.push(alg as JwtAlgorithm);
      else at(`auth.algorithms[${i}]`, `"${String(alg)}" is not supported (never "none"); use one of ${allAlgorithms.join(', ')}`);
    }
  }
  const key = validateKeySource(a, file, at);
  // One key type per config: accepting HS* next to RS* would let a public key be used as an
  // HMAC secret (the classic algorithm-confusion attack).
  if (key) {
    const wantSymmetric = key.kind === 'secret';
    for (const alg of algorithms) {
      const isSymmetric = (symmetricAlgorithms as readonly string[]).includes(alg);
      if (isSymmetric !== wantSymmetric) at('auth.algorithms', `${alg} does not fit a ${key.kind === 'secret' ? 'shared secret' : 'public key'}; list only ${wantSymmetric ? 'HS*' : 'RS*, PS* or ES*'} algorithms`);
    }
    algorithms = algorithms.filter((alg) => (symmetricAlgorithms as readonly string[]).includes(alg) === wantSymmetric);
  }
  const tolerance = seconds(a.clockToleranceSeconds, 30, 'auth.clockToleranceSeconds', at);
  if (tolerance > 300) at('auth.clockToleranceSeconds', 'must be at most 300');
  return key ? { issuer, audience, algorithms, key, clockToleranceSeconds: tolerance } : undefined;
}

function validateKeySource(a: Record<string, unknown>, file: string, at: At): KeySource | undefined {
  const sources = ['jwksUri', 'publicKeyFile', 'secretFile'].filter((k) => a[k] !== undefined);
  if (sources.length !== 1) {
    at('auth', `needs exactly one of jwksUri, publicKeyFile, secretFile (found ${sources.length ? sources.join(', ') : 'none'})`);
    return undefined;
  }
  if (a.jwksUri !== undefined) {
    let ok = false;
    try {
      const u = new URL(String(a.jwksUri));
      ok = u.protocol === 'https:' || u.hostname === '127.0.0.1' || u.hostname === 'localhost';
    } catch {
      ok = false;
    }
    if (!ok) at('auth.jwksUri', 'must be an https URL (http only for localhost)');
    return { kind: 'jwks', uri: String(a.jwksUri), cacheMaxAgeMs: seconds(a.jwksCacheSeconds, 600, 'auth.jwksCacheSeconds', at) * 1000, requestsPerMinute: seconds(a.jwksRequestsPerMinute, 10, 'auth.jwksRequestsPerMinute', at) };
  }
  const which = a.publicKeyFile !== undefined ? 'publicKeyFile' : 'secretFile';
  const path = resolve(dirname(file), String(a[which]));
  try {
    const data = readFileSync(path);
    const key: KeySource = which === 'publicKeyFile' ? { kind: 'publicKey', pem: data.toString('utf8'), file: path } : { kind: 'secret', secret: data, file: path };
    if (key.kind === 'publicKey' && !/-----BEGIN (PUBLIC KEY|RSA PUBLIC KEY|CERTIFICATE)-----/.test(key.pem)) at(`auth.${which}`, `${path} is not a PEM public key or certificate`);
    if (key.kind === 'secret' && key.secret.length < 32) at(`auth.${which}`, `${path} holds ${key.secret.length} bytes; an HMAC secret needs at least 32`);
    return key;
  } catch (err) {
    at(`auth.${which}`, `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    return undefined;
  }
}

function validateTenants(list: unknown, at: At): TenantRule[] {
  const tenants: TenantRule[] = [];
  if (!Array.isArray(list) || !list.length) {
    at('tenants', 'is required: a non-empty list of rules');
    return tenants;
  }
  const names = new Set<string>();
  for (const [i, t] of list.entries()) {
    const rule = validateRule(t, `tenants[${i}]`, i, names, at);
    if (rule) tenants.push(rule);
  }
  return tenants;
}

/** One tenant rule; names already taken by earlier rules are in `names`, and this one's is added. */
function validateRule(t: unknown, p: string, i: number, names: Set<string>, at: At): TenantRule | undefined {
  if (!isMapping(t)) {
    at(p, 'must be a mapping with name, match, user');
    return undefined;
  }
  for (const k of Object.keys(t)) if (!['name', 'match', 'user', 'groups', 'extra', 'limits'].includes(k)) at(`${p}.${k}`, 'unknown key (expected name, match, user, groups, extra, limits)');
  const limits = t.limits === undefined ? undefined : validateLimits(t.limits, `${p}.limits`, at);
  const name = typeof t.name === 'string' && t.name ? t.name : (at(`${p}.name`, 'is required'), `#${i}`);
  if (names.has(name)) at(`${p}.name`, `"${name}" is used twice`);
  names.add(name);
  const match: Record<string, string> = {};
  if (!isMapping(t.match) || !Object.keys(t.match).length) at(`${p}.match`, 'is required: claims and the values they must have, e.g. { tenant: a }');
  else for (const [k, v] of Object.entries(t.match)) {
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') match[k] = String(v);
    else at(`${p}.match.${k}`, 'must be a string, number or boolean');
  }
  const user = typeof t.user === 'string' && t.user.trim() ? t.user : (at(`${p}.user`, 'is required: the Kubernetes user name (may use {claim})'), '');
  if (/^\s*system:/.test(user)) at(`${p}.user`, 'must not be a system: user');
  else if (user && user !== user.trim()) at(`${p}.user`, 'must not start or end with blanks');
  const groups = t.groups === undefined ? [] : Array.isArray(t.groups) && t.groups.every((g) => typeof g === 'string' && g) ? (t.groups as string[]) : (at(`${p}.groups`, 'must be a list of strings'), []);
  for (const g of groups) {
    if (/^\s*system:/.test(g)) at(`${p}.groups`, g.trim() === 'system:masters' ? 'must not contain system:masters' : `must not contain a system: group (${g.trim()})`);
    else if (g !== g.trim()) at(`${p}.groups`, `"${g}" must not start or end with blanks`);
  }
  const extra: Record<string, string[]> = {};
  if (t.extra !== undefined) {
    if (!isMapping(t.extra)) at(`${p}.extra`, 'must be a mapping of keys to lists of strings');
    else for (const [k, v] of Object.entries(t.extra)) {
      if (Array.isArray(v) && v.every((x) => typeof x === 'string')) extra[k] = v as string[];
      else at(`${p}.extra.${k}`, 'must be a list of strings');
    }
  }
  return { name, match, user, groups, extra, ...(limits ? { limits } : {}) };
}

function validateLimits(raw: unknown, p: string, at: At): TenantLimits | undefined {
  if (!isMapping(raw)) {
    at(p, 'must be a mapping, e.g. { maxCost: 50000 }');
    return undefined;
  }
  const known: readonly string[] = [...tenantQueryLimitKeys, ...tenantBudgetKeys];
  for (const k of Object.keys(raw)) if (!known.includes(k)) at(`${p}.${k}`, `unknown key (expected ${known.join(', ')})`);
  let limits: TenantLimits | undefined;
  const check = (keys: readonly (keyof TenantLimits)[], min: number, what: string) => {
    for (const k of keys) {
      const n = raw[k];
      if (n === undefined) continue;
      if (!(typeof n === 'number' && Number.isInteger(n) && n >= min)) at(`${p}.${k}`, `${typeof n === 'string' ? JSON.stringify(n) : String(n)} is not ${what}`);
      else (limits ??= {})[k] = n;
    }
  };
  check([...tenantQueryLimitKeys, 'burst'], 1, 'a positive whole number');
  check(tenantBudgetKeys.filter((k) => k !== 'burst'), 0, 'a whole number (0: unlimited)');
  return limits;
}

function seconds(v: unknown, dflt: number, path: string, at: At): number {
  if (v === undefined) return dflt;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return v;
  at(path, `${String(v)} is not a whole number${path.endsWith('Seconds') ? ' of seconds' : ''}`);
  return dflt;
}

export { claimTemplate };
