// fast-check arbitraries for what a careless or hostile client sends: strings a parser chokes on,
// JSON of every shape, GraphQL documents generated over the example CRDs' root fields and then
// mutated token by token, Kubernetes selectors, resourceVersions and continue tokens, patch
// documents of the three kinds, and Authorization headers.
import fc from 'fast-check';

/** Strings that have broken parsers before: empty, NUL, lone surrogates, huge, path tricks. */
export const nastyStrings = [
  '', ' ', '\u0000', '\ud800', '\udfff', '\uffff', '💥', '\r\n', '\\', '"', '\'', '`', '{', '}', '[', ']', '$', '@', '#',
  'null', 'undefined', 'NaN', 'true', '-0', '1e309', '9007199254740993', '-9223372036854775809', '0x1F',
  '__proto__', 'constructor', 'prototype', 'toString', '../../etc/passwd', '%00', '%2e%2e%2f', '%', '%zz',
  '${jndi:ldap://x}', '<script>alert(1)</script>', '\u202e', 'a'.repeat(5000), '\u0000'.repeat(100), '💥'.repeat(2000),
];

export const garbageString = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 64 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 64 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 32 }) },
  { weight: 2, arbitrary: fc.constantFrom(...nastyStrings) },
);

/** Any JSON value, with the awkward numbers and strings mixed in. */
export const anyJson: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 4 }) },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(null, 0, -0, 1e308, -1e308, 2 ** 53 + 2, -(2 ** 63), 0.1, [], {}, [[[[[]]]]]) },
  { weight: 1, arbitrary: garbageString },
  { weight: 1, arbitrary: fc.dictionary(fc.constantFrom('__proto__', 'constructor', 'prototype', 'toJSON', 'valueOf', 'spec', 'metadata'), fc.jsonValue({ maxDepth: 2 })) },
);

/** JSON nested deeper than any reasonable client would send. */
export const deepJson = fc.integer({ min: 50, max: 3000 }).map((n) => JSON.parse(`${'['.repeat(n)}${']'.repeat(n)}`) as unknown);

/** Label selectors: valid ones, near misses and junk. */
export const labelSelector = fc.oneof(
  fc.constantFrom('app=web', 'app!=web', 'app in (a,b)', 'app notin (a)', '!app', 'app', 'a=b,c!=d', 'app in ()', 'app=', '=web',
    'app==web', 'app in (a', 'a/b/c=d', 'x'.repeat(70) + '=y', 'app=' + 'v'.repeat(70), ',', 'app=web,', 'in (a)', 'app in (a,,b)'),
  fc.array(fc.tuple(fc.constantFrom('app', 'tier', 'k8s.io/x', 'Ä', 'a b', ''), fc.constantFrom('=', '!=', '==', ' in ', ' notin ', ''), garbageString))
    .map((parts) => parts.map(([k, op, v]) => `${k}${op}${v}`).join(',')),
  garbageString,
);

/** Field selectors: the fields Kubernetes supports for custom resources, others, and junk. */
export const fieldSelector = fc.oneof(
  fc.constantFrom('metadata.name=x', 'metadata.namespace!=y', 'spec.replicas=1', 'metadata.uid=1', 'status.phase=Running', 'metadata.name',
    'metadata.name==x', 'metadata.name=x,metadata.name=y', '=x', 'metadata.name in (a)', 'spec.cronSpec=*'),
  fc.tuple(fc.constantFrom('metadata.name', 'metadata.namespace', 'spec.cronSpec', 'x', ''), fc.constantFrom('=', '!=', '==', ''), garbageString)
    .map(([k, op, v]) => `${k}${op}${v}`),
  garbageString,
);

/** resourceVersions and continue tokens: numbers (old, huge, negative), base64 of JSON, junk. */
export const resourceVersion = fc.oneof(
  fc.constantFrom('0', '1', '-1', '00', '1.5', '99999999999999999999999', '18446744073709551616', ' 1', 'abc', '', '0x10'),
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(String),
  garbageString,
);

export const continueToken = fc.oneof(
  fc.constantFrom('', 'abc', '=', 'eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MSwic3RhcnQiOiJhIn0', 'eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6LTEsInN0YXJ0IjoiIn0='),
  fc.record({ v: fc.constantFrom('meta.k8s.io/v1', 'x', ''), rv: fc.oneof(fc.integer(), fc.constant(-1), fc.string()), start: garbageString })
    .map((o) => Buffer.from(JSON.stringify(o)).toString('base64url')),
  fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b).toString('base64')),
  garbageString,
);

/** JSON patch (RFC 6902) operations, well-formed or not. */
export const jsonPatchOp = fc.record({
  op: fc.oneof(fc.constantFrom('add', 'remove', 'replace', 'move', 'copy', 'test'), garbageString),
  path: fc.oneof(fc.constantFrom('/spec/replicas', '/spec/cronSpec', '/metadata/labels/a', '/metadata/name', '/', '', '/spec/~2', '/spec/-', '/metadata/labels/a~1b', '/status'), garbageString),
  value: anyJson,
  from: fc.oneof(fc.constantFrom('/spec/replicas', '/metadata/labels'), garbageString),
}, { requiredKeys: [] });

/** A merge patch or apply configuration shaped like a CronTab, with wrong types mixed in. */
export const objectPatch = fc.record({
  apiVersion: fc.oneof(fc.constant('stable.example.com/v1'), garbageString),
  kind: fc.oneof(fc.constant('CronTab'), garbageString),
  metadata: fc.oneof(fc.record({
    name: fc.oneof(fc.constant('fuzz-target'), garbageString),
    labels: fc.oneof(fc.dictionary(garbageString, fc.oneof(garbageString, anyJson), { maxKeys: 4 }), anyJson),
    annotations: fc.dictionary(garbageString, garbageString, { maxKeys: 3 }),
    resourceVersion: resourceVersion,
    finalizers: fc.array(garbageString, { maxLength: 3 }),
  }, { requiredKeys: [] }), anyJson),
  spec: fc.oneof(fc.record({
    cronSpec: fc.oneof(fc.constant('* * * * *'), garbageString, anyJson),
    image: fc.oneof(garbageString, anyJson),
    replicas: fc.oneof(fc.integer({ min: -5, max: 20 }), fc.constantFrom(2 ** 53, -(2 ** 63), 1.5, '3', 1e309 as number), anyJson),
  }, { requiredKeys: [] }), anyJson),
  status: anyJson,
}, { requiredKeys: [] });

/** Root fields of the example schema with their arguments, to generate documents that parse. */
const rootFields: Record<'query' | 'mutation' | 'subscription', { name: string; args: string[]; selection: string }[]> = {
  query: [
    { name: 'cronTab_stable_example_com', args: ['namespace', 'name'], selection: '{ metadata { name resourceVersion labels } spec { cronSpec replicas } }' },
    { name: 'cronTabList_stable_example_com', args: ['namespace', 'labelSelector', 'fieldSelector', 'limit', 'continue', 'first', 'after', 'resourceVersion'], selection: '{ edges { node { metadata { name } } } pageInfo { endCursor hasNextPage } }' },
    { name: 'cronTab_Scale_stable_example_com', args: ['namespace', 'name'], selection: '{ spec { replicas } }' },
    { name: 'clusterCronTabList_stable_example_com', args: ['labelSelector', 'limit'], selection: '{ edges { cursor } }' },
    { name: 'apiResources', args: [], selection: '{ kind plural versions { name } }' },
  ],
  mutation: [
    { name: 'createCronTab_stable_example_com', args: ['namespace', 'input', 'dryRun', 'fieldManager'], selection: '{ metadata { name } }' },
    { name: 'patchCronTab_stable_example_com', args: ['namespace', 'name', 'type', 'patch', 'jsonPatch', 'fieldManager', 'force', 'dryRun'], selection: '{ metadata { resourceVersion } }' },
    { name: 'scaleCronTab_stable_example_com', args: ['namespace', 'name', 'replicas', 'resourceVersion', 'dryRun'], selection: '{ spec { replicas } }' },
    { name: 'deleteCronTab_stable_example_com', args: ['namespace', 'name', 'dryRun'], selection: '{ __typename }' },
  ],
  subscription: [
    { name: 'watchCronTab_stable_example_com', args: ['namespace', 'labelSelector', 'resourceVersion', 'sendInitialEvents'], selection: '{ type object { metadata { name } } }' },
  ],
};

/** GraphQL literals, valid and not, for any argument. */
const literal: fc.Arbitrary<string> = fc.letrec<{ value: string }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.integer().map(String),
    fc.constantFrom('1e400', '-0', '99999999999999999999', '0.5', 'true', 'null', 'MERGE', 'JSON', 'APPLY', 'STRATEGIC', 'NOPE', '$v', '"""block"""', '"\\u0000"', '"\\uD800"'),
    garbageString.map((s) => JSON.stringify(s)),
    fc.array(tie('value'), { maxLength: 3 }).map((xs) => `[${xs.join(', ')}]`),
    fc.array(fc.tuple(fc.constantFrom('spec', 'metadata', 'replicas', 'op', 'path', 'value', 'name', '__proto__', 'x'), tie('value')), { maxLength: 3 })
      .map((kv) => `{ ${kv.map(([k, v]) => `${k}: ${v}`).join(', ')} }`),
  ),
})).value;

/** Documents over the real root fields with random literal arguments, aliases and directives. */
export const generatedDocument = fc.constantFrom('query', 'mutation', 'subscription' as const).chain((op) =>
  fc.array(fc.record({
    field: fc.constantFrom(...rootFields[op]),
    alias: fc.option(fc.constantFrom('a', 'b', '__typename', 'x1'), { nil: undefined }),
    args: fc.array(fc.tuple(fc.constantFrom('namespace', 'name', 'limit', 'labelSelector', 'fieldSelector', 'continue', 'type', 'patch', 'jsonPatch', 'input', 'dryRun', 'replicas', 'resourceVersion', 'bogus'), literal), { maxLength: 5 }),
    directive: fc.constantFrom('', ' @skip(if: false)', ' @include(if: $x)', ' @deprecated', ' @nope'),
    withSelection: fc.boolean(),
  }), { minLength: 1, maxLength: 3 }).map((sels) => `${op} Fuzz${sels.some((s) => s.directive.includes('$x')) ? '($x: Boolean)' : ''} { ${sels.map((s) =>
    `${s.alias ? `${s.alias}: ` : ''}${s.field.name}${s.args.length ? `(${s.args.map(([k, v]) => `${k}: ${v}`).join(', ')})` : ''}${s.directive} ${s.withSelection ? s.field.selection : ''}`).join(' ')} }`));

const tokens = ['{', '}', '(', ')', '[', ']', ':', '!', '$', '$x', '=', '@', '...', '|', '&', '"', '"""', '#', ',', '\n', 'query', 'mutation',
  'subscription', 'fragment', 'on', 'F', 'Int', 'String!', 'null', '1', '-', '1.', '"\\u{1F}"', '\u0000', '\ufeff', '__schema', '__type(name: "Query")',
  'cronTab_stable_example_com', 'metadata', 'spec', 'edges', 'node', '...F', 'fragment F on Query { __typename }', '{'.repeat(200), '"'.repeat(3)];

/** A text with random edits: cut a range, insert tokens, duplicate a slice. */
export function mutatedText(base: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.tuple(base, fc.array(fc.tuple(fc.nat(), fc.nat({ max: 40 }), fc.constantFrom('cut', 'insert', 'dup'), fc.constantFrom(...tokens)), { minLength: 1, maxLength: 6 }))
    .map(([text, edits]) => edits.reduce((t, [at, len, kind, token]) => {
      const i = t.length ? at % (t.length + 1) : 0;
      if (kind === 'cut') return t.slice(0, i) + t.slice(i + len);
      if (kind === 'insert') return t.slice(0, i) + token + t.slice(i);
      return t.slice(0, i) + t.slice(i, i + len) + t.slice(i);
    }, text));
}

export const graphqlDocument = fc.oneof(
  { weight: 3, arbitrary: generatedDocument },
  { weight: 3, arbitrary: mutatedText(generatedDocument) },
  { weight: 1, arbitrary: garbageString },
  { weight: 1, arbitrary: fc.array(fc.constantFrom(...tokens), { maxLength: 40 }).map((t) => t.join(' ')) },
);

/** Authorization header values: schemes, junk tokens, JWT-shaped junk. */
export function authorizationHeader(validToken?: string): fc.Arbitrary<string> {
  const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
  const jwtShaped = fc.tuple(anyJson, anyJson, fc.string({ maxLength: 40 }))
    .map(([h, p, s]) => `${b64(h)}.${b64(p)}.${Buffer.from(s).toString('base64url')}`);
  const headers = fc.record({ alg: fc.constantFrom('none', 'HS256', 'RS256', 'ES256', 'None', '', 'HS512'), typ: fc.constant('JWT'), kid: fc.option(garbageString, { nil: undefined }) });
  const claims = fc.record({ iss: fc.option(garbageString), aud: fc.option(fc.oneof(garbageString, fc.array(garbageString))), sub: fc.option(garbageString), tenant: fc.option(garbageString), exp: fc.option(fc.oneof(fc.integer(), fc.double(), garbageString)), nbf: fc.option(fc.integer()) }, { requiredKeys: [] });
  const forged = fc.tuple(headers, claims, fc.string({ maxLength: 40 })).map(([h, c, s]) => `${b64(h)}.${b64(c)}.${Buffer.from(s).toString('base64url')}`);
  const tampered = validToken
    ? fc.tuple(fc.nat({ max: validToken.length - 1 }), fc.constantFrom('A', '_', '-', '.', '', '==')).map(([i, c]) => validToken.slice(0, i) + c + validToken.slice(i + 1))
    : fc.constant('x.y.z');
  return fc.oneof(
    fc.tuple(fc.constantFrom('Bearer ', 'bearer ', 'Bearer  ', 'Basic ', 'Bearer', 'Token ', '', 'Bearer \t'), fc.oneof(garbageString, jwtShaped, forged, tampered))
      .map(([scheme, token]) => scheme + token),
    garbageString,
    fc.constantFrom('Bearer ' + 'A'.repeat(9000), 'Bearer a.b', 'Bearer ...', 'Bearer e30.e30.', 'Bearer e30.e30.e30', `Bearer ${validToken ?? ''}, Bearer x`),
  ).map((v) => v.replace(/[\r\n\u0000]/g, ' ').replace(/[^\t\x20-\x7e\x80-\xff]/g, '?'));
}
