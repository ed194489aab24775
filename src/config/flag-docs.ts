// --help and the README's flag tables, both rendered from the flag table, grouped alike.
import { envNamesOf, flagGroups, flagNames, flagTable, type FlagGroup, type FlagName } from './flags.ts';

const width = 100;
const column = 28;

function shownDefault(name: FlagName): string {
  const spec = flagTable[name];
  return spec.shownDefault ?? String(spec.default);
}

const plain = (markdown: string) => markdown.replace(/`/g, '');

/** The text after the head, wrapped at the width; continuation lines start at the text column. */
function wrap(head: string, text: string): string {
  const lines: string[] = [];
  let line = head.length < column ? head.padEnd(column) : `${head} `;
  let words = 0;
  for (const word of text.split(' ')) {
    if (words > 0 && line.length + word.length > width) {
      lines.push(line.trimEnd());
      line = ' '.repeat(column);
      words = 0;
    }
    line += `${word} `;
    words++;
  }
  lines.push(line.trimEnd());
  return lines.join('\n');
}

function helpLine(name: FlagName): string {
  const spec = flagTable[name];
  const head = `  --${name}${spec.short ? `, -${spec.short}` : ''} ${spec.value}`;
  return wrap(head, `${plain(spec.meaning)} (env ${envNamesOf(name).join(', ')}; default ${plain(shownDefault(name))})`);
}

export function renderHelp(): string {
  const sections = flagGroups.map((g) => [`  ${g.title}:`, ...flagNames.filter((n) => flagTable[n].group === g.id).map(helpLine)].join('\n'));
  const usage = [
    'usage: crdgate [serve] [options]      run the gateway (serve is the default command)',
    '       crdgate schema <file|dir>...   print the GraphQL schema of CRD files (--help for its options)',
    '       crdgate openapi <file|dir>...  print the OpenAPI document of CRD files (--help for its options)',
    '',
    'Options of serve, grouped as in the README. Flags win over the environment, which wins over the',
    '--config file, which wins over defaults.',
  ].join('\n');
  return `${usage}\n\n${sections.join('\n\n')}\n\n  --help, -h                show this help\n`;
}

/** One README table: the flags of a group. */
export function renderFlagTable(group: FlagGroup): string {
  const rows = flagNames.filter((n) => flagTable[n].group === group).map((n) => {
    const spec = flagTable[n];
    const flags = [`\`--${n}\``, ...(spec.short ? [`\`-${spec.short}\``] : [])].join(', ');
    const env = envNamesOf(n).map((e) => `\`${e}\``).join(', ');
    return `| ${flags} | ${env} | ${shownDefault(n)} | ${spec.meaning} |`;
  });
  return ['| flag | environment | default | meaning |', '| --- | --- | --- | --- |', ...rows].join('\n');
}

const tableBlock = /(<!-- flag-table: ([a-z]+) -->\n)[\s\S]*?(\n<!-- \/flag-table -->)/g;

/** The README with every flag table between its markers rendered anew. */
export function withFlagTables(readme: string): string {
  return readme.replace(tableBlock, (_m, open: string, group: string, close: string) => {
    if (!flagGroups.some((g) => g.id === group)) throw new Error(`README: unknown flag table group "${group}"`);
    return `${open}${renderFlagTable(group as FlagGroup)}${close}`;
  });
}

/** The groups whose tables the README has markers for, in order. */
export function flagTableGroupsIn(readme: string): string[] {
  return [...readme.matchAll(tableBlock)].map((m) => m[2]!);
}
