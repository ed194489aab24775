// A token issuer for tests: RSA keys made with node:crypto, a JWKS served over HTTP(S) on 127.0.0.1
// (with a fetch counter, so tests can prove a refetch), and tokens built by hand, so tests can
// also build the ones no library would sign: unsigned (alg none), HS256 keyed with a public key,
// no exp, nbf in the future. Plus a writer for tenants files in a temporary directory.
import { createHmac, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { createServer, type RequestListener, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { stringify } from 'yaml';

export interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** The SPKI PEM of the public key, as a publicKeyFile holds it (and as JWKS clients hand it to verifiers). */
  publicPem: string;
}

export function rsaKey(kid: string): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { kid, privateKey, publicKey, publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

export type Claims = Record<string, unknown>;

const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

/** RS256 over header.payload; the header gets alg RS256 and the key's kid unless overridden. */
export function signRs256(key: SigningKey, claims: Claims, header: Record<string, unknown> = {}): string {
  const input = `${b64({ alg: 'RS256', typ: 'JWT', kid: key.kid, ...header })}.${b64(claims)}`;
  return `${input}.${sign('sha256', Buffer.from(input), key.privateKey).toString('base64url')}`;
}

/** HS256 with any secret bytes (a real shared secret, or a public key's PEM for the confusion attack). */
export function signHs256(secret: string | Buffer, claims: Claims, header: Record<string, unknown> = {}): string {
  const input = `${b64({ alg: 'HS256', typ: 'JWT', ...header })}.${b64(claims)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

/** An unsigned token: alg none and an empty signature part. */
export function unsignedToken(claims: Claims, header: Record<string, unknown> = {}): string {
  return `${b64({ alg: 'none', typ: 'JWT', ...header })}.${b64(claims)}.`;
}

export const nowSeconds = () => Math.floor(Date.now() / 1000);

/**
 * Serves { keys } at /jwks.json, over HTTPS when given a certificate and its key; the key set can be
 * replaced (rotation) while it runs, and the server can go down: answer an HTTP error (failWith),
 * or stop and start again on the same port.
 */
export class JwksServer {
  keys: SigningKey[];
  /** How many times the key set was fetched (answered with it). */
  fetches = 0;
  /** An HTTP status to answer instead of the key set (an issuer in trouble). */
  failWith: number | undefined;
  private readonly tls: { key: Buffer; cert: Buffer } | undefined;
  private server: Server | undefined;
  private port = 0;

  constructor(keys: SigningKey[], tls?: { key: Buffer; cert: Buffer }) {
    this.keys = keys;
    this.tls = tls;
  }

  get uri(): string {
    return `${this.tls ? 'https' : 'http'}://127.0.0.1:${this.port}/jwks.json`;
  }

  /** Listens on a free port, or, after stop(), on the port it had. */
  async start(): Promise<void> {
    const handler: RequestListener = (req, res) => {
      if (req.url !== '/jwks.json') {
        res.writeHead(404).end();
        return;
      }
      if (this.failWith !== undefined) {
        res.writeHead(this.failWith).end();
        return;
      }
      this.fetches++;
      const keys = this.keys.map((k) => ({ ...k.publicKey.export({ format: 'jwk' }), kid: k.kid, alg: 'RS256', use: 'sig' }));
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys }));
    };
    this.server = this.tls ? createHttpsServer(this.tls, handler) : createServer(handler);
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.server = undefined;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}

/** A temporary directory for tenants files and key files; remove() deletes it. */
export class TenantsDir {
  readonly dir = mkdtempSync(join(tmpdir(), 'crdgate-tenants-'));

  /** Writes a file into the directory and returns its path. */
  write(name: string, content: string | Buffer): string {
    const path = join(this.dir, name);
    writeFileSync(path, content, { mode: 0o600 });
    return path;
  }

  /** Writes a tenants file from a plain object (YAML), and returns its path. */
  writeConfig(name: string, config: Record<string, unknown>): string {
    return this.write(name, stringify(config));
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** 48 random bytes: an HMAC secret above the 32-byte minimum. */
export function hmacSecret(): Buffer {
  return randomBytes(48);
}
