// "Did you mean …?" for a misspelt flag, config file key or command: the closest known name by
// edit distance, offered only when it is close enough to be the likely intent.
import { distance } from 'fastest-levenshtein';

/** The known name nearest to `given`, or undefined when none is plausibly what was meant. */
export function nearestName(given: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const name of known) {
    const d = distance(given.toLowerCase(), name);
    if (d < bestDistance) [best, bestDistance] = [name, d];
  }
  // A third of the longer name (at least 2 edits): `--prot` → `--port`, `--max-dept` → `--max-depth`,
  // but `--colour` suggests nothing rather than an unrelated flag.
  if (best === undefined || bestDistance > Math.max(2, Math.floor(Math.max(given.length, best.length) / 3))) {
    // A prefix of exactly one name is an abbreviation (`--metrics` is not one: two names start so).
    const prefixed = known.filter((n) => given.length >= 3 && n.startsWith(given.toLowerCase()));
    return prefixed.length === 1 ? prefixed[0] : undefined;
  }
  return best;
}

/** " (did you mean X?)" or nothing. */
export function didYouMean(given: string, known: readonly string[], show: (name: string) => string = (n) => n): string {
  const near = nearestName(given, known);
  return near === undefined ? '' : `; did you mean ${show(near)}?`;
}
