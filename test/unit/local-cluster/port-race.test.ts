// Telling a lost port race (another process bound the port the launcher picked) from any other
// failure of kube-apiserver, using only what this attempt appended to the log.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lostPortRace } from '../../../src/local-cluster/launch-cluster.ts';

// As kube-apiserver v1.37 logs it when its --secure-port is taken.
const BIND_LOST = 'E1203 19:02:11.123456   4242 run.go:72] "command failed" err="failed to create listener: failed to listen on 127.0.0.1:41733: listen tcp 127.0.0.1:41733: bind: address already in use"\n';
const OTHER = 'E1203 19:02:11.123456   4242 run.go:72] "command failed" err="invalid --etcd-servers"\n';

test('a port taken between the pick and the bind is a lost race; only this attempt\'s lines count', () => {
  const dir = mkdtempSync(join(tmpdir(), 'crdgate-port-race-'));
  try {
    const log = join(dir, 'cluster.log');
    assert.equal(lostPortRace(log, 0), false, 'no log yet');
    appendFileSync(log, BIND_LOST);
    assert.equal(lostPortRace(log, 0), true);
    const second = statSync(log).size;
    appendFileSync(log, OTHER);
    assert.equal(lostPortRace(log, second), false, 'an earlier attempt\'s race does not excuse this failure');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
