// The apiserver's own calls that fail, on the real control plane: an admission webhook whose
// service does not exist (failurePolicy Fail) and a conversion webhook nothing listens on. The
// apiserver's answers name where it tried to connect (a service's DNS name, an IP and port); the
// gateway's callers get the same codes and the same words up to there, over GraphQL, REST and
// watches of both, but not the addresses. A denial written for users (a ValidatingAdmissionPolicy's
// message) reaches them unchanged.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createGateway, type Gateway } from '../../src/gateway.ts';
import { KubeApiError, KubeClient } from '../../src/kube/kube-client.ts';
import { LEFT_OUT } from '../../src/kube/internal-addresses.ts';
import { encodeGroup } from '../../src/model/graphql-type-names.ts';
import { gql } from '../helpers/graphql-client.ts';
import { pollUntil } from '../helpers/poll-until.ts';
import { SseClient } from '../helpers/sse-client.ts';
import { openClient, Subscription } from '../helpers/subscription-client.ts';
import { kubeConfigFor, uniqueName } from '../helpers/test-cluster.ts';

const kube = new KubeClient(kubeConfigFor('admin'));
const cleanup: (() => Promise<unknown>)[] = [];
const logged: { cause: unknown; code: string }[] = [];
let gateway: Gateway;
let base: string;

/** What must not reach a caller: the service's DNS name, the IP and port dialled, the URL. */
const internal = /nothere|\.svc\b|127\.0\.0\.1|https:\/\/|dial tcp/;

/** The apiserver's own answer to the same call, as a Status message. */
async function apiserverMessage(call: () => Promise<unknown>): Promise<string> {
  try {
    await call();
  } catch (err) {
    if (err instanceof KubeApiError) return err.status.message ?? '';
    throw err;
  }
  throw new Error('the apiserver accepted the call');
}

const namespace = async (labels: Record<string, string> = {}) => {
  const ns = uniqueName('hooks');
  await kube.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels } } });
  cleanup.push(() => kube.request('DELETE', `/api/v1/namespaces/${ns}`));
  return ns;
};

const cronTab = (ns: string, name: string, replicas = 1) => ({ apiVersion: 'stable.example.com/v1', kind: 'CronTab', metadata: { name, namespace: ns }, spec: { cronSpec: '* * * * *', image: 'x', replicas } });
const createCronTab = (ns: string, name: string, replicas = 1) => () => kube.request('POST', `/apis/stable.example.com/v1/namespaces/${ns}/crontabs`, { body: cronTab(ns, name, replicas) });
const createOverGraphQL = (ns: string, name: string, replicas = 1) => gql(`${base}/graphql`,
  'mutation($ns: String!, $input: CronTab_v1_stable_example_com_Input!) { createCronTab_stable_example_com(namespace: $ns, input: $input) { metadata { name } } }',
  { ns, input: { metadata: { name }, spec: { cronSpec: '* * * * *', image: 'x', replicas } } });
const createOverRest = async (ns: string, name: string, replicas = 1) => {
  const r = await fetch(`${base}/rest/stable.example.com/v1/namespaces/${ns}/crontabs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(cronTab(ns, name, replicas)) });
  return { status: r.status, text: await r.text() };
};

before(async () => {
  gateway = await createGateway({
    client: kube, explorer: false, watchGraceMs: 200, watchUnavailableAfterMs: 1_000,
    onInternalError: (_id, cause, code) => logged.push({ cause, code }),
  });
  const server = await gateway.listen(0);
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

after(async () => {
  await gateway?.stop();
  for (const fn of cleanup.reverse()) await fn().catch(() => {});
});

describe('failures of the apiserver\'s own calls', () => {
  it('an admission webhook whose service does not exist: the same code and words over GraphQL and REST, without the address; the log has it', async () => {
    const label = uniqueName('hooks');
    const ns = await namespace({ 'crdgate-test-hooks': label });
    const hook = 'unreachable.crdgate.example.com';
    await kube.request('POST', '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations', {
      body: {
        apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingWebhookConfiguration', metadata: { name: label },
        webhooks: [{
          name: hook, clientConfig: { service: { namespace: 'default', name: 'nothere', path: '/validate', port: 443 } },
          rules: [{ apiGroups: ['stable.example.com'], apiVersions: ['v1'], operations: ['CREATE'], resources: ['crontabs'] }],
          namespaceSelector: { matchLabels: { 'crdgate-test-hooks': label } },
          failurePolicy: 'Fail', sideEffects: 'None', admissionReviewVersions: ['v1'], timeoutSeconds: 2,
        }],
      },
    });
    cleanup.push(() => kube.request('DELETE', `/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/${label}`));
    let raw = '';
    await pollUntil('the webhook to be called', async () => {
      raw = await apiserverMessage(createCronTab(ns, uniqueName('probe'))).catch(() => '');
      return raw.includes(hook) || undefined;
    }, { timeoutMs: 20_000, intervalMs: 200 });
    console.log(`the apiserver: ${raw}`);
    assert.match(raw, internal, 'the apiserver names where it called');
    const before = raw.slice(0, raw.search(/Post "/));

    const graphql = await createOverGraphQL(ns, 'over-graphql');
    const error = graphql.errors?.[0];
    console.log(`GraphQL: ${JSON.stringify(error)}`);
    assert.equal(error?.extensions?.['code'], 'INTERNAL');
    assert.equal(error?.message, `${before}${LEFT_OUT}`);
    assert.doesNotMatch(graphql.text, internal);

    const rest = await createOverRest(ns, 'over-rest');
    console.log(`REST: ${rest.status} ${rest.text}`);
    assert.equal(rest.status, 500);
    const problem = JSON.parse(rest.text) as { code: string; detail: string };
    assert.equal(problem.code, 'INTERNAL');
    assert.equal(problem.detail, `${before}${LEFT_OUT}`);
    assert.doesNotMatch(rest.text, internal);

    const full = logged.filter((l) => l.cause instanceof Error && l.cause.message.includes(hook));
    assert.ok(full.length >= 2 && full.every((l) => internal.test((l.cause as Error).message)), 'the log keeps the whole message');
  });

  it('a conversion webhook nothing listens on: reads and watches of the converted version say so without the address', async () => {
    const group = `${uniqueName('convert')}.example.com`;
    const name = `gadgets.${group}`;
    const schema = { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', properties: { size: { type: 'integer' } } } } } };
    await kube.request('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', {
      body: {
        apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name },
        spec: {
          group, scope: 'Namespaced', names: { plural: 'gadgets', singular: 'gadget', kind: 'Gadget', listKind: 'GadgetList' },
          versions: [{ name: 'v1', served: true, storage: true, schema }, { name: 'v2', served: true, storage: false, schema }],
          conversion: { strategy: 'Webhook', webhook: { conversionReviewVersions: ['v1'], clientConfig: { url: 'https://127.0.0.1:9/convert' } } },
        },
      },
    });
    cleanup.push(() => kube.request('DELETE', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`));
    const ns = await namespace();
    await pollUntil('the gateway to serve v2', async () => (await fetch(`${base}/rest/${group}/v1/namespaces/${ns}/gadgets`)).status === 200 || undefined, { timeoutMs: 15_000, intervalMs: 100 });
    await pollUntil('the apiserver to take a v1 object', async () => {
      try {
        await kube.request('POST', `/apis/${group}/v1/namespaces/${ns}/gadgets`, { body: { apiVersion: `${group}/v1`, kind: 'Gadget', metadata: { name: 'g' }, spec: { size: 1 } } });
        return true;
      } catch {
        return undefined;
      }
    }, { timeoutMs: 15_000, intervalMs: 200 });
    const raw = await apiserverMessage(() => kube.request('GET', `/apis/${group}/v2/namespaces/${ns}/gadgets`));
    console.log(`the apiserver: ${raw}`);
    assert.match(raw, internal);

    const list = await fetch(`${base}/rest/${group}/v2/namespaces/${ns}/gadgets`);
    const text = await list.text();
    console.log(`REST list: ${list.status} ${text}`);
    assert.equal(list.status, 500);
    assert.match(text, /conversion webhook/);
    assert.doesNotMatch(text, internal);
    const field = `gadgetList_v2_${encodeGroup(group)}`;
    const graphql = await gql(`${base}/graphql`, `query($ns: String) { ${field}(namespace: $ns) { edges { node { metadata { name } } } } }`, { ns });
    console.log(`GraphQL list: ${JSON.stringify(graphql.errors)}`);
    assert.match(graphql.errors?.[0]?.message ?? '', /conversion webhook/);
    assert.doesNotMatch(graphql.text, internal);

    // The hub's watch of v2 cannot list: after --watch-unavailable-after its watchers get UNAVAILABLE, saying why.
    const sse = new SseClient(`${base}/rest/${group}/v2/namespaces/${ns}/gadgets?watch=true`);
    cleanup.push(async () => sse.close());
    await sse.open();
    const ws = openClient(base);
    cleanup.push(async () => ws.dispose());
    const watchField = `watchGadget_v2_${encodeGroup(group)}`;
    const sub = new Subscription(ws, `subscription($ns: String) { ${watchField}(namespace: $ns) { type } }`, { ns }, watchField);
    await sse.waitFor('the end', (es) => es.some((e) => e.event === 'ERROR'), 30_000);
    await sub.waitForEnd(30_000);
    const ended = JSON.stringify({ sse: sse.events.find((e) => e.event === 'ERROR')?.json, ws: sub.error });
    console.log(`watches: ${ended}`);
    assert.match(ended, /conversion webhook/);
    assert.doesNotMatch(ended, internal);
    assert.equal(sub.errorCode, 'UNAVAILABLE');
  });

  it('a denial written for users reaches them as the apiserver words it', async () => {
    const label = uniqueName('policy');
    const ns = await namespace({ 'crdgate-test-policy': label });
    await kube.request('POST', '/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies', {
      body: {
        apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingAdmissionPolicy', metadata: { name: label },
        spec: {
          failurePolicy: 'Fail',
          matchConstraints: { resourceRules: [{ apiGroups: ['stable.example.com'], apiVersions: ['v1'], operations: ['CREATE'], resources: ['crontabs'] }] },
          validations: [{ expression: 'object.spec.replicas < 100', message: 'replicas must be below 100, see https://policy.example.com/replicas' }],
        },
      },
    });
    cleanup.push(() => kube.request('DELETE', `/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies/${label}`));
    await kube.request('POST', '/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings', {
      body: {
        apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingAdmissionPolicyBinding', metadata: { name: label },
        spec: { policyName: label, validationActions: ['Deny'], matchResources: { namespaceSelector: { matchLabels: { 'crdgate-test-policy': label } } } },
      },
    });
    cleanup.push(() => kube.request('DELETE', `/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings/${label}`));
    let raw = '';
    let probe = '';
    await pollUntil('the policy to deny', async () => {
      probe = uniqueName('probe');
      raw = await apiserverMessage(createCronTab(ns, probe, 500)).catch(() => '');
      return raw.includes('replicas must be below 100') || undefined;
    }, { timeoutMs: 20_000, intervalMs: 200 });
    console.log(`the apiserver: ${raw}`);
    // The message names the object; the rest is the policy's, with its URL.
    const graphql = await createOverGraphQL(ns, 'over-graphql', 500);
    assert.equal(graphql.errors?.[0]?.message, raw.replace(probe, 'over-graphql'));
    const rest = await createOverRest(ns, 'over-rest', 500);
    assert.equal((JSON.parse(rest.text) as { detail: string }).detail, raw.replace(probe, 'over-rest'));
  });
});
