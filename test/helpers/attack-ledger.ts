// The attack table's bookkeeping: every attack request the tenant-security tests make is recorded
// with its outcome, judged from the response itself (before the test's assertions run, so a
// failing assertion cannot hide a leak):
//   - refused: the gateway withheld what the attack was after (the expected refusal, or a result
//     with nothing of another tenant in it);
//   - leaked: any data of another tenant in the response, or a forbidden identity accepted.
// Each test file prints its summary at the end; with CRDGATE_ATTACK_LEDGER set, every attempt is
// also appended to that file (JSON lines), which `npm run attack` adds up across files.
import { appendFileSync } from 'node:fs';
import { basename } from 'node:path';

export interface AttackOutcome {
  refused: boolean;
  leaked: boolean;
}

export interface AttackRecord extends AttackOutcome {
  file: string;
  row: string;
  attempt: string;
}

export class AttackLedger {
  readonly records: AttackRecord[] = [];
  private readonly file: string;

  constructor(testFile: string) {
    this.file = basename(testFile);
  }

  record(row: string, attempt: string, outcome: AttackOutcome): void {
    const r = { file: this.file, row, attempt, ...outcome };
    this.records.push(r);
    const path = process.env.CRDGATE_ATTACK_LEDGER;
    if (path) appendFileSync(path, `${JSON.stringify(r)}\n`);
  }

  summary(): string {
    return summarize(this.records, this.file);
  }
}

export function summarize(records: readonly AttackRecord[], what: string): string {
  const refused = records.filter((r) => r.refused).length;
  const leaks = records.filter((r) => r.leaked);
  const rows = new Set(records.map((r) => `${r.file}#${r.row}`)).size;
  const lines = [`attack run (${what}): ${records.length} attempts in ${rows} rows, ${refused} refused, ${leaks.length} leaks`];
  for (const r of records.filter((x) => !x.refused || x.leaked)) lines.push(`  ${r.leaked ? 'LEAK' : 'not refused'}: row ${r.row} ${r.attempt} (${r.file})`);
  return lines.join('\n');
}
