// The build's progress from recorded go command output (Go 1.26: `go mod download -x`, `go build -n`,
// `go build -v -json`), with a clock and timers the tests move by hand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BuildProgress, formatDuration, statusBar, statusLine, type BuildStatus } from '../../../src/local-cluster/build-progress.ts';
import { moduleZips } from '../../../src/local-cluster/build-launcher.ts';
import { showProgress, type Timers } from '../../../src/local-cluster/progress-display.ts';

// Recorded from `go mod download -x` with an empty module cache.
const DOWNLOAD = `# get https://proxy.golang.org/golang.org/x/sync/@v/v0.16.0.mod
# get https://proxy.golang.org/golang.org/x/sync/@v/v0.16.0.mod: 200 OK (0.022s)
# get https://proxy.golang.org/golang.org/x/sync/@v/v0.16.0.info
# get https://proxy.golang.org/golang.org/x/sync/@v/v0.16.0.info: 200 OK (0.001s)
# get https://proxy.golang.org/golang.org/x/sync/@v/v0.16.0.zip
# get https://proxy.golang.org/golang.org/x/sync/@v/v0.16.0.zip: 200 OK (0.002s)
# get https://proxy.golang.org/github.com/!azure/go-ansiterm/@v/v0.0.0-20250102033503-faa5f7b0171c.zip
# get https://proxy.golang.org/github.com/!azure/go-ansiterm/@v/v0.0.0-20250102033503-faa5f7b0171c.zip: 200 OK (0.310s)
# get https://proxy.golang.org/example.com/gone/@v/v1.0.0.zip: 404 Not Found (0.040s)`.split('\n');

// Recorded from `go build -n` with an empty build cache (two packages; the asm lines are not compiles).
const PLAN = `mkdir -p $WORK/b007/

#
# internal/goarch
#

echo '# import config' > $WORK/b007/importcfg # internal
cd /tmp/small
/usr/local/go/pkg/tool/linux_amd64/compile -o $WORK/b007/_pkg_.a -trimpath "$WORK/b007=>" -p internal/goarch -lang=go1.26 -std -complete -buildid GQqP/GQqP -goversion go1.26.8 -c=2 -nolocalimports -importcfg $WORK/b007/importcfg -pack /usr/local/go/src/internal/goarch/goarch.go
go tool buildid -w $WORK/b007/_pkg_.a # internal
mkdir -p $WORK/b006/

#
# internal/abi
#

/usr/local/go/pkg/tool/linux_amd64/asm -p internal/abi -trimpath "$WORK/b006=>" -I $WORK/b006/ -gensymabis -o $WORK/b006/symabis ./abi_test.s ./stub.s
/usr/local/go/pkg/tool/linux_amd64/compile -o $WORK/b006/_pkg_.a -trimpath "$WORK/b006=>" -p internal/abi -lang=go1.26 -std -buildid Ik7/Ik7 -goversion go1.26.8 -symabis $WORK/b006/symabis -c=2 -nolocalimports -importcfg $WORK/b006/importcfg -pack -asmhdr $WORK/b006/go_asm.h /usr/local/go/src/internal/abi/abi.go
/usr/local/go/pkg/tool/linux_amd64/asm -p internal/abi -trimpath "$WORK/b006=>" -I $WORK/b006/ -o $WORK/b006/stub.o ./stub.s
go tool pack r $WORK/b006/_pkg_.a $WORK/b006/abi_test.o $WORK/b006/stub.o # internal`.split('\n');

// Recorded from `go build -v -json`: a package per event, then a compile error of the main package.
const BUILD_OK = [
  '{"ImportPath":"internal/goarch","Action":"build-output","Output":"internal/goarch\\n"}',
  '{"ImportPath":"internal/abi","Action":"build-output","Output":"internal/abi\\n"}',
];
const BUILD_FAIL = [
  '{"ImportPath":"example.local/small","Action":"build-output","Output":"# example.local/small\\n"}',
  '{"ImportPath":"example.local/small","Action":"build-output","Output":"./main.go:5:2: undefined: nope\\n"}',
  '{"ImportPath":"example.local/small","Action":"build-fail"}',
];

function clock() {
  let t = 1_000;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

test('a download counts the module zips fetched, not their .mod and .info files nor failures', () => {
  const c = clock();
  const p = new BuildProgress(c.now, 3);
  for (const line of DOWNLOAD) p.downloadLine(line);
  c.advance(65_000);
  const s = p.status();
  assert.equal(s.phase, 'downloading');
  assert.deepEqual(s.modules, { done: 2, total: 3 });
  assert.equal(statusLine(s), 'downloading Go modules: 2/3 (66%), 1m05s');
});

test('more zips than expected never show more done than total', () => {
  const p = new BuildProgress(clock().now, 1);
  for (const line of DOWNLOAD) p.downloadLine(line);
  assert.deepEqual(p.status().modules, { done: 2, total: 2 });
});

test('compiling: packages counted from -v -json, the total from -n once it is complete, then linking', () => {
  const c = clock();
  const p = new BuildProgress(c.now, 0);
  p.startCompiling();
  p.buildLine(BUILD_OK[0]!);
  for (const line of PLAN) p.planLine(line);
  // The plan is still running: no total yet.
  assert.equal(p.status().packages.total, undefined);
  assert.equal(statusLine(p.status()), 'compiling: 1 packages so far (counting the rest), 0s');
  p.planDone();
  c.advance(3_000);
  assert.deepEqual(p.status().packages, { done: 1, total: 2 });
  assert.equal(p.status().current, 'internal/goarch');
  assert.equal(statusLine(p.status()), 'compiling: 1/2 packages (50%), 3s');
  p.buildLine(BUILD_OK[1]!);
  assert.equal(p.status().phase, 'linking');
  assert.equal(statusLine(p.status()), 'linking (2 packages compiled), 3s');
  p.finish();
  assert.equal(statusLine(p.status()), 'built in 3s');
  assert.equal(p.diagnostics(), '');
});

test('a warm build cache: nothing to compile, straight to linking', () => {
  const p = new BuildProgress(clock().now, 0);
  assert.equal(statusLine(p.status()), 'checking Go modules, 0s');
  p.startCompiling();
  p.planLine('touch ./test/cluster/bin/crdgate-cluster');
  p.planDone();
  assert.equal(p.status().phase, 'linking');
  assert.equal(statusLine(p.status()), 'linking (every package is in the build cache), 0s');
});

test('compiler errors and stray text are kept for the failure message; package names are not', () => {
  const p = new BuildProgress(clock().now, 0);
  p.startCompiling();
  for (const line of [...BUILD_OK, ...BUILD_FAIL, 'go: some early problem']) p.buildLine(line);
  assert.equal(p.status().packages.done, 2);
  assert.equal(p.diagnostics(), '# example.local/small\n./main.go:5:2: undefined: nope\ngo: some early problem');
});

test('durations read as seconds, then minutes and seconds', () => {
  assert.equal(formatDuration(999), '0s');
  assert.equal(formatDuration(59_999), '59s');
  assert.equal(formatDuration(60_000), '1m00s');
  assert.equal(formatDuration(630_400), '10m30s');
});

const compiling = (done: number, total: number | undefined, elapsedMs = 125_000): BuildStatus =>
  ({ phase: 'compiling', elapsedMs, modules: { done: 0, total: 0 }, packages: { done, total }, current: 'k8s.io/apiserver/pkg/server' });

test('the terminal bar fills with the share done and fits the terminal', () => {
  assert.equal(statusBar(compiling(1356, 2713), 120), '[###########.............] 1356/2713 packages compiled  2m05s  k8s.io/apiserver/pkg/server');
  assert.equal(statusBar(compiling(0, 2713), 120).slice(0, 26), `[${'.'.repeat(24)}]`);
  assert.equal(statusBar(compiling(2713, 2713), 120).slice(0, 26), `[${'#'.repeat(24)}]`);
  assert.equal(statusBar(compiling(12, undefined), 120), '[                        ] 12 packages compiled (counting)  2m05s  k8s.io/apiserver/pkg/server');
  const narrow = statusBar(compiling(1356, 2713), 40);
  assert.equal(narrow.length, 39);
  assert.ok(narrow.endsWith('…'));
  const download: BuildStatus = { phase: 'downloading', elapsedMs: 5_000, modules: { done: 44, total: 176 }, packages: { done: 0, total: undefined }, current: undefined };
  assert.equal(statusBar(download, 120), '[######..................] 44/176 Go modules downloaded  5s');
});

/** Timers moved by hand: advance() runs every due callback in order. */
function fakeTimers(c: ReturnType<typeof clock>) {
  const intervals = new Map<number, { fn: () => void; ms: number; next: number }>();
  let id = 0;
  const timers: Timers = {
    setInterval: (fn, ms) => {
      intervals.set(++id, { fn, ms, next: c.now() + ms });
      return id;
    },
    clearInterval: (handle) => void intervals.delete(handle as number),
  };
  const advance = (ms: number) => {
    const end = c.now() + ms;
    for (;;) {
      const due = [...intervals.values()].filter((i) => i.next <= end).sort((a, b) => a.next - b.next)[0];
      if (!due) break;
      c.advance(due.next - c.now());
      due.next += due.ms;
      due.fn();
    }
    c.advance(end - c.now());
  };
  return { timers, advance, active: () => intervals.size };
}

test('without a terminal: a line when work starts, then one every 15 s, none after stop', () => {
  const c = clock();
  const t = fakeTimers(c);
  const p = new BuildProgress(c.now, 2);
  const lines: string[] = [];
  const display = showProgress(() => p.status(), { lines: (l) => lines.push(l) }, { timers: t.timers });
  t.advance(1_000);
  assert.deepEqual(lines, ['downloading Go modules: 0/2 (0%), 1s']);
  p.downloadLine(DOWNLOAD[5]!);
  t.advance(9_000);
  assert.equal(lines.length, 1, 'nothing new before 15 s');
  p.startCompiling();
  for (const line of PLAN) p.planLine(line);
  p.planDone();
  t.advance(1_000);
  assert.deepEqual(lines.slice(1), ['compiling: 0/2 packages (0%), 11s']);
  p.buildLine(BUILD_OK[0]!);
  t.advance(15_000);
  assert.deepEqual(lines.slice(2), ['compiling: 1/2 packages (50%), 26s']);
  t.advance(30_000);
  assert.deepEqual(lines.slice(3), ['compiling: 1/2 packages (50%), 41s', 'compiling: 1/2 packages (50%), 56s']);
  display.stop();
  assert.equal(t.active(), 0);
  t.advance(60_000);
  assert.equal(lines.length, 5);
});

test('a quick build with everything cached writes no line', () => {
  const c = clock();
  const t = fakeTimers(c);
  const p = new BuildProgress(c.now, 0);
  const lines: string[] = [];
  const display = showProgress(() => p.status(), { lines: (l) => lines.push(l) }, { timers: t.timers });
  t.advance(2_000);
  p.startCompiling();
  p.planDone();
  t.advance(5_000);
  display.stop();
  assert.deepEqual(lines, []);
});

test('on a terminal: the line is redrawn in place, and cleared at the end', () => {
  const c = clock();
  const t = fakeTimers(c);
  const p = new BuildProgress(c.now, 0);
  p.startCompiling();
  let screen = '';
  const display = showProgress(() => p.status(), { terminal: { write: (s: string) => (screen += s), columns: 100 } }, { timers: t.timers, redrawMs: 200 });
  assert.equal(screen, '\r\x1b[K[                        ] 0 packages compiled (counting)  0s');
  p.buildLine(BUILD_OK[0]!);
  t.advance(200);
  assert.ok(screen.endsWith('\r\x1b[K[                        ] 1 packages compiled (counting)  0s  internal/goarch'), JSON.stringify(screen));
  display.stop();
  assert.ok(screen.endsWith('\r\x1b[K'));
  assert.equal(t.active(), 0);
});

test('a terminal that reports no width gets 80 columns, not an empty line', () => {
  const p = new BuildProgress(clock().now, 0);
  p.startCompiling();
  let screen = '';
  const t = fakeTimers(clock());
  showProgress(() => p.status(), { terminal: { write: (s: string) => (screen += s), columns: 0 } }, { timers: t.timers }).stop();
  assert.match(screen, /^\r\x1b\[K\[ +\] 0 packages compiled \(counting\) {2}0s\r\x1b\[K$/);
});

test('the module zips go.mod requires, after replace directives, spelt as the module cache spells them', () => {
  assert.deepEqual(moduleZips({
    Require: [
      { Path: 'github.com/Azure/go-ansiterm', Version: 'v0.0.0-20250102033503-faa5f7b0171c' },
      { Path: 'k8s.io/api', Version: 'v0.0.0' },
      { Path: 'example.com/local', Version: 'v1.0.0' },
      { Path: 'example.com/pinned', Version: 'v1.0.0' },
    ],
    Replace: [
      { Old: { Path: 'k8s.io/api' }, New: { Path: 'k8s.io/api', Version: 'v0.37.2' } },
      { Old: { Path: 'example.com/local' }, New: { Path: '../local' } },
      { Old: { Path: 'example.com/pinned', Version: 'v0.9.0' }, New: { Path: 'example.com/other', Version: 'v2.0.0' } },
    ],
  }), [
    'github.com/!azure/go-ansiterm/@v/v0.0.0-20250102033503-faa5f7b0171c.zip',
    'k8s.io/api/@v/v0.37.2.zip',
    'example.com/pinned/@v/v1.0.0.zip',
  ]);
});
