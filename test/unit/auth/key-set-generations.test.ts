// The kept key set (jwksFallbackSeconds) is the answer of the fetch that started last, not of the one
// that finished last: fetches for different kids run at the same time, and an answer that left
// before the issuer removed a key must not bring that key back into the fallback after a later,
// newer answer without it. Its window runs from the start of that fetch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { jwksKeyResolver, type JwksSource } from '../../../src/auth/verification-keys.ts';
import { rsaKey, type SigningKey } from '../../helpers/jwt-issuer.ts';

const jwk = (k: SigningKey) => ({ ...k.publicKey.export({ format: 'jwk' }), kid: k.kid, alg: 'RS256', use: 'sig' });
const [k1, k2] = [rsaKey('k1'), rsaKey('k2')];
const source: JwksSource = { kind: 'jwks', uri: 'https://issuer.test/jwks.json', cacheMaxAgeMs: 20, requestsPerMinute: 600, fallbackMs: 3_600_000 };

/** What the resolver answers for a kid: 'key', or the error's message. */
function resolve(resolver: ReturnType<typeof jwksKeyResolver>, kid: string): Promise<string> {
  return new Promise((done) => resolver({ alg: 'RS256', kid }, (err) => done(err ? `error: ${err.message}` : 'key')));
}

test('an older answer arriving after a newer one does not replace the kept key set', async () => {
  let answer: () => Promise<{ keys: unknown }> = async () => ({ keys: [jwk(k1), jwk(k2)] });
  const reported: string[] = [];
  const resolver = jwksKeyResolver(source, { fetcher: () => answer(), now: Date.now, report: (err) => reported.push(err.name) });
  assert.equal(await resolve(resolver, 'k1'), 'key');
  await sleep(40);

  // A fetch for k2 starts while the issuer still has k1, and is slow to answer.
  let release!: () => void;
  const held = new Promise<void>((r) => { release = r; });
  let started!: () => void;
  const fetching = new Promise<void>((r) => { started = r; });
  answer = async () => { started(); await held; return { keys: [jwk(k1), jwk(k2)] }; };
  const slow = resolve(resolver, 'k2');
  await fetching;

  // The issuer drops k1; a fetch that starts later (for k3) answers at once without it.
  answer = async () => ({ keys: [jwk(k2)] });
  assert.match(await resolve(resolver, 'k3'), /unknown key id "k3"/);

  // The old answer arrives last: it serves its own request (k2), and nothing else.
  release();
  assert.equal(await slow, 'key');

  // The issuer goes down: the kept set is the newer one, without k1.
  await sleep(40);
  answer = async () => { throw new Error('connect ECONNREFUSED 127.0.0.1:443'); };
  assert.match(await resolve(resolver, 'k1'), /key id "k1" is not in the key set kept from the last fetch/);
  assert.equal(await resolve(resolver, 'k2'), 'key');
});
