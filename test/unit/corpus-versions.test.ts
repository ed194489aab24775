// The served versions of one CRD often disagree (a field a Boolean in one version, an object or
// absent in another). Every version's GraphQL types and OpenAPI component must be those of its own
// schema: for every multi-version CRD of the corpus, each served version built alongside the
// others gives exactly the types and component it gives built alone. Equal sub-schemas share one
// model node across versions (openapi-schema-to-node.ts); this is what would catch a node, or a
// cache per node, that carried one version's schema into another (taking any node with the same
// property names as equal makes hundreds of them differ).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { printType } from 'graphql';
import { parseYaml } from '../../src/kube/lossless-json.ts';
import { crdToModel } from '../../src/model/crd-to-model.ts';
import { encodeGroup, encodeKind, encodeVersion } from '../../src/model/graphql-type-names.ts';
import { buildGraphQLSchema } from '../../src/graphql/schema-builder.ts';
import { buildOpenApiDocument, componentName } from '../../src/rest/openapi-builder.ts';
import { corpusAvailable, crdFiles } from '../helpers/crd-corpus.ts';

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

interface Crd {
  metadata: { name: string };
  spec: { group: string; names: { kind: string }; versions: { name: string; served: boolean; storage: boolean }[] };
}

describe('versions of a CRD with disagreeing schemas', () => {
  it('each served version of every multi-version corpus CRD has the GraphQL types and OpenAPI component of its own schema', async (t) => {
    if (!corpusAvailable(t)) return;
    const seen = new Set<string>();
    const differences: string[] = [];
    let versions = 0;
    for (const file of crdFiles()) {
      const crd = parseYaml(readFileSync(file, 'utf8')) as Crd;
      const served = crd.spec.versions.filter((v) => v.served);
      if (served.length < 2 || seen.has(crd.metadata.name)) continue;
      seen.add(crd.metadata.name);
      // Conversions of one turn of the event loop share equal nodes (this-turn.ts): each model is
      // made in a turn of its own, so that the version alone shares nothing with the whole CRD.
      await nextTurn();
      const whole = crdToModel(crd);
      const together = buildGraphQLSchema([whole]).schema;
      const togetherDoc = buildOpenApiDocument([whole]);
      for (const version of served) {
        versions++;
        await nextTurn();
        const alone = crdToModel({ ...crd, spec: { ...crd.spec, versions: [{ ...version, storage: true }] } });
        const schema = buildGraphQLSchema([alone]).schema;
        const prefix = encodeKind(crd.spec.names.kind);
        const tail = `_${encodeVersion(version.name)}_${encodeGroup(crd.spec.group)}`;
        for (const [name, type] of Object.entries(schema.getTypeMap())) {
          if (!name.startsWith(prefix) || !name.includes(tail)) continue;
          const other = together.getType(name);
          if (!other || printType(other) !== printType(type)) differences.push(`${crd.metadata.name} ${version.name}: GraphQL type ${name}`);
        }
        const component = componentName(alone, version.name);
        if (JSON.stringify(buildOpenApiDocument([alone]).components?.schemas?.[component]) !== JSON.stringify(togetherDoc.components?.schemas?.[component])) {
          differences.push(`${crd.metadata.name} ${version.name}: OpenAPI component ${component}`);
        }
      }
    }
    t.diagnostic(`${seen.size} CRDs, ${versions} served versions compared`);
    assert.ok(versions > 50, `only ${versions} versions in the corpus`);
    assert.deepEqual(differences, []);
  });
});
