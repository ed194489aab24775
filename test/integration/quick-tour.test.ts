// The README's Quick tour, run as a new user runs it: `crdgate serve` with its own local control
// plane (as `npm start` on a machine without a cluster), then each fenced block marked
// `<!-- tour: … -->` in a shell from the repository root, as written. What differs from a user's
// run is what the README tells the user to change, plus where this run keeps its state: the token
// (pasted from the start-up block), the port (a free one, not 4000) and the state directory (not
// the repository's `.state`, which a user's own `npm start` may be using).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../../src/local-cluster/build-launcher.ts';
import { spawnInTerminal, spawnPiped, type RecordedProcess } from '../helpers/terminal.ts';

const scratch = mkdtempSync(join(tmpdir(), 'crdgate-quick-tour-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** The README's tour blocks by name, in order. */
function tourBlocks(readme: string): Map<string, string> {
  const blocks = [...readme.matchAll(/^<!-- tour: ([a-z-]+) -->\n```sh\n([\s\S]*?)\n```$/gm)];
  return new Map(blocks.map((m) => [m[1]!, m[2]!]));
}

/** The user's environment (Go's caches live under HOME) without the test run's cluster. */
function userEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of Object.keys(env)) if (name === 'KUBECONFIG' || name === 'TOKEN' || name.startsWith('CRDGATE_')) delete env[name];
  return env;
}

const running: RecordedProcess[] = [];
after(() => running.forEach((p) => p.child.kill('SIGKILL')));

test('the README\'s Quick tour works as written on the local cluster', async () => {
  const blocks = tourBlocks(readFileSync(join(repoRoot, 'README.md'), 'utf8'));
  assert.deepEqual([...blocks.keys()], ['token', 'graphql', 'rest-list', 'rest-watch', 'subscription', 'kubectl']);
  const stateDir = join(scratch, 'state');
  const gateway = spawnInTerminal([process.execPath, join(repoRoot, 'bin', 'crdgate.js'), 'serve', '--local-cluster', 'always',
    '--state-dir', stateDir, '--port', '0', '--metrics-port', '0'], { env: userEnv(), cwd: repoRoot });
  running.push(gateway);
  await gateway.waitFor(/Ctrl-C stops crdgate and the local control plane\./, 170_000);
  const out = gateway.output();
  const port = /^ {2}Explorer +http:\/\/127\.0\.0\.1:(\d+)\/$/m.exec(out)?.[1];
  const token = /^ {4}tenant-a +Authorization: Bearer (\S+)$/m.exec(out)?.[1];
  assert.ok(port && token, out);

  // The three changes, each where the README puts it.
  const tokenBlock = blocks.get('token')!;
  assert.match(tokenBlock, /^export TOKEN='paste the token printed after tenant-a here'$/);
  const asUser = (block: string) => `${tokenBlock.replace(/'[^']*'/, `'${token}'`)}\n${block.replaceAll(':4000', `:${port}`).replaceAll('.state/', `${stateDir}/`)}`;
  const shell = (name: string) => {
    const p = spawnPiped(['sh', '-c', asUser(blocks.get(name)!)], { env: userEnv(), cwd: repoRoot });
    running.push(p);
    return p;
  };
  const toEnd = async (name: string) => {
    const p = shell(name);
    assert.equal(await p.exited, 0, `${name}: ${p.stderr()}`);
    return p.output();
  };

  const graphql = JSON.parse(await toEnd('graphql')) as { data: { cronTabList_stable_example_com: { edges: { node: { metadata: { name: string } } }[] } } };
  assert.deepEqual(graphql.data.cronTabList_stable_example_com.edges.map((e) => e.node.metadata.name).sort(), ['cache-warmer']);
  const rest = JSON.parse(await toEnd('rest-list')) as { kind: string; items: { metadata: { name: string } }[] };
  assert.equal(rest.kind, 'CronTabList');
  assert.deepEqual(rest.items.map((i) => i.metadata.name).sort(), ['cache-warmer']);

  // Both watches show the initial state before kubectl changes anything, so neither can miss it.
  const watch = shell('rest-watch');
  const subscription = shell('subscription');
  await watch.waitFor(/^\{"type":"BOOKMARK","object":.*"k8s\.io\/initial-events-end":"true"/m);
  await subscription.waitFor(/^ADDED cache-warmer 2$/m);
  assert.match(await toEnd('kubectl'), /crontab\.stable\.example\.com\/cache-warmer patched/);
  await subscription.waitFor(/^MODIFIED cache-warmer 3$/m);
  await watch.waitFor(/^\{"type":"MODIFIED","object":.*"name":"cache-warmer".*"replicas":3/m);

  gateway.interrupt();
  assert.equal(await gateway.exited, 0);
});
