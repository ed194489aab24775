// The explorer's HTML page and the small browser script that starts GraphiQL. Both are plain
// strings: the page is rendered per request (it carries a fresh CSP nonce), the script is served
// as a static asset because the Content-Security-Policy forbids inline scripts.

export interface ExplorerAssetUrls {
  react: string;
  reactDom: string;
  graphiqlJs: string;
  graphiqlCss: string;
  explorerJs: string;
  explorerCss: string;
}

export interface ExplorerPageOptions {
  /** Where GraphiQL sends operations and its introspection query. */
  graphqlPath: string;
  defaultQuery: string;
  /** The CSP nonce that style elements injected at run time must carry. */
  styleNonce: string;
  assets: ExplorerAssetUrls;
}

export const defaultExplorerQuery = `# Welcome to the crdgate explorer.
#
# Run this query with the run button or Ctrl-Enter: it lists
# the custom resources served here and the Query fields that
# read them. The book icon on the left opens the schema docs;
# Ctrl-Space in the editor suggests fields.
#
# To call as a tenant, put its token in the
# Headers tab below:
#   { "Authorization": "Bearer <token>" }

query ApiResources {
  apiResources {
    crdName
    kind
    namespaced
    defaultVersion
    versions {
      name
      typeName
      getField
    }
  }
}
`;

export function renderExplorerPage(opts: ExplorerPageOptions): string {
  const a = opts.assets;
  // No inline script or style anywhere: the CSP allows only 'self' for both. The configuration
  // travels in data attributes, which the browser script reads.
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>crdgate explorer</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${escapeHtml(a.graphiqlCss)}">
<link rel="stylesheet" href="${escapeHtml(a.explorerCss)}">
</head>
<body>
<noscript>The crdgate explorer needs JavaScript. The GraphQL API itself answers at ${escapeHtml(opts.graphqlPath)}.</noscript>
<div id="graphiql" data-endpoint="${escapeHtml(opts.graphqlPath)}" data-default-query="${escapeHtml(opts.defaultQuery)}" data-style-nonce="${escapeHtml(opts.styleNonce)}">Loading the explorer…</div>
<script src="${escapeHtml(a.react)}"></script>
<script src="${escapeHtml(a.reactDom)}"></script>
<script src="${escapeHtml(a.graphiqlJs)}"></script>
<script src="${escapeHtml(a.explorerJs)}"></script>
</body>
</html>
`;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export const explorerCss = `html, body { height: 100%; margin: 0; }
#graphiql { height: 100vh; }
`;

// Runs in the browser after React 18, ReactDOM 18 and the GraphiQL UMD bundle defined their
// globals. Plain JavaScript without template literals, so it can sit in a template string here.
export const explorerScript = `(function () {
  'use strict';
  var root = document.getElementById('graphiql');
  var data = root.dataset;
  // react-remove-scroll (GraphiQL's dialogs) injects a <style> element and tags it with this
  // global when present; the CSP only admits style elements carrying the page's nonce.
  window.__webpack_nonce__ = data.styleNonce;
  var params = new URLSearchParams(window.location.search);
  var endpoint = new URL(data.endpoint, window.location.href);
  var props = {
    fetcher: GraphiQL.createFetcher({
      url: endpoint.href,
      // Subscriptions use graphql-ws on the same path; the Headers tab travels as its
      // connection parameters.
      subscriptionUrl: endpoint.href.replace(/^http/, 'ws')
    }),
    defaultQuery: data.defaultQuery,
    // The Headers tab is where tenants paste their bearer token; show it from the start.
    defaultEditorToolsVisibility: 'headers',
    // Tokens stay out of localStorage unless the user opts in from the settings dialog.
    shouldPersistHeaders: false
  };
  // A link like /graphql?query=... opened in a browser prefills the editors, as the query
  // string would have been executed by a non-browser client.
  if (params.get('query')) props.query = params.get('query');
  if (params.get('variables')) props.variables = params.get('variables');
  if (params.get('operationName')) props.operationName = params.get('operationName');
  ReactDOM.createRoot(root).render(React.createElement(GraphiQL, props));
})();
`;
