// Kubernetes reports validation failures with field paths in its own names
// (`spec.jvm-options.-Xmx`, `spec.targets[0].weight`); GraphQL clients sent `spec.jvm_options._Xmx`.
// This maps the former to the latter so INVALID causes point at the input the client wrote.
import type { FieldPathMapper } from '../api-errors.ts';
import type { ObjectNode, SchemaNode } from '../model/resource-model.ts';

type Token = { key: string } | { index: number } | { mapKey: string };

function tokenize(path: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < path.length) {
    if (path[i] === '.') {
      i++;
      continue;
    }
    if (path[i] === '[') {
      const end = path.indexOf(']', i);
      if (end < 0) break;
      const inner = path.slice(i + 1, end);
      tokens.push(/^\d+$/.test(inner) ? { index: Number(inner) } : { mapKey: inner.replace(/^"|"$/g, '') });
      i = end + 1;
      continue;
    }
    let j = i;
    while (j < path.length && path[j] !== '.' && path[j] !== '[') j++;
    tokens.push({ key: path.slice(i, j) });
    i = j;
  }
  return tokens;
}

/**
 * A mapper for one version's schema; unknown parts of the path stay as Kubernetes wrote them. A
 * storage key (a conversion failure names `/registry/<group>/<plural>/…` as its field) is no path
 * in the object: it gets none.
 */
export function fieldPathMapper(root: ObjectNode): FieldPathMapper {
  return (field) => {
    if (field.startsWith('/')) return undefined;
    const out: (string | number)[] = [];
    let node: SchemaNode | undefined = root;
    const tokens = tokenize(field);
    for (let t = 0; t < tokens.length; t++) {
      const tok = tokens[t]!;
      if ('index' in tok) {
        out.push(tok.index);
        node = node?.kind === 'array' ? node.items : undefined;
        continue;
      }
      const name = 'key' in tok ? tok.key : tok.mapKey;
      if (node?.kind === 'object') {
        const obj: ObjectNode = node;
        // Property names may themselves contain dots: take the longest run of tokens that names one.
        let matched = false;
        for (let len = tokens.length - t; len >= 1 && !matched; len--) {
          const slice = tokens.slice(t, t + len);
          if (!slice.every((x) => 'key' in x)) continue;
          const candidate = slice.map((x) => (x as { key: string }).key).join('.');
          const prop = obj.properties.find((p) => p.name === candidate);
          if (prop) {
            out.push(prop.graphqlName);
            node = prop.node;
            t += len - 1;
            matched = true;
          }
        }
        if (!matched) {
          out.push(name);
          node = undefined;
        }
      } else if (node?.kind === 'map') {
        out.push(name);
        node = node.values;
      } else {
        out.push(name);
        node = undefined;
      }
    }
    return out;
  };
}
