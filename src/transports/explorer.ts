// The GraphQL explorer: GraphiQL served entirely by the gateway, because the machines that run
// crdgate often cannot reach a CDN and a page that loads code from elsewhere would run it with
// the tenant's token at hand.
//
// GraphiQL 4 is the newest release with a prebuilt standalone (UMD) bundle; GraphiQL 5 ships
// unbundled ES modules around Monaco (CSS imports, web workers) and needs a bundler. The UMD
// bundle expects React 18 and ReactDOM 18 as globals, whose UMD builds come from their npm
// packages (React 19 has none). Everything is read once at start-up and served from memory under
// a content-hashed path, so browsers may cache it forever.
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import express, { type Request, type Response, type Router } from 'express';
import { ApiError, toProblem } from '../api-errors.ts';
import { defaultExplorerQuery, explorerCss, explorerScript, renderExplorerPage, type ExplorerAssetUrls } from './explorer-page.ts';

/** What the gateway's owner chooses about the explorer. */
export interface ExplorerSettings {
  /**
   * What the query editor shows on a first visit (later visits restore the user's tabs); a
   * function is asked on every page load (the example follows the served resources).
   */
  defaultQuery?: string | (() => string);
  /**
   * Local development only: the demo tenants and a token for each, which the page offers in its
   * tenant picker. Handed out only to browsers on this machine (see demoTenantsRoute).
   */
  demoTenants?: () => readonly DemoTenant[];
}

export interface DemoTenant {
  name: string;
  token: string;
}

export interface ExplorerOptions extends ExplorerSettings {
  /** The path Apollo serves GraphQL at; browsers asking it for HTML get the explorer instead. */
  graphqlPath: string;
  /** Whether calls need a bearer token: the page then fetches the schema only once it has one. */
  authRequired?: boolean;
  /** Whether the gateway answers introspection; without it the page fetches no schema. */
  introspection?: boolean;
}

export const explorerAssetsPath = '/explorer/assets';
export const demoTenantsPath = '/explorer/demo-tenants';

const JS = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';
const SOURCE_MAP = 'application/json; charset=utf-8';

interface Asset {
  contentType: string;
  /** Loaded at start-up, or on first request for source maps, which only developer tools fetch. */
  body: () => Buffer;
  gzipped?: Promise<Buffer>;
}

const require = createRequire(import.meta.url);
const packageDir = (name: string) => dirname(require.resolve(`${name}/package.json`));

interface LoadedAssets {
  hash: string;
  assets: Map<string, Asset>;
  urls: ExplorerAssetUrls;
}

// The files cannot change while the process runs; every app created in it shares one copy, read
// when the explorer is first asked for (~1.6 MB that a gateway nobody browses need not hold).
let loaded: LoadedAssets | undefined;
const explorerAssets = () => (loaded ??= loadAssets());

function loadAssets(): LoadedAssets {
  const graphiqlDir = join(packageDir('graphiql'), 'dist');
  const fixed: Array<[name: string, contentType: string, body: Buffer]> = [
    ['react.production.min.js', JS, readFileSync(join(packageDir('react'), 'umd', 'react.production.min.js'))],
    ['react-dom.production.min.js', JS, readFileSync(join(packageDir('react-dom'), 'umd', 'react-dom.production.min.js'))],
    // Served under a clearer name than the package's, so its source-map comment follows it.
    ['graphiql.js', JS, Buffer.from(readFileSync(join(graphiqlDir, 'index.umd.js'), 'utf8')
      .replace(/\/\/# sourceMappingURL=index\.umd\.js\.map\s*$/, '//# sourceMappingURL=graphiql.js.map\n'))],
    ['graphiql.css', CSS, readFileSync(join(graphiqlDir, 'style.css'))],
    ['explorer.js', JS, Buffer.from(explorerScript)],
    ['explorer.css', CSS, Buffer.from(explorerCss)],
  ];
  const digest = createHash('sha256');
  for (const [name, , body] of fixed) digest.update(name).update('\0').update(body).update('\0');
  const hash = digest.digest('hex').slice(0, 16);

  const assets = new Map<string, Asset>();
  for (const [name, contentType, body] of fixed) assets.set(name, { contentType, body: () => body });
  let map: Buffer | undefined;
  assets.set('graphiql.js.map', { contentType: SOURCE_MAP, body: () => (map ??= readFileSync(join(graphiqlDir, 'index.umd.js.map'))) });

  const url = (name: string) => `${explorerAssetsPath}/${hash}/${name}`;
  return {
    hash,
    assets,
    urls: {
      react: url('react.production.min.js'),
      reactDom: url('react-dom.production.min.js'),
      graphiqlJs: url('graphiql.js'),
      graphiqlCss: url('graphiql.css'),
      explorerJs: url('explorer.js'),
      explorerCss: url('explorer.css'),
    },
  };
}

/**
 * The page's Content-Security-Policy. Scripts and styles come only from the gateway; no eval is
 * needed (neither GraphiQL 4's bundle nor React's use it). GraphiQL's stylesheet embeds its fonts
 * and a few icons as data: URLs, hence `data:` for fonts and images. Style elements created at
 * run time (GraphiQL's dialogs lock page scrolling with one) must carry the per-response nonce.
 */
export function explorerContentSecurityPolicy(styleNonce: string): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    `style-src 'self' 'nonce-${styleNonce}'`,
    "img-src 'self' data:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

const gzipAsync = promisify(gzip);

export function explorerRouter(opts: ExplorerOptions): Router {
  const given = opts.defaultQuery ?? defaultExplorerQuery;
  const defaultQuery = typeof given === 'function' ? given : () => given;
  const router = express.Router();

  const sendPage = (res: Response) => {
    const styleNonce = randomBytes(16).toString('base64');
    res.set({
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Security-Policy': explorerContentSecurityPolicy(styleNonce),
      // The page carries a nonce; a cached copy would reuse it.
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
      'X-Frame-Options': 'DENY',
      'Referrer-Policy': 'no-referrer',
    });
    res.send(renderExplorerPage({
      graphqlPath: opts.graphqlPath, defaultQuery: defaultQuery(), styleNonce, assets: explorerAssets().urls,
      authRequired: opts.authRequired ?? false,
      introspection: opts.introspection ?? true,
      demoTenantsPath: opts.demoTenants ? demoTenantsPath : undefined,
    }));
  };

  if (opts.demoTenants) router.get(demoTenantsPath, demoTenantsRoute(opts.demoTenants));

  router.get('/', (_req, res) => sendPage(res));

  // The same URL answers browsers with the explorer and GraphQL clients with results (Apollo,
  // next in line). Clients that accept anything (`*/*`, no Accept header) get GraphQL: only an
  // explicit preference for HTML, as browsers send when navigating, gets the page.
  router.get(opts.graphqlPath, (req: Request, res: Response, next) => {
    res.vary('Accept');
    if (req.accepts(['application/graphql-response+json', 'application/json', 'multipart/mixed', 'text/html']) !== 'text/html') {
      next();
      return;
    }
    sendPage(res);
  });

  router.get(`${explorerAssetsPath}/:hash/:name`, async (req: Request<{ hash: string; name: string }>, res: Response, next) => {
    const { hash, assets } = explorerAssets();
    const asset = req.params.hash === hash ? assets.get(req.params.name) : undefined;
    if (!asset) {
      next();
      return;
    }
    res.set({
      'Content-Type': asset.contentType,
      // The path changes whenever any asset's content does.
      'Cache-Control': 'public, max-age=31536000, immutable',
      'X-Content-Type-Options': 'nosniff',
      'Cross-Origin-Resource-Policy': 'same-origin',
      Vary: 'Accept-Encoding',
    });
    if (req.acceptsEncodings('gzip', 'identity') === 'gzip') {
      asset.gzipped ??= gzipAsync(asset.body());
      const body = await asset.gzipped;
      res.set('Content-Encoding', 'gzip');
      res.send(body);
      return;
    }
    res.send(asset.body());
  });

  return router;
}

/**
 * The demo tenants' tokens for the explorer's tenant picker (local development only). The tokens
 * are never in the page itself (a saved or cached page, a proxy, a screenshot of its source would
 * carry them); this endpoint hands them out, minted per request, only when all of these hold:
 * - the TCP peer is on this machine (loopback), even if the gateway listens on every address;
 * - the Host header names a loopback host, so a page of another site whose name was re-pointed to
 *   127.0.0.1 (DNS rebinding) is refused;
 * - the browser does not mark the request as coming from another origin (Sec-Fetch-Site), and the
 *   answer has no CORS headers, so other pages cannot read it.
 */
function demoTenantsRoute(tenants: () => readonly DemoTenant[]) {
  return (req: Request, res: Response) => {
    res.set({ 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff', Vary: 'Host, Sec-Fetch-Site' });
    const site = req.get('sec-fetch-site');
    if (!isLoopbackAddress(req.socket.remoteAddress) || !isLoopbackHost(req.get('host')) || (site !== undefined && site !== 'same-origin' && site !== 'none')) {
      const err = new ApiError('FORBIDDEN', 'the demo tenants\' tokens are given only to a browser on the machine crdgate runs on, at http://localhost or http://127.0.0.1', { reason: 'Forbidden' });
      res.status(err.httpStatus).type('application/problem+json').send(JSON.stringify(toProblem(err, req.path)));
      return;
    }
    res.json({ tenants: tenants().map(({ name, token }) => ({ name, token })) });
  };
}

/** 127.x.y.z or ::1, also as an IPv4-mapped IPv6 address. */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return v4 === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

/** localhost, 127.x.y.z or [::1], with any port. */
export function isLoopbackHost(host: string | undefined): boolean {
  if (!host) return false;
  const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.replace(/:\d+$/, '');
  return name === 'localhost' || name === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name);
}
