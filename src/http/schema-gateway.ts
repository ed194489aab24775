// Apollo Server's gateway hook is its supported way to swap the schema of a running server:
// operations already executing finish on the schema they started with, new ones use the new one,
// and Apollo keeps its parsed/validated document cache per schema.
import type { GatewayInterface, GatewayLoadResult, GatewaySchemaLoadOrUpdateCallback } from '@apollo/server-gateway-interface';
import { printSchema, type GraphQLSchema } from 'graphql';

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
    return { executor: null };
  }

  onSchemaLoadOrUpdate(callback: GatewaySchemaLoadOrUpdateCallback): () => void {
    this.callbacks.add(callback);
    return () => this.callbacks.delete(callback);
  }

  async stop(): Promise<void> {
    this.callbacks.clear();
  }

  private notify(): void {
    // Apollo only reads the SDL for reporting; computing it lazily would not save anything here
    // because callbacks run once per schema change.
    const sdl = this.callbacks.size ? printSchema(this.schema) : '';
    for (const cb of this.callbacks) cb({ apiSchema: this.schema, coreSupergraphSdl: sdl });
  }
}
