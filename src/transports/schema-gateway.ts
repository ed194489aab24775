// Apollo Server's gateway hook is its supported way to swap the schema of a running server:
// operations already executing finish on the schema they started with, new ones use the new one,
// and Apollo keeps its parsed/validated document cache per schema. Its executor runs the common
// operations from a plan made per document (src/graphql/compiled-execution.ts), others with graphql-js.
import type { GatewayExecutor, GatewayInterface, GatewayLoadResult, GatewaySchemaLoadOrUpdateCallback } from '@apollo/server-gateway-interface';
import { printSchema, type DocumentNode, type ExecutionResult, type GraphQLSchema } from 'graphql';
import { PlannedExecution } from '../graphql/compiled-execution.ts';
import { typedStoredValueErrors } from '../graphql/stored-value-errors.ts';
import { executedBefore, suggestionsHidden } from './apollo-pipeline.ts';

export class SchemaGateway implements GatewayInterface {
  private schema: GraphQLSchema;
  private readonly callbacks = new Set<GatewaySchemaLoadOrUpdateCallback>();

  constructor(initial: GraphQLSchema) {
    this.schema = initial;
  }

  get current(): GraphQLSchema {
    return this.schema;
  }

  update(schema: GraphQLSchema): void {
    this.schema = schema;
    this.notify();
  }

  async load(): Promise<GatewayLoadResult> {
    this.notify();
    return { executor: this.executor };
  }

  private readonly planned = new PlannedExecution();

  /** Executes an operation on a schema this gateway served, as Apollo's executor does (see direct-execution.ts). */
  execute(schema: GraphQLSchema, document: DocumentNode, context: object, variables: Record<string, unknown> | undefined, operationName: string | undefined): ExecutionResult | Promise<ExecutionResult> {
    return this.planned.execute({ schema, document, contextValue: context, variableValues: variables, operationName, hideSuggestions: suggestionsHidden(context) });
  }

  // An operation already executed by the direct path, whose errors Apollo formats: its outcome, not a second execution.
  // Results are read after the await that was there anyway: no promise more per request for the stored-value errors.
  private readonly executor: GatewayExecutor = async (rc) => executedBefore(rc.context)
    ?? typedStoredValueErrors(await this.execute(rc.schema, rc.document, rc.context, rc.request.variables, rc.request.operationName));

  onSchemaLoadOrUpdate(callback: GatewaySchemaLoadOrUpdateCallback): () => void {
    this.callbacks.add(callback);
    return () => this.callbacks.delete(callback);
  }

  async stop(): Promise<void> {
    this.callbacks.clear();
  }

  private notify(): void {
    // Apollo reads the SDL only for schema reporting to Apollo's cloud, which crdgate does not
    // use; printing a schema of a thousand CRDs costs seconds, so it is printed only if asked for.
    const schema = this.schema;
    let sdl: string | undefined;
    const context = {
      apiSchema: schema,
      get coreSupergraphSdl(): string {
        sdl ??= printSchema(schema);
        return sdl;
      },
    };
    for (const cb of this.callbacks) cb(context);
  }
}

