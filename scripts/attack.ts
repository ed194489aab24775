// `npm run attack`: the attack table of the tenant-security tests (JWT, WebSocket and TokenReview
// files) against a real control plane, and the sum of what every attack got: attempts, refused,
// leaks (any data of another tenant, or a forbidden identity accepted). Exits non-zero when a test
// fails or anything leaked.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../src/local-cluster/build-launcher.ts';
import { summarize, type AttackRecord } from '../test/helpers/attack-ledger.ts';

const files = ['test/integration/tenants-security.test.ts', 'test/integration/tenants-watch.test.ts', 'test/integration/tenants-tokenreview.test.ts'];
const scratch = mkdtempSync(join(tmpdir(), 'crdgate-attack-'));
const ledger = join(scratch, 'attacks.jsonl');

const code = await new Promise<number>((resolve) => {
  const p = spawn(process.execPath, [join(repoRoot, 'scripts', 'test.ts'), ...process.argv.slice(2), ...files], {
    cwd: repoRoot, stdio: 'inherit', env: { ...process.env, CRDGATE_ATTACK_LEDGER: ledger },
  });
  p.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0)));
});
const records = existsSync(ledger) ? readFileSync(ledger, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as AttackRecord) : [];
rmSync(scratch, { recursive: true, force: true });
console.log(`\n${summarize(records, files.length + ' files')}`);
const leaks = records.filter((r) => r.leaked).length;
process.exit(code !== 0 || leaks > 0 || records.length === 0 ? 1 : 0);
