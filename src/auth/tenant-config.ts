// The tenants file: how to authenticate callers, and rules that map each caller to a tenant and
// to the Kubernetes identity the gateway impersonates for it. Validated completely at start: every
// problem is reported, one line each, with where it is in the file. Two modes:
//
// JWT (tokens from an identity provider; claims → identity by templates):
// auth:
//   issuer: https://login.example.com/          # required: the iss every token must carry
//   audience: crdgate                            # required: an aud every token must contain
//   algorithms: [RS256]                          # required: the only algorithms accepted
//   jwksUri: https://login.example.com/jwks.json # or publicKeyFile: key.pem, or secretFile: hs.key
//   jwksCaFile: issuer-ca.pem                    # optional: the CA of the JWKS server (a private one)
//   jwksFallbackSeconds: 3600                    # optional: the last key set stands in this long past
//                                                 # jwksCacheSeconds while the issuer cannot be reached
//   clockToleranceSeconds: 30
//   maxTokenLifetimeSeconds: 3600                # optional: exp - iat at most this (iat required)
//   typ: [JWT, at+jwt]                           # optional: the header typ must be one of these
//   maxGroups: 256                               # a token mapping to more groups is refused
// tenants:
//   - name: team-a
//     match: { tenant: a }                       # every claim listed must equal (or contain) the value
//     user: "team-a:{sub}"                       # {claim} is replaced by the claim's value
//     groups: ["team-a", "oidc:{groups}"]        # a list claim expands to one group per element
//     allowGroups: "(dev|ops)-[a-z]+"            # optional: claim values must match it (whole), else dropped
//     extra: { tenant: ["a"] }
//     limits: { maxCost: 50000, maxWatches: 500 } # optional: this tenant's query limits (maxCost,
//                                                 # maxDepth, maxAliases, maxDirectives, maxTokens) and
//                                                 # budgets (requestsPerSecond, burst, maxConcurrentCalls,
//                                                 # maxWatches, maxConnections; 0: unlimited)
//     fieldManager: team-a                         # optional (both modes): the manager recorded in
//                                                 # managedFields for writes that name none (default crdgate)
//
// TokenReview (Kubernetes tokens; the apiserver says who the caller is, see token-review.ts):
// auth:
//   tokenReview:
//     audiences: [crdgate]                       # optional: the token must be meant for one of these
//     cacheSeconds: 60                           # at most 60
//     allowSystemIdentities: []                  # e.g. [system:masters]: refused unless listed
//   maxGroups: 256
// tenants:
//   - name: team-a
//     match: { groups: team-a }                  # user, uid, groups (contains) or extra.<key> (contains)
//     limits: { maxWatches: 100 }
//
// Either way, no identity whose user or a group starts with system: (any case, blanks trimmed)
// comes out of a template or a claim.
import { createPublicKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse } from 'yaml';
import { CrdgateError } from '../errors.ts';
import { isSafeIdentityValue } from '../kube/kube-client.ts';
import { tenantBudgetKeys, tenantQueryLimitKeys, type TenantLimits } from '../contract/caller-context.ts';

export const asymmetricAlgorithms = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512'] as const;
export const symmetricAlgorithms = ['HS256', 'HS384', 'HS512'] as const;
export type JwtAlgorithm = (typeof asymmetricAlgorithms)[number] | (typeof symmetricAlgorithms)[number];

export type KeySource =
  | {
    kind: 'jwks'; uri: string; cacheMaxAgeMs: number; requestsPerMinute: number;
    /** How long past cacheMaxAgeMs the last key set fetched stands in while the issuer cannot be reached (absent: not at all). */
    fallbackMs?: number;
    /** The CA certificates (PEM) the JWKS server's certificate must chain to, instead of the public roots. */
    ca?: { file: string; pem: string };
  }
  | { kind: 'publicKey'; pem: string; file: string }
  | { kind: 'secret'; secret: Buffer; file: string };

/** Verification of JWTs the gateway's callers get from an identity provider. */
export interface JwtAuthConfig {
  mode: 'jwt';
  issuer: string;
  audience: string[];
  algorithms: JwtAlgorithm[];
  key: KeySource;
  clockToleranceSeconds: number;
  /** At most this long between iat and exp (and iat not in the future); absent: any lifetime. */
  maxTokenLifetimeSeconds?: number;
  /** The token header's typ must be one of these (compared as RFC 8725 says); absent: any. */
  typ?: string[];
  /** A token that maps to more groups is refused. */
  maxGroups: number;
}

/** Callers send Kubernetes tokens; the apiserver says who they are (TokenReview). */
export interface TokenReviewAuthConfig {
  mode: 'tokenReview';
  /** Audiences the token must be meant for; empty: the apiserver's own. */
  audiences: string[];
  /** How long a review's answer is kept (at most 60 s, never past the token's exp). */
  cacheSeconds: number;
  /** system: users and groups (beyond the ordinary ones) that may be impersonated nonetheless. */
  allowSystemIdentities: string[];
  maxGroups: number;
}

export type AuthConfig = JwtAuthConfig | TokenReviewAuthConfig;

export interface TenantRule {
  name: string;
  match: Record<string, string>;
  /** Templates; empty in tokenReview mode, where the reviewed identity is used as it is. */
  user: string;
  groups: string[];
  extra: Record<string, string[]>;
  /** Only claim groups matching this (whole value) pass into group templates; others are dropped. */
  allowGroups?: RegExp;
  /** Overrides of the gateway's query limits for this tenant (higher or lower). */
  limits?: TenantLimits;
  /** The field manager recorded for this tenant's writes that name none. */
  fieldManager?: string;
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

/** Where validation problems go: one line each, with the file and the path of the value. */
interface Problems {
  at(path: string, msg: string): void;
  seconds(v: unknown, dflt: number, path: string): number;
}

const isMapping = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

export function validateTenantConfig(doc: unknown, file: string): TenantConfig {
  const lines: string[] = [];
  const p: Problems = {
    at: (path, msg) => lines.push(`${file}: ${path}: ${msg}`),
    seconds(v, dflt, path) {
      if (v === undefined) return dflt;
      if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return v;
      lines.push(`${file}: ${path}: ${String(v)} is not a whole number${path.endsWith('Seconds') ? ' of seconds' : ''}`);
      return dflt;
    },
  };
  if (!isMapping(doc)) throw new CrdgateError('CONFIG_INVALID', `${file}: must be a mapping with auth and tenants`);
  for (const k of Object.keys(doc)) if (k !== 'auth' && k !== 'tenants') p.at(k, 'unknown key (expected auth, tenants)');
  const a = doc.auth;
  let auth: AuthConfig | undefined;
  if (!isMapping(a)) p.at('auth', 'is required: issuer, audience, algorithms and one of jwksUri, publicKeyFile, secretFile; or tokenReview');
  else auth = a.tokenReview !== undefined ? tokenReviewAuth(a, p) : jwtAuth(a, file, p);
  const tenants = tenantRules(doc.tenants, auth?.mode ?? 'jwt', p);
  if (lines.length) throw new CrdgateError('CONFIG_INVALID', lines.join('\n'));
  return { auth: auth!, tenants, file };
}

const jwtKeys = ['issuer', 'audience', 'algorithms', 'jwksUri', 'publicKeyFile', 'secretFile', 'clockToleranceSeconds', 'jwksCacheSeconds', 'jwksRequestsPerMinute', 'jwksFallbackSeconds', 'jwksCaFile', 'maxTokenLifetimeSeconds', 'typ', 'maxGroups'];
/** Keys that only a jwksUri uses. */
const jwksOnlyKeys = ['jwksCacheSeconds', 'jwksRequestsPerMinute', 'jwksFallbackSeconds', 'jwksCaFile'];
/** The longest jwksFallbackSeconds: an issuer down for longer than a day fails closed. */
const maxJwksFallbackSeconds = 86_400;

function jwtAuth(a: Record<string, unknown>, file: string, p: Problems): JwtAuthConfig | undefined {
  for (const k of Object.keys(a)) if (!jwtKeys.includes(k)) p.at(`auth.${k}`, `unknown key (expected one of ${jwtKeys.join(', ')}; or tokenReview alone)`);
  const issuer = typeof a.issuer === 'string' && a.issuer ? a.issuer : (p.at('auth.issuer', 'is required (a string)'), '');
  const audience = stringList(a.audience) ?? (p.at('auth.audience', 'is required (a string or a list of strings)'), []);
  const all = [...asymmetricAlgorithms, ...symmetricAlgorithms] as readonly string[];
  let algorithms: JwtAlgorithm[] = [];
  if (!Array.isArray(a.algorithms) || !a.algorithms.length) p.at('auth.algorithms', `is required: a list from ${all.join(', ')}`);
  else {
    for (const [i, alg] of a.algorithms.entries()) {
      if (typeof alg === 'string' && all.includes(alg)) algorithms.push(alg as JwtAlgorithm);
      else p.at(`auth.algorithms[${i}]`, `"${String(alg)}" is not supported (never "none"); use one of ${all.join(', ')}`);
    }
  }
  const key = keySource(a, file, p);
  // One key type per config: accepting HS* next to RS* would let a public key be used as an
  // HMAC secret (the classic algorithm-confusion attack).
  if (key) {
    const wantSymmetric = key.kind === 'secret';
    for (const alg of algorithms) {
      const isSymmetric = (symmetricAlgorithms as readonly string[]).includes(alg);
      if (isSymmetric !== wantSymmetric) p.at('auth.algorithms', `${alg} does not fit a ${key.kind === 'secret' ? 'shared secret' : 'public key'}; list only ${wantSymmetric ? 'HS*' : 'RS*, PS* or ES*'} algorithms`);
    }
    algorithms = algorithms.filter((alg) => (symmetricAlgorithms as readonly string[]).includes(alg) === wantSymmetric);
    if (key.kind === 'publicKey' && publicKeyProblem(key.pem) === undefined) keyAlgorithmProblems(key, algorithms, p);
  }
  const tolerance = p.seconds(a.clockToleranceSeconds, 30, 'auth.clockToleranceSeconds');
  if (tolerance > 300) p.at('auth.clockToleranceSeconds', 'must be at most 300');
  let maxTokenLifetimeSeconds: number | undefined;
  if (a.maxTokenLifetimeSeconds !== undefined) {
    maxTokenLifetimeSeconds = p.seconds(a.maxTokenLifetimeSeconds, 0, 'auth.maxTokenLifetimeSeconds');
    if (maxTokenLifetimeSeconds === 0) p.at('auth.maxTokenLifetimeSeconds', 'must be at least 1');
  }
  let typ: string[] | undefined;
  if (a.typ !== undefined) typ = stringList(a.typ) ?? (p.at('auth.typ', 'must be a string or a list of strings, e.g. [JWT, at+jwt]'), undefined);
  if (!key) return undefined;
  return {
    mode: 'jwt', issuer, audience, algorithms, key, clockToleranceSeconds: tolerance, maxGroups: maxGroups(a, p),
    ...(maxTokenLifetimeSeconds ? { maxTokenLifetimeSeconds } : {}), ...(typ ? { typ } : {}),
  };
}

function keySource(a: Record<string, unknown>, file: string, p: Problems): KeySource | undefined {
  const sources = ['jwksUri', 'publicKeyFile', 'secretFile'].filter((k) => a[k] !== undefined);
  if (sources.length !== 1) {
    p.at('auth', `needs exactly one of jwksUri, publicKeyFile, secretFile (found ${sources.length ? sources.join(', ') : 'none'})`);
    return undefined;
  }
  if (a.jwksUri === undefined) {
    for (const k of jwksOnlyKeys) if (a[k] !== undefined) p.at(`auth.${k}`, 'is used only with jwksUri');
  } else {
    let protocol: string | undefined;
    try {
      const u = new URL(String(a.jwksUri));
      if (u.protocol === 'https:' || u.hostname === '127.0.0.1' || u.hostname === 'localhost') protocol = u.protocol;
    } catch {
      protocol = undefined;
    }
    if (!protocol) p.at('auth.jwksUri', 'must be an https URL (http only for localhost)');
    // jwks-rsa reads a cache age of 0 as "keep forever" (a key removed from the set would stay
    // accepted) and 0 requests a minute as "never fetch" (every token refused): neither is meant.
    const cacheSeconds = p.seconds(a.jwksCacheSeconds, 600, 'auth.jwksCacheSeconds');
    if (cacheSeconds === 0) p.at('auth.jwksCacheSeconds', 'must be at least 1 (the key set is fetched again after this long)');
    const requestsPerMinute = p.seconds(a.jwksRequestsPerMinute, 10, 'auth.jwksRequestsPerMinute');
    if (requestsPerMinute === 0) p.at('auth.jwksRequestsPerMinute', 'must be at least 1 (the key set could never be fetched)');
    const fallbackSeconds = p.seconds(a.jwksFallbackSeconds, 0, 'auth.jwksFallbackSeconds');
    if (fallbackSeconds > maxJwksFallbackSeconds) p.at('auth.jwksFallbackSeconds', `must be at most ${maxJwksFallbackSeconds} (a day)`);
    const ca = a.jwksCaFile === undefined ? undefined : caBundle(a.jwksCaFile, file, protocol, p);
    return {
      kind: 'jwks', uri: String(a.jwksUri), cacheMaxAgeMs: cacheSeconds * 1000, requestsPerMinute,
      ...(fallbackSeconds ? { fallbackMs: fallbackSeconds * 1000 } : {}), ...(ca ? { ca } : {}),
    };
  }
  const which = a.publicKeyFile !== undefined ? 'publicKeyFile' : 'secretFile';
  const path = resolve(dirname(file), String(a[which]));
  try {
    const data = readFileSync(path);
    const key: KeySource = which === 'publicKeyFile' ? { kind: 'publicKey', pem: data.toString('utf8'), file: path } : { kind: 'secret', secret: data, file: path };
    if (key.kind === 'publicKey') {
      const problem = publicKeyProblem(key.pem);
      if (problem !== undefined) p.at(`auth.${which}`, `${path} is not a PEM public key or certificate${problem}`);
    }
    if (key.kind === 'secret' && key.secret.length < 32) p.at(`auth.${which}`, `${path} holds ${key.secret.length} bytes; an HMAC secret needs at least 32`);
    return key;
  } catch (err) {
    p.at(`auth.${which}`, `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    return undefined;
  }
}

/** The jwksCaFile: one or more PEM certificates, each of which must parse. */
function caBundle(name: unknown, file: string, protocol: string | undefined, p: Problems): { file: string; pem: string } | undefined {
  if (typeof name !== 'string' || !name) {
    p.at('auth.jwksCaFile', 'must be a file name (PEM certificates, relative to the tenants file)');
    return undefined;
  }
  if (protocol === 'http:') p.at('auth.jwksCaFile', 'needs an https jwksUri (the CA verifies the JWKS server\'s certificate)');
  const path = resolve(dirname(file), name);
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (err) {
    p.at('auth.jwksCaFile', `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    return undefined;
  }
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (!blocks.length) p.at('auth.jwksCaFile', `${path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  for (const [i, block] of blocks.entries()) {
    try {
      new X509Certificate(block);
    } catch (err) {
      p.at('auth.jwksCaFile', `certificate ${i + 1} of ${path} does not parse (${(err as Error).message})`);
    }
  }
  // TLS trusts exactly the blocks checked here; anything else in the file (a private key put
  // there by mistake, say) is not kept.
  return blocks.length ? { file: path, pem: `${blocks.join('\n')}\n` } : undefined;
}

/** Algorithms the key cannot verify: every token signed with one would be refused. */
function keyAlgorithmProblems(key: { pem: string; file: string }, algorithms: readonly JwtAlgorithm[], p: Problems): void {
  const fits = algorithmsOfKey(key.pem);
  for (const alg of algorithms) {
    if (fits.algorithms.includes(alg)) continue;
    p.at('auth.algorithms', `${alg} does not fit the public key in ${key.file} (${fits.what}${fits.algorithms.length ? `: ${fits.algorithms.join(', ')}` : ', which no supported algorithm verifies'})`);
  }
}

/** Why a PEM is no public key ('' when it is one; else what Node.js' parser said, after a separator). */
function publicKeyProblem(pem: string): string | undefined {
  if (!/-----BEGIN (PUBLIC KEY|RSA PUBLIC KEY|CERTIFICATE)-----/.test(pem)) return '';
  try {
    createPublicKey(pem);
    return undefined;
  } catch (err) {
    return ` (${(err as Error).message})`;
  }
}

/**
 * The algorithms a public key verifies, by the rules jsonwebtoken applies to every token (an RSA
 * key: RS* and PS*; an RSA-PSS key: PS*; an EC key: the ES* of its curve; any other: none).
 */
function algorithmsOfKey(pem: string): { algorithms: JwtAlgorithm[]; what: string } {
  const key = createPublicKey(pem);
  const type = key.asymmetricKeyType;
  if (type === 'rsa') return { algorithms: ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'], what: 'an RSA key' };
  if (type === 'rsa-pss') return { algorithms: ['PS256', 'PS384', 'PS512'], what: 'an RSA-PSS key' };
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    const alg = ({ prime256v1: 'ES256', secp384r1: 'ES384', secp521r1: 'ES512' } as Record<string, JwtAlgorithm>)[curve ?? ''];
    return { algorithms: alg ? [alg] : [], what: `an EC key on ${curve ?? 'an unknown curve'}` };
  }
  return { algorithms: [], what: `a key of type ${type ?? 'unknown'}` };
}

function tokenReviewAuth(a: Record<string, unknown>, p: Problems): TokenReviewAuthConfig {
  for (const k of Object.keys(a)) if (k !== 'tokenReview' && k !== 'maxGroups') p.at(`auth.${k}`, 'is not used with tokenReview (the apiserver verifies the token); only tokenReview and maxGroups go here');
  const t = isMapping(a.tokenReview) ? a.tokenReview : (p.at('auth.tokenReview', 'must be a mapping, e.g. { audiences: [crdgate] } or {}'), {});
  for (const k of Object.keys(t)) if (!['audiences', 'cacheSeconds', 'allowSystemIdentities'].includes(k)) p.at(`auth.tokenReview.${k}`, 'unknown key (expected audiences, cacheSeconds, allowSystemIdentities)');
  const audiences = t.audiences === undefined ? [] : stringList(t.audiences) ?? (p.at('auth.tokenReview.audiences', 'must be a string or a list of strings'), []);
  const cacheSeconds = p.seconds(t.cacheSeconds, 60, 'auth.tokenReview.cacheSeconds');
  if (cacheSeconds > 60) p.at('auth.tokenReview.cacheSeconds', 'must be at most 60');
  const allow = t.allowSystemIdentities === undefined ? [] : stringList(t.allowSystemIdentities) ?? (p.at('auth.tokenReview.allowSystemIdentities', 'must be a list of user or group names'), []);
  for (const name of allow) if (!name.startsWith('system:')) p.at('auth.tokenReview.allowSystemIdentities', `"${name}" is not a system: name (only those are refused without this list)`);
  return { mode: 'tokenReview', audiences, cacheSeconds: Math.min(cacheSeconds, 60), allowSystemIdentities: allow, maxGroups: maxGroups(a, p) };
}

function maxGroups(a: Record<string, unknown>, p: Problems): number {
  const n = p.seconds(a.maxGroups, 256, 'auth.maxGroups');
  if (n < 1) p.at('auth.maxGroups', 'must be at least 1');
  return n;
}

function stringList(v: unknown): string[] | undefined {
  if (typeof v === 'string' && v) return [v];
  return Array.isArray(v) && v.length && v.every((x) => typeof x === 'string' && x) ? (v as string[]) : undefined;
}

const tenantKeys = { jwt: ['name', 'match', 'user', 'groups', 'extra', 'allowGroups', 'limits', 'fieldManager'], tokenReview: ['name', 'match', 'limits', 'fieldManager'] };

function tenantRules(list: unknown, mode: AuthConfig['mode'], p: Problems): TenantRule[] {
  const tenants: TenantRule[] = [];
  if (!Array.isArray(list) || !list.length) {
    p.at('tenants', 'is required: a non-empty list of rules');
    return tenants;
  }
  const names = new Set<string>();
  for (const [i, t] of list.entries()) {
    const at = `tenants[${i}]`;
    if (!isMapping(t)) {
      p.at(at, mode === 'jwt' ? 'must be a mapping with name, match, user' : 'must be a mapping with name and match');
      continue;
    }
    const known = tenantKeys[mode];
    for (const k of Object.keys(t)) {
      if (known.includes(k)) continue;
      p.at(`${at}.${k}`, mode === 'tokenReview' && tenantKeys.jwt.includes(k)
        ? 'is not used with tokenReview: the identity is the one Kubernetes reviewed (user, groups and extra as they are)'
        : `unknown key (expected ${known.join(', ')})`);
    }
    const name = typeof t.name === 'string' && t.name ? t.name : (p.at(`${at}.name`, 'is required'), `#${i}`);
    if (names.has(name)) p.at(`${at}.name`, `"${name}" is used twice`);
    names.add(name);
    const rule: TenantRule = { name, match: matchRule(t.match, mode, at, p), user: '', groups: [], extra: {} };
    if (mode === 'jwt') identityTemplates(t, rule, at, p);
    const limits = tenantLimits(t.limits, at, p);
    if (limits) rule.limits = limits;
    if (t.fieldManager !== undefined) {
      // Kubernetes' own rule for a fieldManager: at most 128 printable characters.
      if (typeof t.fieldManager === 'string' && /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]{1,128}$/u.test(t.fieldManager)) rule.fieldManager = t.fieldManager;
      else p.at(`${at}.fieldManager`, 'must be a string of 1 to 128 printable characters');
    }
    tenants.push(rule);
  }
  return tenants;
}

function matchRule(m: unknown, mode: AuthConfig['mode'], at: string, p: Problems): Record<string, string> {
  const match: Record<string, string> = {};
  if (!isMapping(m) || !Object.keys(m).length) {
    p.at(`${at}.match`, mode === 'jwt' ? 'is required: claims and the values they must have, e.g. { tenant: a }' : 'is required: e.g. { groups: team-a } or { user: alice }');
    return match;
  }
  for (const [k, v] of Object.entries(m)) {
    if (mode === 'tokenReview' && !['user', 'uid', 'groups'].includes(k) && !/^extra\..+/.test(k)) p.at(`${at}.match.${k}`, 'unknown key (expected user, uid, groups or extra.<key>)');
    else if (mode === 'tokenReview' && k.startsWith('extra.') && k !== k.toLowerCase()) p.at(`${at}.match.${k}`, 'extra keys are compared in lower case, as Kubernetes receives them: write the key in lower case');
    else if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') match[k] = String(v);
    else p.at(`${at}.match.${k}`, 'must be a string, number or boolean');
  }
  return match;
}

const systemName = /^\s*system:/i;

function identityTemplates(t: Record<string, unknown>, rule: TenantRule, at: string, p: Problems): void {
  const user = typeof t.user === 'string' && t.user.trim() ? t.user : (p.at(`${at}.user`, 'is required: the Kubernetes user name (may use {claim})'), '');
  if (systemName.test(user)) p.at(`${at}.user`, 'must not be a system: user');
  else if (user && user !== user.trim()) p.at(`${at}.user`, 'must not start or end with blanks');
  const groups = t.groups === undefined ? [] : Array.isArray(t.groups) && t.groups.every((g) => typeof g === 'string' && g) ? (t.groups as string[]) : (p.at(`${at}.groups`, 'must be a list of strings'), []);
  for (const g of groups) {
    if (systemName.test(g)) p.at(`${at}.groups`, g.trim().toLowerCase() === 'system:masters' ? 'must not contain system:masters' : `must not contain a system: group (${g.trim()})`);
    else if (g !== g.trim()) p.at(`${at}.groups`, `"${g}" must not start or end with blanks`);
  }
  const extra: Record<string, string[]> = {};
  if (t.extra !== undefined) {
    if (!isMapping(t.extra)) p.at(`${at}.extra`, 'must be a mapping of keys to lists of strings');
    else for (const [k, v] of Object.entries(t.extra)) {
      if (!(Array.isArray(v) && v.every((x) => typeof x === 'string'))) {
        p.at(`${at}.extra.${k}`, 'must be a list of strings');
        continue;
      }
      // Sent as header names and values: anything HTTP would change would fail every request.
      const asWritten = '(no blanks at the ends, no control characters, not empty)';
      if (!isSafeIdentityValue(k)) p.at(`${at}.extra`, `the key ${JSON.stringify(k)} is not one Kubernetes receives as written ${asWritten}`);
      // Kubernetes reads the key from a header name, in lower case; the access checks would carry it as written.
      else if (k !== k.toLowerCase()) p.at(`${at}.extra`, `the key ${JSON.stringify(k)} reaches Kubernetes as ${JSON.stringify(k.toLowerCase())} (extra keys travel in header names): write it in lower case`);
      const unsafe = v.filter((x) => !isSafeIdentityValue(x));
      for (const x of unsafe) p.at(`${at}.extra.${k}`, `${JSON.stringify(x)} is not a value Kubernetes receives as written ${asWritten}`);
      if (!unsafe.length && isSafeIdentityValue(k) && k === k.toLowerCase()) extra[k] = v as string[];
    }
  }
  Object.assign(rule, { user, groups, extra });
  if (t.allowGroups === undefined) return;
  if (typeof t.allowGroups !== 'string' || !t.allowGroups) {
    p.at(`${at}.allowGroups`, 'must be a regular expression (a string), e.g. "(dev|ops)-.*"');
    return;
  }
  try {
    // The whole claim value must match, not a part of it.
    rule.allowGroups = new RegExp(`^(?:${t.allowGroups})$`, 'u');
  } catch (err) {
    p.at(`${at}.allowGroups`, `is not a valid regular expression: ${(err as Error).message}`);
  }
}

function tenantLimits(l: unknown, at: string, p: Problems): TenantLimits | undefined {
  if (l === undefined) return undefined;
  if (!isMapping(l)) {
    p.at(`${at}.limits`, 'must be a mapping, e.g. { maxCost: 50000 }');
    return undefined;
  }
  let limits: TenantLimits | undefined;
  const known: readonly string[] = [...tenantQueryLimitKeys, ...tenantBudgetKeys];
  for (const k of Object.keys(l)) if (!known.includes(k)) p.at(`${at}.limits.${k}`, `unknown key (expected ${known.join(', ')})`);
  const check = (keys: readonly (keyof TenantLimits)[], min: number, what: string) => {
    for (const k of keys) {
      const n = l[k];
      if (n === undefined) continue;
      if (!(typeof n === 'number' && Number.isInteger(n) && n >= min)) p.at(`${at}.limits.${k}`, `${typeof n === 'string' ? JSON.stringify(n) : String(n)} is not ${what}`);
      else (limits ??= {})[k] = n;
    }
  };
  check([...tenantQueryLimitKeys, 'burst'], 1, 'a positive whole number');
  check(tenantBudgetKeys.filter((k) => k !== 'burst'), 0, 'a whole number (0: unlimited)');
  return limits;
}

export { claimTemplate };
