// Benchmark (not a test): what exact numbers cost on the request path. Each stage that now goes
// through src/model/lossless-json.ts is timed against what it did before, in the same run,
// alternating, median of several rounds:
//   - the Kubernetes client reading an answer (a list of 500 CronTabs as the apiserver writes it);
//   - the GraphQL endpoint reading a request body (express.json before);
//   - the REST facade writing an answer (a hand-written JSON writer before);
//   - the JSON scalar writing a value (returned as it was before; now big integers are replaced).
// Each with and without an integer beyond 2^53 in the data. Prints a markdown table.
//
//   node scripts/bench-json.ts [--rounds N]
import { parseArgs } from 'node:util';
import { parseJson, parseKubernetesJson, stringifyJson, withRawIntegers } from '../src/kube/lossless-json.ts';
import { machine } from './bench-common.ts';

const { values: flags } = parseArgs({ options: { rounds: { type: 'string', default: '31' } } });
const ROUNDS = Number(flags.rounds);

/** The reader the Kubernetes client had: the same fast path, integers only. */
function previousKubeParse(text: string): unknown {
  if (!/\d{16}/.test(text)) return JSON.parse(text);
  return JSON.parse(text, (_key, value, context?: { source?: string }) => {
    if (typeof value === 'number' && !Number.isSafeInteger(value) && context?.source && /^-?\d+$/.test(context.source)) return BigInt(context.source);
    return value;
  });
}

/** The REST facade's writer before: a walk in JavaScript, bigint as digits. */
function previousRestWrite(value: unknown): string | undefined {
  if (typeof value === 'bigint') return value.toString();
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((item) => previousRestWrite(item) ?? 'null').join(',')}]`;
  const parts: string[] = [];
  for (const [key, item] of Object.entries(value)) {
    const text = previousRestWrite(item);
    if (text !== undefined) parts.push(`${JSON.stringify(key)}:${text}`);
  }
  return `{${parts.join(',')}}`;
}

function cronTab(i: number, big: boolean): string {
  const manager = `{"manager":"kubectl-client-side-apply","operation":"Update","apiVersion":"stable.example.com/v1","time":"2026-11-20T10:0${i % 10}:00Z","fieldsType":"FieldsV1","fieldsV1":{"f:metadata":{"f:annotations":{".":{},"f:kubectl.kubernetes.io/last-applied-configuration":{}},"f:labels":{".":{},"f:app":{}}},"f:spec":{".":{},"f:cronSpec":{},"f:image":{},"f:replicas":{}}}}`;
  const spec = `{"cronSpec":"*/5 * * * *","image":"registry.example.com/team/cron-image:1.${i}","replicas":${i % 7}${big ? ',"config":{"max.compaction.lag.ms":9223372036854775807}' : ''}}`;
  return `{"apiVersion":"stable.example.com/v1","kind":"CronTab","metadata":{"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{\\"apiVersion\\":\\"stable.example.com/v1\\",\\"kind\\":\\"CronTab\\"}\\n"},"creationTimestamp":"2026-11-20T10:00:00Z","generation":1,"labels":{"app":"bench-${i}"},"managedFields":[${manager}],"name":"crontab-${i}","namespace":"bench","resourceVersion":"${100_000 + i}","uid":"5f0c2b1e-8d3a-4c7e-9b6f-${String(i).padStart(12, '0')}"},"spec":${spec}}`;
}

function list(big: boolean): string {
  const items = Array.from({ length: 500 }, (_, i) => cronTab(i, big && i === 250));
  return `{"apiVersion":"stable.example.com/v1","items":[${items.join(',')}],"kind":"CronTabList","metadata":{"continue":"","resourceVersion":"123456"}}`;
}

const smallBody = JSON.stringify({ query: 'query($ns: String!, $name: String!) { cronTab_stable_example_com(namespace: $ns, name: $name) { metadata { name resourceVersion } spec { cronSpec image replicas } } }', variables: { ns: 'bench', name: 'crontab-1' } });
const mutationBody = (big: boolean) => `{"query":"mutation($input: CronTab_v1_stable_example_com_Input!) { createCronTab_stable_example_com(namespace: \\"bench\\", input: $input) { metadata { name } } }","variables":{"input":${cronTab(1, big)}}}`;

/** Microseconds per call, one round sized to take about 20 ms. */
function time(fn: () => unknown): () => number {
  let n = 1;
  for (let t = 0; t < 10; n *= 2) {
    const s = performance.now();
    for (let i = 0; i < n; i++) fn();
    t = performance.now() - s;
  }
  return () => {
    const s = performance.now();
    for (let i = 0; i < n; i++) fn();
    return ((performance.now() - s) * 1000) / n;
  };
}

interface Row { stage: string; before: () => unknown; now: () => unknown }

const rows: Row[] = [];
for (const big of [false, true]) {
  const text = list(big);
  const parsed = parseJson(text);
  const tag = big ? ', one integer beyond 2^53' : '';
  rows.push({ stage: `Kubernetes answer read: list of 500 (${(text.length / 1024).toFixed(0)} KiB${tag})`, before: () => previousKubeParse(text), now: () => parseKubernetesJson(text) });
  rows.push({ stage: `REST answer written: list of 500${tag}`, before: () => previousRestWrite(parsed), now: () => stringifyJson(parsed) });
  const body = mutationBody(big);
  rows.push({ stage: `GraphQL request body read: a create mutation (${(body.length / 1024).toFixed(1)} KiB${tag})`, before: () => JSON.parse(body), now: () => parseJson(body) });
  const json = (parseJson(cronTab(1, big)) as { metadata: { managedFields: { fieldsV1: unknown }[] }; spec: unknown });
  const value = big ? json.spec : json.metadata.managedFields[0]!.fieldsV1;
  rows.push({ stage: `JSON scalar written: ${big ? 'a spec with a big integer' : 'a fieldsV1 value'}`, before: () => value, now: () => withRawIntegers(value) });
}
rows.splice(2, 0, { stage: `GraphQL request body read: a get query (${smallBody.length} B)`, before: () => JSON.parse(smallBody), now: () => parseJson(smallBody) });
// The noise floor: the same code on both sides.
const listText = list(false);
rows.unshift({ stage: 'control: JSON.parse of the list against itself', before: () => JSON.parse(listText), now: () => JSON.parse(listText) });

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const out: string[] = [];
for (const row of rows) {
  const before = time(row.before);
  const now = time(row.now);
  const b: number[] = [];
  const a: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    if (r % 2) {
      b.push(before());
      a.push(now());
    } else {
      a.push(now());
      b.push(before());
    }
  }
  const mb = median(b);
  const ma = median(a);
  out.push(`| ${row.stage} | ${mb.toFixed(2)} | ${ma.toFixed(2)} | ${(ma / mb).toFixed(2)} |`);
}
console.log(`Machine: ${machine()}; median of ${ROUNDS} alternating rounds of about 20 ms each.\n`);
console.log('| stage | before µs | now µs | now / before |');
console.log('| --- | --- | --- | --- |');
console.log(out.join('\n'));
