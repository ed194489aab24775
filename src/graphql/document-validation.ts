// Validation of executable documents whose cost follows the document, not the schema. graphql-js'
// KnownTypeNamesRule lists every type name of the schema each time a document is validated, only
// to suggest names should one be unknown: with a thousand CRDs (~150,000 types) that list costs
// tens of milliseconds per new document. Every other specified rule costs what the document costs.
// The rule set here is graphql-js' specifiedRules, in their order, with that one rule replaced by
// an equivalent whose list is built only for an unknown name, and only when suggestions are on.
import {
  GraphQLError, isTypeDefinitionNode, isTypeSystemDefinitionNode, isTypeSystemExtensionNode, introspectionTypes, KnownTypeNamesRule,
  specifiedRules, specifiedScalarTypes, validate,
  type ASTNode, type ASTVisitor, type DocumentNode, type GraphQLSchema, type ValidationContext, type ValidationRule,
} from 'graphql';

const standardTypeNames = new Set([...specifiedScalarTypes, ...introspectionTypes].map((t) => t.name));

/**
 * KnownTypeNamesRule, with the same errors. Names are looked up in the schema's type map; for a
 * name that is not there, graphql-js' own rule (and its list of every type name, for "Did you
 * mean") is consulted, unless suggestions are hidden, in which case the message is the one
 * graphql-js gives without suggestions.
 */
export function KnownTypeNamesWithoutListRule(context: ValidationContext): ASTVisitor {
  const schema = context.getSchema();
  const defined = new Set<string>();
  for (const def of context.getDocument().definitions) {
    if (isTypeDefinitionNode(def)) defined.add(def.name.value);
  }
  let original: ASTVisitor | undefined;
  return {
    NamedType(node, key, parent, path, ancestors) {
      const name = node.name.value;
      if (schema?.getType(name) || defined.has(name)) return;
      if (!context.hideSuggestions) {
        original ??= KnownTypeNamesRule(context);
        const visit = (original as { NamedType: (...args: unknown[]) => unknown }).NamedType;
        visit(node, key, parent, path, ancestors);
        return;
      }
      const definition = (ancestors[2] ?? parent) as ASTNode | readonly ASTNode[] | undefined;
      const isSDL = definition !== undefined && 'kind' in definition
        && (isTypeSystemDefinitionNode(definition) || isTypeSystemExtensionNode(definition));
      if (isSDL && standardTypeNames.has(name)) return;
      context.reportError(new GraphQLError(`Unknown type "${name}".`, { nodes: node }));
    },
  };
}

/** graphql-js' specifiedRules, in order, with KnownTypeNamesRule replaced (see above). */
export const documentRules: readonly ValidationRule[] = Object.freeze(
  specifiedRules.map((rule) => (rule === KnownTypeNamesRule ? KnownTypeNamesWithoutListRule : rule)),
);

export interface DocumentValidationOptions {
  /** Rules run after the specified ones (limits, no introspection). */
  readonly rules?: readonly ValidationRule[];
  /** No "Did you mean …?" in the messages (and no work to find suggestions). */
  readonly hideSuggestions?: boolean;
}

/** The specified rules and the extra ones; errors as graphql-js' validate() reports them. */
export function validateDocument(schema: GraphQLSchema, document: DocumentNode, options: DocumentValidationOptions = {}): readonly GraphQLError[] {
  const rules = options.rules?.length ? [...documentRules, ...options.rules] : documentRules;
  return validate(schema, document, rules, { hideSuggestions: options.hideSuggestions ?? false });
}

/**
 * The validation result of each document against each schema, remembered as long as both are in
 * use (a document is parsed once per schema and kept by the transport's document cache).
 */
export class ValidatedDocuments {
  private readonly results = new WeakMap<GraphQLSchema, WeakMap<DocumentNode, readonly GraphQLError[]>>();
  private readonly options: DocumentValidationOptions;

  constructor(options: DocumentValidationOptions = {}) {
    this.options = options;
  }

  errors(schema: GraphQLSchema, document: DocumentNode): readonly GraphQLError[] {
    let perSchema = this.results.get(schema);
    if (!perSchema) this.results.set(schema, (perSchema = new WeakMap()));
    let errors = perSchema.get(document);
    if (!errors) perSchema.set(document, (errors = validateDocument(schema, document, this.options)));
    return errors;
  }
}
