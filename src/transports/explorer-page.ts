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
  /** Calls need a bearer token: no schema fetch until there is one, and the page says how to give it. */
  authRequired: boolean;
  /** The gateway answers introspection; without it the page fetches no schema and says why. */
  introspection: boolean;
  /** Where the demo tenants' tokens are (local development), for the tenant picker. */
  demoTenantsPath: string | undefined;
}

export const defaultExplorerQuery = `# Welcome to the crdgate explorer.
#
# Run this query with the run button or Ctrl-Enter: it lists
# the custom resources served here and the Query fields that
# read them. With more than one operation below, the run button
# offers each, and Ctrl-Enter runs the one the cursor is in.
# The book icon on the left opens the schema docs; Ctrl-Space
# in the editor suggests fields.
#
# With authentication on, every call carries a
# tenant's token: pick a demo tenant above (local
# development), or put yours in the Headers tab:
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
<div id="graphiql" data-endpoint="${escapeHtml(opts.graphqlPath)}" data-default-query="${escapeHtml(opts.defaultQuery)}" data-style-nonce="${escapeHtml(opts.styleNonce)}" data-auth="${opts.authRequired ? 'token' : 'none'}" data-introspection="${opts.introspection ? 'on' : 'off'}"${opts.demoTenantsPath ? ` data-demo-tenants="${escapeHtml(opts.demoTenantsPath)}"` : ''}>Loading the explorer…</div>
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
#graphiql { height: 100vh; display: flex; flex-direction: column; }
.crdgate-bar { display: flex; flex-wrap: wrap; align-items: center; gap: 4px 16px; padding: 6px 16px;
  font: 14px/1.4 system-ui, sans-serif; border-bottom: 1px solid rgba(128, 128, 128, 0.3); }
.crdgate-bar select { font: inherit; padding: 2px 4px; }
.crdgate-bar code { font-size: 13px; }
.crdgate-graphiql { flex: 1; min-height: 0; }
`;

// Runs in the browser after React 18, ReactDOM 18 and the GraphiQL UMD bundle defined their
// globals. Plain JavaScript without template literals, so it can sit in a template string here.
//
// Authentication: when calls need a token, GraphiQL must not fetch the schema without one (the
// answer would be a red UNAUTHENTICATED error where the docs belong), so the schema prop stays
// null (no fetch) until a token is known: a picked demo tenant's, or an Authorization header
// typed into the Headers tab. A picked tenant's token goes with every call, the schema fetch
// included, because GraphiQL's first schema fetch runs before its headers editor exists; the
// Headers tab shows the same header. Editing that header to something else means "my own token":
// the picker then says so and sends nothing of its own.
export const explorerScript = `(function () {
  'use strict';
  var root = document.getElementById('graphiql');
  var data = root.dataset;
  // react-remove-scroll (GraphiQL's dialogs) injects a <style> element and tags it with this
  // global when present; the CSP only admits style elements carrying the page's nonce.
  window.__webpack_nonce__ = data.styleNonce;
  var h = React.createElement;
  var params = new URLSearchParams(window.location.search);
  var endpoint = new URL(data.endpoint, window.location.href);
  var authRequired = data.auth === 'token';
  var introspection = data.introspection !== 'off';
  // Int64 values beyond 2^53 arrive as JSON numbers with every digit, which JSON.parse alone
  // would round. Such a number's source text becomes a raw JSON value, which GraphiQL's
  // JSON.stringify of the result writes back digit for digit. (Subscriptions arrive through
  // GraphiQL's own graphql-ws client, which has no such hook here.)
  var exactNumbers = typeof JSON.rawJSON === 'function';
  function parseExact(text) {
    return JSON.parse(text, function (key, value, context) {
      var big = typeof value === 'number' && !Number.isSafeInteger(value) && context && /^-?\\d+$/.test(context.source);
      return big ? JSON.rawJSON(context.source) : value;
    });
  }
  function exactFetch(url, init) {
    return window.fetch(url, init).then(function (res) {
      if (exactNumbers) res.json = function () { return res.text().then(parseExact); };
      return res;
    });
  }
  var baseFetcher = GraphiQL.createFetcher({
    url: endpoint.href,
    fetch: exactFetch,
    // Subscriptions use graphql-ws on the same path; the headers travel as its connection parameters.
    subscriptionUrl: endpoint.href.replace(/^http/, 'ws')
  });
  var OWN = '';

  function headerText(token) {
    return token ? JSON.stringify({ Authorization: 'Bearer ' + token }, null, 2) : '{}';
  }
  function authorizationOf(text) {
    var parsed;
    try { parsed = JSON.parse(text || '{}'); } catch (e) { return undefined; }
    if (!parsed || typeof parsed !== 'object') return undefined;
    for (var key in parsed) {
      if (key.toLowerCase() === 'authorization' && typeof parsed[key] === 'string' && parsed[key].trim()) return parsed[key];
    }
    return undefined;
  }
  function fetcherFor(token) {
    if (!token) return baseFetcher;
    return function (graphQLParams, opts) {
      var headers = Object.assign({}, opts && opts.headers, { Authorization: 'Bearer ' + token });
      return baseFetcher(graphQLParams, Object.assign({}, opts, { headers: headers }));
    };
  }

  function Notes(props) {
    var notes = [];
    if (authRequired && !props.hasToken) {
      notes.push(h('span', { key: 'token', className: 'crdgate-note-token' },
        'This gateway needs a bearer token: open Headers below and enter ',
        h('code', null, '{"Authorization": "Bearer <token>"}'),
        introspection ? '; the docs and completion load as soon as it is there.' : '.'));
    }
    if (!introspection) {
      notes.push(h('span', { key: 'introspection', className: 'crdgate-note-introspection' },
        'Introspection is off on this gateway (production mode): the docs and completion stay empty; operations still run.'));
    }
    if (props.demoRefused) {
      notes.push(h('span', { key: 'demo' }, 'The demo tenants\\u2019 tokens are given only to a browser on the machine crdgate runs on.'));
    }
    return notes;
  }

  function Picker(props) {
    var options = props.tenants.map(function (t) { return h('option', { key: t.name, value: t.name }, t.name); });
    options.push(h('option', { key: OWN, value: OWN }, 'none (your own token)'));
    return h('label', null, 'Tenant ', h('select', {
      'aria-label': 'Tenant',
      value: props.value,
      onChange: function (e) { props.onChange(e.target.value); }
    }, options));
  }

  function Explorer(props) {
    var tenants = props.tenants || [];
    var first = tenants.length ? tenants[0].name : OWN;
    var state = React.useState({ tenant: first, headers: headerText(tenants.length ? tenants[0].token : ''), ownToken: false });
    var current = state[0];
    var setCurrent = state[1];
    var picked = tenants.filter(function (t) { return t.name === current.tenant; })[0];
    var token = picked ? picked.token : '';
    var fetcher = React.useMemo(function () { return fetcherFor(token); }, [token]);
    var hasToken = Boolean(token) || current.ownToken;

    function pick(name) {
      var t = tenants.filter(function (x) { return x.name === name; })[0];
      setCurrent({ tenant: name, headers: headerText(t ? t.token : ''), ownToken: false });
    }
    function edited(text) {
      var auth = authorizationOf(text);
      setCurrent(function (prev) {
        var prevTenant = tenants.filter(function (x) { return x.name === prev.tenant; })[0];
        var mine = prevTenant ? auth !== 'Bearer ' + prevTenant.token : Boolean(auth);
        if (prevTenant && !mine) return prev;
        // The editor keeps what the user typed: the headers prop follows it instead of resetting it.
        return { tenant: mine ? OWN : prev.tenant, headers: text, ownToken: Boolean(auth) || prev.ownToken };
      });
    }

    var graphiqlProps = {
      fetcher: fetcher,
      defaultQuery: data.defaultQuery,
      headers: current.headers,
      onEditHeaders: edited,
      // Show the Headers tab from the start: it holds the token.
      defaultEditorToolsVisibility: 'headers',
      // Tokens stay out of localStorage unless the user opts in from the settings dialog.
      shouldPersistHeaders: false
    };
    // null: GraphiQL fetches no schema (undefined: it does).
    if (!introspection || (authRequired && !hasToken)) graphiqlProps.schema = null;
    // A link like /graphql?query=... opened in a browser prefills the editors, as the query
    // string would have been executed by a non-browser client.
    if (params.get('query')) graphiqlProps.query = params.get('query');
    if (params.get('variables')) graphiqlProps.variables = params.get('variables');
    if (params.get('operationName')) graphiqlProps.operationName = params.get('operationName');

    var bar = [];
    if (tenants.length) bar.push(h(Picker, { key: 'picker', tenants: tenants, value: current.tenant, onChange: pick }));
    if (tenants.length && token) bar.push(h('span', { key: 'as' }, 'Calls run as this demo tenant; its token is in the Headers tab.'));
    bar.push(h(Notes, { key: 'notes', hasToken: hasToken, demoRefused: props.demoRefused }));
    return [
      h('div', { key: 'bar', className: 'crdgate-bar', role: 'region', 'aria-label': 'Authentication' }, bar),
      h('div', { key: 'graphiql', className: 'crdgate-graphiql' }, h(GraphiQL, graphiqlProps))
    ];
  }

  function start(tenants, demoRefused) {
    ReactDOM.createRoot(root).render(h(Explorer, { tenants: tenants, demoRefused: demoRefused }));
  }
  if (!data.demoTenants) {
    start([], false);
    return;
  }
  fetch(data.demoTenants, { headers: { Accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store' })
    .then(function (res) { return res.ok ? res.json() : Promise.reject(res.status); })
    .then(function (body) { start(body.tenants || [], false); }, function () { start([], true); });
})();
`;
