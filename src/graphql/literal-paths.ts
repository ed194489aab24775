// Where in an argument a bad inline value is. graphql-js names the path of a bad value in a
// variable ("Variable "$o" got invalid value "x" at "o.spec.replicas"; …") but reports the same
// value written inline with the scalar's message and its location only, which in a large input
// object leaves the client counting braces. Validation stays graphql-js' own (document-validation.ts
// reports what validate() reports); the transports hand its errors through here, so a value
// inline and the same value in a variable both say where they are.
import { GraphQLError, Kind, visit, type ASTNode, type DocumentNode, type ValueNode } from 'graphql';

/** The argument (or variable default) a value is in, and the path inside it: ['input', 'spec', 'replicas']. */
interface LiteralPlace {
  readonly owner: string;
  readonly path: readonly (string | number)[];
}

const withPaths = new WeakMap<readonly GraphQLError[], readonly GraphQLError[]>();

/**
 * The errors, those about a value inline (a literal, or a field of an input object) with the
 * path of that value in their message; the same array when none is. Remembered per array: the
 * validation results of a document are.
 */
export function withLiteralPaths(document: DocumentNode, errors: readonly GraphQLError[]): readonly GraphQLError[] {
  if (errors.length === 0) return errors;
  let result = withPaths.get(errors);
  if (!result) withPaths.set(errors, (result = placed(document, errors)));
  return result;
}

function placed(document: DocumentNode, errors: readonly GraphQLError[]): readonly GraphQLError[] {
  const places = literalPlaces(document);
  let changed = false;
  const out = errors.map((e) => {
    const node = e.nodes?.length === 1 ? e.nodes[0] : undefined;
    const place = node && places.get(node);
    if (!place) return e;
    changed = true;
    return new GraphQLError(`${describe(place)}: ${e.message}`, { nodes: e.nodes, originalError: e.originalError ?? e, extensions: e.extensions });
  });
  return changed ? out : errors;
}

function describe({ owner, path }: LiteralPlace): string {
  const at = path.length > 1 ? ` at "${printPath(path)}"` : '';
  return owner.startsWith('$') ? `Variable "${owner}" has an invalid default value${at}` : `Argument "${owner}" has an invalid value${at}`;
}

/** As graphql-js prints a variable's path: `o.spec.replicas`, `o.items[1]`. */
function printPath(path: readonly (string | number)[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

/** Every value node inside an argument or a variable's default value, and every input object field, with its place. */
function literalPlaces(document: DocumentNode): Map<ASTNode, LiteralPlace> {
  const places = new Map<ASTNode, LiteralPlace>();
  const walk = (owner: string, root: ValueNode, first: string) => {
    // Its own stack: an input value nests as deep as the document lets it.
    const stack: [ValueNode, (string | number)[]][] = [[root, [first]]];
    while (stack.length) {
      const [node, path] = stack.pop()!;
      places.set(node, { owner, path });
      if (node.kind === Kind.LIST) node.values.forEach((v, i) => stack.push([v, [...path, i]]));
      else if (node.kind === Kind.OBJECT) {
        for (const field of node.fields) {
          const fieldPath = [...path, field.name.value];
          places.set(field, { owner, path: fieldPath });
          stack.push([field.value, fieldPath]);
        }
      }
    }
  };
  visit(document, {
    Argument: (node) => {
      walk(node.name.value, node.value, node.name.value);
      return false;
    },
    VariableDefinition: (node) => {
      if (node.defaultValue) walk(`$${node.variable.name.value}`, node.defaultValue, node.variable.name.value);
      return false;
    },
  });
  return places;
}
