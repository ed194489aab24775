// The live OpenAPI 3.1 document of the REST facade (per tenant: only the resources the caller may
// use) at /openapi.json and /openapi.yaml, and a self-hosted API reference page (Swagger UI from
// the swagger-ui-dist package; nothing is loaded from elsewhere) at /docs/rest.
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import express, { type Request, type Response } from 'express';
import { LRUCache } from 'lru-cache';
import type { Caller } from '../auth/authenticate.ts';
import { stringifyJson, stringifyYaml } from '../kube/lossless-json.ts';
import type { ResourceModel } from '../model/resource-model.ts';
import { createOpenApiBuilder, type OpenApiDocument } from '../rest/openapi-builder.ts';
import { buildGenericOpenApiDocument } from '../rest/openapi-generic.ts';
import { sendProblem } from './rest-router.ts';

export interface OpenApiRoutesOptions {
  resources: () => readonly ResourceModel[];
  /** With tenants: the caller, and the resources it may use. */
  authenticate?: (authorization: string | undefined) => Promise<Caller>;
  visibleResources?: (caller: Caller) => Promise<readonly ResourceModel[]>;
}

const swaggerDir = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

export function openApiRoutes(opts: OpenApiRoutesOptions): express.Router {
  const router = express.Router();
  const builder = createOpenApiBuilder();
  const genericDocument = buildGenericOpenApiDocument() as OpenApiDocument;
  // One document per distinct resource list; tenants with the same view share it.
  const cache = new LRUCache<string, OpenApiDocument>({ max: 64 });
  const documentFor = async (req: Request, res: Response): Promise<OpenApiDocument | undefined> => {
    let resources = opts.resources();
    if (opts.authenticate && opts.visibleResources) {
      // Without credentials: the generic description of the facade, which names no resource and
      // carries the security scheme, so a reference page can offer "Authorize" and then ask again.
      if (!req.get('authorization')) return genericDocument;
      try {
        const caller = await opts.authenticate(req.get('authorization'));
        resources = await opts.visibleResources(caller);
      } catch (err) {
        sendProblem(req, res, err);
        return undefined;
      }
    }
    const key = resources.map((r) => r.contentHash).join(',');
    let doc = cache.get(key);
    if (!doc) {
      doc = builder.build(resources);
      cache.set(key, doc);
    }
    return doc;
  };

  router.get('/openapi.json', async (req, res) => {
    const doc = await documentFor(req, res);
    if (doc) res.type('application/json').send(stringifyJson(doc));
  });
  router.get('/openapi.yaml', async (req, res) => {
    const doc = await documentFor(req, res);
    if (doc) res.type('application/yaml').send(stringifyYaml(doc));
  });

  router.use('/docs/rest/assets', express.static(swaggerDir, { index: false, maxAge: '1d' }));
  router.get('/docs/rest', (_req, res) => {
    res.set({
      'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; font-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
    });
    res.type('html').send(referencePage);
  });
  // The page's script is a file of its own: the CSP allows no inline scripts.
  router.get('/docs/rest/reference.js', (_req, res) => {
    res.type('text/javascript').send(referenceScript);
  });
  return router;
}

const referencePage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>crdgate REST API</title>
<link rel="stylesheet" href="/docs/rest/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/rest/assets/swagger-ui-bundle.js"></script>
<script src="/docs/rest/reference.js"></script>
</body>
</html>`;

/** The reference page's own script (served as a file: the CSP allows no inline scripts). */
const referenceScript = `// The document needs the caller's token when tenants are on: "Authorize" sets it for every call.
// Without a token the gateway describes the facade generically; once the user authorizes, the
// page asks again with the token and shows the resources that tenant may use.
const refetchAfterAuthorize = (system) => ({
  statePlugins: {
    auth: {
      wrapActions: {
        authorize: (original) => (payload) => {
          const result = original(payload);
          setTimeout(() => system.specActions.download('/openapi.json'), 0);
          return result;
        },
        logout: (original) => (payload) => {
          const result = original(payload);
          setTimeout(() => system.specActions.download('/openapi.json'), 0);
          return result;
        },
      },
    },
  },
});
window.ui = SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  persistAuthorization: false,
  plugins: [refetchAfterAuthorize],
  requestInterceptor: (req) => {
    const auth = window.ui && window.ui.authSelectors && window.ui.authSelectors.authorized().toJS();
    const token = auth && auth.bearerAuth && auth.bearerAuth.value;
    if (token && !req.headers.Authorization) req.headers.Authorization = 'Bearer ' + token;
    return req;
  },
});
`;
