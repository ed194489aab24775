// The document rules run in parallel through visitInParallelByNeed (handlers looked up per kind of
// node when first needed) and leave out the variable rules for a document without variables. Both
// must be invisible: the visitor makes the same calls with the same results as graphql-js'
// visitInParallel, and on the real-CRD corpus's schema validateDocument reports exactly what
// graphql-js' validate() reports with the same rules, for documents with values inline, with
// variables defined, undefined, unused and in the wrong place, in operations and fragments.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  BREAK, buildSchema, getNamedType, isEnumType, isInputObjectType, isLeafType, isListType, isNonNullType, isObjectType, Kind, parse, specifiedRules, validate, visit, visitInParallel,
  type ASTNode, type ASTVisitor, type GraphQLField, type GraphQLInputType, type GraphQLSchema, type ValidationRule,
} from 'graphql';
import { hasVariableNode, validateDocument, visitInParallelByNeed } from '../../../src/graphql/document-validation.ts';
import { buildGraphQLSchema } from '../../../src/graphql/schema-builder.ts';
import { parseCrdText } from '../../../src/cli/crd-documents.ts';
import { limitRules, defaultQueryLimits } from '../../../src/plugins/query-limits.ts';
import { corpusAvailable, corpusDir, crdFiles } from '../../helpers/crd-corpus.ts';
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

const sample = parse(`
  query Q($a: Int = 1, $b: [String!]) @dir(x: $a) {
    one: field(arg: { x: [1, 2, $b], y: "s" }) { ...F ... on T @skip(if: true) { a b } }
    two { three(z: ENUM) }
  }
  fragment F on T { a(b: null) c }
  mutation { m(input: { name: "n", list: [1.5, false] }) }
`);

type Action = 'none' | 'false' | 'break' | 'edit';

/** Visitors in the three shapes graphql-js accepts, each recording its calls and answering as the plan says. */
function recordingVisitors(plan: (visitor: number, phase: string, node: ASTNode) => Action, log: string[]): ASTVisitor[] {
  const describe = (node: ASTNode) => `${node.kind}:${'value' in node ? String(node.value) : 'name' in node && node.name ? node.name.value : ''}`;
  const handler = (i: number, phase: string) => function (this: unknown, node: ASTNode, key: unknown, _parent: unknown, path: readonly unknown[]) {
    log.push(`${i} ${phase} ${describe(node)} ${String(key)} ${path.join('.')}`);
    const action = plan(i, phase, node);
    if (action === 'false') return false;
    if (action === 'break') return BREAK;
    if (action === 'edit') return { ...node, edited: i } as unknown as ASTNode;
    return undefined;
  };
  return [
    { enter: handler(0, 'enter'), leave: handler(0, 'leave') },
    { Field: handler(1, 'enter'), Name: { enter: handler(1, 'enter'), leave: handler(1, 'leave') }, ObjectValue: { leave: handler(1, 'leave') } },
    { OperationDefinition: handler(2, 'enter'), SelectionSet: { enter: handler(2, 'enter'), leave: handler(2, 'leave') }, Variable: handler(2, 'enter') },
    {},
    { Argument: { leave: handler(4, 'leave') }, FragmentDefinition: handler(4, 'enter'), StringValue: handler(4, 'enter') },
  ];
}

describe('visitInParallelByNeed', () => {
  it('makes the calls graphql-js\' visitInParallel makes, with the same skipping, breaks, edits and result', () => {
    const actions: Action[] = ['none', 'none', 'none', 'none', 'false', 'break', 'edit'];
    fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 30 }), (seed) => {
      // The same deterministic plan for both runs: an action per visitor, phase and node.
      const plan = (visitor: number, phase: string, node: ASTNode) => {
        const text = `${seed}:${visitor}:${phase}:${node.kind}:${'value' in node ? String(node.value) : ''}:${node.loc?.start ?? ''}`;
        let h = 0;
        for (let i = 0; i < text.length; i++) h = (h * 31 + text.charCodeAt(i)) | 0;
        return actions[Math.abs(h) % actions.length]!;
      };
      const theirs: string[] = [];
      const ours: string[] = [];
      const expected = visit(sample, visitInParallel(recordingVisitors(plan, theirs)));
      const actual = visit(sample, visitInParallelByNeed(recordingVisitors(plan, ours)));
      assert.deepEqual(ours, theirs);
      assert.deepEqual(actual, expected);
    }), { numRuns: 300 });
  });
});

describe('hasVariableNode', () => {
  it('finds a variable anywhere in a document, and none in one without', () => {
    assert.equal(hasVariableNode(sample), true);
    assert.equal(hasVariableNode(parse('{ a(b: { c: [1, { d: "$e" }] }) @include(if: true) { ...F } } fragment F on T { x }')), false);
    for (const text of ['query ($v: Int) { a }', '{ a(b: $c) }', '{ a(b: { c: [[$d]] }) }', '{ a @skip(if: $s) }', 'fragment F on T { a(b: $c) }',
      '{ ... on T @include(if: $i) { a } }', '{ ...F @skip(if: $s) }', 'query ($v: Int = 1) { a }']) {
      assert.equal(hasVariableNode(parse(text)), true, text);
    }
  });
});

/** Documents on the schema's own root fields: arguments inline (valid or not) or as variables (defined, undefined, unused, mistyped). */
function documentOn(schema: GraphQLSchema): fc.Arbitrary<string> {
  const roots = [schema.getQueryType()!, schema.getMutationType()!];
  const fields = roots.flatMap((root) => Object.values(root.getFields()).filter((f) => f.args.length).map((f) => [root === roots[0] ? 'query' : 'mutation', f] as const));
  // A value the type accepts (required fields of input objects included), or one it may refuse.
  const validLiteral = (type: GraphQLInputType, depth: number): string => {
    if (isNonNullType(type)) return validLiteral(type.ofType, depth);
    if (isListType(type)) return `[${validLiteral(type.ofType, depth)}]`;
    if (isEnumType(type)) return type.getValues()[0]!.name;
    if (isInputObjectType(type)) {
      if (depth > 3) return '{}';
      const required = Object.values(type.getFields()).filter((f) => isNonNullType(f.type) && f.defaultValue === undefined);
      return `{ ${required.map((f) => `${f.name}: ${validLiteral(f.type, depth + 1)}`).join(', ')} }`;
    }
    return ({ Int: '1', Float: '1.5', Boolean: 'true' } as Record<string, string>)[(type as { name: string }).name] ?? '"text"';
  };
  const otherLiteral = (pick: number) => ['"text"', '3', 'true', 'null', '[1, 2]', '1.5', 'NAME', '{ a: 1 }'][pick % 8]!;
  const selectionOf = (field: GraphQLField<unknown, unknown>, pick: number): string => {
    const named = getNamedType(field.type);
    if (isLeafType(named)) return '';
    if (!isObjectType(named)) return '{ __typename }';
    const leaves = Object.values(named.getFields()).filter((f) => isLeafType(getNamedType(f.type)) && !f.args.some((a) => a.type.toString().endsWith('!')));
    const some = leaves.slice(0, 1 + (pick % 3)).map((f) => f.name).join(' ');
    return pick % 4 === 0 ? `{ ...Frag }` : `{ __typename ${some} }`;
  };
  return fc.record({
    field: fc.constantFrom(...fields),
    ways: fc.array(fc.nat(20), { minLength: 1, maxLength: 4 }),
    unused: fc.nat(5).map((n) => n === 0),
    pick: fc.nat(100),
    fragmentVariable: fc.boolean(),
  }).map(({ field: [kind, field], ways, unused, pick, fragmentVariable }) => {
    const defs: string[] = [];
    const args = field.args.flatMap((arg, i) => {
      const way = ways[i % ways.length]!;
      if (!isNonNullType(arg.type) && way % 3) return [];
      if (way < 12) return [`${arg.name}: ${validLiteral(arg.type, 0)}`];
      if (way < 14) return [`${arg.name}: ${otherLiteral(pick + i)}`];
      if (way < 17) { defs.push(`$v${i}: ${String(arg.type)}`); return [`${arg.name}: $v${i}`]; }
      if (way < 18) { defs.push(`$v${i}: Boolean`); return [`${arg.name}: $v${i}`]; }
      if (way < 19) return [`${arg.name}: $undefined${i}`];
      defs.push(`$v${i}: String`);
      return [`${arg.name}: [$v${i}]`];
    });
    if (unused) defs.push('$unused: Int');
    const named = getNamedType(field.type);
    const selection = selectionOf(field, pick);
    const fragment = selection.includes('...Frag')
      ? `\nfragment Frag on ${named.name} { __typename${fragmentVariable ? ' @include(if: $flag)' : ''} }` : '';
    if (fragment && fragmentVariable && pick % 2) defs.push('$flag: Boolean!');
    return `${kind}${defs.length ? ` (${defs.join(', ')})` : ''} { ${field.name}${args.length ? `(${args.join(', ')})` : ''} ${selection} }${fragment}`;
  });
}

describe('validateDocument as validate() ends', () => {
  const schema = buildSchema('type Query { a(x: Int): String, b: Query }');
  const same = (text: string) => {
    const expected = validate(schema, parse(text)).map((e) => e.toJSON());
    assert.deepEqual(validateDocument(schema, parse(text)).map((e) => e.toJSON()), expected);
    return expected;
  };
  it('stops at the same limit of errors', () => {
    const errors = same(`{ ${Array.from({ length: 150 }, (_, i) => `u${i}`).join(' ')} }`);
    assert.equal(errors.length, 101);
    assert.match(errors[100]!.message, /error limit reached/);
  });
  it('ends with graphql-js\' "Validation aborted." when the overlapping-fields check runs out of its budget', () => {
    const errors = same(`{ ${Array.from({ length: 1100 }, (_, i) => `a(x: ${i % 2})`).join(' ')} }`);
    assert.equal(errors.at(-1)!.message, 'Validation aborted.');
  });
});

describe('validateDocument on the CRD corpus', () => {
  it('reports what graphql-js\' validate reports, with the query limits, suggestions on and off', (t) => {
    if (!corpusAvailable(t)) return;
    const models = crdFiles(corpusDir).flatMap((path) => parseCrdText(relative(corpusDir, path), readFileSync(path, 'utf8')).flatMap((f) => ('model' in f ? [f.model] : [])));
    const schema = buildGraphQLSchema(models).schema;
    const extra = limitRules({ maxDepth: 4, maxAliases: 1, maxDirectives: 1 }) as ValidationRule[];
    let inline = 0;
    let withErrors = 0;
    fc.assert(fc.property(documentOn(schema), fc.boolean(), fc.nat(3).map((n) => n === 0), (text, hide, limits) => {
      const document = parse(text);
      const rules = limits ? extra : [];
      const expected = validate(schema, document, [...specifiedRules, ...rules], { hideSuggestions: hide }).map((e) => e.toJSON());
      assert.deepEqual(validateDocument(schema, document, { rules, hideSuggestions: hide }).map((e) => e.toJSON()), expected, text);
      if (!hasVariableNode(document)) inline++;
      if (expected.length) withErrors++;
    }), { numRuns: 400 });
    // Both kinds of documents and both outcomes were reached.
    assert.ok(inline > 50 && inline < 350, `${inline} of 400 documents without variables`);
    assert.ok(withErrors > 50 && withErrors < 350, `${withErrors} of 400 documents with errors`);
    // The defaults of the limits, as the gateway runs them.
    const text = `mutation { ${Object.keys(schema.getMutationType()!.getFields())[1]}(name: "x") { __typename } }`;
    assert.deepEqual(validateDocument(schema, parse(text), { rules: limitRules(defaultQueryLimits) as ValidationRule[] }).map(String),
      validate(schema, parse(text), [...specifiedRules, ...limitRules(defaultQueryLimits) as ValidationRule[]]).map(String));
  });
});
