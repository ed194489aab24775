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
//     fieldManager: team-a                         # optional: the managedFields manager of this tenant's
//                                                 # writes that name none (default: crdgate)
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse } from 'yaml';
import { CrdgateError } from '../errors.ts';

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
  /** The field manager recorded for this tenant's writes that name none. */
  fieldManager?: string;
}

/** The query limits a tenant rule may set for its tenant (src/plugins/query-limits.ts): over 0. */
export const tenantQueryLimitKeys = ['maxCost', 'maxDepth', 'maxAliases', 'maxDirectives', 'maxTokens'] as const;
/** The budgets a tenant rule may set for its tenant (src/plugins/rate-limits.ts): 0 is unlimited, but for burst. */
export const tenantBudgetKeys = ['requestsPerSecond', 'burst', 'maxConcurrentCalls', 'maxWatches'] as const;
export type TenantLimits = Partial<Record<(typeof tenantQueryLimitKeys)[number] | (typeof tenantBudgetKeys)[number], number>>;

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

export function validateTenantConfig(doc: unknown, file: string): TenantConfig {
  const problems: string[] = [];
  const at = (path: string, msg: string) => problems.push(`${file}: ${path}: ${msg}`);
  const obj = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);
  if (!obj(doc)) throw new CrdgateError('CONFIG_INVALID', `${file}: must be a mapping with auth and tenants`);
  for (const k of Object.keys(doc)) if (k !== 'auth' && k !== 'tenants') at(k, 'unknown key (expected auth, tenants)');

  const a = doc.auth;
  let auth: AuthConfig | undefined;
  if (!obj(a)) at('auth', 'is required: issuer, audience, algorithms and one of jwksUri, publicKeyFile, secretFile');
  else {
    const known = ['issuer', 'audience', 'algorithms', 'jwksUri', 'publicKeyFile', 'secretFile', 'clockToleranceSeconds', 'jwksCacheSeconds', 'jwksRequestsPerMinute'];
    for (const k of Object.keys(a)) if (!known.includes(k)) at(`auth.${k}`, `unknown key (expected one of ${known.join(', ')})`);
    const issuer = typeof a.issuer === 'string' && a.issuer ? a.issuer : (at('auth.issuer', 'is required (a string)'), '');
    const audience = typeof a.audience === 'string' && a.audience ? [a.audience]
      : Array.isArray(a.audience) && a.audience.length && a.audience.every((x) => typeof x === 'string' && x) ? (a.audience as string[])
        : (at('auth.audience', 'is required (a string or a list of strings)'), []);
    let algorithms: JwtAlgorithm[] = [];
    if (!Array.isArray(a.algorithms) || !a.algorithms.length) at('auth.algorithms', `is required: a list from ${[...asymmetricAlgorithms, ...symmetricAlgorithms].join(', ')}`);
    else {
      for (const [i, alg] of a.algorithms.entries()) {
        if (typeof alg === 'string' && (asymmetricAlgorithms as readonly string[]).concat(symmetricAlgorithms).includes(alg)) algorithms.push(alg as JwtAlgorithm);
        else at(`auth.algorithms[${i}]`, `"${String(alg)}" is not supported (never "none"); use one of ${[...asymmetricAlgorithms, ...symmetricAlgorithms].join(', ')}`);
      }
    }
    const sources = ['jwksUri', 'publicKeyFile', 'secretFile'].filter((k) => a[k] !== undefined);
    let key: KeySource | undefined;
    if (sources.length !== 1) at('auth', `needs exactly one of jwksUri, publicKeyFile, secretFile (found ${sources.length ? sources.join(', ') : 'none'})`);
    else if (a.jwksUri !== undefined) {
      let ok = false;
      try {
        const u = new URL(String(a.jwksUri));
        ok = u.protocol === 'https:' || u.hostname === '127.0.0.1' || u.hostname === 'localhost';
      } catch {
        ok = false;
      }
      if (!ok) at('auth.jwksUri', 'must be an https URL (http only for localhost)');
      key = { kind: 'jwks', uri: String(a.jwksUri), cacheMaxAgeMs: seconds(a.jwksCacheSeconds, 600, 'auth.jwksCacheSeconds') * 1000, requestsPerMinute: seconds(a.jwksRequestsPerMinute, 10, 'auth.jwksRequestsPerMinute') };
    } else {
      const which = a.publicKeyFile !== undefined ? 'publicKeyFile' : 'secretFile';
      const path = resolve(dirname(file), String(a[which]));
      try {
        const data = readFileSync(path);
        key = which === 'publicKeyFile' ? { kind: 'publicKey', pem: data.toString('utf8'), file: path } : { kind: 'secret', secret: data, file: path };
        if (key.kind === 'publicKey' && !/-----BEGIN (PUBLIC KEY|RSA PUBLIC KEY|CERTIFICATE)-----/.test(key.pem)) at(`auth.${which}`, `${path} is not a PEM public key or certificate`);
        if (key.kind === 'secret' && key.secret.length < 32) at(`auth.${which}`, `${path} holds ${key.secret.length} bytes; an HMAC secret needs at least 32`);
      } catch (err) {
        at(`auth.${which}`, `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
    }
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
    const tolerance = seconds(a.clockToleranceSeconds, 30, 'auth.clockToleranceSeconds');
    if (tolerance > 300) at('auth.clockToleranceSeconds', 'must be at most 300');
    if (key) auth = { issuer, audience, algorithms, key, clockToleranceSeconds: tolerance };
  }

  const tenants: TenantRule[] = [];
  if (!Array.isArray(doc.tenants) || !doc.tenants.length) at('tenants', 'is required: a non-empty list of rules');
  else {
    const names = new Set<string>();
    for (const [i, t] of doc.tenants.entries()) {
      const p = `tenants[${i}]`;
      if (!obj(t)) {
        at(p, 'must be a mapping with name, match, user');
        continue;
      }
      for (const k of Object.keys(t)) if (!['name', 'match', 'user', 'groups', 'extra', 'limits', 'fieldManager'].includes(k)) at(`${p}.${k}`, 'unknown key (expected name, match, user, groups, extra, limits, fieldManager)');
      // Kubernetes' own rule for a fieldManager: at most 128 printable characters.
      const fieldManager = t.fieldManager === undefined ? undefined
        : typeof t.fieldManager === 'string' && /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]{1,128}$/u.test(t.fieldManager) ? t.fieldManager
          : (at(`${p}.fieldManager`, 'must be a string of 1 to 128 printable characters'), undefined);
      let limits: TenantLimits | undefined;
      if (t.limits !== undefined) {
        if (!obj(t.limits)) at(`${p}.limits`, 'must be a mapping, e.g. { maxCost: 50000 }');
        else {
          const known: readonly string[] = [...tenantQueryLimitKeys, ...tenantBudgetKeys];
          for (const k of Object.keys(t.limits)) if (!known.includes(k)) at(`${p}.limits.${k}`, `unknown key (expected ${known.join(', ')})`);
          const check = (keys: readonly (keyof TenantLimits)[], min: number, what: string) => {
            for (const k of keys) {
              const n = (t.limits as Record<string, unknown>)[k];
              if (n === undefined) continue;
              if (!(typeof n === 'number' && Number.isInteger(n) && n >= min)) at(`${p}.limits.${k}`, `${typeof n === 'string' ? JSON.stringify(n) : String(n)} is not ${what}`);
              else (limits ??= {})[k] = n;
            }
          };
          check([...tenantQueryLimitKeys, 'burst'], 1, 'a positive whole number');
          check(tenantBudgetKeys.filter((k) => k !== 'burst'), 0, 'a whole number (0: unlimited)');
        }
      }
      const name = typeof t.name === 'string' && t.name ? t.name : (at(`${p}.name`, 'is required'), `#${i}`);
      if (names.has(name)) at(`${p}.name`, `"${name}" is used twice`);
      names.add(name);
      const match: Record<string, string> = {};
      if (!obj(t.match) || !Object.keys(t.match).length) at(`${p}.match`, 'is required: claims and the values they must have, e.g. { tenant: a }');
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
        if (!obj(t.extra)) at(`${p}.extra`, 'must be a mapping of keys to lists of strings');
        else for (const [k, v] of Object.entries(t.extra)) {
          if (Array.isArray(v) && v.every((x) => typeof x === 'string')) extra[k] = v as string[];
          else at(`${p}.extra.${k}`, 'must be a list of strings');
        }
      }
      tenants.push({ name, match, user, groups, extra, ...(limits ? { limits } : {}), ...(fieldManager ? { fieldManager } : {}) });
    }
  }
  if (problems.length) throw new CrdgateError('CONFIG_INVALID', problems.join('\n'));
  return { auth: auth!, tenants, file };

  function seconds(v: unknown, dflt: number, path: string): number {
    if (v === undefined) return dflt;
    if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return v;
    problems.push(`${file}: ${path}: ${String(v)} is not a whole number${path.endsWith('Seconds') ? ' of seconds' : ''}`);
    return dflt;
  }
}

export { claimTemplate };
