// A V8 CPU profile (node:inspector) as the few lines a benchmark report needs: the functions with
// the most self time, and self time by package or source file.

export interface CpuProfile {
  nodes: { callFrame: { url: string; functionName: string; lineNumber: number }; hitCount?: number }[];
}

export function summarizeProfile(profile: CpuProfile, top = 15): string {
  const self = new Map<string, number>();
  // Function names such as "(garbage collector)" hold spaces: the file of a key is kept apart.
  const fileOf = new Map<string, string>();
  let total = 0;
  for (const node of profile.nodes) {
    const f = node.callFrame;
    const file = f.url.replace(/^.*\/node_modules\//, '').replace(/^file:\/\/.*\/(src|scripts)\//, '$1/');
    const key = `${f.functionName || '(anonymous)'} ${file}${f.url ? `:${f.lineNumber + 1}` : ''}`;
    fileOf.set(key, file);
    self.set(key, (self.get(key) ?? 0) + (node.hitCount ?? 0));
    total += node.hitCount ?? 0;
  }
  const pct = (n: number) => `${((100 * n) / total).toFixed(1)}%`;
  const byPackage = new Map<string, number>();
  for (const [key, n] of self) {
    const file = fileOf.get(key)!;
    const pkg = /^(src|scripts)\//.test(file) ? file.split(':')[0]!
      : !file ? key.trim()
        : file.startsWith('@') ? file.split('/').slice(0, 2).join('/') : file.split('/')[0]!.split(':')[0]!;
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + n);
  }
  const lines = (m: Map<string, number>, n: number) => [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, n).map(([key, v]) => `- ${pct(v)} ${key}`).join('\n');
  return `Top self time:\n\n${lines(self, top)}\n\nBy package or file:\n\n${lines(byPackage, 10)}\n`;
}
