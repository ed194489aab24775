// The kubeconfig as @kubernetes/client-node reads and applies it, without loading that package's
// generated API client. Its KubeConfig class lives in a module that imports the whole generated
// client (every model and API of Kubernetes: ~75 MiB of RSS and ~20 MiB of heap in a process that
// only ever uses the kubeconfig). This class keeps its semantics by using the same parts of the
// package: the same parsing of clusters, users and contexts (config_types.js), and the same
// authenticators in the same order (cloud auth providers, exec plugins, token files, OIDC), loaded
// when a user needs them. What applyToHTTPSOptions sets is what the package's KubeConfig sets,
// except the agent: the caller (KubeClient) owns its connection pool.
import { readFileSync, existsSync } from 'node:fs';
import type { OutgoingHttpHeaders } from 'node:http';
import type { RequestOptions as HttpsRequestOptions } from 'node:https';
import { isIPv6 } from 'node:net';
import { newClusters, newContexts, newUsers, type Cluster, type Context, type User } from '@kubernetes/client-node/dist/config_types.js';
import { parse as parseYaml } from 'yaml';

export type { Cluster, Context, User };

/** What applies a user's credentials to the options of a request (client-node's Authenticator). */
interface Authenticator {
  isAuthProvider(user: User): boolean;
  applyAuthentication(user: User, opts: HttpsRequestOptions): Promise<void>;
}

/**
 * client-node's authenticators in its order; the first whose isAuthProvider matches applies. The
 * auth providers that are chosen by name are loaded only when a user names them (OIDC's module
 * brings the generated client with it).
 */
const authenticatorKinds: readonly { matches(user: User): boolean; load(): Promise<Authenticator> }[] = [
  { matches: (u) => u.authProvider?.name === 'azure', load: async () => new (await import('@kubernetes/client-node/dist/azure_auth.js')).AzureAuth() },
  { matches: (u) => u.authProvider?.name === 'gcp', load: async () => new (await import('@kubernetes/client-node/dist/gcp_auth.js')).GoogleCloudPlatformAuth() },
  { matches: (u) => Boolean(u.exec) || u.authProvider?.name === 'exec' || Boolean(u.authProvider?.config?.exec), load: async () => new (await import('@kubernetes/client-node/dist/exec_auth.js')).ExecAuth() },
  { matches: (u) => Boolean(u.authProvider?.config?.tokenFile), load: async () => new (await import('@kubernetes/client-node/dist/file_auth.js')).FileAuth() },
  { matches: (u) => u.authProvider?.name === 'oidc', load: async () => new (await import('@kubernetes/client-node/dist/oidc_auth.js')).OpenIDConnectAuth() },
];

const serviceAccountRoot = '/var/run/secrets/kubernetes.io/serviceaccount';

export class KubeConfig {
  private clusters: Cluster[] = [];
  private users: User[] = [];
  private contexts: Context[] = [];
  private currentContext: string | undefined;
  /** One instance of each authenticator per kubeconfig: they cache tokens (exec plugins, token files). */
  private readonly authenticators = new Map<number, Promise<Authenticator>>();

  /** A kubeconfig document (YAML or JSON), parsed and checked as client-node does; throws on a bad entry. */
  loadFromString(text: string): void {
    const obj = (parseYaml(text) ?? {}) as Record<string, unknown>;
    if (typeof obj !== 'object') throw new Error('the kubeconfig is not a YAML mapping');
    this.clusters = newClusters(obj['clusters']);
    this.contexts = newContexts(obj['contexts']);
    this.users = newUsers(obj['users']);
    this.currentContext = obj['current-context'] as string | undefined;
  }

  /** The pod's service account, as client-node's loadFromCluster (pathPrefix: for tests). */
  loadFromCluster(pathPrefix = ''): void {
    const host = process.env['KUBERNETES_SERVICE_HOST'];
    const port = process.env['KUBERNETES_SERVICE_PORT'];
    const scheme = port === '80' || port === '8080' || port === '8001' ? 'http' : 'https';
    const serverHost = host && isIPv6(host) ? `[${host}]` : host;
    this.clusters = [{ name: 'inCluster', caFile: `${pathPrefix}${serviceAccountRoot}/ca.crt`, server: `${scheme}://${serverHost}:${port}`, skipTLSVerify: false }];
    this.users = [{ name: 'inClusterUser', authProvider: { name: 'tokenFile', config: { tokenFile: `${pathPrefix}${serviceAccountRoot}/token` } } }];
    const namespaceFile = `${pathPrefix}${serviceAccountRoot}/namespace`;
    const namespace = existsSync(namespaceFile) ? readFileSync(namespaceFile, 'utf8') : undefined;
    this.contexts = [{ cluster: 'inCluster', name: 'inClusterContext', user: 'inClusterUser', ...(namespace !== undefined ? { namespace } : {}) }];
    this.currentContext = 'inClusterContext';
  }

  getClusters(): readonly Cluster[] {
    return this.clusters;
  }

  getUsers(): readonly User[] {
    return this.users;
  }

  getContexts(): readonly Context[] {
    return this.contexts;
  }

  getCurrentContext(): string | undefined {
    return this.currentContext;
  }

  setCurrentContext(name: string): void {
    this.currentContext = name;
  }

  getContextObject(name: string | undefined): Context | null {
    return this.contexts.find((c) => c.name === name) ?? null;
  }

  getCurrentCluster(): Cluster | null {
    const context = this.getContextObject(this.currentContext);
    return context ? this.clusters.find((c) => c.name === context.cluster) ?? null : null;
  }

  getCurrentUser(): User | null {
    const context = this.getContextObject(this.currentContext);
    return context ? this.users.find((u) => u.name === context.user) ?? null : null;
  }

  /**
   * TLS material and credentials of the current context onto request options, as client-node's
   * applyToHTTPSOptions does (CA, client certificate and key, insecure-skip-tls-verify,
   * tls-server-name, impersonation, basic auth, bearer tokens from the kubeconfig, a token file,
   * an exec plugin or an auth provider). No agent is set: proxy-url is not applied.
   */
  async applyToHTTPSOptions(opts: HttpsRequestOptions): Promise<void> {
    const cluster = this.getCurrentCluster();
    const user = this.getCurrentUser();
    if (cluster?.server.startsWith('http:') && !cluster.skipTLSVerify) {
      throw new Error('HTTP protocol is not allowed when skipTLSVerify is not set or false');
    }
    if (!user) return;
    if (cluster?.skipTLSVerify) opts.rejectUnauthorized = false;
    if (cluster?.tlsServerName) opts.servername = cluster.tlsServerName;
    const ca = cluster ? fileOrData(cluster.caFile, cluster.caData) : null;
    if (ca) opts.ca = ca;
    const cert = fileOrData(user.certFile, user.certData);
    if (cert) opts.cert = cert;
    const key = fileOrData(user.keyFile, user.keyData);
    if (key) opts.key = key;
    const headers = (opts.headers ??= {}) as OutgoingHttpHeaders;
    if (user.impersonateUser != null) headers['Impersonate-User'] = user.impersonateUser;
    const authenticator = await this.authenticatorFor(user);
    if (authenticator) await authenticator.applyAuthentication(user, opts);
    if (user.token) headers['Authorization'] = `Bearer ${user.token}`;
    if (user.username) opts.auth = `${user.username}:${user.password}`;
  }

  private authenticatorFor(user: User): Promise<Authenticator> | undefined {
    const index = authenticatorKinds.findIndex((kind) => kind.matches(user));
    if (index < 0) return undefined;
    let authenticator = this.authenticators.get(index);
    if (!authenticator) {
      authenticator = authenticatorKinds[index]!.load();
      authenticator.catch(() => this.authenticators.delete(index));
      this.authenticators.set(index, authenticator);
    }
    return authenticator;
  }
}

/** client-node's bufferFromFileOrString: the file wins over the inline base64 data. */
function fileOrData(file: string | undefined, data: string | undefined): Buffer | null {
  if (file) return readFileSync(file);
  if (data) return Buffer.from(data, 'base64');
  return null;
}
